"""Web Push subscriptions: who receives notifications on which device (docs/PWA.md).

A person subscribes a device on their account page and may remove any of their devices
there; a push service that answers 404 or 410 removes the subscription too. Every change
is audited. Notifications are sent by the ``push.notify`` background job (app.push.jobs).
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import vapid
from app.audit import services as audit
from app.audit.models import AuditAction
from app.database import utcnow
from app.extensions import db
from app.jobs import services as jobs
from app.push.models import PushSubscription
from app.security.access import ROLE_PERMISSIONS, Permission
from app.security.actor import Actor
from app.users.models import User

MAX_ENDPOINT_LENGTH = 1000
MAX_DEVICE_LENGTH = 100
NOTIFY_JOB = "push.notify"


class PushError(Exception):
    """Base class; ``message`` is for the person who asked."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class PushNotConfigured(PushError):
    def __init__(self):
        super().__init__(_l("Push notifications are not configured on this server."))


class InvalidSubscription(PushError):
    """The browser sent something that is not a push subscription we can deliver to."""


class SubscriptionNotFound(PushError):
    def __init__(self):
        super().__init__(_l("This device is not among your devices."))


def configured() -> bool:
    """Whether this server has VAPID keys (``VAPID_PRIVATE_KEY``), so it can send pushes."""
    return bool(current_app.config.get("VAPID_PRIVATE_KEY"))


def public_key() -> str | None:
    """The application server key browsers subscribe with, or None when push is not configured."""
    return current_app.config.get("VAPID_PUBLIC_KEY") if configured() else None


def endpoint_hash(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


def _b64url_length(value: str) -> int | None:
    try:
        return len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, TypeError):
        return None


def known_push_service(host: str) -> bool:
    """Whether ``host`` is (a subdomain of) one of PUSH_SERVICE_HOSTS."""
    host = host.lower().rstrip(".")
    known_hosts = current_app.config.get("PUSH_SERVICE_HOSTS", vapid.PUSH_SERVICE_HOSTS)
    return any(host == known or host.endswith("." + known) for known in known_hosts)


def check_subscription(endpoint: str, p256dh: str, auth: str) -> None:
    """Raise InvalidSubscription unless this looks like a deliverable push subscription."""
    parts = urlsplit(endpoint)
    schemes = ("https", "http") if current_app.config.get("PUSH_ALLOW_HTTP_ENDPOINTS") else ("https",)
    if len(endpoint) > MAX_ENDPOINT_LENGTH or parts.scheme not in schemes or not parts.hostname:
        raise InvalidSubscription(_l("The push service address must be an https URL."))
    if not known_push_service(parts.hostname):
        raise InvalidSubscription(_l("The push service address is not one of the browsers' push services."))
    if _b64url_length(p256dh) != 65 or not p256dh.startswith("B"):  # an uncompressed P-256 point (0x04...)
        raise InvalidSubscription(_l("The device's public key is not a P-256 key."))
    if _b64url_length(auth) != 16:
        raise InvalidSubscription(_l("The device's authentication secret must be 16 bytes."))


def devices_of(user: User) -> list[PushSubscription]:
    """The user's subscribed devices, newest first."""
    return list(db.session.scalars(select(PushSubscription).where(PushSubscription.user_id == user.id)
                                   .order_by(PushSubscription.created_at.desc(), PushSubscription.id.desc())))


def subscribe(actor: Actor, user: User, *, endpoint: str, p256dh: str, auth: str, device: str,
              locale: str) -> PushSubscription:
    """Store (or renew) the subscription of one of ``user``'s devices; audited PUSH_SUBSCRIBE.

    A browser keeps one subscription per site: when another account had it, it moves to
    ``user``. Raises PushNotConfigured or InvalidSubscription.
    """
    if not configured():
        raise PushNotConfigured()
    check_subscription(endpoint, p256dh, auth)
    if locale not in current_app.config["LANGUAGES"]:
        locale = current_app.config["BABEL_DEFAULT_LOCALE"]
    device = device.strip()[:MAX_DEVICE_LENGTH]
    row = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint_hash == endpoint_hash(endpoint)))
    if row is not None and (row.user_id, row.p256dh, row.auth, row.device, row.locale) == (
            user.id, p256dh, auth, device, locale):
        return row  # the page subscribed again with the same keys: nothing changed
    before = {"user_id": row.user_id, "device": row.device} if row is not None else None
    if row is None:
        row = PushSubscription(endpoint=endpoint, endpoint_hash=endpoint_hash(endpoint))
        db.session.add(row)
    row.user_id, row.p256dh, row.auth, row.device, row.locale = user.id, p256dh, auth, device, locale
    db.session.flush()
    changes = {"device": {"before": before["device"] if before else None, "after": device}}
    if before and before["user_id"] != user.id:
        changes["user_id"] = {"before": before["user_id"], "after": user.id}
    audit.log(actor, AuditAction.PUSH_SUBSCRIBE, resource_type="push_subscription", resource_id=row.id,
              resource_repr=row.audit_repr(), description="Push notifications turned on for a device",
              changes=changes, people=[user])
    return row


