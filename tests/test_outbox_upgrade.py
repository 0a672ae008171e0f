"""A tablet in the field upgrades its outbox in place: nothing lost, nothing counted twice.

``tests/fixtures/outbox-0.1.0.sql`` is an outbox as release 0.1.0 left it
(made by ``tests/fixtures/make_outbox_0_1_0.py`` with that release's code):
votes acknowledged, delivered, queued and refused, kiosk keys, staff session
events acknowledged, queued and refused, PIN attempts and a lockout.
"""

import os
import pathlib
import sqlite3
import subprocess
import sys

import pytest

from device_client import identity, protocol, store
from device_client.schema import MIGRATIONS

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "outbox-0.1.0.sql"
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


def test_the_fixture_is_a_release_0_1_0_outbox(before):
    _, old = before
    assert old["version"] == 0
    assert [row[0] for row in old["votes"]] == [1, 2, 3, 6, 7, 8]
    assert [row[0] for row in old["dead_votes"]] == [4, 5]
    assert [row[0] for row in old["events"]] == [1, 2, 4] and [row[0] for row in old["dead_events"]] == [3]


def test_numbering_a_release_0_1_0_outbox_changes_none_of_its_rows(before):
    data_dir, old = before
    store.open_store(data_dir).close()
    assert rows(data_dir, "PRAGMA user_version")[0][0] == len(MIGRATIONS)
    assert rows(data_dir, "SELECT seq, uuid, payload, created_at, delivered_at, acked_at FROM outbox"
                          " ORDER BY seq") == old["votes"]
    assert rows(data_dir, "SELECT seq, uuid, payload, created_at, status, errors, moved_at FROM dead_letters"
                          " ORDER BY seq") == old["dead_votes"]
    assert rows(data_dir, "SELECT * FROM kiosk_keys ORDER BY key") == old["keys"]
    assert rows(data_dir, "SELECT * FROM pin_attempts ORDER BY staff") == old["pins"]
    assert dict(rows(data_dir, "SELECT key, value FROM meta")) == old["meta"]


def test_an_upgraded_outbox_has_exactly_the_schema_of_a_new_one(before, tmp_path):
    data_dir, _ = before
    store.open_store(data_dir).close()
    store.open_store(str(tmp_path / "new")).close()

    def schema(folder):  # the same statements, whatever their indentation
        return [(kind, name, " ".join((sql or "").split()))
                for kind, name, sql in rows(folder, "SELECT type, name, sql FROM sqlite_master ORDER BY name")]

    assert schema(data_dir) == schema(str(tmp_path / "new"))
    assert rows(data_dir, "PRAGMA user_version") == rows(str(tmp_path / "new"), "PRAGMA user_version")


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
    assert len(rows(data_dir, "SELECT * FROM outbox")) == len(old["votes"])
