"""Sign in, sign out, your account: password change and personal API tokens."""

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from server.api.admin.schemas import TokenSchema
from server.auth import client_address, current_actor, page_requires, protect_csrf, service
from server.db import get_db
from server.errors import invalid
from server.web import attempt, form_data, page_errors, translate

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
            error, status = translate(exc.message), exc.status
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
    if action == "password":
        done, errors, message, status = attempt(lambda: _change_password(db, actor))
        if done:
            message = _("Your password has been changed. Your other sessions have ended and your API tokens"
                        " have been revoked.")
    elif action == "token":
        done, errors, message, status = attempt(lambda: _create_token(db, actor))
        new_token = done and done[0]
    elif action == "revoke":
        done, errors, message, status = attempt(
            lambda: service.revoke_token(db, actor, request.form.get("token_id", 0, type=int)))
        if done:
            message = _("The token has been revoked.")
    return render_template("account.html", tokens=service.list_tokens(db, actor), message=message,
                           errors=errors, new_token=new_token), status


def _change_password(db, actor):
    if request.form.get("new_password") != request.form.get("confirm_password"):
        raise invalid("confirm_password", _("Does not match."), _("The two new passwords differ."))
    service.change_password(db, actor, request.form.get("current_password", ""),
                            request.form.get("new_password", ""), current_app.config)
    return True


def _create_token(db, actor):
    days = {"days": int(request.form["days"])} if request.form.get("days", "").isdigit() else {}
    data = TokenSchema().load(form_data(["name"]) | days | {"password": request.form.get("password", "")})
    return service.create_token(db, actor, data["name"], data.get("days"), current_app.config,
                                password=data["password"])


page_errors(bp)
