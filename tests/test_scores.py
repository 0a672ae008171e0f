"""Scores from the rollups agree with scores computed straight from the raw votes; units pool their
subtree; two scale versions are each read by their own levels; flagged votes are shown, not counted."""

import collections
import json

import pytest

from analysis.levels import tally
from analysis.scores import evaluate
from server import jobs, storage
from server.errors import Invalid, NotFound
from server.manage import scores as score_actions
from server.manage.actor import cli_actor
from server.scoring import parameters, scores
from server.scoring.days import local_day
from server.scoring.periods import parse_period
from server.settings import DEFAULTS
from tests.scoring_data import add_vote, flag, make_org, random_votes, seeded

pytestmark = pytest.mark.backends

SETTINGS = dict(DEFAULTS)
TZ = SETTINGS["TIMEZONE"]


def rolled(db, ids, count=600, seed=1):
    votes = random_votes(db, ids, seeded(seed), count)
    jobs.roll_up_votes(db, SETTINGS, None)
    return votes


def from_raw_votes(db, month, unit_ids=None):
    """Each person's tally of counted votes of ``month``, straight from the votes table."""
    levels = {v: json.loads(t) for v, t in db.execute("SELECT version, levels FROM rating_scales")}
    confirmed_or_open = {v for (v,) in db.execute(
        "SELECT fv.vote_id FROM flag_votes fv JOIN flags f ON f.id = fv.flag_id WHERE f.status != 'dismissed'")}
    counts, units = collections.defaultdict(collections.Counter), collections.defaultdict(collections.Counter)
    for vid, at, staff, unit, version, rating, marks in db.execute(
            "SELECT id, counted_at, staff_id, unit_id, scale_version, rating, flags FROM votes"):
        if not local_day(at, TZ).startswith(month) or (unit_ids is not None and unit not in unit_ids):
            continue
        units[staff][unit] += 1
        if vid not in confirmed_or_open and "rapid_repeat" not in (marks or ""):
            counts[staff][(version, rating)] += 1
    subjects = [{"id": s, "group": max(u.items(), key=lambda i: (i[1], -i[0]))[0], "tally": tally(counts[s], levels)}
                for s, u in units.items()]
    return {row["id"]: row for row in evaluate(subjects, parameters.params_from_settings(SETTINGS))}


def test_scores_from_rollups_equal_scores_from_the_raw_votes(db):
    ids = make_org(db)
    rolled(db, ids)
    answer = score_actions.period_scores(db, cli_actor(), "2026-10", settings=SETTINGS)
    expected = from_raw_votes(db, "2026-10")
    assert {row["staff_id"] for row in answer["staff"]} == set(expected)
    for row in answer["staff"]:
        want = expected[row["staff_id"]]
        assert (row["n"], row["satisfied"], row["grade"], row["unit_id"]) == \
               (want["n"], want["satisfied"], want["grade"], want["group"])
        assert row["score"] == pytest.approx(want["score"]) and row["score_low"] == pytest.approx(want["score_low"])


def test_units_pool_every_vote_below_them_and_the_total_is_the_whole_view(db):
    ids = make_org(db)
    rolled(db, ids)
    answer = score_actions.period_scores(db, cli_actor(), "2026-10", settings=SETTINGS)
    units = {row["code"]: row for row in answer["units"]}
    by_unit = collections.Counter()
    for row in answer["staff"]:
        by_unit[row["unit_code"]] += row["n"]
    assert units["A"]["n"] == by_unit["A"] + by_unit["A1"]
    assert units["P"]["n"] == sum(by_unit.values()) == answer["total"]["n"] == answer["votes"]["counted"]
    assert units["A"]["rate"] == pytest.approx(units["A"]["satisfied"] / units["A"]["n"])
    assert (units["P"]["depth"], units["A1"]["depth"], units["A1"]["parent_code"]) == (0, 2, "A")
    centre = score_actions.period_scores(db, cli_actor(), "2026-10", "A", settings=SETTINGS)
    assert {row["code"] for row in centre["units"]} == {"A", "A1"}
    assert centre["total"]["n"] == units["A"]["n"]
    assert {row["unit_code"] for row in centre["staff"]} <= {"A", "A1"}


