"""Alerts: what the thresholds raised, what the evaluation reads, and acknowledgements."""

import json

from server.storage import in_units, query, query_one

_SELECT = (
    "SELECT a.*, u.code AS unit, u.name AS unit_name, c.code AS counter, c.name AS counter_name,"
    " s.code AS staff, s.full_name AS staff_name"
    " FROM alerts a LEFT JOIN units u ON u.id = a.unit_id LEFT JOIN counters c ON c.id = a.counter_id"
    " LEFT JOIN staff s ON s.id = a.staff_id"
)


def _decoded(row):
    if row:
        row["detail"] = json.loads(row["detail"])
    return row


def insert(db, alert):
    """Raise an alert unless one with its ``key`` exists; returns its id, or None when it already was."""
    cursor = db.execute(
        "INSERT INTO alerts (key, kind, severity, unit_id, counter_id, staff_id, device_id, flag_id, detail,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
        [alert["key"], alert["kind"], alert["severity"], alert.get("unit_id"), alert.get("counter_id"),
         alert.get("staff_id"), alert.get("device_id"), alert.get("flag_id"),
         json.dumps(alert.get("detail") or {}, ensure_ascii=False), alert["created_at"]],
    )
    return cursor.lastrowid if cursor.rowcount == 1 else None


def get(db, alert_id, unit_ids=None):
    """One alert, if it is in ``unit_ids`` (None: anywhere)."""
    where, params = ["a.id = ?"], [alert_id]
    if not in_units("a.unit_id", unit_ids, where, params):
        return None
    return _decoded(query_one(db, f"{_SELECT} WHERE {' AND '.join(where)}", params))


def list_in(db, unit_ids=None, open_only=False, before_id=None, limit=100):
    """Newest first; ``open_only``: not acknowledged yet."""
    where, params = ["1 = 1"], []
    if not in_units("a.unit_id", unit_ids, where, params):
        return []
    if open_only:
        where.append("a.acknowledged_at IS NULL")
    if before_id:
        where.append("a.id < ?")
        params.append(before_id)
    rows = query(db, f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY a.id DESC LIMIT ?", [*params, limit])
    return [_decoded(row) for row in rows]


def count_open(db, unit_ids=None):
    where, params = ["acknowledged_at IS NULL"], []
    if not in_units("unit_id", unit_ids, where, params):
        return 0
    return db.execute(f"SELECT COUNT(*) FROM alerts WHERE {' AND '.join(where)}", params).fetchone()[0]


def acknowledge(db, alert_id, who, now):
    """Compare-and-set: True when this call acknowledged it, False when it already was."""
    return db.execute(
        "UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ? AND acknowledged_at IS NULL",
        [now, who, alert_id],
    ).rowcount == 1


# --- What the thresholds read -------------------------------------------------


def counter_votes_since(db, since):
    """``[(counter_id, scale_version, rating, n)]`` of votes that count at or after ``since`` (UTC text).

    Joined from the counters so each counter's slice is read through its
    ``(counter_id, counted_at)`` index, never a scan of every vote.
    """
    return db.execute(
        "SELECT v.counter_id, v.scale_version, v.rating, COUNT(*) FROM counters c"
        " JOIN votes v ON v.counter_id = c.id AND v.counted_at >= ?"
        " GROUP BY v.counter_id, v.scale_version, v.rating",
        [since],
    ).fetchall()


def scales(db):
    """``{version: levels}`` of every scale version."""
    return {version: json.loads(levels) for version, levels in
            db.execute("SELECT version, levels FROM rating_scales").fetchall()}


def counters_by_id(db, counter_ids):
    ids = sorted(counter_ids)
    if not ids:
        return {}
    rows = query(db, "SELECT c.id, c.code, c.name, c.unit_id, u.code AS unit, u.name AS unit_name FROM counters c"
                     f" JOIN units u ON u.id = c.unit_id WHERE c.id IN ({','.join('?' * len(ids))})", ids)
    return {row["id"]: row for row in rows}


def silent_devices(db):
    """Active tablets marked silent, with their counter and unit."""
    return query(
        db,
        "SELECT d.id, d.silent_since, d.last_seen_at, c.id AS counter_id, c.code AS counter, c.name AS counter_name,"
        " c.unit_id, u.code AS unit, u.name AS unit_name FROM devices d JOIN counters c ON c.id = d.counter_id"
        " JOIN units u ON u.id = c.unit_id WHERE d.status = 'active' AND d.silent_since IS NOT NULL",
    )


def high_flags_without_alert(db):
    """Open high-severity flags no alert has been raised for yet."""
    return query(
        db,
        "SELECT f.id, f.kind, f.test, f.p_value, f.q_value, f.n_votes, f.first_at, f.last_at, f.staff_id,"
        " s.code AS staff, s.full_name AS staff_name, f.counter_id, f.device_id,"
        " COALESCE(f.unit_id, s.unit_id) AS unit_id, u.code AS unit, u.name AS unit_name"
        " FROM flags f LEFT JOIN staff s ON s.id = f.staff_id"
        " LEFT JOIN units u ON u.id = COALESCE(f.unit_id, s.unit_id)"
        " WHERE f.severity = 'high' AND f.status = 'open'"
        " AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.flag_id = f.id)",
    )
