"""``POST /analytics/collect``: named actions sent by the first-party script (static/js/analytics.js).

The script sends with ``navigator.sendBeacon``, which cannot add the CSRF header, so the
view is exempt from the CSRF token and instead accepts only same-origin requests
(``Sec-Fetch-Site: same-origin``, or an ``Origin`` naming this host when a browser sends no
fetch metadata) of a signed-in session. The body is a small JSON object
``{"name": "<declared client event>", "page": "<location.pathname>"}``; the page is turned into
its route template here. Bad input is a 400 with a JSON error naming the field; what may not
be recorded (no consent, DNT, GPC) is accepted and dropped (204) so the script learns nothing.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from flask import current_app, jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from app.access_rules import same_origin_request, signed_in
from app.analytics import bp, catalogue, services
from app.extensions import csrf
from app.inputs import InvalidInput, safe_next_url, text

MAX_BODY = 1024



def _route_template(page: str | None) -> str | None:
    """The route template of a page path on this site (None when no route matches it)."""
    if page is None or safe_next_url(page, "") != page:
        raise InvalidInput(_("Send the page as a path on this site."), "page")
    try:
        rule, _args = current_app.url_map.bind(request.host).match(urlsplit(page).path, method="GET",
                                                                    return_rule=True)
    except HTTPException:  # no such page (or a redirect): recorded without a page
        return None
    return rule.rule


def parse_beacon(body: bytes) -> tuple[str, str | None]:
    """The event name and route template of a beacon body; raises InvalidInput naming the field."""
    if len(body) > MAX_BODY:
        raise InvalidInput(_("The request is too large."), "body")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput(_("Send a JSON object."), "body") from None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not isinstance(
            data.get("page", ""), str):
        raise InvalidInput(_("Send a JSON object with the event's name and the page."), "body")
    name = text(data["name"], max_length=catalogue.MAX_NAME)
    declared = catalogue.BY_NAME.get(name or "")
    if declared is None or not declared.client:
        raise InvalidInput(_("This is not an event the page may send."), "name")
    return name, _route_template(text(data.get("page"), max_length=2000))


@bp.post("/analytics/collect")
@signed_in
def collect():
    if not same_origin_request():
        return jsonify(error={"code": "cross_origin", "message": _("Only pages of this site may send this.")}), 403
    try:
        name, path = parse_beacon(request.get_data(cache=False)[:MAX_BODY + 1])
    except InvalidInput as exc:
        return jsonify(error={"code": "validation_error", "message": str(exc.message), "field": exc.field}), 400
    services.record(name, path=path)
    return "", 204


csrf.exempt(collect)
