"""``POST /sentry-tunnel``: the browser SDK's envelopes (errors, session replays), sent on to Sentry.

The SDK posts with ``fetch`` and no CSRF header, so the view is exempt from the CSRF token and
instead accepts only same-origin requests (``Sec-Fetch-Site: same-origin``, or an ``Origin``
naming this host when a browser sends no fetch metadata). Anyone may report a browser error
(sign-in and reset pages have errors too); replay items are accepted only while the session's
account may be recorded (app.replay.services.may_replay), so a withdrawal or a DNT/GPC signal
stops a recording that a page still running tries to send. Without a browser DSN the endpoint
does not exist (404). Refusals are JSON errors with a stable code; an accepted envelope is
queued and answered at once (202).
"""

from __future__ import annotations

from flask import abort, current_app, g, jsonify, request
from flask_babel import gettext as _

from app.access_rules import public, same_origin_request
from app.analytics.services import signed_in_user
from app.extensions import csrf
from app.inputs import InvalidInput
from app.replay import bp, services
from app.replay.tunnel import MAX_ENVELOPE_BYTES, BrowserDsn, RefusedEnvelope, check_envelope

RETRY_SECONDS = 60



def _refused(code: str, message: str, status: int, field: str | None = "body"):
    return jsonify(error={"code": code, "message": message, "field": field}), status


@bp.post("/sentry-tunnel")
@public
def tunnel():
    configured = current_app.config.get("SENTRY_BROWSER_DSN")
    if not configured:
        abort(404)
    if not same_origin_request():
        return _refused("cross_origin", _("Only pages of this site may send this."), 403, None)
    if request.content_length is not None and request.content_length > MAX_ENVELOPE_BYTES:
        return _refused("too_large", _("The envelope is too large."), 413)
    body = request.stream.read(MAX_ENVELOPE_BYTES + 1)
    try:
        envelope = check_envelope(body, BrowserDsn.parse(configured))
    except RefusedEnvelope as exc:
        return _refused(exc.code, str(exc.message), 413 if exc.code == "too_large" else 400)
    except InvalidInput as exc:
        return _refused("validation_error", str(exc.message), 400)
    if envelope.is_replay and not services.may_replay(signed_in_user()):
        return _refused("replay_not_allowed", _("This session may not be recorded."), 403, None)
    forwarder = current_app.extensions["sentry_tunnel"]
    if not forwarder.submit(BrowserDsn.parse(configured).envelope_url(), envelope.body):
        g.throttle_retry_after = RETRY_SECONDS  # app.security.limiting writes it as Retry-After
        return _refused("busy", _("Too many reports at the moment; try again later."), 429, None)
    return "", 202


csrf.exempt(tunnel)
