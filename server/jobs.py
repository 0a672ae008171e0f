"""Background job steps. Each is a plain function of (db, settings, now) so a
test calls it directly; ``hailong jobs`` only schedules them."""

import datetime as dt
import logging
import time

from server import calendar
from server.monitoring import logs
from server.storage import connect, devices, operations, partitions, timestamp

log = logging.getLogger("hailong.jobs")


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


# A month always has its partition well before its first vote, even after a few days without ``hailong jobs``.
PARTITION_MONTHS_AHEAD = 3


def make_vote_partitions(db, settings, now):
    """PostgreSQL: make the monthly vote partitions PARTITION_MONTHS_AHEAD months ahead, moving any votes the
    default partition holds into theirs (``server/storage/partitions.py``); returns the partitions made."""
    return partitions.ensure(db, ahead=PARTITION_MONTHS_AHEAD, today=now.date())


def run_step(database, settings, step):
    """Run one job step on a connection of its own, closed after it, and record the run in ``job_runs``.

    ``hailong jobs`` hands APScheduler module-level targets that call this:
    each run opens a fresh connection, so a failed run leaves nothing open.
    The run is recorded under the job's APScheduler id (``as_job`` names it;
    the step's name when run otherwise), its start and its end each in a
    short transaction of their own. A record that cannot be written (a full
    disk) is logged and never hides the step's own result or error.
    """
    job = logs.JOB.get() or step.__name__
    db = connect(database, settings["BUSY_TIMEOUT_MS"])
    try:
        started = dt.datetime.now(dt.timezone.utc)
        clock = time.monotonic()
        _record(db, job, operations.job_started, job, timestamp(started))
        try:
            result = step(db, settings, started)
        except Exception as exc:
            error = logs.redact(f"{type(exc).__name__}: {exc}")[:ERROR_CHARS]
            _record(db, job, operations.job_finished, job, timestamp(started), timestamp(),
                    time.monotonic() - clock, error)
            raise
        _record(db, job, operations.job_finished, job, timestamp(started), timestamp(), time.monotonic() - clock)
        return result
    finally:
        db.close()


# A run's error as job_runs keeps it: its first line's worth (the traceback is in the log).
ERROR_CHARS = 500


def _record(db, job, write, *args):
    """``write(db, *args)`` on a clean connection; a failure is logged, not raised."""
    try:
        if db.conn.in_transaction:  # what a failed step left open is not ours to commit
            db.conn.execute("ROLLBACK")
        write(db, *args)
    except Exception as exc:  # noqa: BLE001 - the job's own outcome matters more than its record
        log.warning("job %s: its run could not be recorded in job_runs: %s", job, exc)


def as_job(job_id, target, *args, **kwargs):
    """Call a scheduled job's ``target`` with its APScheduler id in the context, for ``run_step`` and the logs."""
    token = logs.JOB.set(job_id)
    try:
        return target(*args, **kwargs)
    finally:
        logs.JOB.reset(token)
