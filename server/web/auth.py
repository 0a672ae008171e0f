"""Sign in, sign out, your account: password change and personal API tokens."""

import urllib.parse

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from server.api.admin.schemas import TokenSchema
from server.auth import client_address, current_actor, page_requires, protect_csrf, service
from server.db import get_db
from server.errors import invalid
from server.web import attempt, form_data, form_id, local_path, page_errors, translate

bp = Blueprint("web_auth", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/admin")

# Browsers keep a Secure cookie from plain http:// on these hosts (and only these).
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def needs_https_here():
    """True when this browser cannot keep the session cookie: it is Secure, and the page came over plain HTTP.

    Behind a TLS proxy that TRUSTED_PROXIES does not cover, the proxy's
    ``X-Forwarded-Proto: https`` still says the browser is on HTTPS.
    """
    if not current_app.config["SESSION_COOKIE_SECURE"] or request.is_secure:
        return False
    if request.headers.get("X-Forwarded-Proto", "").strip().lower() == "https":
        return False
    return urllib.parse.urlsplit("//" + request.host).hostname not in LOOPBACK


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status = None, 200
    if request.method == "POST":
        try:
            protect_csrf()
        except CSRFError:
            # Over plain HTTP the browser never stored the Secure session cookie,
            # so the form's CSRF token has nothing to match: say that, not Flask-WTF's words.
            status = 400
            error = None if needs_https_here() else _("The sign-in form had expired. Please sign in again.")
            return _login_page(error), status
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
            return redirect(local_path(request.args.get("next")))
    return _login_page(error), status


def _login_page(error):
    config = current_app.config
    trial = config["INSECURE_HTTP_TRIAL"] and not config["DEVELOPMENT"]
    return render_template("login.html", error=error, needs_https=needs_https_here(), insecure_trial=trial)


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
            lambda: service.revoke_token(db, actor, form_id("token_id")))
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
