"""The first feature that processes on consent: an e-mail to a customer when their payment is decided.

Subscribed to ``events.transaction_decided`` (app.consent.init_app), so it runs once the
decision has committed. The request's session cannot read any more at that point (it has
committed, and stays so until the request ends), so this reads on a session of its own.
A mail goes to each active customer account linked to the transaction's customer, and only
when that customer's consent to "notifications" counts now. The mail is in English and
Indonesian (the portal does not know which language the customer reads) and says how to
stop these mails.
"""

from __future__ import annotations

import logging

from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import mail
from app.consent.services import Subject, allows
from app.extensions import db
from app.formatting import money_text, when_text
from app.platform.models import DecisionStatus, Transaction
from app.security.roles import Role
from app.users.models import User

PURPOSE = "notifications"
log = logging.getLogger(__name__)


def _texts(tx: Transaction, link: str | None) -> tuple[str, str]:
    """Subject and body of the mail in the current locale."""
    approved = tx.status == DecisionStatus.APPROVED.value
    if approved:
        subject = _("Payment %(reference)s was approved", reference=tx.reference)
        body = _("Your payment %(reference)s of %(amount)s was approved on %(when)s.",
                 reference=tx.reference, amount=money_text(tx.amount_idr), when=when_text(tx.decided_at, "medium"))
    else:
        subject = _("Payment %(reference)s was rejected", reference=tx.reference)
        body = _("Your payment %(reference)s of %(amount)s was rejected on %(when)s.",
                 reference=tx.reference, amount=money_text(tx.amount_idr), when=when_text(tx.decided_at, "medium"))
        if tx.decision_reason:
            body += "\n" + _("Reason: %(reason)s", reason=tx.decision_reason)
    body += "\n\n" + _("You receive this notice because you agreed to notifications from Saintara Admin.")
    if link:
        body += " " + _("To stop them, withdraw your consent on your account page: %(link)s", link=link)
    else:
        body += " " + _("To stop them, withdraw your consent on your account page.")
    return subject, body


def decision_message(tx: Transaction, to: str, link: str | None):
    """The notice about ``tx`` for ``to``: English, then Indonesian."""
    parts = []
    for locale in ("en", "id"):
        with force_locale(locale):
            parts.append(_texts(tx, link))
    subject = f"{parts[0][0]} / {parts[1][0]}"
    body = f"{parts[0][1]}\n\n-- \n\n{parts[1][1]}\n"
    return mail.build_message(to, subject, body)


def _account_link() -> str | None:
    try:
        return mail.public_url("consent.account")
    except RuntimeError:  # no PUBLIC_URL and no request to take the host from (a CLI command)
        return None


def notify_transaction_decided(app: Flask, *, transaction_id: int, **_payload) -> int:
    """Mail the customer's accounts that ``transaction_id`` was decided, when they consented.

    Returns how many mails were handed to app.mail (delivered at once: the decision has
    committed already).
    """
    with Session(bind=db.session.get_bind()) as session:
        tx = session.get(Transaction, transaction_id)
        if tx is None or tx.status == DecisionStatus.PENDING.value:
            return 0
        if not allows(Subject("customer", tx.customer_id), PURPOSE, session=session):
            return 0
        accounts = session.scalars(select(User).where(
            User.customer_id == tx.customer_id, User.role == Role.CUSTOMER.value,
            User.is_active_account.is_(True)).order_by(User.id)).all()
        link = _account_link() if accounts else None
        for account in accounts:
            mail.deliver(app, decision_message(tx, account.email, link))
        if accounts:
            log.info("decision notice for transaction %s sent to %d account(s)", transaction_id, len(accounts))
        return len(accounts)
