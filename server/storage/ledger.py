"""The tamper-evident log's tables (migrations/ledger.py): trees, leaves, stored nodes, checkpoints,
and the source rows each tree's leaves are made from.

Leaves, nodes and checkpoints are append-only (triggers refuse UPDATE and
DELETE). Reads of stored hashes come in ranges (one query for many
consecutive nodes of one level), since proofs for a large export touch
millions of them.
"""

import itertools

from server.storage import dialect, order, query, query_one

# Source rows with what leaves need (server/ledger/leaves.py): codes, not ids, for what the tablet signed.
_VOTE_ROWS = (
    "SELECT v.id, v.uuid, v.device_id, v.seq, c.code AS counter, s.code AS staff, v.rating, v.reasons, v.ticket,"
    " v.local_time, v.scale_version, v.signature, v.received_at, v.clock_offset_ms, vu.code AS unit,"
    " cu.code AS counter_unit, v.counted_at, v.time_corrected, v.flags"
    " FROM votes v JOIN counters c ON c.id = v.counter_id JOIN staff s ON s.id = v.staff_id"
    " LEFT JOIN units vu ON vu.id = v.unit_id LEFT JOIN units cu ON cu.id = v.counter_unit_id"
)
_SESSION_ROWS = (
    "SELECT e.id, e.uuid, e.device_id, e.seq, c.code AS counter, s.code AS staff, e.event, e.reason,"
    " e.local_time, e.signature, e.received_at, e.clock_offset_ms"
    " FROM staff_sessions e JOIN counters c ON c.id = e.counter_id JOIN staff s ON s.id = e.staff_id"
)
_AUDIT_ROWS = (
    "SELECT a.id, a.at, a.actor_kind, a.actor, a.address, a.action, a.object_type, a.object_id, a.unit_id,"
    " a.before, a.after FROM audit_log a"
)
_SOURCES = {"votes": (_VOTE_ROWS, "v"), "sessions": (_SESSION_ROWS, "e"), "audit": (_AUDIT_ROWS, "a")}
SOURCE_TABLES = {"votes": "votes", "sessions": "staff_sessions", "audit": "audit_log"}


def source_rows_after(db, tree, after_id, limit, up_to=None):
    """The next ``limit`` rows of the tree's source table after ``after_id``, in id order (none above
    ``up_to`` when given)."""
    sql, alias = _SOURCES[tree]
    if up_to is None:
        return query(db, f"{sql} WHERE {alias}.id > ? ORDER BY {alias}.id LIMIT ?", [after_id, limit])
    return query(db, f"{sql} WHERE {alias}.id > ? AND {alias}.id <= ? ORDER BY {alias}.id LIMIT ?",
                 [after_id, up_to, limit])


def append_bound(db, name):
    """The largest source row id the appender may read now, or None for no bound.

    SQLite: None. One writer at a time, so rows commit in id order and a
    row the appender sees has every smaller id committed before it.
    PostgreSQL: ``order.settled_max_id``, below which no row can still
    commit late (another server's transaction holding a smaller id). Inside
    a transaction that bound cannot be taken (its lock would hold every
    writer until the transaction ends), so it is the tree's last row:
    nothing new is appended there, the next run outside one does it.
    """
    if dialect(db) != "postgresql":
        return None
    if db.conn.in_transaction:
        return tree(db, name)["last_row_id"]
    return order.settled_max_id(db, SOURCE_TABLES[name])


def source_row(db, tree, row_id):
    sql, alias = _SOURCES[tree]
    return query_one(db, f"{sql} WHERE {alias}.id = ?", [row_id])


def vote_row_by_uuid(db, uuid):
    """A vote as its leaf is made from, plus the ids of its units then and now (for scope checks), or None."""
    return query_one(
        db,
        _VOTE_ROWS.replace("SELECT ", "SELECT v.unit_id, v.counter_unit_id, c.unit_id AS counter_unit_now,"
                           " s.unit_id AS staff_unit_now, ", 1) + " WHERE v.uuid = ?",
        [uuid],
    )


# --- Trees, leaves and nodes --------------------------------------------------


def tree(db, name):
    """``{"name", "size", "last_row_id", "root", "updated_at"}`` of a tree, or None."""
    return query_one(db, "SELECT name, size, last_row_id, root, updated_at FROM log_trees WHERE name = ?", [name])


def tree_for_append(db, name):
    """``tree`` read by the appender inside its write transaction, the tree's row locked on PostgreSQL.

    SQLite's write transaction already excludes every other appender; on
    PostgreSQL two processes may catch the same tree up at once (an export
    on one server, the jobs on another), and the row lock makes the second
    wait and then read the tree as the first left it, instead of both
    appending the same leaf indices.
    """
    if dialect(db) == "postgresql":
        return query_one(db, "SELECT name, size, last_row_id, root, updated_at FROM log_trees WHERE name = ?"
                         " FOR UPDATE", [name])
    return tree(db, name)


