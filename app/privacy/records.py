"""The records of processing activities (GDPR Art. 30; UU PDP Art. 31), generated from
the personal data catalogue (app.personal_data.catalogue) and the current settings."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from app import escaping
from app.personal_data.catalogue import CATEGORIES, PURPOSES, Category, LegalBasis, Purpose, purpose
from app.settings import services as settings
from app.settings.definitions import BY_KEY


@dataclass(frozen=True)
class Retention:
    setting: str
    days: int
    configured: bool  # False: the setting is not declared in this build, the catalogue's default applies


@dataclass(frozen=True)
class Activity:
    """One category of personal data, with everything Art. 30 asks about it."""

    category: Category
    purposes: tuple[Purpose, ...]
    retention: Retention

    @property
    def bases(self) -> tuple[LegalBasis, ...]:
        return tuple(dict.fromkeys(p.basis for p in self.purposes))


@dataclass(frozen=True)
class Controller:
    name: str
    contact: str


def retention_of(category: Category) -> Retention:
    """How long the category is kept now: its setting's value, or the catalogue's default."""
    if category.retention_setting in BY_KEY:
        return Retention(category.retention_setting, settings.get(category.retention_setting), True)
    return Retention(category.retention_setting, category.retention_days, False)


def activities() -> list[Activity]:
    """Every declared category of personal data, in the catalogue's order."""
    return [Activity(c, tuple(purpose(key) for key in c.purposes), retention_of(c)) for c in CATEGORIES]


def purposes() -> tuple[Purpose, ...]:
    return PURPOSES


def controller() -> Controller:
    """The controller as the settings name it (empty strings when not set yet)."""
    return Controller(settings.get("privacy_controller_name"), settings.get("privacy_controller_contact"))


CSV_HEADER = ("category", "category_label", "personal_data", "stored_in", "purposes", "legal_bases", "recipients",
              "retention_days", "retention_setting", "erasable_on_request", "controller", "controller_contact")


def as_csv() -> str:
    """The records as CSV, one row per category (cells guarded against formulas)."""
    who = controller()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for activity in activities():
        category = activity.category
        writer.writerow([escaping.csv_cell(value) for value in (
            category.key, str(category.label), str(category.data), " ".join(category.stored_in),
            "; ".join(f"{p.key}: {p.label}" for p in activity.purposes),
            "; ".join(str(b.label) for b in activity.bases), str(category.recipients),
            activity.retention.days, activity.retention.setting, "yes" if category.erasable else "no",
            who.name, who.contact)])
    return buffer.getvalue()
