"""A user's sessions as people see them (browser, address, times) and ending them (audited)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from app.audit import services as audit
from app.audit.models import AuditAction
from app.security import sessions
from app.security.actor import Actor
from app.users.models import User

_BROWSERS = (
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"OPR/(\d+)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"(?:HeadlessChrome|Chrome|CriOS)/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+)[^ ]* (?:Mobile/\S+ )?Safari/")),
)
_SYSTEMS = (
    ("Android", re.compile(r"Android")),
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux|X11")),
)


def describe_user_agent(user_agent: str | None) -> str:
    """A short, readable name such as "Chrome 156 on Linux" (the raw string when unknown)."""
    if not user_agent:
        return "?"
    browser = next((f"{name} {m.group(1)}" for name, pattern in _BROWSERS if (m := pattern.search(user_agent))),
                   None)
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), None)
    if browser and system:
        return f"{browser} / {system}"
    return browser or system or user_agent[:60]


@dataclass(frozen=True)
class SessionView:
    key: str
    browser: str
    ip: str | None
    created: datetime
    last_seen: datetime
    current: bool

    @property
    def short_id(self) -> str:
        return self.key[:10]


def list_sessions(user: User, current_key: str | None = None) -> list[SessionView]:
    """The user's live sessions, most recently active first; ``current`` marks the viewer's own."""
    return [
        SessionView(info.key, describe_user_agent(info.user_agent), info.ip,
                    datetime.fromtimestamp(info.created, UTC), datetime.fromtimestamp(info.last_seen, UTC),
                    info.key == current_key)
        for info in sessions.sessions_for_user(user.id)
    ]


def end_session(actor: Actor, user: User, key: str) -> bool:
    """End one session of ``user`` (audited SESSION_END); False when it is not theirs or is gone."""
    if not sessions.end_session(user.id, key):
        return False
    audit.log(actor, AuditAction.SESSION_END, resource=user,
              description=f"Ended session {key[:10]} of {user.email}")
    return True


def end_all_sessions(actor: Actor, user: User, *, except_key: str | None = None) -> int:
    """End every session of ``user`` but ``except_key`` (audited); returns how many ended."""
    ended = sessions.end_sessions_for_user(user.id, except_key=except_key)
    audit.log(actor, AuditAction.SESSION_END, resource=user,
              description=f"Ended {ended} session(s) of {user.email}" + (" (all but the current one)"
                                                                          if except_key else ""))
    return ended
