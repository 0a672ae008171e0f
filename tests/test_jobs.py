"""The silent-device job step, called directly, and `hailong jobs` as a real process."""

import datetime as dt
import time

import pytest

from devtools.processes import Jobs, StartError
from server import jobs
from server.manage import calendar as calendar_actions
from server.manage.actor import cli_actor
from server.storage import devices, timestamp

SETTINGS = {
    "TIMEZONE": "Asia/Ho_Chi_Minh",
    "SILENT_AFTER_MINUTES": 15,
}
# Wednesday 2026-11-25, 10:00 in Hà Nội (03:00 UTC): open (the default hours, Mon-Fri 07:00-11:30, 13:00-17:00).
OPEN = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.timezone.utc)
# Saturday 2026-11-28, 10:00 in Hà Nội: closed.
CLOSED = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.timezone.utc)


def add_device(db, device_id, last_seen):
    if not db.execute("SELECT 1 FROM counters").fetchone():
        db.execute("INSERT INTO units (code, name, created_at, updated_at) VALUES ('U', 'U', 'x', 'x')")
        db.execute(
            "INSERT INTO counters (code, name, unit_id, created_at, updated_at) VALUES ('C', 'C', 1, 'x', 'x')"
        )
    db.execute(
        "INSERT INTO devices (id, counter_id, public_key, token_hash, enrolled_at, last_seen_at)"
        " VALUES (?, 1, 'k', ?, 'x', ?)",
        [device_id, device_id, timestamp(last_seen)],
    )


@pytest.mark.backends
def test_a_device_quiet_during_opening_hours_is_marked_silent_once(db):
    add_device(db, "dev-quiet", OPEN - dt.timedelta(minutes=20))
    add_device(db, "dev-talky", OPEN - dt.timedelta(minutes=2))
    assert jobs.check_silent_devices(db, SETTINGS, OPEN) == ["dev-quiet"]
    assert jobs.check_silent_devices(db, SETTINGS, OPEN) == []
    assert [e["kind"] for e in devices.device_events(db, "dev-quiet")] == ["silent"]


@pytest.mark.backends
def test_nothing_is_marked_outside_opening_hours(db):
    add_device(db, "dev-quiet", CLOSED - dt.timedelta(hours=20))
    assert jobs.check_silent_devices(db, SETTINGS, CLOSED) == []


@pytest.mark.backends
def test_nothing_is_marked_at_lunch_or_on_a_holiday_and_a_unit_open_on_saturday_is_watched(db):
    add_device(db, "dev-quiet", OPEN - dt.timedelta(days=3))
    lunch = dt.datetime(2026, 11, 25, 5, 30, tzinfo=dt.timezone.utc)  # 12:30 in Hà Nội
    assert jobs.check_silent_devices(db, SETTINGS, lunch) == []
    calendar_actions.add_holiday(db, cli_actor(), {"day": "2026-11-25", "name_vi": "Nghỉ"})
    assert jobs.check_silent_devices(db, SETTINGS, OPEN) == []
    calendar_actions.set_hours(db, cli_actor(), "U", "Mon-Sat 07:00-11:30")
    assert jobs.check_silent_devices(db, SETTINGS, CLOSED) == ["dev-quiet"]


@pytest.mark.backends
def test_a_silent_device_heard_again_is_back_online(db):
    add_device(db, "dev-quiet", OPEN - dt.timedelta(minutes=20))
    jobs.check_silent_devices(db, SETTINGS, OPEN)
    devices.mark_seen(db, "dev-quiet", 12)
    row = db.execute("SELECT silent_since FROM devices WHERE id = 'dev-quiet'").fetchone()
    assert row == (None,)
    assert [e["kind"] for e in devices.device_events(db, "dev-quiet")] == ["silent", "back_online"]


@pytest.mark.backends
def test_revoked_devices_are_never_marked_silent(db):
    add_device(db, "dev-gone", OPEN - dt.timedelta(days=3))
    devices.revoke_device(db, "dev-gone")
    assert jobs.check_silent_devices(db, SETTINGS, OPEN) == []


def test_hailong_jobs_runs_the_check_in_its_own_process_and_stops_on_sigterm(db, db_path, tmp_path):
    add_device(db, "dev-quiet", dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2))
    calendar_actions.set_hours(db, cli_actor(), None, "Mon-Sun 00:00-24:00")
    process = Jobs(db_path, settings={"SILENT_AFTER_MINUTES": 1},
                   log_path=tmp_path / "jobs.log").start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if db.execute("SELECT silent_since FROM devices").fetchone()[0]:
                break
            time.sleep(0.2)
        assert db.execute("SELECT silent_since IS NOT NULL FROM devices").fetchone() == (1,)
    finally:
        stopped_by_sigterm = process.stop()
    output = process.log_text()
    assert stopped_by_sigterm and process.returncode == 0, output
    assert "hailong jobs stopped." in output
    assert "dev-quiet" in output


def test_hailong_jobs_that_cannot_start_says_why(tmp_path):
    """An unmigrated database stops it before it runs: the error carries the end of its log."""
    process = Jobs(tmp_path / "empty.db", log_path=tmp_path / "jobs.log")
    with pytest.raises(StartError, match=r"(?s)hailong jobs exited with 1 before it was ready.*migrate"):
        process.start()
    assert not process.alive()
