"""Which backups retention keeps (a pure function of their times), and the jobs' backup step on real files."""

import datetime as dt
import os

from server import storage
from server.backups import files, retention
from server.commands import backup_jobs

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # 19:00 in Hà Nội, Monday 30 November


def every(hours, count, end=NOW):
    """``count`` backup times, ``hours`` apart, the newest at ``end``."""
    return [end - dt.timedelta(hours=hours * i) for i in range(count)]


def test_the_newest_are_kept_however_old_and_nothing_else_without_daily_or_monthly():
    old = every(24 * 40, 5)  # one every 40 days
    assert retention.kept(old, NOW, recent=2, daily=0, monthly=0) == set(old[:2])


def test_one_a_day_is_kept_for_the_last_days_the_newest_of_each_day():
    times = every(6, 4 * 10)  # every 6 hours for 10 days
    keep = retention.kept(times, NOW, recent=1, daily=3, monthly=0)
    days = {NOW.date(), NOW.date() - dt.timedelta(days=1), NOW.date() - dt.timedelta(days=2)}
    newest_of_each_day = {max(t for t in times if t.date() == day) for day in days}
    assert keep == newest_of_each_day  # the newest (NOW) is also the newest of today


def test_one_a_month_is_kept_for_the_last_months_beyond_the_dailies():
    times = every(24, 200)  # daily for 200 days back from 30 November
    keep = retention.kept(times, NOW, recent=2, daily=7, monthly=4)
    months = {(t.year, t.month) for t in keep}
    assert months == {(2026, 11), (2026, 10), (2026, 9), (2026, 8)}
    assert dt.datetime(2026, 10, 31, 12, tzinfo=UTC) in keep  # the newest of October
    assert dt.datetime(2026, 9, 30, 12, tzinfo=UTC) in keep
    assert dt.datetime(2026, 8, 31, 12, tzinfo=UTC) in keep
    assert len(keep) == 7 + 3  # the week (which holds the two newest and November's), then 3 month ends


def test_days_are_counted_in_the_instances_time_zone():
    # 17:30 and 18:30 UTC on the 28th are the 28th in UTC but 29 November 00:30 and 01:30 in Hà Nội.
    late, later = dt.datetime(2026, 11, 28, 17, 30, tzinfo=UTC), dt.datetime(2026, 11, 28, 18, 30, tzinfo=UTC)
    earlier = dt.datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    times = [earlier, late, later]
    assert retention.kept(times, NOW, recent=1, daily=5, monthly=0, timezone="UTC") == {later}
    assert retention.kept(times, NOW, recent=1, daily=5, monthly=0, timezone="Asia/Ho_Chi_Minh") == {earlier, later}


def test_the_defaults_with_a_backup_every_six_hours_for_a_year_keep_about_thirty_files():
    times = every(6, 4 * 366)
    keep = retention.kept(times, NOW, recent=8, daily=14, monthly=12, timezone="Asia/Ho_Chi_Minh")
    assert set(every(6, 8)) <= keep
    assert 30 <= len(keep) <= 36


def test_no_backups_keep_nothing():
    assert retention.kept([], NOW, recent=8, daily=14, monthly=12) == set()


def settings_for(database, folder, **keep):
    return {"DATABASE": str(database), "INSTANCE": os.path.dirname(str(database)), "BACKUP_DIR": str(folder),
            "BUSY_TIMEOUT_MS": 5000, "LOG_NAME": "hailong.test", "TIMEZONE": "UTC",
            "BACKUP_KEEP_RECENT": keep.get("recent", 2), "BACKUP_KEEP_DAILY": keep.get("daily", 0),
            "BACKUP_KEEP_MONTHLY": keep.get("monthly", 0), "BACKUP_EVERY_HOURS": 6}


def test_the_jobs_step_backs_up_then_removes_what_retention_drops_and_leftovers_a_day_old(db_path, tmp_path):
    folder = tmp_path / "backups"
    settings = settings_for(db_path, folder, recent=2)
    db = storage.connect(db_path)
    try:
        taken = [backup_jobs.backup_step(db, settings, NOW - dt.timedelta(hours=6 * i)) for i in (3, 2, 1, 0)]
    finally:
        db.close()
    assert [os.path.basename(t["path"]) for t in taken] == [
        "hailong-20261129T180000Z.db", "hailong-20261130T000000Z.db", "hailong-20261130T060000Z.db",
        "hailong-20261130T120000Z.db"]
    assert [t["removed"] for t in taken] == [[], [], ["hailong-20261129T180000Z.db", "hailong-20261129T180000Z.json"],
                                             ["hailong-20261130T000000Z.db", "hailong-20261130T000000Z.json"]]
    # A database without its manifest (a backup cut short) and a temporary file: gone once a day old.
    cut_short = folder / "hailong-20261128T000000Z.db"
    cut_short.write_bytes(b"half")
    stale = folder / ".hailong-20261128T000000Z.db.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (NOW.timestamp() - 2 * 86400,) * 2)
    fresh = folder / ".hailong-20261130T115900Z.db.tmp"
    fresh.write_bytes(b"being written")
    os.utime(fresh, (NOW.timestamp() - 60,) * 2)
    removed = retention.prune(str(folder), settings, NOW)
    assert sorted(removed) == [".hailong-20261128T000000Z.db.tmp", "hailong-20261128T000000Z.db"]
    assert sorted(p.name for p in folder.iterdir()) == sorted([
        ".hailong-20261130T115900Z.db.tmp", "hailong-20261130T060000Z.db", "hailong-20261130T060000Z.json",
        "hailong-20261130T120000Z.db", "hailong-20261130T120000Z.json"])
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in folder.iterdir() if not p.name.startswith("."))


def test_the_first_scheduled_backup_is_due_an_interval_after_the_newest(db_path, tmp_path):
    folder = tmp_path / "backups"
    settings = settings_for(db_path, folder)
    assert backup_jobs.first_run(settings, NOW) == NOW  # none yet: at once
    db = storage.connect(db_path)
    try:
        backup_jobs.backup_step(db, settings, NOW - dt.timedelta(hours=2))
    finally:
        db.close()
    assert backup_jobs.first_run(settings, NOW) == NOW + dt.timedelta(hours=4)
    assert backup_jobs.first_run(settings, NOW + dt.timedelta(hours=9)) == NOW + dt.timedelta(hours=9)
    (folder / "hailong-20261130T113000Z.db").write_bytes(b"no manifest")  # cut short: not a backup
    assert backup_jobs.first_run(settings, NOW) == NOW + dt.timedelta(hours=4)
    assert files.taken_at("hailong-20261130T113000Z-2.db") == dt.datetime(2026, 11, 30, 11, 30, tzinfo=UTC)
