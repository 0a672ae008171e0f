"""Several `hailong jobs` on one PostgreSQL: one leads, the other stands by and takes over when the leader dies.

Real processes on the throwaway PostgreSQL (tests/postgres.py); the leader
is SIGKILLed, as a power cut would, and PostgreSQL frees its lock when its
connection drops. Both poll every second so the handover is quick here.
"""

import time

import pytest

from devtools.processes import Jobs
from server import storage
from server.storage import leader, operations

FAST = {"JOBS_SILENT_CHECK_SECONDS": 1, "JOBS_LEADER_POLL_SECONDS": 1, "BACKUP_EVERY_HOURS": 0}
# Jobs that run once when a scheduler starts (then nightly): one run per stint as leader.
AT_START = ("vote_partitions", "anomaly_scan")


def wait_for(what, check, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"waited {seconds} s for {what}")


def runs(db, job):
    rows = [row for row in operations.job_runs(db) if row["job"] == job]
    return rows[0]["runs"] if rows else 0


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_one_hailong_jobs_leads_and_a_standby_takes_over_when_it_dies(db_path, tmp_path):
    db = storage.connect(db_path)
    settings = {**FAST, "INSTANCE": tmp_path}
    first = Jobs(db_path, settings=settings, log_path=tmp_path / "first.log", name="jobs first")
    second = Jobs(db_path, settings=settings, log_path=tmp_path / "second.log", name="jobs second")
    try:
        first.start()
        wait_for("the first to lead", lambda: "hailong jobs: leading" in first.log_text())
        second.start()
        wait_for("the second to stand by", lambda: "hailong jobs: standby" in second.log_text())
        standby_since = runs(db, "silent_devices")
        wait_for("two more runs of silent_devices", lambda: runs(db, "silent_devices") >= standby_since + 2)
        assert leader.leaders(db) == 1
        # The standby started no scheduler: the jobs a start runs ran once, on the leader.
        assert [runs(db, job) for job in AT_START] == [1, 1]

        first.kill()
        killed_at = storage.timestamp()
        before = runs(db, "silent_devices")
        wait_for("the second to lead", lambda: "hailong jobs: leading" in second.log_text())
        wait_for("silent_devices to run on", lambda: runs(db, "silent_devices") >= before + 2)

        # PostgreSQL ends the lock's session (as a restart would): the leader stops, then leads again.
        db.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = ?::oid",
                   [leader.JOBS_LOCK & 0xFFFFFFFF])
        wait_for("the second to notice", lambda: "lost the leader lock" in second.log_text())
        wait_for("the second to lead again", lambda: second.log_text().count("hailong jobs: leading") == 2)
    finally:
        for process in (second, first):
            process.stop()
    rows = {row["job"]: row for row in operations.job_runs(db)}
    db.close()
    assert rows["silent_devices"]["last_started_at"] > killed_at  # the jobs went on, on the second
    assert [rows[job]["runs"] for job in AT_START] == [3, 3]  # once a stint: the first's, then the second's two
    assert rows["vote_partitions"]["failures"] == 0
    assert "hailong jobs stopped." in second.log_text()


def test_on_sqlite_there_is_no_partition_job():
    """SQLite's hailong jobs schedules what it did before issue 12 (its votes table is not partitioned)."""
    from server.commands import partition_jobs

    assert partition_jobs.schedule(None, {"DATABASE": "instance/hailong.db"}, {}) == []
