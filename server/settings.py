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
    Setting("MAX_BATCH_VOTES", 500, "Most votes in one batch; more gets 413 batch_too_large."),
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
)

DEFAULTS = {setting.name: setting.default for setting in SETTINGS}
