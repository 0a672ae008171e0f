"""The admin pages: one blueprint per area, server-rendered, Vietnamese and English.

Views stay thin: read the form, load it through the API's schema, call the
same ``server.manage`` action the API and the CLI call, render. Errors from
that layer (domain errors, ``server/errors.py``) come back to the form as a
message and field messages, in the page's language.
"""

import unicodedata
from urllib.parse import urlsplit

from flask import redirect, render_template, request, session, url_for
from flask_babel import Babel, get_locale, gettext
from marshmallow import ValidationError

from server.api.errors import ApiError, status_of
from server.errors import N_, ActionError, Forbidden, Message

# The summary above a form whose fields the schema refused (their own messages sit beside them).
INVALID_FORM = N_("Some fields need correcting: see the messages below them.")

LANGUAGES = ("vi", "en")


def select_locale():
    lang = request.args.get("lang") or session.get("lang")
    if lang in LANGUAGES:
        return lang
    return request.accept_languages.best_match(LANGUAGES) or "vi"


def local_path(target):
    """``target`` if it is a path on this site (``/admin/units?x=1``), else ``/``.

    For ``next=`` after sign-in and the language switch. Browsers drop tabs
    and newlines inside a URL and read ``\\`` as ``/``, so ``/%09/evil.com``
    and ``/\\evil.com`` both become ``//evil.com``: another host. Rather
    than mimic every browser's clean-up, refuse any control, format or
    separator character (spaces included) and any backslash, then ask for a
    single leading ``/`` with no scheme and no host.
    """
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(unicodedata.category(char)[0] in "CZ" for char in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def form_id(name):
    """A record id from the posted form: a whole number SQLite can hold, or 0 (which names nothing)."""
    text = request.form.get(name, "")
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) < 2**63 else 0


def form_data(names, booleans=()):
    """The named fields of the posted form (only those sent), checkboxes as booleans."""
    data = {}
    for name in names:
        if name in request.form:
            data[name] = request.form[name].strip()
    for name in booleans:
        data[name] = request.form.get(name) in ("on", "1", "true", "yes")
    return data


def translate(message):
    """A message from the actions or a schema, in the page's language.

    ``Message`` keeps its template and values, so its translation is filled
    in here (a value that is itself a ``Message``, like an import problem
    inside "line 3, column code: …", is translated first); a plain string (a
    fixed schema message) is looked up as it is.
    """
    if isinstance(message, Message):
        if not message.values:
            return gettext(message.template)
        values = {name: translate(value) if isinstance(value, Message) else value
                  for name, value in message.values.items()}
        return gettext(message.template, **values)
    return gettext(message) if isinstance(message, str) and message else message


def _flat(messages):
    """A field's messages as one list; nested schemas (a user's roles) give ``{index: {field: [...]}}``."""
    if isinstance(messages, dict):
        return [m for inner in messages.values() for m in _flat(inner)]
    if isinstance(messages, (list, tuple)):
        return [m for inner in messages for m in _flat(inner)]
    return [messages]


def translated_fields(fields):
    return {name: [translate(m) for m in _flat(msgs)] for name, msgs in fields.items()}


def schema_fields(exc):
    return exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}


def attempt(action):
    """Run an action for a form: ``(result, field errors, message, status)``, all translated.

    ``Forbidden`` is not a form's error: it goes on to the 403 page, and to the audit log.
    """
    try:
        return action(), {}, None, 200
    except ValidationError as exc:
        return None, translated_fields(schema_fields(exc)), translate(INVALID_FORM), 400
    except Forbidden:
        raise  # the 403 page, after the denial is audited (server/auth)
    except ActionError as exc:
        return None, translated_fields(exc.fields), translate(exc.message), status_of(exc)


def page_errors(bp):
    """Errors that reach a page (404, 403, ...) render as an HTML page in the same status."""

    @bp.errorhandler(ActionError)
    def action_error(exc):
        status = status_of(exc)
        return render_template("error.html", status=status, message=translate(exc.message)), status

    @bp.errorhandler(ApiError)
    def api_error(exc):
        return render_template("error.html", status=exc.status, message=translate(exc.message)), exc.status

    @bp.errorhandler(ValidationError)
    def invalid_query(exc):
        """A query string the schema refused (``?before_id=x``): the page, not the API's JSON."""
        fields = translated_fields(schema_fields(exc))
        return render_template("error.html", status=400, message=translate(INVALID_FORM), fields=fields), 400


def init_app(app):
    from server.web import audit, auth, calendar, devices, formats, me, org, public, scales, staff, users
    from server.web import flags, objections, periods, scores  # issue 9: the evaluation pages

    from server.auth import current_actor

    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["current_actor"] = current_actor
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.filters["translate"] = translate
    formats.init_app(app)
    for module in (auth, org, staff, devices, users, audit, public, me, calendar, scales, scores, flags, periods,
                   objections):
        app.register_blueprint(module.bp)
    from server.web import alerts, reports  # issue 9: alerts, the monthly unit report

    app.register_blueprint(alerts.bp)
    app.register_blueprint(reports.bp)
    from server.web import export_pages  # issue 10: verifiable exports

    app.register_blueprint(export_pages.bp)
    from server.web import ledger  # issue 10: checkpoints, one vote verified

    app.register_blueprint(ledger.bp)

    @app.get("/")
    def home():
        """The first page the visitor's roles open: the dashboard of their subtree, a staff member's own page."""
        actor = current_actor()
        if actor is None or actor.can("scores.read"):
            return redirect(url_for("web_scores.dashboard"))
        if actor.can("self.read"):
            return redirect(url_for("web_me.me"))
        if actor.can("units.read"):
            return redirect(url_for("web_org.units"))
        return redirect(url_for("web_auth.account"))

    @app.get("/lang/<code>")
    def set_language(code):
        if code in LANGUAGES:
            session["lang"] = code
        return redirect(local_path(request.args.get("next")))
