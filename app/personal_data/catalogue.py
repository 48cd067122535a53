"""What personal data the portal holds, why, on which legal basis, and for how long.

One declaration that the records of processing (GDPR Art. 30), the retention job, the
consent store and the data-subject export all read, so they cannot disagree. Legal bases
are named as in GDPR Art. 6(1) and Indonesia's Law No. 27 of 2022 on Personal Data
Protection (UU PDP) Art. 20(2).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


class LegalBasis(enum.StrEnum):
    CONSENT = "consent"  # GDPR 6(1)(a), UU PDP 20(2)(a)
    CONTRACT = "contract"  # GDPR 6(1)(b), UU PDP 20(2)(b)
    LEGAL_OBLIGATION = "legal_obligation"  # GDPR 6(1)(c), UU PDP 20(2)(c)
    LEGITIMATE_INTEREST = "legitimate_interest"  # GDPR 6(1)(f), UU PDP 20(2)(f)

    @property
    def label(self):
        return {
            LegalBasis.CONSENT: _l("Consent"),
            LegalBasis.CONTRACT: _l("Performance of a contract"),
            LegalBasis.LEGAL_OBLIGATION: _l("Legal obligation"),
            LegalBasis.LEGITIMATE_INTEREST: _l("Legitimate interest"),
        }[self]


@dataclass(frozen=True)
class Purpose:
    """Why personal data is processed. Purposes on the consent basis are asked for and
    can be withdrawn (app.privacy consent store); the others are not optional."""

    key: str
    label: object
    basis: LegalBasis
    description: object


@dataclass(frozen=True)
class Category:
    """A kind of personal data: where it lives, for which purposes, and how long it is kept.

    ``retention_setting`` names the typed system setting (days) that bounds it, with the
    default ``retention_days``; ``erasable`` is False where a law requires keeping it (the
    record is then kept and its subject pseudonymised, never deleted). ``on_erasure`` says
    what an erasure does where "erased" alone would not be the whole truth.
    """

    key: str
    label: object
    data: object  # which fields, in words
    stored_in: tuple[str, ...]  # tables
    purposes: tuple[str, ...]
    retention_setting: str
    retention_days: int
    erasable: bool
    recipients: object
    on_erasure: object = None


PURPOSES: tuple[Purpose, ...] = (
    Purpose("account_administration", _l("Account administration"), LegalBasis.CONTRACT,
            _l("Creating, signing in to and administering portal accounts and customer records.")),
    Purpose("payment_processing", _l("Payment processing"), LegalBasis.CONTRACT,
            _l("Recording, approving and rejecting customers' payments in rupiah.")),
    Purpose("financial_records", _l("Keeping financial records"), LegalBasis.LEGAL_OBLIGATION,
            _l("Keeping payment records for the period commercial and tax law requires.")),
    Purpose("security", _l("Security and accountability"), LegalBasis.LEGITIMATE_INTEREST,
            _l("The tamper-evident audit log, sign-in records and sessions, to detect and investigate misuse.")),
    Purpose("privacy_compliance", _l("Privacy compliance"), LegalBasis.LEGAL_OBLIGATION,
            _l("Handling data-subject requests and keeping proof of consent.")),
    Purpose("analytics", _l("Usage analytics"), LegalBasis.CONSENT,
            _l("First-party, pseudonymous statistics of how the portal is used: page views and named actions "
               "of people who consented, never sent to anyone else.")),
    Purpose("notifications", _l("Notifications"), LegalBasis.CONSENT,
            _l("Optional notices about activity in the portal, by e-mail or push.")),
    Purpose("session_replay", _l("Session replay"), LegalBasis.CONSENT,
            _l("Recordings of how portal pages are used (their layout, clicks and scrolling) with every text masked "
               "and typed values and images left out, sent through the portal to its error tracking service "
               "(Sentry) to find faults.")),
)

CATEGORIES: tuple[Category, ...] = (
    Category("customer_identity", _l("Customer identity and contact"), _l("Full name, e-mail address, phone number."),
             ("customers",), ("account_administration", "payment_processing"),
             "retention_customer_identity_days", 5 * 365, True, _l("The customer's institution.")),
    Category("financial_records", _l("Payment records"),
             _l("Payments (reference, amount, description, status, decision) and approval requests."),
             ("transactions", "approvals"), ("payment_processing", "financial_records"),
             "retention_financial_records_days", 10 * 365, False, _l("The customer's institution; auditors.")),
    Category("staff_accounts", _l("Portal accounts"), _l("E-mail address, display name, role, sign-in times."),
             ("users",), ("account_administration", "security"),
             "retention_inactive_accounts_days", 2 * 365, True, _l("None outside the operator.")),
    Category("security_records", _l("Security records"),
             _l("Audit entries (who did what, before and after values), IP addresses, browsers; "
                "sessions (kept in Redis until they expire)."),
             ("audit_logs", "impersonations", "api_tokens"), ("security",),
             "audit_retention_days", 365, False, _l("None outside the operator; authorities on legal request.")),
    Category("privacy_records", _l("Privacy records"), _l("Data-subject requests, consents given and withdrawn."),
             ("privacy_requests", "consents"), ("privacy_compliance",),
             "retention_privacy_records_days", 5 * 365, False, _l("Supervisory authorities on request.")),
    Category("usage_analytics", _l("Usage analytics (pseudonymous)"),
             _l("Page (its route, never the address), named action, role, time, and a visitor id that is a keyed "
                "hash changing every day: no name, e-mail, IP address or browser. Daily counts are kept longer."),
             ("analytics_events", "analytics_daily", "analytics_day_totals", "analytics_durations",
              "analytics_cohort_weeks", "analytics_active_weeks"), ("analytics",),
             "analytics_raw_days", 90, True,
             _l("None: first-party only, no third party receives it."),
             _l("Today's events of the person's account are deleted; older events cannot be linked to anyone "
                "(their day's salt is deleted once the day is over). Daily counts name nobody and stay.")),
)


def purpose(key: str) -> Purpose:
    """The purpose declared under ``key`` (KeyError when there is none)."""
    return {p.key: p for p in PURPOSES}[key]


def consent_purposes() -> tuple[Purpose, ...]:
    """Purposes that need the subject's consent (asked for, withdrawable)."""
    return tuple(p for p in PURPOSES if p.basis is LegalBasis.CONSENT)


# The personal fields of each kind of data subject (the model's column names): their values
# are sealed under the subject's key wherever the audit log records them.
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "customer": ("full_name", "email", "phone"),
    "user": ("email", "display_name"),
}
SUBJECT_KINDS = tuple(PERSONAL_FIELDS)
