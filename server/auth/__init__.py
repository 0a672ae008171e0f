"""Who is asking, and may they: sessions and tokens in, ``current_actor()`` out.

A browser signs in with a password and gets a server-side session (its
random id in Flask's signed, HttpOnly, SameSite cookie). A script sends
``Authorization: Bearer hlu_...`` (a personal API token). Both become an
``Actor`` whose roles decide what it may do and where. CSRF is checked on
every unsafe request that rides on the session cookie; token requests carry
no ambient authority, so they need none.
"""

import datetime as dt
import functools

from flask import current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from server import audit
from server.manage import account as service
from server.manage.actor import ROLES  # noqa: F401  (the pages list them)
from server.db import get_db
from server.api.errors import ApiError, error_response
from server.errors import Forbidden
from server.manage import forbid

csrf = CSRFProtect()


# An IPv6 address in text is at most 45 characters; anything longer is not an address.
MAX_ADDRESS = 64


def init_app(app):
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # The client's address, scheme and host as the nearest ``proxies`` proxies
        # saw them (X-Forwarded-For, -Proto, -Host): what the sign-in throttle and
        # the audit log record, and what tells a page it was reached over HTTPS.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.config["SESSION_COOKIE_SECURE"] = not (app.config["DEVELOPMENT"] or app.config["INSECURE_HTTP_TRIAL"])
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_NAME"] = "hailong_session"
    app.config["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(hours=app.config["SESSION_MAX_HOURS"])
    # Checked explicitly (``protect_csrf``) on the admin pages and API only:
    # the device API authenticates every call with a bearer token.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    csrf.init_app(app)

    @app.errorhandler(CSRFError)
    def csrf_failed(exc):
        if request.path.startswith("/api/"):
            return error_response(400, "csrf_failed", f"CSRF check failed: {exc.description}")
        from flask import render_template

        return render_template("error.html", status=400, message=exc.description), 400


def client_address():
    """The client's address (behind TRUSTED_PROXIES proxies, the one they forwarded)."""
    return (request.remote_addr or "-")[:MAX_ADDRESS]


def current_actor():
    """The Actor behind this request (token first, then session), or None."""
    if "actor" not in g:
        g.actor = _load_actor()
    return g.actor


def _load_actor():
    db, config = get_db(), current_app.config
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() == "bearer" and secret.strip().startswith(service.TOKEN_PREFIX):
        return service.actor_for_token(db, secret.strip(), client_address())
    sid = session.get("sid")
    if sid:
        actor = service.actor_for_session(db, sid, client_address(), config)
        if actor is None:
            session.clear()
        return actor
    return None


def protect_csrf():
    """Check the CSRF token of an unsafe request that rides on the session cookie."""
    actor = current_actor()
    if actor is not None and actor.kind == "token":
        return
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


def api_requires(permission):
    """API views: 401 without a live session/token, 403 without a role granting ``permission``."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            actor = current_actor()
            if actor is None:
                raise ApiError(401, "unauthorized", "Sign in or send a valid API token.",
                               headers={"WWW-Authenticate": 'Bearer realm="hailong"'})
            protect_csrf()
            return _checked(actor, permission, view, args, kwargs)

        wrapped.permission = permission
        return wrapped

    return decorator


def _checked(actor, permission, view, args, kwargs):
    """Run ``view`` if ``actor`` may; every 403, the view's own or its action's, is audited first."""
    try:
        if permission and not actor.can(permission):
            raise forbid(permission)
        return view(*args, **kwargs)
    except Forbidden as refused:
        # Aggregated per actor and permission (server/audit.py), so a scan cannot flood the log.
        audit.record_denial(get_db(), actor, refused.permission or permission or "-", request.method, request.path)
        raise


def page_requires(permission):
    """Page views: redirect to the sign-in page, or a 403 page without the permission."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            actor = current_actor()
            if actor is None or actor.kind != "user":
                return redirect(url_for("web_auth.login", next=request.full_path))
            protect_csrf()
            return _checked(actor, permission, view, args, kwargs)

        wrapped.permission = permission
        return wrapped

    return decorator
