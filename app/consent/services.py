"""Consent given and withdrawn, and the one question the features that rely on it ask.

A feature that processes personal data on consent asks before it does::

    from app.consent import services as consent
    if consent.allows(subject, "notifications"):
        ...

A subject is a portal user or a customer (:class:`Subject`). A portal account linked to a
customer record acts for that record (:func:`subject_of_user`), so a consent given on paper
and one given on the account page are one history of one person.

Events are only ever appended. The current choice for a purpose is derived: the latest
event that counts, where a consent counts when given under the purpose's latest material
notice version or a later one, and a withdrawal always counts. Nothing given yet means no.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from flask import g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select

from app import events
from app.audit import services as audit
from app.audit.models import AuditAction
from app.consent.models import MAX_EVIDENCE, ConsentEvent, ConsentNotice, ConsentSource
from app.consent.notices import ConsentError, UnknownPurpose, baseline_version, consent_purpose, current
from app.extensions import db
from app.personal_data.catalogue import Purpose, consent_purposes
from app.platform.models import Customer
from app.security.access import ROLE_PERMISSIONS, Permission, institution_scope
from app.security.actor import Actor
from app.security.roles import Role
from app.users.models import User

__all__ = ["Choice", "ConsentError", "NoticeChanged", "NotVisible", "Subject", "UnknownPurpose", "allows",
           "choices", "events_query", "granted_count", "history", "record", "subject_of_user"]

_CACHE = "consent_allows"


class NoticeChanged(ConsentError):
    """A new version of the notice was published after the page was loaded; nothing was recorded."""


class NotVisible(ConsentError):
    """The subject does not exist or is outside the actor's institution (shown as 404)."""


class Subject(NamedTuple):
    """Whose consent: ``("user", id)`` or ``("customer", id)``, as ``personal_data_subject()`` names people."""

    kind: str
    id: int


def subject_of_user(user: User) -> Subject:
    """The subject a portal account gives consent as: its customer record when linked to one."""
    if user.customer_id is not None:
        return Subject("customer", user.customer_id)
    return Subject("user", user.id)


@dataclass(frozen=True)
class Choice:
    """A subject's current choice for one purpose (account page, staff page)."""

    purpose: Purpose
    notice: ConsentNotice | None  # the version asked about now; None when none is published
    granted: bool  # consent counts now
    decided_by: ConsentEvent | None  # the event the choice rests on (None: never chosen)
    lapsed: bool  # the latest event is a consent to an earlier material version: asked again


def _counts(baseline):
    """SQL: an event that counts under ``baseline`` (a grant from it on, or any withdrawal)."""
    return or_(ConsentEvent.notice_version >= baseline, ConsentEvent.granted.is_(False))


def _of(subject: Subject):
    return (ConsentEvent.subject_kind == subject[0]) & (ConsentEvent.subject_id == int(subject[1]))


def _cache() -> dict:
    return g.setdefault(_CACHE, {}) if has_request_context() else {}


def allows(subject: tuple[str, int], purpose: str, *, session=None) -> bool:
    """True when ``subject`` has consented to ``purpose`` and the consent counts now.

    One indexed query (ix_consent_events_subject, newest first), remembered for the rest of
    the request. ``session``: read on another session (after a commit, in event subscribers).
    Raises UnknownPurpose for a purpose that does not ask for consent.
    """
    consent_purpose(purpose)
    key = (subject[0], int(subject[1]), purpose)
    cache = _cache() if session is None else {}
    if key not in cache:
        granted = (session or db.session).scalar(
            select(ConsentEvent.granted)
            .where(_of(Subject(*subject)), ConsentEvent.purpose == purpose, _counts(baseline_version(purpose)))
            .order_by(ConsentEvent.id.desc()).limit(1))
        cache[key] = bool(granted)
    return cache[key]


def decide(events: Iterable[ConsentEvent], baseline: int | None) -> tuple[ConsentEvent | None, bool]:
    """The event a choice rests on and whether consent counts, from one purpose's events (oldest
    first): the rule of :func:`allows`, for pages that show every purpose at once."""
    events = list(events)
    counting = [e for e in events if not e.granted or (baseline is not None and e.notice_version >= baseline)]
    decisive = counting[-1] if counting else None
    granted = bool(decisive and decisive.granted)
    return decisive, bool(events and events[-1].granted and not granted)


