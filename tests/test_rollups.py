"""The daily rollups equal a full recount of the votes after every step of the job, whatever arrives
in between: new votes, flags, reviews; and in a zone with daylight saving time too."""

import datetime as dt

import pytest

from server import jobs
from server.scoring import days, rollups
from server.storage import rollups as storage
from tests.scoring_data import add_vote, flag, make_org, random_votes, review, seeded

TZ = "Asia/Ho_Chi_Minh"
SETTINGS = {"TIMEZONE": TZ, "ROLLUP_CHUNK_VOTES": 7, "SCORE_MIN_VOTES": 30, "SCORE_PRIOR_MAX_STRENGTH": 200,
            "SCORE_CREDIBLE_PERCENT": 95, "SCORE_GRADE_PROBABILITY_PERCENT": 50,
            "SCORE_FLOOR_PROBABILITY_PERCENT": 90,
            "SCORE_GRADES": "excellent 95 Xuất sắc / Excellent; good 85 Tốt / Good; completed 70 Hoàn thành /"
                            " Completed; not_completed 0 Không hoàn thành / Not completed"}
NOW = dt.datetime(2026, 11, 27, 3, tzinfo=dt.timezone.utc)

pytestmark = pytest.mark.backends


def assert_equal_to_recount(db, timezone=TZ):
    daily = storage.all_rows(db)
    assert daily == rollups.full_recount(db, timezone)
    monthly = {}
    for (day, *rest), n in daily.items():
        monthly[(day[:7], *rest)] = monthly.get((day[:7], *rest), 0) + n
    assert storage.all_monthly_rows(db) == monthly


def test_ho_chi_minh_city_has_one_offset_and_paris_has_two():
    assert days.fixed_offset_minutes("Asia/Ho_Chi_Minh") == 420
    assert days.fixed_offset_minutes("UTC") == 0
    assert days.fixed_offset_minutes("Europe/Paris") is None


def test_a_vote_at_local_midnight_belongs_to_the_new_day(db):
    ids = make_org(db)
    before = add_vote(db, ids, "SA1", "A-Q1", "2026-10-31T16:59:59.999Z")
    after = add_vote(db, ids, "SA1", "A-Q1", "2026-10-31T17:00:00.000Z")
    jobs.roll_up_votes(db, SETTINGS, NOW)
    rows = storage.all_rows(db)
    assert {key[0] for key in rows} == {"2026-10-31", "2026-11-01"}
    assert (before, after) == (1, 2)


def test_rollups_equal_a_full_recount_after_every_step_of_random_inserts(db):
    ids = make_org(db)
    rng = seeded(9)
    for _ in range(12):
        random_votes(db, ids, rng, rng.randrange(0, 40))
        done = jobs.roll_up_votes(db, SETTINGS, NOW)
        assert done["watermark"] == db.execute("SELECT IFNULL(MAX(id), 0) FROM votes").fetchone()[0]
        assert_equal_to_recount(db)
    assert sum(storage.all_rows(db).values()) == db.execute("SELECT COUNT(*) FROM votes").fetchone()[0]


def test_a_step_cut_short_leaves_rollups_equal_to_a_recount_up_to_its_watermark(db):
    ids = make_org(db)
    random_votes(db, ids, seeded(3), 50)
    done = rollups.roll_up(db, TZ, chunk=9, max_seconds=0)  # no time at all: nothing rolled
    assert done["votes"] == 0 and storage.all_rows(db) == {}
    low = storage.watermark(db)
    storage.set_watermark(db, low)
    rollups.roll_up(db, TZ, chunk=9, max_seconds=None)
    assert_equal_to_recount(db)


def test_flags_and_reviews_change_standing_and_the_recount_follows(db):
    ids = make_org(db)
    rng = seeded(5)
    votes = random_votes(db, ids, rng, 120)
    jobs.roll_up_votes(db, SETTINGS, NOW)
    open_flag = flag(db, votes[:15], "open")
    assert_equal_to_recount_after_step(db)
    confirmed = flag(db, votes[10:25], "confirmed")
    assert_equal_to_recount_after_step(db)
    standings = {key[-1] for key in storage.all_rows(db)}
    assert {"counted", "flagged", "excluded"} <= standings
    review(db, open_flag, "dismissed")
    review(db, confirmed, "dismissed")
    random_votes(db, ids, rng, 30)  # new votes and a review in the same step
    assert_equal_to_recount_after_step(db)
    assert db.execute("SELECT COUNT(*) FROM rollup_dirty").fetchone()[0] == 0


