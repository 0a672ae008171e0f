"""Reads the staff page and the dashboard need beside the rollups: one person's votes (reasons, hours),
their flags and grade history, and counts of open flags, alerts and silent tablets in a subtree."""

import json

from server.storage import in_units, query


def staff_votes(db, staff_id, start_utc, end_utc):
    """``(counted_at, scale_version, rating, reasons list)`` of one person's votes in ``[start, end)``."""
    return [(at, version, rating, json.loads(reasons or "[]")) for at, version, rating, reasons in db.execute(
        "SELECT counted_at, scale_version, rating, reasons FROM votes"
        " WHERE staff_id = ? AND counted_at >= ? AND counted_at < ?",
        [staff_id, start_utc, end_utc],
    )]


def staff_flags(db, staff_id):
    """The person's flags, newest first, with their review."""
    rows = query(
        db,
        "SELECT id, kind, severity, test, statistic, p_value, q_value, n_votes, first_at, last_at, detail, status,"
        " reviewed_by, reviewed_at, review_reason, created_at FROM flags WHERE staff_id = ? ORDER BY id DESC",
        [staff_id],
    )
    for row in rows:
        row["detail"] = json.loads(row["detail"] or "{}")
    return rows


def grade_history(db, staff_id):
    """The person's frozen rows in every closed period's latest revision, newest period first."""
    rows = db.execute(
        "SELECT p.kind, p.key, p.first_day, r.revision, r.created_at, s.score FROM period_scores s"
        " JOIN period_revisions r ON r.id = s.revision_id JOIN periods p ON p.id = r.period_id"
        " WHERE s.subject = 'staff' AND s.subject_id = ?"
        " AND r.revision = (SELECT MAX(revision) FROM period_revisions r2 WHERE r2.period_id = p.id)"
        " ORDER BY p.first_day DESC, p.kind",
        [staff_id],
    ).fetchall()
    out = []
    for kind, key, _first, revision, created_at, score in rows:
        counted = json.loads(score)["counted"]
        out.append({"kind": kind, "key": key, "revision": revision, "frozen_at": created_at,
                    "grade": counted["grade"], "score": counted["score"], "score_low": counted["score_low"],
                    "score_high": counted["score_high"], "n": counted["n"]})
    return out


def open_flags(db, unit_ids):
    where, params = ["status = 'open'"], []
    if not in_units("unit_id", unit_ids, where, params):
        return 0
    return db.execute(f"SELECT COUNT(*) FROM flags WHERE {' AND '.join(where)}", params).fetchone()[0]


def open_alerts(db, unit_ids):
    where, params = ["acknowledged_at IS NULL"], []
    if not in_units("unit_id", unit_ids, where, params):
        return 0
    return db.execute(f"SELECT COUNT(*) FROM alerts WHERE {' AND '.join(where)}", params).fetchone()[0]


def silent_devices(db, unit_ids):
    """Active tablets marked silent, at counters of ``unit_ids``: ``[{id, counter, silent_since, last_seen_at}]``."""
    where, params = ["d.status = 'active'", "d.silent_since IS NOT NULL"], []
    if not in_units("c.unit_id", unit_ids, where, params):
        return []
    return query(
        db,
        "SELECT d.id, c.code AS counter, d.silent_since, d.last_seen_at FROM devices d"
        f" JOIN counters c ON c.id = d.counter_id WHERE {' AND '.join(where)} ORDER BY d.silent_since",
        params,
    )
