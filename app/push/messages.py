"""What each notification says: a title, one sentence, the page it opens, and a tag.

The payload holds only what the notification shows (no names, e-mail addresses or amounts),
in the language the device subscribed in.
"""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _

KINDS = ("approval_waiting", "backup_failed", "audit_chain_broken", "new_sign_in", "second_factor_added", "test")


def build(kind: str, locale: str, **params) -> dict:
    """The JSON payload of notification ``kind`` in ``locale``; raises KeyError for an unknown kind."""
    with force_locale(locale):
        return _BUILDERS[kind](**params)


def _approval_waiting(approval_id: int, hours: int) -> dict:
    return {"title": _("Approval waiting"),
            "body": _("Approval request #%(id)d has been waiting for more than %(hours)d hours.",
                      id=approval_id, hours=hours),
            "url": f"/approvals/{approval_id}", "tag": f"approval-{approval_id}"}


def _backup_failed(backup_id: str, stage: str) -> dict:
    bodies = {"backup": _("Backup %(id)s failed.", id=backup_id),
              "verify": _("Verification of backup %(id)s failed.", id=backup_id),
              "drill": _("The restore drill of backup %(id)s failed.", id=backup_id)}
    return {"title": _("Backup problem"), "body": bodies.get(stage, bodies["backup"]),
            "url": "/backups/", "tag": f"backup-{backup_id}"}


def _audit_chain_broken(entry_id: int | None = None) -> dict:
    body = (_("The audit log check found a changed, deleted or inserted entry near entry #%(id)d.", id=entry_id)
            if entry_id else _("The audit log check found a changed, deleted or inserted entry."))
    return {"title": _("Audit log chain broken"), "body": body, "url": "/audit", "tag": "audit-chain"}


def _new_sign_in(method: str = "password") -> dict:
    return {"title": _("New sign-in to your account"),
            "body": _("Someone just signed in to your account. Not you? End your sessions and change your password."),
            "url": "/account/sessions", "tag": "sign-in"}


def _second_factor_added(method: str = "totp") -> dict:
    body = (_("A passkey was added to your account. Not you? Remove it and change your password.")
            if method == "passkey" else
            _("An authenticator app was added to your account. Not you? Remove it and change your password."))
    return {"title": _("New second factor"), "body": body, "url": "/account/security", "tag": "second-factor"}


def _test() -> dict:
    return {"title": _("Test notification"), "body": _("Notifications from Saintara Admin reach this device."),
            "url": "/account", "tag": "test"}


_BUILDERS = {"approval_waiting": _approval_waiting, "backup_failed": _backup_failed,
             "audit_chain_broken": _audit_chain_broken, "new_sign_in": _new_sign_in,
             "second_factor_added": _second_factor_added, "test": _test}