def test_flagged_votes_are_shown_on_every_row_and_scored_only_when_asked(db):
    ids = make_org(db)
    votes = rolled(db, ids)
    sa1 = ids["staff"]["SA1"]
    theirs = [v for (v,) in db.execute("SELECT id FROM votes WHERE staff_id = ? AND counted_at LIKE '2026-10-1%'",
                                       [sa1])]
    flag(db, theirs, "open", sa1)
    jobs.roll_up_votes(db, SETTINGS, None)
    headline = score_actions.period_scores(db, cli_actor(), "2026-10", settings=SETTINGS)
    with_flagged = score_actions.period_scores(db, cli_actor(), "2026-10", include_flagged=True, settings=SETTINGS)
    row = next(r for r in headline["staff"] if r["staff_id"] == sa1)
    row_all = next(r for r in with_flagged["staff"] if r["staff_id"] == sa1)
    assert row["flagged"] >= len(theirs) - 2  # a few may be local-time 2026-10-20 or later edge cases
    assert row_all["n"] == row["n"] + row["flagged"] and row_all["flagged"] == row["flagged"]
    assert headline["total"]["flagged"] == headline["votes"]["flagged"] > 0
    assert len(votes) == sum(headline["votes"].values()) + sum(
        1 for at, in db.execute("SELECT counted_at FROM votes") if not local_day(at, TZ).startswith("2026-10"))


def test_a_new_scale_version_is_scored_beside_the_old_by_its_own_levels(db):
    ids = make_org(db)
    five = [{"value": v, "label_vi": f"Mức {v}", "label_en": f"Level {v}", "satisfied": v >= 4,
             "weight": 25.0 * (v - 1), "negative": v < 4} for v in range(1, 6)]
    db.execute("INSERT INTO rating_scales (version, levels, reasons, created_at) VALUES (2, ?, '[]', 'x')",
               [json.dumps(five)])
    for day in range(1, 11):
        add_vote(db, ids, "SA1", "A-Q1", f"2026-10-{day:02d}T03:00:00.000Z", rating=3)  # v1: satisfied
        add_vote(db, ids, "SA1", "A-Q1", f"2026-10-{day:02d}T04:00:00.000Z", rating=3, scale_version=2)  # v2: not
    jobs.roll_up_votes(db, SETTINGS, None)
    row = score_actions.period_scores(db, cli_actor(), "2026-10", settings=SETTINGS)["staff"][0]
    assert (row["n"], row["satisfied"]) == (20, 10)
    assert row["index"] == pytest.approx((10 * 200 / 3 + 10 * 50) / 20)
    detail = score_actions.staff_detail(db, cli_actor(), "SA1", "2026-10", settings=SETTINGS)
    assert [(lv["scale_version"], lv["rating"], lv["satisfied"], lv["counted"]) for lv in detail["levels"]] == \
           [(1, 3, True, 10), (2, 3, False, 10)]


def test_quarters_and_years_are_the_sums_of_their_months(db):
    ids = make_org(db)
    rolled(db, ids, 300)
    months = [score_actions.period_scores(db, cli_actor(), m, settings=SETTINGS)["total"]["n"]
              for m in ("2026-09", "2026-10", "2026-11")]
    q4 = score_actions.period_scores(db, cli_actor(), "2026-Q4", settings=SETTINGS)["total"]["n"]
    year = score_actions.period_scores(db, cli_actor(), "2026", settings=SETTINGS)["total"]["n"]
    assert q4 == months[1] + months[2] and year == sum(months)
    assert parse_period("2026-Q1").last_day == "2026-03-31" and parse_period("2024-02").last_day == "2024-02-29"


def test_nobody_is_graded_below_the_minimum_number_of_votes(db):
    ids = make_org(db)
    rolled(db, ids, 200)
    for row in score_actions.period_scores(db, cli_actor(), "2026-10", settings=SETTINGS)["staff"]:
        assert (row["grade"] == "insufficient") == (row["n"] < SETTINGS["SCORE_MIN_VOTES"])


