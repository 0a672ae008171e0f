"""``POST /api/v1/device/sessions/batch``: kiosks deliver signed staff sign-in/out events."""

from flask import Blueprint, current_app, g

from server import ingest, sessions
from server.api import device_required, json_body
from server.db import get_db

bp = Blueprint("sessions", __name__, url_prefix="/api/v1")


@bp.post("/device/sessions/batch")
@device_required
def post_batch():
    ingest.check_rate(g.device, current_app.config)
    return sessions.ingest_events(get_db(), g.device, json_body())