def assert_equal_to_recount_after_step(db):
    jobs.roll_up_votes(db, SETTINGS, NOW)
    assert_equal_to_recount(db)


def test_a_rapid_repeat_vote_is_flagged_until_a_flag_over_it_is_dismissed(db):
    ids = make_org(db)
    vote = add_vote(db, ids, "SA1", "A-Q1", "2026-10-10T03:00:00.000Z", flags=["rapid_repeat"])
    jobs.roll_up_votes(db, SETTINGS, NOW)
    assert [key[-1] for key in storage.all_rows(db)] == ["flagged"]
    review(db, flag(db, [vote], "open"), "dismissed")
    jobs.roll_up_votes(db, SETTINGS, NOW)
    assert [key[-1] for key in storage.all_rows(db)] == ["counted"]


def test_a_zone_with_daylight_saving_time_is_rolled_up_day_by_day_in_python(db):
    ids = make_org(db)
    rng = seeded(11)
    # 2026-10-25: Paris goes from UTC+2 to UTC+1 at 01:00 UTC.
    for hour in range(-30, 30):
        add_vote(db, ids, "SA1", "A-Q1", dt.datetime(2026, 10, 25, 1, tzinfo=dt.timezone.utc) + dt.timedelta(hours=hour))
    random_votes(db, ids, rng, 40)
    rollups.roll_up(db, "Europe/Paris", chunk=13)
    flag(db, [1, 2, 3], "confirmed", timezone="Europe/Paris")
    rollups.roll_up(db, "Europe/Paris", chunk=13)
    assert_equal_to_recount(db, "Europe/Paris")
    per_day = {}
    for key, n in storage.all_rows(db).items():
        if key[1] == ids["staff"]["SA1"] and key[0].startswith("2026-10-2"):
            per_day[key[0]] = per_day.get(key[0], 0) + n
    assert per_day["2026-10-25"] == 25  # the day with 25 hours


def test_a_vote_the_ingest_has_not_attributed_stops_the_rollup_before_it(db):
    ids = make_org(db)
    add_vote(db, ids, "SA1", "A-Q1", "2026-10-10T03:00:00.000Z")
    waiting = add_vote(db, ids, "SA1", "A-Q1", "2026-10-10T03:00:01.000Z")
    add_vote(db, ids, "SA1", "A-Q1", "2026-10-10T03:00:02.000Z")
    db.execute("UPDATE votes SET unit_id = NULL WHERE id = ?", [waiting])
    done = rollups.roll_up(db, TZ)
    assert (done["watermark"], done["waiting_at"]) == (waiting - 1, waiting)
    db.execute("UPDATE votes SET unit_id = ? WHERE id = ?", [ids["units"]["A"], waiting])
    assert rollups.roll_up(db, TZ)["watermark"] == waiting + 1
    assert_equal_to_recount(db)


@pytest.mark.parametrize("text", ["2026-10-31T16:59:59.999Z", "2026-10-31T17:00:00.000Z"])
def test_python_and_sql_agree_on_the_local_day(db, text):
    assert days.local_day(text, TZ) == db.execute("SELECT date(?, '+420 minutes')", [text]).fetchone()[0]


def test_hailong_jobs_keeps_the_rollups_and_revises_a_closed_period_in_its_own_process(db, db_path, tmp_path):
    import time

    from devtools.processes import Jobs
    from server.manage import periods
    from server.manage.actor import cli_actor

    ids = make_org(db)
    random_votes(db, ids, seeded(8), 60)
    periods.close_period(db, cli_actor(), "2026-10", settings={**SETTINGS, **_defaults()})
    add_vote(db, ids, "SA1", "A-Q1", "2026-10-15T03:00:00.000Z")  # late, for the closed month
    process = Jobs(db_path, log_path=tmp_path / "jobs.log").start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not db.execute(
                "SELECT 1 FROM period_revisions WHERE revision = 2").fetchone():
            time.sleep(0.2)
    finally:
        process.stop()
    assert storage.watermark(db) == db.execute("SELECT MAX(id) FROM votes").fetchone()[0]
    assert_equal_to_recount(db)
    assert db.execute("SELECT reason FROM period_revisions ORDER BY revision").fetchall() == [("closed",),
                                                                                           ("1 late vote",)]
    assert "closed period 2026-10 (unit all): revision 2, 1 late vote" in process.log_text()


def _defaults():
    from server.settings import DEFAULTS

    return {k: v for k, v in DEFAULTS.items() if k not in SETTINGS}
