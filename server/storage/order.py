"""Reading append-only tables in id order when several servers write them at once.

The Merkle log appends votes, staff sessions and audit entries as leaves in
id order, and the rollups count votes after a watermark id. Both read "every
row after id N" and move N forward, which is only sound if no row with a
smaller id can still appear afterwards. On SQLite that holds by itself: one
writer at a time, so rows commit in id order. On PostgreSQL two servers'
transactions take ids from the same sequence and may commit in the other
order: a reader could move past id 11 while the transaction holding id 10 is
still open, and that row would be skipped for ever.

So on PostgreSQL a transaction takes a shared advisory lock before it inserts
into one of these tables (``appending``), and a reader that wants a safe
upper bound takes the same lock exclusively for a moment (``settled_max_id``):
once it holds it, every transaction that could hold an id at or below the
current maximum has committed or rolled back, and every later insert gets a
larger id from the sequence. Writers never wait for each other (shared
locks), only briefly for a reader's bound.
"""

from server.storage import dialect, write_transaction

# pg_advisory locks are keyed by one bigint; this one is hailong's ("hailong" in ASCII).
APPEND_LOCK = 0x6861696C6F6E67

TABLES = ("votes", "staff_sessions", "audit_log")


def appending(db):
    """Call inside a write transaction before inserting into votes, staff_sessions or audit_log."""
    if dialect(db) == "postgresql":
        db.execute("SELECT pg_advisory_xact_lock_shared(?)", [APPEND_LOCK])


def settled_max_id(db, table):
    """The largest id of ``table`` below which no new row can appear any more (0 when empty).

    Call it outside any transaction: on PostgreSQL the exclusive lock lasts
    until the transaction around it ends, and every writer waits for it.
    """
    if table not in TABLES:
        raise ValueError(f"{table} is not an append-ordered table")
    if dialect(db) != "postgresql":
        return db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
    if db.conn.in_transaction:
        raise RuntimeError("settled_max_id inside a transaction would hold every writer until it ends")
    with write_transaction(db):
        db.execute("SELECT pg_advisory_xact_lock(?)", [APPEND_LOCK])
        return db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
