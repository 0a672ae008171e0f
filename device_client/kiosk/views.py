"""The kiosk's routes: the page, its state, the actions, photos and icon. Views stay thin."""

import re
import time

from flask import Blueprint, abort, current_app, render_template, request, send_file, send_from_directory
from flask_babel import get_locale

from device_client import jsontext
from device_client.kiosk.service import KioskError

bp = Blueprint("kiosk", __name__)
KEY_RE = re.compile(r"^[A-Za-z0-9-]{8,64}\Z")


def kiosk():
    return current_app.extensions["kiosk"]


@bp.errorhandler(KioskError)
def kiosk_error(exc):
    return {"error": {"code": exc.code, "message": exc.message, "fields": {}, **exc.extra}}, exc.status


def _body():
    """The request's JSON object, read as the server reads its API's (``device_client.jsontext``)."""
    body, problem = jsontext.parse(request.get_data()) if request.is_json else (None, None)
    if not isinstance(body, dict):
        raise KioskError(400, "malformed_json", "Send a JSON object." + (f" ({problem})" if problem else ""))
    return body


@bp.get("/")
def page():
    config = kiosk().tablet.config
    if config is None:
        return render_template("unconfigured.html"), 503
    lang = str(get_locale())
    return render_template("kiosk.html", config=config, lang=lang, settings=kiosk().settings())


@bp.get("/api/state")
def state():
    return kiosk().state()


@bp.post("/api/vote")
def vote():
    body = _body()
    key, rating, reasons = body.get("key"), body.get("rating"), body.get("reasons", [])
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise KioskError(400, "validation_error", "key: 8-64 letters, digits or dashes.")
    if not isinstance(rating, int) or not isinstance(reasons, list):
        raise KioskError(400, "validation_error", "rating is an integer, reasons a list.")
    started = time.perf_counter()
    answer = kiosk().vote(key, rating, [str(r) for r in reasons])
    took = (time.perf_counter() - started) * 1000
    # The bench reads the commit time from here, apart from the browser's.
    return answer, 200, {"Server-Timing": f"commit;dur={took:.2f}"}


@bp.post("/api/staff/sign-in")
def sign_in():
    body = _body()
    return kiosk().sign_in(str(body.get("staff", "")), str(body.get("pin", "")))


@bp.post("/api/staff/sign-out")
def sign_out():
    return kiosk().sign_out(str(_body().get("pin", "")))


@bp.post("/api/staff/touch")
def touch():
    _body()
    kiosk().touch()
    return {"ok": True}


@bp.get("/photo/<code>")
def photo(code):
    cached = kiosk().photo(code)
    if cached is None:
        abort(404)
    path, content_type = cached
    return send_file(path, mimetype=content_type, max_age=86400)


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it on their own; a 404 would fill the log and the tab would have no icon."""
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=86400)
