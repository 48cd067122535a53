"""Approval requests: the queue (oldest first), detail, decisions, bulk approval with confirmation."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from app.extensions import db
from app.inputs import digits
from app.platform import bp, lists
from app.platform.forms import BulkApproveForm, DecisionForm
from app.platform.models import Approval
from app.platform.routes.shared import decide_from_form, visible
from app.platform.services import approval_subjects, history, institutions, queues
from app.platform.services import decisions as service
from app.security.access import Permission, requires
from app.security.actor import actor_from_request


@bp.get("/approvals")
@requires(Permission.VIEW_PORTAL)
def approvals():
    actor = actor_from_request()
    state = lists.APPROVALS.state(defaults={"status": "pending"})
    return lists.APPROVALS.respond(queues.approvals(actor, state.values), state, "platform/approvals/list.html",
                                   "approvals", choices={"institution": institutions.choices(actor)})


def _detail(approval: Approval, form: DecisionForm, status: int = 200):
    return render_template("platform/approvals/detail.html", approval=approval, form=form,
                           subject=approval_subjects.describe(actor_from_request(), approval),
                           history=history("approval", approval.id)), status


@bp.get("/approvals/<int:approval_id>")
@requires(Permission.VIEW_PORTAL)
def approval_detail(approval_id: int):
    approval = visible(db.session.get(Approval, approval_id))
    return _detail(approval, DecisionForm(obj=approval))


@bp.post("/approvals/<int:approval_id>/decide")
@requires(Permission.DECIDE)
def approval_decide(approval_id: int):
    approval = visible(db.session.get(Approval, approval_id))

    def decide(approve: bool, reason: str, version: int | None) -> Approval:
        return service.decide_approval(actor_from_request(), approval.id, approve=approve, reason=reason,
                                       expected_version=version)

    def done(decided: Approval):
        flash(_("Request approved.") if decided.status == "approved" else _("Request rejected."), "success")
        return redirect(url_for("platform.approvals"))

    return decide_from_form(approval, decide, _detail, done)


def _selected(values: list[str]) -> list[Approval]:
    ids = sorted({int(v) for v in values if digits(v, 9)})[: service.MAX_BULK + 1]
    rows = queues.approvals_by_id(ids)
    for row in rows:
        visible(row)
    return list(rows)


@bp.route("/approvals/bulk-approve", methods=["GET", "POST"])
@requires(Permission.DECIDE)
def approvals_bulk_approve():
    """GET: the confirmation page listing the selected requests; POST: approve them all (or none)."""
    form = BulkApproveForm()
    if request.method == "GET":
        rows = _selected(request.args.getlist("id"))
        pending = [row for row in rows if row.status == "pending"]
        if not pending:
            flash(_("Select at least one pending request to approve."), "warning")
            return redirect(url_for("platform.approvals"))
        return render_template("platform/approvals/bulk_confirm.html", rows=pending, form=form,
                               items=[f"{row.id}:{row.version}" for row in pending],
                               skipped=len(rows) - len(pending), too_many=len(pending) > service.MAX_BULK)
    versions = {}
    for raw in request.form.getlist("item"):
        approval_id, _sep, version = raw.partition(":")
        if digits(approval_id, 9) and digits(version, 9):
            versions[int(approval_id)] = int(version)
    if not form.validate_on_submit():
        flash(_("The form could not be read; nothing was approved."), "danger")
        return redirect(url_for("platform.approvals"))
    try:
        approved = service.bulk_approve(actor_from_request(), versions, reason=form.reason.data)
    except service.BulkConflict as exc:
        return render_template("platform/approvals/bulk_conflict.html", changed=exc.changed), 409
    except service.DecisionRefused as exc:
        flash(exc.message, "danger")
        return redirect(url_for("platform.approvals"))
    flash(ngettext("Approved %(num)d request.", "Approved %(num)d requests.", len(approved)), "success")
    return redirect(url_for("platform.approvals"))
