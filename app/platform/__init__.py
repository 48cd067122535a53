"""The platform's domain: institutions, customers, transactions and approvals."""

from flask import Blueprint

bp = Blueprint("platform", __name__)

from app.platform import routes  # noqa: E402,F401
