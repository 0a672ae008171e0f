"""The log's jobs in ``hailong jobs`` (issue 10): new rows appended to the three Merkle trees within seconds,
and signed checkpoints of the trees that grew.

The append runs every JOBS_LOG_APPEND_SECONDS: that is the log's merge delay
(a vote is in the tree that long after it is stored, plus one chunk),
instead of appending inside each sync batch's transaction. Measured on this
machine: appending costs ~11 µs per vote in chunks of 5,000 and ~25 µs per
vote one 50-vote batch at a time (the right edge of the tree is read back
per batch), against the ingest's ~92 µs of server CPU per vote
(bench/results.json); doing it here keeps the ingest path as it is and
takes the write lock for at most one chunk (LOG_CHUNK_LEAVES).

A tree that grew gets a checkpoint every LOG_CHECKPOINT_MINUTES; every tree
gets one at least every 24 hours, so an auditor sees the log is alive.
"""

import datetime as dt
import logging

from server import jobs as job_steps
from server.ledger import keys, leaves, log

log_ = logging.getLogger("hailong.jobs")

DAILY = dt.timedelta(hours=24)


def append_step(db, settings, now):
    """Append every tree's new rows; returns ``{tree: leaves appended}``."""
    return {tree: log.catch_up(db, tree, chunk=settings["LOG_CHUNK_LEAVES"], now=now) for tree in leaves.TREES}


def checkpoint_step(db, settings, now):
    """Sign a checkpoint of each tree that is due; returns the checkpoints signed.

    Due: none yet; or the tree grew since the latest and that one is
    LOG_CHECKPOINT_MINUTES old; or the latest is 24 hours old.
    """
    signed = []
    every = dt.timedelta(minutes=settings["LOG_CHECKPOINT_MINUTES"])
    for tree in leaves.TREES:
        log.catch_up(db, tree, chunk=settings["LOG_CHUNK_LEAVES"], now=now)
        latest = log.latest_checkpoint(db, tree)
        if latest is not None:
            age = now - dt.datetime.strptime(latest["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
            grew = log.tree_state(db, tree)["size"] > latest["size"]
            if not (grew and age >= every) and age < DAILY:
                continue
        signed.append(log.publish(db, settings, tree, "schedule", now=now))
    return signed


def append_job(database, settings):
    """Module-level target, as APScheduler wants (``run_step``: one fresh connection per run)."""
    done = job_steps.run_step(database, settings, append_step)
    if any(done.values()):
        log_.info("log: appended %s", ", ".join(f"{count} {tree}" for tree, count in done.items() if count))


def checkpoint_job(database, settings):
    try:
        signed = job_steps.run_step(database, settings, checkpoint_step)
    except keys.KeyFileError as exc:  # one line a minute, not a traceback: the operator must run migrate
        log_.error("log: no checkpoint signed: %s", exc)
        return
    for row in signed:
        log_.info("log: checkpoint %d of %s, size %d", row["id"], row["tree"], row["size"])


def schedule(scheduler, settings, options):
    """Add the log's jobs; returns the lines ``hailong jobs`` prints about them."""
    now = dt.datetime.now(dt.timezone.utc)
    scheduler.add_job(append_job, "interval", seconds=settings["JOBS_LOG_APPEND_SECONDS"],
                      args=[settings["DATABASE"], settings], id="log_append", next_run_time=now, **options)
    # Checked every minute: what is due depends on the latest checkpoint's time, so a restart delays nothing.
    scheduler.add_job(checkpoint_job, "interval", seconds=60, args=[settings["DATABASE"], settings],
                      id="log_checkpoint", next_run_time=now, **options)
    return [f"log append every {settings['JOBS_LOG_APPEND_SECONDS']} s",
            f"log checkpoints of grown trees every {settings['LOG_CHECKPOINT_MINUTES']} min, of every tree daily"]
