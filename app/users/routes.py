"""User administration: the list, the detail page, invitations, edits, (de)activation."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.auth import policy, two_factor
from app.extensions import db
from app.listing import wants_csv
from app.mail import public_url
from app.security.access import Permission, has_permission, requires
from app.security.actor import actor_from_request
from app.security.stepup import stepped_up_recently
from app.users import account_sessions, administration, bp, impersonation, invitations, lists, services
from app.users.forms import (
    EditUserForm,
    ImpersonateForm,
    InviteUserForm,
    ReasonForm,
    VersionForm,
)
from app.users.lists import USERS
from app.users.models import Role, TokenPurpose, User


def visible_or_404(user_id: int) -> User:
    """The account, if the signed-in user may see it in administration; 404 otherwise."""
    user = db.session.get(User, user_id)
    if user is None or not administration.can_see(actor_from_request(), user):
        abort(404)
    return user


def manageable_or_404(user_id: int) -> User:
    user = visible_or_404(user_id)
    if not administration.can_manage(actor_from_request(), user):
        abort(403)
    return user


def invitation_link(token: str) -> str:
    return public_url("auth.accept_invitation", token=token)


def reset_link(token: str) -> str:
    return public_url("auth.reset_password", token=token)


@bp.get("/users")
@requires(Permission.MANAGE_USERS)
def index():
    """Users, alphabetically by e-mail, with search, filters, sortable columns, keyset paging and CSV."""
    state = USERS.state()
    query = lists.search(actor_from_request(), state.values)
    scoped_to_institution = current_user.role_enum is Role.INSTITUTION_ADMIN
    if wants_csv():
        return USERS.csv_response(query, state, "users")
    page = USERS.page(query, state)
    return render_template("users/index.html", state=state, page=page,
                           enabled=two_factor.enabled_user_ids([u.id for u in page.items]),
                           choices={"institution": [] if scoped_to_institution else services.institution_choices()},
                           hidden=lists.INSTITUTION_SCOPED_OUT if scoped_to_institution else ())


@bp.get("/users/<int:user_id>")
@requires(Permission.MANAGE_USERS)
def detail(user_id: int):
    user = visible_or_404(user_id)
    actor = actor_from_request()
    security = has_permission(current_user, Permission.MANAGE_USER_SECURITY)
    return render_template(
        "users/detail.html", user=user, factors=two_factor.summary(user),
        policy_status=policy.evaluate(user, start_clock=False),
        sessions=account_sessions.list_sessions(user, session.key) if security else None,
        invitation=invitations.open_token(user, TokenPurpose.INVITATION),
        entries=administration.recent_audit_entries(user), support_visits=impersonation.history_for(user, limit=10),
        end_reasons=impersonation.END_REASON_LABELS,
        can_manage=administration.can_manage(actor, user), security=security,
        can_impersonate=(has_permission(current_user, Permission.IMPERSONATE)
                         and impersonation.can_impersonate(actor, user)),
        version_form=VersionForm(version=user.version), reason_form=ReasonForm(), impersonate_form=ImpersonateForm())


def _account_form(form_class, **kwargs):
    form = form_class(**kwargs)
    institutions = ([(current_user.institution_id, current_user.institution.name)]
                    if current_user.role_enum is Role.INSTITUTION_ADMIN else services.institution_choices())
    form.set_choices(administration.grantable_roles(actor_from_request()), institutions)
    return form


@bp.route("/users/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_USERS)
def new():
    """Invite someone: the account is created without a password and its owner sets one."""
    form = _account_form(InviteUserForm)
    if not form.is_submitted():
        # Never offer the most powerful role by default: preselect the least privileged one.
        form.role.data = administration.grantable_roles(actor_from_request())[-1].value
    status = 200
    if form.validate_on_submit():
        try:
            user = invitations.invite_user(
                actor_from_request(), email=form.email.data, display_name=form.display_name.data,
                role=Role(form.role.data), institution_id=form.institution_id.data, link_for=invitation_link)
        except services.EmailTaken:
            form.email.errors.append(_("An account with this e-mail address already exists."))
            status = 400
        except services.InvalidEmail:
            form.email.errors.append(_("Enter a valid e-mail address."))
            status = 400
        except services.UserError:
            form.institution_id.errors.append(_("Choose the institution this account belongs to."))
            status = 400
        else:
            flash(_("%(email)s was invited. The invitation link works for 72 hours.", email=user.email), "success")
            return redirect(url_for("users.detail", user_id=user.id))
    elif request.method == "POST":
        status = 400
    return render_template("users/new.html", form=form), status


@bp.get("/users/<int:user_id>/edit")
@requires(Permission.MANAGE_USERS)
def edit(user_id: int):
    """The form that edits name, role and institution."""
    user = manageable_or_404(user_id)
    form = _account_form(EditUserForm, obj=user)
    form.customer.data = str(user.customer_id) if user.customer_id else ""
    return render_template("users/edit.html", form=form, user=user)


@bp.post("/users/<int:user_id>/edit")
@requires(Permission.MANAGE_USERS)
def update(user_id: int):
    """Save the edit form. A role change needs a recent step-up; a stale form a fresh look."""
    user = manageable_or_404(user_id)
    form = _account_form(EditUserForm)
    status = 400
    if form.validate_on_submit():
        if form.role.data != user.role and not stepped_up_recently():
            flash(_("Confirm it is you before changing a role, then save the form again."), "info")
            return redirect(url_for("auth.step_up", next=url_for("users.edit", user_id=user.id)))
        actor = actor_from_request()
        try:
            changes = administration.update_user(
                actor, user, display_name=form.display_name.data, role=Role(form.role.data),
                institution_id=form.institution_id.data, expected_version=form.version.data, keep_session=session.key,
                customer=form.customer.data or "")
        except administration.StaleVersion as exc:
            flash(_("Someone else changed this account while you were editing it. The form now shows the "
                    "current values: check them and make your change again."), "danger")
            form = _account_form(EditUserForm, obj=exc.current, formdata=None)
            status = 409
        except administration.LastSuperadmin:
            flash(_("This is the last active superadmin: the role cannot be changed."), "danger")
            status = 400
        except administration.NotAllowed:
            form.role.errors.append(_("You may not give this role."))
            status = 400
        except administration.UnknownCustomer as exc:
            form.customer.errors.append(str(exc.message))
            status = 400
        except services.UserError:
            form.institution_id.errors.append(_("Choose the institution this account belongs to."))
            status = 400
        else:
            flash(_("The account was saved.") if changes else _("Nothing was changed."),
                  "success" if changes else "info")
            # Editing oneself out of administration: ask again, the role just changed.
            if user.id == actor.user_id and not administration.can_see(actor_from_request(), user):
                return redirect(url_for("auth.index"))
            return redirect(url_for("users.detail", user_id=user.id))
    return render_template("users/edit.html", form=form, user=user), status


def _version_or_400() -> int:
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    return form.version.data


@bp.post("/users/<int:user_id>/deactivate")
@requires(Permission.MANAGE_USERS)
def deactivate(user_id: int):
    user = manageable_or_404(user_id)
    try:
        ended = administration.deactivate_user(actor_from_request(), user, expected_version=_version_or_400())
    except administration.StaleVersion:
        flash(_("Someone else changed this account meanwhile. Check it and try again."), "danger")
        return redirect(url_for("users.detail", user_id=user.id))
    except administration.LastSuperadmin:
        flash(_("This is the last active superadmin: it cannot be deactivated."), "danger")
    except administration.NotAllowed:
        flash(_("You cannot deactivate your own account."), "danger")
    else:
        flash(ngettext("%(email)s was deactivated; %(num)d session ended.",
                       "%(email)s was deactivated; %(num)d sessions ended.", ended, email=user.email), "success")
    return redirect(url_for("users.detail", user_id=user.id))


@bp.post("/users/<int:user_id>/reactivate")
@requires(Permission.MANAGE_USERS)
def reactivate(user_id: int):
    user = manageable_or_404(user_id)
    try:
        administration.reactivate_user(actor_from_request(), user, expected_version=_version_or_400())
    except administration.StaleVersion:
        flash(_("Someone else changed this account meanwhile. Check it and try again."), "danger")
        return redirect(url_for("users.detail", user_id=user.id))
    flash(_("%(email)s can sign in again.", email=user.email), "success")
    return redirect(url_for("users.detail", user_id=user.id))


@bp.post("/users/<int:user_id>/invitation/resend")
@requires(Permission.MANAGE_USERS)
def resend_invitation(user_id: int):
    user = manageable_or_404(user_id)
    _version_or_400()
    try:
        invitations.resend_invitation(actor_from_request(), user, link_for=invitation_link)
    except services.UserError:
        flash(_("No invitation can be sent: the account is deactivated or already has a password."), "warning")
    else:
        flash(_("A new invitation was sent to %(email)s; the earlier link no longer works.", email=user.email),
              "success")
    return redirect(url_for("users.detail", user_id=user.id))


@bp.post("/users/<int:user_id>/invitation/revoke")
@requires(Permission.MANAGE_USERS)
def revoke_invitation(user_id: int):
    user = manageable_or_404(user_id)
    _version_or_400()
    if invitations.revoke_invitation(actor_from_request(), user):
        flash(_("The invitation link no longer works."), "success")
    else:
        flash(_("There was no open invitation."), "info")
    return redirect(url_for("users.detail", user_id=user.id))


@bp.post("/users/<int:user_id>/password-reset")
@requires(Permission.MANAGE_USERS)
def send_password_reset(user_id: int):
    user = manageable_or_404(user_id)
    _version_or_400()
    try:
        invitations.send_password_reset(actor_from_request(), user, link_for=reset_link)
    except services.UserError:
        flash(_("The account is deactivated: no reset link was sent."), "warning")
    else:
        flash(_("A link to choose a new password was sent to %(email)s.", email=user.email), "success")
    return redirect(url_for("users.detail", user_id=user.id))
