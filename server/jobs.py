"""Background job steps. Each is a plain function of (db, settings, now) so a
test calls it directly; ``hailong jobs`` only schedules them."""

import datetime as dt
import re
import zoneinfo

from server.storage import devices

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def parse_opening_hours(spec):
    """``"Mon-Fri 07:30-17:00"`` (or ``"Mon-Sat 07:00-11:30"``) → (days, start, end).

    Raises ``ValueError`` with a readable message on anything else.
    """
    match = re.fullmatch(
        r"\s*(\w{3})(?:-(\w{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s*", spec or ""
    )
    if not match:
        raise ValueError(f"OPENING_HOURS {spec!r} is not like 'Mon-Fri 07:30-17:00'.")
    first, last, h1, m1, h2, m2 = match.groups()
    try:
        a = DAYS.index(first.lower())
        b = DAYS.index((last or first).lower())
    except ValueError:
        raise ValueError(f"OPENING_HOURS {spec!r} names an unknown day.") from None
    days = set(range(a, b + 1)) if a <= b else set(range(a, 7)) | set(range(0, b + 1))
    if (int(h2), int(m2)) == (24, 0):
        h2, m2 = 23, 59  # "until midnight"; the end minute is treated as inclusive below
    try:
        start, end = dt.time(int(h1), int(m1)), dt.time(int(h2), int(m2))
    except ValueError:
        raise ValueError(f"OPENING_HOURS {spec!r} has a time that does not exist.") from None
    if start >= end:
        raise ValueError(f"OPENING_HOURS {spec!r} must start before it ends (no overnight ranges).")
    return days, start, end


def is_open(moment, spec, timezone):
    days, start, end = parse_opening_hours(spec)
    local = moment.astimezone(zoneinfo.ZoneInfo(timezone))
    now = local.time()
    return local.weekday() in days and start <= now and (now < end or end == dt.time(23, 59) and now.hour == 23)


def check_silent_devices(db, settings, now):
    """Mark devices not heard from for SILENT_AFTER_MINUTES during opening hours.

    Outside opening hours tablets are expected to be off, so nothing is
    marked. Returns the ids newly marked silent.
    """
    if not is_open(now, settings["OPENING_HOURS"], settings["TIMEZONE"]):
        return []
    cutoff = now - dt.timedelta(minutes=settings["SILENT_AFTER_MINUTES"])
    return devices.mark_silent_devices(db, cutoff)


def roll_up_votes(db, settings, now):
    """Add new votes to the daily rollups, recount the (day, staff) pairs whose standing changed, then
    freeze a revision of every closed period that got late votes or changed standings.

    Returns ``{"votes", "pairs", "watermark", "waiting_at", "revisions": [...]}``
    (``server/scoring/rollups.py``, ``server/scoring/periods.py``).
    """
    from server.scoring import parameters, periods, rollups

    done = rollups.roll_up(db, settings["TIMEZONE"], chunk=settings["ROLLUP_CHUNK_VOTES"])
    done["revisions"] = periods.revise_pending(db, parameters.params_from_settings(settings), settings["TIMEZONE"])
    return done
