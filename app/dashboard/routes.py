"""The dashboard page."""

from flask import render_template
from flask_login import current_user

from app.dashboard import bp
from app.dashboard.services import overview
from app.security.access import Permission, institution_scope, requires


@bp.get("/dashboard")
@requires(Permission.VIEW_PORTAL)
def index():
    return render_template("dashboard/index.html", overview=overview(institution_scope(current_user)))
