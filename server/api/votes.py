"""``POST /api/v1/votes/batch``: tablets deliver signed votes here."""

from flask import Blueprint, current_app, g

from server import ingest
from server.api import device_required, json_body
from server.db import get_db

bp = Blueprint("votes", __name__, url_prefix="/api/v1")


@bp.post("/votes/batch")
@device_required
def post_batch():
    ingest.check_rate(g.device, current_app.config)
    body = json_body()
    return ingest.ingest_batch(get_db(), g.device, body, current_app.config)
