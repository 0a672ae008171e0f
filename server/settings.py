"""Every server setting as data – name, default (which gives its type), a line of help, a check –
and the one way they are read.

``load`` reads, in order: the defaults, ``<INSTANCE>/config.py`` if present,
then ``HAILONG_*`` environment variables (``HAILONG_MAX_BATCH_VOTES=200``).
The app, the CLI and ``hailong jobs`` all start from it, so a setting that is
unknown, of the wrong type or out of range stops each of them with one clear
line (``SettingsError``) instead of a traceback later. ``docs/settings.md``
documents each setting and a test keeps the two in step.
"""

import dataclasses
import difflib
import os
import re
import zoneinfo
from typing import Callable

from flask import Flask

from device_client.settings import KIOSK_SETTINGS


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it and says why."""


def positive(value):
    if value < 1:
        raise ValueError("must be 1 or more")


def not_negative(value):
    if value < 0:
        raise ValueError("must be 0 or more")


def log_name(value):
    # A signed note's key name holds no space and no "+" (the verifier key is NAME+ID+KEY): C2SP signed-note.
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", value):
        raise ValueError("must be 1 to 100 letters, digits, dots, dashes or underscores, no spaces")


def probability_percent(value):
    if not 50 <= value <= 99:
        raise ValueError("must be a percentage from 50 to 99")


def grades_spec(value):
    from server.scoring.parameters import parse_grades

    parse_grades(value)  # its ValueError says what is wrong


def time_zone(value):
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("is not a time zone name like Asia/Ho_Chi_Minh") from None


def clock_time(value):
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError("is not a time like 17:30")


def url_or_empty(value):
    if value and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise ValueError("is not an http:// or https:// address")


def mail_address(value):
    import email.utils

    name, address = email.utils.parseaddr(value)
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise ValueError("is not a mail address like 'Hài lòng <hailong@example.gov.vn>'")


def port(value):
    if not 1 <= value <= 65535:
        raise ValueError("is not a port (1 to 65535)")


def smtp_security(value):
    if value not in ("starttls", "ssl", "none"):
        raise ValueError("is not one of starttls, ssl, none")


def percent(value):
    if not 1 <= value <= 100:
        raise ValueError("must be between 1 and 100")


def day_of_month(value):
    if not 1 <= value <= 28:
        raise ValueError("must be between 1 and 28 (every month has it)")


def hour(value):
    if not 0 <= value <= 23:
        raise ValueError("must be between 0 and 23")


def logging_format(value):
    if value not in ("json", "text"):
        raise ValueError("must be json or text")


def logging_level(value):
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")


# The server's range checks of the kiosk settings (all others must be 1 or more).
KIOSK_CHECKS = {"vote_interval_seconds": not_negative, "day_end": clock_time}


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str
    check: Callable | None = None

    @property
    def type(self):
        return type(self.default)


SETTINGS = (
    Setting(
        "INSTANCE",
        "instance",
        "Folder of the server's own files: config.py, the database (unless DATABASE says otherwise) and staged"
        " imports. Read from HAILONG_INSTANCE or `hailong --instance` only; a relative path is taken from the"
        " folder the command starts in.",
    ),
    Setting("DATABASE", "", "Path of the server's SQLite database file (default: hailong.db in INSTANCE)."),
    Setting(
        "DATABASE_URL",
        "",
        "Where the data lives, as a URL: `sqlite:///instance/hailong.db` (a relative path after the three"
        " slashes, an absolute one after four) or `postgresql://user@host/db` (docs/scaling.md). Wins over"
        " DATABASE; empty means DATABASE.",
        check=lambda value: value and database_url(value),
    ),
    Setting(
        "POSTGRES_POOL_SIZE",
        8,
        "PostgreSQL only: connections each `hailong serve` worker process keeps open (at least its threads).",
        check=positive,
    ),
    Setting(
        "SECRET_KEY",
        "dev",
        "Flask secret key: signs the session cookies. `hailong migrate` writes a random one into"
        " INSTANCE/config.py; `hailong serve` refuses this default unless DEVELOPMENT is on.",
    ),
    Setting(
        "MAX_CONTENT_LENGTH",
        2 * 1024 * 1024,
        "Largest request body in bytes; larger bodies get 413 body_too_large.",
        positive,
    ),
    Setting(
        "MAX_BATCH_VOTES",
        500,
        "Most items (votes, staff events) in one batch; more gets 413 batch_too_large.",
        positive,
    ),
    Setting(
        "DEVICE_RATE_PER_MINUTE",
        120,
        "Write requests (batches, heartbeats) a device may make per minute on average.",
        positive,
    ),
    Setting(
        "DEVICE_RATE_BURST",
        60,
        "Write requests a device may make back to back before DEVICE_RATE_PER_MINUTE applies.",
        positive,
    ),
    Setting(
        "DEVICE_HEARTBEAT_SECONDS",
        60,
        "How often tablets send a heartbeat (sent in their configuration); one that misses two and a half"
        " is shown as late.",
        positive,
    ),
    Setting(
        "PUBLIC_URL",
        "",
        "The address tablets reach the server at (e.g. http://10.0.0.5:8000), for enrollment links and QR"
        " codes; the pages use the address they were opened at when it is empty.",
        url_or_empty,
    ),
    Setting(
        "VOTE_CLOCK_TOLERANCE_SECONDS",
        300,
        "A vote or sign-in whose time, corrected by the tablet's measured clock offset, lies this far in the"
        " future or before the device's enrollment is refused (and kept as an incident).",
        not_negative,
    ),
    Setting(
        "CLOCK_CORRECTION_SECONDS",
        60,
        "A vote whose tablet clock was off by more than this (measured at sync) counts at its time corrected by"
        " the offset, and says so (time_corrected); within it, the tablet's own time is used.",
        not_negative,
    ),
    Setting(
        "INCIDENTS_PER_DEVICE_PER_DAY",
        1000,
        "Refused items (rejections, conflicts) kept per device and day; past it they are answered and only"
        " counted, so a device cannot fill the disk.",
        positive,
    ),
    Setting(
        "INCIDENT_PAYLOAD_MAX_BYTES",
        4096,
        "A refused item is kept with at most this much of its payload (the start, marked as cut).",
        positive,
    ),
    Setting("BUSY_TIMEOUT_MS", 10_000, "How long a write waits for SQLite's write lock.", positive),
    Setting(
        "ENROLL_CODE_TTL_MINUTES",
        24 * 60,
        "How long an enrollment code from `hailong device-code` stays valid.",
        positive,
    ),
    Setting(
        "TIMEZONE",
        "Asia/Ho_Chi_Minh",
        "The province's time zone: opening hours, periods, and every time shown on the pages and by the CLI.",
        time_zone,
    ),
    Setting(
        "SILENT_AFTER_MINUTES",
        15,
        "A device not heard from for this long while its unit is open (its opening hours, not a holiday) is"
        " marked silent.",
        positive,
    ),
    Setting("JOBS_SILENT_CHECK_SECONDS", 60, "How often `hailong jobs` looks for silent devices.", positive),
    Setting("JOBS_LEADER_POLL_SECONDS", 5, "PostgreSQL only: how often a standby `hailong jobs` tries to lead and"
            " the leader checks it still holds the lock.", positive),
    Setting(
        "FAULT_KILL_AFTER_COMMIT_FILE",
        "",
        "Testing only: if this file exists when a batch commits, the server removes it "
        "and kills its own process group before answering (the fault test's hard case).",
    ),
    # The kiosk's timings and PIN limits: defined once in device_client/settings.py
    # (the tablet's fallbacks), sent to tablets in their configuration.
    *(Setting(kiosk.server_name, kiosk.default, "Kiosk: " + kiosk.help, KIOSK_CHECKS.get(kiosk.key, positive))
      for kiosk in KIOSK_SETTINGS),
    # People and the admin pages (issue 4).
    Setting(
        "DEVELOPMENT",
        False,
        "Development only: session cookies lose the Secure flag so sign-in works over plain HTTP, and"
        " `hailong serve` accepts the default SECRET_KEY.",
    ),
    Setting("SESSION_IDLE_MINUTES", 60, "A signed-in session ends after this long without a request.", not_negative),
    Setting("SESSION_MAX_HOURS", 12, "A signed-in session ends this long after sign-in, however active.", positive),
    Setting(
        "LOGIN_MAX_FAILURES",
        5,
        "Wrong passwords for one account within LOGIN_LOCK_MINUTES (at sign-in, or entered again to change the"
        " password or make a token) before it is refused (429).",
        positive,
    ),
    Setting(
        "LOGIN_MAX_FAILURES_PER_ADDRESS",
        20,
        "Wrong passwords from one IP address within LOGIN_LOCK_MINUTES before it is refused (429).",
        positive,
    ),
    Setting("LOGIN_LOCK_MINUTES", 15, "The window over which wrong passwords are counted.", positive),
    Setting(
        "PASSWORD_MIN_LENGTH",
        10,
        "Shortest password accepted for a user account (common ones and ones containing the username are refused).",
        positive,
    ),
    Setting("API_TOKEN_DEFAULT_DAYS", 90, "Lifetime of a personal API token when none is asked for.", positive),
    Setting("API_TOKEN_MAX_DAYS", 365, "Longest lifetime a personal API token may be given.", positive),
    # Accounts, tokens and sign-in behind a proxy or on a trial LAN (issue 8).
    Setting(
        "TRUSTED_PROXIES",
        0,
        "How many reverse proxies in front of `hailong serve` to believe about the client's address, scheme"
        " and host (X-Forwarded-For, -Proto, -Host); 0 when browsers connect directly.",
        not_negative,
    ),
    Setting(
        "INSECURE_HTTP_TRIAL",
        False,
        "Closed-LAN trial only: sign-in works over plain HTTP (session cookies without Secure), so passwords"
        " and sessions cross the network readable by anyone on it; `hailong serve` warns at every start.",
    ),
    Setting(
        "PHOTO_MAX_BYTES",
        512 * 1024,
        "Largest staff photo accepted (pages, API and `hailong staff photo`), in bytes (JPEG, PNG or WebP).",
        positive,
    ),
    # Evaluation: rollups, scores and periods (issue 9; server/scoring/, docs/scoring.md, docs/hr.md).
    Setting("JOBS_ROLLUP_SECONDS", 60, "How often `hailong jobs` adds new votes to the daily rollups (and makes"
            " revisions of closed periods that got late votes).", positive),
    Setting("ROLLUP_CHUNK_VOTES", 5_000, "Votes added to the rollups per write transaction: the ingest waits at"
            " most one chunk for the write lock.", positive),
    Setting("SCORE_MIN_VOTES", 30, "Fewest votes (counted) in a period for a grade; below it the grade is"
            " \"insufficient data\".", not_negative),
    Setting("SCORE_PRIOR_MAX_STRENGTH", 200, "Cap on the strength (alpha + beta) of a unit's prior, so a large unit"
            " cannot swamp a busy person's own votes.", positive),
    Setting("SCORE_CREDIBLE_PERCENT", 95, "Width of the credible interval around each score, in percent.",
            probability_percent),
    Setting("SCORE_GRADE_PROBABILITY_PERCENT", 50, "A grade is awarded when the probability that the true rate"
            " clears its threshold reaches this percentage.", probability_percent),
    Setting("SCORE_FLOOR_PROBABILITY_PERCENT", 90, "The lowest grade is given only when the probability that the"
            " true rate is below the next threshold reaches this percentage.", probability_percent),
    Setting("SCORE_GRADES",
            "excellent 95 Hoàn thành xuất sắc / Excellent; good 85 Hoàn thành tốt / Good;"
            " completed 70 Hoàn thành / Completed; not_completed 0 Không hoàn thành / Not completed",
            "Grades best first, separated by `;`: a code, the lowest true satisfaction rate in percent, the"
            " Vietnamese name, `/`, the English name. The last threshold is 0.", grades_spec),
    # The tamper-evident log and exports (issue 10; server/ledger/, server/exports/, docs/verify.md).
    Setting("LOG_NAME", "hailong", "Name of this server's log: the first word of every checkpoint's origin line"
            " (`LOG_NAME/votes`) and the name its signing key goes by. Set it once, before the first checkpoint,"
            " to something that names the province (e.g. `hailong.danang.gov.vn`).", log_name),
    Setting("JOBS_LOG_APPEND_SECONDS", 5, "How often `hailong jobs` appends new votes, sign-in events and audit"
            " entries to their Merkle trees (the log's merge delay is at most this plus one chunk).", positive),
    Setting("LOG_CHUNK_LEAVES", 5_000, "Leaves appended per write transaction: the ingest waits at most one chunk"
            " for the write lock.", positive),
    Setting("LOG_CHECKPOINT_MINUTES", 60, "How often `hailong jobs` signs a checkpoint of a tree that grew; one is"
            " signed at least every 24 hours even when none did.", positive),
    # Alerts, email and the monthly unit report (issue 9, server/notify/).
    Setting(
        "SMTP_HOST",
        "",
        "Mail server for alerts and monthly reports; empty: email is off (alerts still show on the pages, no"
        " mail is queued or sent, and `hailong jobs` says so when it starts).",
    ),
    Setting("SMTP_PORT", 587, "Mail server port: 587 for STARTTLS, 465 for SSL, 25 for none.", port),
    Setting("SMTP_USER", "", "User name to sign in to the mail server; empty: send without signing in."),
    Setting("SMTP_PASSWORD", "", "Password for SMTP_USER; never logged or shown."),
    Setting(
        "SMTP_FROM",
        "hailong@localhost",
        "The sender of every mail, e.g. 'Hài lòng <hailong@dongnai.gov.vn>'.",
        mail_address,
    ),
    Setting(
        "SMTP_SECURITY",
        "starttls",
        "How the connection to the mail server is protected: starttls, ssl, or none (a relay on this machine).",
        smtp_security,
    ),
    Setting("SMTP_TIMEOUT_SECONDS", 30, "How long to wait for the mail server before a try counts as failed.",
            positive),
    Setting(
        "EMAIL_RETRY_SECONDS",
        60,
        "Wait before trying a failed mail again; doubled after each failed try up to EMAIL_RETRY_MAX_SECONDS."
        " Mail is never dropped: a mail server that is down delays it.",
        positive,
    ),
    Setting("EMAIL_RETRY_MAX_SECONDS", 3600, "Longest wait between two tries of one mail.", positive),
    Setting("JOBS_EMAIL_SECONDS", 60, "How often `hailong jobs` sends the mail waiting in the outbox.", positive),
    Setting("JOBS_ALERTS_SECONDS", 300, "How often `hailong jobs` checks the alert thresholds.", positive),
    Setting(
        "ALERT_NEGATIVE_PERCENT",
        40,
        "Alert when at least this share (percent) of a counter's votes in ALERT_NEGATIVE_WINDOW_MINUTES are"
        " not satisfied (under each vote's own scale version).",
        percent,
    ),
    Setting("ALERT_NEGATIVE_MIN_VOTES", 10, "Votes a counter needs in the window before its negative share can"
            " raise an alert.", positive),
    Setting("ALERT_NEGATIVE_WINDOW_MINUTES", 120, "The window of the negative-share alert; one alert per counter"
            " and window.", positive),
    Setting(
        "REPORT_DAY",
        1,
        "Day of the month (1-28) on which each unit's managers get last month's report by email.",
        day_of_month,
    ),
    Setting("REPORT_HOUR", 7, "Local hour (0-23, TIMEZONE) on REPORT_DAY at which the reports are sent.", hour),
    # The nightly anomaly scan (issue 9; server/scoring/scan.py, docs/hr.md, docs/scoring.md).
    Setting("SCAN_HOUR", 2, "Local hour (0-23, TIMEZONE) at which `hailong jobs` scans the day before for"
            " anomalies (and any day missed since the last scan, up to a week).", hour),
    Setting("SCAN_FDR_PERCENT", 5, "The scan flags a finding when its Benjamini-Hochberg q-value is at most this"
            " percentage: the share of a night's flags expected to be false alarms on honest staff.", percent),
    Setting("SCAN_BASELINE_WEEKS", 8, "Weeks of each person's own votes before the scanned day that say how many"
            " votes per hour of the week are normal for them.", positive),
    # Operations (issue 11): backups, logs, metrics (docs/operations.md).
    Setting("BACKUP_DIR", "", "Folder of the backups `hailong backup` and `hailong jobs` write (default: backups"
            " beside the database, so in INSTANCE when the database is there). Put it on another disk, and copy it"
            " off the machine."),
    Setting("BACKUP_EVERY_HOURS", 6, "How often `hailong jobs` takes an online backup of the database; 0: never"
            " (take them another way). The most votes a lost disk can cost is what arrived since the last one"
            " and is not still on the tablets.", not_negative),
    Setting("BACKUP_KEEP_RECENT", 8, "Backups kept however old: the newest this many.", positive),
    Setting("BACKUP_KEEP_DAILY", 14, "Beyond the newest, one backup a day is kept for this many days.", not_negative),
    Setting("BACKUP_KEEP_MONTHLY", 12, "Beyond those, one backup a month is kept for this many months.",
            not_negative),
    Setting("LOGGING_FORMAT", "json", "How `hailong serve` and `hailong jobs` write their logs: json (one object a"
            " line, for a log collector) or text (for a person at a terminal).", logging_format),
    Setting("LOGGING_LEVEL", "INFO", "The least severe log lines written: DEBUG, INFO, WARNING or ERROR.",
            logging_level),
    Setting("METRICS_TOKEN", "", "Bearer token a Prometheus server must send to read /metrics; empty: /metrics"
            " answers only requests from this machine (127.0.0.1, ::1)."),
)

BY_NAME = {setting.name: setting for setting in SETTINGS}
# Settings that were removed, and where what they did lives now: an old config naming one gets this.
REMOVED = {
    "OPENING_HOURS": "opening hours are now kept per unit in the database, with public holidays: set them"
                     " with `hailong hours set UNIT \"Mon-Fri 07:00-11:30,13:00-17:00\"` (or `hailong hours"
                     " set-default ...`) or on the unit's admin page, and remove OPENING_HOURS (see docs/admin.md,"
                     " \"Opening hours and holidays\")",
}
DEFAULTS = {setting.name: setting.default for setting in SETTINGS}
PREFIX = "HAILONG_"
# Environment variables with our prefix that are not server settings.
OTHER_VARIABLES = {
    "HAILONG_DEVICE_DIR": "the tablet's data folder (hailong-device)",
    "HAILONG_FAULT_SEED": "tests: replays a fault campaign's random choices",
}
# Flask's and its extensions' own keys may also be set in config.py.
FOREIGN_PREFIXES = ("WTF_", "BABEL_", "SESSION_COOKIE_")
TRUE_WORDS, FALSE_WORDS = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def config_file(instance):
    """The instance's ``config.py``."""
    return os.path.join(instance, "config.py")


