"""When a data-subject request must be answered, under the law it is handled under.

- GDPR Art. 12(3): within one month of receipt, extendable once by two further months
  where necessary (the subject told within the first month, with the reasons).
- UU PDP (Law 27 of 2022): 3 × 24 hours from receipt for access (Art. 32(2)),
  rectification (Art. 30(2)) and restriction (Art. 41(1)); erasure and objection are
  left to implementing regulations, so they get a setting of their own.

The periods are typed settings (app/settings/definitions.py, section "Privacy"). A month
is a calendar month in the portal's time zone: 31 January plus one month is the last day
of February, so a GDPR deadline in days is also capped at the calendar month.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

from app.privacy.models import Jurisdiction, RequestKind
from app.settings import services as settings

UU_PDP_3X24 = frozenset({RequestKind.ACCESS, RequestKind.RECTIFICATION, RequestKind.RESTRICTION})


def add_months(moment: datetime, months: int, zone: str | None = None) -> datetime:
    """``moment`` plus whole calendar months in ``zone`` (the display zone by default); the
    day is clamped to the month's last (31 January + 1 = 28 or 29 February)."""
    tz = ZoneInfo(zone or current_app.config["BABEL_DEFAULT_TIMEZONE"])
    local = moment.astimezone(tz)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(moment.tzinfo)


def due_at(jurisdiction: Jurisdiction | str, kind: RequestKind | str, received_at: datetime) -> datetime:
    """The deadline of a request received at ``received_at``."""
    if Jurisdiction(jurisdiction) is Jurisdiction.GDPR:
        days = received_at + timedelta(days=settings.get("privacy_gdpr_response_days"))
        return min(days, add_months(received_at, 1))
    key = "privacy_uu_pdp_response_hours" if RequestKind(kind) in UU_PDP_3X24 else "privacy_uu_pdp_other_hours"
    return received_at + timedelta(hours=settings.get(key))


def can_extend(jurisdiction: Jurisdiction | str) -> bool:
    """Only the GDPR lets a controller extend its deadline."""
    return Jurisdiction(jurisdiction) is Jurisdiction.GDPR


def extended_due_at(received_at: datetime, original_due_at: datetime) -> datetime:
    """The deadline after the one extension the GDPR allows: the setting's days after the first
    deadline, never beyond three calendar months after receipt."""
    days = original_due_at + timedelta(days=settings.get("privacy_gdpr_extension_days"))
    return min(days, add_months(received_at, 3))