def _remove(actor: Actor, row: PushSubscription, description: str) -> None:
    audit.log(actor, AuditAction.PUSH_UNSUBSCRIBE, resource_type="push_subscription", resource_id=row.id,
              resource_repr=row.audit_repr(), description=description,
              changes={"device": {"before": row.device, "after": None}, "user_id": row.user_id})
    db.session.delete(row)


def unsubscribe(actor: Actor, user: User, endpoint: str) -> bool:
    """Remove the subscription of the device the user is on (its endpoint); False if there was none."""
    row = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint_hash == endpoint_hash(endpoint),
                                                           PushSubscription.user_id == user.id))
    if row is None:
        return False
    _remove(actor, row, "Push notifications turned off on this device")
    return True


def revoke(actor: Actor, user: User, subscription_id: int) -> PushSubscription:
    """Remove one of the user's devices from their account page; raises SubscriptionNotFound."""
    row = db.session.get(PushSubscription, subscription_id)
    if row is None or row.user_id != user.id:
        raise SubscriptionNotFound()
    _remove(actor, row, "Push notifications removed for a device")
    return row


def forget_gone(subscription_id: int, status: int) -> None:
    """The push service says the subscription no longer exists (404/410): remove it (audited)."""
    row = db.session.get(PushSubscription, subscription_id)
    if row is not None:
        _remove(Actor.system("push"), row, f"Push subscription removed: the push service answered {status}")


def roles_with(permission: Permission) -> list[str]:
    return sorted(role.value for role, granted in ROLE_PERMISSIONS.items() if permission in granted)


def recipients(user_ids=(), permission: str | None = None) -> list[int]:
    """Active accounts among ``user_ids``, or holding ``permission``, that have a subscribed device."""
    query = (select(PushSubscription.user_id).join(User, User.id == PushSubscription.user_id)
             .where(User.is_active_account.is_(True)))
    if permission is not None:
        query = query.where(User.role.in_(roles_with(Permission(permission))))
    else:
        query = query.where(PushSubscription.user_id.in_(sorted(set(user_ids))))
    return list(db.session.scalars(query.distinct().order_by(PushSubscription.user_id)))


def notify(kind: str, *, user_ids=(), permission: Permission | None = None, after_commit: bool = True,
           **params) -> str | None:
    """Send notification ``kind`` (app.push.messages) to every device of ``user_ids`` (or of everyone
    holding ``permission``), in the ``push.notify`` job, which finds the devices.

    ``params`` are ids and figures only (never names or e-mail addresses): the job record keeps
    them. Event subscribers pass ``after_commit=False``: they run after the commit, when no SQL
    may run, so the job is queued at once and looks for devices itself. Returns the job id, or
    None when push is off or (checked now, inside a transaction) nobody has a device.
    """
    if not configured():
        return None
    # Devices subscribed after the event (the job may run later) are not told about it.
    occurred_at = utcnow().isoformat()
    if after_commit:
        user_ids = recipients(user_ids, permission.value if permission else None)
        if not user_ids:
            return None
        return jobs.enqueue(NOTIFY_JOB, Actor.system("push"), kind=kind, user_ids=user_ids, permission=None,
                            params=params, occurred_at=occurred_at)
    return jobs.enqueue_committed(NOTIFY_JOB, Actor.system("push"), kind=kind, user_ids=sorted(set(user_ids)),
                                  permission=permission.value if permission else None, params=params,
                                  occurred_at=occurred_at)
