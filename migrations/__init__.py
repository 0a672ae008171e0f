"""The server schema, as an ordered set of sqlite-utils migrations.

The only place the schema changes. Never edit a migration that has shipped:
add the next one. ``hailong migrate`` applies what is pending; web workers
never do. The SQL is plain so the planned PostgreSQL backend can follow it.
"""

import datetime as dt
import json

from sqlite_utils.migrations import Migrations


def on_postgresql(db):
    """True when ``db`` is the PostgreSQL backend (server/storage/postgres.py)."""
    return getattr(db, "dialect", "sqlite") == "postgresql"


class SchemaMigrations(Migrations):
    """sqlite-utils' migrations, also applied to PostgreSQL.

    On SQLite this is sqlite-utils' own code. On PostgreSQL the same
    migration functions run through the PostgreSQL ``Database``
    (server/storage/postgres.py), each in a transaction with its record in
    the same ``_sqlite_migrations`` table, after SQLite's functions are made
    (migrations/postgres.py).
    """

    def applied(self, db):
        if not on_postgresql(db):
            return super().applied(db)
        if not db[self.migrations_table].exists():
            return []
        rows = db.execute(
            f"SELECT name, applied_at FROM {self.migrations_table} WHERE migration_set = ? ORDER BY id", [self.name]
        ).fetchall()
        return [self._AppliedMigration(name=name, applied_at=at) for name, at in rows]

    def apply(self, db, *, stop_before=None):
        if not on_postgresql(db):
            return super().apply(db, stop_before=stop_before)
        from migrations import postgres
        from server import storage

        stop = {stop_before} if isinstance(stop_before, str) else set(stop_before or ())
        with storage.write_transaction(db):
            postgres.compat(db.conn.raw)
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {self.migrations_table} (id INTEGER PRIMARY KEY,"
                " migration_set TEXT, name TEXT, applied_at TEXT)"
            )
            db.execute(
                f"CREATE UNIQUE INDEX IF NOT EXISTS idx_{self.migrations_table}_migration_set_name"
                f" ON {self.migrations_table} (migration_set, name)"
            )
        for migration in self.pending(db):
            if migration.name in stop:
                return
            with storage.write_transaction(db):
                migration.fn(db)
                db.execute(
                    f"INSERT INTO {self.migrations_table} (migration_set, name, applied_at) VALUES (?, ?, ?)",
                    [self.name, migration.name, str(dt.datetime.now(dt.timezone.utc))],
                )
                postgres.reset_identities(db)


migrations = SchemaMigrations("hailong")

DEFAULT_SCALE = {
    "levels": [
        {"value": 4, "label_vi": "Rất hài lòng", "label_en": "Very satisfied", "negative": False},
        {"value": 3, "label_vi": "Hài lòng", "label_en": "Satisfied", "negative": False},
        {"value": 2, "label_vi": "Bình thường", "label_en": "Neutral", "negative": True},
        {"value": 1, "label_vi": "Không hài lòng", "label_en": "Dissatisfied", "negative": True},
    ],
    "reasons": [
        {"code": "long_wait", "label_vi": "Chờ lâu", "label_en": "Long wait"},
        {"code": "attitude", "label_vi": "Thái độ", "label_en": "Attitude"},
        {
            "code": "unclear_guidance",
            "label_vi": "Hướng dẫn không rõ ràng",
            "label_en": "Unclear guidance",
        },
        {
            "code": "wrong_result",
            "label_vi": "Kết quả sai hoặc thiếu",
            "label_en": "Wrong or incomplete result",
        },
        {"code": "other", "label_vi": "Lý do khác", "label_en": "Other"},
    ],
}


