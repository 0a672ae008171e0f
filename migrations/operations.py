"""Migrations for running the server (issue 11): what the scheduled jobs did.

Names start with ``operations_`` and a number; never edit one that has shipped.
"""

from migrations import migrations


@migrations()
def operations_001_job_runs(db):
    # One row per scheduled job, updated by every run of it (server/jobs.py run_step): how often it ran and
    # failed, and when it last succeeded. /metrics and /readyz read it; it lives in the database, not in one
    # process's memory, so it holds whichever process (or machine) ran the job.
    db.execute(
        """CREATE TABLE job_runs (
            job TEXT PRIMARY KEY,
            runs INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            last_started_at TEXT,
            last_finished_at TEXT,
            last_ok_at TEXT,
            last_seconds REAL,
            last_error TEXT
        )"""
    )
