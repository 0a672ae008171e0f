"""The backup job in ``hailong jobs`` (issue 11): an online backup every BACKUP_EVERY_HOURS, then retention.

The first run is due BACKUP_EVERY_HOURS after the newest backup in the
folder (at once when there is none or it is older), so restarting the jobs
process neither skips a backup nor takes an extra one.
"""

import datetime as dt
import logging

from server import jobs as job_steps
from server import storage
from server.backups import BackupError, files, retention, snapshot

log_ = logging.getLogger("hailong.jobs")


def backup_step(db, settings, now):
    """Take a backup into the backup folder, then remove what retention does not keep.

    Returns ``{"path", "size", "seconds", "removed": [file names]}``.
    Retention runs only after a backup succeeded, so a failing backup never
    thins out the ones that are there.
    """
    folder = files.backup_dir(settings)
    manifest = snapshot.take(db, settings, now=now, folder=folder)
    removed = retention.prune(folder, settings, now)
    return {"path": manifest["path"], "size": manifest["size"], "seconds": manifest["seconds"], "removed": removed}


def backup_job(database, settings):
    """Module-level target, as APScheduler wants (``run_step``: one fresh connection per run)."""
    try:
        done = job_steps.run_step(database, settings, backup_step)
    except BackupError as exc:  # one line, not a traceback: the next run tries again
        log_.error("backup: failed: %s", exc)
        return
    log_.info("backup: %s, %.1f MiB in %.1f s%s", done["path"], done["size"] / 2**20, done["seconds"],
              f"; removed {len(done['removed'])} old file(s)" if done["removed"] else "")


def first_run(settings, now):
    """When the first backup is due: an interval after the newest whole backup, or now."""
    whole = [b for b in files.list_backups(files.backup_dir(settings)) if b["manifest"] is not None]
    if not whole:
        return now
    due = whole[-1]["taken_at"] + dt.timedelta(hours=settings["BACKUP_EVERY_HOURS"])
    return max(due, now)


def schedule(scheduler, settings, options):
    """Add the backup job; returns the lines ``hailong jobs`` prints about it."""
    hours = settings["BACKUP_EVERY_HOURS"]
    if storage.is_postgresql(settings["DATABASE"]):  # SQLite files only: PostgreSQL has pg_dump, pg_basebackup
        return ["no backups taken here: the database is PostgreSQL, back it up with pg_dump or pg_basebackup"
                " (docs/operations.md, \"Backups on PostgreSQL\")"]
    if not hours:
        return ["backups off (BACKUP_EVERY_HOURS is 0): take them another way"]
    now = dt.datetime.now(dt.timezone.utc)
    scheduler.add_job(backup_job, "interval", hours=hours, args=[settings["DATABASE"], settings], id="backup",
                      next_run_time=first_run(settings, now), **options)
    return [f"backup every {hours} h to {files.backup_dir(settings)}, keeping the newest"
            f" {settings['BACKUP_KEEP_RECENT']}, {settings['BACKUP_KEEP_DAILY']} daily and"
            f" {settings['BACKUP_KEEP_MONTHLY']} monthly"]
