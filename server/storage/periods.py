"""Closed periods, their revisions and frozen scores (``periods``, ``period_revisions``,
``period_scores``), and the names and units the score tables show."""

import json

from server.storage import dialect, query, query_one


def find_period(db, kind, key, unit_id):
    """The closed period ``(kind, key)`` for ``unit_id`` (None: the whole organisation), or None."""
    return query_one(
        db,
        "SELECT p.*, u.code AS unit_code FROM periods p LEFT JOIN units u ON u.id = p.unit_id"
        " WHERE p.kind = ? AND p.key = ? AND IFNULL(p.unit_id, 0) = ?",
        [kind, key, unit_id or 0],
    )


def periods_with_key(db, kind, key):
    """Every closed period ``(kind, key)``, whatever its unit."""
    return query(
        db,
        "SELECT p.*, u.code AS unit_code FROM periods p LEFT JOIN units u ON u.id = p.unit_id"
        " WHERE p.kind = ? AND p.key = ?",
        [kind, key],
    )


def list_periods(db):
    """Every closed period with its latest revision number, newest first."""
    return query(
        db,
        "SELECT p.id, p.kind, p.key, p.unit_id, u.code AS unit_code, p.first_day, p.last_day, p.closed_at,"
        " p.closed_by, (SELECT MAX(revision) FROM period_revisions r WHERE r.period_id = p.id) AS revision"
        " FROM periods p LEFT JOIN units u ON u.id = p.unit_id ORDER BY p.first_day DESC, p.kind, p.id",
    )


def closed_overlapping(db, first_day, last_day):
    """Closed periods whose days overlap ``first_day..last_day``."""
    return query(db, "SELECT p.*, u.code AS unit_code FROM periods p LEFT JOIN units u ON u.id = p.unit_id"
                 " WHERE p.first_day <= ? AND p.last_day >= ?", [last_day, first_day])


def all_closed(db):
    return query(db, "SELECT p.*, u.code AS unit_code FROM periods p LEFT JOIN units u ON u.id = p.unit_id"
                 " ORDER BY p.id")


def lock_for_close(db):
    """Call first in the transaction that closes a period: one close at a time.

    Closing checks that the period is not closed yet, then inserts it. SQLite's
    ``BEGIN IMMEDIATE`` keeps a second close out until the first commits; on
    PostgreSQL this lock on ``periods`` does (readers are not held), so the
    second sees the first's row and answers "already closed" instead of
    failing on the unique index.
    """
    if dialect(db) == "postgresql":
        db.execute("LOCK TABLE periods IN SHARE ROW EXCLUSIVE MODE")


def insert_period(db, kind, key, unit_id, first_day, last_day, at, by):
    return db.execute(
        "INSERT INTO periods (kind, key, unit_id, first_day, last_day, closed_at, closed_by)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [kind, key, unit_id, first_day, last_day, at, by],
    ).lastrowid


def revisions(db, period_id):
    """The period's revisions, oldest first (without their scores)."""
    rows = query(
        db,
        "SELECT id, revision, created_at, created_by, reason, software_version, parameters, last_vote_id, n_votes"
        " FROM period_revisions WHERE period_id = ? ORDER BY revision",
        [period_id],
    )
    for row in rows:
        row["parameters"] = json.loads(row["parameters"])
    return rows


def latest_revision(db, period_id):
    rows = revisions(db, period_id)
    return rows[-1] if rows else None


def insert_revision(db, period_id, revision, at, by, reason, software_version, parameters, last_vote_id, n_votes):
    return db.execute(
        "INSERT INTO period_revisions (period_id, revision, created_at, created_by, reason, software_version,"
        " parameters, last_vote_id, n_votes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [period_id, revision, at, by, reason, software_version, json.dumps(parameters, ensure_ascii=False),
         last_vote_id, n_votes],
    ).lastrowid


def insert_scores(db, revision_id, rows):
    """``rows``: ``(subject, subject_id, unit_id, n, grade, score dict)``."""
    db.conn.executemany(
        "INSERT INTO period_scores (revision_id, subject, subject_id, unit_id, n, grade, score)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(revision_id, subject, subject_id, unit_id, n, grade, json.dumps(score, ensure_ascii=False))
         for subject, subject_id, unit_id, n, grade, score in rows],
    )


