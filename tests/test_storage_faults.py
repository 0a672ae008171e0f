"""A full disk and a read-only database: 503 and "try again", nothing half-written, recovery by itself.

Everything runs on a real, small tmpfs (``tests/small_disk.py``) made full
with a filler file or remounted read-only: the errors are the kernel's and
SQLite's own.
"""

import os
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


# -- a real server and a real tablet, the database on the small disk ---------------------------------------------


class Rig:
    """A migrated database with a small org on the small disk, a real ``hailong serve`` over it.

    The instance folder (secret key, log key) stays on the ordinary disk, as
    does every log: only the database meets the full or read-only disk.
    """

    def __init__(self, disk, folder):
        from devtools.processes import Server
        from tests.live import seed_org

        self.disk, self.folder = disk, folder
        self.database = f"{disk.folder}/hailong.db"
        db = storage.connect(self.database)
        migrations.apply(db)
        db.close()
        seed_org(self.database, folder)
        self.env = {"HAILONG_INSTANCE": str(folder / "instance")}
        self.server = Server(self.database, workers=1, env=self.env, log_path=folder / "serve.log").start()

    def read(self, sql, params=()):
        conn = sqlite3.connect(self.database)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def state(self, device_id):
        """What a failed request must not have touched: the device's rows in every table a batch writes."""
        return {
            "votes": self.read("SELECT count(*), count(DISTINCT uuid) FROM votes WHERE device_id = ?", [device_id])[0],
            "batches": self.read("SELECT count(*) FROM sync_batches WHERE device_id = ?", [device_id])[0][0],
            "incidents": self.read("SELECT count(*) FROM sync_incidents WHERE device_id = ?", [device_id])[0][0],
            "ack_seq": self.read("SELECT ack_seq FROM devices WHERE id = ?", [device_id])[0][0],
        }

    def empty_the_wal(self):
        """Checkpoint and truncate the WAL, so the next write needs new blocks (else it may reuse WAL space)."""
        busy, _, _ = self.read("PRAGMA wal_checkpoint(TRUNCATE)")[0]
        assert busy == 0


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    folder = tmp_path_factory.mktemp("storage_faults")
    with small_disk(folder / "disk") as disk:
        rig = Rig(disk, folder)
        try:
            yield rig
        finally:
            rig.server.stop()
            disk.free()


def tap(tablet, count):
    for index in range(count):
        tablet.record_vote("NV003", 1 + index % 4)


def refused(call, *args):
    """The ``ServerError`` a tablet call raised: the server's 503 reached the tablet as a refusal, not a loss."""
    from device_client import transport

    with pytest.raises(transport.ServerError) as caught:
        call(*args)
    return caught.value


def test_a_full_disk_answers_503_keeps_the_tablets_votes_and_takes_them_when_space_returns(rig, tmp_path):
    from device_client.sync import sync_now, sync_once
    from devtools.processes import Jobs
    from tests.live import enroll_tablet, hailong

    tablet = enroll_tablet(rig.server, tmp_path / "tablet")
    tap(tablet, 3)
    sync_now(tablet)
    before = rig.state(tablet.device_id)
    assert before == {"votes": (3, 3), "batches": 1, "incidents": 0, "ack_seq": 3}
    tap(tablet, 5)

    rig.empty_the_wal()
    rig.disk.fill()
    jobs = Jobs(rig.database, env=rig.env, settings={"JOBS_LOG_APPEND_SECONDS": 1}, log_path=tmp_path / "jobs.log")
    jobs.start()
    try:
        refusal = refused(sync_once, tablet)
        assert (refusal.status, refusal.code, refusal.fields, refusal.retry_after) == (503, "storage_full", {}, 60)
        assert refused(tablet.heartbeat).code == "storage_full"
        assert ready(rig) == (503, "full")
        # A malformed vote is kept as an incident when the batch is stored: here nothing may be.
        answer = post_bad_vote(rig, tablet)
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "60"
        assert answer.json() == {"error": {"code": "storage_full", "fields": {},
                                           "message": "The server's disk is full, so nothing could be saved. "
                                                      "Nothing was changed: try again later."}}
        # Nothing half-written: no batch, no vote, no incident, the device's acknowledgement where it was.
        assert rig.state(tablet.device_id) == before
        assert tablet.status()["queue_depth"] == 5 and tablet.status()["ack_seq"] == 3
        # A command at the prompt: one readable line.
        command = hailong("--database", rig.database, "device-code", "--counter", "DN-TT-Q1", env=rig.env, check=False)
        assert command.returncode == 1 and command.stderr.startswith("Error: the database "), command.stderr
        assert "its disk is full" in command.stderr and len(command.stderr.strip().splitlines()) == 1
        # hailong jobs met it too (the log's append has 3 votes to add): one line, and it goes on.
        wait_for(lambda: "the database cannot take writes now (full" in jobs.log_text(), jobs)
        assert jobs.alive() and "Traceback" not in jobs.log_text()

        rig.disk.free()  # no restart of either process from here on
        assert ready(rig) == (200, None)
        sync_now(tablet)
        assert tablet.status()["queue_depth"] == 0 and tablet.status()["ack_seq"] == 8
        after = rig.state(tablet.device_id)
        assert after == {"votes": (8, 8), "batches": 2, "incidents": 0, "ack_seq": 8}
        assert post_bad_vote(rig, tablet).json()["results"][0]["status"] == "rejected"
        assert rig.state(tablet.device_id) == {**after, "batches": 3, "incidents": 1}
        votes = rig.read("SELECT count(*) FROM votes")[0][0]
        wait_for(lambda: rig.read("SELECT size FROM log_trees WHERE name = 'votes'")[0][0] == votes, jobs)
    finally:
        assert jobs.stop() and jobs.returncode == 0, jobs.log_text()
    assert rig.read("PRAGMA integrity_check") == [("ok",)]


