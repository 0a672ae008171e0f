"""Real exports checked by the auditor's verifier: clean ones pass, random tamperings are caught
with the right row or checkpoint named, and a history rewritten on the server is caught against an older
checkpoint.

``make test`` applies 200 tamperings, every kind about 25 times; ``make chaos`` applies 1,000
(``TAMPERINGS``), which took 12 s of ``make test`` for the same checks.

The votes are signed by real tablets and sent to a real server over HTTP
(``tests/verify_bundles.py``); the bundles come from the real export, once
per module; each tampering (``tests/tamper.py``) is applied to a copy of
their files and checked in this process with ``tools.verify.verify``, the
code ``hailong verify`` and the standalone script run.
"""

import os
import random

import pytest

from server import storage
from tests import tamper
from tests.verify_bundles import RealLog, write
from tools import verify

TAMPERINGS = int(os.environ.get("TAMPERINGS", 200))


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    return RealLog(tmp_path_factory.mktemp("real"), votes=60)


@pytest.fixture(scope="module")
def exported(real):
    """Clean bundles as ``(label, files)``: every format, filtered, with a BOM."""
    return [(label, real.export(**filters)) for label, filters in (
        ("csv", {}), ("jsonl", {"format": "jsonl"}), ("xlsx", {"format": "xlsx"}),
        ("one tablet", {"device": real.devices["DN-TT-Q2"]}), ("bom, unflagged", {"bom": True, "flagged": "exclude"}),
    )]


def fails(report):
    return [line for line in report.lines if line.startswith(("FAIL", "ERROR"))]


def test_clean_exports_of_every_size_format_and_filter_pass(real, exported, tmp_path):
    more = [("no row", real.export(staff="NV005")), ("one row", real.export(device=real.devices["solo"], format="xlsx")),
            ("unit", real.export(unit="DN-BH", format="jsonl")), ("hashed tickets", real.export(hash_tickets=True))]
    for number, (label, files) in enumerate(exported + more):
        status, report = verify.verify(str(write(tmp_path / str(number), files)), key=real.verifier_key)
        assert status == 0, (label, report.lines)
        assert not [line for line in report.lines if line.startswith(("FAIL", "WARN", "ERROR"))], label
    rows = {label: int(files["manifest.json"].split(b'"votes": ')[1].split(b",")[0]) for label, files in more}
    assert rows["no row"] == 0 and rows["one row"] == 1
    zipped = real.export_to(tmp_path / "bundle.zip", format="jsonl")
    assert verify.verify(str(zipped), key=real.verifier_key)[0] == 0
    folder = real.export_to(tmp_path / "folder", format="xlsx")
    assert verify.verify(str(folder), key=real.verifier_key)[0] == 0


def test_an_empty_log_exports_a_bundle_that_passes(tmp_path):
    from migrations import migrations
    from server.ledger import keys

    path = tmp_path / "hailong.db"
    db = storage.connect(path)
    migrations.apply(db)
    db.close()
    keys.ensure_key(str(tmp_path))
    empty = object.__new__(RealLog)
    empty.path, empty.settings = path, {**RealLog.__init__.__globals__["DEFAULTS"], "INSTANCE": str(tmp_path),
                                        "DATABASE": str(path)}
    status, report = verify.verify(str(write(tmp_path / "b", empty.export())))
    assert status == 0, report.lines
    assert "Bundle: votes, 0 rows (csv), covering checkpoint size 0" in report.lines


def test_random_tamperings_are_caught_and_named(real, exported, tmp_path):
    rng = random.Random(20261128)
    done, kinds = 0, {}
    while done < TAMPERINGS:
        label, files = rng.choice(exported)
        result = rng.choice(tamper.TAMPERINGS)(files, rng)
        if result is None or result[1] == files:
            continue
        kind, changed, expected = result
        status, report = verify.verify(str(write(tmp_path / str(done), changed)), key=real.verifier_key)
        assert status in (1, 2), (label, kind, report.lines)
        assert tamper.named(report.lines, expected), (label, kind, expected, report.lines)
        kinds[kind] = kinds.get(kind, 0) + 1
        done += 1
    assert set(kinds) == {t.__name__.replace("_", " ") for t in tamper.TAMPERINGS}