def test_the_staff_page_has_levels_series_reasons_hours_and_flags(db):
    ids = make_org(db)
    rolled(db, ids)
    db.execute("UPDATE votes SET reasons = '[\"long_wait\"]' WHERE rating = 1")
    detail = score_actions.staff_detail(db, cli_actor(), "SA2", "2026-10", settings=SETTINGS)
    assert detail["score"]["code"] == "SA2" and detail["score_with_flagged"]["n"] >= detail["score"]["n"]
    assert [m["month"] for m in detail["series"]][-2:] == ["2026-09", "2026-10"] and len(detail["series"]) == 12
    assert detail["series"][-1]["n"] == detail["score"]["n"]
    total = sum(lv["counted"] + lv["flagged"] + lv["excluded"] for lv in detail["levels"])
    assert sum(map(sum, detail["heatmap"])) == total
    assert all(r["code"] == "long_wait" and r["label_en"] == "Long wait" for r in detail["reasons"])
    with pytest.raises(NotFound):
        score_actions.staff_detail(db, cli_actor(), "NOPE", "2026-10", settings=SETTINGS)


def test_bad_periods_and_unknown_units_are_refused_by_name(db):
    make_org(db)
    for bad in ("2026-13", "26-10", "2026-Q5", "october"):
        with pytest.raises(Invalid):
            score_actions.period_scores(db, cli_actor(), bad, settings=SETTINGS)
    with pytest.raises(NotFound):
        score_actions.period_scores(db, cli_actor(), "2026-10", "NOPE", settings=SETTINGS)


def test_the_dashboard_counts_this_month_from_the_rollups(db):
    ids = make_org(db)
    from server.storage import timestamp

    add_vote(db, ids, "SA1", "A-Q1", timestamp())
    jobs.roll_up_votes(db, SETTINGS, None)
    board = score_actions.dashboard(db, cli_actor(), settings=SETTINGS)
    assert board["votes_today"]["counted"] == 1 and board["month"]["n"] == 1 and len(board["months"]) == 6
    assert (board["open_flags"], board["open_alerts"], board["silent_devices"]) == (0, 0, [])


def test_recomputing_a_month_for_everyone_reads_only_the_rollups(db):
    ids = make_org(db)
    rolled(db, ids)
    before = scores.recompute_month(db, "2026-10")
    db.execute("DELETE FROM flag_votes")
    if storage.dialect(db) == "sqlite":
        db.execute("PRAGMA foreign_keys = OFF")
    db.execute("DELETE FROM votes")
    assert scores.recompute_month(db, "2026-10") == before


@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_the_many_subject_tally_agrees_with_analysis_tally(db):
    from analysis.levels import tally as analysis_tally

    make_org(db)
    five = [{"value": v, "label_vi": "x", "label_en": "x", "satisfied": v >= 4, "weight": 25.0 * (v - 1)}
            for v in range(1, 6)]
    db.execute("INSERT INTO rating_scales (version, levels, reasons, created_at) VALUES (2, ?, '[]', 'x')",
               [json.dumps(five)])
    levels = scores.scales(db)
    many = scores._Levels(levels)
    rng = seeded(4)
    for _ in range(50):
        counts = {(1, r): rng.randrange(0, 9) for r in range(1, 5)} | {(2, r): rng.randrange(0, 9) for r in range(1, 6)}
        counts = {k: v for k, v in counts.items() if v}
        assert many.tally(counts) == analysis_tally(counts, levels)
    with pytest.raises(ValueError):
        many.tally({(1, 7): 1})


