"""Device lifecycle: enrollment codes, enrollment, configuration, heartbeats.

The API views and the ``hailong device ...`` commands both call these.
"""

import datetime as dt
import hashlib
import json

from device_client.protocol import Verifier, enroll_proof_bytes, parse_time
from server import __version__
from server.api.errors import ApiError
from server.ingest import rate_limited
from server.storage import devices, now_utc, org, timestamp, write_transaction
from server.storage import staff as staff_storage


def enroll(db, data):
    """Register a tablet's public key with a one-time code; returns id and token.

    Retrying is safe: if the answer to an enrollment was lost, the tablet sends
    the same code and key again and gets the same device with a fresh token,
    as long as the first token was never used (so a replayed request cannot
    take over a tablet that is already working).
    """
    row = devices.find_enrollment_code(db, data["code"])
    if row is None:
        raise ApiError(400, "invalid_code", "This enrollment code does not exist.", {"code": ["Unknown code."]})
    try:
        verifier = Verifier(data["public_key"])
    except ValueError:
        raise ApiError(
            400, "validation_error", "The public key is not valid.", {"public_key": ["Not a base64 Ed25519 key."]}
        ) from None
    if not verifier.verify(enroll_proof_bytes(data["code"], data["public_key"]), data["proof"]):
        raise ApiError(
            400,
            "validation_error",
            "The proof does not verify with the public key.",
            {"proof": ["Signature does not verify."]},
        )
    used = ApiError(409, "code_used", "This enrollment code has already been used.", {"code": ["Already used."]})
    if parse_time(row["expires_at"]) < now_utc():
        raise ApiError(
            410, "code_expired", "This enrollment code has expired; ask for a new one.", {"code": ["Expired."]}
        )
    if row["used_at"]:
        enrolled = devices.reissue_unused_token(db, row, data["public_key"])
    else:
        enrolled = devices.enroll_device(db, row, data["public_key"], data["app_version"])
    if enrolled is None:
        raise used
    device_id, token = enrolled
    counter = org.counter_with_unit(db, row["counter_id"])
    return {
        "device_id": device_id,
        "token": token,
        "counter": counter["code"],
        "server_time": timestamp(),
    }


def device_config(db, device, config=None):
    """What the tablet caches to work offline: where it is, who may be rated, the scale.

    Each staff member carries the argon2id hash of their PIN (or null) so the
    kiosk can check a sign-in with no network, and the SHA-256 of their photo
    (or null) so the tablet downloads it only when it changed.
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
        "staff": staff_storage.roster_with_credentials(db, counter["unit_id"]),
        "scale": org.current_scale(db),
        "kiosk": kiosk_settings(config or {}),
        "heartbeat_seconds": (config or {}).get("DEVICE_HEARTBEAT_SECONDS", 60),
        "server_version": __version__,
    }
    body["config_version"] = hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()[:16]
    body["server_time"] = timestamp()
    return body


KIOSK_SETTINGS = {
    "vote_interval_seconds": "KIOSK_VOTE_INTERVAL_SECONDS",
    "reasons_timeout_seconds": "KIOSK_REASONS_TIMEOUT_SECONDS",
    "thanks_seconds": "KIOSK_THANKS_SECONDS",
    "idle_sign_out_minutes": "KIOSK_IDLE_SIGN_OUT_MINUTES",
    "day_end": "KIOSK_DAY_END",
    "pin_max_attempts": "KIOSK_PIN_MAX_ATTEMPTS",
    "pin_lockout_minutes": "KIOSK_PIN_LOCKOUT_MINUTES",
}


def kiosk_settings(config):
    """The kiosk's timings and PIN limits, from the server settings (defaults if absent)."""
    from server.settings import DEFAULTS

    return {key: config.get(name, DEFAULTS[name]) for key, name in KIOSK_SETTINGS.items()}


def heartbeat(db, device, data, config, now):
    offset_ms = int(round((now - parse_time(data["device_time"]).timestamp()) * 1000))
    with write_transaction(db):
        fresh = devices.get_device(db, device["id"])
        wait = devices.take_rate_token(
            db, fresh, now, config["DEVICE_RATE_PER_MINUTE"], config["DEVICE_RATE_BURST"]
        )
        if wait:
            raise rate_limited(wait)
        devices.record_heartbeat(db, device["id"], data, offset_ms)
    return {"server_time": timestamp(), "ack_seq": fresh["ack_seq"]}
