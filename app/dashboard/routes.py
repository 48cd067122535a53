"""The dashboard page: what needs attention now, for the viewer's role and scope."""

from flask import render_template
from flask_login import current_user

from app.dashboard import bp, status
from app.dashboard.services import overview
from app.security.access import Permission, has_permission, institution_scope, requires
from app.security.actor import actor_from_request


@bp.get("/dashboard")
@requires(Permission.VIEW_PORTAL)
def index():
    security = has_permission(current_user, Permission.VIEW_SYSTEM_STATUS)
    return render_template("dashboard/index.html",
                           overview=overview(institution_scope(actor_from_request()), with_security=security),
                           status_cards=status.cards() if security else [])
