"""The two-factor policy: which roles need a second factor, and the grace period.

Settings ``two_factor_required_roles`` and ``two_factor_grace_days``. The grace period of
an account counts from when the policy began to apply to it (creation, a role change,
or its first sign-in after the policy was widened). During the grace period sign-in
leads the user to enrolment (at most once a day) and every page says how long is
left; afterwards the portal shows nothing but enrolment until a factor is set up.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.auth.two_factor import has_second_factor
from app.database import utcnow
from app.settings.services import get as setting
from app.users.models import User
from app.users.services import two_factor_required_for, update_bookkeeping

REMIND_EVERY = timedelta(days=1)


class PolicyState(enum.StrEnum):
    NOT_REQUIRED = "not_required"
    ENROLLED = "enrolled"
    GRACE = "grace"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class PolicyStatus:
    state: PolicyState
    deadline: datetime | None = None

    @property
    def blocks_portal(self) -> bool:
        return self.state is PolicyState.OVERDUE

    @property
    def in_grace(self) -> bool:
        return self.state is PolicyState.GRACE


def evaluate(user: User, *, now: datetime | None = None, start_clock: bool = True) -> PolicyStatus:
    """Where ``user`` stands with the policy; starts their grace period if it had not started
    (unless ``start_clock`` is False: someone else looking at the account)."""
    if not two_factor_required_for(user.role):
        return PolicyStatus(PolicyState.NOT_REQUIRED)
    if has_second_factor(user):
        return PolicyStatus(PolicyState.ENROLLED)
    now = now or utcnow()
    since = user.two_factor_policy_since
    if since is None:
        since = now
        if start_clock:
            update_bookkeeping(user, two_factor_policy_since=now)
    deadline = since + timedelta(days=setting("two_factor_grace_days"))
    return PolicyStatus(PolicyState.GRACE if now < deadline else PolicyState.OVERDUE, deadline)


def should_lead_to_enrolment(user: User, status: PolicyStatus, *, now: datetime | None = None) -> bool:
    """After sign-in: overdue users always go to enrolment; users in grace once a day.

    Records the reminder, so the next sign-ins of the day go straight to their page.
    """
    if status.blocks_portal:
        return True
    if not status.in_grace:
        return False
    now = now or utcnow()
    last = user.two_factor_reminded_at
    if last is not None and now - last < REMIND_EVERY:
        return False
    update_bookkeeping(user, two_factor_reminded_at=now)
    return True
