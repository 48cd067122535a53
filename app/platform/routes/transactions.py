"""Transactions: list with filters, detail, approve or reject with a reason."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.listing import (
    AmountRangeFilter,
    ChoiceFilter,
    CsvColumn,
    DateRangeFilter,
    Filter,
    ListDefinition,
    SortOption,
)
from app.platform import bp
from app.platform.forms import DecisionForm
from app.platform.labels import STATUS_CHOICES
from app.platform.models import Transaction
from app.platform.routes.shared import decide_from_form, visible
from app.platform.services import decisions as service
from app.platform.services import history, institutions, queues
from app.security.access import Permission, requires
from app.security.actor import actor_from_request

LIST = ListDefinition(
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


@bp.get("/transactions")
@requires(Permission.VIEW_PORTAL)
def transactions():
    actor = actor_from_request()
    state = LIST.state()
    return LIST.respond(queues.transactions(actor, state.values), state, "platform/transactions/list.html",
                        "transactions", choices={"institution": institutions.choices(actor)})


def _detail(tx: Transaction, form: DecisionForm, status: int = 200):
    return render_template("platform/transactions/detail.html", tx=tx, form=form,
                           history=history("transaction", tx.id)), status


@bp.get("/transactions/<int:transaction_id>")
@requires(Permission.VIEW_PORTAL)
def transaction_detail(transaction_id: int):
    tx = visible(db.session.get(Transaction, transaction_id))
    return _detail(tx, DecisionForm(obj=tx))


@bp.post("/transactions/<int:transaction_id>/decide")
@requires(Permission.DECIDE)
def transaction_decide(transaction_id: int):
    tx = visible(db.session.get(Transaction, transaction_id))

    def decide(approve: bool, reason: str, version: int | None) -> Transaction:
        return service.decide_transaction(actor_from_request(), tx.id, approve=approve, reason=reason,
                                          expected_version=version)

    def done(decided: Transaction):
        flash(_("%(reference)s approved.", reference=decided.reference) if decided.status == "approved"
              else _("%(reference)s rejected.", reference=decided.reference), "success")
        return redirect(url_for("platform.transaction_detail", transaction_id=decided.id))

    return decide_from_form(tx, decide, _detail, done)
