"""Step-up: sensitive actions need a fresh proof of identity (within the last 5 minutes).

Decorate the view with :func:`step_up_required` (below its access declaration). A
user without a recent proof is sent to the re-authentication page, which brings them
back to the action. The proof is recorded with :func:`mark_stepped_up`, which also
gives the session a new id.
"""

from __future__ import annotations

import functools
import time

from flask import flash, redirect, request, session, url_for
from flask_babel import gettext as _

from app.inputs import safe_next_url

STEP_UP_WINDOW = 5 * 60
_KEY = "stepped_up_at"


def stepped_up_recently() -> bool:
    """True when the user proved their identity within the step-up window."""
    return time.time() - session.get(_KEY, 0) <= STEP_UP_WINDOW


def mark_stepped_up() -> None:
    """Record a successful re-authentication and rotate the session id."""
    session[_KEY] = time.time()
    session.regenerate()


def forget_step_up() -> None:
    session.pop(_KEY, None)


def step_up_required(view):
    """Send the user to re-authenticate first, unless they did so in the last 5 minutes."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if stepped_up_recently():
            return view(*args, **kwargs)
        # After re-authenticating, a GET comes back to itself; a POST cannot be replayed,
        # so it returns to the page the form was on.
        back = request.full_path if request.method == "GET" else safe_next_url(
            _local_referrer(), url_for("auth.index"))
        flash(_("Confirm it is you before this action."), "info")
        return redirect(url_for("auth.step_up", next=back.rstrip("?")))

    return wrapper


def _local_referrer() -> str | None:
    referrer = request.referrer
    if not referrer or not referrer.startswith(request.host_url):
        return None
    return "/" + referrer[len(request.host_url):]
