"""A tablet in the field upgrades its outbox in place: nothing lost, nothing counted twice.

``tests/fixtures/outbox-0.1.0.sql`` is an outbox as release 0.1.0 left it
(made by ``tests/fixtures/make_outbox_0_1_0.py`` with that release's code):
votes acknowledged, delivered, queued and refused, kiosk keys, staff session
events acknowledged, queued and refused, PIN attempts and a lockout.
"""

import json
import os
import pathlib
import sqlite3
import subprocess
import sys

import pytest

from device_client import identity, protocol, staff, store
from device_client.schema import MIGRATIONS
from device_client.tablet import Tablet

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "outbox-0.1.0.sql"
START = 1795741200.0  # the fixture's staff clock: 2026-11-27 01:00 UTC
KEY = protocol.signing_key_from_seed(bytes(range(32)))


def old_tablet(folder):
    """A data folder holding the 0.1.0 outbox, with the key and identity it was made with."""
    data_dir = str(folder)
    os.makedirs(data_dir)
    identity._write_private(os.path.join(data_dir, identity.KEY_FILE), bytes(KEY))
    identity.save_identity(data_dir, {"server": "http://127.0.0.1:9", "device_id": "dev-fixture1",
                                      "token": "unused", "counter": "DN-TT-Q1"})
    conn = sqlite3.connect(os.path.join(data_dir, "outbox.db"))
    conn.executescript(FIXTURE.read_text(encoding="utf-8"))
    conn.close()
    return data_dir


def rows(data_dir, sql):
    conn = sqlite3.connect(os.path.join(data_dir, "outbox.db"))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
def before(tmp_path):
    """What the 0.1.0 outbox holds, read with plain SQL before anything upgrades it."""
    data_dir = old_tablet(tmp_path / "tablet")
    return data_dir, {
        "version": rows(data_dir, "PRAGMA user_version")[0][0],
        "votes": rows(data_dir, "SELECT seq, uuid, payload, created_at, delivered_at, acked_at FROM outbox"
                                " ORDER BY seq"),
        "dead_votes": rows(data_dir, "SELECT seq, uuid, payload, created_at, status, errors, moved_at"
                                     " FROM dead_letters ORDER BY seq"),
        "events": rows(data_dir, "SELECT seq, uuid, payload, created_at, delivered_at, acked_at"
                                 " FROM session_outbox WHERE dead IS NULL ORDER BY seq"),
        "dead_events": rows(data_dir, "SELECT seq, uuid, payload, created_at, dead FROM session_outbox"
                                      " WHERE dead IS NOT NULL ORDER BY seq"),
        "keys": rows(data_dir, "SELECT * FROM kiosk_keys ORDER BY key"),
        "pins": rows(data_dir, "SELECT * FROM pin_attempts ORDER BY staff"),
        "meta": dict(rows(data_dir, "SELECT key, value FROM meta")),
    }


@pytest.fixture
def upgraded(before):
    """The same data folder opened by today's tablet, which upgrades it; and what it held before."""
    data_dir, old = before
    tablet = Tablet(data_dir)
    yield tablet, old
    tablet.close()


def test_the_fixture_is_a_release_0_1_0_outbox(before):
    _, old = before
    assert old["version"] == 0
    assert [row[0] for row in old["votes"]] == [1, 2, 3, 6, 7, 8]
    assert [row[0] for row in old["dead_votes"]] == [4, 5]
    assert [row[0] for row in old["events"]] == [1, 2, 4] and [row[0] for row in old["dead_events"]] == [3]


