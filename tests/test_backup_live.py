"""A backup taken while real tablets sync into a real server, restored into a new instance that then serves.

Three enrolled tablets run as real `hailong-device run` processes, each fed
taps by a thread writing to its outbox (as the kiosk does), and sync into
`hailong serve`; `hailong jobs` appends the log and takes its scheduled
backup meanwhile, and `hailong backup` takes another by hand mid-ingest. The
backup is one consistent snapshot (the batches' counts add up to its votes,
each tablet's acknowledgement is its votes there, and its votes are exactly
the live database's first ones); `hailong restore` checks it and puts it in a
new instance, whose server answers with the manifest's counts and whose log
verifies against the signed checkpoint. Then the refusals a restore owes the
operator: a database in use, a file that is not what its manifest says.
"""

import json
import shutil
import sqlite3
import threading
import time

import pytest
import requests

from device_client.tablet import Tablet
from devtools.processes import DeviceRun, Jobs, Server
from server import storage
from server.backups import restore as restoring
from server.storage import backups as backup_store
from server.storage import ledger as ledger_store
from server.ledger import leaves, log, merkle
from tests.live import enroll_tablet, hailong, seed_org
from tests.people import create_user, token_for

TABLETS = {"DN-TT-Q1": ["NV001", "NV002"], "DN-BH-Q1": ["NV004"]}
FIRST = 60  # votes on the server before the jobs process starts and the backups are taken


def count(database, sql="SELECT COUNT(*) FROM votes", params=()):
    conn = sqlite3.connect(database)
    try:
        return conn.execute(sql, params).fetchone()[0]
    finally:
        conn.close()


def wait_for(condition, what, timeout=90):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class Taps(threading.Thread):
    """Taps on one tablet until stopped, a few ms apart; the tablet's own sync process sends them."""

    def __init__(self, data_dir, staff):
        super().__init__(daemon=True)
        self.data_dir, self.staff, self.done, self.stop_after = data_dir, staff, 0, None
        self.error = None

    def run(self):
        tablet = Tablet(str(self.data_dir))
        try:
            while self.stop_after is None or self.done < self.stop_after:
                tablet.record_vote(self.staff[self.done % len(self.staff)], 1 + self.done % 4, ticket=f"T-{self.done}")
                self.done += 1
                time.sleep(0.004)
        except Exception as exc:  # noqa: BLE001  (reported by the test, not lost in a thread)
            self.error = exc
        finally:
            tablet.close()


@pytest.fixture
def province(tmp_path):
    instance = tmp_path / "instance"
    hailong("--instance", str(instance), "migrate")
    database = instance / "hailong.db"
    seed_org(database, tmp_path)
    db = storage.connect(database)
    create_user(db, "auditor", "auditor", "DN")
    token = token_for(db, "auditor")
    db.close()
    server = Server(database, settings={"INSTANCE": str(instance)}, log_path=tmp_path / "serve.log").start()
    started = [server]
    yield server, instance, token, started
    for process in reversed(started):
        process.stop()


