"""Log lines for ``hailong serve`` (gunicorn's own included) and ``hailong jobs``: one JSON object a line, or text.

``LOGGING_FORMAT=json`` writes ``{"ts", "level", "logger", "msg", "pid", ...}``
to stderr, plus what the line is about when it is known: per request
``request_id``, ``method``, ``route`` (the URL rule, never the raw path or
query string, which may carry an enrollment code), ``status``, ``ms``,
``device_id``, ``user_id``; in a scheduled job ``job``. ``text`` writes the
same as ``ts LEVEL logger msg key=value ...`` for a person at a terminal.

What is logged is chosen so no secret reaches it (no bodies, headers,
cookies or query strings); as a second line of defence every line is
passed through ``redact``, which masks bearer tokens and personal API tokens.
"""

import contextvars
import datetime as dt
import json
import logging
import logging.config
import re

# The fields a line may carry beyond ts/level/logger/msg, in the order they are written.
FIELDS = ("request_id", "method", "route", "status", "ms", "device_id", "user_id", "job")
# Set around each scheduled job's run by ``hailong jobs`` (server/jobs.py ``as_job``): its APScheduler id.
JOB = contextvars.ContextVar("hailong_job", default=None)

_SECRETS = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s,;\"']+"), r"\1 [redacted]"),
    (re.compile(r"\bhlu_[A-Za-z0-9_\-]+"), "hlu_[redacted]"),
]


def redact(text):
    """``text`` with bearer tokens and API tokens masked (in case an exception message quotes a header)."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _utc(created):
    moment = dt.datetime.fromtimestamp(created, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class ContextFilter(logging.Filter):
    """Adds the request's id (inside a Flask request) and the running job's id to every line."""

    def filter(self, record):
        if getattr(record, "request_id", None) is None:
            request_id = _request_id()
            if request_id:
                record.request_id = request_id
        if getattr(record, "job", None) is None and JOB.get():
            record.job = JOB.get()
        return True


def _request_id():
    try:
        from flask import g, has_request_context
    except ImportError:  # pragma: no cover - the server always has Flask
        return None
    return g.get("request_id") if has_request_context() else None


class JsonFormatter(logging.Formatter):
    """One JSON object a line; Vietnamese stays readable (UTF-8, not escaped)."""

    def format(self, record):
        entry = {"ts": _utc(record.created), "level": record.levelname, "logger": record.name,
                 "msg": redact(record.getMessage()), "pid": record.process}
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``ts LEVEL logger msg key=value ...``, the traceback on the lines below."""

    def format(self, record):
        extras = " ".join(f"{key}={getattr(record, key)}" for key in FIELDS if getattr(record, key, None) is not None)
        line = f"{_utc(record.created)} {record.levelname} {record.name} {redact(record.getMessage())}"
        line = f"{line} {extras}" if extras else line
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


def dict_config(settings):
    """The ``logging.config.dictConfig`` of LOGGING_FORMAT and LOGGING_LEVEL; gunicorn takes it as ``logconfig_dict``.

    Everything goes to stderr through one handler on the root logger:
    gunicorn's own ``gunicorn.error`` lines propagate to it; its access log
    stays off (``server/web/monitoring.py`` writes one richer line per
    request); APScheduler's line per job run only at DEBUG.
    """
    level = settings["LOGGING_LEVEL"]
    formatter = JsonFormatter if settings["LOGGING_FORMAT"] == "json" else TextFormatter
    quiet = "DEBUG" if level == "DEBUG" else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"hailong": {"()": f"{__name__}.{formatter.__name__}"}},
        "filters": {"context": {"()": f"{__name__}.ContextFilter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": "hailong", "filters": ["context"]}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "apscheduler": {"level": quiet, "handlers": [], "propagate": True},
        },
    }


def configure(settings):
    """Set up this process's logging from the settings (``hailong jobs``; ``hailong serve`` before gunicorn)."""
    logging.config.dictConfig(dict_config(settings))


def say(settings, logger, line, level=logging.INFO):
    """A start-up line, written whatever LOGGING_LEVEL is (the operator and ``devtools/processes.py`` wait for
    them): as it is in text mode, as one JSON line in JSON mode, so a log collector reads every line."""
    import click

    if settings["LOGGING_FORMAT"] == "json":
        record = logging.getLogger(logger).makeRecord(logger, level, "(start)", 0, line, (), None)
        line = JsonFormatter().format(record)
    click.echo(line)
