"""The background job that sends one notification to every device of some people."""

from __future__ import annotations

from datetime import datetime

import requests
from sqlalchemy import select

from app.database import transaction, utcnow
from app.extensions import db
from app.jobs.services import JobContext, job
from app.push import messages, sending, services
from app.push.models import PushSubscription


@job("push.notify", timeout=600)
def notify(ctx: JobContext, kind: str, user_ids: list[int], params: dict, permission: str | None = None,
           occurred_at: str | None = None):
    """Build the payload per device language, deliver it, forget devices the push service forgot.

    The recipients are ``user_ids``, or everyone holding ``permission`` (active accounts only);
    their devices subscribed by ``occurred_at`` (ISO time of the event), when given.
    """
    with transaction():
        query = select(PushSubscription).where(PushSubscription.user_id.in_(services.recipients(user_ids, permission)))
        if occurred_at:
            query = query.where(PushSubscription.created_at <= datetime.fromisoformat(occurred_at))
        devices = [(row.id, row.endpoint, row.p256dh, row.auth, row.locale)
                   for row in db.session.scalars(query.order_by(PushSubscription.id))]
    counts = {"sent": 0, "gone": 0, "failed": 0}
    key = sending.server_key() if devices else None
    with requests.Session() as session:  # kept-alive connections to the few push services there are
        for done, (subscription_id, endpoint, p256dh, auth, locale) in enumerate(devices):
            ctx.progress("sending", 100 * done / max(1, len(devices)))
            delivery = sending.deliver(endpoint, p256dh, auth, messages.build(kind, locale, **params), key=key,
                                       session=session)
            counts[delivery.outcome] += 1
            with transaction():
                if delivery.outcome == "gone":
                    services.forget_gone(subscription_id, delivery.status)
                elif delivery.outcome == "sent":
                    row = db.session.get(PushSubscription, subscription_id)
                    if row is not None:
                        row.last_sent_at = utcnow()
    return "notified", {"kind": kind, "devices": len(devices), **counts}
