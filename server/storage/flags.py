"""Flags raised by the anomaly scan, the votes they concern, their review; scans; objections."""

import json

from server.storage import dialect, in_units, query, query_one

FLAG_COLUMNS = (
    "f.id, f.key, f.kind, f.severity, f.staff_id, s.code AS staff, s.full_name AS staff_name, f.unit_id,"
    " u.code AS unit, u.name AS unit_name, f.counter_id, c.code AS counter, f.device_id AS device, f.first_at,"
    " f.last_at, f.test, f.statistic, f.p_value, f.q_value, f.n_votes, f.detail, f.scan_id, f.status,"
    " f.reviewed_by, f.reviewed_at, f.review_reason, f.created_at"
)
FLAG_FROM = (
    " FROM flags f LEFT JOIN staff s ON s.id = f.staff_id LEFT JOIN units u ON u.id = f.unit_id"
    " LEFT JOIN counters c ON c.id = f.counter_id"
)


def _flag(row):
    if row is not None:
        row["detail"] = json.loads(row["detail"] or "{}")
    return row


# --- Scans --------------------------------------------------------------------


def start_scan(db, started_at, day_from, day_to, software_version, parameters):
    return db.execute(
        "INSERT INTO scans (started_at, day_from, day_to, software_version, parameters) VALUES (?, ?, ?, ?, ?)",
        [started_at, day_from, day_to, software_version, json.dumps(parameters, sort_keys=True)],
    ).lastrowid


def finish_scan(db, scan_id, finished_at, n_tests, n_flags):
    db.execute(
        "UPDATE scans SET finished_at = ?, n_tests = ?, n_flags = ? WHERE id = ?",
        [finished_at, n_tests, n_flags, scan_id],
    )


def scan_by_id(db, scan_id):
    return query_one(db, "SELECT * FROM scans WHERE id = ?", [scan_id])


# --- Flags --------------------------------------------------------------------


def flag_id_by_key(db, key):
    row = db.execute("SELECT id FROM flags WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def insert_flag(db, flag):
    """Insert a flag unless one with its ``key`` exists; ``(id, created)``.

    A re-run of the scan finds the flag it raised before and leaves it as it
    is (its review above all): the key names what was found, not when.
    """
    existing = flag_id_by_key(db, flag["key"])
    if existing is not None:
        return existing, False
    flag_id = db.execute(
        "INSERT INTO flags (key, kind, severity, staff_id, unit_id, counter_id, device_id, first_at, last_at, test,"
        " statistic, p_value, q_value, n_votes, detail, scan_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [flag["key"], flag["kind"], flag["severity"], flag.get("staff_id"), flag.get("unit_id"),
         flag.get("counter_id"), flag.get("device_id"), flag.get("first_at"), flag.get("last_at"), flag["test"],
         flag.get("statistic"), flag.get("p_value"), flag.get("q_value"), flag.get("n_votes", 0),
         json.dumps(flag.get("detail") or {}, ensure_ascii=False, sort_keys=True), flag.get("scan_id"),
         flag["created_at"]],
    ).lastrowid
    return flag_id, True


def add_flag_votes(db, flag_id, vote_ids):
    """Attach votes to a flag (those already on it are skipped); returns how many were new."""
    # Both drivers sum executemany's changed rows into rowcount (a row skipped by the conflict counts 0).
    return db.conn.executemany(
        "INSERT INTO flag_votes (flag_id, vote_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(flag_id, int(v)) for v in vote_ids],
    ).rowcount


def refresh_vote_count(db, flag_id):
    """``n_votes`` and the span ``first_at``..``last_at`` from the votes on the flag."""
    db.execute(
        "UPDATE flags SET n_votes = (SELECT COUNT(*) FROM flag_votes WHERE flag_id = ?),"
        " first_at = (SELECT MIN(v.counted_at) FROM flag_votes fv JOIN votes v ON v.id = fv.vote_id"
        "             WHERE fv.flag_id = ?),"
        " last_at = (SELECT MAX(v.counted_at) FROM flag_votes fv JOIN votes v ON v.id = fv.vote_id"
        "            WHERE fv.flag_id = ?) WHERE id = ?",
        [flag_id, flag_id, flag_id, flag_id],
    )


