"""The kiosk's settings as data: key, type, default and a line of help, defined once.

The server sends the kiosk settings in the device configuration (``"kiosk"``)
and builds its own ``KIOSK_*`` settings from ``KIOSK_SETTINGS``
(``setting.server_name``: ``KIOSK_`` + the key in capitals); the tablet falls
back to the same defaults while it has no configuration. Standard library only:
the server imports this module without pulling in the kiosk's Flask app.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class KioskSetting:
    key: str
    type: type
    default: object
    help: str

    @property
    def server_name(self):
        """The server's setting for it, e.g. ``KIOSK_VOTE_INTERVAL_SECONDS``."""
        return "KIOSK_" + self.key.upper()


KIOSK_SETTINGS = (
    KioskSetting("vote_interval_seconds", int, 5,
                "A vote sooner than this after the previous one on a tablet is recorded with the mark rapid_repeat."),
    KioskSetting("reasons_timeout_seconds", int, 20, "The reasons screen records what it has after this long."),
    KioskSetting("thanks_seconds", int, 4, 'How long "thank you" shows before the waiting screen.'),
    KioskSetting("idle_sign_out_minutes", int, 90, "Staff are signed out after this long without a vote or a tap."),
    KioskSetting("day_end", str, "17:30", "Tablet-local time (HH:MM) at which staff are signed out for the day."),
    KioskSetting("pin_max_attempts", int, 5, "Wrong PINs in a row before the staff code is locked."),
    KioskSetting("pin_lockout_minutes", int, 15, "How long a staff code stays locked after too many wrong PINs."),
)
KIOSK_DEFAULTS = {setting.key: setting.default for setting in KIOSK_SETTINGS}

# Tablet only, never sent by the server: taps this soon after a screen change
# are ignored, so a double tap on "start" does not also rate. The kiosk bench
# sets it to 0 through the cached configuration.
TAP_GUARD = KioskSetting("tap_guard_ms", int, 400, "Taps this soon after a screen change are ignored.")
TABLET_DEFAULTS = {**KIOSK_DEFAULTS, TAP_GUARD.key: TAP_GUARD.default}


def kiosk_settings(config):
    """The kiosk settings in force: the defaults, overridden by the cached configuration's ``kiosk``."""
    return {**TABLET_DEFAULTS, **((config or {}).get("kiosk") or {})}

# The configuration's top-level "heartbeat_seconds": how often the tablet
# reports to the server, which calls it late when heartbeats stop. This is
# the interval while the configuration does not say.
HEARTBEAT_SECONDS = 60
