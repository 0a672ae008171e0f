"""Device endpoints: enrollment, configuration and heartbeats."""

import time

from flask import Blueprint, Response, current_app, g

from server import devices as device_service
from server.api import device_required, json_body
from server.db import get_db
from server.api.errors import ApiError
from server.schemas import EnrollSchema, HeartbeatSchema
from server.storage import staff as staff_storage

bp = Blueprint("devices", __name__, url_prefix="/api/v1")


@bp.post("/enroll")
def enroll():
    data = EnrollSchema().load(json_body())
    result = device_service.enroll(get_db(), data)
    return result, 201


@bp.get("/device/config")
@device_required
def config():
    return device_service.device_config(get_db(), g.device, current_app.config)


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
    return device_service.heartbeat(get_db(), g.device, data, current_app.config, time.time())
