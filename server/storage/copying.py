"""The SQL of ``hailong copy-database``: a SQLite database's tables read in foreign-key order, written to PostgreSQL.

The source is read inside one read transaction (``snapshot``), so every
table is copied as of the same moment even if something still writes. Rows
go in with their ids, in batches, through ``executemany``; votes go through
the ``votes`` table, whose trigger fills ``vote_keys`` with the ids kept.
"""

import contextlib

from server.storage import dialect

# sqlite-utils' record of applied migrations: the target's own, made by migrating it.
MIGRATIONS_TABLE = "_sqlite_migrations"


def _quote(name):
    return '"' + name.replace('"', '""') + '"'


def source_tables(db):
    """The SQLite database's own tables (not SQLite's, not the migrations' record), by name."""
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                      " ORDER BY name").fetchall()
    return [name for (name,) in rows if name != MIGRATIONS_TABLE]


def references(db, table):
    """The tables ``table``'s foreign keys point at (SQLite)."""
    return sorted({row[2] for row in db.execute(f"PRAGMA foreign_key_list({_quote(table)})").fetchall()})


def self_reference(db, table):
    """``(column, parent column)`` of a foreign key from ``table`` to itself (SQLite), or None."""
    for row in db.execute(f"PRAGMA foreign_key_list({_quote(table)})").fetchall():
        if row[2] == table:
            return row[3], row[4] or "id"
    return None


def columns(db, table):
    """The stored columns of a SQLite table, in order (generated ones are not stored, so not copied)."""
    return [row[1] for row in db.execute(f"PRAGMA table_info({_quote(table)})").fetchall()]


def count(db, table):
    return db.execute(f"SELECT COUNT(*) FROM {_quote(table)}").fetchone()[0]


def vote_months(db):
    """The months ('YYYY-MM') of the votes' arrival times, oldest first."""
    rows = db.execute("SELECT DISTINCT substr(received_at, 1, 7) FROM votes ORDER BY 1").fetchall()
    return [month for (month,) in rows]


@contextlib.contextmanager
def snapshot(db):
    """A read transaction on the SQLite source: every read inside sees the same moment."""
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("ROLLBACK")


def batches(db, table, names, size):
    """The rows of ``table`` (those columns), ``size`` at a time, as tuples; the order rows were stored in."""
    cursor = db.execute(f"SELECT {', '.join(map(_quote, names))} FROM {_quote(table)}")
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield rows


def insert(db, table, names, rows):
    """Insert ``rows`` (tuples in the order of ``names``) into ``table`` of the PostgreSQL target."""
    assert dialect(db) == "postgresql"
    db.conn.executemany(f"INSERT INTO {_quote(table)} ({', '.join(map(_quote, names))})"
                        f" VALUES ({', '.join('?' for _ in names)})", rows)


def clear(db, table):
    """Remove what migrating put in a table of the target (its seed rows), so the source's go in instead."""
    assert dialect(db) == "postgresql"
    db.execute(f"DELETE FROM {_quote(table)}")


def target_tables(db):
    """The PostgreSQL target's tables, partitions of votes apart (their rows are counted in votes)."""
    rows = db.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        " ORDER BY c.relname").fetchall()
    return [name for (name,) in rows]
