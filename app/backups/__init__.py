"""Database backups: create, verify, drill, restore, retention; local or S3 storage."""

from flask import Blueprint

bp = Blueprint("backups", __name__, url_prefix="/backups")

from app.backups import jobs, routes  # noqa: E402,F401  (jobs registers the background jobs)