def test_a_person_moved_mid_month_is_scored_where_each_vote_was_cast(db):
    ids = make_org(db)
    for day in range(1, 21):  # SA1 in A until the 20th (20 votes), then in B (5 votes)
        add_vote(db, ids, "SA1", "A-Q1", f"2026-10-{day:02d}T03:00:00.000Z", unit="A")
    for day in range(21, 26):
        add_vote(db, ids, "SA1", "B-Q1", f"2026-10-{day:02d}T03:00:00.000Z", rating=1, unit="B", counter_unit="B")
    jobs.roll_up_votes(db, SETTINGS, None)
    everywhere = score_actions.period_scores(db, cli_actor(), "2026-10", settings=SETTINGS)
    (row,) = everywhere["staff"]
    assert (row["unit_code"], row["n"], row["other_units"]) == ("A", 25, [{"code": "B", "n": 5}])
    in_b = score_actions.period_scores(db, cli_actor(), "2026-10", "B", settings=SETTINGS)
    (row_b,) = in_b["staff"]
    assert (row_b["unit_code"], row_b["n"], row_b["satisfied"], row_b["other_units"]) == ("B", 5, 0, [])
    units = {u["code"]: u["n"] for u in everywhere["units"]}
    assert (units["A"], units["B"], units["P"]) == (20, 5, 25)


def test_the_dashboard_trend_reads_the_months_in_order_and_is_never_nan():
    assert score_actions._trend([None, 0.8, None]) is None
    assert score_actions._trend([0.9, 0.9, 0.9, None]) == {"direction": "flat", "tau": None, "p_value": 1.0}
    rising = score_actions._trend([0.5, 0.6, None, 0.7, 0.8, 0.9])
    assert rising["direction"] == "up" and rising["tau"] == pytest.approx(1.0)


def test_a_person_s_monthly_trend_says_its_direction_and_theil_sen_slope_only_with_three_months():
    from server.manage.scores import series_trend

    def month(i, rate, n=100):
        return {"month": f"2026-{i:02d}", "n": n, "rate": rate}

    rising = [month(i, 0.70 + 0.03 * i) for i in range(1, 9)]
    trend = series_trend(rising)
    assert trend["direction"] == "up" and trend["months"] == 8
    assert abs(trend["slope"] - 0.03) < 1e-9 and trend["slope_low"] <= 0.03 <= trend["slope_high"]
    assert series_trend([month(1, 0.9), month(2, 0.8), month(3, None, n=0)]) is None
    assert series_trend([month(i, 0.9) for i in range(1, 6)])["direction"] == "flat"


def test_p_chart_limits_mark_the_month_that_differs_by_more_than_chance():
    from server.manage.scores import control_limits

    months = [{"month": f"2026-{i:02d}", "n": 400, "satisfied": 360, "rate": 0.9} for i in range(1, 6)]
    months.append({"month": "2026-06", "n": 400, "satisfied": 280, "rate": 0.7})
    months.append({"month": "2026-07", "n": 0, "satisfied": 0, "rate": None})
    control = control_limits(months)
    assert [m["outside"] for m in control["months"]] == [False] * 5 + [True, False]
    assert control["months"][-1]["lower"] is None
    assert abs(control["center"] - (5 * 360 + 280) / 2400) < 1e-12
    assert control_limits([{"month": "2026-01", "n": 0, "satisfied": 0, "rate": None}]) is None


def test_a_months_remembered_scores_survive_votes_of_another_month_and_not_of_its_own(db):
    """Scores are remembered by their months' generations: November's votes arriving every minute (the
    rollup job) leave October's answer in the cache, an October vote replaces it."""
    from server.storage import rollups as rollup_storage
    from server.storage import write_transaction

    ids = make_org(db)
    rolled(db, ids)
    october = parse_period("2026-10")
    before = rollup_storage.fingerprint(db, october.first_day, october.last_day)
    first = scores.compute(db, october)
    with write_transaction(db):
        add_vote(db, ids, "SA1", "A-Q1", "2026-11-20T03:00:00.000Z", rating=1)
    jobs.roll_up_votes(db, SETTINGS, None)
    assert rollup_storage.fingerprint(db, october.first_day, october.last_day) == before
    november = parse_period("2026-11")
    assert rollup_storage.fingerprint(db, november.first_day, november.last_day) is not None
    with write_transaction(db):
        add_vote(db, ids, "SA1", "A-Q1", "2026-10-20T03:00:00.000Z", rating=1)
    jobs.roll_up_votes(db, SETTINGS, None)
    assert rollup_storage.fingerprint(db, october.first_day, october.last_day) != before
    second = scores.compute(db, october)
    assert second["votes"]["counted"] == first["votes"]["counted"] + 1
