"""The stored Merkle trees (server/ledger/log.py): appending, roots and proofs, leaf bytes, keys and notes."""

import base64
import json
import os
import random
import stat

import pytest

from device_client import protocol
from server import storage
from server.ledger import checkpoints, keys, leaves, log, merkle
from server.storage import ledger as store
from tests.ledger_data import SIGNING_KEY, add_audit, add_sessions, add_votes, make_database

pytestmark = pytest.mark.backends

SETTINGS = {"LOG_NAME": "hailong.test", "LOG_CHUNK_LEAVES": 50}


@pytest.fixture
def filled(db_path, tmp_path):
    db, device = make_database(db_path, tmp_path)
    yield db, device
    db.close()


def stored_leaf_hashes(db, tree):
    return [bytes(h) for (h,) in db.execute("SELECT hash FROM log_leaves WHERE tree = ? ORDER BY idx", [tree])]


def recomputed_leaf_hashes(db, tree):
    rows = store.source_rows_after(db, tree, 0, 10**9)
    return [merkle.leaf_hash(leaves.TREES[tree](row)) for row in rows]


def test_appending_in_random_chunks_gives_the_root_a_full_recompute_gives(filled):
    db, device = filled
    rng = random.Random(10)
    seq = 1
    for _ in range(12):
        count = rng.randint(1, 40)
        add_votes(db, device, count, rng, first_seq=seq)
        seq += count
        add_audit(db, rng.randint(0, 5))
        add_sessions(db, device, rng.randint(0, 3), first_seq=seq)
        seq += 3
        for tree in log.trees():
            log.catch_up(db, tree, limit=rng.randint(1, 60), chunk=rng.randint(1, 17))
            state = log.tree_state(db, tree)
            stored = stored_leaf_hashes(db, tree)
            assert len(stored) == state["size"]
            assert state["root"] == merkle.root_from_leaves(stored)
            assert stored == recomputed_leaf_hashes(db, tree)[:state["size"]]
    for tree in log.trees():
        log.catch_up(db, tree)
        assert stored_leaf_hashes(db, tree) == recomputed_leaf_hashes(db, tree)
        assert log.catch_up(db, tree) == 0


def test_every_complete_subtree_is_stored_once_and_right_edge_nodes_are_not(filled):
    db, device = filled
    add_votes(db, device, 77)
    log.catch_up(db, "votes", chunk=10)
    stored = db.execute("SELECT level, idx FROM log_nodes WHERE tree = 'votes' ORDER BY level, idx").fetchall()
    assert stored == [(level, idx) for level in range(1, 7) for idx in range(77 >> level)]


def test_roots_and_proofs_of_every_size_hold(filled):
    db, device = filled
    add_votes(db, device, 70)
    log.catch_up(db, "votes", chunk=9)
    hashes = stored_leaf_hashes(db, "votes")
    for size in range(0, 71):
        root = log.root(db, "votes", size)
        assert root == merkle.root_from_leaves(hashes[:size])
        for index in range(size):
            assert merkle.verify_inclusion(hashes[index], index, size, log.inclusion(db, "votes", index, size), root)
        for m in range(0, size + 1):
            proof = log.consistency(db, "votes", m, size)
            assert merkle.verify_consistency(m, size, log.root(db, "votes", m), root, proof)
    with pytest.raises(log.LogError):
        log.root(db, "votes", 71)
    with pytest.raises(log.LogError):
        log.inclusion(db, "votes", 70, 70)


