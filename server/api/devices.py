"""The device API: what enrolled tablets call, authenticated by their bearer token (docs/protocol.md)."""

import time

from flask import Blueprint, Response, current_app, g

from server.api import device_required, json_body
from server.api.errors import ApiError
from server.db import get_db
from server.storage import staff as staff_storage
from server.sync import configuration, enrollment, heartbeat as heartbeats, pipeline, rate
from server.sync.schemas import EnrollSchema, HeartbeatSchema
from server.sync.streams import SESSIONS, VOTES

bp = Blueprint("devices", __name__, url_prefix="/api/v1")


@bp.post("/enroll")
def enroll():
    return enrollment.enroll(get_db(), EnrollSchema().load(json_body())), 201


@bp.get("/device/config")
@device_required
def config():
    return configuration.device_config(get_db(), g.device, current_app.config)


@bp.get("/device/staff/<code>/photo")
@device_required
def staff_photo(code):
    """A staff photo for the kiosk's waiting screen; only staff of the device's unit."""
    photo = staff_storage.photo_at_counter(get_db(), code, g.device["counter_id"])
    if photo is None:
        raise ApiError(404, "not_found", "This staff member has no photo at this device's unit.")
    return Response(photo["data"], content_type=photo["content_type"], headers={"ETag": photo["sha256"]})


@bp.post("/device/heartbeat")
@device_required
def heartbeat():
    data = HeartbeatSchema().load(json_body())
    return heartbeats.heartbeat(get_db(), g.device, data, current_app.config, time.time())


@bp.post("/votes/batch")
@device_required
def post_votes():
    rate.precheck(g.device, current_app.config, time.time())  # refuse a flood before any signature check
    return pipeline.ingest(get_db(), g.device, json_body(), current_app.config, VOTES)


@bp.post("/device/sessions/batch")
@device_required
def post_sessions():
    rate.precheck(g.device, current_app.config, time.time())
    return pipeline.ingest(get_db(), g.device, json_body(), current_app.config, SESSIONS)
