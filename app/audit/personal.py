"""Personal values in audit entries: found when an entry is queued, sealed when it is written.

The chain then hashes sealed text (app.personal_data.vault), never a name or an e-mail
address, so erasing a person (destroying their key) leaves every hash intact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import event

from app.audit.models import AuditLog
from app.personal_data import vault
from app.personal_data.catalogue import PERSONAL_FIELDS
from app.security.actor import Actor

MASK = "********"
People = list[tuple[str, int, list[str]]]
Seal = Callable[[str, int, str], str]


def subject_of(resource, resource_type: str | None = None, resource_id=None) -> tuple[str, int] | None:
    """The person an entry is about: a model instance's ``personal_data_subject()``, or a
    ``resource_type`` that is a kind of person with a numeric id."""
    if resource is not None:
        method = getattr(resource, "personal_data_subject", None)
        return method() if method is not None else None
    if resource_type in PERSONAL_FIELDS and resource_id is not None and str(resource_id).isdecimal():
        return resource_type, int(resource_id)
    return None


def people(actor: Actor, subject: tuple[str, int] | None, resource, others: Iterable = ()) -> People:
    """``(kind, id, personal values)`` of everyone an entry names: its actor, the impersonator,
    the resource's subject and ``others`` (further accounts or customers it mentions)."""
    found = []
    if actor.user_id is not None:
        found.append(("user", actor.user_id, [actor.email]))
    if actor.impersonator_id is not None:
        found.append(("user", actor.impersonator_id, [actor.impersonator_email]))
    for item in ([resource] if subject is not None and resource is not None else []) + list(others):
        who = subject_of(item)
        if who is not None:
            values = [getattr(item, name, None) for name in PERSONAL_FIELDS[who[0]]]
            found.append((*who, [str(v) for v in values if v]))
    return found


def seal_changes(seal: Seal, kind: str, ref_id: int, value, fields: tuple[str, ...], key: str | None = None):
    """``value`` (before/after changes) with the strings under the person's ``fields`` sealed."""
    if isinstance(value, dict):
        return {k: seal_changes(seal, kind, ref_id, v, fields, k if k in fields else key) for k, v in value.items()}
    if isinstance(value, list):
        return [seal_changes(seal, kind, ref_id, v, fields, key) for v in value]
    if key is not None and isinstance(value, str) and value != MASK:
        return seal(kind, ref_id, value)
    return value


def seal_mentions(seal: Seal, text: str | None, found: People) -> str | None:
    """``text`` with every personal value of ``found`` replaced by its sealed form."""
    if not text:
        return text
    for kind, ref_id, values in found:
        for value in sorted(values, key=len, reverse=True):
            if len(value) >= 3 and value in text:
                text = text.replace(value, seal(kind, ref_id, value))
    return text


def seal_entry(entry) -> None:
    """Seal the personal values of a queued entry (at commit, in the transaction that writes it)."""
    if not entry.personal:
        return
    subject, found = entry.personal
    entry.personal = None
    if entry.actor_id is not None:
        entry.actor_email = vault.seal("user", entry.actor_id, entry.actor_email, max_length=254)
    if entry.impersonator_id is not None:
        entry.impersonator_email = vault.seal("user", entry.impersonator_id, entry.impersonator_email,
                                              max_length=254)
    if subject is not None:
        kind, ref_id = subject
        entry.resource_repr = vault.seal(kind, ref_id, entry.resource_repr, max_length=300)
        if entry.changes:
            entry.changes = seal_changes(vault.seal, kind, ref_id, entry.changes, PERSONAL_FIELDS[kind])
    else:
        repr_text = seal_mentions(vault.seal, entry.resource_repr, found)
        # A representation that no longer fits is kept whole, sealed under its first person.
        entry.resource_repr = repr_text if repr_text is None or len(repr_text) <= 300 else vault.seal(
            found[0][0], found[0][1], entry.resource_repr, max_length=300)
    entry.description = seal_mentions(vault.seal, entry.description, found)


def _note_people(entry, context) -> None:
    vault.expect_on_load(context.session, (entry.actor_email, entry.impersonator_email, entry.resource_repr,
                                           entry.description, entry.changes))


def install_load_hook() -> None:
    """Entries loaded for a page note the people they mention, so that revealing a page of them
    reads every key it needs in one query instead of one query per person (idempotent)."""
    if not event.contains(AuditLog, "load", _note_people):
        event.listen(AuditLog, "load", _note_people)
