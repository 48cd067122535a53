"""Saintara Admin: the application factory."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import PROJECT_ROOT, ConfigError, load_config
from app.extensions import cache, csrf, db, limiter, login_manager, migrate


def create_app(config: dict | None = None) -> Flask:
    """Build the portal. ``config`` overrides what the environment says (tests use it).

    A configuration that is unsafe for production stops start-up with one line.
    """
    try:
        settings = load_config()
    except ConfigError as exc:
        raise SystemExit(f"Configuration error: {exc}") from None
    settings.update(config or {})

    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(settings)

    configure_proxy(app)
    configure_observability(app)
    configure_database(app)
    configure_security(app)
    configure_extensions(app)
    register_blueprints(app)
    register_cli(app)
    return app


def configure_proxy(app: Flask) -> None:
    hops = app.config["TRUSTED_PROXY_COUNT"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)


def configure_observability(app: Flask) -> None:
    from app import errors
    from app.observability import logs, request_id, requests, sentry

    logs.init_app(app)
    sentry.init_app(app)
    request_id.init_app(app)  # first, so every later step and error page has the id
    requests.init_app(app)  # the request log line and metrics
    errors.init_app(app)


def configure_database(app: Flask) -> None:
    from app import database

    _import_models()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True)
    database.init_app(app)


def configure_security(app: Flask) -> None:
    from app import inputs
    from app.security import access, headers, limiting, sessions
    from app.users.models import User

    sessions.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = None  # sessions are server-side and rotated at sign-in
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Sign in to open this page.")
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(user_id: str):
        from app.users.impersonation_guard import effective_user

        user = db.session.get(User, int(user_id)) if inputs.digits(user_id) else None
        return effective_user(user) if user is not None and user.is_active else None

    app.config.setdefault("RATELIMIT_STRATEGY", "sliding-window-counter")
    limiter.init_app(app)
    limiting.init_app(app)  # before access and CSRF: refused requests count too
    inputs.init_app(app)  # control characters and over-long values never reach a view
    access.init_app(app)  # before CSRF, so anonymous visitors are sent to sign in first
    csrf.init_app(app)
    headers.init_app(app)


def configure_extensions(app: Flask) -> None:
    from app import formatting, i18n, listing

    cache.init_app(app)
    i18n.init_app(app)
    formatting.init_app(app)
    listing.init_app(app)


def register_blueprints(app: Flask) -> None:
    from app import (
        analytics,
        api,
        audit,
        auth,
        backups,
        consent,
        dashboard,
        insights,
        jobs,
        personal_data,
        platform,
        privacy,
        push,
        pwa,
        replay,
        search,
        settings,
        users,
    )
    from app.observability import metrics
    from app.observability.health import bp as health_bp

    for feature in (jobs, personal_data, auth, dashboard, users, platform, privacy, settings, audit, backups, consent,
                    analytics, replay, push, insights, api, search, pwa):
        feature.init_app(app)
    app.register_blueprint(health_bp)
    metrics.init_app(app)


def register_cli(app: Flask) -> None:
    from app.analytics.cli import analytics_cli
    from app.audit.cli import audit_cli
    from app.backups.cli import backup_cli
    from app.jobs.cli import jobs_cli
    from app.platform.cli import seed_demo
    from app.privacy.cli import privacy_cli
    from app.push.cli import push_cli
    from app.users.cli import users_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(seed_demo)
    app.cli.add_command(backup_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(privacy_cli)
    app.cli.add_command(analytics_cli)
    app.cli.add_command(push_cli)


def _import_models() -> None:
    """Import every model module so that the metadata (and Alembic) sees all tables."""
    from app.analytics import models as _analytics  # noqa: F401
    from app.api import models as _api  # noqa: F401
    from app.audit import models as _audit  # noqa: F401
    from app.auth import models as _auth  # noqa: F401
    from app.backups import models as _backups  # noqa: F401
    from app.consent import models as _consent  # noqa: F401
    from app.personal_data import models as _personal_data  # noqa: F401
    from app.platform import models as _platform  # noqa: F401
    from app.privacy import models as _privacy  # noqa: F401
    from app.push import models as _push  # noqa: F401
    from app.search import models as _search  # noqa: F401
    from app.settings import models as _settings  # noqa: F401
    from app.users import models as _users  # noqa: F401
