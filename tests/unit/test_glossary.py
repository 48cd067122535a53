"""One Indonesian term per concept, in every catalog (a glossary the translations must follow)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = sorted(ROOT.glob("app/**/translations/id/LC_MESSAGES/messages.po"))

# English term (a regex on the msgid) -> the Indonesian term it must use, and terms that must not appear.
GLOSSARY = [
    (r"\binstitutions?\b", ("institusi",), ("lembaga",)),
    (r"\bcustomers?\b", ("nasabah",), ("pelanggan", "klien")),
    (r"\bapprovals?\b", ("persetujuan",), ("pengesahan",)),
    (r"\bbackups?\b", ("cadangan", "cadangkan"), ()),
    (r"\bpasswords?\b", ("kata sandi",), ("sandi lewat",)),
    (r"\bimpersonat", ("bertindak sebagai", "tindakan sebagai"), ("penyamaran", "peniruan", "diwakili", "menyamar")),
    (r"\baudit log\b", ("log audit",), ("catatan audit", "jejak audit")),
    (r"\btwo-factor\b", ("dua faktor",), ("dua langkah",)),
    (r"\bdashboard\b", ("dasbor",), ()),
]
FORBIDDEN_ANYWHERE = {term for _english, _required, forbidden in GLOSSARY for term in forbidden}


def entries():
    for path in CATALOGS:
        with path.open("rb") as handle:
            catalog = read_po(handle)
        for message in catalog:
            if not message.id:
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            yield path.relative_to(ROOT), ids[0], " ".join(s for s in strings if s)


def test_there_are_catalogs_to_check():
    assert len(CATALOGS) >= 10


@pytest.mark.parametrize(("english", "required", "forbidden"), GLOSSARY, ids=[g[0] for g in GLOSSARY])
def test_each_english_term_has_its_one_indonesian_term(english, required, forbidden):
    wrong = []
    for path, msgid, msgstr in entries():
        if not re.search(english, msgid, re.I):
            continue
        text = msgstr.lower()
        if not any(term in text for term in required) or any(term in text for term in forbidden):
            wrong.append(f"{path}: {msgid!r} -> {msgstr!r}")
    assert wrong == []


def test_no_translation_uses_a_rejected_synonym():
    wrong = [f"{path}: {msgstr!r}" for path, _msgid, msgstr in entries()
             if any(term in msgstr.lower() for term in FORBIDDEN_ANYWHERE)]
    assert wrong == []


def test_count_messages_use_plural_forms():
    """"1 lines" bugs: a message that counts must be an ngettext pair, never "(s)"."""
    wrong = [f"{path}: {msgid!r}" for path, msgid, _msgstr in entries() if re.search(r"[a-z]\(s\)", msgid)]
    assert wrong == []