def choices(subject: tuple[str, int]) -> list[Choice]:
    """The subject's current choice for every consent purpose (three queries in all)."""
    notices = current()
    events = db.session.scalars(select(ConsentEvent).where(_of(Subject(*subject))).order_by(ConsentEvent.id)).all()
    found = []
    for purpose in consent_purposes():
        latest, baseline = notices.get(purpose.key, (None, None))
        decisive, lapsed = decide((e for e in events if e.purpose == purpose.key), baseline)
        found.append(Choice(purpose, latest, bool(decisive and decisive.granted), decisive, lapsed))
    return found


def _own_subject(actor: Actor) -> Subject:
    """The subject the acting account chooses as."""
    user = db.session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None:
        raise ConsentError(_l("Sign in to give or withdraw consent."))
    return subject_of_user(user)


def _check_actor(actor: Actor, subject: Subject, source: ConsentSource) -> None:
    """The person chooses for themselves; staff record for customers within their scope, on the
    staff page (STAFF) or through the JSON API for an app the customer chose in (API)."""
    if source in (ConsentSource.STAFF, ConsentSource.API):
        if actor.role is not None and Permission.MANAGE_CUSTOMERS not in ROLE_PERMISSIONS[Role(actor.role)]:
            raise NotVisible()
        if subject.kind != "customer":
            raise ConsentError(_l("Staff record consent for customers only; people with an account choose "
                                  "on their account page."))
        customer = db.session.get(Customer, subject.id)
        scope = institution_scope(actor)
        if customer is None or (scope is not None and customer.institution_id != scope):
            raise NotVisible()
        return
    if actor.impersonator_id is not None:
        raise ConsentError(_l("Consent is the person's own choice: it cannot be given or withdrawn while "
                              "someone else acts as them."))
    if _own_subject(actor) != subject:
        raise NotVisible()


def _evidence(source: ConsentSource, evidence: str | None) -> str | None:
    """The evidence on one line; required from staff."""
    evidence = " ".join((evidence or "").split())
    if source is ConsentSource.STAFF and not evidence:
        raise ConsentError(_l("Say what shows the choice, for example \"paper form signed at the branch\"."),
                           "evidence")
    if len(evidence) > MAX_EVIDENCE:
        raise ConsentError(_l("Use at most %(n)d characters.", n=MAX_EVIDENCE), "evidence")
    return evidence or None


def _notice_for(purpose: str, source: ConsentSource, granted: bool, version: int | None) -> ConsentNotice:
    """The notice version a choice is recorded under: the one the person read (it must be the
    current one to agree), or for staff the one printed on the form."""
    latest = current().get(purpose, (None, None))[0]
    if latest is None:
        raise ConsentError(_l("No notice has been published for this purpose yet, so consent cannot be recorded."))
    if version is None:
        if granted and source is not ConsentSource.STAFF:
            raise NoticeChanged(_l("Read the notice before you agree to it."))
        return latest
    if version == latest.version:
        return latest
    if source is ConsentSource.STAFF:  # the version printed on the paper form, perhaps an earlier one
        printed = db.session.scalars(select(ConsentNotice).where(ConsentNotice.purpose == purpose,
                                                                 ConsentNotice.version == version)).first()
        if printed is None:
            raise ConsentError(_l("Choose a published version of the notice."), "notice")
        return printed
    if granted:
        raise NoticeChanged(_l("The notice changed since this page was loaded. Read the current version first."))
    return latest  # a withdrawal counts whatever version the page showed


def _locked_person(subject: Subject):
    """The customer or account the subject is, locked for this transaction: one choice at a time."""
    model = Customer if subject.kind == "customer" else User
    return db.session.execute(select(model).where(model.id == subject.id)
                              .with_for_update(of=model)).scalar_one_or_none()


