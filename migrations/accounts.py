"""Migrations of people, roles, API tokens, sign-in throttling and the audit log
(and of the device token's first use, which ends enrollment retries).

Names start with ``accounts_`` and a number; never edit one that has shipped.
"""

from migrations import migrations


@migrations()
def accounts_001_users_roles_tokens_audit(db):
    db.execute(
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            full_name TEXT NOT NULL DEFAULT '',
            password_hash TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            password_changed_at TEXT NOT NULL
        )"""
    )
    # Admin is the one role held on the whole organisation (unit_id NULL); the
    # others are held on a unit and reach its subtree.
    db.execute(
        """CREATE TABLE user_roles (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'hr', 'auditor')),
            unit_id INTEGER REFERENCES units(id),
            created_at TEXT NOT NULL,
            CHECK ((role = 'admin') = (unit_id IS NULL))
        )"""
    )
    db.execute("CREATE UNIQUE INDEX user_roles_unique ON user_roles(user_id, role, IFNULL(unit_id, 0))")
    db.execute(
        """CREATE TABLE user_sessions (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            user_id INTEGER NOT NULL REFERENCES users(id),
            address TEXT,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            ended_at TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            revoked_at TEXT,
            last_used_at TEXT
        )"""
    )
    db.execute("CREATE INDEX api_tokens_user ON api_tokens(user_id)")
    db.execute(
        """CREATE TABLE login_failures (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL,
            address TEXT NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX login_failures_username ON login_failures(username, created_at)")
    db.execute("CREATE INDEX login_failures_address ON login_failures(address, created_at)")
    # Append-only: the triggers refuse every UPDATE and DELETE, whoever asks.
    db.execute(
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor_kind TEXT NOT NULL,
            actor TEXT NOT NULL,
            address TEXT,
            action TEXT NOT NULL,
            object_type TEXT NOT NULL,
            object_id TEXT,
            unit_id INTEGER,
            before TEXT,
            after TEXT
        )"""
    )
    db.execute("CREATE INDEX audit_log_object ON audit_log(object_type, object_id)")
    db.execute("CREATE INDEX audit_log_unit ON audit_log(unit_id, id)")
    for event in ("UPDATE", "DELETE"):
        db.execute(
            f"""CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"""
        )


@migrations()
def accounts_002_counted_audit_entries(db):
    # What can repeat without end – a refused request (403), a throttled
    # sign-in – must not flood the append-only log: the first in a window is
    # an audit_log entry, the ones after it only count here, on that entry
    # (server/audit.py, record_repeated). ``key`` says what repeats.
    db.execute(
        """CREATE TABLE audit_counts (
            audit_id INTEGER PRIMARY KEY REFERENCES audit_log(id),
            key TEXT NOT NULL,
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            count INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX audit_counts_key ON audit_counts(key, first_at)")


@migrations()
def accounts_003_device_token_first_use(db):
    # A lost enrollment answer may be retried (a new token for the same
    # device) only until the device first authenticates with its token: any
    # call, a configuration fetch included (server/sync/enrollment.py).
    # Devices already heard from count as having used theirs.
    db.execute("ALTER TABLE devices ADD COLUMN token_used_at TEXT")
    db.execute("UPDATE devices SET token_used_at = last_seen_at WHERE last_seen_at != enrolled_at")


@migrations()
def accounts_004_login_failures_by_time(db):
    # Old login_failures are deleted by the sign-in path (server/manage/account.py),
    # so they need an index by time alone.
    db.execute("CREATE INDEX login_failures_time ON login_failures(created_at)")
