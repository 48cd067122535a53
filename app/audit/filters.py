"""What the audit log's queries and exports filter by: :class:`AuditFilter`, typed criteria.

The list pages, the exports and the API read their parameters through the list
declaration in app.audit.lists, which builds these criteria; app.audit.queries turns them
into SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class AuditFilter:
    """What to show; every field optional. Times are UTC, ``until`` exclusive."""

    q: str | None = None
    terms: tuple[str, ...] = ()
    actor_email: str | None = None
    actor_id: int | None = None  # this actor's entries, including those made while impersonating
    actions: tuple[str, ...] = ()
    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    result: str | None = None
    ip: str | None = None
    impersonated: bool = False
    request_id: str | None = None
    raw: dict = field(default_factory=dict, compare=False)  # the accepted parameters as typed, in order

    @property
    def is_empty(self) -> bool:
        return not self.raw

    def query_args(self) -> dict:
        """The filter as URL query arguments (the accepted inputs as typed)."""
        return dict(self.raw)

    def summary(self) -> str:
        """One line describing the filter (for the audit entry of an export)."""
        parts = []
        for name, value in self.raw.items():
            shown = ",".join(value) if isinstance(value, list) else value
            parts.append(f"{name}={shown}")
        return "; ".join(parts) or "no filter"
