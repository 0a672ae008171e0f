"""Which unit a staff member or a counter belonged to, and since when (``unit_history``).

Written by the same storage functions that write ``staff.unit_id`` and
``counters.unit_id`` (``staff.save``, ``org.save_counter``), so every path –
pages, API, CLI, org import – keeps the history in the same transaction as
the move. Read in bulk by the vote ingest to attribute each vote to the units
of its time (``units_at``).

Times are the stored UTC text (``YYYY-MM-DDTHH:MM:SS.mmmZ``), which sorts as
it reads; ``valid_from`` NULL means since the record began, ``valid_to`` NULL
means still. A row covers ``valid_from <= t < valid_to``.
"""

from server.storage import query


def record_unit(db, subject, subject_id, unit_id, now):
    """The subject is in ``unit_id`` from ``now`` on: open its first row, or close the open one and open another.

    Nothing changes when the subject is already there. Runs inside the caller's transaction.
    """
    rows = db.execute(
        "SELECT id, unit_id, valid_to FROM unit_history WHERE subject = ? AND subject_id = ? ORDER BY id",
        [subject, subject_id],
    ).fetchall()
    open_rows = [row for row in rows if row[2] is None]
    if open_rows and open_rows[-1][1] == unit_id:
        return False
    if not rows:
        db.execute("INSERT INTO unit_history (subject, subject_id, unit_id, valid_from, valid_to)"
                   " VALUES (?, ?, ?, NULL, NULL)", [subject, subject_id, unit_id])
        return True
    db.execute("UPDATE unit_history SET valid_to = ? WHERE subject = ? AND subject_id = ? AND valid_to IS NULL",
               [now, subject, subject_id])
    db.execute("INSERT INTO unit_history (subject, subject_id, unit_id, valid_from, valid_to) VALUES (?, ?, ?, ?, NULL)",
               [subject, subject_id, unit_id, now])
    return True


def forget(db, subject, subject_id):
    """Remove a deleted record's history (only records without votes are ever deleted)."""
    db.execute("DELETE FROM unit_history WHERE subject = ? AND subject_id = ?", [subject, subject_id])


def history(db, subject, subject_id):
    """The subject's rows, oldest first: ``{unit_id, unit, valid_from, valid_to}``."""
    return query(
        db,
        "SELECT h.unit_id, u.code AS unit, h.valid_from, h.valid_to FROM unit_history h"
        " JOIN units u ON u.id = h.unit_id WHERE h.subject = ? AND h.subject_id = ?"
        " ORDER BY h.valid_from IS NOT NULL, h.valid_from, h.id",
        [subject, subject_id],
    )


def spans(db, subject, subject_ids):
    """``{subject_id: [(valid_from, valid_to, unit_id), ...]}`` for many subjects in one query."""
    subject_ids = sorted(set(subject_ids))
    if not subject_ids:
        return {}
    marks = ",".join("?" * len(subject_ids))
    found = {}
    for subject_id, unit_id, valid_from, valid_to in db.execute(
        f"SELECT subject_id, unit_id, valid_from, valid_to FROM unit_history WHERE subject = ?"
        f" AND subject_id IN ({marks}) ORDER BY id",
        [subject, *subject_ids],
    ):
        found.setdefault(subject_id, []).append((valid_from, valid_to, unit_id))
    return found


def unit_at(rows, moment, fallback):
    """The unit of ``rows`` (from ``spans``) at ``moment`` (stored UTC text); ``fallback`` when none covers it."""
    if rows:
        if len(rows) == 1:
            return rows[0][2]
        for valid_from, valid_to, unit_id in rows:
            if (valid_from is None or valid_from <= moment) and (valid_to is None or moment < valid_to):
                return unit_id
        earliest = min(rows, key=lambda row: row[0] or "")
        if earliest[0] and moment < earliest[0]:
            return earliest[2]  # before the record's first row: where it began
    return fallback
