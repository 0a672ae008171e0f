"""The nightly anomaly scan in ``hailong jobs`` (issue 9): ``server/scoring/scan.py``."""

import datetime as dt
import logging

from server import jobs as job_steps

log = logging.getLogger("hailong.jobs")


def scan_job(database, settings):
    """Module-level target, as APScheduler wants (``run_step``: one fresh connection per run)."""
    from server.scoring import scan

    done = job_steps.run_step(database, settings, scan.nightly)
    for summary in done:
        log.info("anomaly scan of %s: %d votes, %d tests, %d flags (%d new, %d rapid_repeat)",
                 summary["days"][0], summary["votes"], summary["n_tests"], summary["flags"], summary["new_flags"],
                 summary["rapid_repeat"])


def schedule(scheduler, settings, options):
    """Add the nightly scan at SCAN_HOUR (local), and once at start to catch up on days missed."""
    scheduler.add_job(scan_job, "cron", hour=settings["SCAN_HOUR"], minute=15,
                      args=[settings["DATABASE"], settings], id="anomaly_scan",
                      next_run_time=dt.datetime.now(dt.timezone.utc), **options)
    return [f"anomaly scan nightly at {settings['SCAN_HOUR']:02d}:15"]
