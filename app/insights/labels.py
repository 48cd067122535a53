"""People's names for the declared events, roles and funnel steps on the analytics pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.security.roles import Role

EVENT_LABELS = {
    "page_view": _l("Page viewed"),
    "invitation_sent": _l("Invitation sent"),
    "approval_decided": _l("Approval request decided"),
    "transaction_decided": _l("Payment decided"),
    "import_done": _l("Customer import completed"),
    "backup_restored": _l("Backup restored"),
    "invitation_accepted": _l("Invitation accepted"),
    "two_factor_enrolled": _l("Two-factor authentication set up"),
    "first_action": _l("First piece of work done"),
    "active_week": _l("Active in a week"),
    "csv_export_clicked": _l("CSV download clicked"),
    "print_clicked": _l("Print clicked"),
    "jump_opened": _l("Jump box opened"),
}


def event_label(name: str) -> str:
    return str(EVENT_LABELS.get(name, name))


def role_label(role: str) -> str:
    try:
        return str(Role(role).label)
    except ValueError:
        return str(_l("No role"))
