"""The roles a user can have. What each role may do is granted in app.security.access;
the user model stores one of these values."""

from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l


class Role(enum.StrEnum):
    """What a user is allowed to do; permissions are granted per role in app.security.access."""

    SUPERADMIN = "superadmin"
    ADMIN = "admin"
    PRIVACY_OFFICER = "privacy_officer"  # data-subject requests and records of processing, no operations
    INSTITUTION_ADMIN = "institution_admin"
    CUSTOMER = "customer"

    @property
    def label(self) -> str:
        return {
            Role.SUPERADMIN: _l("Superadmin"),
            Role.ADMIN: _l("Admin"),
            Role.PRIVACY_OFFICER: _l("Privacy officer"),
            Role.INSTITUTION_ADMIN: _l("Institution admin"),
            Role.CUSTOMER: _l("Customer"),
        }[self]

    @property
    def is_staff(self) -> bool:
        """Staff roles reach the portal; customers reach only their own account."""
        return self is not Role.CUSTOMER

    @property
    def needs_institution(self) -> bool:
        return self in (Role.INSTITUTION_ADMIN, Role.CUSTOMER)


ROLE_VALUES = tuple(r.value for r in Role)
