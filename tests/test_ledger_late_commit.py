"""On PostgreSQL a vote with a smaller id can commit after one with a larger id (two servers, one
sequence). The log appender reads rows after the tree's last one in id order, so it must never move past a
vote still in an open transaction: it reads only up to ``order.settled_max_id``, which waits for every
insert holding an id at or below the current maximum (server/storage/order.py). The late vote becomes its
leaf in id order, and the roots still verify."""

import random
import threading
import time

import pytest

from server import storage
from server.ledger import leaves, log, merkle
from server.storage import ledger as store
from server.storage import order, write_transaction
from tests.ledger_data import add_votes, make_database


def _waiting_for_advisory_lock(db):
    return db.execute("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                      " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                      ).fetchone()[0]


def _vote_id(db, uuid):
    return db.execute("SELECT id FROM votes WHERE uuid = ?", [uuid]).fetchone()[0]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_vote_committed_late_by_another_server_is_appended_in_id_order_not_skipped(db_path, tmp_path):
    db, device = make_database(db_path, tmp_path)
    add_votes(db, device, 3, random.Random(1))
    assert log.catch_up(db, "votes") == 3
    late_server, appender = storage.connect(db_path), storage.connect(db_path)
    try:
        with write_transaction(late_server):  # this server's vote takes its id first and commits last
            order.appending(late_server)
            late = _vote_id(late_server, add_votes(late_server, device, 1, random.Random(2), first_seq=4)[0])
            with write_transaction(db):
                order.appending(db)
                early = _vote_id(db, add_votes(db, device, 1, random.Random(3), first_seq=5)[0])
            assert early > late
            done = []
            job = threading.Thread(target=lambda: done.append(log.catch_up(appender, "votes")))
            job.start()
            deadline = time.monotonic() + 60  # the appender must wait for the open insert, not pass it
            while not _waiting_for_advisory_lock(db) and job.is_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert job.is_alive() and _waiting_for_advisory_lock(db) == 1
            assert log.tree_state(db, "votes")["size"] == 3
        job.join(60)
        assert not job.is_alive() and done == [2]
        rows = db.execute("SELECT idx, row_id FROM log_leaves WHERE tree = 'votes' ORDER BY idx").fetchall()
        assert [row_id for _, row_id in rows][-2:] == [late, early]
        assert [row_id for _, row_id in rows] == sorted(row_id for _, row_id in rows)
        hashes = [bytes(h) for (h,) in db.execute("SELECT hash FROM log_leaves WHERE tree = 'votes' ORDER BY idx")]
        assert hashes == [merkle.leaf_hash(leaves.vote_leaf(row)) for row in store.source_rows_after(db, "votes", 0, 99)]
        assert log.tree_state(db, "votes")["root"] == merkle.root_from_leaves(hashes)
        assert log.catch_up(appender, "votes") == 0
    finally:
        late_server.close()
        appender.close()
        db.close()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_appenders_at_once_take_turns_on_the_tree_row(db_path, tmp_path):
    """An export on one server and the jobs on another may catch the same tree up together."""
    db, device = make_database(db_path, tmp_path)
    add_votes(db, device, 120, random.Random(4))
    others = [storage.connect(db_path) for _ in range(2)]
    counts, errors = [], []

    def run(conn):
        try:
            counts.append(log.catch_up(conn, "votes", chunk=7))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    try:
        threads = [threading.Thread(target=run, args=(conn,)) for conn in others]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert errors == [] and sum(counts) == 120
        hashes = [bytes(h) for (h,) in db.execute("SELECT hash FROM log_leaves WHERE tree = 'votes' ORDER BY idx")]
        assert len(hashes) == 120 and log.tree_state(db, "votes")["root"] == merkle.root_from_leaves(hashes)
    finally:
        for conn in others:
            conn.close()
        db.close()