@migrations()
def m001_organisation(db):
    db.execute(
        """CREATE TABLE units (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            parent_id INTEGER REFERENCES units(id),
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX units_parent ON units(parent_id)")
    db.execute(
        """CREATE TABLE counters (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            unit_id INTEGER NOT NULL REFERENCES units(id),
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX counters_unit ON counters(unit_id)")
    db.execute(
        """CREATE TABLE staff (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            full_name TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            unit_id INTEGER NOT NULL REFERENCES units(id),
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX staff_unit ON staff(unit_id)")


@migrations()
def m002_rating_scales(db):
    db.execute(
        """CREATE TABLE rating_scales (
            version INTEGER PRIMARY KEY,
            levels TEXT NOT NULL,
            reasons TEXT NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        "INSERT INTO rating_scales (version, levels, reasons, created_at) VALUES (1, ?, ?, ?)",
        [
            json.dumps(DEFAULT_SCALE["levels"], ensure_ascii=False),
            json.dumps(DEFAULT_SCALE["reasons"], ensure_ascii=False),
            "2026-11-27T00:00:00.000Z",
        ],
    )


@migrations()
def m003_devices(db):
    db.execute(
        """CREATE TABLE enrollment_codes (
            id INTEGER PRIMARY KEY,
            code_hash TEXT NOT NULL UNIQUE,
            counter_id INTEGER NOT NULL REFERENCES counters(id),
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT,
            device_id TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE devices (
            id TEXT PRIMARY KEY,
            counter_id INTEGER NOT NULL REFERENCES counters(id),
            public_key TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL DEFAULT 'active',
            enrolled_at TEXT NOT NULL,
            revoked_at TEXT,
            app_version TEXT,
            last_seen_at TEXT,
            last_heartbeat_at TEXT,
            queue_depth INTEGER,
            oldest_unsent_at TEXT,
            clock_offset_ms INTEGER,
            silent_since TEXT,
            ack_seq INTEGER NOT NULL DEFAULT 0,
            rate_tokens REAL,
            rate_at REAL
        )"""
    )
    db.execute("CREATE INDEX devices_counter ON devices(counter_id)")
    db.execute(
        """CREATE TABLE device_events (
            id INTEGER PRIMARY KEY,
            device_id TEXT NOT NULL REFERENCES devices(id),
            kind TEXT NOT NULL,
            detail TEXT,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX device_events_device ON device_events(device_id, id)")


@migrations()
def m004_votes(db):
    # votes.id is the accepted order: the future Merkle log appends leaves in
    # this order, so it is never reused (AUTOINCREMENT) and rows never move.
    # On PostgreSQL votes are partitioned by month (migrations/postgres.py);
    # the tables around them are the same.
    db.execute(
        """CREATE TABLE sync_batches (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            device_id TEXT NOT NULL REFERENCES devices(id),
            received_at TEXT NOT NULL,
            device_time TEXT,
            clock_offset_ms INTEGER,
            n_votes INTEGER NOT NULL,
            n_accepted INTEGER NOT NULL,
            n_duplicate INTEGER NOT NULL,
            n_conflict INTEGER NOT NULL,
            n_rejected INTEGER NOT NULL,
            ack_seq INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX sync_batches_device ON sync_batches(device_id, id)")
    if on_postgresql(db):
        from migrations import postgres

        postgres.create_votes(db)
    else:
        _create_votes(db)
    db.execute(
        """CREATE TABLE sync_incidents (
            id INTEGER PRIMARY KEY,
            device_id TEXT NOT NULL REFERENCES devices(id),
            batch_id INTEGER REFERENCES sync_batches(id),
            kind TEXT NOT NULL,
            seq INTEGER,
            vote_uuid TEXT,
            digest TEXT,
            detail TEXT NOT NULL,
            payload TEXT,
            created_at TEXT NOT NULL,
            resolved_at TEXT
        )"""
    )
    db.execute("CREATE INDEX sync_incidents_device ON sync_incidents(device_id, kind, seq)")


def _create_votes(db):
    db.execute(
        """CREATE TABLE votes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            uuid TEXT NOT NULL UNIQUE,
            device_id TEXT NOT NULL REFERENCES devices(id),
            seq INTEGER NOT NULL,
            counter_id INTEGER NOT NULL REFERENCES counters(id),
            staff_id INTEGER NOT NULL REFERENCES staff(id),
            rating INTEGER NOT NULL,
            reasons TEXT NOT NULL,
            ticket TEXT,
            local_time TEXT NOT NULL,
            scale_version INTEGER NOT NULL,
            signature TEXT NOT NULL,
            digest TEXT NOT NULL,
            received_at TEXT NOT NULL,
            clock_offset_ms INTEGER,
            batch_id INTEGER NOT NULL REFERENCES sync_batches(id),
            flags TEXT,
            UNIQUE (device_id, seq)
        )"""
    )


@migrations()
def m005_staff_pin_and_photo(db):
    # The kiosk verifies a staff PIN offline against this argon2 hash (sent in
    # the device configuration); photos are shown on the kiosk's waiting screen.
    db.execute("ALTER TABLE staff ADD COLUMN pin_hash TEXT")
    db.execute("ALTER TABLE staff ADD COLUMN pin_updated_at TEXT")
    db.execute(
        """CREATE TABLE staff_photos (
            staff_id INTEGER PRIMARY KEY REFERENCES staff(id),
            content_type TEXT NOT NULL,
            data BLOB NOT NULL,
            sha256 TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )


# Later migrations live in one module per area, imported in the order they
# apply: the counter kiosk's, accounts and roles, the device streams, evaluation, then the tamper-evident log.
from migrations import kiosk, accounts, sync, scores, ledger, operations  # noqa: E402,F401
