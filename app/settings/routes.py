"""The settings pages: every declared setting by section, edits (with step-up), change history."""

from __future__ import annotations

import logging

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from app.audit.models import AuditLog
from app.formatting import count, when_text
from app.listing import ChoiceFilter, CsvColumn, ListDefinition, SortOption
from app.personal_data import vault
from app.security.access import Permission, requires
from app.security.actor import actor_from_request
from app.security.stepup import step_up_required
from app.settings import bp
from app.settings import services as settings
from app.settings.definitions import BY_KEY, SETTINGS, Kind
from app.settings.forms import SettingForm, minutes_bounds, shown_value, submitted_value

log = logging.getLogger(__name__)

HISTORY = ListDefinition(
    filters=[ChoiceFilter("key", _l("Setting"), tuple((s.key, s.label) for s in SETTINGS))],
    sorts=[SortOption("id", _l("When"), (AuditLog.created_at, AuditLog.id))],
    default_sort="id",
    csv_columns=[CsvColumn("when", lambda e: e.created_at), CsvColumn("who", lambda e: vault.reveal(e.actor_email)),
                 CsvColumn("setting", lambda e: e.resource_id),
                 CsvColumn("before", lambda e: _side(e, "before")), CsvColumn("after", lambda e: _side(e, "after"))],
)


def _side(entry: AuditLog, side: str):
    change = (entry.changes or {}).get(entry.resource_id or "", {})
    return change.get(side) if isinstance(change, dict) else None


def _sections() -> list[tuple[object, list]]:
    sections: dict[str, tuple[object, list]] = {}
    for state in settings.current_states():
        sections.setdefault(str(state.setting.section), (state.setting.section, []))[1].append(state)
    return list(sections.values())


@bp.app_context_processor
def _maintenance_banner():
    def banner() -> str:
        try:
            return settings.get("maintenance_banner")
        except Exception:  # an error page must render even when the database is down
            log.warning("could not read the maintenance banner", exc_info=True)
            return ""

    return {"maintenance_banner": banner, "setting_value": _display}


def _display(setting, value) -> str:
    """A stored value as people read it."""
    if setting.kind is Kind.BOOLEAN:
        return _("Yes") if value else _("No")
    if setting.kind is Kind.DURATION:
        return ngettext("%(n)s minute", "%(n)s minutes", value // 60, n=count(value // 60))
    if setting.kind in (Kind.CHOICE, Kind.MULTICHOICE):
        labels = dict(setting.choices)
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        return ", ".join(str(labels.get(v, v)) for v in values) or _("(none)")
    return value if value not in ("", None) else _("(empty)")


@bp.get("/settings")
@requires(Permission.MANAGE_SETTINGS)
def index():
    return render_template("settings/index.html", sections=_sections())


@bp.route("/settings/<key>", methods=["GET", "POST"])
@requires(Permission.MANAGE_SETTINGS)
@step_up_required
def edit(key: str):
    setting = BY_KEY.get(key)
    if setting is None:
        abort(404)
    state = next(s for s in settings.current_states() if s.setting.key == key)
    form = SettingForm(version=state.version)
    error, status, shown = None, 200, shown_value(setting, state.value)
    if form.validate_on_submit():
        try:
            raw = submitted_value(setting, request.form)
            changed = settings.update(actor_from_request(), key, raw, expected_version=form.version.data)
        except settings.InvalidSetting as exc:
            error, status = str(exc), 400
            shown = request.form.getlist("value") if setting.kind is Kind.MULTICHOICE else request.form.get("value")
        except settings.StaleSetting as exc:
            status = 409
            form = SettingForm(formdata=None, version=state.version)
            who = settings.changed_by(key)
            flash(_("%(who)s changed this setting at %(when)s, after you opened it. Nothing was saved: the form "
                    "shows the current value now.", who=who.display_name if who else _("Someone"),
                    when=when_text(exc.updated_at, "medium") if exc.updated_at else "?"), "danger")
        else:
            flash(_("%(label)s saved.", label=setting.label) if changed else _("Nothing changed."),
                  "success" if changed else "info")
            return redirect(url_for("settings.index"))
    elif request.method == "POST":
        status = 400
    return render_template("settings/edit.html", setting=setting, state=state, form=form, error=error, shown=shown,
                           minutes=minutes_bounds(setting), history=settings.recent_changes(key)), status


@bp.get("/settings/history")
@requires(Permission.MANAGE_SETTINGS)
def history():
    state = HISTORY.state()
    return HISTORY.respond(settings.history_query(state.value("key")), state, "settings/history.html",
                           "settings-history")
