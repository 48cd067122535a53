"""User accounts: the model and services, user administration, sessions, invitations,
support impersonation, and the ``flask users`` commands."""

from flask import Blueprint

bp = Blueprint("users", __name__)


@bp.record_once
def _install_hooks(state) -> None:
    from app.users import impersonation_guard

    state.app.before_request(impersonation_guard.enforce)
    state.app.context_processor(impersonation_guard.banner_context)


from app.users import routes, security_routes  # noqa: E402,F401
