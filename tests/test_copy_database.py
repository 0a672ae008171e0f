"""`hailong copy-database`: a real SQLite installation (votes of several months, the log with signed
checkpoints) moved into the throwaway PostgreSQL, checked there; and what it refuses."""

import pytest

from server import settings as server_settings
from server import storage
from server.copy_database import CopyError, copy_to_postgresql
from server.ledger import keys, log
from server.storage import partitions
from tests import export_data, ledger_data
from tests.live import hailong
from tests.people import enroll_fake_device


@pytest.fixture
def empty_postgresql(postgresql_cluster, tmp_path):
    """An empty PostgreSQL database (not migrated), with a password in its URL that must never be printed."""
    name = f"copy_{tmp_path.name}"[:60]
    url = postgresql_cluster.create_database(name)
    yield url.replace("postgresql://postgres@", "postgresql://postgres:s3cret-pw@")  # trust: any password
    postgresql_cluster.drop_database(name)


def make_installation(tmp_path):
    """A SQLite instance with votes of three months, sign-ins, audit entries, and a signed checkpoint of each
    tree, then a few votes the log has not appended yet."""
    instance = tmp_path / "instance"
    instance.mkdir()
    path = instance / "hailong.db"
    db, device = ledger_data.make_database(path, tmp_path)
    ledger_data.add_votes(db, device, 20)
    devices = {"DN-TT-Q1": device, "DN-TT-Q2": enroll_fake_device(db, "DN-TT-Q2", "b"),
               "DN-BH-Q1": enroll_fake_device(db, "DN-BH-Q1", "c")}
    export_data.add_votes(db, devices, 40, first_day="2026-07-20", days=60, catch_up=False)
    ledger_data.add_sessions(db, device, 6)
    ledger_data.add_audit(db, 5)
    keys.ensure_key(str(instance))
    config = server_settings.load({"INSTANCE": str(instance), "DATABASE": str(path)})
    for tree in log.trees():
        log.publish(db, config, tree, "manual")
    ledger_data.add_votes(db, device, 3, first_seq=500)
    counts = {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
              for table in ("votes", "units", "staff_sessions", "audit_log", "log_leaves", "log_checkpoints")}
    db.close()
    return instance, path, device, counts


def test_copy_database_moves_a_sqlite_installation_into_postgresql_and_checks_it(tmp_path, empty_postgresql):
    instance, path, device, counts = make_installation(tmp_path)
    result = hailong("--instance", str(instance), "--database", str(path), "copy-database", "--to", empty_postgresql)
    out = result.stdout + result.stderr
    assert "s3cret-pw" not in out
    assert "Copied and verified" in out, out
    assert "root recomputed from the copied rows = the stored root" in out
    assert out.count("holds, its signature too") == 3  # each tree's latest checkpoint, signature included
    assert "made the vote partitions votes_2026_07, votes_2026_08, votes_2026_09" in out

    target = storage.connect(empty_postgresql)
    try:
        for table, rows in counts.items():
            assert target.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == rows, table
        assert target.execute("SELECT COUNT(*) FROM vote_keys").fetchone()[0] == counts["votes"]
        assert target.execute(f"SELECT COUNT(*) FROM {partitions.DEFAULT}").fetchone()[0] == 0
        # The sequences are past the copied ids: the next vote and audit entry get new ones.
        highest = target.execute("SELECT MAX(id) FROM votes").fetchone()[0]
        ledger_data.add_votes(target, device, 1, first_seq=900)
        ledger_data.add_audit(target, 1)
        assert target.execute("SELECT MAX(id) FROM votes").fetchone()[0] > highest
    finally:
        target.close()

    again = hailong("--instance", str(instance), "--database", str(path), "copy-database", "--to", empty_postgresql,
                    check=False)
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.startswith("Error: ") and again.stderr.count("\n") == 1
    assert "is not empty" in again.stderr and "s3cret-pw" not in again.stderr


def test_copy_database_copies_only_from_sqlite_to_postgresql(tmp_path, postgresql_cluster):
    """The other refusals, from the function the command wraps (the command prints them as one Error: line)."""
    url = postgresql_cluster.url("postgres").replace("postgres@", "postgres:s3cret-pw@")
    config = server_settings.load({"INSTANCE": str(tmp_path), "DATABASE": str(tmp_path / "a.db")})
    for database, to, says in ((config["DATABASE"], str(tmp_path / "b.db"), "--to must be a postgresql:// URL"),
                               (url, url, "already PostgreSQL")):
        with pytest.raises(CopyError, match=says) as refused:
            copy_to_postgresql({**config, "DATABASE": database}, to, say=pytest.fail)
        assert "s3cret-pw" not in str(refused.value)
    assert not (tmp_path / "a.db").exists()
