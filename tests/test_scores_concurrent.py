"""Two people doing the same thing at once on PostgreSQL get what they would get one after the other, as
on SQLite (where ``BEGIN IMMEDIATE`` lets one writer in at a time): a second close of a period is told
it is closed already, a second scale published at once gets the next number, an objection submitted
twice at once is filed once."""

import threading
import time

import pytest

from server import storage
from server.errors import Conflict
from server.manage import periods, scales
from server.manage.actor import cli_actor
from server.settings import DEFAULTS
from server.storage import periods as period_storage
from server.storage import scales as scale_storage
from server.storage import flags as flag_storage
from server.storage import timestamp, write_transaction
from tests.scoring_data import make_org
from tests.test_scales import FIVE

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def _waiting(db):
    return db.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                      " AND datname = current_database()").fetchone()[0]


def while_the_other_waits(db, db_path, first, second):
    """Run ``first(connection)`` in a transaction left open until ``second(connection)``, started in a
    thread, waits for it; then commit it. Returns what ``second`` returned or raised."""
    one, two = storage.connect(db_path), storage.connect(db_path)
    outcome = {}

    def run():
        try:
            outcome["value"] = second(two)
        except Exception as error:  # noqa: BLE001 - the test looks at what it was
            outcome["error"] = error

    try:
        with write_transaction(one):
            first(one)
            job = threading.Thread(target=run)
            job.start()
            deadline = time.monotonic() + 60  # the second must wait for the first, not run beside it
            while not _waiting(db) and job.is_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert job.is_alive() and _waiting(db) == 1
        job.join(60)
        assert not job.is_alive()
        return outcome
    finally:
        one.close()
        two.close()


def test_a_period_closed_twice_at_once_is_closed_once_and_the_second_is_told_so(db, db_path):
    make_org(db)

    def first(one):
        period_storage.lock_for_close(one)
        period_storage.insert_period(one, "month", "2026-10", None, "2026-10-01", "2026-10-31", timestamp(), "hr")

    outcome = while_the_other_waits(db, db_path, first, lambda two: periods.close_period(
        two, cli_actor(), "2026-10", settings=dict(DEFAULTS)))
    assert isinstance(outcome.get("error"), Conflict), outcome
    assert db.execute("SELECT COUNT(*) FROM periods").fetchone()[0] == 1


def test_two_scales_published_at_once_take_the_next_two_numbers(db, db_path):
    outcome = while_the_other_waits(
        db, db_path, lambda one: scale_storage.insert_scale(one, FIVE["levels"], FIVE["reasons"], timestamp(), "a", ""),
        lambda two: scales.publish(two, cli_actor(), FIVE))
    assert outcome.get("value", outcome)["version"] == 3
    assert [row[0] for row in db.execute("SELECT version FROM rating_scales ORDER BY version")] == [1, 2, 3]


def test_an_objection_submitted_twice_at_once_is_filed_once(people):
    from tests.people import app_for

    path, facts = people
    db = storage.connect(path)
    try:
        staff_id = db.execute("SELECT id FROM staff WHERE code = 'NV001'").fetchone()[0]
        user_id = db.execute("SELECT id FROM users WHERE username = 'staff'").fetchone()[0]
        flag_id = facts["flags"]["in2"]

        def first(one):
            flag_storage.lock_objections(one)
            flag_storage.insert_objection(one, staff_id, flag_id, None, "Lần một.", timestamp(), user_id)

        def second(_two):
            return app_for(path).test_client().post(
                "/api/v1/objections", json={"flag": flag_id, "text": "Lần hai."},
                headers={"Authorization": f"Bearer {facts['tokens']['staff']}"})

        answer = while_the_other_waits(db, path, first, second)["value"]
        assert answer.status_code == 409, answer.json
        assert db.execute("SELECT COUNT(*) FROM objections WHERE flag_id = ? AND status = 'open'",
                          [flag_id]).fetchone()[0] == 1
    finally:
        db.close()
