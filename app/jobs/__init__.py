"""Background jobs: long work runs outside request workers and reports its progress.

With Redis configured (``JOBS_BACKEND=rq``, the default when ``REDIS_URL`` is set) a job
goes to an RQ queue and a worker (``flask jobs worker``) runs it; without Redis it runs in
a thread of the process that enqueued it. Either way the API is the same
(:mod:`app.jobs.services`): register a function with ``@job("feature.action")``, call
``enqueue(name, actor, **params)``, read ``get(job_id)``; the function reports progress
through its :class:`~app.jobs.services.JobContext`. Progress lives in Redis, or in files
under ``instance/jobs`` without it, so every worker (and a reloaded page) can read it.
"""
