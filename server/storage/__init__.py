"""All of the server's SQL lives in this package, one module per area.

Functions take a database first: a ``sqlite_utils.Database`` on SQLite (the
embedded default) or ``postgres.Database`` on PostgreSQL, which offers the
same ``execute`` and reads the same SQL (``?`` placeholders, SQLite's DDL
words and functions: see postgres.py). ``connect(target)`` opens either from
a path or a ``postgresql://`` URL; ``dialect(db)`` tells them apart where the
SQL must differ, which should be rare. Writes that belong together
run inside ``write_transaction(db)``: the outermost opens ``BEGIN IMMEDIATE``
so the write lock is taken up front, inner ones are savepoints, so an action
wraps its change and its audit entry in one transaction whatever it calls.
SQL stays plain and portable where that costs nothing, for the planned
PostgreSQL backend.
"""

import contextlib
import datetime as dt
import itertools
import sqlite3

import psycopg
import sqlite_utils

from device_client.private import private_database
from device_client.protocol import format_utc
from server.storage import postgres

# What either driver raises: catch these, not sqlite3.Error alone.
Error = (sqlite3.Error, psycopg.Error)
IntegrityError = (sqlite3.IntegrityError, psycopg.IntegrityError)
OperationalError = (sqlite3.OperationalError, psycopg.OperationalError)


def dialect(db):
    """``"sqlite"`` or ``"postgresql"``: for the few places where the SQL must differ."""
    return getattr(db, "dialect", "sqlite")


def is_postgresql(target):
    """True for a ``postgresql://`` URL (the DATABASE_URL of a PostgreSQL install)."""
    return postgres.is_url(target)


def describe(target):
    """The database named for people and logs: a path, or the URL without its password."""
    return postgres.without_password(target) if postgres.is_url(target) else str(target)


def connect(path, busy_timeout_ms=10_000):
    """Open the server database with the durability settings every process uses.

    ``path`` is a SQLite file, or a ``postgresql://`` URL (then a psycopg
    connection in autocommit mode, transactions opened by
    ``write_transaction`` as here).

    ``isolation_level=None`` hands transaction control to us (``BEGIN
    IMMEDIATE`` ... ``COMMIT``); WAL lets readers run beside the writer;
    ``synchronous=FULL`` makes a commit durable before we acknowledge it.
    The file and its ``-wal`` and ``-shm`` are 0600, made so before SQLite
    creates them and fixed if an older version left them readable: they hold
    password hashes, PIN hashes and every vote.
    """
    if postgres.is_url(path):
        return postgres.connect(str(path))
    if str(path) != ":memory:" and not str(path).startswith("file:"):
        private_database(str(path))
    conn = sqlite3.connect(
        str(path), isolation_level=None, timeout=busy_timeout_ms / 1000, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return sqlite_utils.Database(conn, execute_plugins=False)


@contextlib.contextmanager
def write_transaction(db):
    """One unit of work: the outermost block opens ``BEGIN IMMEDIATE``, inner ones savepoints.

    Like sqlite-utils' ``Database.atomic()``, but the outermost block takes
    the write lock up front (waiting up to the busy timeout) instead of
    failing half-way with SQLITE_BUSY. An action opens one around its change
    and its audit entry; a storage or service function it calls may open its
    own, which then joins the action's transaction (and rolls back to its
    savepoint alone if it raises).
    """
    conn = db.conn
    if conn.in_transaction:
        name = f"hailong_{next(_savepoints)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield db
        except BaseException:
            # A failure inside SQLite may have ended the whole transaction already.
            _undo(conn, f"ROLLBACK TO SAVEPOINT {name}", f"RELEASE SAVEPOINT {name}")
            raise
        else:
            conn.execute(f"RELEASE SAVEPOINT {name}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
        # Inside the try: a COMMIT that fails (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY) may leave the
        # transaction open, and a connection left in one would swallow the next request's writes.
        conn.execute("COMMIT")
    except BaseException:
        _undo(conn, "ROLLBACK")
        raise


def _undo(conn, *statements):
    """Roll back after a failure without hiding it: the caller re-raises the error that caused this.

    After SQLITE_FULL or an I/O error SQLite may have rolled back already
    (then there is nothing to do), or the rollback itself may fail; either
    way the original error is the one worth reporting. If a savepoint cannot
    be undone, the whole transaction is, so nothing half-done can be committed.
    """
    try:
        for statement in statements:
            if not conn.in_transaction:
                return
            conn.execute(statement)
    except Error:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except Error:
                pass


_savepoints = itertools.count(1)


def now_utc():
    return dt.datetime.now(dt.timezone.utc)


def timestamp(moment=None):
    """The one text form the server stores times in (UTC, ms, ``Z``)."""
    return format_utc(moment or now_utc())


def query(db, sql, params=()):
    """Run a SELECT; rows as dicts keyed by column name."""
    cursor = db.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def query_one(db, sql, params=()):
    rows = query(db, sql, params)
    return rows[0] if rows else None


def in_units(column, unit_ids, where, params):
    """Add ``column IN (...)`` to a WHERE list; ``unit_ids`` None means no limit."""
    if unit_ids is None:
        return True
    if not unit_ids:
        return False
    where.append(f"{column} IN ({','.join('?' * len(unit_ids))})")
    params.extend(sorted(unit_ids))
    return True
