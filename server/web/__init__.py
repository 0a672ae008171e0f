"""The admin pages: one blueprint per area, server-rendered, Vietnamese and English.

Views stay thin: read the form, load it through the API's schema, call the
same ``server.manage`` function the API calls, render. Errors from that
layer (``ApiError``) come back to the form with their field messages.
"""

from flask import redirect, render_template, request, session, url_for
from flask_babel import Babel, get_locale

from server.errors import ApiError

LANGUAGES = ("vi", "en")


def select_locale():
    lang = request.args.get("lang") or session.get("lang")
    if lang in LANGUAGES:
        return lang
    return request.accept_languages.best_match(LANGUAGES) or "vi"


def form_data(names, booleans=()):
    """The named fields of the posted form (only those sent), checkboxes as booleans."""
    data = {}
    for name in names:
        if name in request.form:
            data[name] = request.form[name].strip()
    for name in booleans:
        data[name] = request.form.get(name) in ("on", "1", "true", "yes")
    return data


def page_errors(bp):
    """ApiErrors that reach a page (404, 403, ...) render as an HTML page in the same status."""

    @bp.errorhandler(ApiError)
    def api_error(exc):
        return render_template("error.html", status=exc.status, message=exc.message), exc.status


def init_app(app):
    from server.web import audit, auth, devices, org, staff, users

    from server.auth import current_actor

    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["current_actor"] = current_actor
    app.jinja_env.globals["get_locale"] = get_locale
    for module in (auth, org, staff, devices, users, audit):
        app.register_blueprint(module.bp)

    @app.get("/")
    def home():
        """The first page the visitor's roles open (units for everyone with a role)."""
        actor = current_actor()
        if actor is not None and not actor.can("units.read"):
            return redirect(url_for("web_auth.account"))
        return redirect(url_for("web_org.units"))

    @app.get("/lang/<code>")
    def set_language(code):
        if code in LANGUAGES:
            session["lang"] = code
        target = request.args.get("next") or "/"
        return redirect(target if target.startswith("/") and not target.startswith("//") else "/")
