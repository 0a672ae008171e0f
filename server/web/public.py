"""What anyone may open without signing in: the site icon (and the enrollment link's landing page)."""

import os

from flask import Blueprint, send_from_directory

bp = Blueprint("web_public", __name__)
STATIC = os.path.join(os.path.dirname(__file__), "static")


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it on their own; a 404 filled the log and left the tab without an icon."""
    return send_from_directory(STATIC, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400)
