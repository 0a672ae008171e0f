"""Closing a period freezes its scores as revision 1; a late vote or a flag review makes a visible
revision 2, 3, ...; every revision stays readable; the scores of a closed period are its latest."""

import pytest

from server import jobs
from server.errors import Conflict, Invalid, NotFound
from server.manage import periods as period_actions
from server.manage import scores as score_actions
from server.manage.actor import cli_actor
from server.settings import DEFAULTS
from tests.scoring_data import add_vote, flag, make_org, review

pytestmark = pytest.mark.backends

SETTINGS = dict(DEFAULTS)


def october(db, ids, per_person=12):
    votes = []
    for i, staff in enumerate(["SA1", "SA2", "SA3", "SB1"]):
        counter = "B-Q1" if staff.startswith("SB") else "A-Q1"
        for k in range(per_person):
            votes.append(add_vote(db, ids, staff, counter, f"2026-10-{1 + k:02d}T0{i}:00:00.000Z",
                                  rating=4 if k % 5 else 1))
    return votes


def step(db):
    return jobs.roll_up_votes(db, SETTINGS, None)


def test_closing_freezes_revision_one_and_the_scores_are_read_from_it(db):
    ids = make_org(db)
    october(db, ids)
    step(db)
    before = score_actions.period_scores(db, cli_actor(), "2026-10", settings=SETTINGS)
    assert before["period"]["closed"] is False
    closed = period_actions.close_period(db, cli_actor(), "2026-10", settings=SETTINGS)
    assert (closed["key"], closed["unit"], closed["revision"]) == ("2026-10", None, 1)
    assert closed["revisions"][0]["reason"] == "closed" and closed["revisions"][0]["n_votes"] == 48
    after = score_actions.period_scores(db, cli_actor(), "2026-10", settings=SETTINGS)
    assert after["period"]["closed"] is True and after["period"]["revision"] == 1
    assert [(r["code"], r["n"], r["score"]) for r in after["staff"]] == \
           [(r["code"], r["n"], r["score"]) for r in before["staff"]]
    assert after["total"] == before["total"]
    # A unit's view of the whole organisation's snapshot: its subtree only, its own row the total.
    unit_view = score_actions.period_scores(db, cli_actor(), "2026-10", "A", settings=SETTINGS)
    assert {r["code"] for r in unit_view["staff"]} == {"SA1", "SA2", "SA3"}
    assert unit_view["total"]["n"] == 36 and unit_view["period"]["closed"] is True
    with pytest.raises(Conflict):
        period_actions.close_period(db, cli_actor(), "2026-10", settings=SETTINGS)


@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_a_period_that_has_not_ended_cannot_be_closed(db):
    make_org(db)
    with pytest.raises(Invalid, match="only after its last day"):
        period_actions.close_period(db, cli_actor(), "2026", settings=SETTINGS)
    with pytest.raises(Invalid, match="month"):
        period_actions.close_period(db, cli_actor(), "2026-13", settings=SETTINGS)


def test_a_late_vote_makes_revision_two_and_both_stay_readable(db):
    ids = make_org(db)
    october(db, ids)
    period_actions.close_period(db, cli_actor(), "2026-10", settings=SETTINGS)
    add_vote(db, ids, "SA1", "A-Q1", "2026-11-02T03:00:00.000Z")  # November: no revision
    assert step(db)["revisions"] == []
    add_vote(db, ids, "SA1", "A-Q1", "2026-10-30T03:00:00.000Z", rating=1)  # an offline tablet's
    add_vote(db, ids, "SB1", "B-Q1", "2026-10-31T16:30:00.000Z", rating=1)  # 23:30 local: still October
    done = step(db)
    assert done["revisions"] == [{"period": "2026-10", "unit_id": None, "revision": 2, "reason": "2 late votes"}]
    assert step(db)["revisions"] == []
    now = score_actions.period_scores(db, cli_actor(), "2026-10", settings=SETTINGS)
    assert now["period"]["revision"] == 2 and now["total"]["n"] == 50
    assert [r["reason"] for r in now["period"]["revisions"]] == ["closed", "2 late votes"]
    first = period_actions.period_revision(db, cli_actor(), "2026-10", 1, settings=SETTINGS)
    second = period_actions.period_revision(db, cli_actor(), "2026-10", 2, settings=SETTINGS)
    assert (first["total"]["n"], second["total"]["n"]) == (48, 50)
    sa1 = [next(r for r in rev["staff"] if r["code"] == "SA1") for rev in (first, second)]
    assert (sa1[0]["n"], sa1[1]["n"]) == (12, 13) and sa1[1]["rate"] < sa1[0]["rate"]
    assert [p["revision"] for p in period_actions.list_periods(db, cli_actor())] == [2]


def test_a_late_vote_outside_a_closed_unit_makes_no_revision_of_it(db):
    ids = make_org(db)
    october(db, ids)
    period_actions.close_period(db, cli_actor(), "2026-10", "B", settings=SETTINGS)
    add_vote(db, ids, "SA1", "A-Q1", "2026-10-30T03:00:00.000Z")
    assert step(db)["revisions"] == []
    add_vote(db, ids, "SB2", "B-Q2", "2026-10-30T03:00:00.000Z")
    assert [r["revision"] for r in step(db)["revisions"]] == [2]


