"""What the chaos campaign's stores hold at the end, read as an outside observer would.

The tablets' outboxes through ``device_client.store``; the server's database
(a SQLite file or a PostgreSQL database, through ``storage.connect``) with
plain reads (like the benches' checks): vote totals, batches,
incidents, each device's seqs, every signature checked again with its
device's key, and the votes Merkle tree compared with one recomputed here
from the votes table. Nothing here writes.
"""

import json
import os
import sqlite3

from device_client import protocol, store
from device_client.tablet import Tablet
from server import storage
from server.ledger import leaves, log, merkle
from server.storage import ledger as ledger_storage
from server.storage import votes as stored_votes


def integrity_check(path):
    """``"ok"``, or what is wrong: ``PRAGMA integrity_check`` of a SQLite file, the facts on PostgreSQL.

    PostgreSQL has no ``integrity_check``; its crash recovery replays the
    write-ahead log. What must hold after it is what the protocol stands
    on: every vote has its row in ``vote_keys`` (the table whose unique keys
    make ingest exactly-once) with the same id, uuid, device and seq, and
    no device is acknowledged past a seq it does not have with every seq
    below it (no gap behind an ``ack_seq``).
    """
    if storage.is_postgresql(path):
        return _postgresql_facts_check(path)
    conn = sqlite3.connect(path, timeout=60)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()
    return "; ".join(str(row[0]) for row in rows)


def _postgresql_facts_check(url):
    db = storage.connect(url)
    try:
        votes, keys, matched = db.execute(
            "SELECT (SELECT COUNT(*) FROM votes), (SELECT COUNT(*) FROM vote_keys),"
            " (SELECT COUNT(*) FROM votes v JOIN vote_keys k ON k.id = v.id AND k.uuid = v.uuid"
            "   AND k.device_id = v.device_id AND k.seq = v.seq)"
        ).fetchone()
        gaps = db.execute(
            "SELECT d.id, d.ack_seq, COUNT(v.seq) FROM devices d"
            " LEFT JOIN votes v ON v.device_id = d.id AND v.seq <= d.ack_seq"
            " GROUP BY d.id, d.ack_seq HAVING COUNT(DISTINCT v.seq) <> d.ack_seq OR COUNT(v.seq) <> d.ack_seq"
        ).fetchall()
    finally:
        db.close()
    found = []
    if not votes == keys == matched:
        found.append(f"{votes} votes, {keys} vote_keys rows, {matched} of them matching")
    found += [f"device {device} acknowledged up to {ack} with {have} votes at or below it"
              for device, ack, have in gaps]
    return "; ".join(found) or "ok"


def database_name(path):
    """The database as the integrity notes name it: the file's name, or the PostgreSQL database's."""
    if storage.is_postgresql(path):
        return str(path).split("?", 1)[0].rsplit("/", 1)[-1]
    return os.path.basename(str(path))


def tablet_facts(data_dir):
    """A tablet's votes (seq -> id), how many the server acknowledged, what is still queued."""
    tablet = Tablet(data_dir)
    try:
        status = tablet.status()
        votes = {item["seq"]: item["id"] for item in tablet.items("votes")}
        letters = [letter["seq"] for letter in store.dead_letters(tablet.conn) if letter.get("stream") == "votes"]
        sessions = status["streams"]["sessions"]
    finally:
        tablet.close()
    return {
        "device_id": status["device_id"],
        "last_seq": status["last_seq"],
        "votes": votes,
        "acknowledged": len(votes) - status["queue_depth"],
        "queue_depth": status["queue_depth"],
        "dead_letters": status["dead_letters"],
        "dead_vote_seqs": letters,
        "sessions_queued": sessions["queue_depth"],
    }


def thanked_missing(data_dir, thanked):
    """Taps answered 200 ("thank you") whose vote is not in the outbox under the seq and id it was thanked with."""
    conn = store.open_store(data_dir)
    try:
        missing = []
        for key, (seq, vote_id) in thanked.items():
            vote = store.vote_for_key(conn, key)
            if not vote or vote.get("seq") != seq or vote.get("id") != vote_id:
                missing.append(key)
        return missing
    finally:
        conn.close()


