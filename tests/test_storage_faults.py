"""A full disk and a read-only database: 503 and "try again", nothing half-written, recovery by itself.

Everything runs on a real, small tmpfs (``tests/small_disk.py``) made full
with a filler file or remounted read-only: the errors are the kernel's and
SQLite's own.
"""

import sqlite3

import pytest

from migrations import migrations
from server import storage
from server.storage import health
from tests.small_disk import small_disk


@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path / "disk") as mounted:
        yield mounted


@pytest.fixture
def disk_db(disk):
    path = f"{disk.folder}/hailong.db"
    db = storage.connect(path)
    migrations.apply(db)
    yield db, path
    db.close()


def test_a_full_disk_is_classified_as_full_and_the_probe_says_so(disk, disk_db):
    db, path = disk_db
    health.probe_write(db)
    disk.fill()
    with pytest.raises((sqlite3.Error, OSError)) as caught:
        health.probe_write(db)
    assert health.classify(caught.value, path) == "full"
    assert not db.conn.in_transaction
    disk.free()
    health.probe_write(db)


def test_a_commit_that_fails_on_a_full_disk_leaves_nothing_written_and_no_transaction_open(disk, disk_db):
    db, path = disk_db
    db.execute("CREATE TABLE filling (blob BLOB)")
    disk.fill()
    with pytest.raises(sqlite3.Error) as caught:
        with storage.write_transaction(db):
            for _ in range(200):
                db.execute("INSERT INTO filling VALUES (randomblob(4000))")
    assert health.classify(caught.value, path) == "full"
    assert not db.conn.in_transaction
    assert db.execute("SELECT count(*) FROM filling").fetchone()[0] == 0
    disk.free()
    with storage.write_transaction(db):
        db.execute("INSERT INTO filling VALUES (x'00')")
    assert db.execute("SELECT count(*) FROM filling").fetchone()[0] == 1
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_read_only_disk_is_classified_as_read_only_and_a_held_lock_as_busy(disk, disk_db, tmp_path):
    db, path = disk_db
    holder = storage.connect(path)
    holder.execute("BEGIN IMMEDIATE")
    waiting = storage.connect(path, busy_timeout_ms=50)
    with pytest.raises(sqlite3.Error) as busy:
        health.probe_write(waiting)
    assert health.classify(busy.value) == "busy"
    holder.execute("ROLLBACK")
    for connection in (holder, waiting, db):
        connection.close()
    disk.read_only()
    with pytest.raises((sqlite3.Error, OSError)) as read_only:
        health.probe_write(storage.connect(path))
    assert health.classify(read_only.value, path) == "read_only"
    disk.writable()
    health.probe_write(storage.connect(path))


def test_errors_that_are_not_about_storage_are_not_classified():
    assert health.classify(ValueError("no")) is None
    assert health.classify(sqlite3.IntegrityError("UNIQUE constraint failed")) is None
    assert health.classify(OSError(2, "No such file")) is None
    assert health.classify(OSError(28, "No space left on device")) == "full"
    assert health.classify(OSError(30, "Read-only file system")) == "read_only"
