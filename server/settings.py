"""Every server setting as data: name, default and a line of help.

``create_app`` loads these defaults, then ``instance/config.py`` if present,
then ``HAILONG_*`` environment variables (``HAILONG_DATABASE=...``).
``docs/settings.md`` documents each one and a test keeps the two in step.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str


SETTINGS = (
    Setting("DATABASE", "instance/hailong.db", "Path of the server's SQLite database file."),
    Setting("SECRET_KEY", "dev", "Flask secret key; set a long random value in production."),
    Setting(
        "MAX_CONTENT_LENGTH",
        2 * 1024 * 1024,
        "Largest request body in bytes; larger bodies get 413 body_too_large.",
    ),
    Setting("MAX_BATCH_VOTES", 500, "Most items (votes, staff events) in one batch; more gets 413 batch_too_large."),
    Setting(
        "DEVICE_RATE_PER_MINUTE",
        120,
        "Write requests (batches, heartbeats) a device may make per minute on average.",
    ),
    Setting(
        "DEVICE_RATE_BURST",
        60,
        "Write requests a device may make back to back before DEVICE_RATE_PER_MINUTE applies.",
    ),
    Setting(
        "DEVICE_HEARTBEAT_SECONDS",
        60,
        "How often tablets send a heartbeat (sent in their configuration); one that misses"
        " two and a half is shown as late.",
    ),
    Setting(
        "PUBLIC_URL",
        "",
        "The address tablets reach the server at (e.g. http://10.0.0.5:8000), for enrollment links and QR"
        " codes; the pages use the address they were opened at when it is empty.",
    ),
    Setting("BUSY_TIMEOUT_MS", 10_000, "How long a write waits for SQLite's write lock."),
    Setting(
        "ENROLL_CODE_TTL_MINUTES",
        24 * 60,
        "How long an enrollment code from `hailong device-code` stays valid.",
    ),
    Setting(
        "TIMEZONE",
        "Asia/Ho_Chi_Minh",
        "Time zone of the opening hours used by the silent-device job.",
    ),
    Setting(
        "OPENING_HOURS",
        "Mon-Fri 07:30-17:00",
        "When counters are open: days and a time range; devices are expected to be heard then.",
    ),
    Setting(
        "SILENT_AFTER_MINUTES",
        15,
        "A device not heard from for this long during opening hours is marked silent.",
    ),
    Setting("JOBS_SILENT_CHECK_SECONDS", 60, "How often `hailong jobs` looks for silent devices."),
    Setting(
        "FAULT_KILL_AFTER_COMMIT_FILE",
        "",
        "Testing only: if this file exists when a batch commits, the server removes it "
        "and kills its own process group before answering (the fault test's hard case).",
    ),
    Setting("KIOSK_VOTE_INTERVAL_SECONDS", 5, "Kiosk: least time between two votes on one tablet."),
    Setting("KIOSK_REASONS_TIMEOUT_SECONDS", 20, "Kiosk: the reasons screen records what it has after this long."),
    Setting("KIOSK_THANKS_SECONDS", 4, "Kiosk: how long \"thank you\" shows before the waiting screen."),
    Setting("KIOSK_IDLE_SIGN_OUT_MINUTES", 90, "Kiosk: staff are signed out after this long without a vote or a tap."),
    Setting("KIOSK_DAY_END", "17:30", "Kiosk: tablet-local time at which staff are signed out for the day."),
    Setting("KIOSK_PIN_MAX_ATTEMPTS", 5, "Kiosk: wrong PINs in a row before the staff code is locked."),
    Setting("KIOSK_PIN_LOCKOUT_MINUTES", 15, "Kiosk: how long a staff code stays locked after too many wrong PINs."),
    # People and the admin pages (issue 4).
    Setting(
        "DEVELOPMENT",
        False,
        "Development only: session cookies lose the Secure flag so sign-in works over plain HTTP.",
    ),
    Setting("SESSION_IDLE_MINUTES", 60, "A signed-in session ends after this long without a request."),
    Setting("SESSION_MAX_HOURS", 12, "A signed-in session ends this long after sign-in, however active."),
    Setting(
        "LOGIN_MAX_FAILURES",
        5,
        "Failed sign-ins to one account within LOGIN_LOCK_MINUTES before it is refused (429).",
    ),
    Setting(
        "LOGIN_MAX_FAILURES_PER_ADDRESS",
        20,
        "Failed sign-ins from one IP address within LOGIN_LOCK_MINUTES before it is refused (429).",
    ),
    Setting("LOGIN_LOCK_MINUTES", 15, "The window over which failed sign-ins are counted."),
    Setting("PASSWORD_MIN_LENGTH", 10, "Shortest password accepted for a user account."),
    Setting("API_TOKEN_DEFAULT_DAYS", 90, "Lifetime of a personal API token when none is asked for."),
    Setting("API_TOKEN_MAX_DAYS", 365, "Longest lifetime a personal API token may be given."),
    Setting(
        "PHOTO_MAX_BYTES",
        512 * 1024,
        "Largest staff photo accepted on the admin pages and API, in bytes (JPEG, PNG or WebP).",
    ),
)

DEFAULTS = {setting.name: setting.default for setting in SETTINGS}
