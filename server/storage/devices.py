"""Enrollment codes, devices, their tokens, heartbeats and events."""

import hashlib
import json
import secrets

from server.storage import dialect, in_units, query, query_one, timestamp, write_transaction

DEVICE_ID_ALPHABET = "abcdefghjkmnpqrstvwxyz23456789"

def hash_secret(secret):
    """SHA-256 hex. Tokens and codes are long random strings, so a fast hash is enough."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalise_code(code):
    return "".join(ch for ch in code.upper() if ch.isalnum())


def insert_enrollment_code(db, code, counter_id, created_at, expires_at):
    """Store a new one-time code for a counter: only its hash, the code is shown once."""
    db.execute(
        "INSERT INTO enrollment_codes (code_hash, counter_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        [hash_secret(normalise_code(code)), counter_id, created_at, expires_at],
    )


def find_enrollment_code(db, code):
    return query_one(
        db, "SELECT * FROM enrollment_codes WHERE code_hash = ?", [hash_secret(normalise_code(code))]
    )


def enroll_device(db, code_row, public_key, app_version):
    """Claim the code and create the device in one transaction.

    The code is claimed with compare-and-set (``used_at IS NULL``) so two
    tablets racing with the same code cannot both enroll. Returns
    ``(device_id, token)`` or ``None`` when the code was used meanwhile.
    """
    device_id = "dev-" + "".join(secrets.choice(DEVICE_ID_ALPHABET) for _ in range(8))
    token = secrets.token_urlsafe(32)
    now = timestamp()
    with write_transaction(db):
        claimed = db.execute(
            "UPDATE enrollment_codes SET used_at = ?, device_id = ? WHERE id = ? AND used_at IS NULL",
            [now, device_id, code_row["id"]],
        ).rowcount
        if claimed != 1:
            return None
        insert_device(db, device_id, code_row["counter_id"], public_key, hash_secret(token), now, app_version)
        _event(db, device_id, "enrolled", {"counter_id": code_row["counter_id"]})
    return device_id, token


def insert_device(db, device_id, counter_id, public_key, token_hash, enrolled_at, app_version):
    """A new active device, last seen when enrolled, its token not used yet."""
    db.execute(
        "INSERT INTO devices (id, counter_id, public_key, token_hash, status, enrolled_at, app_version,"
        " last_seen_at) VALUES (?, ?, ?, ?, 'active', ?, ?, ?)",
        [device_id, counter_id, public_key, token_hash, enrolled_at, app_version, enrolled_at],
    )


def reissue_unused_token(db, code_row, public_key, enrolled_since):
    """The retry of an enrollment whose answer was lost: same device, new token.

    Only for the device this code created, with the same public key, while
    its token has never been used (``token_used_at``: any authenticated
    call, a configuration fetch included) and it was enrolled at or after
    ``enrolled_since``. Returns ``(device_id, token)`` or ``None``.
    """
    token = secrets.token_urlsafe(32)
    with write_transaction(db):
        changed = db.execute(
            "UPDATE devices SET token_hash = ? WHERE id = ? AND public_key = ? AND status = 'active'"
            " AND token_used_at IS NULL AND enrolled_at >= ?",
            [hash_secret(token), code_row["device_id"], public_key, enrolled_since],
        ).rowcount
        if changed:
            _event(db, code_row["device_id"], "enrollment_retried", {})
    return (code_row["device_id"], token) if changed else None


def device_for_token(db, token):
    """The device whose token this is, with its counter's code; None for an unknown token."""
    return query_one(
        db,
        "SELECT d.*, c.code AS counter_code FROM devices d JOIN counters c ON c.id = d.counter_id"
        " WHERE d.token_hash = ?",
        [hash_secret(token)],
    )


def note_token_used(db, device_id, token, now):
    """Record a token's first use; False when the token was swapped meanwhile (compare-and-set)."""
    return db.execute(
        "UPDATE devices SET token_used_at = COALESCE(token_used_at, ?) WHERE id = ? AND token_hash = ?",
        [now, device_id, hash_secret(token)],
    ).rowcount == 1


def get_device(db, device_id):
    return query_one(db, "SELECT * FROM devices WHERE id = ?", [device_id])


def revoke_device(db, device_id):
    """Revoke a device; its delivered votes stay. Returns False if unknown or already revoked."""
    changed = db.execute(
        "UPDATE devices SET status = 'revoked', revoked_at = ? WHERE id = ? AND status != 'revoked'",
        [timestamp(), device_id],
    ).rowcount
    if changed:
        _event(db, device_id, "revoked", {})
    return bool(changed)


def lock(db, device_id):
    """Hold the device's row until the caller's write transaction ends: one writer per device at a time.

    A batch reads the device's ``ack_seq``, its rate bucket and what it has
    stored, then writes; two servers taking the same tablet's retry at once
    must do that one after the other, or both could accept the same items
    and spend the same token. On SQLite ``BEGIN IMMEDIATE`` already lets one
    writer in at a time, so there is nothing to do; PostgreSQL's
    transactions run side by side, so the row lock orders them (the second
    waits here, then reads what the first committed: READ COMMITTED takes a
    new snapshot per statement). Call it first in the transaction.
    """
    if dialect(db) == "postgresql":
        db.execute("SELECT id FROM devices WHERE id = ? FOR UPDATE", [device_id])