def names_in_config_file(instance):
    """The settings ``<instance>/config.py`` assigns (none when there is no such file)."""
    return set(_from_config_file(instance))


def serving_problem(config):
    """Why ``hailong serve`` must not start with these settings, in one line; None when it may."""
    if config["SECRET_KEY"] in ("", DEFAULTS["SECRET_KEY"]) and not config["DEVELOPMENT"]:
        return (f"SECRET_KEY is the built-in default, so anyone could forge a session cookie: run `hailong"
                f" migrate` to write a random one into {config_file(config['INSTANCE'])}, or set"
                " HAILONG_SECRET_KEY (see docs/settings.md).")
    return None


def load(overrides=None, environ=None):
    """The settings: defaults, ``<INSTANCE>/config.py``, ``HAILONG_*``, then ``overrides``.

    Every value is checked for its type and range. Raises ``SettingsError``.
    """
    environ = os.environ if environ is None else environ
    from_env = _from_environment(environ)
    values = dict(DEFAULTS)
    instance = (overrides or {}).get("INSTANCE") or from_env.get("INSTANCE") or DEFAULTS["INSTANCE"]
    values.update(_from_config_file(os.path.abspath(instance)))
    values.update(from_env)
    values.update(overrides or {})
    values["INSTANCE"] = instance
    return check(values)


