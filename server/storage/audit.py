"""The append-only audit log (triggers refuse UPDATE and DELETE on it)."""

import json

from server.storage import query


def append(db, entry):
    """Insert one entry; ``before``/``after`` are dicts (or None) stored as JSON."""
    db.execute(
        "INSERT INTO audit_log (at, actor_kind, actor, address, action, object_type, object_id,"
        " unit_id, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            entry["at"],
            entry["actor_kind"],
            entry["actor"],
            entry.get("address"),
            entry["action"],
            entry["object_type"],
            entry.get("object_id"),
            entry.get("unit_id"),
            _json(entry.get("before")),
            _json(entry.get("after")),
        ],
    )


def _json(value):
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def entries(db, unit_ids=None, actor=None, action=None, object_type=None, before_id=None, limit=100):
    """Newest first. ``unit_ids`` None means every entry; a set limits to those units."""
    where, params = [], []
    if unit_ids is not None:
        if not unit_ids:
            return []
        where.append(f"unit_id IN ({','.join('?' * len(unit_ids))})")
        params.extend(sorted(unit_ids))
    for column, value in (("actor", actor), ("action", action), ("object_type", object_type)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if before_id:
        where.append("id < ?")
        params.append(before_id)
    sql = "SELECT * FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = query(db, sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
    for row in rows:
        row["before"] = json.loads(row["before"]) if row["before"] else None
        row["after"] = json.loads(row["after"]) if row["after"] else None
    return rows
