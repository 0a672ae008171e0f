"""What running the server needs to know about itself: job runs, and the counts /metrics reads at scrape time.

``job_runs`` has one row per scheduled job (its APScheduler id), updated by
every run (``server/jobs.py`` ``run_step``). Each write is its own short
transaction, and the upserts are plain SQL that PostgreSQL also speaks.
"""

from server.storage import query, write_transaction


def job_started(db, job, started_at):
    """Note that ``job`` started: a start later than its last finish is a run under way (or one that hung)."""
    with write_transaction(db):
        db.execute(
            "INSERT INTO job_runs (job, last_started_at) VALUES (?, ?)"
            " ON CONFLICT (job) DO UPDATE SET last_started_at = excluded.last_started_at",
            [job, started_at],
        )


def job_finished(db, job, started_at, finished_at, seconds, error=None):
    """Count one run of ``job``; ``error`` (one line) for a failed run, None for a good one."""
    failed = 0 if error is None else 1
    with write_transaction(db):
        db.execute(
            "INSERT INTO job_runs (job, runs, failures, last_started_at, last_finished_at, last_ok_at,"
            " last_seconds, last_error) VALUES (?, 1, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (job) DO UPDATE SET runs = job_runs.runs + 1,"
            " failures = job_runs.failures + excluded.failures, last_started_at = excluded.last_started_at,"
            " last_finished_at = excluded.last_finished_at,"
            " last_ok_at = COALESCE(excluded.last_ok_at, job_runs.last_ok_at),"
            " last_seconds = excluded.last_seconds, last_error = excluded.last_error",
            [job, failed, started_at, finished_at, None if failed else finished_at, seconds, error],
        )


def job_runs(db):
    """Every job's row, by name."""
    return query(db, "SELECT job, runs, failures, last_started_at, last_finished_at, last_ok_at, last_seconds,"
                     " last_error FROM job_runs ORDER BY job")


def incident_counts(db):
    """``[(stream, kind, incidents kept)]``: they are never deleted, so each count only grows."""
    return [tuple(row) for row in db.execute(
        "SELECT stream, kind, COUNT(*) FROM sync_incidents GROUP BY stream, kind ORDER BY stream, kind"
    ).fetchall()]


def open_gaps(db):
    """Sequence gaps not filled yet: items a tablet numbered that the server has not received."""
    return db.execute("SELECT COUNT(*) FROM sync_incidents WHERE kind = 'gap' AND resolved_at IS NULL").fetchone()[0]


def database_bytes(db):
    """PostgreSQL's size of this database on its server's disk (``pg_database_size``), for /metrics.

    PostgreSQL only: on SQLite /metrics sums the file and its write-ahead log itself.
    """
    return db.execute("SELECT pg_database_size(current_database())").fetchone()[0]
