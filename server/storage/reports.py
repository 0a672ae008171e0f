"""What the monthly unit report counts beside the scores: flags and alerts of a subtree in a span of time."""

from server.storage import in_units


def flag_counts(db, unit_ids, start, end):
    """``{status: n}`` of flags with a vote in ``[start, end)`` (UTC text) about ``unit_ids`` (the vote's
    unit), or, for a flag without votes, whose first moment lies then and whose unit is among them."""
    votes_where, votes_params = ["v.counted_at >= ?", "v.counted_at < ?"], [start, end]
    own_where, own_params = ["f.first_at >= ?", "f.first_at < ?"], [start, end]
    if not in_units("v.unit_id", unit_ids, votes_where, votes_params):
        return {}
    in_units("COALESCE(f.unit_id, s.unit_id)", unit_ids, own_where, own_params)
    rows = db.execute(
        "SELECT f.status, COUNT(*) FROM flags f LEFT JOIN staff s ON s.id = f.staff_id"
        " WHERE EXISTS (SELECT 1 FROM flag_votes fv JOIN votes v ON v.id = fv.vote_id"
        f" WHERE fv.flag_id = f.id AND {' AND '.join(votes_where)})"
        f" OR (NOT EXISTS (SELECT 1 FROM flag_votes fv WHERE fv.flag_id = f.id) AND {' AND '.join(own_where)})"
        " GROUP BY f.status",
        [*votes_params, *own_params],
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
