"""The device API: what enrolled tablets call, authenticated by their bearer token (docs/protocol.md)."""

import time

from flask import Blueprint, Response, current_app, g

from server.api import device_required, json_body
from server.api.errors import ApiError
from server.db import get_db
from server.storage import staff as staff_storage
from server.sync import configuration, enrollment, heartbeat as heartbeats, pipeline, rate
from server.api.admin import doc
from server.sync.schemas import (
    BatchAnswerSchema,
    BatchSchema,
    DeviceConfigSchema,
    EnrollAnswerSchema,
    EnrollSchema,
    HeartbeatAnswerSchema,
    HeartbeatSchema,
    SessionBatchSchema,
)
from server.sync.streams import SESSIONS, VOTES

bp = Blueprint("devices", __name__, url_prefix="/api/v1")
BATCH_ANSWERS = {"413": "Too many items, or too many bytes (batch_too_large, body_too_large)",
                 "429": "The device sends too often (rate_limited); Retry-After says when to retry"}


@bp.post("/enroll")
@doc("Enroll a tablet with a one-time code and its Ed25519 key (docs/protocol.md, Enrollment)",
     body=EnrollSchema, response=EnrollAnswerSchema, status=201, tag="device", caller=None,
     answers={"409": "The code enrolled a tablet already (code_used)", "410": "The code has expired (code_expired)"})
def enroll():
    return enrollment.enroll(get_db(), EnrollSchema().load(json_body())), 201


@bp.get("/device/config")
@device_required
@doc("What the tablet caches to work offline: its counter, the roster, the scale, kiosk settings",
     response=DeviceConfigSchema, tag="device", caller="device")
def config():
    return configuration.device_config(get_db(), g.device, current_app.config)


@bp.get("/device/staff/<code>/photo")
@device_required
@doc("A staff member's photo, for staff of the device's unit", tag="device", caller="device",
     produces="image/jpeg", answers={"404": "No photo, or not staff of this device's unit"})
def staff_photo(code):
    """A staff photo for the kiosk's waiting screen; only staff of the device's unit."""
    photo = staff_storage.photo_at_counter(get_db(), code, g.device["counter_id"])
    if photo is None:
        raise ApiError(404, "not_found", "This staff member has no photo at this device's unit.")
    return Response(photo["data"], content_type=photo["content_type"], headers={"ETag": photo["sha256"]})


@bp.post("/device/heartbeat")
@device_required
@doc("The tablet is alive: its queue and version", body=HeartbeatSchema, response=HeartbeatAnswerSchema,
     tag="device", caller="device")
def heartbeat():
    data = HeartbeatSchema().load(json_body())
    return heartbeats.heartbeat(get_db(), g.device, data, current_app.config, time.time())


@bp.post("/votes/batch")
@device_required
@doc("A batch of signed votes; one result per vote (docs/protocol.md)", body=BatchSchema,
     response=BatchAnswerSchema, tag="device", caller="device", answers=BATCH_ANSWERS)
def post_votes():
    rate.precheck(g.device, current_app.config, time.time())  # refuse a flood before any signature check
    return pipeline.ingest(get_db(), g.device, json_body(), current_app.config, VOTES)


@bp.post("/device/sessions/batch")
@device_required
@doc("A batch of signed staff sign-in and sign-out events; one result per event", body=SessionBatchSchema,
     response=BatchAnswerSchema, tag="device", caller="device", answers=BATCH_ANSWERS)
def post_sessions():
    rate.precheck(g.device, current_app.config, time.time())
    return pipeline.ingest(get_db(), g.device, json_body(), current_app.config, SESSIONS)
