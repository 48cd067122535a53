"""First-party analytics: page views and named actions of people who consented, pseudonymous,
buffered off the request path and bulk-written; daily rollups; retention.

Service layer: app.analytics.services (``record``, ``may_record``). The pieces: the catalogue
of event names (catalogue), tables (models), visitor ids and daily salts (visitors), the
per-process buffer and its flusher (buffer), the stream ingester and the COPY writer (ingest),
milestones of an account's journey (milestones), the daily rollup and the purge (rollup),
request hooks (hooks), the script's endpoint (routes) and ``flask analytics`` (cli).
docs/ANALYTICS.md says what is recorded and what never is.
"""

from flask import Blueprint, Flask

bp = Blueprint("analytics", __name__)


def init_app(app: Flask) -> None:
    """Register the collect endpoint, the request hooks, the domain-event subscribers and this
    process's buffer (its sink: the Redis stream with REDIS_URL, else the database)."""
    from app import events
    from app.analytics import hooks, milestones, routes, weeks  # noqa: F401  (routes add to bp)
    from app.analytics.buffer import DatabaseSink, EventBuffer, StreamSink
    from app.analytics.ingest import write_events
    from app.analytics.visitors import on_key_destroyed
    from app.personal_data import ledger

    app.register_blueprint(bp)
    hooks.init_app(app)
    milestones.subscribe(app)
    ledger.on_destroy_key(on_key_destroyed)  # in the erasure's transaction, not after it
    events.subscribe(app, events.signed_in, weeks.on_signed_in)
    url = app.config.get("REDIS_URL")
    sink = StreamSink(url, app.config["ANALYTICS_STREAM"]) if url else DatabaseSink(app, write_events)
    # Tests flush by hand (a flusher thread would share their one connection); a served test app sets it True.
    background = app.config.get("ANALYTICS_BACKGROUND_FLUSH", not app.testing)
    app.extensions["analytics"] = EventBuffer(sink, background=background)
