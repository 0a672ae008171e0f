"""What anyone may open without signing in: the site icon and the enrollment link's landing page."""

import os

from flask import Blueprint, make_response, render_template, request, send_from_directory

from device_client import protocol

bp = Blueprint("web_public", __name__)
STATIC = os.path.join(os.path.dirname(__file__), "static")


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it on their own; a 404 filled the log and left the tab without an icon."""
    return send_from_directory(STATIC, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400)


@bp.get(protocol.ENROLL_LINK_PATH)
def enroll():
    """Where a phone that scans an enrollment QR code lands: how to enroll a tablet with that link.

    It looks nothing up and says nothing about the code (whether it exists,
    its counter, its expiry): it only repeats the code the visitor brought.
    Enrollment itself happens on the tablet (``hailong-device enroll --link``).
    """
    code = request.args.get("code", "")
    code = code if protocol.ENROLL_CODE.match(code) else None
    server = request.url_root.rstrip("/")
    page = render_template("enroll.html", code=code, server=server, public=True,
                           link=protocol.enroll_link(server, code) if code else None)
    response = make_response(page)
    # The code is a secret until used: keep it out of caches and other sites' logs.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
