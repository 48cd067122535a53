"""Sign-in, sign-out, and the user's own account (second factors arrive here too)."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import routes  # noqa: E402,F401  (routes register themselves on bp)
