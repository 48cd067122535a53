"""The request side of analytics: the browser's privacy signals, page views, the script's switch.

- before each request: ``DNT: 1`` or ``Sec-GPC: 1`` mean nothing is recorded during it;
- after each successful (200) HTML GET of a signed-in user: one ``page_view`` with the
  matched route template (``/customers/<int:customer_id>``), never the URL or query string;
- ``analytics_script()`` in templates: whether the page loads static/js/analytics.js (only
  when this request's user may be recorded).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request

from app.analytics import services

log = logging.getLogger(__name__)
NOT_PAGES = frozenset({"static", "favicon"})


def note_privacy_signals() -> None:
    """Refuse recording for this request when the browser asks not to be tracked."""
    if request.headers.get("DNT", "").strip() == "1":
        services.refuse_request("dnt")
    elif request.headers.get("Sec-GPC", "").strip() == "1":
        services.refuse_request("gpc")
    else:
        services.refuse_request(None)


def record_page_view(response: Response) -> Response:
    """One page view for a successful HTML page of a signed-in user (when they may be recorded)."""
    if (request.method == "GET" and response.status_code == 200 and response.mimetype == "text/html"
            and request.url_rule is not None and request.endpoint not in NOT_PAGES):
        try:
            services.record("page_view", path=request.url_rule.rule)
        except Exception:  # analytics must never break a page
            log.exception("analytics: page view not recorded")
    return response


def analytics_script() -> bool:
    """Whether this page should load the first-party script (the signed-in user may be recorded)."""
    try:
        return services.may_record(services.signed_in_user())
    except Exception:
        log.exception("analytics: could not decide about the script")
        return False


def init_app(app: Flask) -> None:
    """Install the hooks on ``app``."""
    app.before_request(note_privacy_signals)
    app.after_request(record_page_view)
    app.add_template_global(analytics_script, "analytics_script")
