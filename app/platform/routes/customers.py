"""Customers: list with filters, detail, edit."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from app.extensions import db
from app.platform import bp, lists
from app.platform.forms import CustomerForm
from app.platform.models import Customer
from app.platform.routes.shared import stale_message, visible
from app.platform.services import StaleEdit, history, institutions
from app.platform.services import customers as service
from app.security.access import Permission, requires
from app.security.actor import actor_from_request


@bp.get("/customers")
@requires(Permission.VIEW_PORTAL)
def customers():
    actor = actor_from_request()
    state = lists.CUSTOMERS.state()
    return lists.CUSTOMERS.respond(service.search(actor, state.values), state, "platform/customers/list.html",
                                   "customers", choices={"institution": institutions.choices(actor)})


@bp.get("/customers/<int:customer_id>")
@requires(Permission.VIEW_PORTAL)
def customer_detail(customer_id: int):
    customer = visible(db.session.get(Customer, customer_id))
    return render_template("platform/customers/detail.html", customer=customer,
                           transactions=service.recent_transactions(customer), history=history("customer", customer.id))


@bp.get("/customers/<int:customer_id>/edit")
@requires(Permission.MANAGE_CUSTOMERS)
def customer_edit(customer_id: int):
    customer = visible(db.session.get(Customer, customer_id))
    return render_template("platform/customers/form.html", form=CustomerForm(obj=customer), customer=customer)


@bp.post("/customers/<int:customer_id>/edit")
@requires(Permission.MANAGE_CUSTOMERS)
def customer_update(customer_id: int):
    customer = visible(db.session.get(Customer, customer_id))
    form = CustomerForm()
    status = 400
    if form.validate_on_submit():
        try:
            changed = service.update(actor_from_request(), customer, full_name=form.full_name.data,
                                     email=form.email.data, phone=form.phone.data or "",
                                     is_active=form.is_active.data, expected_version=form.version.data)
        except service.InvalidCustomer as exc:
            getattr(form, exc.field).errors.append(exc.message)
        except StaleEdit as exc:
            flash(stale_message(exc), "danger")
            form = CustomerForm(formdata=None, obj=customer)
            status = 409
        else:
            flash(_("Changes saved.") if changed else _("Nothing changed."), "success" if changed else "info")
            return redirect(url_for("platform.customer_detail", customer_id=customer.id))
    return render_template("platform/customers/form.html", form=form, customer=customer), status
