"""Device endpoints: enrollment, configuration and heartbeats."""

import time

from flask import Blueprint, current_app, g

from server import devices as device_service
from server.api import device_required, json_body
from server.db import get_db
from server.schemas import EnrollSchema, HeartbeatSchema

bp = Blueprint("devices", __name__, url_prefix="/api/v1")


@bp.post("/enroll")
def enroll():
    data = EnrollSchema().load(json_body())
    result = device_service.enroll(get_db(), data)
    return result, 201


@bp.get("/device/config")
@device_required
def config():
    return device_service.device_config(get_db(), g.device)


@bp.post("/device/heartbeat")
@device_required
def heartbeat():
    data = HeartbeatSchema().load(json_body())
    return device_service.heartbeat(get_db(), g.device, data, current_app.config, time.time())
