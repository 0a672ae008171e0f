"""The tablet's local SQLite: one outbox of signed items per stream, dead letters, cached state.

Every item (a vote, a staff session event, ...) is committed here (WAL,
``synchronous=FULL``) before anyone is told "thank you". Each stream numbers
its items 1, 2, 3, ... : the number is taken in the same ``BEGIN IMMEDIATE``
transaction as the insert (``enqueue``), so numbers are gapless and
increasing even with several processes (CLI, kiosk, sync loop) writing. The
schema and its upgrades are in ``device_client/schema.py``.
"""

import contextlib
import json
import os
import sqlite3
import time

from device_client import private
from device_client.schema import MIGRATIONS


class NewerOutbox(Exception):
    """The outbox was written by a newer hailong-device than this one."""


def _use_wal(conn, timeout):
    """Switch to WAL, retrying: SQLite skips the busy timeout for this switch (to avoid a deadlock)
    when another process is switching the same old outbox at the same moment."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def open_store(data_dir, timeout=30.0):
    """Open (creating or upgrading if needed) the outbox database in ``data_dir``.

    The folder is 0700 and the database 0600 (``device_client.private``): the
    outbox caches the unit's PIN hashes, which another account must not read.
    """
    private.private_folder(data_dir)
    path = os.path.join(data_dir, "outbox.db")
    private.private_database(path)
    conn = sqlite3.connect(path, isolation_level=None, timeout=timeout, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    _use_wal(conn, timeout)
    conn.execute("PRAGMA synchronous = FULL")
    try:
        upgrade(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def schema_version(conn):
    return conn.execute("PRAGMA user_version").fetchone()[0]


def upgrade(conn):
    """Apply the migrations this outbox has not had, each in its own transaction.

    Safe when several processes start at once: the version is read again
    inside the write lock, so each migration runs exactly once.
    """
    while (version := schema_version(conn)) != len(MIGRATIONS):
        if version > len(MIGRATIONS):
            raise NewerOutbox(
                f"outbox.db has schema version {version}, newer than this hailong-device knows "
                f"({len(MIGRATIONS)}): install the newer release again."
            )
        with transaction(conn):
            if schema_version(conn) == version:
                MIGRATIONS[version](conn)
                conn.execute(f"PRAGMA user_version = {version + 1}")


@contextlib.contextmanager
def transaction(conn):
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; inside another transaction, a savepoint of it."""
    if conn.in_transaction:
        conn.execute("SAVEPOINT nested")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK TO nested")
            conn.execute("RELEASE nested")
            raise
        conn.execute("RELEASE nested")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def get_meta(conn, key, default=None):
    row = conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return json.loads(row[0]) if row else default


def set_meta(conn, key, value):
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, json.dumps(value, ensure_ascii=False)],
    )


# --- Streams: numbering, queueing, the server's answers -------------------------


def _counter_keys(stream):
    """The ``meta`` keys of a stream's last assigned and acknowledged ``seq``.

    Votes keep the names release 0.1.0 gave them (``hailong-device status``
    shows them under the same names, and tools read them); every later stream
    is named after itself.
    """
    if stream == "votes":
        return "last_seq", "ack_seq"
    return f"{stream}_last_seq", f"{stream}_ack_seq"


def last_seq(conn, stream):
    return get_meta(conn, _counter_keys(stream)[0], 0)


def ack_seq(conn, stream):
    return get_meta(conn, _counter_keys(stream)[1], 0)


def enqueue(conn, stream, build, created_at):
    """Number, build and queue one item; call inside ``transaction``. Returns the item.

    ``build(seq)`` makes the item (with ``id`` and ``seq``) for the stream's
    next number; if it raises, the transaction rolls back and the number is
    not used, so the sequence stays gapless.
    """
    if not conn.in_transaction:
        raise RuntimeError("enqueue must run inside store.transaction")
    key = _counter_keys(stream)[0]
    seq = get_meta(conn, key, 0) + 1
    set_meta(conn, key, seq)
    item = build(seq)
    conn.execute(
        "INSERT INTO outbox (stream, seq, uuid, payload, created_at) VALUES (?, ?, ?, ?, ?)",
        [stream, seq, item["id"], json.dumps(item, ensure_ascii=False), created_at],
    )
    return item


def unsent(conn, stream, limit):
    """The oldest items of a stream not yet delivered, as wire payloads."""
    rows = conn.execute(
        "SELECT payload FROM outbox WHERE stream = ? AND acked_at IS NULL AND delivered_at IS NULL"
        " ORDER BY seq LIMIT ?",
        [stream, limit],
    ).fetchall()
    return [json.loads(row[0]) for row in rows]


def items(conn, stream):
    """Every item of a stream still in the outbox (acknowledged ones too), oldest first."""
    rows = conn.execute("SELECT payload FROM outbox WHERE stream = ? ORDER BY seq", [stream]).fetchall()
    return [json.loads(row[0]) for row in rows]


