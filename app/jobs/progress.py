"""A job's progress as the UI reads it: the generic fields of every job, plus the wording its
feature registers (titles, stage names, how it ended) under the job name's prefix."""

from __future__ import annotations

from collections.abc import Callable

from app.jobs.store import SUCCEEDED, JobRecord

Describer = Callable[[JobRecord], dict]
_DESCRIBERS: dict[str, Describer] = {}


def describe_with(prefix: str, describer: Describer) -> None:
    """Let ``describer(record) -> dict`` add its feature's wording to jobs named ``prefix...``."""
    _DESCRIBERS[prefix] = describer


def owned_by(record: JobRecord, user_id: int | None) -> bool:
    """True when the person ``user_id`` started the job (system jobs belong to nobody)."""
    return user_id is not None and record.actor.get("user_id") == user_id


def as_json(record: JobRecord) -> dict:
    """The status the progress partial polls: id, name, state, percent, stage, finished, ok,
    then whatever the job's feature adds (``title``, ``stage_label``, ``message`` ...)."""
    status = {"id": record.id, "name": record.name, "title": record.name, "state": record.state,
              "percent": record.percent, "stage": record.stage, "stage_label": record.stage or "",
              "finished": record.finished, "ok": record.state == SUCCEEDED, "message": ""}
    for prefix, describer in _DESCRIBERS.items():
        if record.name.startswith(prefix):
            status.update(describer(record))
            break
    return status
