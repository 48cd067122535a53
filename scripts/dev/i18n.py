"""Message catalogs: one per feature, beside its code, plus a core catalog.

A feature ``app/<name>/`` owns the strings in its Python files and in
``templates/<name>/``; its catalog lives in ``app/<name>/translations``. Everything
else (``app/*.py``, the layout, partials and error pages) belongs to the core catalog
in ``app/translations``.

    python scripts/dev/i18n.py extract   # add new strings to every Indonesian catalog
    python scripts/dev/i18n.py compile   # build the .mo files the app loads
    python scripts/dev/i18n.py check     # exit 1 when a string lacks a translation
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[2]
APP, TEMPLATES = ROOT / "app", ROOT / "templates"
LOCALES = ("id",)
KEYWORDS = {
    "_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
    "lazy_ngettext": (1, 2), "pgettext": ((1, "c"), 2), "npgettext": ((1, "c"), 2, 3),
}
JINJA = "jinja2.ext:babel_extract"
HEADER_COMMENT = (
    "# Indonesian translations of Saintara Admin ({name} catalog).\n"
    "# Update with: python scripts/dev/i18n.py extract; then translate every empty msgstr."
)


@dataclass(frozen=True)
class CatalogSpec:
    name: str
    directory: Path
    sources: tuple[Path, ...]

    def po_path(self, locale: str) -> Path:
        return self.directory / locale / "LC_MESSAGES" / "messages.po"


def _features() -> list[str]:
    return sorted(p.name for p in APP.iterdir() if (p / "__init__.py").exists() and p.name != "translations")


def catalogs() -> list[CatalogSpec]:
    """The core catalog and one per feature package."""
    features = _features()
    core_sources = [p for p in APP.glob("*.py")]
    core_sources += [p for p in TEMPLATES.glob("*.html")]
    for folder in sorted(p for p in TEMPLATES.iterdir() if p.is_dir()):
        if folder.name not in features:
            core_sources += sorted(folder.rglob("*.html"))
    specs = [CatalogSpec("core", APP / "translations", tuple(core_sources))]
    for name in features:
        sources = sorted((APP / name).rglob("*.py"))
        if (TEMPLATES / name).is_dir():
            sources += sorted((TEMPLATES / name).rglob("*.html"))
        specs.append(CatalogSpec(name, APP / name / "translations", tuple(sources)))
    return specs


def extract(spec: CatalogSpec) -> Catalog:
    """The catalog template: every translatable string in the spec's sources."""
    template = Catalog(project="Saintara Admin", charset="utf-8")
    for path in spec.sources:
        method = "python" if path.suffix == ".py" else JINJA
        for lineno, message, comments, context in extract_from_file(
            method, str(path), keywords=KEYWORDS, comment_tags=("Translators:",), strip_comment_tags=True
        ):
            template.add(message, None, [(str(path.relative_to(ROOT)), lineno)],
                         auto_comments=comments, context=context)
    return template


def update_catalogs() -> None:
    """Merge newly extracted strings into every locale's catalog (translations kept)."""
    for spec in catalogs():
        template = extract(spec)
        if not len(template):
            continue
        for locale in LOCALES:
            path = spec.po_path(locale)
            if path.exists():
                with path.open("rb") as handle:
                    catalog = read_po(handle, locale=locale)
            else:
                catalog = Catalog(locale=locale, project="Saintara Admin", charset="utf-8",
                                  copyright_holder="Saintara", fuzzy=False)
            created = catalog.creation_date
            catalog.update(template, no_fuzzy_matching=True)
            catalog.creation_date = created  # keep headers stable: no churn in every diff
            catalog.revision_date = created
            catalog.header_comment = HEADER_COMMENT.format(name=spec.name)
            catalog.obsolete.clear()
            catalog.fuzzy = False
            catalog.version = "1"
            catalog.msgid_bugs_address = ""
            catalog.last_translator = "Saintara Admin developers"
            catalog.language_team = f"{locale} (Saintara Admin)"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as handle:
                write_po(handle, catalog, width=100, sort_output=True, include_lineno=False)
            print(f"{path.relative_to(ROOT)}: {len(catalog)} messages")


def compile_catalogs() -> None:
    for spec in catalogs():
        for locale in LOCALES:
            po = spec.po_path(locale)
            if not po.exists():
                continue
            with po.open("rb") as handle:
                catalog = read_po(handle, locale=locale)
            with po.with_suffix(".mo").open("wb") as handle:
                write_mo(handle, catalog)


def problems() -> list[str]:
    """Strings without a translation, fuzzy ones, placeholders that differ, stale catalogs."""
    found = []
    for spec in catalogs():
        template = extract(spec)
        for locale in LOCALES:
            po = spec.po_path(locale)
            if not len(template):
                continue
            if not po.exists():
                found.append(f"{spec.name}: no {locale} catalog at {po.relative_to(ROOT)} (run extract)")
                continue
            with po.open("rb") as handle:
                catalog = read_po(handle, locale=locale)
            for message in template:
                if not message.id:
                    continue
                translated = catalog.get(message.id, context=message.context)
                where = f"{spec.name}/{locale}: {message.id!r} ({message.locations[0][0]})"
                if translated is None:
                    found.append(f"{where} is not in the catalog (run extract)")
                elif translated.fuzzy:
                    found.append(f"{where} is marked fuzzy")
                elif not translated.string or (isinstance(translated.string, tuple) and not all(translated.string)):
                    found.append(f"{where} has no translation")
            for message, errors in catalog.check():
                found.extend(f"{spec.name}/{locale}: {message.id!r}: {error}" for error in errors)
    return found


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "extract":
        update_catalogs()
    elif command == "compile":
        compile_catalogs()
    elif command == "check":
        issues = problems()
        for issue in issues:
            print(issue)
        print(f"{len(issues)} translation problem(s)")
        return 1 if issues else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