def database_url(value):
    """The database a DATABASE_URL names: a SQLite file's path, or the ``postgresql://`` URL itself."""
    if value.startswith(("postgresql://", "postgres://")):
        return value
    if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
        return value[len("sqlite:///"):]
    raise ValueError("is neither sqlite:///PATH nor postgresql://USER@HOST/DATABASE")


def check(values):
    """Check known settings' types and ranges (unknown keys pass: Flask's own).

    Makes INSTANCE absolute and fills in DATABASE when it is left empty.
    """
    for name, value in values.items():
        if name in REMOVED:
            raise SettingsError(f"{name} is no longer a setting: {REMOVED[name]}.")
        setting = BY_NAME.get(name)
        if setting is None:
            continue
        if not _is_type(value, setting.type):
            raise SettingsError(f"{name} is {value!r}, not {_type_words(setting.type)}.")
        if setting.check:
            try:
                setting.check(value)
            except ValueError as exc:
                why = str(exc)
                raise SettingsError(why if why.startswith(name) else f"{name} {value!r} {why}.") from None
    values["INSTANCE"] = os.path.abspath(values["INSTANCE"])
    if values.get("DATABASE_URL"):
        values["DATABASE"] = database_url(values["DATABASE_URL"])
    if not values.get("DATABASE"):
        values["DATABASE"] = os.path.join(values["INSTANCE"], "hailong.db")
    return values


