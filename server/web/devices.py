"""Devices: enrollment codes (text and QR), the list with status, revocation."""

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from server.api.admin.schemas import EnrollmentCodeSchema
from server.auth import current_actor, page_requires
from server.db import get_db
from server.manage import devices
from server.web import attempt, form_data, page_errors

bp = Blueprint("web_devices", __name__, url_prefix="/admin")


def _counters(db, actor):
    return devices.counters_for_codes(db, actor) if actor.can("devices.write") else []


@bp.get("/devices")
@page_requires("devices.read")
def list_():
    db, actor = get_db(), current_actor()
    can_write = actor.can("devices.write")
    return render_template("devices.html", devices=devices.list_devices(db, actor, current_app.config),
                           counters=_counters(db, actor), can_write=can_write, can_revoke=can_write,
                           errors={}, message=None)


@bp.post("/devices/code")
@page_requires("devices.write")
def issue_code():
    db, actor = get_db(), current_actor()
    data = form_data(["counter"])
    issued, errors, message, status = attempt(lambda: devices.issue_code(
        db, actor, EnrollmentCodeSchema().load(data), current_app.config, request.host_url))
    if issued:
        return render_template("device_code.html", issued=issued)
    return render_template("devices.html", devices=devices.list_devices(db, actor, current_app.config),
                           counters=_counters(db, actor), can_write=True, can_revoke=True, errors=errors,
                           message=message), status


@bp.post("/devices/<device_id>/revoke")
@page_requires("devices.write")
def revoke(device_id):
    devices.revoke(get_db(), current_actor(), device_id, current_app.config)
    return redirect(url_for("web_devices.list_"))


page_errors(bp)
