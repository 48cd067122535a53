"""Analytics tables: raw events, their daily rollups, the daily salts and the ingested stream entries.

Nothing here names a person. ``visitor`` is a keyed hash of the account id under the salt of
the event's local day (app.analytics.visitors); the salt is deleted once its day is over,
after which nobody (the operator included) can tell whose events they were or link one
day's visitor to another day's.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.database import UTCDateTime, utcnow
from app.extensions import db

_BigId = BigInteger().with_variant(Integer(), "sqlite")
_Properties = JSON().with_variant(JSONB(), "postgresql")
VISITOR_BYTES = 16
MAX_PATH = 200


class AnalyticsEvent(db.Model):
    """One raw event: when, which local day, what (a declared name), on which route template,
    by which role, by which pseudonymous visitor of that day, with declared properties."""

    __tablename__ = "analytics_events"
    # Events arrive in time order, so a BRIN index (a few pages for millions of rows) serves
    # every time-range scan on PostgreSQL; SQLite builds ordinary indexes from the same declaration.
    __table_args__ = (
        Index("ix_analytics_events_occurred_at", "occurred_at", postgresql_using="brin"),
        Index("ix_analytics_events_day", "day", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    day: Mapped[date] = mapped_column(Date)  # the local day in DISPLAY_TIMEZONE
    name: Mapped[str] = mapped_column(String(40))
    path: Mapped[str | None] = mapped_column(String(MAX_PATH))  # a route template, never a URL
    role: Mapped[str | None] = mapped_column(String(32))
    visitor: Mapped[bytes] = mapped_column(LargeBinary(VISITOR_BYTES))
    properties: Mapped[dict | None] = mapped_column(_Properties)


class AnalyticsDaily(db.Model):
    """Events and distinct visitors per local day, event name, route template and role.

    ``path`` and ``role`` are '' where the events had none (they are part of the key).
    """

    __tablename__ = "analytics_daily"
    # The analytics pages read one or a few names over up to a year: (name, day) with the counts
    # included answers them from the index alone on PostgreSQL (migration 0013).
    __table_args__ = (
        Index("ix_analytics_daily_name_day", "name", "day",
              postgresql_include=["path", "role", "events", "visitors"]),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    path: Mapped[str] = mapped_column(String(MAX_PATH), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)
    visitors: Mapped[int] = mapped_column(Integer)


class AnalyticsSalt(db.Model):
    """The random salt of one local day, shared by every worker; deleted when the day is over."""

    __tablename__ = "analytics_salts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))


class AnalyticsIngestedEntry(db.Model):
    """A Redis stream entry whose events were written: written with them, in one transaction,
    so an entry delivered again (an ingester killed before it acknowledged) is skipped."""

    __tablename__ = "analytics_ingested_entries"

    entry_id: Mapped[str] = mapped_column(String(41), primary_key=True)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


# --- rollups the analytics pages read (app/analytics/figures.py, app/analytics/platform_rollup.py) ---

class AnalyticsDayTotal(db.Model):
    """Per local day: all events, page views and distinct visitors (exact within the day)."""

    __tablename__ = "analytics_day_totals"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)
    page_views: Mapped[int] = mapped_column(BigInteger)
    visitors: Mapped[int] = mapped_column(Integer)


class AnalyticsDuration(db.Model):
    """Per local day and milestone: how many carried ``seconds`` in each histogram bucket
    (app/analytics/histogram.py: buckets 5 % wide, so a median read back is within 2.5 %)."""

    __tablename__ = "analytics_durations"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    events: Mapped[int] = mapped_column(Integer)


class AnalyticsCohortWeek(db.Model):
    """Per local day: ``active_week`` events per join week (yyyyww) and weeks since joining."""

    __tablename__ = "analytics_cohort_weeks"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    joined_week: Mapped[int] = mapped_column(Integer, primary_key=True)
    weeks_since: Mapped[int] = mapped_column(Integer, primary_key=True)
    events: Mapped[int] = mapped_column(Integer)


class AnalyticsActiveWeek(db.Model):
    """The last ISO week (its Monday) for which ``active_week`` was recorded for an account, so it
    is recorded at most once a week. Never copied into an event; deleted with the account."""

    __tablename__ = "analytics_active_weeks"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                                         autoincrement=False)
    week: Mapped[date] = mapped_column(Date)


class PlatformDaily(db.Model):
    """Per local day and institution (0: none): payments created, their IDR volume, and approval
    requests decided."""

    __tablename__ = "platform_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    institution_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    transactions: Mapped[int] = mapped_column(Integer)
    volume_idr: Mapped[int] = mapped_column(BigInteger)
    approvals_decided: Mapped[int] = mapped_column(Integer)


class PlatformTurnaround(db.Model):
    """Per local day of decision and institution (0: none): approval requests per turnaround
    bucket (requested → decided, app/analytics/histogram.py)."""

    __tablename__ = "platform_turnaround_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    institution_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    approvals: Mapped[int] = mapped_column(Integer)


class PlatformTurnaroundMonth(db.Model):
    """``platform_turnaround_daily`` summed per calendar month (``month``: its first day), kept by
    the platform rollup of each of its days, so a year's turnaround percentiles read about a third
    of the rows (whole months here, the days at either end from the daily table)."""

    __tablename__ = "platform_turnaround_monthly"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    institution_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    approvals: Mapped[int] = mapped_column(Integer)
