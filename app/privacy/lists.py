"""The declaration of the data-subject request list (filters, orders, CSV columns): for the
page in app.privacy.routes and the JSON API's list (app.api.privacy), so their filters cannot
drift. The query behind it is app.privacy.services.search."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.listing import ChoiceFilter, CsvColumn, DateRangeFilter, ListDefinition, SortOption
from app.privacy.models import Jurisdiction, PrivacyRequest, RequestKind, RequestStatus

STATUS_CHOICES = [("open", _l("Open (received or verified)")), *RequestStatus.choices()]
DEADLINE_CHOICES = [("overdue", _l("Overdue")), ("due_soon", _l("Due soon")), ("on_time", _l("Open, not overdue"))]

REQUESTS = ListDefinition(
    filters=[ChoiceFilter("status", _l("Status"), STATUS_CHOICES),
             ChoiceFilter("kind", _l("Kind"), RequestKind.choices()),
             ChoiceFilter("jurisdiction", _l("Law"), Jurisdiction.choices()),
             ChoiceFilter("deadline", _l("Deadline"), DEADLINE_CHOICES),
             DateRangeFilter("due", _l("Due"))],
    sorts=[SortOption("due", _l("Due"), (PrivacyRequest.due_at, PrivacyRequest.id), descending=False),
           SortOption("received", _l("Received"), (PrivacyRequest.received_at, PrivacyRequest.id)),
           SortOption("reference", _l("Reference"), (PrivacyRequest.id,))],
    default_sort="due",
    # Pseudonymous like the audit log: the export names subjects by type and id.
    csv_columns=[CsvColumn("reference", lambda r: r.reference), CsvColumn("subject_type", lambda r: r.subject_type),
                 CsvColumn("subject_id", lambda r: r.subject_id), CsvColumn("kind", lambda r: r.kind),
                 CsvColumn("channel", lambda r: r.channel), CsvColumn("jurisdiction", lambda r: r.jurisdiction),
                 CsvColumn("status", lambda r: r.status), CsvColumn("received_at", lambda r: r.received_at),
                 CsvColumn("due_at", lambda r: r.due_at), CsvColumn("extended", lambda r: r.extended_at is not None),
                 CsvColumn("verification_method", lambda r: r.verification_method),
                 CsvColumn("verified_at", lambda r: r.verified_at), CsvColumn("decided_at", lambda r: r.decided_at),
                 CsvColumn("outcome", lambda r: r.outcome), CsvColumn("refusal_reason", lambda r: r.refusal_reason)],
)

