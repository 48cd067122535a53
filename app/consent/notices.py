"""Versioned consent notices: what each purpose asks people to agree to, in English and Indonesian.

A published version is never changed; a new text is a new version. A *material* version
changes what people agree to, so consents given to earlier versions stop counting until
given again (app.consent.services derives this); a non-material one (a typo, a clearer
sentence) keeps them.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, tuple_
from sqlalchemy.exc import IntegrityError

from app.audit import services as audit
from app.audit.models import AuditAction
from app.consent.models import MAX_NOTICE_TEXT, ConsentNotice
from app.extensions import db
from app.personal_data.catalogue import Purpose, consent_purposes
from app.security.actor import Actor


class ConsentError(Exception):
    """A refused consent operation; ``message`` is safe to show (a lazy, translated string)."""

    def __init__(self, message=None, field: str | None = None):
        super().__init__(str(message) if message is not None else self.__class__.__name__)
        self.message, self.field = message, field


class UnknownPurpose(ConsentError):
    """The purpose is not one that asks for consent (app.personal_data.catalogue)."""


class NoticeConflict(ConsentError):
    """Another version of the notice was published at the same moment; nothing was published."""


def consent_purpose(key: str) -> Purpose:
    """The consent purpose declared under ``key``; raises UnknownPurpose for any other key."""
    for purpose in consent_purposes():
        if purpose.key == key:
            return purpose
    raise UnknownPurpose(_l("There is no consent purpose of that name."))


def baseline_version(purpose: str):
    """SQL: the purpose's latest material version (NULL before the first notice). Consents to
    earlier versions no longer count; withdrawals always do."""
    return (select(func.max(ConsentNotice.version))
            .where(ConsentNotice.purpose == purpose, ConsentNotice.material.is_(True))
            .scalar_subquery())


def latest_notice(purpose: str, session=None) -> ConsentNotice | None:
    """The newest published version of ``purpose``'s notice (what is asked now), or None."""
    session = session or db.session
    return session.scalars(select(ConsentNotice).where(ConsentNotice.purpose == purpose)
                           .order_by(ConsentNotice.version.desc()).limit(1)).first()


def notice(purpose: str, version: int) -> ConsentNotice | None:
    """One published version of a purpose's notice, or None."""
    return db.session.scalars(select(ConsentNotice).where(ConsentNotice.purpose == purpose,
                                                          ConsentNotice.version == version)).first()


def versions(purpose: str) -> list[ConsentNotice]:
    """Every published version of ``purpose``'s notice, newest first."""
    return list(db.session.scalars(select(ConsentNotice).where(ConsentNotice.purpose == purpose)
                                   .order_by(ConsentNotice.version.desc())))


def current(session=None) -> dict[str, tuple[ConsentNotice, int]]:
    """``{purpose: (latest notice, baseline version)}`` for every purpose that has a notice (two queries)."""
    session = session or db.session
    meta = session.execute(
        select(ConsentNotice.purpose, func.max(ConsentNotice.version),
               func.max(case((ConsentNotice.material.is_(True), ConsentNotice.version))))
        .group_by(ConsentNotice.purpose)).all()
    if not meta:
        return {}
    baselines = {purpose: baseline for purpose, _latest, baseline in meta}
    rows = session.scalars(select(ConsentNotice).where(
        tuple_(ConsentNotice.purpose, ConsentNotice.version).in_([(p, latest) for p, latest, _b in meta])))
    return {row.purpose: (row, baselines[row.purpose]) for row in rows}


def _text(value: str | None, field: str) -> str:
    """A notice text, trimmed, with one kind of line break; refused when empty or too long."""
    text = (value or "").strip().replace("\r\n", "\n")
    if not text:
        raise ConsentError(_l("Write the notice text."), field)
    if len(text) > MAX_NOTICE_TEXT:
        raise ConsentError(_l("Use at most %(n)d characters.", n=MAX_NOTICE_TEXT), field)
    return text


def publish(actor: Actor, purpose: str, *, text_en: str, text_id: str, material: bool) -> ConsentNotice:
    """Publish the next version of ``purpose``'s notice (audited CONSENT_NOTICE_PUBLISH).

    The first version is always material. Raises UnknownPurpose, ConsentError (empty or
    too long a text, the same text as now, or another version published at the same moment).
    """
    consent_purpose(purpose)
    text_en, text_id = _text(text_en, "text_en"), _text(text_id, "text_id")
    previous = latest_notice(purpose)
    if previous is not None and (previous.text_en, previous.text_id) == (text_en, text_id):
        raise ConsentError(_l("The text is the same as the published version; nothing to publish."))
    material = bool(material) or previous is None
    row = ConsentNotice(purpose=purpose, version=(previous.version + 1) if previous else 1, material=material,
                        text_en=text_en, text_id=text_id, published_by_id=actor.user_id)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:  # another version was published a moment ago
        raise NoticeConflict(_l("Someone published a version of this notice at the same moment. "
                              "Read it, then publish yours again if it is still needed.")) from None
    effect = ("material: consents to earlier versions no longer count" if material
              else "not material: consents to earlier versions still count")
    audit.log(actor, AuditAction.CONSENT_NOTICE_PUBLISH, resource=row,
              description=f"Published version {row.version} of the {purpose} notice ({effect})",
              changes={"version": {"before": previous.version if previous else None, "after": row.version},
                       "material": {"before": None, "after": material}})
    return row


def purposes_with_notices() -> list[tuple[Purpose, ConsentNotice | None]]:
    """Every consent purpose with its latest notice (None when none is published yet)."""
    latest = current()
    return [(purpose, latest.get(purpose.key, (None, None))[0]) for purpose in consent_purposes()]
