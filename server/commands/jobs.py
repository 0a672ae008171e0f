"""``hailong jobs``: the one process that runs scheduled work (never web workers)."""

import datetime as dt
import functools
import logging
import signal
import threading

import click

from server import jobs as job_steps
from server import storage
from server.monitoring import logs

log = logging.getLogger("hailong.jobs")


def silent_devices_job(database, settings):
    """Module-level target, as APScheduler wants (``run_step``: one fresh connection per run)."""
    marked = job_steps.run_step(database, settings, job_steps.check_silent_devices)
    if marked:
        log.warning("devices silent during opening hours: %s", ", ".join(marked))


def build_scheduler(settings, say):
    """A scheduler holding every job ``hailong jobs`` runs, not started (one per stint as leader)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone=settings["TIMEZONE"])
    scheduler.add_job(
        silent_devices_job,
        "interval",
        seconds=settings["JOBS_SILENT_CHECK_SECONDS"],
        args=[settings["DATABASE"], settings],
        id="silent_devices",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        next_run_time=dt.datetime.now(dt.timezone.utc),
    )
    options = {"replace_existing": True, "coalesce": True, "max_instances": 1}
    # Alerts, email and monthly unit reports (issue 9): their own block, server/commands/notify_jobs.py.
    # Daily rollups and revisions of closed periods (issue 9): server/commands/scoring_jobs.py.
    # The nightly anomaly scan (issue 9): server/commands/scan_jobs.py.
    # The tamper-evident log (issue 10): appends and signed checkpoints, server/commands/ledger_jobs.py.
    # Online backups and their retention (issue 11): server/commands/backup_jobs.py.
    # PostgreSQL's monthly vote partitions, made ahead (issue 12): server/commands/partition_jobs.py.
    from server.commands import backup_jobs, ledger_jobs, notify_jobs, partition_jobs, scan_jobs, scoring_jobs

    for block in (notify_jobs, scoring_jobs, scan_jobs, ledger_jobs, backup_jobs, partition_jobs):
        for line in block.schedule(scheduler, settings, options):
            say(f"hailong jobs: {line}")
    # Last, after every block: each job runs with its id in the context, so run_step records it in job_runs
    # under that id and its log lines carry it.
    for job in scheduler.get_jobs():
        job.modify(func=functools.partial(job_steps.as_job, job.id, job.func))
    return scheduler


@click.command()
@click.pass_obj
def jobs(obj):
    """Run scheduled jobs in the foreground until SIGTERM or Ctrl-C.

    On PostgreSQL several machines may each run it: one leads and schedules,
    the others stand by and take over within seconds when it stops.

    Example: hailong jobs
    """
    obj.db().close()  # refuses an unmigrated database
    settings = dict(obj.config)  # read and checked (TIMEZONE, SILENT_AFTER_MINUTES, ...) by the CLI
    logs.configure(settings)  # LOGGING_FORMAT, LOGGING_LEVEL: docs/operations.md, "Logs"
    say = functools.partial(logs.say, settings, "hailong.jobs")
    # A full or read-only disk: one warning line a failed run instead of a traceback (server/commands/job_storage.py).
    from server.commands import job_storage

    job_storage.install(settings["DATABASE"])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if storage.is_postgresql(settings["DATABASE"]):
            poll = settings["JOBS_LEADER_POLL_SECONDS"]
            say("hailong jobs running on PostgreSQL: one machine leads, the others stand by (checked every "
                f"{poll} s). Ctrl-C to stop.")
            _lead_or_stand_by(settings, say, stop, poll)
        else:
            scheduler = build_scheduler(settings, say)
            scheduler.start()
            say("hailong jobs running: silent_devices every "
                f"{settings['JOBS_SILENT_CHECK_SECONDS']} s. Ctrl-C to stop.")
            try:
                _wait(stop)
            finally:
                scheduler.shutdown(wait=True)
    except KeyboardInterrupt:
        pass
    say("hailong jobs stopped.")


def _wait(stop, seconds=None):
    """Sleep until ``stop`` is set (True) or ``seconds`` pass (False); Ctrl-C ends it too."""
    if seconds is not None:
        return stop.wait(seconds)
    while not stop.wait(1.0):
        pass
    return True


def _lead_or_stand_by(settings, say, stop, poll):
    """Schedule while this process holds the leader lock, stand by while another does, until ``stop``."""
    from server.commands.jobs_leader import Election

    election = Election(settings["DATABASE"], poll)
    standing_by = False
    try:
        while not stop.is_set():
            if not election.try_lead():
                if not standing_by:
                    say("hailong jobs: standby: another hailong jobs leads on this database (or it cannot be "
                        f"reached); trying again every {poll} s.")
                    standing_by = True
                _wait(stop, poll)
                continue
            standing_by = False
            scheduler = build_scheduler(settings, say)
            scheduler.start()
            say("hailong jobs: leading: silent_devices every "
                f"{settings['JOBS_SILENT_CHECK_SECONDS']} s.")
            try:
                while not _wait(stop, poll):
                    if not election.still_leading():
                        say("hailong jobs: lost the leader lock (PostgreSQL restarted or the connection "
                            "dropped): scheduling stopped until it is held again.", logging.WARNING)
                        break
            finally:
                scheduler.shutdown(wait=True)  # runs under way finish before anyone else may lead
    finally:
        election.close()
