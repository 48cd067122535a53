"""A job's progress as the UI reads it: the generic fields of every job, plus what its feature
registers under the job name's prefix: its wording (titles, stage names, how it ended) and who,
besides the person who started a job, may watch it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.jobs.store import SUCCEEDED, JobRecord

Describer = Callable[[JobRecord], dict]
Watchers = Callable[[object], bool]


@dataclass(frozen=True)
class Registration:
    describer: Describer
    watchers: Watchers | None = None


_REGISTRATIONS: dict[str, Registration] = {}


def describe_with(prefix: str, describer: Describer, *, watchers: Watchers | None = None) -> None:
    """Let ``describer(record) -> dict`` add its feature's wording to jobs named ``prefix...``, and
    ``watchers(user) -> bool`` say who else may watch them (system jobs included), e.g. the holders
    of the feature's permission. Without ``watchers`` only the person who started a job sees it."""
    _REGISTRATIONS[prefix] = Registration(describer, watchers)


def _registration(record: JobRecord) -> Registration | None:
    return next((entry for prefix, entry in _REGISTRATIONS.items() if record.name.startswith(prefix)), None)


def owned_by(record: JobRecord, user_id: int | None) -> bool:
    """True when the person ``user_id`` started the job (system jobs belong to nobody)."""
    return user_id is not None and record.actor.get("user_id") == user_id


def may_watch(record: JobRecord, user) -> bool:
    """True when ``user`` (signed in) may read the job's progress: the person who started it, or
    anyone its feature's ``watchers`` admit."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if owned_by(record, user.id):
        return True
    registration = _registration(record)
    return registration is not None and registration.watchers is not None and bool(registration.watchers(user))


def as_json(record: JobRecord) -> dict:
    """The status the progress partial polls: id, name, state, percent, stage, finished, ok,
    then whatever the job's feature adds (``title``, ``stage_label``, ``message`` ...)."""
    status = {"id": record.id, "name": record.name, "title": record.name, "state": record.state,
              "percent": record.percent, "stage": record.stage, "stage_label": record.stage or "",
              "finished": record.finished, "ok": record.state == SUCCEEDED, "message": ""}
    if registration := _registration(record):
        status.update(registration.describer(record))
    return status