def test_upgrading_keeps_every_vote_with_its_seq_payload_and_state(upgraded):
    tablet, old = upgraded
    data_dir = tablet.data_dir
    assert store.schema_version(tablet.conn) == len(MIGRATIONS)
    assert rows(data_dir, "SELECT seq, uuid, payload, created_at, delivered_at, acked_at FROM outbox"
                          " WHERE stream = 'votes' ORDER BY seq") == old["votes"]
    assert rows(data_dir, "SELECT seq, uuid, payload, created_at, status, errors, moved_at"
                          " FROM dead_letters WHERE stream = 'votes' ORDER BY seq") == old["dead_votes"]
    assert [vote["seq"] for vote in store.unsent(tablet.conn, "votes", 10)] == [7, 8]
    status = tablet.status()
    assert (status["last_seq"], status["ack_seq"], status["queue_depth"], status["awaiting_ack"]) == (8, 5, 3, 1)
    assert [(letter["stream"], letter["seq"], letter["status"]) for letter in status["dead_letter_list"]] == [
        ("votes", 4, "rejected"), ("votes", 5, "conflict"), ("sessions", 3, "rejected")]
    assert status["dead_letters"] == 3
    verifier = protocol.Verifier(protocol.public_key_b64(KEY))
    for vote in tablet.items("votes"):
        assert verifier.verify(protocol.canonical_vote_bytes(vote), vote["signature"])


def test_upgrading_keeps_staff_events_and_moves_refused_ones_to_dead_letters(upgraded):
    tablet, old = upgraded
    data_dir = tablet.data_dir
    assert rows(data_dir, "SELECT seq, uuid, payload, created_at, delivered_at, acked_at FROM outbox"
                          " WHERE stream = 'sessions' ORDER BY seq") == old["events"]
    ((seq, uuid, payload, created_at, dead),) = old["dead_events"]
    ((status, errors),) = rows(data_dir, "SELECT status, errors FROM dead_letters"
                                         f" WHERE stream = 'sessions' AND seq = {seq}")
    assert {"status": status, "errors": json.loads(errors)} == json.loads(dead)
    assert rows(data_dir, f"SELECT uuid, payload, created_at FROM dead_letters WHERE stream = 'sessions'"
                          f" AND seq = {seq}") == [(uuid, payload, created_at)]
    assert [event["seq"] for event in store.unsent(tablet.conn, "sessions", 10)] == [4]
    assert tablet.status()["session_events_queued"] == 1
    assert (store.last_seq(tablet.conn, "sessions"), store.ack_seq(tablet.conn, "sessions")) == (4, 3)


def test_sequences_continue_without_a_gap_after_the_upgrade(upgraded):
    tablet, _ = upgraded
    assert tablet.record_vote("NV002", 4)["seq"] == 9
    assert staff.sign_out(tablet, "manual", now=START + 1100) == "NV001"
    assert [event["seq"] for event in tablet.items("sessions")] == [1, 2, 4, 5]
    store.apply_results(tablet.conn, "votes", [{"seq": s, "status": "accepted"} for s in (7, 8, 9)], 9, "t")
    assert tablet.status()["queue_depth"] == 0  # seq 6, delivered before the upgrade, is acked too


def test_kiosk_keys_still_return_the_vote_they_recorded(upgraded):
    tablet, _ = upgraded
    again = tablet.record_vote("NV001", 4, key="citizen-key-0007")
    assert again["seq"] == 7 and again["rating"] == 1
    assert tablet.record_vote("NV001", 4, key="citizen-key-0001")["seq"] == 1
    assert store.last_seq(tablet.conn, "votes") == 8  # no new vote


def test_pin_lockouts_and_the_signed_in_session_survive_the_upgrade(upgraded):
    tablet, old = upgraded
    data_dir = tablet.data_dir
    assert rows(data_dir, "SELECT * FROM pin_attempts ORDER BY staff") == old["pins"]
    with pytest.raises(staff.SignInError) as locked:
        staff.sign_in(tablet, "NV002", "5678", now=START + 1100)
    assert locked.value.code == "locked"
    assert staff.current(tablet, now=START + 1100)["staff"] == "NV001"
    assert tablet.config == json.loads(old["meta"]["config"])
    assert tablet.status()["last_error"]["message"] == "unreachable: timed out"
    assert staff.sign_in(tablet, "NV002", "5678", now=START + 1800)["staff"] == "NV002"  # lock over


