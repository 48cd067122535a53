"""The data subject's side: the page of the mailed confirmation link (no sign-in).

Opening the link shows what is being confirmed and changes nothing (mail scanners fetch
links); the button on the page confirms. The page shows no personal data: the holder of
the link sees the kind of request, its reference and its deadline only.
"""

from __future__ import annotations

from flask import render_template, request

from app.privacy import bp, verification
from app.privacy.errors import LinkInvalid
from app.privacy.forms import ConfirmLinkForm
from app.security.access import public
from app.security.actor import actor_from_request


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@public
def confirm_link(token: str):
    try:
        req = verification.find_by_link(token)
    except LinkInvalid:
        return render_template("privacy/link_invalid.html"), 410
    form = ConfirmLinkForm()
    if form.validate_on_submit():
        try:
            req = verification.confirm_by_link(actor_from_request(), token)
        except LinkInvalid:
            return render_template("privacy/link_invalid.html"), 410
        return render_template("privacy/confirmed.html", req=req)
    return render_template("privacy/confirm.html", req=req, form=form), 400 if request.method == "POST" else 200
