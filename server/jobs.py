"""Background job steps. Each is a plain function of (db, settings, now) so a
test calls it directly; ``hailong jobs`` only schedules them."""

import datetime as dt

from server import calendar
from server.storage import connect, devices


def check_silent_devices(db, settings, now):
    """Mark devices not heard from for SILENT_AFTER_MINUTES while their counter's unit is open.

    Outside a unit's opening hours (``server/calendar.py``: its own, its
    nearest ancestor's or the organisation's, and never on a public holiday)
    its tablets are expected to be off, so nothing is marked. Returns the ids
    newly marked silent.
    """
    hours = calendar.load(db, settings["TIMEZONE"])
    cutoff = now - dt.timedelta(minutes=settings["SILENT_AFTER_MINUTES"])
    return devices.mark_silent_devices(db, cutoff, lambda unit_id: hours.is_open(unit_id, now))


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


def run_step(database, settings, step):
    """Run one job step on a connection of its own, closed after it.

    ``hailong jobs`` hands APScheduler module-level targets that call this:
    each run opens a fresh connection, so a failed run leaves nothing open.
    """
    db = connect(database, settings["BUSY_TIMEOUT_MS"])
    try:
        return step(db, settings, dt.datetime.now(dt.timezone.utc))
    finally:
        db.close()
