"""Sealed personal values and crypto-shredding.

Every data subject (a customer, a portal user) has a random AES-SIV key, stored wrapped
with the portal's ``ENCRYPTION_KEY`` in ``data_subjects``. A personal value that must be
recorded where it can never be changed — the hash-chained audit log, and through it the
backups — is stored *sealed*: ``s1~<subject id>~<ciphertext>``. The chain hashes the sealed
text, so destroying the key (erasure) makes the value unreadable everywhere while every
hash still verifies. AES-SIV is deterministic: one value sealed twice for one subject gives
the same text, so equality filters and grouping on sealed columns keep working (and reveal
only that two values are equal).

Keys are cached per database session and forgotten when its transaction ends; a process
remembers only what unwrapping gave for a wrapped key the database returns (app.personal_data.keys).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from flask import has_app_context
from flask_babel import gettext as _
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import Engine, event, select
from sqlalchemy.dialects import postgresql, sqlite

from app.database import utcnow
from app.extensions import db
from app.personal_data import keys
from app.personal_data.catalogue import SUBJECT_KINDS
from app.personal_data.models import DataSubject
from app.security import crypto

PREFIX = "s1~"
SEALED = re.compile(r"^s1~(\d{1,18})~([A-Za-z0-9_-]*)$")
_CACHE = "personal_data.keys"
_TAG = 16
_FROM_URLSAFE = str.maketrans("-_", "+/")  # base64.urlsafe_b64decode's alphabet, without its per-call cost
MEMO_SIZE = 50_000
CIPHERS_HELD = 4_096
Finder = Callable[[str], list[int]]
_FINDERS: dict[str, Finder] = {}


class UnknownSubjectKind(ValueError):
    """Only the kinds in app.personal_data.catalogue.PERSONAL_FIELDS have keys."""


def _cache(session=None) -> dict:
    return (session or db.session).info.setdefault(_CACHE, {})


def _forget(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_CACHE, None)


def install_session_hooks() -> None:
    """Forget cached keys when a transaction ends (a rolled-back subject must not be reused)."""
    if not event.contains(FlaskSession, "after_transaction_end", _forget):
        event.listen(FlaskSession, "after_transaction_end", _forget)


def _cipher(wrapped: str | None) -> AESSIV | None:
    return None if wrapped is None else AESSIV(keys.unwrapped(wrapped, crypto.decrypt, keys.master()))


def subject(kind: str, ref_id: int) -> tuple[int, AESSIV | None]:
    """``(subject id, cipher)`` of a person, made on first use; the cipher is None once erased."""
    if kind not in SUBJECT_KINDS:
        raise UnknownSubjectKind(kind)
    cache = _cache()
    found = cache.get((kind, ref_id))
    if found is not None:
        return found
    found = cache[(kind, ref_id)] = Sealer(db.session.connection()).subject(kind, ref_id)
    cache[found[0]] = found
    return found


def _encode(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")


def _fit(value: str, max_length: int | None, overhead: int) -> str:
    """``value`` shortened so that its sealed text fits in ``max_length`` characters."""
    if max_length is None:
        return value
    budget = (max_length - overhead) * 3 // 4 - _TAG
    data = value.encode("utf-8")
    if len(data) <= budget:
        return value
    return data[:max(budget, 0)].decode("utf-8", errors="ignore")


def seal(kind: str, ref_id: int, value: str | None, *, max_length: int | None = None) -> str | None:
    """``value`` sealed under the subject's key (None and "" stay as they are).

    ``max_length`` shortens the value first so the sealed text fits a column. For an erased
    subject the value itself is withheld: ``s1~<id>~``.
    """
    if value is None or value == "" or is_sealed(value):
        return value
    return _sealed(*subject(kind, ref_id), str(value), max_length)


def _sealed(subject_id: int, cipher: AESSIV | None, value: str, max_length: int | None) -> str:
    prefix = f"{PREFIX}{subject_id}~"
    if cipher is None:
        return prefix
    plain = _fit(value, max_length, len(prefix))
    return prefix + _encode(cipher.encrypt(plain.encode("utf-8"), [str(subject_id).encode("ascii")]))


class Sealer:
    """:func:`seal` through one connection, outside the session (the migration that seals
    the entries written before sealing existed)."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self._subjects: dict[tuple[str, int], tuple[int, AESSIV | None]] = {}
        self._insert = (postgresql if connection.dialect.name == "postgresql" else sqlite).insert

    def subject(self, kind: str, ref_id: int) -> tuple[int, AESSIV | None]:
        if (kind, ref_id) not in self._subjects:
            where = (DataSubject.kind == kind, DataSubject.ref_id == ref_id)
            row = self.connection.execute(select(DataSubject.id, DataSubject.wrapped_key).where(*where)).first()
            if row is None:
                key = base64.b64encode(AESSIV.generate_key(512)).decode("ascii")
                self.connection.execute(self._insert(DataSubject).values(
                    kind=kind, ref_id=ref_id, wrapped_key=crypto.encrypt(key), created_at=utcnow()
                ).on_conflict_do_nothing(index_elements=["kind", "ref_id"]))
                row = self.connection.execute(select(DataSubject.id, DataSubject.wrapped_key).where(*where)).one()
            self._subjects[(kind, ref_id)] = (row.id, _cipher(row.wrapped_key))
        return self._subjects[(kind, ref_id)]

    def seal(self, kind: str, ref_id: int, value: str | None, *, max_length: int | None = None) -> str | None:
        if value is None or value == "" or is_sealed(value):
            return value
        return _sealed(*self.subject(kind, ref_id), str(value), max_length)


