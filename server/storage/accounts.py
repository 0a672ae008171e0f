"""People who sign in: users, their roles on units, sessions, API tokens, login failures."""

from server.storage import dialect, query, query_one


def user_by_username(db, username):
    return query_one(db, "SELECT * FROM users WHERE username = ?", [username])


def user_by_id(db, user_id):
    return query_one(db, "SELECT * FROM users WHERE id = ?", [user_id])


def list_users(db):
    return query(db, "SELECT * FROM users ORDER BY username")


def insert_user(db, username, full_name, password_hash, now):
    return db.execute(
        "INSERT INTO users (username, full_name, password_hash, active, created_at, updated_at,"
        " password_changed_at) VALUES (?, ?, ?, 1, ?, ?, ?)",
        [username, full_name, password_hash, now, now, now],
    ).lastrowid


def update_user(db, user_id, full_name, active, now, email=""):
    db.execute(
        "UPDATE users SET full_name = ?, active = ?, email = ?, updated_at = ? WHERE id = ?",
        [full_name, active, email, now, user_id],
    )


def link_staff(db, user_id, staff_id, now):
    """Link an account to a staff record (None unlinks); ``users_staff`` keeps one account per record."""
    db.execute("UPDATE users SET staff_id = ?, updated_at = ? WHERE id = ?", [staff_id, now, user_id])


def user_by_staff(db, staff_id):
    return query_one(db, "SELECT * FROM users WHERE staff_id = ?", [staff_id])


def linked_staff(db, staff_id):
    """The staff record an account is linked to: ``{id, code, full_name, unit_id, unit}`` or None."""
    if staff_id is None:
        return None
    return query_one(
        db,
        "SELECT s.id, s.code, s.full_name, s.unit_id, u.code AS unit FROM staff s JOIN units u ON u.id = s.unit_id"
        " WHERE s.id = ?",
        [staff_id],
    )


def set_password(db, user_id, password_hash, now):
    db.execute(
        "UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ? WHERE id = ?",
        [password_hash, now, now, user_id],
    )


def roles_of(db, user_id):
    """``[{id, role, unit_id, unit_code, unit_name}]``; admin rows have no unit."""
    return query(
        db,
        "SELECT r.id, r.role, r.unit_id, u.code AS unit_code, u.name AS unit_name"
        " FROM user_roles r LEFT JOIN units u ON u.id = r.unit_id"
        " WHERE r.user_id = ? ORDER BY r.role, u.code",
        [user_id],
    )


def role_by_id(db, role_id):
    return query_one(db, "SELECT * FROM user_roles WHERE id = ?", [role_id])


def add_role(db, user_id, role, unit_id, now):
    """Grant a role; returns its id, or None when the user already has it."""
    existing = query_one(
        db,
        "SELECT id FROM user_roles WHERE user_id = ? AND role = ? AND IFNULL(unit_id, 0) = ?",
        [user_id, role, unit_id or 0],
    )
    if existing:
        return None
    return db.execute(
        "INSERT INTO user_roles (user_id, role, unit_id, created_at) VALUES (?, ?, ?, ?)",
        [user_id, role, unit_id, now],
    ).lastrowid


def remove_role(db, role_id):
    db.execute("DELETE FROM user_roles WHERE id = ?", [role_id])


def subtree_ids(db, unit_ids):
    """Every unit at or below ``unit_ids`` (a recursive CTE over ``parent_id``)."""
    unit_ids = list(unit_ids)
    if not unit_ids:
        return set()
    marks = ",".join("?" * len(unit_ids))
    rows = db.execute(
        f"WITH RECURSIVE down(id) AS (SELECT id FROM units WHERE id IN ({marks})"
        " UNION SELECT u.id FROM units u JOIN down ON u.parent_id = down.id)"
        " SELECT id FROM down",
        unit_ids,
    ).fetchall()
    return {row[0] for row in rows}


# --- Sessions ---------------------------------------------------------------


def insert_session(db, token_hash, user_id, address, now, expires_at):
    db.execute(
        "INSERT INTO user_sessions (token_hash, user_id, address, created_at, last_seen_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [token_hash, user_id, address, now, now, expires_at],
    )


def session_by_hash(db, token_hash):
    return query_one(db, "SELECT * FROM user_sessions WHERE token_hash = ?", [token_hash])


