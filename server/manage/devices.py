"""Devices as the admin sees them: status, enrollment codes (text and QR), revocation."""

import datetime as dt
import io

import segno

from device_client.protocol import parse_time
from server import audit
from server import devices as device_service
from server.manage import not_found, require
from server.storage import devices, now_utc, org, write_transaction

FIELDS = ("id", "counter", "unit", "state", "enrolled_at", "revoked_at", "last_seen_at",
          "last_heartbeat_at", "queue_depth", "clock_offset_ms", "app_version", "ack_seq")


def state(row, silent_after_minutes, now=None):
    """online (heard from recently), silent (marked, or not heard for a while), revoked."""
    if row["status"] == "revoked":
        return "revoked"
    if row["silent_since"] or not row["last_seen_at"]:
        return "silent"
    age = (now or now_utc()) - parse_time(row["last_seen_at"])
    return "silent" if age > dt.timedelta(minutes=silent_after_minutes) else "online"


def list_devices(db, actor, config):
    require(actor, "devices.read")
    rows = devices.list_devices_in(db, actor.scope(db, "devices.read"))
    now = now_utc()
    return [
        {**{k: row.get(k) for k in FIELDS}, "state": state(row, config["SILENT_AFTER_MINUTES"], now)}
        for row in rows
    ]


def _visible(db, actor, permission, device_id):
    row = next((r for r in devices.list_devices_in(db, actor.scope(db, permission)) if r["id"] == device_id),
               None)
    if row is None:
        raise not_found("device")
    return row


def get_device(db, actor, device_id, config):
    require(actor, "devices.read")
    row = _visible(db, actor, "devices.read", device_id)
    return {**{k: row.get(k) for k in FIELDS}, "state": state(row, config["SILENT_AFTER_MINUTES"])}


def issue_code(db, actor, data, config):
    """A one-time enrollment code for a counter in scope, with its QR code as SVG."""
    require(actor, "devices.write")
    counter = org.counter_detail(db, data["counter"])
    if counter is None or not actor.reaches(db, "devices.write", counter["unit_id"]):
        raise not_found("counter")
    ttl = data.get("ttl_minutes") or config["ENROLL_CODE_TTL_MINUTES"]
    code, expires = device_service.issue_code(db, counter["code"], ttl)
    with write_transaction(db):
        audit.record(db, actor, "issue_code", "counter", counter["code"], counter["unit_id"],
                     after={"expires_at": expires})
    return {"counter": counter["code"], "code": code, "expires_at": expires, "qr_svg": qr_svg(code)}


def qr_svg(text):
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", border=2, xmldecl=False, svgns=True, omitsize=True)
    return out.getvalue().decode("utf-8")


def revoke(db, actor, device_id, config):
    require(actor, "devices.write")
    row = _visible(db, actor, "devices.write", device_id)
    before = {k: row.get(k) for k in ("status", "revoked_at")}
    with write_transaction(db):
        if devices.revoke_device_in_transaction(db, device_id):
            fresh = devices.get_device(db, device_id)
            audit.record(db, actor, "revoke", "device", device_id, row["unit_id"], before=before,
                         after={"status": fresh["status"], "revoked_at": fresh["revoked_at"]})
    return get_device(db, actor, device_id, config)


def list_votes(db, actor, after_id, limit):
    require(actor, "votes.read")
    return devices.list_votes_in(db, actor.scope(db, "votes.read"), after_id, limit)


def list_incidents(db, actor, after_id, limit):
    require(actor, "incidents.read")
    return devices.list_incidents_in(db, actor.scope(db, "incidents.read"), after_id, limit)


def counters_for_codes(db, actor):
    """Counters the actor may issue enrollment codes for."""
    require(actor, "devices.write")
    return [{"code": r["code"], "name": r["name"], "unit": r["unit"]}
            for r in org.list_counters(db, actor.scope(db, "devices.write")) if r["active"]]
