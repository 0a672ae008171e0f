"""The log end to end: votes from an enrolled tablet to a real server, appended by a real `hailong jobs`,
a checkpoint, a vote's inclusion proof checked here from the raw answers; then a history rewrite on the
server (a vote's rating changed in the database, a vote deleted and the tree rebuilt without it) caught
against the checkpoint an auditor kept."""

import base64
import sqlite3
import time

import pytest
import requests

from devtools.processes import Jobs, Server
from server import storage
from server.ledger import checkpoints, log, merkle
from tests.live import enroll_tablet, hailong, seed_org
from tests.people import create_user, token_for


@pytest.fixture
def served(tmp_path):
    instance = tmp_path / "instance"
    hailong("--instance", str(instance), "migrate")  # the schema and the log's key
    database = instance / "hailong.db"
    seed_org(database, tmp_path)
    db = storage.connect(database)
    create_user(db, "auditor", "auditor", "DN-TT")
    token = token_for(db, "auditor")
    db.close()
    server = Server(database, settings={"INSTANCE": str(instance)}, log_path=tmp_path / "serve.log").start()
    yield server, instance, {"Authorization": f"Bearer {token}"}
    server.stop()


def tree_size(database):
    conn = sqlite3.connect(database)
    try:
        return conn.execute("SELECT size FROM log_trees WHERE name = 'votes'").fetchone()[0]
    finally:
        conn.close()


def attacker(database, *statements):
    """Someone with the database file: drops the append-only triggers and writes what they like."""
    conn = sqlite3.connect(database)
    for table in ("log_leaves", "log_nodes", "log_checkpoints"):
        for event in ("update", "delete"):
            conn.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")
    for sql, params in statements:
        conn.execute(sql, params)
    conn.commit()
    conn.close()


def test_a_vote_is_proven_in_the_log_and_a_rewritten_history_is_caught(served, tmp_path):
    server, instance, auth = served
    tablet = enroll_tablet(server, tmp_path / "tablet")
    tablet.refresh_config()
    cast = [tablet.record_vote("NV001", rating, ticket=f"A-{rating}") for rating in (4, 3, 2, 4, 3, 1, 4, 1, 2)]
    sent, answer = tablet.send("votes")
    assert sent and all(r["status"] == "accepted" for r in answer["results"]), answer
    tablet.close()

    # The real jobs process appends them within its merge delay.
    jobs = Jobs(server.database, settings={"INSTANCE": str(instance), "JOBS_LOG_APPEND_SECONDS": 1},
                log_path=tmp_path / "jobs.log").start()
    try:
        deadline = time.monotonic() + 60
        while tree_size(server.database) < len(cast) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        jobs.stop()
    assert tree_size(server.database) == len(cast)

    url = server.url + "/api/v1"
    key = requests.get(f"{url}/log/key", headers=auth, timeout=10).json()
    kept = requests.post(f"{url}/log/votes/checkpoints", headers=auth, timeout=30)
    assert kept.status_code == 201, kept.text
    kept = kept.json()
    assert kept["size"] == len(cast)
    public_key = base64.b64decode(key["public_key"])
    assert checkpoints.verify_note(kept["note"], public_key)
    note = checkpoints.parse_note(kept["note"])

    # One vote's proof, checked from the raw answer: the leaf carries the tablet's signed bytes,
    # its hash and path lead to the root the signed note names.
    target, victim = cast[2], cast[6]
    proof = requests.get(f"{url}/votes/{target['id']}/proof", headers=auth, timeout=10).json()
    assert proof["status"] == "included" and proof["signature_valid"]
    leaf = base64.b64decode(proof["leaf"])
    assert leaf.startswith(b"hailong-vote-v1\n") and b'"rating":2' in leaf
    path = [base64.b64decode(h) for h in proof["inclusion"]]
    assert merkle.verify_inclusion(merkle.leaf_hash(leaf), proof["leaf_index"], note["size"], path, note["root"])

    # History rewrite 1: the rating changed in the database (nothing else touched).
    attacker(server.database, ("UPDATE votes SET rating = 4 WHERE uuid = ?", [target["id"]]))
    altered = requests.get(f"{url}/votes/{target['id']}/proof", headers=auth, timeout=10).json()
    assert altered["status"] == "altered"
    assert not altered["signature_valid"]  # the tablet never signed a 4
    forged_leaf = base64.b64decode(altered["leaf"])
    assert not merkle.verify_inclusion(merkle.leaf_hash(forged_leaf), proof["leaf_index"], note["size"], path,
                                       note["root"])

    # History rewrite 2: a vote deleted and the tree rebuilt from scratch without it, then a new checkpoint.
    empty = merkle.EMPTY_ROOT
    attacker(server.database,
             ("DELETE FROM votes WHERE uuid = ?", [victim["id"]]),
             ("DELETE FROM log_leaves WHERE tree = 'votes'", []),
             ("DELETE FROM log_nodes WHERE tree = 'votes'", []),
             ("UPDATE log_trees SET size = 0, last_row_id = 0, root = ? WHERE name = 'votes'", [empty]))
    db = storage.connect(server.database)
    log.catch_up(db, "votes")
    rebuilt_size = log.tree_state(db, "votes")["size"]
    db.close()
    assert rebuilt_size == len(cast) - 1
    for _ in range(2):  # the rebuilt tree grows on as if nothing happened
        tablet = enroll_tablet(server, tmp_path / f"tablet{_}")
        tablet.refresh_config()
        tablet.record_vote("NV002", 4)
        assert tablet.send("votes")[0]
        tablet.close()
    newer = requests.post(f"{url}/log/votes/checkpoints", headers=auth, timeout=30).json()
    assert newer["size"] == len(cast) + 1 and checkpoints.verify_note(newer["note"], public_key)

    # The auditor's kept checkpoint is not a prefix of the new tree: the server says so, and the proof it
    # gives fails when checked here.
    answer = requests.get(f"{url}/log/votes/consistency", params={"first": kept["id"], "second": newer["id"]},
                          headers=auth, timeout=10).json()
    assert answer["consistent"] is False
    newer_note = checkpoints.parse_note(newer["note"])
    given = [base64.b64decode(h) for h in answer["proof"]]
    assert not merkle.verify_consistency(note["size"], newer_note["size"], note["root"], newer_note["root"], given)


def test_the_log_api_answers_bad_requests_with_its_error_shape(served):
    server, _, auth = served
    url = server.url + "/api/v1"
    unknown = requests.get(f"{url}/log/ballots/checkpoints", headers=auth, timeout=10)
    assert unknown.status_code == 404 and set(unknown.json()) == {"error"}
    missing = requests.get(f"{url}/log/votes/consistency", params={"first": 1}, headers=auth, timeout=10)
    assert missing.status_code == 400 and "second" in missing.json()["error"]["fields"]
    first = requests.post(f"{url}/log/votes/checkpoints", headers=auth, timeout=30).json()
    second = requests.post(f"{url}/log/votes/checkpoints", headers=auth, timeout=30).json()
    backwards = requests.get(f"{url}/log/votes/consistency", params={"first": second["id"], "second": first["id"]},
                             headers=auth, timeout=10)
    assert backwards.status_code == 200 and backwards.json()["consistent"] is True  # same size: trivially
    other_tree = requests.get(f"{url}/log/audit/checkpoints/{first['id']}", headers=auth, timeout=10)
    assert other_tree.status_code == 404
    no_vote = requests.get(f"{url}/votes/00000000-0000-7000-8000-000000000999/proof", headers=auth, timeout=10)
    assert no_vote.status_code == 404