def flag_by_id(db, flag_id):
    return _flag(query_one(db, f"SELECT {FLAG_COLUMNS}{FLAG_FROM} WHERE f.id = ?", [flag_id]))


def list_flags(db, unit_ids=None, own_staff_id=None, status=None, unit_ids_filter=None, staff_id=None,
               start=None, end=None, before_id=None, limit=100):
    """Flags newest first, those of ``unit_ids`` (None: all) or of ``own_staff_id``, filtered.

    ``start``/``end``: UTC times; a flag is in ``[start, end)`` when its votes' span overlaps it.
    """
    where, params = [], []
    reach = []
    if unit_ids is None:
        reach.append("1 = 1")
    elif unit_ids:
        reach.append(f"f.unit_id IN ({','.join('?' * len(unit_ids))})")
        params.extend(sorted(unit_ids))
    if own_staff_id is not None:
        reach.append("f.staff_id = ?")
        params.append(own_staff_id)
    if not reach:
        return []
    where.append("(" + " OR ".join(reach) + ")")
    if status:
        where.append("f.status = ?")
        params.append(status)
    if not in_units("f.unit_id", unit_ids_filter, where, params):
        return []
    if staff_id is not None:
        where.append("f.staff_id = ?")
        params.append(staff_id)
    if start:
        where.append("f.last_at >= ?")
        params.append(start)
    if end:
        where.append("f.first_at < ?")
        params.append(end)
    if before_id:
        where.append("f.id < ?")
        params.append(before_id)
    rows = query(db, f"SELECT {FLAG_COLUMNS}{FLAG_FROM} WHERE {' AND '.join(where)} ORDER BY f.id DESC LIMIT ?",
                 [*params, limit])
    return [_flag(row) for row in rows]


def votes_of_flag(db, flag_id):
    """The votes a flag concerns, oldest first, as the reviewer reads them."""
    return query(
        db,
        "SELECT v.id, v.uuid, v.device_id AS device, c.code AS counter, s.code AS staff, v.rating, v.scale_version,"
        " v.reasons, v.ticket, v.local_time, v.counted_at, v.time_corrected, v.clock_offset_ms, v.received_at,"
        " v.flags FROM flag_votes fv JOIN votes v ON v.id = fv.vote_id JOIN counters c ON c.id = v.counter_id"
        " JOIN staff s ON s.id = v.staff_id WHERE fv.flag_id = ? ORDER BY v.counted_at, v.id",
        [flag_id],
    )


def vote_times_of_flag(db, flag_id):
    """``[(counted_at, staff_id)]`` of a flag's votes: the (day, staff) pairs its review changes."""
    return db.execute(
        "SELECT v.counted_at, v.staff_id FROM flag_votes fv JOIN votes v ON v.id = fv.vote_id WHERE fv.flag_id = ?",
        [flag_id],
    ).fetchall()


def set_review(db, flag_id, status, reviewed_by, reviewed_at, reason):
    db.execute(
        "UPDATE flags SET status = ?, reviewed_by = ?, reviewed_at = ?, review_reason = ? WHERE id = ?",
        [status, reviewed_by, reviewed_at, reason, flag_id],
    )


def reviews_of_flag(db, flag_id):
    """Every review of a flag from the audit log, oldest first (a re-review keeps the earlier one)."""
    rows = query(
        db,
        "SELECT at, actor, after FROM audit_log WHERE object_type = 'flag' AND object_id = ? AND action = 'review'"
        " ORDER BY id",
        [str(flag_id)],
    )
    out = []
    for row in rows:
        after = json.loads(row["after"] or "{}")
        out.append({"at": row["at"], "by": row["actor"], "status": after.get("status"),
                    "reason": after.get("reason")})
    return out