def _is_type(value, kind):
    if kind is int:
        return type(value) is int
    return isinstance(value, kind)


def _type_words(kind):
    return {int: "a whole number", bool: "true or false", str: "text"}.get(kind, kind.__name__)


def _from_environment(environ):
    values = {}
    for key, text in environ.items():
        if not key.startswith(PREFIX) or key in OTHER_VARIABLES:
            continue
        name = key[len(PREFIX):]
        setting = BY_NAME.get(name)
        if name in REMOVED:
            raise SettingsError(f"{key} is no longer a setting: {REMOVED[name]}.")
        if setting is None:
            raise SettingsError(f"{key} is not a setting{_suggestion(name, PREFIX)} (see docs/settings.md).")
        values[name] = _parse(key, text, setting.type)
    return values


def _parse(key, text, kind):
    if kind is bool:
        word = text.strip().lower()
        if word in TRUE_WORDS | FALSE_WORDS:
            return word in TRUE_WORDS
        raise SettingsError(f"{key}={text!r} is not true or false.")
    if kind is int:
        try:
            return int(text.strip())
        except ValueError:
            raise SettingsError(f"{key}={text!r} is not a whole number.") from None
    return text


def _from_config_file(instance):
    """The upper-case names ``<instance>/config.py`` assigns (Python, like Flask's from_pyfile)."""
    path = config_file(instance)
    if not os.path.exists(path):
        return {}
    scope = {"__file__": path}
    with open(path, "rb") as handle:
        exec(compile(handle.read(), path, "exec"), scope)  # the operator's own file, as Flask reads it
    values = {name: value for name, value in scope.items() if name.isupper()}
    for name in values:
        if name in REMOVED:
            raise SettingsError(f"{path} sets {name}, which is no longer a setting: {REMOVED[name]}.")
        if name not in BY_NAME and name not in Flask.default_config and not name.startswith(FOREIGN_PREFIXES):
            raise SettingsError(f"{path} sets {name}, which is not a setting{_suggestion(name)} (see docs/settings.md).")
    return values


def _suggestion(name, prefix=""):
    close = difflib.get_close_matches(name, BY_NAME, n=1, cutoff=0.75)
    return f"; did you mean {prefix}{close[0]}?" if close else ""