def scores(db, revision_id, subject=None):
    """The frozen rows of a revision: ``[(subject, subject_id, unit_id, score dict)]``."""
    sql, params = "SELECT subject, subject_id, unit_id, score FROM period_scores WHERE revision_id = ?", [revision_id]
    if subject:
        sql += " AND subject = ?"
        params.append(subject)
    return [(s, i, u, json.loads(score)) for s, i, u, score in db.execute(sql, params).fetchall()]


def late_votes(db, after_id, up_to, start_utc, end_utc, unit_ids):
    """Votes in ``(after_id, up_to]`` counted in ``[start_utc, end_utc)``, of staff or counters in
    ``unit_ids`` (None: any)."""
    sql = ("SELECT COUNT(*) FROM votes WHERE id > ? AND id <= ? AND counted_at >= ? AND counted_at < ?")
    params = [after_id, up_to, start_utc, end_utc]
    if unit_ids is not None:
        marks = ",".join("?" * len(unit_ids))
        sql += f" AND (unit_id IN ({marks}) OR counter_unit_id IN ({marks}))"
        params += [*sorted(unit_ids), *sorted(unit_ids)]
    return db.execute(sql, params).fetchone()[0]


def time_span(db, after_id, up_to):
    """The earliest and latest ``counted_at`` of votes in ``(after_id, up_to]``."""
    return db.execute("SELECT MIN(counted_at), MAX(counted_at) FROM votes WHERE id > ? AND id <= ?",
                      [after_id, up_to]).fetchone()


def add_pending(db, name, count):
    """Add to a pending revision counter (``late:ID``, ``review:ID``, ``flagged:ID``) kept in
    ``rollup_state``."""
    db.execute(
        "INSERT INTO rollup_state (name, value) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = rollup_state.value + excluded.value",
        [name, count],
    )


def pending(db):
    """``[(name, count)]`` of pending revisions."""
    return db.execute(
        "SELECT name, value FROM rollup_state WHERE name LIKE 'late:%' OR name LIKE 'review:%'"
        " OR name LIKE 'flagged:%' ORDER BY name"
    ).fetchall()


def clear_pending(db, counted):
    """Take ``[(name, count)]`` (as ``pending`` read them, now in a revision) off the pending counters.

    Subtracted, not deleted: what a rollup step added after they were read
    stays for the next revision.
    """
    db.conn.executemany("UPDATE rollup_state SET value = value - ? WHERE name = ?",
                        [(count, name) for name, count in counted])
    db.conn.executemany("DELETE FROM rollup_state WHERE name = ? AND value <= 0", [(name,) for name, _ in counted])


# --- Names for the score tables ---------------------------------------------


def units(db):
    """Every unit: ``{id: {"id", "code", "name", "parent_id"}}``."""
    return {row["id"]: row for row in query(db, "SELECT id, code, name, parent_id FROM units")}


def staff_names(db, staff_ids):
    """``{id: (code, full_name)}`` of these staff."""
    return _codes_and_names(db, "staff", "full_name", staff_ids)


def counter_names(db, counter_ids):
    """``{id: (code, name)}`` of these counters."""
    return _codes_and_names(db, "counters", "name", counter_ids)


def _codes_and_names(db, table, name_column, ids):
    """``{id: (code, name)}`` read 500 ids a query (SQLite's limit on parameters is near)."""
    out = {}
    ids = list(ids)
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        for row in db.execute(
            f"SELECT id, code, {name_column} FROM {table} WHERE id IN ({','.join('?' * len(part))})", part
        ):
            out[row[0]] = (row[1], row[2])
    return out


def open_flags_by_staff(db, start_utc, end_utc):
    """``{staff_id: open flags}`` whose votes lie in ``[start_utc, end_utc)`` (by first/last vote time)."""
    return dict(db.execute(
        "SELECT staff_id, COUNT(*) FROM flags WHERE status = 'open' AND staff_id IS NOT NULL"
        " AND IFNULL(last_at, created_at) >= ? AND IFNULL(first_at, created_at) < ? GROUP BY staff_id",
        [start_utc, end_utc],
    ).fetchall())