# --- Objections ---------------------------------------------------------------

OBJECTION_COLUMNS = (
    "o.id, o.staff_id, s.code AS staff, s.full_name AS staff_name, o.flag_id, o.period_id, p.kind AS period_kind,"
    " p.key AS period, o.text, o.created_at, cu.username AS created_by, o.status, o.answer, o.answered_at,"
    " o.answered_by, COALESCE(f.unit_id, s.unit_id) AS unit_id, u.code AS unit"
)
OBJECTION_FROM = (
    " FROM objections o JOIN staff s ON s.id = o.staff_id LEFT JOIN flags f ON f.id = o.flag_id"
    " LEFT JOIN periods p ON p.id = o.period_id LEFT JOIN users cu ON cu.id = o.created_by"
    " LEFT JOIN units u ON u.id = COALESCE(f.unit_id, s.unit_id)"
)


def lock_objections(db):
    """Call first in the transaction that files an objection, before looking for an open one: SQLite's
    ``BEGIN IMMEDIATE`` already lets one filing in at a time; on PostgreSQL this lock on the table does
    (readers are not held), so two submits at once file one objection."""
    if dialect(db) == "postgresql":
        db.execute("LOCK TABLE objections IN SHARE ROW EXCLUSIVE MODE")


def insert_objection(db, staff_id, flag_id, period_id, text, created_at, created_by):
    return db.execute(
        "INSERT INTO objections (staff_id, flag_id, period_id, text, created_at, created_by)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [staff_id, flag_id, period_id, text, created_at, created_by],
    ).lastrowid


def open_objection_on(db, staff_id, flag_id, period_id):
    """The id of the person's open objection to this flag or period, or None."""
    row = db.execute(
        "SELECT id FROM objections WHERE staff_id = ? AND status = 'open' AND IFNULL(flag_id, 0) = ?"
        " AND IFNULL(period_id, 0) = ?",
        [staff_id, flag_id or 0, period_id or 0],
    ).fetchone()
    return row[0] if row else None


def objection_by_id(db, objection_id):
    return query_one(db, f"SELECT {OBJECTION_COLUMNS}{OBJECTION_FROM} WHERE o.id = ?", [objection_id])


def list_objections(db, unit_ids=None, own_staff_id=None, status=None, staff_id=None, before_id=None, limit=100):
    """Objections newest first: of the units ``unit_ids`` (the flag's unit, else the person's; None: all),
    or of ``own_staff_id``."""
    params, reach = [], []
    if unit_ids is None:
        reach.append("1 = 1")
    elif unit_ids:
        reach.append(f"COALESCE(f.unit_id, s.unit_id) IN ({','.join('?' * len(unit_ids))})")
        params.extend(sorted(unit_ids))
    if own_staff_id is not None:
        reach.append("o.staff_id = ?")
        params.append(own_staff_id)
    if not reach:
        return []
    where = ["(" + " OR ".join(reach) + ")"]
    for clause, value in (("o.status = ?", status), ("o.staff_id = ?", staff_id), ("o.id < ?", before_id)):
        if value:
            where.append(clause)
            params.append(value)
    return query(db, f"SELECT {OBJECTION_COLUMNS}{OBJECTION_FROM} WHERE {' AND '.join(where)}"
                     " ORDER BY o.id DESC LIMIT ?", [*params, limit])


def set_answer(db, objection_id, status, answer, answered_at, answered_by):
    """Answer an open objection; returns 1, or 0 when it was answered meanwhile."""
    return db.execute(
        "UPDATE objections SET status = ?, answer = ?, answered_at = ?, answered_by = ? WHERE id = ? AND status = 'open'",
        [status, answer, answered_at, answered_by, objection_id],
    ).rowcount
