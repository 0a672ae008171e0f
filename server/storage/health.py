"""Can the database take writes now? The driver's errors read as "full", "read_only" or "busy".

A full disk, a file system turned read-only, or a write lock held too long
are not bugs in a request: they are the machine's state, they pass, and the
right answer is "not now, try again" (HTTP 503 with ``Retry-After``, a job
that logs and runs again at its next turn), never a 500 or a traceback.
``classify`` tells those errors from the rest; ``probe_write`` makes one
real, durable write so a readiness check sees what the next vote would see.

SQLite reports a full disk as SQLITE_FULL when a write to the database or
its WAL fails with ENOSPC; when the WAL index (``-shm``) cannot grow, or an
fsync fails, it says only SQLITE_IOERR. A read-only file system shows up as
SQLITE_READONLY when SQLite opened the file read-only, but as SQLITE_IOERR
when a file it opened for writing can no longer be written. So an I/O error
is classified by looking at the file system that holds the database, when
the caller says where that is.
"""

import errno
import os
import sqlite3

import psycopg

from server.storage import dialect, write_transaction

FULL, READ_ONLY, BUSY = "full", "read_only", "busy"

# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL = 5, 6, 8, 10, 13
_SQLITE_CANTOPEN = 14

_ERRNO = {errno.ENOSPC: FULL, errno.EDQUOT: FULL, errno.EROFS: READ_ONLY}

# Fewer free bytes than this on the database's file system counts as full:
# SQLite needs room for at least a few WAL frames and the WAL index.
_NEARLY_FULL_BYTES = 256 * 1024

# The probe file: written beside the database, made to take new blocks.
_PROBE_SUFFIX = "-probe"
_PROBE_BYTES = 64 * 1024


def classify(exc, path=None):
    """``"full"``, ``"read_only"``, ``"busy"`` when ``exc`` means the database cannot take writes now, else None.

    ``exc`` is any exception: an ``sqlite3.Error`` from the driver, or an
    ``OSError`` from a file written beside the database (ENOSPC, EDQUOT,
    EROFS). ``path`` is the database file (or a folder on the same file
    system): with it, an SQLite I/O error is read by asking that file system
    whether it is read-only or out of space; without it, an I/O error is not
    classified (it may be a failing disk, which retrying does not cure).
    """
    if isinstance(exc, psycopg.Error):
        return _postgresql(exc)
    if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
        return _ERRNO.get(exc.errno)
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return _by_message(str(exc))
    primary = code & 0xFF
    if primary == _SQLITE_FULL:
        return FULL
    if primary == _SQLITE_READONLY:
        return READ_ONLY
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return BUSY
    if primary in (_SQLITE_IOERR, _SQLITE_CANTOPEN) and path:
        return file_system_state(path)
    return None


def _postgresql(exc):
    """PostgreSQL's SQLSTATE read the same way: out of room, read-only, or not now (locks, restarts)."""
    state = getattr(exc, "sqlstate", None) or ""
    if state in ("53100",):  # disk_full
        return FULL
    if state == "25006":  # read_only_sql_transaction: a standby, or default_transaction_read_only
        return READ_ONLY
    if state in ("40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300") or state.startswith("08"):
        return BUSY  # serialization, deadlock, lock timeout, a restarting server, too many connections
    if isinstance(exc, psycopg.OperationalError) and not state:
        return BUSY  # the connection itself failed: the server is down or restarting
    return None


def _by_message(text):
    # sqlite3 errors raised without a code (older Pythons, some driver paths) carry SQLite's words.
    text = text.lower()
    if "database or disk is full" in text:
        return FULL
    if "readonly database" in text or "read-only" in text:
        return READ_ONLY
    if "database is locked" in text or "database table is locked" in text:
        return BUSY
    return None


def file_system_state(path):
    """``"read_only"`` or ``"full"`` for the file system holding ``path``, or None when it looks able to write."""
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    try:
        stats = os.statvfs(folder)
    except OSError:
        return None
    if stats.f_flag & os.ST_RDONLY:
        return READ_ONLY
    if stats.f_bavail * stats.f_frsize < _NEARLY_FULL_BYTES:
        return FULL
    return None


def database_path(db):
    """The main database file of a connection, or None for an in-memory one (or PostgreSQL)."""
    if dialect(db) == "postgresql":
        return None
    row = db.execute("PRAGMA database_list").fetchone()
    return row[2] or None


def probe_write(db):
    """Make one durable write as a vote would, and raise what that write raises.

    Two steps, because SQLite can commit into WAL space it already has while
    the disk is full (the next larger write then fails): a committed
    transaction that rewrites the database header (``PRAGMA application_id``
    set to its own value dirties page 1, so ``COMMIT`` writes a WAL frame and
    fsyncs it), then a small file beside the database written, fsynced and
    removed, which must get new blocks from the file system. Nothing is left
    behind. Raises ``sqlite3.Error`` or ``OSError``; ``classify`` reads both.
    Takes the write lock like any writer, so it waits up to the busy timeout.
    """
    if dialect(db) == "postgresql":
        # A transaction id assigned and committed: a commit record written and flushed to the WAL.
        with write_transaction(db):
            db.execute("SELECT pg_current_xact_id()")
        return
    with write_transaction(db):
        current = db.execute("PRAGMA application_id").fetchone()[0]
        db.execute(f"PRAGMA application_id = {int(current)}")
    path = database_path(db)
    if path:
        _probe_file(path + _PROBE_SUFFIX)


def _probe_file(path):
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(os.urandom(_PROBE_BYTES))  # random, so no file system can store it as a hole
        while view:
            view = view[os.write(descriptor, view):]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
        try:
            os.remove(path)
        except OSError:
            pass
