"""The log from the command line and the jobs process: `hailong migrate` makes the key, `hailong keys show`,
`hailong checkpoint`, and the jobs' append and checkpoint steps."""

import base64
import datetime as dt
import os
import stat

import pytest

from server import storage
from server.commands import ledger_jobs
from server.ledger import checkpoints, keys, log
from server.settings import DEFAULTS
from tests.ledger_data import add_audit, add_votes, make_database
from tests.live import hailong


@pytest.fixture
def instance(tmp_path):
    folder = tmp_path / "instance"
    hailong("--instance", str(folder), "migrate")
    return folder


@pytest.fixture
def instance_db(db_path, tmp_path):
    """``(instance folder, hailong's options for it)`` over the test's database (either backend)."""
    folder = tmp_path / "instance"
    folder.mkdir()
    options = ("--instance", str(folder), "--database", str(db_path))
    hailong(*options, "migrate")
    return folder, options


def test_migrate_makes_the_log_key_once_readable_by_its_owner_only(instance):
    path = instance / "log-key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = path.read_text()
    again = hailong("--instance", str(instance), "migrate")
    assert "is in place" in again.stdout
    assert path.read_text() == first


def test_keys_show_prints_the_public_key_and_the_verifier_key(instance):
    shown = hailong("--instance", str(instance), "keys", "show").stdout
    key = keys.load_key(str(instance))
    assert keys.public_key_b64(key) in shown
    assert keys.verifier_key("hailong", key) in shown
    assert base64.b64encode(bytes(key)).decode() not in shown  # never the private key


@pytest.mark.backends
def test_checkpoint_signs_every_tree_prints_the_notes_and_is_audited(instance_db, db_path):
    instance, options = instance_db
    done = hailong(*options, "checkpoint")
    key = keys.load_key(str(instance))
    notes = [block + "\n" for block in done.stdout.split("\n\n")[1::1] if block.startswith("\u2014")]
    assert len(notes) == 3
    assert "hailong/votes\n0\n" in done.stdout and "hailong/audit\n" in done.stdout
    one = hailong(*options, "checkpoint", "--tree", "votes").stdout
    note = one[one.index("hailong/votes"):]
    assert checkpoints.verify_note(note, keys.public_key(key))
    db = storage.connect(db_path)
    entries = db.execute("SELECT actor_kind, action, object_type FROM audit_log WHERE action = 'checkpoint'").fetchall()
    db.close()
    assert entries == [("cli", "checkpoint", "log")] * 4


def test_checkpoint_without_a_key_says_what_to_do(instance):
    (instance / "log-key").unlink()
    done = hailong("--instance", str(instance), "checkpoint", check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ") and "hailong migrate" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.backends
def test_the_jobs_append_new_rows_and_sign_checkpoints_when_due(db_path, tmp_path):
    db, device = make_database(db_path, tmp_path)
    keys.ensure_key(str(tmp_path))
    settings = {**DEFAULTS, "INSTANCE": str(tmp_path), "LOG_CHECKPOINT_MINUTES": 60}
    start = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.timezone.utc)
    add_votes(db, device, 30)
    add_audit(db, 2)
    appended = ledger_jobs.append_step(db, settings, start)
    assert appended == {"votes": 30, "sessions": 0, "audit": 2}
    assert ledger_jobs.append_step(db, settings, start)["votes"] == 0

    first = ledger_jobs.checkpoint_step(db, settings, start)
    assert sorted(row["tree"] for row in first) == ["audit", "sessions", "votes"]
    assert all(row["trigger"] == "schedule" and row["at"] == "2026-11-28T02:00:00Z" for row in first)
    assert ledger_jobs.checkpoint_step(db, settings, start + dt.timedelta(minutes=5)) == []
    add_votes(db, device, 3, first_seq=31)
    assert ledger_jobs.checkpoint_step(db, settings, start + dt.timedelta(minutes=59)) == []
    grown = ledger_jobs.checkpoint_step(db, settings, start + dt.timedelta(minutes=60))
    assert [(row["tree"], row["size"]) for row in grown] == [("votes", 33)]
    # A day after the others, the trees that did not grow get one too.
    daily = ledger_jobs.checkpoint_step(db, settings, start + dt.timedelta(hours=24))
    assert sorted(row["tree"] for row in daily) == ["audit", "sessions"]
    assert log.latest_checkpoint(db, "sessions")["size"] == 0
    db.close()
