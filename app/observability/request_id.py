"""A request id for every request: taken from ``X-Request-ID`` when it is sane, else new.

It is returned in the response, shown on error pages and stored on audit entries,
so one id ties a user's report, the logs and the audit trail together.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

HEADER = "X-Request-ID"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def incoming_or_new(value: str | None) -> str:
    """The client's id when it is 8-64 safe characters, else a fresh random one."""
    if value and _VALID.match(value):
        return value
    return uuid.uuid4().hex


def init_app(app: Flask) -> None:
    @app.before_request
    def _assign_request_id() -> None:
        g.request_id = incoming_or_new(request.headers.get(HEADER))

    @app.after_request
    def _return_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers[HEADER] = g.request_id
        return response