def append(db, name, leaves, nodes, size, last_row_id, root, at):
    """Store new leaves ``(idx, row_id, hash)`` and complete nodes ``(level, idx, hash)``, and the tree's new
    size, last source row and root, in the caller's transaction."""
    db.conn.executemany("INSERT INTO log_leaves (tree, idx, row_id, hash) VALUES (?, ?, ?, ?)",
                        [(name, idx, row_id, digest) for idx, row_id, digest in leaves])
    db.conn.executemany("INSERT INTO log_nodes (tree, level, idx, hash) VALUES (?, ?, ?, ?)",
                        [(name, level, idx, digest) for level, idx, digest in nodes])
    db.execute("UPDATE log_trees SET size = ?, last_row_id = ?, root = ?, updated_at = ? WHERE name = ?",
               [size, last_row_id, root, at, name])


def stored_hash(db, name, level, idx):
    """The hash of the complete subtree of 2**level leaves starting at leaf idx << level, or None."""
    if level == 0:
        row = db.execute("SELECT hash FROM log_leaves WHERE tree = ? AND idx = ?", [name, idx]).fetchone()
    else:
        row = db.execute("SELECT hash FROM log_nodes WHERE tree = ? AND level = ? AND idx = ?",
                         [name, level, idx]).fetchone()
    return row and row[0]


def stored_hashes(db, name, level, first, last):
    """``[(idx, hash)]`` of one level's stored subtrees with ``first <= idx <= last``, in idx order."""
    if level == 0:
        cursor = db.execute("SELECT idx, hash FROM log_leaves WHERE tree = ? AND idx BETWEEN ? AND ? ORDER BY idx",
                            [name, first, last])
    else:
        cursor = db.execute("SELECT idx, hash FROM log_nodes WHERE tree = ? AND level = ? AND idx BETWEEN ? AND ?"
                            " ORDER BY idx", [name, level, first, last])
    return cursor.fetchall()


def leaf_of_row(db, name, row_id):
    return query_one(db, "SELECT idx AS \"index\", hash FROM log_leaves WHERE tree = ? AND row_id = ?",
                     [name, row_id])


def leaf_at(db, name, idx):
    return query_one(db, "SELECT idx AS \"index\", row_id, hash FROM log_leaves WHERE tree = ? AND idx = ?",
                     [name, idx])


# --- Index sets for proofs over many leaves (log.proof_nodes) ----------------

_scratch = itertools.count(1)


def scratch_indices(db, indices):
    """Copy an ascending stream of leaf indices into a temporary table; returns its name.

    Temporary tables live beside the connection, not in the database file,
    and take no write lock; SQLite keeps them on disk past its page cache,
    so a set of millions of indices costs no memory here.
    """
    if dialect(db) == "postgresql":
        return _scratch_indices_postgresql(db, indices)
    name = f"temp.hailong_indices_{next(_scratch)}"
    db.execute(f"CREATE TABLE {name} (idx INTEGER PRIMARY KEY)")
    db.conn.executemany(f"INSERT INTO {name} (idx) VALUES (?)", ((idx,) for idx in indices))
    return name


def _scratch_indices_postgresql(db, indices):
    """PostgreSQL's temporary tables have no ``temp.`` schema (they live in the session's own), and
    ``COPY`` streams the indices in without a list of parameter rows in memory (executemany builds one)."""
    name = f"hailong_indices_{next(_scratch)}"
    db.execute(f"CREATE TEMPORARY TABLE {name} (idx BIGINT PRIMARY KEY)")
    with db.conn.raw.cursor().copy(f"COPY {name} (idx) FROM STDIN") as copy:
        for idx in indices:
            copy.write_row((idx,))
    return name


def scratch_successor(db, name, at_least):
    row = db.execute(f"SELECT idx FROM {name} WHERE idx >= ? ORDER BY idx LIMIT 1", [at_least]).fetchone()
    return row and row[0]


def scratch_batch(db, name, after, limit):
    """The next ``limit`` indices after ``after``, ascending."""
    return [idx for (idx,) in db.execute(f"SELECT idx FROM {name} WHERE idx > ? ORDER BY idx LIMIT ?",
                                         [after, limit]).fetchall()]


def drop_scratch(db, name):
    db.execute(f"DROP TABLE IF EXISTS {name}")


# --- Checkpoints --------------------------------------------------------------

_CHECKPOINT = "SELECT id, tree, size, root, at, key_id, note, trigger FROM log_checkpoints"


def insert_checkpoint(db, row):
    return db.execute(
        "INSERT INTO log_checkpoints (tree, size, root, at, key_id, note, trigger) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [row["tree"], row["size"], row["root"], row["at"], row["key_id"], row["note"], row["trigger"]],
    ).lastrowid


def checkpoint(db, checkpoint_id):
    return query_one(db, f"{_CHECKPOINT} WHERE id = ?", [checkpoint_id])


def latest_checkpoint(db, name):
    return query_one(db, f"{_CHECKPOINT} WHERE tree = ? ORDER BY id DESC LIMIT 1", [name])


def checkpoints(db, name, after_id=None, before_id=None, limit=100, newest_first=True):
    """A tree's checkpoints, newest first (page back with ``before_id``) or oldest first (``after_id``)."""
    where, params = ["tree = ?"], [name]
    if after_id is not None:
        where.append("id > ?")
        params.append(after_id)
    if before_id is not None:
        where.append("id < ?")
        params.append(before_id)
    order = "DESC" if newest_first else "ASC"
    return query(db, f"{_CHECKPOINT} WHERE {' AND '.join(where)} ORDER BY id {order} LIMIT ?", [*params, limit])
