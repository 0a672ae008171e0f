"""Opening hours per unit and public holidays: read by anyone who sees units, changed with ``calendar.write``.

Hours are given as text (``server/calendar.py``: ``"Mon-Fri
07:00-11:30,13:00-17:00; Sat 07:00-11:30"``). A unit's own hours replace
what it inherits; clearing them (empty text) makes it inherit again from its
nearest ancestor with hours, else the organisation's default (``unit``
None), which cannot be cleared. Holidays are local dates, the same for every
unit.
"""

import csv
import datetime as dt
import io
import os

from server import audit
from server import calendar as cal
from server.errors import N_, Invalid, invalid
from server.manage import not_found, require
from server.manage.org import visible_unit
from server.storage import calendar as storage
from server.storage import timestamp, write_transaction

# The Vietnamese public holidays shipped with the server (docs/admin.md says where they come from).
SHIPPED_HOLIDAYS = os.path.join(os.path.dirname(__file__), "holidays-vn.csv")


def _days(week):
    return [{"weekday": day, "day": cal.DAYS[day],
             "ranges": [{"opens": opens, "closes": closes} for opens, closes in ranges]}
            for day, ranges in sorted(week.items())]


def hours(db, actor, code=None):
    """The hours that apply to unit ``code`` (None: the organisation's default) and where they come from.

    ``own``: whether the unit has hours of its own; ``from``: the unit whose
    hours apply (its code), or None for the organisation's default.
    """
    require(actor, "units.read")
    unit = visible_unit(db, actor, "units.read", code) if code else None
    calendar = cal.Calendar(storage.all_hours(db), storage.unit_parents(db), (), "UTC")
    source = calendar.source(unit["id"]) if unit else None
    week = storage.hours_of(db, source)
    source_code = None
    if source is not None:
        source_code = unit["code"] if source == unit["id"] else storage.unit_code(db, source)
    return {"unit": code, "own": unit is not None and source == unit["id"], "from": source_code,
            "hours": cal.format_hours(week), "days": _days(week)}


def set_hours(db, actor, code, text):
    """Give unit ``code`` (None: the organisation's default) these hours; empty text clears a unit's own.

    Raises ``Invalid`` on ``hours`` with what is wrong in the text.
    """
    require(actor, "calendar.write")
    unit = visible_unit(db, actor, "units.read", code) if code else None
    text = (text or "").strip()
    if not text and unit is None:
        raise invalid("hours", N_("The organisation's default hours cannot be empty."))
    try:
        week = cal.parse_hours(text) if text else {}
    except ValueError as exc:
        raise Invalid(exc.args[0], {"hours": [exc.args[0]]}) from None
    unit_id = unit and unit["id"]
    with write_transaction(db):
        before = cal.format_hours(storage.hours_of(db, unit_id))
        storage.set_hours(db, unit_id, week)
        after = cal.format_hours(week)
        if before != after:
            audit.record(db, actor, "set_hours", "unit" if unit else "organisation", code or "default", unit_id,
                         before={"hours": before}, after={"hours": after})
    return hours(db, actor, code)


# --- Holidays ------------------------------------------------------------------------


def list_holidays(db, actor, year=None):
    require(actor, "units.read")
    return storage.holidays(db, year)


def _checked(data):
    """``(day, name_vi, name_en)`` from a dict, or ``Invalid`` naming the fields."""
    errors = {}
    day = str(data.get("day") or "").strip()
    try:
        day = dt.date.fromisoformat(day).isoformat() if len(day) == 10 else None
    except ValueError:
        day = None
    if day is None:
        errors["day"] = [N_("Not a date like 2026-09-02.")]
    name_vi = str(data.get("name_vi") or "").strip()
    if not name_vi:
        errors["name_vi"] = [N_("Give the holiday's name.")]
    if errors:
        raise Invalid(N_("The holiday is not valid."), errors)
    return day, name_vi[:200], str(data.get("name_en") or "").strip()[:200]


def add_holiday(db, actor, data):
    """Add (or rename) the holiday on ``data["day"]``."""
    require(actor, "calendar.write")
    day, name_vi, name_en = _checked(data)
    with write_transaction(db):
        before = storage.holiday(db, day)
        storage.save_holiday(db, day, name_vi, name_en, timestamp())
        after = storage.holiday(db, day)
        audit.record(db, actor, "add_holiday", "holiday", day, None, before=before, after=after)
    return after


def remove_holiday(db, actor, day):
    require(actor, "calendar.write")
    with write_transaction(db):
        before = storage.holiday(db, day)
        if before is None:
            raise not_found(N_("No holiday on this day."))
        storage.delete_holiday(db, day)
        audit.record(db, actor, "remove_holiday", "holiday", day, None, before=before)


def read_holidays_csv(text):
    """Rows of a holidays file (CSV with columns day, name_vi, name_en; ``#`` lines are comments)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    if not reader.fieldnames or not {"day", "name_vi"} <= set(reader.fieldnames):
        raise invalid("file", N_("A holidays file is CSV with the columns day, name_vi, name_en."))
    return list(reader)


def import_holidays(db, actor, text=None):
    """Add every holiday of a CSV file (the shipped Vietnamese list when ``text`` is None), in one change.

    Days already present get the file's names. Returns the days added or renamed.
    """
    require(actor, "calendar.write")
    if text is None:
        with open(SHIPPED_HOLIDAYS, encoding="utf-8") as handle:
            text = handle.read()
    rows = read_holidays_csv(text)
    checked, errors = [], {}
    for number, row in enumerate(rows, start=2):
        try:
            checked.append(_checked(row))
        except Invalid as exc:
            errors[f"line {number}"] = [f"{field}: {' '.join(map(str, m))}" for field, m in exc.fields.items()]
    if errors:
        raise Invalid(N_("The holidays file has errors; nothing was imported."), errors)
    now = timestamp()
    with write_transaction(db):
        changed = []
        for day, name_vi, name_en in checked:
            old = storage.holiday(db, day)
            if old != {"day": day, "name_vi": name_vi, "name_en": name_en}:
                storage.save_holiday(db, day, name_vi, name_en, now)
                changed.append(day)
        audit.record(db, actor, "import_holidays", "holiday", None, None,
                     after={"days": changed, "rows": len(checked)})
    return {"rows": len(checked), "changed": changed}
