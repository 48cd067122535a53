"""The job status endpoint the progress partial polls (static/js/jobs.js)."""

from __future__ import annotations

import re

from flask import jsonify
from flask_babel import gettext as _
from flask_login import current_user

from app.access_rules import signed_in
from app.jobs import bp, progress, services

JOB_ID = re.compile(r"[0-9A-Za-z-]{1,64}")


@bp.get("/jobs/<job_id>")
@signed_in
def status(job_id: str):
    """A job's progress as JSON, for the person who started it and whoever its feature lets watch
    it (app.jobs.progress.describe_with); 404 for anyone else."""
    record = services.get(job_id) if JOB_ID.fullmatch(job_id) else None
    if record is None or not progress.may_watch(record, current_user):
        return jsonify(error={"code": "unknown_job", "message": _("There is no such job.")}), 404
    return jsonify(progress.as_json(record))
