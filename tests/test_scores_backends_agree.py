"""The same votes, flags and reviews give the same rollups, scores, frozen periods and scan input on SQLite
and on PostgreSQL: equal values of equal types (ints stay ints, floats floats, days the same text).

The other score tests run on each backend alone and check each against a recount; this one puts the two
side by side, so a difference that both recounts would accept (an int read as a float, a day's text in
another form, a row grouped another way) still fails.
"""

import pytest

from migrations import migrations
from server import jobs, storage
from server.manage import periods as period_actions
from server.manage import scores as score_actions
from server.manage.actor import cli_actor
from server.scoring import scores
from server.scoring.periods import parse_period
from server.settings import DEFAULTS
from server.storage import alerts as alert_storage
from server.storage import flags as flag_storage
from server.storage import periods as period_storage
from server.storage import reports
from server.storage import rollups as rollup_storage
from server.storage import scan as scan_storage
from tests.scoring_data import add_vote, flag, make_org, random_votes, review, seeded

SETTINGS = dict(DEFAULTS)
# When the test ran, not what it found (a flag's key holds a counter of tests/scoring_data.py).
TIMESTAMPS = ("created_at", "frozen_at", "closed_at", "reviewed_at")


@pytest.fixture
def databases(tmp_path, postgresql_cluster, postgresql_template):
    from tests.postgres import new_database

    sqlite_path = tmp_path / "hailong.db"
    db = storage.connect(sqlite_path)
    migrations.apply(db)
    target = new_database(postgresql_cluster, postgresql_template, tmp_path)
    both = [db, storage.connect(target)]
    yield both
    for database in both:
        database.close()
    postgresql_cluster.drop_database(target.name)


def typed(value):
    """``value`` with the type of every leaf beside it; times of the run itself left out."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items() if k not in TIMESTAMPS}
    if isinstance(value, (list, tuple)):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def history(db):
    """Votes over two months, flags open, confirmed and dismissed, October closed, then a late vote."""
    ids = make_org(db)
    votes = random_votes(db, ids, seeded(21), 300)
    add_vote(db, ids, "SB1", "B-Q1", "2026-11-03T02:00:00.000Z", rating=1)
    flag(db, votes[:12], "open", staff_id=ids["staff"]["SA1"])
    dismissed = flag(db, votes[30:40], "open")
    flag(db, votes[60:75], "confirmed")
    jobs.roll_up_votes(db, SETTINGS, None)
    review(db, dismissed, "dismissed")
    jobs.roll_up_votes(db, SETTINGS, None)
    period_actions.close_period(db, cli_actor(), "2026-10", settings=SETTINGS)
    add_vote(db, ids, "SA2", "A-Q2", "2026-10-30T09:00:00.000Z", rating=2)
    jobs.roll_up_votes(db, SETTINGS, None)
    return ids


def readings(db, ids):
    october = parse_period("2026-10")
    unit_a = {ids["units"]["A"], ids["units"]["A1"]}
    revision_ids = [row[0] for row in db.execute("SELECT id FROM period_revisions ORDER BY id")]
    return {
        "daily": sorted(rollup_storage.all_rows(db).items()),
        "monthly": sorted(rollup_storage.all_monthly_rows(db).items()),
        "day_rows": sorted(rollup_storage.day_rows(db, "2026-09-01", "2026-11-30"), key=repr),
        "day_totals": sorted(rollup_storage.day_totals(db, "2026-09-01", "2026-11-30", unit_a), key=repr),
        "month_totals": sorted(rollup_storage.month_totals(db, "2026-09", "2026-11"), key=repr),
        "scores": scores.compute(db, october, cache=False),
        "scores_with_flagged_in_a": scores.compute(db, october, unit_a, include_flagged=True, cache=False),
        "quarter": score_actions.period_scores(db, cli_actor(), "2026-Q4", settings=SETTINGS),
        "person": score_actions.staff_detail(db, cli_actor(), "SA1", "2026-10", settings=SETTINGS),
        "frozen": [sorted(period_storage.scores(db, revision), key=repr) for revision in revision_ids],
        "revisions": [(r["revision"], r["reason"], r["last_vote_id"], r["n_votes"])
                      for r in period_storage.revisions(db, period_storage.all_closed(db)[0]["id"])],
        "flag_list": [{k: v for k, v in row.items() if k != "key"} for row in flag_storage.list_flags(db)],
        "alert_input": sorted(alert_storage.counter_votes_since(db, "2026-10-20T00:00:00.000Z")),
        "flags": reports.flag_counts(db, None, "2026-09-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z"),
        "scan_votes": scan_storage.votes_between(db, "2026-10-01T00:00:00.000Z", "2026-11-01T00:00:00.000Z"),
        "scan_hours": sorted(scan_storage.hourly_counts(db, "2026-09-01T00:00:00.000Z",
                                                        "2026-12-01T00:00:00.000Z", 420)),
    }


def test_the_same_history_reads_the_same_on_sqlite_and_postgresql(databases):
    sqlite_db, postgresql_db = databases
    assert (storage.dialect(sqlite_db), storage.dialect(postgresql_db)) == ("sqlite", "postgresql")
    seen = [typed(readings(db, history(db))) for db in databases]
    for name in seen[0]:
        assert seen[1][name] == seen[0][name], name
    assert len(seen[0]["revisions"]) == 2 and seen[0]["scan_votes"] and seen[0]["frozen"][0]
