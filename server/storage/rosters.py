"""Counter rosters: who may serve at a counter, and on which days.

By default the staff of the counter's unit; besides them, staff seconded
from other units through ``counter_assignments`` for a span of local dates
(``valid_from`` .. ``valid_to``, both included; no end: until further
notice). Dates are ``YYYY-MM-DD`` in the province's time zone.
"""

from server.storage import dialect, query, query_one

ASSIGNMENT = (
    "SELECT a.id, a.counter_id, c.code AS counter, a.staff_id, s.code AS staff, s.full_name, s.unit_id,"
    " u.code AS unit, a.valid_from, a.valid_to, a.created_at, a.updated_at"
    " FROM counter_assignments a JOIN counters c ON c.id = a.counter_id JOIN staff s ON s.id = a.staff_id"
    " JOIN units u ON u.id = s.unit_id"
)


def assignments(db, counter_id):
    return query(db, ASSIGNMENT + " WHERE a.counter_id = ? ORDER BY a.valid_from, s.code", [counter_id])


def assignment(db, assignment_id):
    return query_one(db, ASSIGNMENT + " WHERE a.id = ?", [assignment_id])


def find_assignment(db, counter_id, staff_id, valid_from):
    return query_one(db, ASSIGNMENT + " WHERE a.counter_id = ? AND a.staff_id = ? AND a.valid_from = ?",
                     [counter_id, staff_id, valid_from])


def lock_counter(db, counter_id):
    """Hold the counter's roster to one writer until the transaction ends, so an overlap check stays true.

    SQLite's ``BEGIN IMMEDIATE`` already queues every writer; PostgreSQL's
    READ COMMITTED would let two overlapping assignments each find no other,
    so there the counter's row is locked first (``FOR UPDATE``, which SQLite
    does not read).
    """
    if dialect(db) == "postgresql":
        db.execute("SELECT id FROM counters WHERE id = ? FOR UPDATE", [counter_id])


def overlapping(db, counter_id, staff_id, valid_from, valid_to, except_id=None):
    """Another assignment of the same person at the same counter whose days meet these."""
    return query_one(
        db,
        ASSIGNMENT + " WHERE a.counter_id = ? AND a.staff_id = ? AND a.id IS DISTINCT FROM ?"
        " AND (a.valid_to IS NULL OR a.valid_to >= ?) AND (CAST(? AS TEXT) IS NULL OR a.valid_from <= ?)",
        [counter_id, staff_id, except_id, valid_from, valid_to, valid_to],
    )


def insert_assignment(db, counter_id, staff_id, valid_from, valid_to, now):
    return db.execute(
        "INSERT INTO counter_assignments (counter_id, staff_id, valid_from, valid_to, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        [counter_id, staff_id, valid_from, valid_to, now, now],
    ).fetchone()[0]


def set_valid_to(db, assignment_id, valid_to, now):
    db.execute("UPDATE counter_assignments SET valid_to = ?, updated_at = ? WHERE id = ?",
               [valid_to, now, assignment_id])


def delete_assignment(db, assignment_id):
    db.execute("DELETE FROM counter_assignments WHERE id = ?", [assignment_id])


def votes_under(db, row):
    """Votes by the assigned person at the counter since the assignment began (it may not go then)."""
    return db.execute(
        "SELECT COUNT(*) FROM votes WHERE counter_id = ? AND staff_id = ? AND substr(local_time, 1, 10) >= ?",
        [row["counter_id"], row["staff_id"], row["valid_from"]],
    ).fetchone()[0]


def seconded_at(db, counter_id, from_date):
    """Staff assigned to the counter on ``from_date`` or later: ``[{code, ..., valid_from, valid_to}]``.

    What a tablet caches with its roster: the dates travel with each person,
    so the tablet can refuse a tap outside them while offline.
    """
    return query(
        db,
        "SELECT s.code, s.full_name, s.title, s.pin_hash, p.sha256 AS photo_sha256, a.valid_from, a.valid_to"
        " FROM counter_assignments a JOIN staff s ON s.id = a.staff_id"
        " LEFT JOIN staff_photos p ON p.staff_id = s.id"
        " WHERE a.counter_id = ? AND s.active = 1 AND (a.valid_to IS NULL OR a.valid_to >= ?)"
        " ORDER BY s.code, a.valid_from",
        [counter_id, from_date],
    )


def spans(db, counter_id, staff_ids):
    """``{staff_id: [(valid_from, valid_to), ...]}``: the assignment days of these people at the counter."""
    staff_ids = list(staff_ids)
    if not staff_ids:
        return {}
    marks = ",".join("?" * len(staff_ids))
    found = {}
    for staff_id, valid_from, valid_to in db.execute(
        f"SELECT staff_id, valid_from, valid_to FROM counter_assignments WHERE counter_id = ?"
        f" AND staff_id IN ({marks})",
        [counter_id, *staff_ids],
    ):
        found.setdefault(staff_id, []).append((valid_from, valid_to))
    return found
