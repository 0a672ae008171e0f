"""The outbox's schema as ordered migrations, so a tablet in the field upgrades its data in place.

``PRAGMA user_version`` is the number of migrations an ``outbox.db`` has had.
``store.open_store`` applies the missing ones, each in its own ``BEGIN
IMMEDIATE`` transaction together with its version bump: a crash or a power
cut mid-upgrade leaves the previous version whole, and the next start tries
again. Release 0.1.0 did not number its schema, so its outboxes say 0.

Never edit a migration once it has shipped; add the next one to ``MIGRATIONS``.
"""

import json

from device_client.protocol import format_utc


def release_0_1_0(conn):
    """The tables of release 0.1.0: an outbox it made has them already; a new one gets them here."""
    for statement in (
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS outbox (
            seq INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            delivered_at TEXT,
            acked_at TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS outbox_unacked ON outbox(seq) WHERE acked_at IS NULL",
        """CREATE TABLE IF NOT EXISTS dead_letters (
            seq INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL,
            errors TEXT NOT NULL,
            moved_at TEXT NOT NULL
        )""",
        # The kiosk page's idempotency keys: one per citizen interaction, so a
        # repeated tap or a reload mid-flow returns the vote already recorded.
        "CREATE TABLE IF NOT EXISTS kiosk_keys (key TEXT PRIMARY KEY, seq INTEGER NOT NULL, created_at TEXT NOT NULL)",
        # Staff sign-in/out events: their own gapless sequence and queue.
        """CREATE TABLE IF NOT EXISTS session_outbox (
            seq INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            delivered_at TEXT,
            acked_at TEXT,
            dead TEXT
        )""",
        # Wrong-PIN counters survive a reload or a restart of the service.
        """CREATE TABLE IF NOT EXISTS pin_attempts (
            staff TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            locked_until REAL NOT NULL DEFAULT 0
        )""",
    ):
        conn.execute(statement)


def one_outbox_for_every_stream(conn):
    """Votes and staff session events share one outbox and one dead-letter table, keyed by stream.

    Release 0.1.0 kept session events in ``session_outbox`` and marked a
    refused one ``dead`` in place; here it moves to ``dead_letters`` like a
    refused vote, with the server's status and errors. When it was refused was
    not recorded, so its ``moved_at`` is the time of this upgrade. The
    session sequence counters in ``meta`` take the stream's name.
    """
    conn.execute(
        """CREATE TABLE outbox_by_stream (
            stream TEXT NOT NULL,
            seq INTEGER NOT NULL,
            uuid TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            delivered_at TEXT,
            acked_at TEXT,
            PRIMARY KEY (stream, seq),
            UNIQUE (stream, uuid)
        )"""
    )
    conn.execute(
        """CREATE TABLE dead_letters_by_stream (
            stream TEXT NOT NULL,
            seq INTEGER NOT NULL,
            uuid TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL,
            errors TEXT NOT NULL,
            moved_at TEXT NOT NULL,
            PRIMARY KEY (stream, seq)
        )"""
    )
    conn.execute(
        "INSERT INTO outbox_by_stream SELECT 'votes', seq, uuid, payload, created_at, delivered_at, acked_at"
        " FROM outbox"
    )
    conn.execute(
        "INSERT INTO outbox_by_stream SELECT 'sessions', seq, uuid, payload, created_at, delivered_at, acked_at"
        " FROM session_outbox WHERE dead IS NULL"
    )
    conn.execute(
        "INSERT INTO dead_letters_by_stream SELECT 'votes', seq, uuid, payload, created_at, status, errors,"
        " moved_at FROM dead_letters"
    )
    moved_at = format_utc()
    dead = conn.execute(
        "SELECT seq, uuid, payload, created_at, dead FROM session_outbox WHERE dead IS NOT NULL"
    ).fetchall()
    for seq, uuid, payload, created_at, outcome in dead:
        outcome = json.loads(outcome)
        conn.execute(
            "INSERT INTO dead_letters_by_stream VALUES ('sessions', ?, ?, ?, ?, ?, ?, ?)",
            [seq, uuid, payload, created_at, outcome["status"], json.dumps(outcome.get("errors", {})), moved_at],
        )
    for old in ("outbox", "session_outbox", "dead_letters"):
        conn.execute(f"DROP TABLE {old}")
    conn.execute("ALTER TABLE outbox_by_stream RENAME TO outbox")
    conn.execute("ALTER TABLE dead_letters_by_stream RENAME TO dead_letters")
    conn.execute("CREATE INDEX outbox_unacked ON outbox(stream, seq) WHERE acked_at IS NULL")
    conn.execute("UPDATE meta SET key = 'sessions_last_seq' WHERE key = 'session_last_seq'")
    conn.execute("UPDATE meta SET key = 'sessions_ack_seq' WHERE key = 'session_ack_seq'")


MIGRATIONS = (release_0_1_0, one_outbox_for_every_stream)