def on_find(kind: str, finder: Finder) -> None:
    """Register how people of one kind are found by a personal value (``finder(value)`` returns
    their ids), so that a filter can match that value in its sealed forms."""
    _FINDERS[kind] = finder


def sealed_forms(kind: str, value: str) -> list[str]:
    """``value`` sealed for each person of ``kind`` it belongs to (existing subjects only:
    nothing is written). AES-SIV is deterministic, so these equal what entries stored."""
    finder = _FINDERS.get(kind)
    ref_ids = finder(value) if finder else []
    if not ref_ids:
        return []
    rows = db.session.execute(select(DataSubject.id, DataSubject.wrapped_key).where(
        DataSubject.kind == kind, DataSubject.ref_id.in_(ref_ids), DataSubject.wrapped_key.is_not(None))).all()
    return [_sealed(row.id, _cipher(row.wrapped_key), value, None) for row in rows]


def is_sealed(value) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX) and SEALED.match(value) is not None


def sealed_subject(value) -> int | None:
    """The subject id of a sealed value (None for anything else)."""
    match = SEALED.match(value) if isinstance(value, str) and value.startswith(PREFIX) else None
    return int(match.group(1)) if match else None


class Opener:
    """Reveals sealed values, caching one cipher per subject.

    Made inside a request or command (it captures the keys and the translated "erased
    subject" label then); ``fetch(subject_id)`` returns the subject's wrapped key, or None
    when it has none (erased, or unknown). The default reads through the session, the keys of
    every subject :meth:`expect` noted in one query; a streamed export passes a function that
    reads through its own connection.
    """

    def __init__(self, fetch: Callable[[set[int]], dict[int, str | None]] | None = None) -> None:
        self._unwrap = crypto.decrypter()
        self._master = keys.master()
        self._fetch = fetch or _fetch_many
        self._erased = _("erased subject #%(id)s", id="\x00")
        self._ciphers: dict[int, AESSIV | None] = {}
        self._memo: dict[str, str] = {}  # AES-SIV is deterministic: the same text recurs (an actor's e-mail)
        self._expected: set[int] = set()  # subjects of loaded rows, fetched together at the first miss

    def expect(self, values: Iterable) -> None:
        """Note the subjects of the sealed values in ``values`` (strings, or texts and JSON that
        mention people): their keys are read in one query when the first of them is needed, not
        one query each. Rows of a page call this as they load (app.audit installs it)."""
        for value in values:
            if isinstance(value, str):
                if PREFIX in value:
                    self._expected.update(int(m.group(1)) for m in _SUBJECT.finditer(value))
            elif isinstance(value, dict | list) and _holds_sealed(value):
                self.expect([json.dumps(value)])

    def load(self, subject_ids: Iterable[int]) -> None:
        """Unwrap these subjects' keys now, so that revealing their values reads nothing later."""
        for subject_id in subject_ids:
            self._cipher(subject_id)

    def erased_text(self, subject_id: int) -> str:
        return self._erased.replace("\x00", str(subject_id))

    def _cipher(self, subject_id: int) -> AESSIV | None:
        if subject_id not in self._ciphers:
            missing = ({subject_id} | self._expected) - self._ciphers.keys()
            self._expected.clear()
            if len(self._ciphers) + len(missing) > CIPHERS_HELD:
                self._ciphers.clear()  # a cipher holds ~4 KB: an export naming 40,000 people keeps a window
            found = self._fetch(missing)
            for key in missing:
                wrapped = found.get(key)
                self._ciphers[key] = None if wrapped is None else AESSIV(
                    keys.unwrapped(wrapped, self._unwrap, self._master))
        return self._ciphers[subject_id]

    def reveal(self, value):
        """The plain value of a sealed one ("erased subject #123" once its key is gone); other
        values are returned as they are."""
        match = SEALED.match(value) if isinstance(value, str) and value.startswith(PREFIX) else None
        if match is None:
            return value
        plain = self._memo.get(value)
        if plain is None:
            plain = self._open(int(match.group(1)), match.group(2))
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            self._memo[value] = plain
        return plain

    def _open(self, subject_id: int, payload: str) -> str:
        cipher = self._cipher(subject_id) if payload else None
        if cipher is None:
            return self.erased_text(subject_id)
        try:
            data = binascii.a2b_base64((payload + "=" * (-len(payload) % 4)).translate(_FROM_URLSAFE))
            return cipher.decrypt(data, [str(subject_id).encode("ascii")]).decode("utf-8")
        except (InvalidTag, ValueError):
            return self.erased_text(subject_id)

    def reveal_text(self, value):
        """``value`` with every sealed value inside it revealed (texts that mention people)."""
        if not isinstance(value, str) or PREFIX not in value:
            return value
        return _TOKEN.sub(lambda match: self.reveal(match.group(0)), value)

    def reveal_json(self, value):
        """:meth:`reveal_text` applied to every string inside a JSON value (before/after changes)."""
        if isinstance(value, str):
            return self.reveal_text(value)
        if isinstance(value, dict):
            return {key: self.reveal_json(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.reveal_json(item) for item in value]
        return value


_TOKEN = re.compile(r"s1~\d{1,18}~[A-Za-z0-9_-]*")
_SUBJECT = re.compile(r"s1~(\d{1,18})~")
_BATCH = 500  # subject ids per query


def _fetch_many(subject_ids: set[int], bind=None) -> dict[int, str | None]:
    """The wrapped keys of ``subject_ids`` (absent or None: erased or unknown), ``_BATCH`` a query."""
    ids = sorted(subject_ids)
    found: dict[int, str | None] = {}
    for start in range(0, len(ids), _BATCH):
        query = select(DataSubject.id, DataSubject.wrapped_key).where(DataSubject.id.in_(ids[start:start + _BATCH]))
        found.update((bind or db.session).execute(query).tuples().all())
    return found


def fetch_through(bind) -> Callable[[set[int]], dict[int, str | None]]:
    """A ``fetch`` for :class:`Opener` that reads keys through ``bind`` (an engine: a connection
    of its own for each batch; a connection: that one), with no session or app context."""

    def fetch(subject_ids: set[int]) -> dict[int, str | None]:
        if isinstance(bind, Engine):
            with bind.connect() as connection:
                return _fetch_many(subject_ids, connection)
        return _fetch_many(subject_ids, bind)

    return fetch


def opener() -> Opener:
    """The opener of the current transaction (keys are forgotten when it ends)."""
    cache = _cache()
    if "opener" not in cache:
        cache["opener"] = Opener()
    return cache["opener"]


def reveal(value):
    """:meth:`Opener.reveal` with the current transaction's opener."""
    return opener().reveal(value) if is_sealed(value) else value


def reveal_text(value):
    """:meth:`Opener.reveal_text` with the current transaction's opener."""
    return opener().reveal_text(value) if isinstance(value, str) and PREFIX in value else value


def reveal_json(value):
    """:meth:`Opener.reveal_json` with the current transaction's opener."""
    return opener().reveal_json(value) if _holds_sealed(value) else value


def _holds_sealed(value) -> bool:
    if isinstance(value, str):
        return PREFIX in value
    if isinstance(value, dict):
        return any(_holds_sealed(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_sealed(item) for item in value)
    return False


def expect(values: Iterable) -> None:
    """:meth:`Opener.expect` on the current transaction's opener."""
    opener().expect(values)


def expect_on_load(session, values: Iterable) -> None:
    """:func:`expect`, for rows loaded by ``session`` when it is the request's (or the job's)
    session: the one whose opener reveals them. Other sessions' rows are left alone."""
    if has_app_context() and session is db.session():
        opener().expect(values)


def forget_keys() -> None:
    """Drop the keys and revealed values cached in this transaction and the ciphers this process
    unwrapped (after an erasure)."""
    db.session.info.pop(_CACHE, None)
    keys.forget()
