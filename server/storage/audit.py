"""The append-only audit log (triggers refuse UPDATE and DELETE on it), and the counts on its entries."""

import json

from server.storage import dialect, order, query, write_transaction


def append(db, entry):
    """Insert one entry; ``before``/``after`` are dicts (or None) stored as JSON. Returns its id.

    Entries are leaves of the audit tree, appended in id order: on
    PostgreSQL the insert takes the append lock (``order.appending``) inside
    a transaction, its own when the caller has none, so the log appender
    never moves past an id whose entry has not committed yet.
    """
    if dialect(db) == "postgresql" and not db.conn.in_transaction:
        with write_transaction(db):
            return _append(db, entry)
    return _append(db, entry)


def _append(db, entry):
    order.appending(db)
    return db.execute(
        "INSERT INTO audit_log (at, actor_kind, actor, address, action, object_type, object_id,"
        " unit_id, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [
            entry["at"],
            entry["actor_kind"],
            entry["actor"],
            entry.get("address"),
            entry["action"],
            entry["object_type"],
            entry.get("object_id"),
            entry.get("unit_id"),
            _json(entry.get("before")),
            _json(entry.get("after")),
        ],
    ).fetchone()[0]


def lock_count(db, key):
    """Hold ``key``'s count to one writer at a time until the transaction ends.

    SQLite's ``BEGIN IMMEDIATE`` queues every writer already. On PostgreSQL
    (READ COMMITTED) parallel refusals would each find no open count and
    each start one: a transaction-level advisory lock on the key's hash
    queues them instead (another key shares a hash only by a 2^-64 chance,
    and then only waits).
    """
    if dialect(db) == "postgresql":
        db.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [key])


def open_count(db, key, since):
    """The audit id of the counted entry for ``key`` first made at ``since`` or later, or None."""
    row = db.execute(
        "SELECT audit_id FROM audit_counts WHERE key = ? AND first_at >= ? ORDER BY first_at DESC LIMIT 1",
        [key, since],
    ).fetchone()
    return row and row[0]


def start_count(db, audit_id, key, at):
    db.execute("INSERT INTO audit_counts (audit_id, key, first_at, last_at, count) VALUES (?, ?, ?, ?, 1)",
               [audit_id, key, at, at])


def add_count(db, audit_id, at):
    db.execute("UPDATE audit_counts SET count = count + 1, last_at = ? WHERE audit_id = ?", [at, audit_id])


def _json(value):
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def entries(db, unit_ids=None, actor=None, action=None, object_type=None, before_id=None, limit=100):
    """Newest first. ``unit_ids`` None means every entry; a set limits to those units."""
    where, params = [], []
    if unit_ids is not None:
        if not unit_ids:
            return []
        where.append(f"audit_log.unit_id IN ({','.join('?' * len(unit_ids))})")
        params.extend(sorted(unit_ids))
    for column, value in (("actor", actor), ("action", action), ("object_type", object_type)):
        if value:
            where.append(f"audit_log.{column} = ?")
            params.append(value)
    if before_id:
        where.append("audit_log.id < ?")
        params.append(before_id)
    sql = ("SELECT audit_log.*, n.count AS times, n.last_at AS last_time FROM audit_log"
           " LEFT JOIN audit_counts n ON n.audit_id = audit_log.id")
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = query(db, sql + " ORDER BY audit_log.id DESC LIMIT ?", [*params, limit])
    for row in rows:
        row["before"] = json.loads(row["before"]) if row["before"] else None
        row["after"] = json.loads(row["after"]) if row["after"] else None
        times, last = row.pop("times"), row.pop("last_time")
        if times is not None:
            # A counted entry shows how often it happened in its window, counted after it was written.
            row["after"] = {**(row["after"] or {}), "times": times, "last_at": last}
    return rows
