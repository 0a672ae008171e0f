"""Devices: list with status, enrollment codes (text and QR), revocation."""

from flask import Blueprint, request

from server.api.admin import body, config, db, doc
from server.api.admin.schemas import DeviceSchema, EnrollmentCodeSchema
from server.auth import api_requires, current_actor
from server.manage import devices

bp = Blueprint("admin_devices", __name__, url_prefix="/api/v1")


@bp.get("/devices")
@api_requires("devices.read")
@doc("Devices in your scope with state (online, silent, revoked)", response=DeviceSchema, many="devices",
     tag="devices")
def list_():
    return {"devices": devices.list_devices(db(), current_actor(), config())}


@bp.get("/devices/<device_id>")
@api_requires("devices.read")
@doc("One device", response=DeviceSchema, tag="devices")
def get(device_id):
    return devices.get_device(db(), current_actor(), device_id, config())


@bp.post("/devices/<device_id>/revoke")
@api_requires("devices.write")
@doc("Revoke a device: its token stops working, its votes stay", response=DeviceSchema, tag="devices")
def revoke(device_id):
    return devices.revoke(db(), current_actor(), device_id, config())


@bp.post("/enrollment-codes")
@api_requires("devices.write")
@doc("Issue a one-time enrollment code for a counter (text and QR SVG)", body=EnrollmentCodeSchema,
     response=EnrollmentCodeSchema, status=201, tag="devices")
def issue_code():
    return devices.issue_code(db(), current_actor(), body(EnrollmentCodeSchema), config(), request.host_url), 201
