"""Log in and out, the user's own profile and tokens, and the project office's user admin."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from shg.accounts import access, services
from shg.accounts.forms import LoginForm, ProfileForm, TokenForm, UserForm
from shg.accounts.models import ApiToken, User
from shg.audit import AuditEntry
from shg.errors import Invalid
from shg.extensions import db, limiter
from shg.pagination import paginate
from shg.registry.models import District
from shg.urls import bounded_int, is_safe_next

bp = Blueprint("accounts", __name__)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"],
               deduct_when=lambda response: response.status_code != 302)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("registry.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.username.data, form.password.data)
        if user is not None:
            login_user(user)
            target = request.args.get("next")
            return redirect(target if is_safe_next(target) else url_for("registry.index"))
        form.password.errors.append(_("Wrong user name or password."))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    return redirect(url_for("accounts.login"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user)
    token_form = TokenForm(prefix="token")
    if form.validate_on_submit():
        # the User itself, not the current_user proxy: update_user compares identities
        # (``clash is not user``) and would call her own user name taken
        user = current_user._get_current_object()
        try:
            services.update_user(user, {"full_name": form.full_name.data,
                                        "locale": form.locale.data,
                                        "password": form.password.data or None}, by=user)
        except Invalid as exc:
            db.session.rollback()
            for field, messages in exc.errors.items():
                if field in form:
                    form[field].errors = list(form[field].errors) + messages
                else:
                    for message in messages:
                        flash(message, "danger")
        else:
            db.session.commit()
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("accounts.profile"))
    tokens = db.session.scalars(select(ApiToken).where(ApiToken.user_id == current_user.id)
                                .order_by(ApiToken.created_at.desc())).all()
    return render_template("accounts/profile.html", form=form, token_form=token_form, tokens=tokens)


@bp.route("/profile/tokens", methods=["POST"])
@login_required
def create_token():
    token_form = TokenForm(prefix="token")
    if token_form.validate_on_submit():
        token, plain = services.create_token(current_user._get_current_object(),
                                             token_form.name.data)
        db.session.commit()
        tokens = db.session.scalars(select(ApiToken).where(ApiToken.user_id == current_user.id)
                                    .order_by(ApiToken.created_at.desc())).all()
        return render_template("accounts/profile.html", form=ProfileForm(obj=current_user),
                               token_form=TokenForm(prefix="token"), tokens=tokens, new_token=plain)
    flash(_("Give the token a name, e.g. the phone it is for."), "danger")
    return redirect(url_for("accounts.profile"))


@bp.route("/profile/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id):
    token = db.get_or_404(ApiToken, token_id)
    if token.user_id != current_user.id:
        access.require_admin(current_user)
    services.revoke_token(token)
    db.session.commit()
    flash(_("The token is revoked; it no longer opens the API."), "success")
    return redirect(url_for("accounts.profile"))


def _user_form(user=None):
    form = UserForm(obj=user)
    districts = db.session.scalars(select(District).order_by(District.name)).all()
    form.districts.choices = [(d.id, f"{d.name} ({d.region.country.code})") for d in districts]
    if request.method == "GET" and user is not None:
        form.districts.data = [d.id for d in user.districts]
    return form


@bp.route("/admin/users")
@login_required
def users():
    access.require_admin(current_user)
    q = request.args.get("q", "").strip()
    query = select(User).order_by(User.username)
    if q:
        query = query.where(User.username.ilike(f"%{q}%") | User.full_name.ilike(f"%{q}%"))
    page = paginate(query, request.args.get("page", 1, type=bounded_int))
    return render_template("accounts/users.html", page=page, q=q)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@login_required
def edit_user(user_id=None):
    access.require_admin(current_user)
    user = db.get_or_404(User, user_id) if user_id else None
    form = _user_form(user)
    if form.validate_on_submit():
        data = {k: form[k].data for k in ("username", "full_name", "email", "role", "locale",
                                           "password", "is_active_user")}
        chosen = [db.session.get(District, i) for i in form.districts.data]
        try:
            if user is None:
                user = services.create_user(data, chosen, by=current_user)
            else:
                services.update_user(user, data, chosen, by=current_user)
        except Invalid as exc:
            db.session.rollback()
            for field, messages in exc.errors.items():
                if field in form:
                    form[field].errors = list(form[field].errors) + messages
        else:
            db.session.commit()
            flash(_("The user is saved."), "success")
            return redirect(url_for("accounts.users"))
    return render_template("accounts/user_form.html", form=form, user=user)


@bp.route("/admin/audit")
@login_required
def audit():
    access.require_admin(current_user)
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    record_type = request.args.get("type", "").strip()
    user_id = request.args.get("user", type=bounded_int)
    if record_type:
        query = query.where(AuditEntry.record_type == record_type)
    if user_id:
        query = query.where(AuditEntry.user_id == user_id)
    page = paginate(query, request.args.get("page", 1, type=bounded_int), per_page=50)
    users = db.session.scalars(select(User).order_by(User.username)).all()
    return render_template("accounts/audit.html", page=page, record_type=record_type,
                           user_id=user_id, users=users)