def record(actor: Actor, subject: tuple[str, int], purpose: str, *, granted: bool, source: ConsentSource | str,
           notice_version: int | None = None, evidence: str | None = None) -> ConsentEvent | None:
    """Record that ``subject`` gave (``granted``) or withdrew consent to ``purpose``.

    Audited CONSENT_GRANT / CONSENT_WITHDRAW. ``notice_version`` is the version the person
    read (required to agree on the account page; staff name the version printed on the form).
    Returns None when nothing changed: the choice already stands (for staff: the same record
    as the last one). Raises UnknownPurpose, NotVisible, NoticeChanged, or ConsentError (no
    notice yet, no evidence from staff, someone acting as the person).
    """
    consent_purpose(purpose)
    source, subject = ConsentSource(source), Subject(subject[0], int(subject[1]))
    _check_actor(actor, subject, source)
    evidence = _evidence(source, evidence)
    notice = _notice_for(purpose, source, granted, notice_version)
    person = _locked_person(subject)
    key = (subject.kind, subject.id, purpose)
    _cache().pop(key, None)
    before = allows(subject, purpose)
    if source is ConsentSource.STAFF:
        last = db.session.scalars(select(ConsentEvent).where(_of(subject), ConsentEvent.purpose == purpose)
                                  .order_by(ConsentEvent.id.desc()).limit(1)).first()
        if last is not None and (last.granted, last.notice_version, last.source, last.evidence) == (
                granted, notice.version, source.value, evidence):
            return None
    elif before == granted:
        return None
    row = ConsentEvent(subject_kind=subject.kind, subject_id=subject.id, purpose=purpose, notice_id=notice.id,
                       notice_version=notice.version, granted=granted, source=source.value, evidence=evidence,
                       actor_id=actor.user_id)
    db.session.add(row)
    db.session.flush()
    _cache().pop(key, None)
    after = allows(subject, purpose)
    verb = "Gave" if granted else "Withdrew"
    audit.log(actor, AuditAction.CONSENT_GRANT if granted else AuditAction.CONSENT_WITHDRAW,
              **({"resource": person} if person is not None else
                 {"resource_type": subject.kind, "resource_id": subject.id}),
              description=f"{verb} consent to {purpose} under notice version {notice.version} "
                          f"({source.value}{'; evidence recorded' if evidence else ''})",
              changes={f"consent.{purpose}": {"before": before, "after": after}})
    if after != before:
        events.announce(events.consent_changed, subject_kind=subject.kind, subject_id=subject.id, purpose=purpose,
                        granted=after)
    return row


def granted_count(purpose: str) -> int:
    """How many subjects' consent to ``purpose`` counts now (the latest counting event per subject is a grant)."""
    latest = (select(func.max(ConsentEvent.id))
              .where(ConsentEvent.purpose == purpose, _counts(baseline_version(purpose)))
              .group_by(ConsentEvent.subject_kind, ConsentEvent.subject_id))
    return db.session.scalar(select(func.count()).select_from(ConsentEvent)
                             .where(ConsentEvent.id.in_(latest), ConsentEvent.granted.is_(True))) or 0


def events_query(subject: tuple[str, int], purpose: str | None = None) -> Select:
    """The subject's events (optionally of one purpose), for a keyset list ordered by id."""
    query = select(ConsentEvent).where(_of(Subject(*subject)))
    return query.where(ConsentEvent.purpose == purpose) if purpose else query


def history(subject: tuple[str, int]) -> list[dict]:
    """Every consent event of ``subject``, oldest first, as plain JSON-able rows (for exports).

    Each row: ``id`` (int), ``purpose`` (key, e.g. "notifications"), ``action`` ("grant" or
    "withdraw"), ``granted`` (bool), ``notice_version`` (int), ``notice_material`` (bool),
    ``recorded_at`` (ISO 8601, UTC), ``source`` ("account", "staff" or "api"), ``evidence``
    (str or None: what staff saw), ``actor_id`` (int or None: the account that recorded it),
    ``counts_now`` (bool: this event is what the current choice for its purpose rests on).
    """
    subject = Subject(subject[0], int(subject[1]))
    rows = db.session.execute(select(ConsentEvent, ConsentNotice.material).join(
        ConsentNotice, ConsentNotice.id == ConsentEvent.notice_id).where(_of(subject)).order_by(ConsentEvent.id)).all()
    notices = current()
    deciding = set()
    for purpose in {event.purpose for event, _material in rows}:
        decisive, _lapsed = decide((e for e, _m in rows if e.purpose == purpose), notices.get(purpose, (None, None))[1])
        if decisive is not None:
            deciding.add(decisive.id)
    return [{"id": event.id, "purpose": event.purpose, "action": "grant" if event.granted else "withdraw",
             "granted": event.granted, "notice_version": event.notice_version, "notice_material": bool(material),
             "recorded_at": event.recorded_at.isoformat(), "source": event.source, "evidence": event.evidence,
             "actor_id": event.actor_id, "counts_now": event.id in deciding}
            for event, material in rows]
