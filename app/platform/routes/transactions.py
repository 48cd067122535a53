"""Transactions: list with filters, detail, approve or reject with a reason."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from app.extensions import db
from app.platform import bp, lists
from app.platform.forms import DecisionForm
from app.platform.models import Transaction
from app.platform.routes.shared import decide_from_form, visible
from app.platform.services import decisions as service
from app.platform.services import history, institutions, queues
from app.security.access import Permission, requires
from app.security.actor import actor_from_request


@bp.get("/transactions")
@requires(Permission.VIEW_PORTAL)
def transactions():
    actor = actor_from_request()
    state = lists.TRANSACTIONS.state()
    return lists.TRANSACTIONS.respond(queues.transactions(actor, state.values), state,
                                      "platform/transactions/list.html", "transactions",
                                      choices={"institution": institutions.choices(actor)})


def _detail(tx: Transaction, form: DecisionForm, status: int = 200):
    return render_template("platform/transactions/detail.html", tx=tx, form=form,
                           history=history("transaction", tx.id)), status


@bp.get("/transactions/<int:transaction_id>")
@requires(Permission.VIEW_PORTAL)
def transaction_detail(transaction_id: int):
    tx = visible(db.session.get(Transaction, transaction_id))
    return _detail(tx, DecisionForm(obj=tx))


@bp.post("/transactions/<int:transaction_id>/decide")
@requires(Permission.DECIDE)
def transaction_decide(transaction_id: int):
    tx = visible(db.session.get(Transaction, transaction_id))

    def decide(approve: bool, reason: str, version: int | None) -> Transaction:
        return service.decide_transaction(actor_from_request(), tx.id, approve=approve, reason=reason,
                                          expected_version=version)

    def done(decided: Transaction):
        flash(_("%(reference)s approved.", reference=decided.reference) if decided.status == "approved"
              else _("%(reference)s rejected.", reference=decided.reference), "success")
        return redirect(url_for("platform.transaction_detail", transaction_id=decided.id))

    return decide_from_form(tx, decide, _detail, done)