def touch_session(db, session_id, now, expires_at):
    db.execute(
        "UPDATE user_sessions SET last_seen_at = ?, expires_at = ? WHERE id = ? AND ended_at IS NULL",
        [now, expires_at, session_id],
    )


def end_session(db, session_id, now):
    db.execute(
        "UPDATE user_sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL", [now, session_id]
    )


def end_sessions_of(db, user_id, now, keep_id=None):
    db.execute(
        "UPDATE user_sessions SET ended_at = ? WHERE user_id = ? AND ended_at IS NULL AND id != ?",
        [now, user_id, keep_id or 0],
    )


# --- API tokens -------------------------------------------------------------


def insert_token(db, user_id, name, token_hash, prefix, now, expires_at):
    return db.execute(
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [user_id, name, token_hash, prefix, now, expires_at],
    ).lastrowid


def token_by_hash(db, token_hash):
    return query_one(db, "SELECT * FROM api_tokens WHERE token_hash = ?", [token_hash])


def token_by_id(db, token_id):
    return query_one(db, "SELECT * FROM api_tokens WHERE id = ?", [token_id])


def tokens_of(db, user_id):
    return query(
        db,
        "SELECT id, name, prefix, created_at, expires_at, revoked_at, last_used_at"
        " FROM api_tokens WHERE user_id = ? ORDER BY id",
        [user_id],
    )


def revoke_token(db, token_id, now):
    return db.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [now, token_id]
    ).rowcount


def revoke_tokens_of(db, user_id, now):
    """Revoke every live token of a user; returns how many. Revoked tokens never come back."""
    return db.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", [now, user_id]
    ).rowcount


def mark_token_used(db, token_id, now):
    db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [now, token_id])


# --- Login throttling -------------------------------------------------------


def record_login_failure(db, username, address, now):
    """A failed (or, until its verdict, reserved) attempt; returns its id."""
    return db.execute(
        "INSERT INTO login_failures (username, address, created_at) VALUES (?, ?, ?)",
        [username, address, now],
    ).lastrowid


# The sign-in throttle's lock on PostgreSQL ("hl-login" in ASCII: one pg_advisory key of its own).
THROTTLE_LOCK = int.from_bytes(b"hl-login", "big")


def lock_login_failures(db):
    """Hold the throttle's count-and-write to one attempt at a time, until the transaction ends.

    SQLite's ``BEGIN IMMEDIATE`` already queues every writer, so there this
    does nothing. PostgreSQL's ``BEGIN`` (READ COMMITTED) does not: without a
    lock, parallel guesses would each count the others' failures as not there
    yet and all pass. A transaction-level advisory lock queues them instead
    (the password check itself runs after the transaction, so they wait for
    a few small statements each, never for one another's hashing).
    """
    if dialect(db) == "postgresql":
        db.execute("SELECT pg_advisory_xact_lock(?)", [THROTTLE_LOCK])


# Who holds the admin role ("hl-admin" in ASCII), on PostgreSQL.
ADMINS_LOCK = int.from_bytes(b"hl-admin", "big")


def lock_admins(db):
    """Hold "is another active admin left?" and the change it allows to one transaction at a time.

    Two admins deactivating each other at once must leave one: on SQLite the
    check runs inside ``BEGIN IMMEDIATE``, which queues them; on PostgreSQL
    (READ COMMITTED) each would still see the other active, so both wait on
    this advisory lock until the first commits.
    """
    if dialect(db) == "postgresql":
        db.execute("SELECT pg_advisory_xact_lock(?)", [ADMINS_LOCK])


def login_failures_since(db, username, address, since):
    """``(failures for this username, failures from this address)`` since ``since``."""
    by_user = db.execute(
        "SELECT COUNT(*) FROM login_failures WHERE username = ? AND created_at >= ?", [username, since]
    ).fetchone()[0]
    by_address = db.execute(
        "SELECT COUNT(*) FROM login_failures WHERE address = ? AND created_at >= ?", [address, since]
    ).fetchone()[0]
    return by_user, by_address


def delete_login_failure(db, failure_id):
    db.execute("DELETE FROM login_failures WHERE id = ?", [failure_id])


def clear_login_failures(db, username):
    db.execute("DELETE FROM login_failures WHERE username = ?", [username])


def prune_login_failures(db, before):
    """Delete failures older than ``before`` (they no longer count); returns how many."""
    return db.execute("DELETE FROM login_failures WHERE created_at < ?", [before]).rowcount
