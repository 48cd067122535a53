"""One encrypted push to one device (RFC 8291 aes128gcm, VAPID RFC 8292), with pywebpush."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import requests
from flask import current_app
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

log = logging.getLogger(__name__)
GONE = (404, 410)  # the push service forgot the subscription: it will never deliver again
TTL_SECONDS = 12 * 3600  # a device offline longer than this misses the notice (it is stale by then)
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Delivery:
    outcome: str  # "sent", "gone" or "failed"
    status: int | None = None


def server_key() -> Vapid:
    """The VAPID signing key of this server (from ``VAPID_PRIVATE_KEY``)."""
    return Vapid.from_raw(current_app.config["VAPID_PRIVATE_KEY"].encode())


def deliver(endpoint: str, p256dh: str, auth: str, message: dict, *, key: Vapid | None = None,
            session: requests.Session | None = None) -> Delivery:
    """Encrypt ``message`` (JSON) for the device and post it to its push service.

    A job sending to many devices passes one ``key`` and one ``session`` (kept-alive connections
    to the few push services there are: scripts/bench/pwa.py measures the difference).
    """
    try:
        response = webpush({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
                           data=json.dumps(message, ensure_ascii=False), vapid_private_key=key or server_key(),
                           vapid_claims={"sub": current_app.config["VAPID_SUBJECT"]}, ttl=TTL_SECONDS,
                           timeout=TIMEOUT_SECONDS, headers={"Urgency": "high"}, requests_session=session)
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in GONE:
            return Delivery("gone", status)
        log.warning("push service refused a notification: %s", status)
        return Delivery("failed", status)
    except requests.RequestException as exc:
        log.warning("push service unreachable: %s", type(exc).__name__)
        return Delivery("failed")
    return Delivery("sent", response.status_code)
