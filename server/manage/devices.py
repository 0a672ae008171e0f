"""Devices as people see them: state, enrollment codes (text, link and QR), revocation.

A tablet's state has one vocabulary everywhere (pages, API, ``hailong device
list``), derived from its last contact by ``state``:

- ``online``: heard from within its expected heartbeats;
- ``late``: it missed its heartbeats (more than ``LATE_AFTER_HEARTBEATS`` of
  them), so what it last reported (its queue) may be out of date;
- ``silent``: not heard from for ``SILENT_AFTER_MINUTES`` while its unit is
  open (``server/calendar.py``; marked by ``hailong jobs``, or seen so at read time);
- ``revoked``.
"""

import datetime as dt
import io
import secrets

import segno

from device_client import protocol
from device_client.protocol import parse_time
from server import audit
from server.errors import N_
from server import calendar
from server.manage import not_found, require
from server.storage import devices, now_utc, org, timestamp, write_transaction

# A tablet counts as late once this many heartbeats are overdue.
LATE_AFTER_HEARTBEATS = 2.5
FIELDS = ("id", "counter", "counter_name", "unit", "unit_name", "enrolled_at", "revoked_at", "last_seen_at",
          "last_heartbeat_at", "queue_depth", "oldest_unsent_at", "clock_offset_ms", "app_version", "ack_seq")
STATES = ("online", "late", "silent", "revoked")
# Crockford's base32 without look-alikes: easy to read aloud and to type.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"


def state(row, config, now=None, hours=None):
    """``online``, ``late``, ``silent`` or ``revoked`` for a device row (see the module doc).

    ``hours``: the loaded ``calendar.Calendar`` (whether the device's unit is open now).
    """
    if row["status"] == "revoked":
        return "revoked"
    if row["silent_since"]:
        return "silent"
    now = now or now_utc()
    if not row["last_seen_at"]:
        return "late"
    age = (now - parse_time(row["last_seen_at"])).total_seconds()
    if age > config["SILENT_AFTER_MINUTES"] * 60 and hours is not None and hours.is_open(row["unit_id"], now):
        return "silent"
    if age > LATE_AFTER_HEARTBEATS * config["DEVICE_HEARTBEAT_SECONDS"]:
        return "late"
    return "online"


def _seconds_since(text, now):
    return None if not text else max(0, int((now - parse_time(text)).total_seconds()))


def _public(row, config, now, hours):
    """A device row with its state, how long ago it was heard and how old its reported queue is."""
    return {
        **{k: row.get(k) for k in FIELDS},
        "state": state(row, config, now, hours),
        "last_heard_seconds": _seconds_since(row["last_seen_at"], now),
        "queue_age_seconds": _seconds_since(row["last_heartbeat_at"], now),
    }


def list_devices(db, actor, config, unit_ids=None, counter_id=None):
    """Devices in the actor's scope (and in ``unit_ids`` / at ``counter_id``, when given)."""
    require(actor, "devices.read")
    scope = actor.scope(db, "devices.read")
    if unit_ids is not None:
        scope = set(unit_ids) if scope is None else scope & set(unit_ids)
    now, hours = now_utc(), calendar.load(db, config["TIMEZONE"])
    return [_public(row, config, now, hours) for row in devices.list_devices_in(db, scope, counter_id)]


def fleet(db, config, now=None):
    """Every tablet's state counted, and what those not revoked last reported of their queues: for /metrics.

    No actor: the server reads this for its own scrape, which shows counts,
    never a device. Returns ``{"tablets": {state: n}, "queues": {"items",
    "largest", "oldest_unsent_seconds"}}`` (oldest: 0 when no tablet reports an unsent item).
    """
    now, hours = now or now_utc(), calendar.load(db, config["TIMEZONE"])
    tablets, items, largest, oldest = dict.fromkeys(STATES, 0), 0, 0, 0
    for row in devices.list_devices_in(db):
        tablets[state(row, config, now, hours)] += 1
        if row["status"] == "revoked":
            continue
        items += row["queue_depth"] or 0
        largest = max(largest, row["queue_depth"] or 0)
        oldest = max(oldest, _seconds_since(row["oldest_unsent_at"], now) or 0)
    return {"tablets": tablets, "queues": {"items": items, "largest": largest, "oldest_unsent_seconds": oldest}}


def _visible(db, actor, permission, device_id):
    row = devices.device_in(db, device_id, actor.scope(db, permission))
    if row is None:
        raise not_found(N_("No device with this id."))
    return row


def get_device(db, actor, device_id, config):
    require(actor, "devices.read")
    return _public(_visible(db, actor, "devices.read", device_id), config, now_utc(),
                   calendar.load(db, config["TIMEZONE"]))


def issue_code(db, actor, data, config, server_url=None):
    """A one-time enrollment code for a counter in scope, with a link and its QR code (SVG).

    ``server_url`` is the address tablets reach the server at (``PUBLIC_URL``,
    or the one the request came to); without one there is no link.
    """
    require(actor, "devices.write")
    counter = org.counter_detail(db, data["counter"])
    if counter is None or not actor.reaches(db, "devices.write", counter["unit_id"]):
        raise not_found(N_("No counter with this code."))
    ttl = data.get("ttl_minutes") or config["ENROLL_CODE_TTL_MINUTES"]
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
    code = f"{raw[:5]}-{raw[5:]}"
    expires = timestamp(now_utc() + dt.timedelta(minutes=ttl))
    with write_transaction(db):
        devices.insert_enrollment_code(db, code, counter["id"], timestamp(), expires)
        audit.record(db, actor, "issue_code", "counter", counter["code"], counter["unit_id"],
                     after={"expires_at": expires})
    server_url = server_url or config["PUBLIC_URL"]
    link = protocol.enroll_link(server_url, code) if server_url else None
    return {"counter": counter["code"], "code": code, "expires_at": expires, "link": link,
            "qr_svg": qr_svg(link or code)}


def qr_svg(text):
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", border=2, xmldecl=False, svgns=True, omitsize=True)
    return out.getvalue().decode("utf-8")


def revoke(db, actor, device_id, config):
    """Revoke a device: its token stops working, the votes it delivered stay. Idempotent."""
    require(actor, "devices.write")
    row = _visible(db, actor, "devices.write", device_id)
    before = {k: row.get(k) for k in ("status", "revoked_at")}
    with write_transaction(db):
        if devices.revoke_device(db, device_id):
            fresh = devices.get_device(db, device_id)
            audit.record(db, actor, "revoke", "device", device_id, row["unit_id"], before=before,
                         after={"status": fresh["status"], "revoked_at": fresh["revoked_at"]})
    return get_device(db, actor, device_id, config)


def counters_for_codes(db, actor):
    """Counters the actor may issue enrollment codes for."""
    require(actor, "devices.write")
    return [{"code": r["code"], "name": r["name"], "unit": r["unit"]}
            for r in org.list_counters(db, actor.scope(db, "devices.write")) if r["active"]]
