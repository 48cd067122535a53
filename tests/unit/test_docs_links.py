"""The project's documents link only to files of the project (and every such link resolves)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_links_stay_in_the_repository_and_resolve(document):
    text = document.read_text()
    assert "../shared" not in text
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        path = (document.parent / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(ROOT), f"{document.name} links outside the project: {target}"
        assert path.exists(), f"{document.name} links to a missing file: {target}"


@pytest.mark.parametrize("name", ["README.md", "docs/DEVELOPMENT.md", "docs/ARCHITECTURE.md"])
def test_the_entry_documents_name_no_outside_address(name):
    """Addresses in them are the local portal or example hosts, never another site."""
    for address in re.findall(r"https?://([^/\s)`\"']+)", (ROOT / name).read_text()):
        assert address.split(":")[0] in {"127.0.0.1", "localhost"} or address.endswith("example.com"), address
