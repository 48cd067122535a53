"""Pages of the platform: one module per kind of row (services: app.platform.services)."""

from app.errors import render_error
from app.platform import bp, labels
from app.platform.services import NotVisible


@bp.errorhandler(NotVisible)
def _not_visible(_exc):
    return render_error(404)


@bp.context_processor
def _labels():
    return {"status_label": labels.status_label, "kind_label": labels.kind_label}


from app.platform.routes import approvals, customers, imports, institutions, transactions  # noqa: E402,F401