def test_a_flag_review_that_changes_a_closed_period_makes_a_revision(db):
    ids = make_org(db)
    votes = october(db, ids)
    step(db)
    flag_id = flag(db, votes[:3], "open", ids["staff"]["SA1"])
    step(db)
    period_actions.close_period(db, cli_actor(), "2026-10", settings=SETTINGS)
    first = score_actions.period_scores(db, cli_actor(), "2026-10", settings=SETTINGS)
    sa1 = next(r for r in first["staff"] if r["code"] == "SA1")
    assert (sa1["n"], sa1["flagged"], sa1["excluded"]) == (9, 3, 0)
    flag(db, votes[20:22], "open", ids["staff"]["SA2"])  # a new flag on the closed month
    assert [r["reason"] for r in step(db)["revisions"]] == ["2 votes newly flagged"]
    review(db, flag_id, "confirmed")
    done = step(db)
    assert [r["reason"] for r in done["revisions"]] == ["3 votes changed standing after a flag review"]
    second = score_actions.period_scores(db, cli_actor(), "2026-10", settings=SETTINGS)
    sa1 = next(r for r in second["staff"] if r["code"] == "SA1")
    assert (second["period"]["revision"], sa1["n"], sa1["flagged"], sa1["excluded"]) == (3, 9, 0, 3)
    with_flagged = score_actions.period_scores(db, cli_actor(), "2026-10", include_flagged=True, settings=SETTINGS)
    assert next(r for r in with_flagged["staff"] if r["code"] == "SA1")["n"] == 9


def test_closing_audits_one_entry_and_the_job_audits_its_revision(db):
    ids = make_org(db)
    october(db, ids)
    period_actions.close_period(db, cli_actor(), "2026-10", "A", settings=SETTINGS)
    add_vote(db, ids, "SA2", "A-Q2", "2026-10-30T03:00:00.000Z")
    step(db)
    rows = db.execute("SELECT actor_kind, action, object_type, object_id FROM audit_log ORDER BY id").fetchall()
    assert rows == [("cli", "close", "period", "2026-10@A"), ("job", "revise", "period", "2026-10@A")]


def test_hrs_review_of_a_flag_on_a_closed_month_makes_a_revision_through_the_real_review(db):
    from server.manage import flags as flag_actions
    from server.storage import flags as flag_storage
    from server.storage import rollups as rollup_storage
    from server.storage import timestamp, write_transaction

    ids = make_org(db)
    votes = october(db, ids)
    with write_transaction(db):  # the scan's way: the flag, its votes, their days marked dirty
        flag_id, _ = flag_storage.insert_flag(db, {
            "key": "burst|test", "kind": "burst", "severity": "high", "staff_id": ids["staff"]["SA3"],
            "unit_id": ids["units"]["A"], "counter_id": None, "device_id": None, "first_at": None, "last_at": None,
            "test": "poisson", "statistic": 9.0, "p_value": 1e-6, "q_value": 1e-5, "n_votes": 4, "detail": {},
            "created_at": timestamp()})
        flag_storage.add_flag_votes(db, flag_id, votes[24:28])
        rollup_storage.mark_dirty(db, flag_actions.dirty_pairs(db, flag_id, SETTINGS["TIMEZONE"]))
    step(db)
    period_actions.close_period(db, cli_actor(), "2026-10", settings=SETTINGS)
    flag_actions.review_flag(db, cli_actor(), flag_id, "dismiss", "the citizen confirmed it", SETTINGS)
    done = step(db)
    assert [r["reason"] for r in done["revisions"]] == ["4 votes changed standing after a flag review"]
    first, second = (period_actions.period_revision(db, cli_actor(), "2026-10", n, settings=SETTINGS) for n in (1, 2))
    sa3 = [next(r for r in rev["staff"] if r["code"] == "SA3") for rev in (first, second)]
    assert [(r["n"], r["flagged"]) for r in sa3] == [(8, 4), (12, 0)]


def test_a_civil_servant_sees_the_periods_closed_for_their_unit_and_reads_only_their_row(db):
    from server.manage.actor import Actor

    ids = make_org(db)
    october(db, ids)
    for unit in ("A", "B"):
        period_actions.close_period(db, cli_actor(), "2026-10", unit, settings=SETTINGS)
    me = Actor(kind="user", name="sa1", roles=[{"role": "staff", "unit_id": None}], staff_id=ids["staff"]["SA1"],
               user_id=None)
    assert [(p["key"], p["unit"]) for p in period_actions.list_periods(db, me)] == [("2026-10", "A")]
    mine = period_actions.period_revision(db, me, "2026-10", 1, settings=SETTINGS)
    assert [r["code"] for r in mine["staff"]] == ["SA1"] and mine["units"] == [] and mine["total"] is None
    scores = score_actions.period_scores(db, me, "2026-10", settings=SETTINGS)
    assert [r["code"] for r in scores["staff"]] == ["SA1"] and scores["period"]["closed"] is True
    with pytest.raises(NotFound):
        score_actions.period_scores(db, me, "2026-10", "B", settings=SETTINGS)


def test_late_votes_noted_while_a_revision_is_made_wait_for_the_next_one(db):
    from server.storage import periods as period_storage

    period_storage.add_pending(db, "late:7", 2)
    read = period_storage.pending(db)
    period_storage.add_pending(db, "late:7", 1)  # a rollup step between the read and the revision
    period_storage.clear_pending(db, read)
    assert period_storage.pending(db) == [("late:7", 1)]
    period_storage.clear_pending(db, period_storage.pending(db))
    assert period_storage.pending(db) == []
