"""Status cards filled by other features: audit chain, newest verified backup, two-factor.

Each card reads a *provider*: a function of the feature that owns the figure, returning
a :class:`~app.observability.readings.Reading`; :func:`register_providers` (from the
dashboard's init_app) plugs them in. The dashboard imports the features it reads, never
the other way round. A card without a provider says so; it never shows an invented value.

    register_status_provider(app, "audit_chain", lambda: Reading("ok", _l("Verified"), detail=...))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l

from app.audit.integrity import chain_status_reading
from app.auth.two_factor import users_without_two_factor_reading
from app.backups.catalogue import dashboard_reading as backup_reading
from app.observability.readings import Reading

log = logging.getLogger(__name__)
_EXTENSION = "dashboard_status_providers"

# name -> (card title, which feature provides it)
CARDS: dict[str, tuple[object, object]] = {
    "audit_chain": (_l("Audit chain"), _l("the audit log verification")),
    "newest_verified_backup": (_l("Newest verified backup"), _l("backups")),
    "users_without_two_factor": (_l("Users without two-factor"), _l("two-factor authentication")),
}


@dataclass(frozen=True)
class Card:
    name: str
    title: object
    reading: Reading | None  # None: the feature that provides it is not installed
    provider_feature: object


def register_status_provider(app: Flask, name: str, provider: Callable[[], Reading]) -> None:
    """Plug a feature's figure into its dashboard card (call from the feature's init_app)."""
    if name not in CARDS:
        raise KeyError(f"unknown dashboard status card {name!r}; known: {sorted(CARDS)}")
    app.extensions.setdefault(_EXTENSION, {})[name] = provider


def register_providers(app: Flask) -> None:
    """Plug the features' readings into their cards."""
    register_status_provider(app, "audit_chain", chain_status_reading)
    register_status_provider(app, "newest_verified_backup", backup_reading)
    register_status_provider(app, "users_without_two_factor", users_without_two_factor_reading)


def cards() -> list[Card]:
    """Every status card with its reading; a failing provider shows as unknown, never as a 500."""
    providers = current_app.extensions.get(_EXTENSION, {})
    result = []
    for name, (title, feature) in CARDS.items():
        provider = providers.get(name)
        reading = None
        if provider is not None:
            try:
                reading = provider()
            except Exception:
                log.exception("dashboard status provider %r failed", name)
                reading = Reading("unknown", _l("Could not be read"), _l("The error has been logged."))
        result.append(Card(name, title, reading, feature))
    return result