def _leaf_vote(db, index):
    return db.execute("SELECT v.id, v.uuid FROM log_leaves l JOIN votes v ON v.id = l.row_id"
                      " WHERE l.tree = 'votes' AND l.idx = ?", [index]).fetchone()


def test_a_vote_altered_in_the_database_after_a_checkpoint_is_named(real, tmp_path):
    server = real.copy(tmp_path)
    kept = tmp_path / "kept.txt"
    kept.write_text(real.kept[0], encoding="utf-8")
    db = storage.connect(server.path)
    vote_id, uuid = _leaf_vote(db, 5)
    with storage.write_transaction(db):
        db.execute("UPDATE votes SET rating = rating + 1 WHERE id = ?", [vote_id])
    db.close()
    status, report = verify.verify(str(write(tmp_path / "b", server.export())), [str(kept)], real.verifier_key)
    assert status == 1
    named = [line for line in fails(report) if f"(leaf_index 5, vote_id {uuid}," in line]
    assert len(named) == 2  # its tablet's signature, and its leaf in the log
    assert any(line.startswith("Checkpoints: ") and line.endswith(", 1 of 1 kept consistent, 0 findings")
               for line in report.lines), report.lines  # the log itself was not touched: only the vote's row


def _rebuild_without(db, settings, vote_id, keep_checkpoints):
    """What an operator with the database and the key could do: drop a vote, regrow the log, re-sign."""
    from server.ledger import log

    for table in ("log_leaves", "log_nodes", "log_checkpoints"):
        for event in ("update", "delete"):
            db.execute(f"DROP TRIGGER {table}_no_{event}")
    with storage.write_transaction(db):
        db.execute("DELETE FROM votes WHERE id = ?", [vote_id])
        db.execute("DELETE FROM log_leaves WHERE tree = 'votes'")
        db.execute("DELETE FROM log_nodes WHERE tree = 'votes'")
        # The server's own list loses every checkpoint, or (keep_checkpoints) all but the oldest, which
        # auditors may hold: the later ones are larger than the rebuilt log and could not be kept.
        db.execute("DELETE FROM log_checkpoints WHERE tree = 'votes'" + (
            " AND id > (SELECT MIN(id) FROM log_checkpoints WHERE tree = 'votes')" if keep_checkpoints else ""))
        db.execute("UPDATE log_trees SET size = 0, last_row_id = 0, root = ? WHERE name = 'votes'",
                   [verify.EMPTY_ROOT])
    log.catch_up(db, "votes")
    log.publish(db, settings, "votes", "manual")


@pytest.mark.parametrize("keep_checkpoints", [False, True])
def test_a_vote_deleted_and_the_log_rebuilt_without_it_is_caught_against_an_older_checkpoint(
        real, tmp_path, keep_checkpoints):
    server = real.copy(tmp_path)
    kept = tmp_path / "kept.txt"
    kept.write_text(real.kept[0], encoding="utf-8")
    size = int(real.kept[0].split("\n")[1])
    db = storage.connect(server.path)
    vote_id, _ = _leaf_vote(db, size // 2)
    _rebuild_without(db, server.settings, vote_id, keep_checkpoints)
    db.close()
    status, report = verify.verify(str(write(tmp_path / "b", server.export())), [str(kept)], real.verifier_key)
    assert status == 1
    time = real.kept[0].split("time ")[1].split("\n")[0]
    kept_lines = [line for line in fails(report) if line.startswith(f"FAIL --checkpoint {kept} (size {size}, time {time}): ")]
    assert len(kept_lines) == 1, report.lines
    assert "the log was rewritten since you kept yours" in kept_lines[0] or "not consistent" in kept_lines[0]
    if keep_checkpoints:  # the server's own old checkpoints give it away too
        assert any(line.startswith("FAIL checkpoints.json checkpoint id 1 (") and "not consistent" in line
                   for line in fails(report))
