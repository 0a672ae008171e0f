"""The monthly unit report: a unit's scores for a month beside the month before, its flags and alerts.

The same report is the printable page (``/reports/UNIT/2026-10``), the file
``hailong report`` writes, and the mail the unit's managers get on
``REPORT_DAY`` at ``REPORT_HOUR`` (``queue_monthly_reports``, a ``hailong
jobs`` step; once per unit and month, by the outbox key ``report:UNIT:MONTH``).
The scores come from ``server.manage.scores.period_scores``.
"""

import datetime as dt
import re
import zoneinfo

from server.errors import N_, invalid
from server.manage import not_found, require
from server.manage.actor import Actor
from server.notify import email_on, mail
from server.storage import accounts, org, outbox, reports
from device_client.protocol import format_utc

PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
# The jobs process reads every unit's scores as the CLI does, recorded as "jobs".
JOBS_ACTOR = Actor(kind="cli", name="jobs", address="hailong jobs")


def previous_month(period):
    year, month = map(int, period.split("-"))
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def _month_span(period, timezone):
    """The month's first local midnight and the next month's, as UTC text."""
    year, month = map(int, period.split("-"))
    zone = zoneinfo.ZoneInfo(timezone)
    start = dt.datetime(year, month, 1, tzinfo=zone)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return format_utc(start), format_utc(end)


def _change(now, before, key):
    if not now or not before or now.get(key) is None or before.get(key) is None:
        return None
    return now[key] - before[key]


def unit_report(db, actor, unit_code, period, settings):
    """The report of ``unit_code`` (and the units below it) for the month ``period`` (``2026-10``).

    ``settings``: the server's (``TIMEZONE`` and the scores' own settings).
    """
    from server.manage import scores  # H4's action; imported here so this module loads without it

    require(actor, "scores.read")
    if not isinstance(period, str) or not PERIOD.fullmatch(period):
        raise invalid("period", N_("A month like 2026-10."))
    unit = org.unit_by_code(db, unit_code)
    if unit is None or not actor.reaches(db, "scores.read", unit["id"]):
        raise not_found(N_("No unit with this code."))
    current = scores.period_scores(db, actor, period, unit_code, settings=settings)
    before = scores.period_scores(db, actor, previous_month(period), unit_code, settings=settings)
    subtree = accounts.subtree_ids(db, [unit["id"]])
    start, end = _month_span(period, settings["TIMEZONE"])
    staff = current.get("staff") or []
    grades = {}
    for row in staff:
        grades[row.get("grade") or "insufficient"] = grades.get(row.get("grade") or "insufficient", 0) + 1
    total, previous_total = current.get("total") or {}, before.get("total") or {}
    return {
        "unit": {"code": unit["code"], "name": unit["name"]},
        "period": current.get("period") or {"key": period},
        "previous_period": before.get("period") or {"key": previous_month(period)},
        "total": total,
        "previous_total": previous_total,
        "change": {"n": _change(total, previous_total, "n"), "rate": _change(total, previous_total, "rate"),
                   "index": _change(total, previous_total, "index")},
        "units": current.get("units") or [],
        "staff": sorted(staff, key=lambda r: (r.get("unit_code") or r.get("unit") or "", r.get("code") or "")),
        "grades": grades,
        "flags": reports.flag_counts(db, subtree, start, end),
        "alerts": reports.alert_counts(db, subtree, start, end),
        "votes": current.get("votes") or {},
        "parameters": current.get("parameters") or {},
    }


def report_due(settings, now):
    """The month whose reports are due at ``now`` (the one before the local month), or None before
    ``REPORT_DAY`` at ``REPORT_HOUR``."""
    local = now.astimezone(zoneinfo.ZoneInfo(settings["TIMEZONE"]))
    if (local.day, local.hour) < (settings["REPORT_DAY"], settings["REPORT_HOUR"]):
        return None
    return previous_month(f"{local.year}-{local.month:02d}")


def queue_monthly_reports(db, settings, now, render):
    """Queue last month's report for each unit with a manager to mail, once per unit and month.

    ``render(report)`` → ``(subject, text, html)`` (the pages' template, in
    ``server/web/reports.py``). Returns the codes of the units queued.
    """
    period = report_due(settings, now)
    if period is None or not email_on(settings):
        return []
    queued = []
    for unit in reports.active_units(db):
        key = f"report:{unit['code']}:{period}"
        recipients = outbox.managers_emails(db, unit["id"])
        if not recipients or outbox.by_key(db, key):
            continue
        report = unit_report(db, JOBS_ACTOR, unit["code"], period, settings)
        subject, text, html = render(report)
        if mail.queue(db, settings, key, "report", recipients, subject, text, html, now):
            queued.append(unit["code"])
    return queued