def server_facts(database):
    """What the server stored, read straight from its database."""
    db = storage.connect(database)
    try:
        facts = stored_votes.vote_totals(db)
        facts["batches"], facts["batches_with_duplicates"], facts["duplicates"], facts["accepted"] = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN n_duplicate > 0 THEN 1 ELSE 0 END), 0), COALESCE(SUM(n_duplicate), 0),"
            " COALESCE(SUM(n_accepted), 0) FROM sync_batches WHERE stream = 'votes'"
        ).fetchone()
        facts["incidents"] = dict(
            db.execute(
                "SELECT kind, COUNT(*) FROM sync_incidents WHERE NOT (kind = 'gap' AND resolved_at IS NOT NULL)"
                " GROUP BY kind"
            ).fetchall()
        )
        facts["devices"] = {}
        for device_id, ack_seq in db.execute("SELECT id, ack_seq FROM devices").fetchall():
            rows = db.execute("SELECT seq, uuid FROM votes WHERE device_id = ?", [device_id]).fetchall()
            facts["devices"][device_id] = {"ack_seq": ack_seq, "votes": rows}
        facts["bad_signatures"] = bad_signatures(db)
        facts["tree"] = votes_tree(db)
    finally:
        db.close()
    return facts


def bad_signatures(db):
    """Rebuild each stored vote's signed bytes and check them with its device's key."""
    rows = db.execute(
        "SELECT v.uuid, v.device_id, v.seq, c.code, s.code, v.rating, v.reasons, v.ticket,"
        " v.local_time, v.scale_version, v.signature, d.public_key, v.flags"
        " FROM votes v JOIN counters c ON c.id = v.counter_id JOIN staff s ON s.id = v.staff_id"
        " JOIN devices d ON d.id = v.device_id"
    ).fetchall()
    verifiers, bad = {}, []
    for uuid, device, seq, counter, staff, rating, reasons, ticket, local_time, scale, signature, key, flags in rows:
        vote = {
            "id": uuid, "device": device, "seq": seq, "counter": counter, "staff": staff, "rating": rating,
            "reasons": json.loads(reasons), "ticket": ticket, "local_time": local_time, "scale_version": scale,
        }
        marks = protocol.marks_from_flags(stored_votes.stored_flags(flags))
        if marks:
            vote["marks"] = marks
        verifier = verifiers.setdefault(key, protocol.Verifier(key))
        if not verifier.verify(protocol.canonical_vote_bytes(vote), signature):
            bad.append(f"{device}#{seq}")
    return bad


def tree_size(database):
    """The votes tree's size as stored (polled while ``hailong jobs`` catches up)."""
    db = storage.connect(database)
    try:
        return log.tree_state(db, "votes")["size"], stored_votes.vote_totals(db)["votes"]
    finally:
        db.close()


def votes_tree(db, chunk=20_000):
    """The votes tree as stored against every vote once: size, distinct rows, and a root recomputed here.

    ``votes_skipped`` counts the votes missing from the tree below its last
    leaf's row: skipped for good, where the rest are only not appended yet.

    The recomputed root hashes every vote's leaf (``server.ledger.leaves``)
    in id order, as RFC 6962 defines the tree, without the stored nodes; the
    stored root (``log_trees``) and the one the stored nodes give must both
    equal it.
    """
    state = log.tree_state(db, "votes")
    hashes, after = [], 0
    while True:
        rows = ledger_storage.source_rows_after(db, "votes", after, chunk)
        if not rows:
            break
        hashes.extend(merkle.leaf_hash(leaves.vote_leaf(row)) for row in rows)
        after = rows[-1]["id"]
    leaf_rows, distinct_rows, unappended, skipped = db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT row_id),"
        " (SELECT COUNT(*) FROM votes v WHERE NOT EXISTS"
        "   (SELECT 1 FROM log_leaves l WHERE l.tree = 'votes' AND l.row_id = v.id)),"
        " (SELECT COUNT(*) FROM votes v WHERE v.id < (SELECT COALESCE(MAX(row_id), 0) FROM log_leaves"
        "   WHERE tree = 'votes') AND NOT EXISTS"
        "   (SELECT 1 FROM log_leaves l WHERE l.tree = 'votes' AND l.row_id = v.id))"
        " FROM log_leaves WHERE tree = 'votes'"
    ).fetchone()
    recomputed = merkle.root_from_leaves(hashes)
    from_nodes = log.root(db, "votes", state["size"])
    return {
        "size": state["size"],
        "votes": len(hashes),
        "leaves": leaf_rows,
        "distinct_rows": distinct_rows,
        "votes_not_in_tree": unappended,
        # Of them, votes with an id below the last appended one: the appender went past them (a vote
        # committed after one with a larger id), and reads only after its watermark: they never will be.
        "votes_skipped": skipped,
        "root": state["root"].hex(),
        "recomputed_root": recomputed.hex(),
        "root_matches": state["root"] == recomputed == from_nodes,
    }
