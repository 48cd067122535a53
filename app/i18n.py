"""Languages: locale selection and the language switcher (formatting: app/formatting.py).

Catalogs live beside the code they translate: ``app/translations`` for the shared
layout and ``app/<feature>/translations`` for each feature; Flask-Babel merges them.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, current_app, flash, has_request_context, redirect, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

# Up a layer, on purpose: the language switch is a view, and every view declares who may use it at the view.
from app.access_rules import public
from app.extensions import babel
from app.inputs import safe_next_url

bp = Blueprint("i18n", __name__)

APP_DIR = Path(__file__).resolve().parent


def translation_directories() -> list[str]:
    """The core catalog and every feature's catalog."""
    dirs = [APP_DIR / "translations"] + sorted(APP_DIR.glob("*/translations"))
    return [str(d) for d in dirs if d.is_dir()]


def select_locale() -> str:
    """The language chosen in this session, else the browser's best match, else English."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]  # CLI commands and jobs
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(list(languages)) or current_app.config["BABEL_DEFAULT_LOCALE"]


@bp.post("/language")
@public
def switch_language():
    """Remember the chosen language for this session and go back to the page."""
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    else:
        flash(_("That language is not available."), "warning")
    return redirect(safe_next_url(request.form.get("next"), url_for("auth.index")))


def init_app(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(translation_directories())
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(bp)

    @app.context_processor
    def _languages():
        return {"languages": app.config["LANGUAGES"], "current_locale": str(get_locale())}
