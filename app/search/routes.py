"""The jump box: a plain results page (works without JavaScript) and its JSON for the dialog."""

from __future__ import annotations

from flask import jsonify, render_template, request

from app.search import bp, services
from app.search.query import MAX_LENGTH, shown_back
from app.security.access import signed_in
from app.security.actor import actor_from_request


@bp.get("/jump")
@signed_in
def jump():
    """Results for ``q`` on a page; a refused query answers 400 with the reason beside the field."""
    raw = request.args.get("q", "")
    try:
        query = services.parse_query(raw)
    except services.InvalidQuery as exc:
        return render_template("search/jump.html", q=shown_back(raw), error=exc.message, results=[],
                               max_length=MAX_LENGTH), 400
    results = services.jump(actor_from_request(), query)
    return render_template("search/jump.html", q=query.text, error=None, results=results,
                           max_length=MAX_LENGTH, kinds=services.Kind)


@bp.get("/jump.json")
@signed_in
def jump_json():
    """Results for ``q`` as JSON for the dialog; a refused query is a 400 with a stable code and a message."""
    try:
        query = services.parse_query(request.args.get("q", ""))
    except services.InvalidQuery as exc:
        response = jsonify({"error": {"code": "validation_error", "message": str(exc.message)}})
        response.status_code = 400
    else:
        results = services.jump(actor_from_request(), query)
        response = jsonify({"query": query.text, "results": [r.as_json() for r in results]})
    response.headers["Cache-Control"] = "no-store"
    return response
