"""Migrations upgrade a database in place: what was stored before is still there after."""

import json

import pytest

from migrations import migrations
from server import storage
from tests.live import hailong

pytestmark = pytest.mark.backends


def test_migrate_twice_applies_nothing_the_second_time(empty_target, tmp_path):
    instance = ["--instance", str(tmp_path / "instance")]  # its config.py and log key: never in the checkout
    first = hailong(*instance, "--database", str(empty_target), "migrate").stdout
    assert first.startswith("Applied ") and "m001_organisation, m002_rating_scales" in first
    assert f"to {storage.describe(empty_target)}:" in first
    again = hailong(*instance, "--database", str(empty_target), "migrate").stdout
    assert "Applied 0 migration(s)" in again and "none pending" in again


def test_session_incidents_join_the_one_incidents_table_with_their_stream(empty_target):
    db = storage.connect(empty_target)
    migrations.apply(db, stop_before="sync_001_one_store_for_every_stream")
    db.execute("INSERT INTO units (code, name, created_at, updated_at) VALUES ('U', 'U', 't', 't')")
    db.execute("INSERT INTO counters (code, name, unit_id, created_at, updated_at) VALUES ('C', 'C', 1, 't', 't')")
    db.execute("INSERT INTO devices (id, counter_id, public_key, token_hash, enrolled_at) VALUES"
               " ('dev-old', 1, 'k', 'h', 't')")
    db.execute("INSERT INTO sync_batches (device_id, received_at, n_votes, n_accepted, n_duplicate, n_conflict,"
               " n_rejected, ack_seq) VALUES ('dev-old', 't', 3, 2, 1, 0, 0, 2)")
    db.execute("INSERT INTO sync_incidents (device_id, batch_id, kind, seq, vote_uuid, digest, detail, created_at)"
               " VALUES ('dev-old', 1, 'gap', 3, NULL, NULL, '{\"missing_from\": 3}', 't1')")
    db.execute("INSERT INTO staff_session_incidents (device_id, kind, seq, event_uuid, digest, detail, payload,"
               " created_at) VALUES ('dev-old', 'rejected', 7, 'e-7', 'd7', '{\"errors\": {}}', '{\"seq\": 7}', 't2')")

    migrations.apply(db)

    assert db.execute("SELECT stream, n_items, ack_seq FROM sync_batches").fetchall() == [("votes", 3, 2)]
    rows = db.execute("SELECT stream, kind, seq, item_uuid, digest, payload, created_at FROM sync_incidents"
                      " ORDER BY id").fetchall()
    assert rows == [("votes", "gap", 3, None, None, None, "t1"),
                    ("sessions", "rejected", 7, "e-7", "d7", json.dumps({"seq": 7}), "t2")]
    assert not db["staff_session_incidents"].exists() and db["sync_incidents"].exists()
    db.close()
