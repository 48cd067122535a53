"""The platform's list declarations (filters, orders, CSV columns): one for each page in
app.platform.routes and the JSON API's lists (app.api.reads), so their filters cannot drift.
The queries behind them are the services' (app.platform.services.institutions.search,
customers.search, queues.transactions, queues.approvals)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.listing import (
    AmountRangeFilter,
    ChoiceFilter,
    CsvColumn,
    DateRangeFilter,
    Filter,
    ListDefinition,
    SortOption,
)
from app.platform.labels import ACTIVE_CHOICES, KIND_CHOICES, STATUS_CHOICES
from app.platform.models import Approval, Customer, Institution, Transaction

INSTITUTIONS = ListDefinition(
    filters=[Filter("q", _l("Search"), placeholder=_l("Name or code")),
             ChoiceFilter("active", _l("Status"), ACTIVE_CHOICES)],
    sorts=[SortOption("name", _l("Name"), (Institution.name_order, Institution.id), descending=False),
           SortOption("code", _l("Code"), (Institution.code,), descending=False)],
    default_sort="name",
    csv_columns=[CsvColumn("code", lambda i: i.code), CsvColumn("name", lambda i: i.name),
                 CsvColumn("active", lambda i: i.is_active), CsvColumn("created_at", lambda i: i.created_at)],
)

CUSTOMERS = ListDefinition(
    filters=[Filter("q", _l("Search"), placeholder=_l("Name, e-mail or phone")),
             ChoiceFilter("institution", _l("Institution"), integer=True),
             ChoiceFilter("active", _l("Status"), ACTIVE_CHOICES),
             DateRangeFilter("created", _l("Registered"))],
    sorts=[SortOption("created", _l("Registered"), (Customer.created_at, Customer.id)),
           SortOption("name", _l("Name"), (Customer.full_name, Customer.id), descending=False),
           SortOption("email", _l("E-mail"), (Customer.email, Customer.id), descending=False)],
    default_sort="created",
    csv_columns=[CsvColumn("id", lambda c: c.id), CsvColumn("full_name", lambda c: c.full_name),
                 CsvColumn("email", lambda c: c.email), CsvColumn("phone", lambda c: c.phone),
                 CsvColumn("institution_code", lambda c: c.institution.code),
                 CsvColumn("active", lambda c: c.is_active), CsvColumn("created_at", lambda c: c.created_at)],
)

TRANSACTIONS = ListDefinition(
    filters=[Filter("q", _l("Reference or customer e-mail"), placeholder=_l("TRX-20260101-000001")),
             ChoiceFilter("status", _l("Status"), STATUS_CHOICES),
             ChoiceFilter("institution", _l("Institution"), integer=True),
             DateRangeFilter("created", _l("Created")),
             AmountRangeFilter("amount", _l("Amount (IDR)"))],
    sorts=[SortOption("created", _l("Created"), (Transaction.created_at, Transaction.id)),
           SortOption("amount", _l("Amount"), (Transaction.amount_idr, Transaction.id)),
           SortOption("reference", _l("Reference"), (Transaction.reference,), descending=False)],
    default_sort="created",
    csv_columns=[CsvColumn("reference", lambda t: t.reference), CsvColumn("created_at", lambda t: t.created_at),
                 CsvColumn("institution_code", lambda t: t.institution.code),
                 CsvColumn("customer_email", lambda t: t.customer.email),
                 CsvColumn("amount_idr", lambda t: t.amount_idr), CsvColumn("status", lambda t: t.status),
                 CsvColumn("decided_at", lambda t: t.decided_at), CsvColumn("description", lambda t: t.description)],
)

APPROVALS = ListDefinition(
    filters=[ChoiceFilter("status", _l("Status"), STATUS_CHOICES),
             ChoiceFilter("kind", _l("Kind"), KIND_CHOICES),
             ChoiceFilter("institution", _l("Institution"), integer=True),
             DateRangeFilter("requested", _l("Requested"))],
    sorts=[SortOption("requested", _l("Requested"), (Approval.requested_at, Approval.id), descending=False)],
    default_sort="requested",
    csv_columns=[CsvColumn("id", lambda a: a.id), CsvColumn("kind", lambda a: a.kind),
                 CsvColumn("subject", lambda a: a.subject_repr), CsvColumn("summary", lambda a: a.summary),
                 CsvColumn("institution_code", lambda a: a.institution.code if a.institution else None),
                 CsvColumn("requested_at", lambda a: a.requested_at), CsvColumn("status", lambda a: a.status),
                 CsvColumn("decided_at", lambda a: a.decided_at)],
)
