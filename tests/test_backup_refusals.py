"""Backups and restores that must not happen: each is one readable `Error:` line, exit 1, and changes nothing."""

import json
import shutil
import sqlite3

import pathlib

import pytest

from migrations import migrations
from server import storage
from server.backups import BackupError, snapshot
from server.ledger import keys
from server.manage import ledger as ledger_actions
from server.manage.actor import cli_actor
from tests.live import hailong

SETTINGS = {"BACKUP_DIR": "", "LOG_NAME": "hailong.test", "LOG_CHUNK_LEAVES": 5000}


def instance_with_a_log(instance, tamper=None):
    """A migrated instance whose audit tree holds entries and a signed checkpoint of them (as `hailong migrate`
    and two `hailong checkpoint --tree audit` make it, in-process); ``tamper(conn)`` rewrites it afterwards.
    Returns its settings."""
    keys.ensure_key(str(instance))
    settings = {**SETTINGS, "DATABASE": str(instance / "hailong.db"), "INSTANCE": str(instance)}
    db = storage.connect(instance / "hailong.db")
    try:
        migrations.apply(db)
        for _ in range(2):  # the second checkpoint covers the first one's audit entry
            ledger_actions.publish_checkpoint(db, cli_actor(), settings, "audit")
    finally:
        db.close()
    if tamper:
        conn = sqlite3.connect(instance / "hailong.db")
        tamper(conn)
        conn.commit()
        conn.close()
    return settings


def backup_of(settings):
    db = storage.connect(settings["DATABASE"])
    try:
        return pathlib.Path(snapshot.take(db, settings)["path"])
    finally:
        db.close()


@pytest.fixture
def backed_up(tmp_path):
    """A migrated instance with a signed checkpoint, and one backup of it: ``(instance, backup path)``."""
    instance = tmp_path / "instance"
    return instance, backup_of(instance_with_a_log(instance))


def refused(*args):
    result = hailong(*args, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def files_of(folder):
    return sorted((p.name, p.stat().st_size) for p in folder.iterdir()) if folder.exists() else []


def test_a_missing_backup_is_refused_and_no_instance_is_made(tmp_path):
    new = tmp_path / "new"
    line = refused("--instance", str(new), "restore", str(tmp_path / "hailong-20261130T120000Z.db"))
    assert "does not exist" in line
    assert not new.exists()


def test_a_backup_without_its_manifest_is_refused(backed_up, tmp_path):
    _, backup = backed_up
    lone = tmp_path / backup.name
    shutil.copy(backup, lone)
    line = refused("--instance", str(tmp_path / "new"), "restore", str(lone))
    assert "hailong-" in line and ".json does not exist" in line and "cut short" in line
    assert not (tmp_path / "new").exists()


def test_a_backup_changed_after_it_was_taken_is_refused(backed_up, tmp_path):
    _, backup = backed_up
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0xFF
    backup.write_bytes(bytes(data))
    line = refused("--instance", str(tmp_path / "new"), "restore", str(backup))
    assert "does not match its manifest's SHA-256" in line
    assert not (tmp_path / "new").exists()


def rewrite_manifest(backup, change):
    path = backup.with_suffix(".json")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    change(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def test_a_manifest_that_does_not_match_the_backup_is_refused_and_the_database_there_stays(backed_up):
    instance, backup = backed_up
    rewrite_manifest(backup, lambda m: m["tables"].update(votes=5))
    before = files_of(instance)
    line = refused("--instance", str(instance), "restore", "--replace", str(backup))
    assert "table votes has 0 rows, the manifest says 5" in line
    assert files_of(instance) == before


def test_a_damaged_database_is_refused_even_when_its_manifest_was_made_to_match(backed_up, tmp_path):
    _, backup = backed_up
    conn = sqlite3.connect(backup)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'audit_log'").fetchone()[0]
    conn.close()
    data = bytearray(backup.read_bytes())
    start = (root - 1) * page_size
    data[start:start + 8] = b"\x00" * 8  # the table's b-tree page header
    backup.write_bytes(bytes(data))
    import hashlib

    rewrite_manifest(backup, lambda m: m.update(sha256=hashlib.sha256(bytes(data)).hexdigest()))
    line = refused("--instance", str(tmp_path / "new"), "restore", str(backup))
    assert "integrity_check" in line or "not a sound database" in line
    assert not (tmp_path / "new" / "hailong.db").exists()


def test_a_log_whose_history_was_rewritten_is_refused(tmp_path):
    """Someone with the database rewrites the audit tree after its checkpoint: the backup is sound as a file,
    but its log does not verify against the checkpoint it holds."""

    def rewrite(conn):
        for table in ("log_leaves", "log_nodes"):
            for event in ("update", "delete"):
                conn.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")
        conn.execute("UPDATE log_leaves SET hash = zeroblob(32) WHERE tree = 'audit'")
        conn.execute("UPDATE log_nodes SET hash = zeroblob(32) WHERE tree = 'audit'")

    backup = backup_of(instance_with_a_log(tmp_path / "instance", rewrite))
    line = refused("--instance", str(tmp_path / "new"), "restore", str(backup))
    assert "the audit log does not verify" in line
    assert not (tmp_path / "new" / "hailong.db").exists()


def test_restoring_over_a_database_needs_replace(backed_up):
    instance, backup = backed_up
    before = files_of(instance)
    line = refused("--instance", str(instance), "restore", str(backup))
    assert "exists" in line and "--replace" in line
    assert files_of(instance) == before


def test_a_backup_refused_for_lack_of_room_leaves_nothing_behind(db_path, tmp_path, monkeypatch):
    import collections

    folder = tmp_path / "backups"
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(snapshot.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 2**20, 2**20))
    db = storage.connect(db_path)
    try:
        with pytest.raises(BackupError, match="not enough room"):
            snapshot.take(db, {**SETTINGS, "DATABASE": str(db_path), "INSTANCE": str(tmp_path)}, folder=str(folder))
    finally:
        db.close()
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_on_postgresql_backup_and_restore_refuse_and_point_to_its_own_tools(db_path, tmp_path):
    """These backups are SQLite files: on PostgreSQL every entry point refuses before it touches a path."""
    from server.commands import backup_jobs

    instance = tmp_path / "instance"
    backup = tmp_path / "hailong-20261130T120000Z.db"
    for args in (["backup", "--to", str(tmp_path / "out")], ["backup", "list"], ["restore", str(backup)]):
        line = refused("--instance", str(instance), "--database", str(db_path), *args)
        assert "PostgreSQL" in line and "pg_dump" in line and "Backups on PostgreSQL" in line, args
    assert not instance.exists() and not (tmp_path / "out").exists()

    class Scheduler:
        def add_job(self, *args, **kwargs):
            raise AssertionError("hailong jobs must not schedule SQLite backups of a PostgreSQL database")

    settings = {**SETTINGS, "DATABASE": str(db_path), "BACKUP_EVERY_HOURS": 6}
    [line] = backup_jobs.schedule(Scheduler(), settings, {})
    assert "PostgreSQL" in line and "pg_dump" in line
    db = storage.connect(db_path)
    with pytest.raises(BackupError, match="pg_dump"):
        snapshot.take(db, settings)
    db.close()
