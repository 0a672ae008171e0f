"""Every run of a scheduled job lands in ``job_runs`` (server/jobs.py ``run_step``); a real ``hailong jobs`` and
/metrics: tests/test_monitoring.py."""

import pytest

import logging

from server import jobs
from server.storage import operations

pytestmark = pytest.mark.backends

SETTINGS = {"BUSY_TIMEOUT_MS": 1000}


def good(db, settings, now):
    return 7


def bad(db, settings, now):
    raise ValueError("no luck today")


def test_runs_are_counted_under_the_job_id_with_the_last_error(db, db_path):
    assert jobs.as_job("nightly", jobs.run_step, str(db_path), SETTINGS, good) == 7
    try:
        jobs.as_job("nightly", jobs.run_step, str(db_path), SETTINGS, bad)
    except ValueError as exc:
        assert str(exc) == "no luck today"
    else:
        raise AssertionError("the step's error must reach APScheduler")
    [row] = operations.job_runs(db)
    assert (row["job"], row["runs"], row["failures"]) == ("nightly", 2, 1)
    assert row["last_error"] == "ValueError: no luck today"
    assert row["last_ok_at"] < row["last_finished_at"] and row["last_seconds"] >= 0
    jobs.run_step(str(db_path), SETTINGS, good)  # outside the scheduler: under the step's name
    assert [row["job"] for row in operations.job_runs(db)] == ["good", "nightly"]
    assert operations.job_runs(db)[1]["last_error"] == "ValueError: no luck today"


def test_a_run_that_cannot_be_recorded_still_raises_its_own_error(db_path, backend, caplog):
    def breaks_its_record(db, settings, now):
        db.execute("DROP TABLE job_runs")
        raise KeyError("its own error")

    caplog.set_level(logging.WARNING, "hailong.jobs")
    try:
        jobs.as_job("odd", jobs.run_step, str(db_path), SETTINGS, breaks_its_record)
    except KeyError as exc:
        assert exc.args == ("its own error",)
    missing = {"sqlite": "no such table: job_runs", "postgresql": 'relation "job_runs" does not exist'}[backend]
    assert f"job odd: its run could not be recorded in job_runs: {missing}" in caplog.text