def apply_results(conn, stream, results, ack_seq, now):
    """Record a batch answer for a stream: delivered, dead-lettered, acknowledged.

    ``accepted``/``duplicate`` mean the server committed the item; it is
    acked (leaves the queue) once ``ack_seq`` covers it. ``rejected`` and
    ``conflict`` move it to ``dead_letters`` with the server's errors: kept
    and counted, never dropped.

    An ``ack_seq`` below the one the server gave before means the server has
    forgotten items it once held: it was restored from a backup taken before
    them (docs/operations.md). Acknowledged items are kept in the outbox for
    this: every one above the new ``ack_seq`` that this answer does not
    report stored is queued again, and the next syncs send it back. Two
    answers applied out of order (two processes syncing one tablet) look the
    same; that costs only a few items sent twice, which the server answers
    ``duplicate``.
    """
    with transaction(conn):
        key = _counter_keys(stream)[1]
        if ack_seq < get_meta(conn, key, 0):
            stored = [r["seq"] for r in results if r.get("status") in ("accepted", "duplicate")
                      and isinstance(r.get("seq"), int)]
            conn.execute(
                "UPDATE outbox SET delivered_at = NULL, acked_at = NULL WHERE stream = ? AND seq > ?"
                f" AND (delivered_at IS NOT NULL OR acked_at IS NOT NULL) AND seq NOT IN ({','.join('?' * len(stored))})",
                [stream, ack_seq, *stored],
            )
            set_meta(conn, key, ack_seq)
        for result in results:
            seq, status = result.get("seq"), result["status"]
            if seq is None:
                continue
            if status in ("accepted", "duplicate"):
                conn.execute(
                    "UPDATE outbox SET delivered_at = COALESCE(delivered_at, ?) WHERE stream = ? AND seq = ?",
                    [now, stream, seq],
                )
            elif status in ("rejected", "conflict"):
                _move_to_dead_letters(conn, stream, seq, status, result.get("errors", {}), now)
        conn.execute(
            "UPDATE outbox SET acked_at = ? WHERE stream = ? AND acked_at IS NULL"
            " AND delivered_at IS NOT NULL AND seq <= ?",
            [now, stream, ack_seq],
        )
        set_meta(conn, key, max(ack_seq, get_meta(conn, key, 0)))


def _move_to_dead_letters(conn, stream, seq, status, errors, now):
    row = conn.execute(
        "SELECT uuid, payload, created_at FROM outbox WHERE stream = ? AND seq = ? AND acked_at IS NULL",
        [stream, seq],
    ).fetchone()
    if row:
        conn.execute(
            "INSERT OR REPLACE INTO dead_letters (stream, seq, uuid, payload, created_at, status, errors,"
            " moved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [stream, seq, *row, status, json.dumps(errors, ensure_ascii=False), now],
        )
        conn.execute("DELETE FROM outbox WHERE stream = ? AND seq = ?", [stream, seq])


def queue_summary(conn, stream="votes"):
    """A stream's queue: waiting items, the oldest one's time, those awaiting the ack, dead letters."""
    depth, oldest, delivered = conn.execute(
        "SELECT COUNT(*), MIN(created_at), COUNT(delivered_at) FROM outbox"
        " WHERE stream = ? AND acked_at IS NULL",
        [stream],
    ).fetchone()
    dead = conn.execute("SELECT COUNT(*) FROM dead_letters WHERE stream = ?", [stream]).fetchone()[0]
    return {"queue_depth": depth, "oldest_unsent_at": oldest, "awaiting_ack": delivered, "dead_letters": dead}


def dead_letter_count(conn):
    """Items of every stream the server refused, kept here."""
    return conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]


def dead_letters(conn):
    """Every stream's dead letters, votes first, oldest first."""
    rows = conn.execute(
        "SELECT stream, seq, uuid, status, errors, moved_at FROM dead_letters"
        " ORDER BY stream != 'votes', stream, seq"
    ).fetchall()
    return [
        {"stream": stream, "seq": seq, "id": uuid, "status": status, "errors": json.loads(errors), "moved_at": moved}
        for stream, seq, uuid, status, errors, moved in rows
    ]


class Watch:
    """A connection of its own whose ``changed()`` says whether another connection committed.

    How the sync loop hears a new tap (``PRAGMA data_version``).
    """

    def __init__(self, data_dir):
        self.conn = open_store(data_dir)
        self.version = self._read()

    def _read(self):
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def changed(self):
        version = self._read()
        changed, self.version = version != self.version, version
        return changed

    def close(self):
        self.conn.close()


# --- The kiosk: idempotency keys and PIN attempts --------------------------------


def vote_for_key(conn, key):
    """The vote an idempotency key already recorded, or None."""
    row = conn.execute(
        "SELECT o.payload FROM kiosk_keys k JOIN outbox o ON o.stream = 'votes' AND o.seq = k.seq"
        " WHERE k.key = ?",
        [key],
    ).fetchone()
    if row:
        return json.loads(row[0])
    row = conn.execute("SELECT seq FROM kiosk_keys WHERE key = ?", [key]).fetchone()
    return {"seq": row[0], "acked": True} if row else None


def remember_key(conn, key, seq, created_at):
    conn.execute("INSERT INTO kiosk_keys (key, seq, created_at) VALUES (?, ?, ?)", [key, seq, created_at])


def pin_attempts(conn, staff):
    """``(failures, locked_until)`` for a staff code."""
    row = conn.execute("SELECT failures, locked_until FROM pin_attempts WHERE staff = ?", [staff]).fetchone()
    return row if row else (0, 0.0)


def set_pin_attempts(conn, staff, failures, locked_until):
    conn.execute(
        "INSERT INTO pin_attempts (staff, failures, locked_until) VALUES (?, ?, ?)"
        " ON CONFLICT(staff) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until",
        [staff, failures, locked_until],
    )