def ready(rig):
    """/readyz's status, and the kind of storage problem it names."""
    import requests

    answer = requests.get(rig.server.url + "/readyz", timeout=30)
    message = answer.json().get("error", {}).get("message", "")
    return answer.status_code, next((kind for kind in ("full", "read_only") if f"({kind})" in message), None)


def post_bad_vote(rig, tablet):
    import requests

    return requests.post(rig.server.url + "/api/v1/votes/batch", timeout=30,
                         headers={"Authorization": f"Bearer {tablet.identity['token']}"},
                         json={"device_time": "2026-01-05T09:00:00+07:00", "votes": [{"seq": 1}]})


def wait_for(condition, process, seconds=30):
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, process.log_text()
        time.sleep(0.1)


def test_a_read_only_database_answers_503_on_the_api_and_a_page_and_recovers_without_a_restart(rig, tmp_path):
    import requests

    from device_client.sync import sync_now, sync_once
    from tests.live import enroll_tablet, hailong

    tablet = enroll_tablet(rig.server, tmp_path / "tablet")
    tap(tablet, 2)
    sync_now(tablet)
    before = rig.state(tablet.device_id)
    tap(tablet, 3)

    # Linux will not remount a file system read-only while files on it are open for writing: the server stops,
    # as a machine that comes back with its disk read-only would have; it starts on the read-only database.
    rig.server.stop()
    # A gunicorn worker that dies of the SIGTERM instead of exiting (seen under load) leaves the database's
    # -wal and -shm files behind, and SQLite opens a WAL database read-only without complaint when they
    # exist: the start-up warning read below would not be written. The last connection to close removes
    # them, as a clean shutdown does.
    rig.read("SELECT count(*) FROM sqlite_master")  # a read: a connection that never reads leaves the files
    assert not os.path.exists(rig.database + "-wal")
    rig.disk.read_only()
    try:
        rig.server.start()
        assert "cannot take writes now (read-only" in rig.server.log_text()
        refusal = refused(sync_once, tablet)
        assert (refusal.status, refusal.code, refusal.retry_after) == (503, "storage_read_only", 60)
        assert tablet.status()["queue_depth"] == 3
        assert ready(rig) == (503, "read_only")
        command = hailong("--database", rig.database, "device", "list", env=rig.env, check=False)
        assert command.returncode == 1 and "it is read-only" in command.stderr
        assert len(command.stderr.strip().splitlines()) == 1
        for lang, words in (("vi", "chỉ đọc"), ("en", "read-only")):
            page = requests.get(rig.server.url + f"/?lang={lang}", headers={"Accept": "text/html"}, timeout=30)
            assert page.status_code == 503 and page.headers["Retry-After"] == "60"
            assert page.headers["Content-Type"].startswith("text/html") and words in page.text
    finally:
        rig.disk.writable()
    assert ready(rig) == (200, None)
    sync_now(tablet)  # the same server process
    assert tablet.status()["queue_depth"] == 0
    assert rig.state(tablet.device_id) == {**before, "votes": (5, 5), "batches": 2, "ack_seq": 5}
    assert rig.read("PRAGMA integrity_check") == [("ok",)]
