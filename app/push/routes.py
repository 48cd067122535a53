"""Turning notifications on and off per device (the account page's script) and removing devices."""

from __future__ import annotations

from flask import flash, jsonify, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.access_rules import signed_in
from app.errors import render_error
from app.inputs import Form
from app.push import bp, services
from app.push.forms import SubscribeForm, UnsubscribeForm
from app.security.actor import actor_from_request


def _form_error(form) -> tuple:
    field, errors = next(iter(form.errors.items()))
    return render_error(400, errors[0], error_code="validation_error", field=field)


@bp.post("/account/push/subscribe")
@signed_in
def subscribe():
    form = SubscribeForm()
    if not form.validate_on_submit():
        return _form_error(form)
    try:
        row = services.subscribe(actor_from_request(), current_user, endpoint=form.endpoint.data,
                                 p256dh=form.p256dh.data, auth=form.auth.data, device=form.device.data or "",
                                 locale=form.locale.data or "")
    except services.PushNotConfigured as exc:
        return render_error(409, exc.message, error_code="push_not_configured")
    except services.InvalidSubscription as exc:
        return render_error(400, exc.message, error_code="invalid_subscription")
    return jsonify({"id": row.id, "device": row.device}), 201


@bp.post("/account/push/unsubscribe")
@signed_in
def unsubscribe():
    form = UnsubscribeForm()
    if not form.validate_on_submit():
        return _form_error(form)
    removed = services.unsubscribe(actor_from_request(), current_user, form.endpoint.data)
    return jsonify({"removed": removed})


@bp.post("/account/push/<int:subscription_id>/remove")
@signed_in
def remove(subscription_id: int):
    if not Form().validate_on_submit():
        return render_error(400)
    try:
        row = services.revoke(actor_from_request(), current_user, subscription_id)
    except services.SubscriptionNotFound as exc:
        return render_error(404, exc.message)
    flash(_("Notifications to %(device)s were turned off.", device=row.device or _("this device")), "success")
    return redirect(url_for("auth.account", _anchor="notifications"))


@bp.post("/account/push/test")
@signed_in
def send_test():
    if not Form().validate_on_submit():
        return render_error(400)
    if services.notify("test", user_ids=[current_user.id]):
        flash(_("A test notification is on its way to your devices."), "success")
    else:
        flash(_("No device of yours receives notifications yet."), "warning")
    return redirect(url_for("auth.account", _anchor="notifications"))
