"""The daily job that makes PostgreSQL's monthly vote partitions ahead (issue 12): ``server/storage/partitions.py``.

Only on PostgreSQL: SQLite's votes table is not partitioned, and its
``hailong jobs`` schedules exactly what it did before.
"""

import datetime as dt
import logging

from server import jobs as job_steps
from server import storage

log = logging.getLogger("hailong.jobs")

def partitions_job(database, settings):
    """Module-level target, as APScheduler wants (``run_step``: one fresh connection per run)."""
    made = job_steps.run_step(database, settings, job_steps.make_vote_partitions)
    if made:
        log.info("vote partitions made: %s", ", ".join(made))


def schedule(scheduler, settings, options):
    """Add the partition job daily at 02:40 (local) and once at start, on PostgreSQL only."""
    if not storage.is_postgresql(settings["DATABASE"]):
        return []
    scheduler.add_job(partitions_job, "cron", hour=2, minute=40, args=[settings["DATABASE"], settings],
                      id="vote_partitions", next_run_time=dt.datetime.now(dt.timezone.utc), **options)
    return [f"vote partitions made {job_steps.PARTITION_MONTHS_AHEAD} months ahead daily at 02:40"]
