"""Outgoing e-mail: SMTP from configuration, the console on the embedded default.

Services call :func:`send`; the message leaves only after the transaction commits
(an invitation whose account rolled back is never mailed). SMTP delivery runs in a
background thread, so a request never waits on the mail server and the time of a
response does not tell whether a mail was sent (the "forgot password" page relies
on that). ``MAIL_BACKEND=memory`` keeps messages in ``app.extensions["mail_outbox"]``
for tests.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import sys
import threading
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import Flask, current_app, has_request_context, request, url_for

from app.database import after_commit

log = logging.getLogger(__name__)
OUTBOX = "mail_outbox"
_in_flight: set[threading.Thread] = set()  # SMTP deliveries still running (each removes itself)


class MailNotSent(Exception):
    """The mail server refused or could not be reached (logged; the change stands)."""


def public_url(endpoint: str, **values) -> str:
    """An absolute link to ``endpoint`` for use outside the portal (e-mails).

    Uses ``PUBLIC_URL`` when configured, so a forged Host header cannot redirect a
    password-reset link to someone else's site; otherwise the request's own host.
    """
    path = url_for(endpoint, **values)
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return base + path
    if has_request_context():
        return request.host_url.rstrip("/") + path
    raise RuntimeError("PUBLIC_URL is not configured and there is no request to take the host from")


def build_message(to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="saintara")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def send(to: str, subject: str, body: str) -> EmailMessage:
    """Send a plain-text mail once the current transaction commits."""
    message = build_message(to, subject, body)
    app = current_app._get_current_object()
    after_commit(lambda: deliver(app, message))
    return message


def deliver(app: Flask, message: EmailMessage) -> None:
    """Hand ``message`` to the configured backend (SMTP in a background thread)."""
    backend = app.config["MAIL_BACKEND"]
    if backend == "memory":
        app.extensions.setdefault(OUTBOX, []).append(message)
    elif backend == "console":
        print(f"----- mail (MAIL_BACKEND=console) -----\n{message}\n----- end of mail -----", file=sys.stdout,
              flush=True)
    else:
        settings = {key: app.config[key] for key in app.config if key.startswith("SMTP_")}
        thread = threading.Thread(target=_deliver_logged, args=(settings, message), daemon=True,
                                  name="mail-delivery")
        _in_flight.add(thread)
        thread.start()


def wait_for_deliveries(timeout: float = 60.0) -> bool:
    """Wait until the mails handed to SMTP so far have been delivered or failed (logged).

    For CLI commands: delivery threads are daemons, which an exiting process would cut
    short. True when none is left running within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    for thread in list(_in_flight):
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in list(_in_flight))


def _deliver_logged(settings: dict, message: EmailMessage) -> None:
    try:
        deliver_smtp(settings, message)
    except MailNotSent:
        log.exception("mail to %s could not be sent", message["To"])
    finally:
        _in_flight.discard(threading.current_thread())


def deliver_smtp(settings: dict, message: EmailMessage) -> None:
    """Send one message over SMTP now; raises :class:`MailNotSent`."""
    host, port, timeout = settings["SMTP_HOST"], settings["SMTP_PORT"], settings["SMTP_TIMEOUT"]
    context = ssl.create_default_context()
    try:
        if settings["SMTP_SSL"]:
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if settings["SMTP_STARTTLS"]:
                client.starttls(context=context)
            if settings["SMTP_USERNAME"]:
                client.login(settings["SMTP_USERNAME"], settings["SMTP_PASSWORD"] or "")
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailNotSent(f"{host}:{port}: {exc}") from exc
