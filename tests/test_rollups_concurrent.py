"""The rollups on PostgreSQL when several servers write at once.

A vote with a smaller id can commit after one with a larger id (two servers, one sequence): the rollup
job reads votes after a watermark id, so it must never move the watermark past a vote still in an open
transaction; it bounds each step by ``order.settled_max_id``, which waits for every insert holding an
id at or below the current maximum (server/storage/order.py). And two rollup steps may run at once (the
jobs process, and a period being closed on a web server): the second waits for the first
(``rollups.lock_step``) and never adds the same votes again.
"""

import threading
import time

import pytest

from server import storage
from server.scoring import rollups
from server.storage import order, write_transaction
from server.storage import rollups as rollup_storage
from tests.scoring_data import add_vote, make_org

TZ = "Asia/Ho_Chi_Minh"


def _waiting_for_advisory_lock(db):
    return db.execute("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                      " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                      ).fetchone()[0]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_vote_committed_late_by_another_server_is_rolled_up_exactly_once(db, db_path):
    ids = make_org(db)
    late_server, rollup_job = storage.connect(db_path), storage.connect(db_path)
    try:
        with write_transaction(late_server):  # this server's vote takes its id first and commits last
            order.appending(late_server)
            late = add_vote(late_server, ids, "SA1", "A-Q1", "2026-10-10T03:00:00.000Z")
            with write_transaction(db):
                order.appending(db)
                early = add_vote(db, ids, "SA2", "A-Q1", "2026-10-10T03:00:01.000Z")
            assert early > late
            done = {}
            job = threading.Thread(target=lambda: done.update(rollups.roll_up(rollup_job, TZ)))
            job.start()
            deadline = time.monotonic() + 60  # the step must wait for the open insert, not pass it
            while not _waiting_for_advisory_lock(db) and job.is_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert job.is_alive() and _waiting_for_advisory_lock(db) == 1
        job.join(60)
        assert not job.is_alive()
        assert (done["votes"], done["watermark"]) == (2, early)
        assert rollups.roll_up(rollup_job, TZ)["votes"] == 0
        assert sum(rollup_storage.all_rows(db).values()) == 2
        assert rollup_storage.all_rows(db) == rollups.full_recount(db, TZ)
    finally:
        late_server.close()
        rollup_job.close()


def _waiting(db):
    return db.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                      " AND datname = current_database()").fetchone()[0]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_rollup_steps_at_once_count_each_vote_once(db, db_path):
    ids = make_org(db)
    for second in range(6):
        add_vote(db, ids, "SA1", "A-Q1", f"2026-10-10T03:00:0{second}.000Z")
    first_step, second_step = storage.connect(db_path), storage.connect(db_path)
    try:
        with write_transaction(first_step):  # a step half done: its votes added, not yet committed
            rollup_storage.lock_step(first_step)
            low = rollup_storage.watermark(first_step)
            high = rollup_storage.chunk_end(first_step, low, 100, order.settled_max_id(db, "votes"))
            rollup_storage.add_votes_sql(first_step, low, high, 420)
            rollup_storage.set_watermark(first_step, high)
            done = {}
            job = threading.Thread(target=lambda: done.update(rollups.roll_up(second_step, TZ)))
            job.start()
            deadline = time.monotonic() + 60  # the second step must wait for the first, not count beside it
            while not _waiting(db) and job.is_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert job.is_alive() and _waiting(db) == 1
        job.join(60)
        assert not job.is_alive()
        assert done["votes"] == 0
        assert sum(rollup_storage.all_rows(db).values()) == 6
        assert rollup_storage.all_rows(db) == rollups.full_recount(db, TZ)
    finally:
        first_step.close()
        second_step.close()
