"""The audit log pages: the filtered list, timelines of a resource and of an actor,
an entry's detail, and the streamed exports."""

from __future__ import annotations

from flask import Response, abort, render_template
from flask_babel import gettext as _

from app.audit import bp, export, integrity, queries
from app.audit.display import approximate, change_rows
from app.audit.facets import facets
from app.audit.lists import AUDIT_LOG, filter_of
from app.database import utcnow
from app.errors import render_error
from app.personal_data import vault
from app.security.access import Permission, institution_scope, requires
from app.security.actor import actor_from_request

bp.add_app_template_filter(approximate, "approximate")


def _subject(entries, fixed: dict) -> str | None:
    """A readable name for the resource or actor of a timeline, from its newest visible entry."""
    if "actor_id" in fixed:
        return next((vault.reveal(e.actor_email) for e in entries if e.actor_id == fixed["actor_id"]), None)
    return next((vault.reveal_text(e.resource_repr) for e in entries if e.resource_repr), None)


def _list_page(*, fixed: dict | None = None, heading: str | None = None):
    scope = institution_scope(actor_from_request())
    state = AUDIT_LOG.state(fixed=fixed)
    page = estimate = subject = None
    if not state.errors:
        f = filter_of(state)
        estimate = queries.estimate_total(f, scope)
        page = queries.page(f, scope, cursor=state.cursor, direction=state.direction, size=state.size,
                            estimate=estimate)
    if page and fixed:
        subject = _subject(page.items, fixed)
    found = facets(scope)
    return render_template(
        "audit/index.html", state=state, page=page, estimate=estimate, facets=found, heading=heading,
        subject=subject, verification=integrity.last_verification(), scoped=scope is not None,
        export_args=state.query_args(),
        # The actor timeline names its actor in the path: the actor inputs would only contradict it.
        hidden=("actor_id", "actor") if fixed and "actor_id" in fixed else ("actor_id",),
        choices={"action": [(action, action) for action in found.actions]},
        suggestions={"actor": found.actors, "resource": found.resource_types})


@bp.get("/audit")
@requires(Permission.VIEW_AUDIT_LOG)
def index():
    return _list_page()


@bp.get("/audit/resources/<resource_type>/<resource_id>")
@requires(Permission.VIEW_AUDIT_LOG)
def resource_history(resource_type: str, resource_id: str):
    return _list_page(fixed={"resource_type": resource_type, "resource_id": resource_id},
                      heading=_("History of %(type)s #%(id)s", type=resource_type, id=resource_id))


@bp.get("/audit/actors/<int:actor_id>")
@requires(Permission.VIEW_AUDIT_LOG)
def actor_history(actor_id: int):
    return _list_page(fixed={"actor_id": actor_id}, heading=_("Actions of user #%(id)s", id=actor_id))


@bp.get("/audit/<int:entry_id>")
@requires(Permission.VIEW_AUDIT_LOG)
def detail(entry_id: int):
    scope = institution_scope(actor_from_request())
    entry = queries.visible_entry(entry_id, scope)
    if entry is None:
        abort(404)
    return render_template(
        "audit/detail.html", entry=entry, changes=change_rows(entry.changes),
        related=queries.same_request(entry, scope), status=integrity.entry_status(entry), scoped=scope is not None)


@bp.get("/audit/export/<any(csv, jsonl):fmt>")
@requires(Permission.VIEW_AUDIT_LOG)
def export_entries(fmt: str):
    scope = institution_scope(actor_from_request())
    state = AUDIT_LOG.state()
    if state.errors:
        return render_error(400, _("The filter of this export is not valid: %(problems)s",
                                   problems="; ".join(f"{k}: {v}" for k, v in state.errors.items())))
    f = filter_of(state)
    # Audited in this request's transaction, which commits before the first row is sent.
    export.record_export(actor_from_request(), fmt, f, scope)
    filename = f"audit-log-{utcnow():%Y%m%d-%H%M%S}.{fmt}"
    return Response(export.stream(fmt, f, scope), content_type=export.FORMATS[fmt], headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})
