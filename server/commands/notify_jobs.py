"""The alert, email and monthly-report steps of ``hailong jobs`` (issue 9), scheduled from one block there."""

import datetime as dt
import logging

from server import notify
from server.notify import alerts, mail
from server.jobs import run_step

log = logging.getLogger("hailong.jobs")


def alerts_job(database, settings):
    raised = run_step(database, settings, alerts.check)
    if raised:
        log.warning("alerts raised: %s", ", ".join(map(str, raised)))


def email_job(database, settings):
    run_step(database, settings, mail.send_due)


def monthly_reports_job(database, settings):
    from server.commands.reports import queue_monthly_reports

    queued = run_step(database, settings, queue_monthly_reports)
    if queued:
        log.info("monthly reports queued: %s", ", ".join(queued))


def schedule(scheduler, settings, options):
    """Add the steps to ``scheduler`` (``options``: APScheduler's per-job keywords); returns lines to print."""
    now = dt.datetime.now(dt.timezone.utc)
    args = [settings["DATABASE"], settings]
    scheduler.add_job(alerts_job, "interval", seconds=settings["JOBS_ALERTS_SECONDS"], args=args, id="alerts",
                      next_run_time=now, **options)
    lines = [f"alerts every {settings['JOBS_ALERTS_SECONDS']} s", notify.describe(settings)]
    if notify.email_on(settings):
        scheduler.add_job(email_job, "interval", seconds=settings["JOBS_EMAIL_SECONDS"], args=args, id="email",
                          next_run_time=now, **options)
        # Hourly, so a jobs process that was down at REPORT_HOUR still sends the month's reports later that day.
        scheduler.add_job(monthly_reports_job, "cron", minute=5, args=args, id="monthly_reports",
                          next_run_time=now, **options)
        lines.append(f"email every {settings['JOBS_EMAIL_SECONDS']} s; monthly unit reports on day"
                     f" {settings['REPORT_DAY']} from {settings['REPORT_HOUR']:02d}:00")
    return lines
