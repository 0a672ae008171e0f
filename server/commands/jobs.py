"""``hailong jobs``: the one process that runs scheduled work (never web workers)."""

import datetime as dt
import functools
import logging
import signal

import click

from server import jobs as job_steps
from server.monitoring import logs

log = logging.getLogger("hailong.jobs")


def silent_devices_job(database, settings):
    """Module-level target, as APScheduler wants (``run_step``: one fresh connection per run)."""
    marked = job_steps.run_step(database, settings, job_steps.check_silent_devices)
    if marked:
        log.warning("devices silent during opening hours: %s", ", ".join(marked))


@click.command()
@click.pass_obj
def jobs(obj):
    """Run scheduled jobs in the foreground until SIGTERM or Ctrl-C.

    Example: hailong jobs
    """
    from apscheduler.schedulers.blocking import BlockingScheduler

    obj.db().close()  # refuses an unmigrated database
    settings = dict(obj.config)  # read and checked (TIMEZONE, SILENT_AFTER_MINUTES, ...) by the CLI
    logs.configure(settings)  # LOGGING_FORMAT, LOGGING_LEVEL: docs/operations.md, "Logs"
    say = functools.partial(logs.say, settings, "hailong.jobs")
    # A full or read-only disk: one warning line a failed run instead of a traceback (server/commands/job_storage.py).
    from server.commands import job_storage

    job_storage.install(settings["DATABASE"])
    scheduler = BlockingScheduler(timezone=settings["TIMEZONE"])
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
    # Alerts, email and monthly unit reports (issue 9): their own block, server/commands/notify_jobs.py.
    from server.commands import notify_jobs

    for line in notify_jobs.schedule(scheduler, settings,
                                     {"replace_existing": True, "coalesce": True, "max_instances": 1}):
        say(f"hailong jobs: {line}")
    # Daily rollups and revisions of closed periods (issue 9): server/commands/scoring_jobs.py.
    from server.commands import scoring_jobs

    for line in scoring_jobs.schedule(scheduler, settings,
                                      {"replace_existing": True, "coalesce": True, "max_instances": 1}):
        say(f"hailong jobs: {line}")
    # The nightly anomaly scan (issue 9): server/commands/scan_jobs.py.
    from server.commands import scan_jobs

    for line in scan_jobs.schedule(scheduler, settings,
                                   {"replace_existing": True, "coalesce": True, "max_instances": 1}):
        say(f"hailong jobs: {line}")
    # The tamper-evident log (issue 10): appends and signed checkpoints, server/commands/ledger_jobs.py.
    from server.commands import ledger_jobs

    for line in ledger_jobs.schedule(scheduler, settings,
                                     {"replace_existing": True, "coalesce": True, "max_instances": 1}):
        say(f"hailong jobs: {line}")
    # Online backups and their retention (issue 11): server/commands/backup_jobs.py.
    from server.commands import backup_jobs

    for line in backup_jobs.schedule(scheduler, settings,
                                     {"replace_existing": True, "coalesce": True, "max_instances": 1}):
        say(f"hailong jobs: {line}")
    # Last, after every block: each job runs with its id in the context, so run_step records it in job_runs
    # under that id and its log lines carry it.
    for job in scheduler.get_jobs():
        job.modify(func=functools.partial(job_steps.as_job, job.id, job.func))
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    say("hailong jobs running: silent_devices every "
        f"{settings['JOBS_SILENT_CHECK_SECONDS']} s. Ctrl-C to stop.")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    say("hailong jobs stopped.")
