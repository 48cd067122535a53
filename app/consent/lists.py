"""The declaration of a customer's consent history list (filter, order, CSV columns): for the
staff page in app.consent.routes and the JSON API (app.api.consents), so their filters cannot
drift. The query behind it is app.consent.services.events_query."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.consent.models import ConsentEvent
from app.listing import ChoiceFilter, CsvColumn, ListDefinition, SortOption
from app.personal_data.catalogue import consent_purposes

HISTORY = ListDefinition(
    filters=[ChoiceFilter("purpose", _l("Purpose"), tuple((p.key, p.label) for p in consent_purposes()))],
    sorts=[SortOption("recorded", _l("Recorded"), (ConsentEvent.id,))],
    default_sort="recorded",
    csv_columns=[CsvColumn("recorded_at", lambda e: e.recorded_at), CsvColumn("purpose", lambda e: e.purpose),
                 CsvColumn("action", lambda e: "grant" if e.granted else "withdraw"),
                 CsvColumn("notice_version", lambda e: e.notice_version), CsvColumn("source", lambda e: e.source),
                 CsvColumn("evidence", lambda e: e.evidence), CsvColumn("recorded_by_id", lambda e: e.actor_id)],
)