def test_proof_nodes_are_the_union_of_the_audit_paths_whatever_the_indices_come_as(filled):
    db, device = filled
    add_votes(db, device, 150)
    log.catch_up(db, "votes")
    rng = random.Random(4)
    for size in (1, 2, 64, 100, 150):
        dense = sorted(set(range(size)) - set(rng.sample(range(size), min(3, size))))  # dense blocks, gaps
        for picked in ([], [0], [size - 1], list(range(size)), sorted(rng.sample(range(size), size // 3)), dense):
            union = set()
            for index in picked:
                union.update(merkle.audit_path_ranges(index, size))
            want = [(s, e, log.node(db, "votes", s, e)) for s, e in sorted(union, key=lambda r: (r[0], -r[1]))]
            for block in (0, 2, 8, 32, log.BLOCK):  # dense blocks listed whole, of every width
                assert list(log.proof_nodes(db, "votes", picked, size, block)) == want
                assert list(log.proof_nodes(db, "votes", iter(picked), size, block)) == want
    assert scratch_tables(db) == 0


def scratch_tables(db):
    """Temporary tables left on the connection (``proof_nodes`` drops its scratch table when done)."""
    if storage.dialect(db) == "postgresql":
        return db.execute("SELECT COUNT(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()").fetchone()[0]
    return db.execute("SELECT COUNT(*) FROM temp.sqlite_master").fetchone()[0]


def test_a_vote_leaf_is_what_the_tablet_signed_and_what_the_server_added(filled):
    db, device = filled
    uuid = add_votes(db, device, 1, random.Random(7))[0]
    row = store.vote_row_by_uuid(db, uuid)
    leaf = leaves.vote_leaf(row)
    signed, _, server = leaf.rpartition(b"\n")
    server = json.loads(server)
    assert protocol.Verifier(protocol.public_key_b64(SIGNING_KEY)).verify(signed, row["signature"])
    assert signed.startswith(protocol.VOTE_DOMAIN)
    assert set(server) == {"signature", "received_at", "clock_offset_ms", "unit", "counter_unit", "counted_at",
                           "time_corrected", "flags"}
    assert server["unit"] == "DN-TT" and server["counter_unit"] == "DN-TT"
    assert isinstance(server["time_corrected"], bool)


def test_every_stored_vote_and_sign_in_event_still_verifies_from_its_leaf(filled):
    db, device = filled
    add_votes(db, device, 60, random.Random(8))
    add_sessions(db, device, 6, first_seq=100)
    verifier = protocol.Verifier(protocol.public_key_b64(SIGNING_KEY))
    for tree in ("votes", "sessions"):
        for row in store.source_rows_after(db, tree, 0, 1000):
            signed = leaves.TREES[tree](row).split(b"\n")
            assert len(signed) == 3  # domain line, signed JSON, server JSON
            assert verifier.verify(signed[0] + b"\n" + signed[1], row["signature"])


def test_an_audit_leaf_keeps_the_stored_json_text_as_it_is(filled):
    db, _ = filled
    add_audit(db, 2)
    row = store.source_rows_after(db, "audit", 0, 10)[-1]
    leaf = leaves.audit_leaf(row)
    assert leaf.startswith(b"hailong-audit-v1\n")
    body = json.loads(leaf[len(b"hailong-audit-v1\n"):])
    assert body["after"] == row["after"] and isinstance(body["after"], str)


def test_the_key_is_made_once_readable_by_its_owner_only_and_never_replaced(tmp_path):
    instance = tmp_path / "instance"
    path, made = keys.ensure_key(str(instance))
    assert made
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(instance).st_mode) == 0o700
    first = keys.load_key(str(instance))
    os.chmod(path, 0o644)
    assert keys.ensure_key(str(instance)) == (path, False)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert bytes(keys.load_key(str(instance))) == bytes(first)
    with open(path) as handle:
        assert len(base64.b64decode(handle.read())) == 32


def test_a_missing_or_broken_key_is_named_with_what_to_do(tmp_path):
    with pytest.raises(keys.KeyFileError, match="run `hailong migrate`"):
        keys.load_key(str(tmp_path))
    (tmp_path / "log-key").write_text("not a key\n")
    with pytest.raises(keys.KeyFileError, match="does not hold an Ed25519 key"):
        keys.load_key(str(tmp_path))


def test_key_id_and_verifier_key_follow_signed_notes():
    key = protocol.signing_key_from_seed(bytes(32))
    public = bytes(key.verify_key)
    import hashlib

    assert keys.key_id("example.com/log", key) == hashlib.sha256(b"example.com/log\n\x01" + public).digest()[:4]
    name, key_hex, encoded = keys.verifier_key("hailong.test", key).split("+")
    assert name == "hailong.test" and bytes.fromhex(key_hex) == keys.key_id("hailong.test", key)
    assert base64.b64decode(encoded) == b"\x01" + public


def test_a_checkpoint_note_is_byte_for_byte_the_contract_and_verifies(filled, tmp_path):
    db, device = filled
    add_votes(db, device, 5)
    keys.ensure_key(str(tmp_path))
    settings = dict(SETTINGS, INSTANCE=str(tmp_path))
    row = log.publish(db, settings, "votes", "manual")
    key = keys.load_key(str(tmp_path))
    state = log.tree_state(db, "votes")
    body = f"hailong.test/votes\n5\n{base64.b64encode(state['root']).decode()}\ntime {row['at']}\n"
    signature = key.sign(body.encode()).signature
    stamp = base64.b64encode(keys.key_id("hailong.test", key) + signature).decode()
    assert row["note"] == body + "\n\u2014 hailong.test " + stamp + "\n"
    assert (row["size"], bytes(row["root"]), row["trigger"]) == (5, state["root"], "manual")
    assert row["key_id"] == keys.key_id("hailong.test", key).hex()
    assert checkpoints.verify_note(row["note"], bytes(key.verify_key))
    assert checkpoints.verify_note(row["note"], keys.public_key_b64(key))
    parsed = checkpoints.parse_note(row["note"])
    assert (parsed["tree"], parsed["size"], parsed["root"]) == ("votes", 5, state["root"])
    other = protocol.signing_key_from_seed(bytes(32))
    assert not checkpoints.verify_note(row["note"], bytes(other.verify_key))
    for tampered in (row["note"].replace("\n5\n", "\n6\n"), row["note"].replace("time 2", "time 1"),
                     row["note"][:-1], row["note"].replace("\u2014", "-")):
        assert not checkpoints.verify_note(tampered, bytes(key.verify_key))
    assert log.latest_checkpoint(db, "votes")["id"] == row["id"]


def test_publishing_catches_the_tree_up_first(filled, tmp_path):
    db, device = filled
    keys.ensure_key(str(tmp_path))
    settings = dict(SETTINGS, INSTANCE=str(tmp_path))
    empty = log.publish(db, settings, "votes", "schedule")
    assert empty["size"] == 0 and bytes(empty["root"]) == merkle.EMPTY_ROOT
    add_votes(db, device, 120)
    row = log.publish(db, settings, "votes", "export")
    assert row["size"] == 120
    assert [c["id"] for c in log.checkpoints(db, "votes")] == [row["id"], empty["id"]]


def test_leaves_nodes_and_checkpoints_cannot_be_changed_or_deleted(filled, tmp_path):
    db, device = filled
    add_votes(db, device, 4)
    keys.ensure_key(str(tmp_path))
    log.publish(db, dict(SETTINGS, INSTANCE=str(tmp_path)), "votes", "manual")
    for sql, params in (("UPDATE log_leaves SET hash = ?", [b"\x00"]), ("DELETE FROM log_nodes", []),
                        ("DELETE FROM log_checkpoints", [])):
        with pytest.raises(storage.IntegrityError, match="append-only"):
            db.execute(sql, params)