def test_an_upgraded_outbox_has_exactly_the_schema_of_a_new_one(before, tmp_path):
    data_dir, _ = before
    store.open_store(data_dir).close()
    store.open_store(str(tmp_path / "new")).close()

    def schema(folder):  # the same statements, whatever their indentation
        return [(kind, name, " ".join((sql or "").split()))
                for kind, name, sql in rows(folder, "SELECT type, name, sql FROM sqlite_master ORDER BY name")]

    assert schema(data_dir) == schema(str(tmp_path / "new"))
    assert rows(data_dir, "PRAGMA user_version") == rows(str(tmp_path / "new"), "PRAGMA user_version")


CRASH = """
import os, sys
from device_client import schema, store
real = schema.MIGRATIONS[-1]
def crash(conn):
    real(conn)
    os._exit(3)  # the power goes out after the migration's work, before its commit
schema.MIGRATIONS = store.MIGRATIONS = (*schema.MIGRATIONS[:-1], crash)
store.open_store(sys.argv[1])
"""


def test_a_crash_mid_upgrade_leaves_the_old_outbox_whole_and_the_next_start_upgrades_it(before):
    data_dir, old = before
    crashed = subprocess.run([sys.executable, "-c", CRASH, data_dir], capture_output=True, text=True, timeout=60)
    assert crashed.returncode == 3, crashed.stderr
    assert rows(data_dir, "PRAGMA user_version")[0][0] == len(MIGRATIONS) - 1
    assert rows(data_dir, "SELECT seq, uuid, payload, created_at, delivered_at, acked_at FROM outbox"
                          " ORDER BY seq") == old["votes"]
    assert len(rows(data_dir, "SELECT * FROM session_outbox")) == 4
    tablet = Tablet(data_dir)
    try:
        assert store.schema_version(tablet.conn) == len(MIGRATIONS)
        assert [vote["seq"] for vote in tablet.items("votes")] == [1, 2, 3, 6, 7, 8]
    finally:
        tablet.close()


def test_an_outbox_from_a_newer_release_is_refused_not_touched(tmp_path):
    data_dir = str(tmp_path / "newer")
    store.open_store(data_dir).close()
    conn = sqlite3.connect(os.path.join(data_dir, "outbox.db"))
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(store.NewerOutbox, match="newer than this hailong-device"):
        store.open_store(data_dir)


def test_several_processes_opening_an_old_outbox_at_once_upgrade_it_once(before):
    data_dir, old = before
    code = "import sys; from device_client import store; store.open_store(sys.argv[1]).close()"
    workers = [subprocess.Popen([sys.executable, "-c", code, data_dir]) for _ in range(4)]
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0, 0, 0]
    assert rows(data_dir, "PRAGMA user_version")[0][0] == len(MIGRATIONS)
    assert len(rows(data_dir, "SELECT * FROM outbox WHERE stream = 'votes'")) == len(old["votes"])


def test_after_the_upgrade_a_rapid_tap_is_marked_from_the_last_vote_release_0_1_0_recorded(upgraded):
    import datetime as dt

    tablet, old = upgraded
    last = json.loads(old["meta"]["last_vote_at"])  # written by 0.1.0 with its last vote
    soon = tablet.record_vote("NV002", 4, now=dt.datetime.fromtimestamp(last + 0.5).astimezone(), min_interval=1)
    later = tablet.record_vote("NV002", 4, now=dt.datetime.fromtimestamp(last + 10).astimezone(), min_interval=1)
    assert (soon["seq"], soon["marks"]) == (9, ["rapid_repeat"]) and "marks" not in later
    assert [vote["seq"] for vote in tablet.items("votes") if "marks" in vote] == [9]  # none of the old votes
    verifier = protocol.Verifier(protocol.public_key_b64(KEY))
    for vote in tablet.items("votes"):
        assert protocol.vote_errors(vote) == {}
        assert verifier.verify(protocol.canonical_vote_bytes(vote), vote["signature"])
