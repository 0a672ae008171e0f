"""Migrations of the tamper-evident log (issue 10): Merkle trees over votes,
staff sign-in events and the audit log, and their signed checkpoints.

Names start with ``ledger_`` and a number; never edit one that has shipped.
"""

from migrations import migrations

# The trees and the table each grows from, in that table's id order.
TREES = {"votes": "votes", "sessions": "staff_sessions", "audit": "audit_log"}


@migrations()
def ledger_001_merkle_trees(db):
    # One row per tree: how many leaves it has, the source row id of the last
    # leaf (the appender continues after it), and the root at that size.
    db.execute(
        """CREATE TABLE log_trees (
            name TEXT PRIMARY KEY,
            size INTEGER NOT NULL DEFAULT 0,
            last_row_id INTEGER NOT NULL DEFAULT 0,
            root BLOB NOT NULL,
            updated_at TEXT
        )"""
    )
    empty_root = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    for name in TREES:
        db.execute("INSERT INTO log_trees (name, size, last_row_id, root) VALUES (?, 0, 0, ?)", [name, empty_root])
    # Leaves: RFC 6962 leaf hashes SHA-256(0x00 || leaf bytes), in append order,
    # with the id of the row each was made from (a vote's leaf index for exports
    # and inclusion proofs).
    db.execute(
        """CREATE TABLE log_leaves (
            tree TEXT NOT NULL,
            idx INTEGER NOT NULL,
            row_id INTEGER NOT NULL,
            hash BLOB NOT NULL,
            PRIMARY KEY (tree, idx)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE UNIQUE INDEX log_leaves_row ON log_leaves(tree, row_id)")
    # Interior nodes: the hash of every complete subtree of 2**level leaves
    # (level >= 1) starting at leaf idx * 2**level, written once when its last
    # leaf arrives. Right-edge nodes of an unbalanced tree are never stored:
    # they are computed from these (O(log n)) when a root or proof needs them.
    db.execute(
        """CREATE TABLE log_nodes (
            tree TEXT NOT NULL,
            level INTEGER NOT NULL,
            idx INTEGER NOT NULL,
            hash BLOB NOT NULL,
            PRIMARY KEY (tree, level, idx)
        ) WITHOUT ROWID"""
    )
    # Signed checkpoints, as published: ``note`` is the signed note text
    # exactly as an auditor keeps it (docs/verify.md).
    db.execute(
        """CREATE TABLE log_checkpoints (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tree TEXT NOT NULL,
            size INTEGER NOT NULL,
            root BLOB NOT NULL,
            at TEXT NOT NULL,
            key_id TEXT NOT NULL,
            note TEXT NOT NULL,
            trigger TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX log_checkpoints_tree ON log_checkpoints(tree, size)")
    # Leaves, nodes and checkpoints are written once and never changed.
    for table in ("log_leaves", "log_nodes", "log_checkpoints"):
        for event in ("UPDATE", "DELETE"):
            db.execute(
                f"""CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"""
            )