def rate_bucket(db, device_id):
    """``(tokens, at)`` of the device's request bucket (``server/sync/rate.py``)."""
    return db.execute("SELECT rate_tokens, rate_at FROM devices WHERE id = ?", [device_id]).fetchone()


def set_rate_bucket(db, device_id, tokens, at):
    db.execute("UPDATE devices SET rate_tokens = ?, rate_at = ? WHERE id = ?", [tokens, at, device_id])


def record_heartbeat(db, device_id, beat, clock_offset_ms):
    now = timestamp()
    db.execute(
        "UPDATE devices SET last_heartbeat_at = ?, last_seen_at = ?, queue_depth = ?,"
        " oldest_unsent_at = ?, app_version = ?, clock_offset_ms = ? WHERE id = ?",
        [
            now,
            now,
            beat["queue_depth"],
            beat.get("oldest_unsent_at"),
            beat["app_version"],
            clock_offset_ms,
            device_id,
        ],
    )
    _back_from_silence(db, device_id)


def mark_seen(db, device_id, clock_offset_ms):
    db.execute(
        "UPDATE devices SET last_seen_at = ?, clock_offset_ms = ? WHERE id = ?",
        [timestamp(), clock_offset_ms, device_id],
    )
    _back_from_silence(db, device_id)


def _back_from_silence(db, device_id):
    if db.execute(
        "UPDATE devices SET silent_since = NULL WHERE id = ? AND silent_since IS NOT NULL", [device_id]
    ).rowcount:
        _event(db, device_id, "back_online", {})


def mark_silent_devices(db, cutoff, is_open=lambda unit_id: True):
    """Mark active devices last seen before ``cutoff`` as silent when ``is_open(unit_id)`` of their
    counter's unit; returns their ids.

    Compare-and-set on ``silent_since IS NULL`` so a device is marked (and an
    event recorded) once per silence, however often the job runs.
    """
    now = timestamp()
    marked = []
    with write_transaction(db):
        rows = db.execute(
            "SELECT d.id, d.last_seen_at, c.unit_id FROM devices d JOIN counters c ON c.id = d.counter_id"
            " WHERE d.status = 'active' AND d.silent_since IS NULL AND (d.last_seen_at IS NULL OR d.last_seen_at < ?)",
            [timestamp(cutoff)],
        ).fetchall()
        for device_id, last_seen, unit_id in rows:
            if not is_open(unit_id):
                continue
            # The test again in the UPDATE: on PostgreSQL a batch from the device may commit between the
            # SELECT and here (READ COMMITTED checks the WHERE again on the row as it is then).
            if db.execute(
                "UPDATE devices SET silent_since = ? WHERE id = ? AND silent_since IS NULL"
                " AND (last_seen_at IS NULL OR last_seen_at < ?)",
                [now, device_id, timestamp(cutoff)],
            ).rowcount:
                _event(db, device_id, "silent", {"last_seen_at": last_seen})
                marked.append(device_id)
    return marked


def device_events(db, device_id):
    rows = db.execute(
        "SELECT kind, detail, created_at FROM device_events WHERE device_id = ? ORDER BY id",
        [device_id],
    ).fetchall()
    return [{"kind": k, "detail": json.loads(d or "{}"), "created_at": c} for k, d, c in rows]


def _event(db, device_id, kind, detail):
    db.execute(
        "INSERT INTO device_events (device_id, kind, detail, created_at) VALUES (?, ?, ?, ?)",
        [device_id, kind, json.dumps(detail, ensure_ascii=False), timestamp()],
    )



# --- Reads for the admin pages, API and CLI (server/manage/) ----------------

LISTED = (
    "SELECT d.id, d.status, d.enrolled_at, d.revoked_at, d.app_version, d.last_seen_at,"
    " d.last_heartbeat_at, d.queue_depth, d.oldest_unsent_at, d.clock_offset_ms, d.silent_since,"
    " d.ack_seq, c.code AS counter, c.name AS counter_name, u.code AS unit, u.name AS unit_name, c.unit_id"
    " FROM devices d JOIN counters c ON c.id = d.counter_id JOIN units u ON u.id = c.unit_id"
)


def list_devices_in(db, unit_ids=None, counter_id=None):
    """Devices with their counter and unit, limited to ``unit_ids`` unless None."""
    where, params = [], []
    if not in_units("c.unit_id", unit_ids, where, params):
        return []
    if counter_id is not None:
        where.append("d.counter_id = ?")
        params.append(counter_id)
    sql = LISTED + (" WHERE " + " AND ".join(where) if where else "")
    return query(db, sql + " ORDER BY u.code, c.code, d.enrolled_at", params)


def device_in(db, device_id, unit_ids=None):
    """One device as ``list_devices_in`` shows it, or None (also when outside ``unit_ids``)."""
    row = query_one(db, LISTED + " WHERE d.id = ?", [device_id])
    if row is None or (unit_ids is not None and row["unit_id"] not in unit_ids):
        return None
    return row
