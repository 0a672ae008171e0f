"""Sign in, sign out, your account: password change and personal API tokens."""

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from server.api.admin.schemas import TokenSchema
from server.auth import client_address, current_actor, page_requires, protect_csrf, service
from server.db import get_db
from server.errors import ApiError
from server.web import form_data, page_errors

bp = Blueprint("web_auth", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/admin")


def _safe_next(target):
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status = None, 200
    if request.method == "POST":
        protect_csrf()
        try:
            secret, _user = service.login(
                get_db(), request.form.get("username", ""), request.form.get("password", ""),
                client_address(), current_app.config,
            )
        except service.LoginRefused as exc:
            error, status = _("Wrong username or password."), exc.status
            if exc.status == 429:
                error = _("Too many failed sign-ins. Try again in %(minutes)s minutes.",
                          minutes=current_app.config["LOGIN_LOCK_MINUTES"])
        else:
            lang = session.get("lang")
            session.clear()
            session["sid"] = secret
            if lang:
                session["lang"] = lang
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error), status


@bp.post("/logout")
@page_requires(None)
def logout():
    service.logout(get_db(), current_actor())
    session.clear()
    return redirect(url_for("web_auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@page_requires(None)
def account():
    db, actor = get_db(), current_actor()
    message, errors, new_token, status = None, {}, None, 200
    action = request.form.get("action")
    try:
        if action == "password":
            if request.form.get("new_password") != request.form.get("confirm_password"):
                raise ApiError(400, "validation_error", _("The two new passwords differ."),
                               {"confirm_password": [_("Does not match.")]})
            service.change_password(db, actor, request.form.get("current_password", ""),
                                    request.form.get("new_password", ""), current_app.config)
            message = _("Your password has been changed.")
        elif action == "token":
            data = TokenSchema().load(form_data(["name"]) | (
                {"days": int(request.form["days"])} if request.form.get("days", "").isdigit() else {}))
            new_token, _row = service.create_token(db, actor, data["name"], data.get("days"), current_app.config)
        elif action == "revoke":
            service.revoke_token(db, actor, int(request.form.get("token_id", "0")))
            message = _("The token has been revoked.")
    except ValidationError as exc:
        errors, status = exc.messages, 400
    except ApiError as exc:
        message, errors, status = exc.message, exc.fields, exc.status
    return render_template("account.html", tokens=service.list_tokens(db, actor), message=message,
                           errors=errors, new_token=new_token), status


page_errors(bp)
