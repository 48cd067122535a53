"""Every system setting, declared in one place: type, default, bounds and help text.

A feature reads its settings with ``settings.get("key")`` (app.settings.services);
superadmins change them on the settings page, which validates against these
declarations. Add a setting here, never a literal elsewhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l


class Kind(enum.StrEnum):
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DURATION = "duration"  # stored in seconds, edited in minutes
    CHOICE = "choice"
    MULTICHOICE = "multichoice"
    TEXT = "text"


@dataclass(frozen=True)
class Setting:
    key: str
    kind: Kind
    default: object
    label: object
    help: object
    section: object
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[tuple[str, object], ...] = field(default_factory=tuple)
    max_length: int = 500


ROLE_CHOICES = (
    ("superadmin", _l("Superadmin")),
    ("admin", _l("Admin")),
    ("privacy_officer", _l("Privacy officer")),
    ("institution_admin", _l("Institution admin")),
    ("customer", _l("Customer")),
)

SECURITY, AUDIT, BACKUPS, GENERAL = _l("Security"), _l("Audit log"), _l("Backups"), _l("General")
PRIVACY, ANALYTICS, REPLAY = _l("Privacy"), _l("Usage analytics"), _l("Session replay")
NOTIFICATIONS = _l("Notifications")

SETTINGS: tuple[Setting, ...] = (
    Setting("two_factor_required_roles", Kind.MULTICHOICE, ("superadmin", "admin", "privacy_officer"),
            _l("Two-factor required for"),
            _l("Users with these roles must use a second factor to reach the portal."),
            SECURITY, choices=ROLE_CHOICES),
    Setting("two_factor_grace_days", Kind.INTEGER, 7, _l("Two-factor grace period (days)"),
            _l("Days during which a user who must use two-factor can still sign in and is led to set it up."),
            SECURITY, minimum=0, maximum=90),
    Setting("impersonation_time_limit", Kind.DURATION, 15 * 60, _l("Impersonation time limit"),
            _l("Support impersonation ends by itself after this long."),
            SECURITY, minimum=60, maximum=4 * 3600),
    Setting("audit_retention_days", Kind.INTEGER, 365, _l("Keep audit entries (days)"),
            _l("Entries older than this are removed by the retention purge; a checkpoint keeps the chain verifiable."),
            AUDIT, minimum=30, maximum=3650),
    # Retention of personal data, by category (app/personal_data/catalogue.py; app/privacy/retention.py)
    Setting("retention_customer_identity_days", Kind.INTEGER, 5 * 365, _l("Keep deactivated customers (days)"),
            _l("A deactivated customer with no change and no payment for this long is erased: name, e-mail "
               "and phone are removed, payments stay."), PRIVACY, minimum=30, maximum=36500),
    Setting("retention_inactive_accounts_days", Kind.INTEGER, 2 * 365, _l("Keep deactivated accounts (days)"),
            _l("A deactivated portal account not used or changed for this long is erased."),
            PRIVACY, minimum=30, maximum=36500),
    Setting("retention_financial_records_days", Kind.INTEGER, 10 * 365, _l("Keep payment records (days)"),
            _l("Decided payments and approval requests older than this are deleted. Indonesian law requires "
               "ten years (Law 8/1997 on company documents), the smallest value allowed."),
            PRIVACY, minimum=3650, maximum=36500),
    Setting("retention_privacy_records_days", Kind.INTEGER, 5 * 365, _l("Keep replaced consent records (days)"),
            _l("A consent or withdrawal that a later choice of the same person replaced is deleted after this "
               "long; the current choice and its proof stay."), PRIVACY, minimum=365, maximum=36500),
    Setting("backup_retention_days", Kind.INTEGER, 30, _l("Keep backups (days)"),
            _l("Backups older than this are deleted, except the newest verified ones."),
            BACKUPS, minimum=1, maximum=3650),
    Setting("backup_keep_verified", Kind.INTEGER, 3, _l("Always keep the newest verified backups"),
            _l("This many of the newest verified backups are kept whatever their age (at least one)."),
            BACKUPS, minimum=1, maximum=100),
    Setting("backup_drill_after_create", Kind.BOOLEAN, True, _l("Restore drill after every backup"),
            _l("Restore each new backup into a scratch database and compare it with its manifest."),
            BACKUPS),
    Setting("maintenance_banner", Kind.TEXT, "", _l("Maintenance banner"),
            _l("Shown at the top of every page while not empty."), GENERAL, max_length=300),
    # Operations console
    Setting("csv_exports_per_hour", Kind.INTEGER, 60, _l("CSV exports per person per hour"),
            _l("Lists can be exported as CSV, up to millions of rows; each person may start at most this many "
               "exports per hour. Takes effect at once."), _l("Limits"), minimum=1, maximum=1000),
    # Privacy: the controller named in the records of processing, and data-subject request deadlines
    Setting("privacy_controller_name", Kind.TEXT, "", _l("Controller"),
            _l("The organisation responsible for the personal data, as named in the records of processing."),
            PRIVACY, max_length=200),
    Setting("privacy_controller_contact", Kind.TEXT, "", _l("Privacy contact"),
            _l("How data subjects and authorities reach the controller and its privacy officer (address, e-mail)."),
            PRIVACY, max_length=300),
    Setting("privacy_gdpr_response_days", Kind.INTEGER, 30, _l("GDPR: days to answer a request"),
            _l("Counted from receipt, and never later than one calendar month after it (GDPR Art. 12(3))."),
            PRIVACY, minimum=1, maximum=31),
    Setting("privacy_gdpr_extension_days", Kind.INTEGER, 61, _l("GDPR: days a deadline may be extended by"),
            _l("Once, with a recorded reason, before the first deadline passes; never beyond two further "
               "calendar months (GDPR Art. 12(3))."), PRIVACY, minimum=1, maximum=62),
    Setting("privacy_uu_pdp_response_hours", Kind.INTEGER, 72, _l("UU PDP: hours to answer access, rectification "
                                                                   "and restriction"),
            _l("Counted from receipt: 3 × 24 hours under Law 27 of 2022, Art. 30, 32 and 41."),
            PRIVACY, minimum=1, maximum=72),
    Setting("privacy_uu_pdp_other_hours", Kind.INTEGER, 72, _l("UU PDP: hours to answer erasure and objection"),
            _l("Counted from receipt. The law leaves these periods to implementing regulations; 3 × 24 hours, as for "
               "its other rights, until they say otherwise."), PRIVACY, minimum=1, maximum=30 * 24),
    Setting("privacy_reminder_hours", Kind.INTEGER, 48, _l("Remind privacy officers (hours before the deadline)"),
            _l("'flask privacy remind' mails about open requests due within this many hours, or overdue, "
               "at most once a day per request."), PRIVACY, minimum=1, maximum=30 * 24),
    Setting("privacy_verification_link_hours", Kind.INTEGER, 72, _l("Identity confirmation link valid for (hours)"),
            _l("How long the link mailed to a data subject's registered address can confirm their request."),
            PRIVACY, minimum=1, maximum=30 * 24),
    # Privacy: access exports
    Setting("privacy_export_keep_hours", Kind.INTEGER, 24, _l("Keep access exports (hours)"),
            _l("A person's data exported for an access request can be downloaded this long after it is ready; "
               "then the file is deleted."), PRIVACY, minimum=1, maximum=14 * 24),
    # First-party analytics (app/analytics; docs/ANALYTICS.md)
    Setting("analytics_enabled", Kind.BOOLEAN, True, _l("Record usage analytics"),
            _l("Page views and named actions of people who consented to usage analytics, pseudonymous and "
               "first-party. Off: nothing is recorded, whatever people chose."), ANALYTICS),
    Setting("analytics_raw_days", Kind.INTEGER, 90, _l("Keep raw analytics events (days)"),
            _l("Single pseudonymous events older than this are deleted by 'flask analytics purge'; the daily "
               "counts stay."), ANALYTICS, minimum=1, maximum=3650),
    Setting("analytics_rollup_days", Kind.INTEGER, 730, _l("Keep daily analytics counts (days)"),
            _l("Daily counts of events and visitors per page and role older than this are deleted."),
            ANALYTICS, minimum=1, maximum=36500),
    # Session replay in the browser, sent to Sentry through the portal (app/replay; docs/MONITORING.md)
    Setting("replay_sample_percent", Kind.INTEGER, 0, _l("Session replay: sessions recorded (%)"),
            _l("The share of browser sessions recorded, among people who consented to session replay, when a "
               "browser Sentry DSN is configured. Texts are masked, typed values and images left out. 0: no "
               "session is recorded."), REPLAY, minimum=0, maximum=100),
    # Web Push to the installed portal (app/push; docs/PWA.md)
    Setting("push_approval_waiting_hours", Kind.INTEGER, 4, _l("Notify about approvals waiting longer than (hours)"),
            _l("People who may decide an approval request get one push notification once it has waited this long "
               "('flask push approvals-waiting', run from cron)."), NOTIFICATIONS, minimum=1, maximum=720),
)

BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}