def test_a_backup_taken_during_ingest_restores_into_a_new_instance_that_serves_and_verifies(province, tmp_path):
    server, instance, token, started = province
    auth = {"Authorization": f"Bearer {token}"}
    taps, runs = [], []
    for n, (counter, staff) in enumerate(TABLETS.items()):
        data_dir = tmp_path / f"tablet{n}"
        enroll_tablet(server, data_dir, counter).close()
        runs.append(DeviceRun(data_dir, kiosk_port=False, args=["--interval", "1"],
                              log_path=tmp_path / f"tablet{n}.log"))
        started.append(runs[-1].start())
        taps.append(Taps(data_dir, staff))
    for tap in taps:
        tap.start()
    wait_for(lambda: count(server.database) >= FIRST, "the first votes on the server")
    # The jobs process appends the log every second, signs a first checkpoint and takes its scheduled backup at
    # start (there is none yet).
    jobs = Jobs(server.database, settings={"INSTANCE": str(instance), "JOBS_LOG_APPEND_SECONDS": 1},
                log_path=tmp_path / "jobs.log")
    started.append(jobs.start())
    wait_for(lambda: "backup: " in jobs.log_text(), "the scheduled backup")
    wait_for(lambda: count(server.database, "SELECT MAX(size) FROM log_checkpoints WHERE tree = 'votes'") or 0,
             "the first checkpoint")
    taken = hailong("--instance", str(instance), "backup", "--to", str(tmp_path / "backups")).stdout
    assert "Backed up" in taken and "Copy it off this machine" in taken
    for tap in taps:
        tap.stop_after = tap.done + 40  # ingest goes on after the backup
    for tap in taps:
        tap.join(60)
        assert tap.error is None, tap.error
    total = sum(tap.done for tap in taps)
    wait_for(lambda: count(server.database) == total, "every vote on the server")

    # The scheduled backup: whole, and sound.
    assert "backup failed" not in jobs.log_text()
    scheduled = sorted((instance / "backups").glob("hailong-*.db"))
    assert len(scheduled) == 1 and scheduled[0].with_suffix(".json").exists()
    assert "PRAGMA integrity_check: ok" in restoring.check(scheduled[0], {"INSTANCE": str(instance)})["findings"]

    # The manual one: one consistent snapshot, taken mid-ingest.
    (backup,) = (tmp_path / "backups").glob("hailong-*.db")
    manifest = json.loads(backup.with_suffix(".json").read_text(encoding="utf-8"))
    assert (backup.stat().st_mode & 0o777) == 0o600
    in_backup = manifest["tables"]["votes"]
    assert FIRST <= in_backup < total
    assert count(backup, "SELECT SUM(n_accepted) FROM sync_batches") == in_backup
    assert count(backup, "SELECT COUNT(*) FROM devices d WHERE ack_seq ="
                         " (SELECT COUNT(*) FROM votes v WHERE v.device_id = d.id)") == len(TABLETS)
    assert count(backup, "SELECT MAX(id) FROM votes") == in_backup
    live = sqlite3.connect(server.database)
    snapshot = sqlite3.connect(backup)
    rows = "SELECT id, uuid, device_id, seq, rating, signature FROM votes WHERE id <= ? ORDER BY id"
    assert snapshot.execute(rows, [in_backup]).fetchall() == live.execute(rows, [in_backup]).fetchall()
    live.close()
    snapshot.close()
    checkpoint = manifest["log"]["votes"]["checkpoint"]
    assert checkpoint is not None and FIRST <= checkpoint["size"] <= manifest["log"]["votes"]["size"] <= in_backup

    # Restored into a new instance: its secrets copied first, as docs/operations.md says.
    new = tmp_path / "restored"
    new.mkdir(mode=0o700)
    shutil.copy2(instance / "log-key", new / "log-key")
    shutil.copy2(instance / "config.py", new / "config.py")
    restored = hailong("--instance", str(new), "restore", str(backup))
    out = restored.stdout
    assert "PRAGMA integrity_check: ok" in out and f"Restored into {new / 'hailong.db'}" in out
    assert (f"votes log: {manifest['log']['votes']['size']} leaves; the root at checkpoint {checkpoint['id']}'s size"
            f" ({checkpoint['size']}" in out)
    assert "its signature holds with INSTANCE/log-key" in out
    assert "log-key is missing" not in restored.stderr and "SECRET_KEY" not in restored.stderr
    database = new / "hailong.db"
    assert (database.stat().st_mode & 0o777) == 0o600
    db = storage.connect(database)
    try:
        assert backup_store.table_counts(db) == manifest["tables"]
        # The log, recomputed from the votes themselves: the root at the checkpoint's size is the one it signed.
        rows = ledger_store.source_rows_after(db, "votes", 0, checkpoint["size"])
        recomputed = merkle.root_from_leaves([merkle.leaf_hash(leaves.vote_leaf(row)) for row in rows])
        assert recomputed == log.root(db, "votes", checkpoint["size"])
        assert recomputed == bytes(log.latest_checkpoint(db, "votes")["root"])
    finally:
        db.close()

    # A server started on it answers, with the backup's counts.
    again = Server(database, settings={"INSTANCE": str(new)}, log_path=tmp_path / "restored-serve.log")
    started.append(again.start())
    answer = requests.get(f"{again.url}/api/v1/log/votes/checkpoints", headers=auth, timeout=10)
    assert answer.status_code == 200, answer.text
    latest = answer.json()["checkpoints"][0]
    assert (latest["id"], latest["size"], latest["root"]) == (checkpoint["id"], checkpoint["size"], checkpoint["root"])
    devices = requests.get(f"{again.url}/api/v1/devices", headers=auth, timeout=10).json()
    assert sum(device["ack_seq"] for device in devices["devices"]) == in_backup

    # Restoring over a database a server has open is refused, and changes nothing.
    before = count(database)
    refused = hailong("--instance", str(new), "restore", "--replace", str(backup), check=False)
    assert refused.returncode == 1 and refused.stderr.startswith("Error: ") and "open in another process" in refused.stderr
    assert "Traceback" not in refused.stderr and count(database) == before
    again.stop()
    replaced = hailong("--instance", str(new), "restore", "--replace", str(backup)).stdout
    assert "The database that was there is kept as" in replaced
    assert len(list(new.glob("hailong.db.before-restore-*"))) == 1

    # The tablets move to the restored server. They kept every vote, acknowledged or not: at their next tap the
    # server's acknowledgement is lower than the one they had, so they send again what it no longer holds.
    again.start()
    for run, tap in zip(runs, taps):
        run.stop()
        moved = DeviceRun(run.data_dir, kiosk_port=False, args=["--interval", "1", "--server", again.url],
                          log_path=tmp_path / "moved.log")
        started.append(moved.start())
        tablet = Tablet(run.data_dir)
        tablet.record_vote(tap.staff[0], 4)
        tablet.close()
    wait_for(lambda: count(database) == total + len(TABLETS), "the votes since the backup back from the tablets")
    assert count(database, "SELECT COUNT(*) FROM sync_incidents WHERE kind = 'gap' AND resolved_at IS NULL") == 0
    live = sqlite3.connect(server.database)
    every_vote = set(live.execute("SELECT uuid, signature FROM votes").fetchall())
    live.close()
    back = sqlite3.connect(database)
    assert every_vote <= set(back.execute("SELECT uuid, signature FROM votes").fetchall())
    back.close()
