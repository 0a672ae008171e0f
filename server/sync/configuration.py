"""What a tablet caches to work offline: where it is, who may be rated, the scale, the kiosk's timings."""

import hashlib
import json

from server.version import __version__
from server.storage import org, timestamp
from server.storage import staff as staff_storage


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
