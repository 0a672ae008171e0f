"""Staff records with what the kiosk needs of them: PIN hashes and photos."""

from server.storage import history, in_units, query, query_one

COLUMNS = (
    "s.id, s.code, s.full_name, s.title, s.unit_id, u.code AS unit, s.active, s.created_at,"
    " s.updated_at, (SELECT COUNT(*) FROM staff_photos p WHERE p.staff_id = s.id) AS has_photo"
)


def by_codes(db, codes):
    """``{code: {id, unit_id, active}}`` for the codes that exist (ever did)."""
    codes = list(codes)
    if not codes:
        return {}
    marks = ",".join("?" * len(codes))
    rows = query(db, f"SELECT id, code, unit_id, active FROM staff WHERE code IN ({marks})", codes)
    return {row["code"]: row for row in rows}


def list_staff(db, unit_ids=None):
    """Staff with their unit code, limited to ``unit_ids`` unless None."""
    where, params = [], []
    if not in_units("s.unit_id", unit_ids, where, params):
        return []
    sql = f"SELECT {COLUMNS} FROM staff s JOIN units u ON u.id = s.unit_id"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return query(db, sql + " ORDER BY u.code, s.code", params)


def detail(db, code):
    return query_one(db, f"SELECT {COLUMNS} FROM staff s JOIN units u ON u.id = s.unit_id WHERE s.code = ?", [code])


def save(db, staff_id, code, full_name, title, unit_id, active, now):
    """Insert (``staff_id`` None) or update a staff member; returns their id.

    A move to another unit is recorded in ``unit_history`` here, in the
    caller's transaction, so every path that moves someone keeps the history.
    """
    if staff_id is None:
        staff_id = db.execute(
            "INSERT INTO staff (code, full_name, title, unit_id, active, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [code, full_name, title, unit_id, active, now, now],
        ).lastrowid
    else:
        db.execute(
            "UPDATE staff SET full_name = ?, title = ?, unit_id = ?, active = ?, updated_at = ? WHERE id = ?",
            [full_name, title, unit_id, active, now, staff_id],
        )
    history.record_unit(db, "staff", staff_id, unit_id, now)
    return staff_id


def unit_of(db, staff_id):
    """The unit a staff member belongs to now (None for an unknown id)."""
    row = db.execute("SELECT unit_id FROM staff WHERE id = ?", [staff_id]).fetchone()
    return row and row[0]


def vote_count(db, staff_id):
    return db.execute("SELECT COUNT(*) FROM votes WHERE staff_id = ?", [staff_id]).fetchone()[0]


# What else may name a staff member; any of it makes the record history, so it is deactivated, never deleted.
HISTORY_TABLES = ("staff_sessions", "counter_assignments", "flags", "alerts", "objections", "sync_incidents")


def history_tables(db, staff_id):
    """The tables of ``HISTORY_TABLES`` that hold a row naming this staff member."""
    return [table for table in HISTORY_TABLES
            if db.execute(f"SELECT 1 FROM {table} WHERE staff_id = ? LIMIT 1", [staff_id]).fetchone()]


def delete(db, staff_id):
    """Delete a staff member who has no votes (the caller checks); their photo goes too."""
    db.execute("DELETE FROM staff_photos WHERE staff_id = ?", [staff_id])
    history.forget(db, "staff", staff_id)
    db.execute("DELETE FROM staff WHERE id = ?", [staff_id])


# --- What the kiosk needs: the roster with PIN hashes and photo hashes --------


def roster_with_credentials(db, unit_id):
    """Active staff of a unit, each with the argon2id hash of their PIN and their photo's SHA-256."""
    return query(
        db,
        "SELECT s.code, s.full_name, s.title, s.pin_hash, p.sha256 AS photo_sha256 FROM staff s"
        " LEFT JOIN staff_photos p ON p.staff_id = s.id WHERE s.unit_id = ? AND s.active = 1"
        " ORDER BY s.code",
        [unit_id],
    )


def set_pin_hash(db, staff_id, pin_hash, now):
    db.execute("UPDATE staff SET pin_hash = ?, pin_updated_at = ? WHERE id = ?", [pin_hash, now, staff_id])


def pin_set_at(db, staff_id):
    return db.execute("SELECT pin_updated_at FROM staff WHERE id = ?", [staff_id]).fetchone()[0]


def save_photo(db, staff_id, content_type, data, sha256, now):
    db.execute(
        "INSERT INTO staff_photos (staff_id, content_type, data, sha256, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (staff_id) DO UPDATE SET"
        " content_type = excluded.content_type, data = excluded.data, sha256 = excluded.sha256,"
        " updated_at = excluded.updated_at",
        [staff_id, content_type, data, sha256, now],
    )


def photo(db, staff_id):
    return query_one(db, "SELECT * FROM staff_photos WHERE staff_id = ?", [staff_id])


def photo_at_counter(db, code, counter_id):
    """The photo of someone on the counter's roster: its unit's staff, or seconded to it (None otherwise)."""
    return query_one(
        db,
        "SELECT p.content_type, p.data, p.sha256 FROM staff_photos p JOIN staff s ON s.id = p.staff_id"
        " JOIN counters c ON c.id = ? WHERE s.code = ? AND (s.unit_id = c.unit_id OR EXISTS"
        " (SELECT 1 FROM counter_assignments a WHERE a.counter_id = c.id AND a.staff_id = s.id))",
        [counter_id, code],
    )
