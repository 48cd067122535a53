"""Pages of the platform: one module per kind of row."""

from flask import flash, redirect
from flask_babel import gettext as _

from app.errors import render_error
from app.listing import url_with
from app.pagination import InvalidCursor
from app.platform import bp, labels
from app.platform.services import NotVisible


@bp.errorhandler(NotVisible)
def _not_visible(_exc):
    return render_error(404)


@bp.errorhandler(InvalidCursor)
def _bad_cursor(_exc):
    flash(_("That page link is no longer valid; showing the first page."), "info")
    return redirect(url_with(cursor=None, dir=None))


@bp.context_processor
def _labels():
    return {"status_label": labels.status_label, "kind_label": labels.kind_label}


from app.platform.routes import approvals, customers, imports, institutions, transactions  # noqa: E402,F401
