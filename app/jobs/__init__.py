"""Background jobs: long work runs outside request workers and reports its progress.

With Redis configured (``JOBS_BACKEND=rq``, the default when ``REDIS_URL`` is set) a job
goes to an RQ queue and a worker (``flask jobs worker``) runs it; without Redis it runs in
a thread of the process that enqueued it. Either way the API is the same
(:mod:`app.jobs.services`, the service layer): register a function with ``@job("feature.action")``,
call ``enqueue(name, actor, **params)``, read ``get(job_id)``; the function reports progress
through its :class:`~app.jobs.services.JobContext`. Progress lives in Redis, or in files
under ``instance/jobs`` without it, so every worker (and a reloaded page) can read it.

The UI layer every feature's jobs share: ``GET /jobs/<id>`` (:mod:`app.jobs.routes`) answers
with a job's progress as JSON: to the person who started it, and to whoever its feature lets
watch it (a feature registers its wording and its watchers through
:func:`app.jobs.progress.describe_with`); ``templates/_partials/job_progress.html`` shows it,
and ``static/js/jobs.js`` keeps it current while the job runs.
"""

from flask import Blueprint, Flask

bp = Blueprint("jobs", __name__)


def init_app(app: Flask) -> None:
    """Register the job status endpoint (routes load here, so services import without views), and
    ``may_watch_job(record)`` for templates: whether the signed-in user may poll that job."""
    from flask_login import current_user

    from app.jobs import progress, routes  # noqa: F401  (routes add to bp)

    app.register_blueprint(bp)
    app.add_template_global(lambda record: progress.may_watch(record, current_user), "may_watch_job")
