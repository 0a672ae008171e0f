"""The outbox's schema as ordered migrations, so a tablet in the field upgrades its data in place.

``PRAGMA user_version`` is the number of migrations an ``outbox.db`` has had.
``store.open_store`` applies the missing ones, each in its own ``BEGIN
IMMEDIATE`` transaction together with its version bump: a crash or a power
cut mid-upgrade leaves the previous version whole, and the next start tries
again. Release 0.1.0 did not number its schema, so its outboxes say 0.

Never edit a migration once it has shipped; add the next one to ``MIGRATIONS``.
"""


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


MIGRATIONS = (release_0_1_0,)
