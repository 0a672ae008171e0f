"""What a tablet caches to work offline: where it is, who may be rated, the scale, the kiosk's timings."""

import datetime as dt
import hashlib
import json
import zoneinfo

from device_client.settings import KIOSK_SETTINGS
from server.storage import org, rosters, timestamp
from server.storage import staff as staff_storage
from server.version import __version__


def device_config(db, device, config):
    """What the tablet caches to work offline: where it is, who may be rated, the scale.

    Each staff member carries the argon2id hash of their PIN (or null) so the
    kiosk can check a sign-in with no network, the SHA-256 of their photo
    (or null) so the tablet downloads it only when it changed, and the days
    they may serve here (``roster``).
    """
    counter = org.counter_with_unit(db, device["counter_id"])
    body = {
        "device_id": device["id"],
        "counter": {"code": counter["code"], "name": counter["name"]},
        "unit": {
            "code": counter["unit_code"],
            "name": counter["unit_name"],
            "path": org.unit_path(db, counter["unit_id"]),
        },
        "staff": roster(db, counter, config),
        "scale": org.current_scale(db),
        "kiosk": {kiosk.key: config[kiosk.server_name] for kiosk in KIOSK_SETTINGS},
        "heartbeat_seconds": config["DEVICE_HEARTBEAT_SECONDS"],
        "server_version": __version__,
    }
    body["config_version"] = hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()[:16]
    body["server_time"] = timestamp()
    return body


def roster(db, counter, config):
    """Who may serve at the counter: its unit's active staff (``"assignments": null``, any day), then
    staff seconded to it whose assignment has not ended (``[{"from", "to"}]``, local dates, ``to`` null
    for no end). The tablet refuses a tap outside these days, as the server does."""
    today = dt.datetime.now(zoneinfo.ZoneInfo(config["TIMEZONE"])).date().isoformat()
    people = [{**person, "assignments": None}
              for person in staff_storage.roster_with_credentials(db, counter["unit_id"])]
    seconded = {}
    for row in rosters.seconded_at(db, counter["id"], today):
        span = {"from": row.pop("valid_from"), "to": row.pop("valid_to")}
        seconded.setdefault(row["code"], {**row, "assignments": []})["assignments"].append(span)
    known = {person["code"] for person in people}
    return people + [person for code, person in sorted(seconded.items()) if code not in known]
