"""What the monthly unit report counts beside the scores: flags and alerts of a subtree in a span of time."""

from server.storage import in_units


def flag_counts(db, unit_ids, start, end):
    """``{status: n}`` of flags about ``unit_ids`` whose first vote lies in ``[start, end)`` (UTC text)."""
    where, params = ["f.first_at >= ?", "f.first_at < ?"], [start, end]
    if not in_units("COALESCE(f.unit_id, s.unit_id)", unit_ids, where, params):
        return {}
    rows = db.execute(
        "SELECT f.status, COUNT(*) FROM flags f LEFT JOIN staff s ON s.id = f.staff_id"
        f" WHERE {' AND '.join(where)} GROUP BY f.status",
        params,
    ).fetchall()
    return dict(rows)


def alert_counts(db, unit_ids, start, end):
    """``{kind: n}`` of alerts of ``unit_ids`` raised in ``[start, end)``."""
    where, params = ["created_at >= ?", "created_at < ?"], [start, end]
    if not in_units("unit_id", unit_ids, where, params):
        return {}
    return dict(db.execute(f"SELECT kind, COUNT(*) FROM alerts WHERE {' AND '.join(where)} GROUP BY kind",
                           params).fetchall())


def active_units(db):
    return [dict(zip(("id", "code", "name"), row))
            for row in db.execute("SELECT id, code, name FROM units WHERE active = 1 ORDER BY code").fetchall()]
