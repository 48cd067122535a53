"""Readable, translated names of the platform's codes (statuses, approval kinds)."""

from flask_babel import lazy_gettext as _l

STATUS_LABELS = {"pending": _l("Pending"), "approved": _l("Approved"), "rejected": _l("Rejected")}
STATUS_CHOICES = tuple(STATUS_LABELS.items())
ACTIVE_CHOICES = (("yes", _l("Active")), ("no", _l("Inactive")))
KIND_LABELS = {
    "limit_increase": _l("Limit increase"),
    "customer_reactivation": _l("Customer reactivation"),
    "refund": _l("Refund"),
    "data_correction": _l("Data correction"),
}
KIND_CHOICES = tuple(KIND_LABELS.items())


def status_label(status: str):
    return STATUS_LABELS.get(status, status)


def kind_label(kind: str):
    return KIND_LABELS.get(kind, kind.replace("_", " "))
