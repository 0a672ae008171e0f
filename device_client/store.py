"""The tablet's local SQLite: the outbox of signed votes, dead letters, and cached state.

Every vote is committed here (WAL, ``synchronous=FULL``) before anyone is
told "thank you". Its sequence number is taken from ``meta.last_seq`` in the
same ``BEGIN IMMEDIATE`` transaction as the insert, so numbers are gapless
and increasing even with several processes (CLI, kiosk, sync loop) writing.
The schema and its upgrades are in ``device_client/schema.py``.
"""

import contextlib
import json
import os
import sqlite3

from device_client.schema import MIGRATIONS


class NewerOutbox(Exception):
    """The outbox was written by a newer hailong-device than this one."""


def open_store(data_dir, timeout=30.0):
    """Open (creating or upgrading if needed) the outbox database in ``data_dir``."""
    os.makedirs(data_dir, exist_ok=True)
    conn = sqlite3.connect(
        os.path.join(data_dir, "outbox.db"), isolation_level=None, timeout=timeout, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
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


def next_seq(conn):
    """Call inside ``transaction``: reserves and returns the next sequence number."""
    seq = get_meta(conn, "last_seq", 0) + 1
    set_meta(conn, "last_seq", seq)
    return seq


def insert_vote(conn, vote, created_at):
    conn.execute(
        "INSERT INTO outbox (seq, uuid, payload, created_at) VALUES (?, ?, ?, ?)",
        [vote["seq"], vote["id"], json.dumps(vote, ensure_ascii=False), created_at],
    )


def unsent(conn, limit):
    """Oldest votes not yet delivered, as wire payloads."""
    rows = conn.execute(
        "SELECT payload FROM outbox WHERE acked_at IS NULL AND delivered_at IS NULL"
        " ORDER BY seq LIMIT ?",
        [limit],
    ).fetchall()
    return [json.loads(row[0]) for row in rows]


def apply_results(conn, results, ack_seq, now):
    """Record a batch answer: delivered, dead-lettered, acknowledged.

    ``accepted``/``duplicate`` mean the server committed the vote; it is acked
    (leaves the queue) once ``ack_seq`` covers it. ``rejected``/``conflict``
    move the vote to ``dead_letters``: kept and counted, never dropped.
    """
    with transaction(conn):
        for result in results:
            seq, status = result.get("seq"), result["status"]
            if seq is None:
                continue
            if status in ("accepted", "duplicate"):
                conn.execute(
                    "UPDATE outbox SET delivered_at = COALESCE(delivered_at, ?) WHERE seq = ?",
                    [now, seq],
                )
            elif status in ("rejected", "conflict"):
                row = conn.execute(
                    "SELECT uuid, payload, created_at FROM outbox WHERE seq = ? AND acked_at IS NULL",
                    [seq],
                ).fetchone()
                if row:
                    conn.execute(
                        "INSERT OR REPLACE INTO dead_letters (seq, uuid, payload, created_at, status,"
                        " errors, moved_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [seq, row[0], row[1], row[2], status, json.dumps(result.get("errors", {})), now],
                    )
                    conn.execute("DELETE FROM outbox WHERE seq = ?", [seq])
        conn.execute(
            "UPDATE outbox SET acked_at = ? WHERE acked_at IS NULL AND delivered_at IS NOT NULL"
            " AND seq <= ?",
            [now, ack_seq],
        )
        set_meta(conn, "ack_seq", max(ack_seq, get_meta(conn, "ack_seq", 0)))


def queue_summary(conn):
    depth, oldest = conn.execute(
        "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE acked_at IS NULL"
    ).fetchone()
    delivered = conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE acked_at IS NULL AND delivered_at IS NOT NULL"
    ).fetchone()[0]
    dead = conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
    return {"queue_depth": depth, "oldest_unsent_at": oldest, "awaiting_ack": delivered, "dead_letters": dead}


def dead_letters(conn):
    rows = conn.execute(
        "SELECT seq, uuid, status, errors, moved_at FROM dead_letters ORDER BY seq"
    ).fetchall()
    return [
        {"seq": s, "id": u, "status": st, "errors": json.loads(e), "moved_at": m} for s, u, st, e, m in rows
    ]


def data_version(conn):
    """Changes whenever another connection commits: how the sync loop hears a new tap."""
    return conn.execute("PRAGMA data_version").fetchone()[0]


# --- The kiosk: idempotency keys, staff session events, PIN attempts ---------


def vote_for_key(conn, key):
    """The vote an idempotency key already recorded, or None."""
    row = conn.execute(
        "SELECT o.payload FROM kiosk_keys k JOIN outbox o ON o.seq = k.seq WHERE k.key = ?", [key]
    ).fetchone()
    if row:
        return json.loads(row[0])
    row = conn.execute("SELECT seq FROM kiosk_keys WHERE key = ?", [key]).fetchone()
    return {"seq": row[0], "acked": True} if row else None


def remember_key(conn, key, seq, created_at):
    conn.execute("INSERT INTO kiosk_keys (key, seq, created_at) VALUES (?, ?, ?)", [key, seq, created_at])


def insert_session_event(conn, event, created_at):
    conn.execute(
        "INSERT INTO session_outbox (seq, uuid, payload, created_at) VALUES (?, ?, ?, ?)",
        [event["seq"], event["id"], json.dumps(event, ensure_ascii=False), created_at],
    )


def unsent_session_events(conn, limit):
    rows = conn.execute(
        "SELECT payload FROM session_outbox WHERE acked_at IS NULL AND delivered_at IS NULL"
        " AND dead IS NULL ORDER BY seq LIMIT ?",
        [limit],
    ).fetchall()
    return [json.loads(row[0]) for row in rows]


def apply_session_results(conn, results, ack_seq, now):
    """Like ``apply_results``; a refused event is marked dead in place (kept, counted)."""
    with transaction(conn):
        for result in results:
            if result.get("seq") is None:
                continue
            if result["status"] in ("accepted", "duplicate"):
                conn.execute(
                    "UPDATE session_outbox SET delivered_at = COALESCE(delivered_at, ?) WHERE seq = ?",
                    [now, result["seq"]],
                )
            else:
                conn.execute(
                    "UPDATE session_outbox SET dead = ? WHERE seq = ? AND acked_at IS NULL",
                    [json.dumps({"status": result["status"], "errors": result.get("errors", {})}), result["seq"]],
                )
        conn.execute(
            "UPDATE session_outbox SET acked_at = ? WHERE acked_at IS NULL AND delivered_at IS NOT NULL"
            " AND seq <= ?",
            [now, ack_seq],
        )
        set_meta(conn, "session_ack_seq", max(ack_seq, get_meta(conn, "session_ack_seq", 0)))


def session_queue_depth(conn):
    return conn.execute(
        "SELECT COUNT(*) FROM session_outbox WHERE acked_at IS NULL AND dead IS NULL"
    ).fetchone()[0]


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
