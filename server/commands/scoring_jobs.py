"""The rollup job of ``hailong jobs`` (issue 9): daily rollups kept current, revisions of closed periods."""

import datetime as dt
import logging

from server import jobs as job_steps

log = logging.getLogger("hailong.jobs")


def rollup_job(database, settings):
    """Module-level target, as APScheduler wants (``run_step``: one fresh connection per run)."""
    done = job_steps.run_step(database, settings, job_steps.roll_up_votes)
    if done["votes"] or done["pairs"]:
        log.info("rollups: %d new votes, %d (day, staff) pairs recounted, up to vote %d",
                 done["votes"], done["pairs"], done["watermark"])
    if done["waiting_at"] is not None:
        log.warning("rollups wait at vote %d: it has no counted_at or units yet", done["waiting_at"])
    for revision in done["revisions"]:
        log.warning("closed period %s (unit %s): revision %d, %s", revision["period"], revision["unit_id"] or "all",
                    revision["revision"], revision["reason"])


def schedule(scheduler, settings, options):
    """Add the rollup job; returns the lines ``hailong jobs`` prints about it."""
    scheduler.add_job(rollup_job, "interval", seconds=settings["JOBS_ROLLUP_SECONDS"],
                      args=[settings["DATABASE"], settings], id="rollups",
                      next_run_time=dt.datetime.now(dt.timezone.utc), **options)
    return [f"rollups every {settings['JOBS_ROLLUP_SECONDS']} s"]
