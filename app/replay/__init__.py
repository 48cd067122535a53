"""Session replay in the browser (Sentry's replay integration, vendored) and the same-origin
tunnel every browser envelope travels through to Sentry.

Who is recorded: app.replay.services (``sample_rate``); how envelopes are checked and sent
on: app.replay.tunnel; the endpoint: app.replay.routes. docs/MONITORING.md says what a
replay holds and what it never does.
"""

from flask import Blueprint, Flask

bp = Blueprint("replay", __name__)


def init_app(app: Flask) -> None:
    """Register the tunnel endpoint, this process's forwarder and the template global ``session_replay``."""
    from app.replay import routes, services  # noqa: F401  (routes add to bp)
    from app.replay.tunnel import Forwarder

    app.register_blueprint(bp)
    app.extensions["sentry_tunnel"] = Forwarder(timeout=app.config.get("SENTRY_TUNNEL_TIMEOUT", 5.0))
    app.add_template_global(services.page_sample_rate, "session_replay")
