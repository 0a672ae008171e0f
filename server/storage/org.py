"""Units, counters, staff and rating scales: what votes refer to."""

import json

from server.storage import query, query_one


def counter_by_code(db, code):
    return query_one(db, "SELECT * FROM counters WHERE code = ?", [code])


def counter_with_unit(db, counter_id):
    return query_one(
        db,
        "SELECT c.id, c.code, c.name, c.active, c.unit_id, u.code AS unit_code, u.name AS unit_name"
        " FROM counters c JOIN units u ON u.id = c.unit_id WHERE c.id = ?",
        [counter_id],
    )


def unit_path(db, unit_id):
    """Names from the root unit down to ``unit_id`` (province → centre → ...)."""
    rows = query(
        db,
        "WITH RECURSIVE up(id, parent_id, code, name, depth) AS ("
        " SELECT id, parent_id, code, name, 0 FROM units WHERE id = ?"
        " UNION ALL SELECT u.id, u.parent_id, u.code, u.name, up.depth + 1"
        " FROM units u JOIN up ON u.id = up.parent_id)"
        " SELECT code, name FROM up ORDER BY depth DESC",
        [unit_id],
    )
    return rows


def staff_by_codes(db, codes):
    """``{code: {id, unit_id, active}}`` for the codes that exist (ever did)."""
    codes = list(codes)
    if not codes:
        return {}
    marks = ",".join("?" * len(codes))
    rows = query(db, f"SELECT id, code, unit_id, active FROM staff WHERE code IN ({marks})", codes)
    return {row["code"]: row for row in rows}


def roster_for_unit(db, unit_id):
    """Active staff of a unit: who a counter's tablet may show as being rated."""
    return query(
        db,
        "SELECT code, full_name, title FROM staff WHERE unit_id = ? AND active = 1 ORDER BY code",
        [unit_id],
    )


def scale(db, version):
    row = query_one(db, "SELECT * FROM rating_scales WHERE version = ?", [version])
    return _scale(row) if row else None


def current_scale(db):
    row = query_one(db, "SELECT * FROM rating_scales ORDER BY version DESC LIMIT 1")
    return _scale(row)


def _scale(row):
    return {
        "version": row["version"],
        "levels": json.loads(row["levels"]),
        "reasons": json.loads(row["reasons"]),
    }


# --- Writes for ``hailong org import`` (server/orgimport.py) -----------------


def org_for_import(db):
    """Every unit, counter and staff row keyed by code, parents given as codes.

    The importer compares a file against this in code-space, so a dry run can
    tell what would change before any new unit has an id.
    """
    units = query(
        db,
        "SELECT u.id, u.code, u.name, p.code AS parent, u.active"
        " FROM units u LEFT JOIN units p ON p.id = u.parent_id",
    )
    counters = query(
        db,
        "SELECT c.id, c.code, c.name, u.code AS parent, c.active"
        " FROM counters c JOIN units u ON u.id = c.unit_id",
    )
    staff = query(
        db,
        "SELECT s.id, s.code, s.full_name AS name, s.title, u.code AS parent, s.active"
        " FROM staff s JOIN units u ON u.id = s.unit_id",
    )
    return {
        "unit": {row["code"]: row for row in units},
        "counter": {row["code"]: row for row in counters},
        "staff": {row["code"]: row for row in staff},
    }


def save_unit(db, unit_id, code, name, parent_id, active, now):
    """Insert (``unit_id`` None) or update a unit; returns its id.

    Call inside ``write_transaction``: the importer writes a whole file as one.
    """
    if unit_id is None:
        return db.execute(
            "INSERT INTO units (code, name, parent_id, active, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [code, name, parent_id, active, now, now],
        ).lastrowid
    db.execute(
        "UPDATE units SET name = ?, parent_id = ?, active = ?, updated_at = ? WHERE id = ?",
        [name, parent_id, active, now, unit_id],
    )
    return unit_id


def save_counter(db, counter_id, code, name, unit_id, active, now):
    """Insert (``counter_id`` None) or update a counter; returns its id."""
    if counter_id is None:
        return db.execute(
            "INSERT INTO counters (code, name, unit_id, active, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [code, name, unit_id, active, now, now],
        ).lastrowid
    db.execute(
        "UPDATE counters SET name = ?, unit_id = ?, active = ?, updated_at = ? WHERE id = ?",
        [name, unit_id, active, now, counter_id],
    )
    return counter_id


def save_staff(db, staff_id, code, full_name, title, unit_id, active, now):
    """Insert (``staff_id`` None) or update a staff member; returns their id."""
    if staff_id is None:
        return db.execute(
            "INSERT INTO staff (code, full_name, title, unit_id, active, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [code, full_name, title, unit_id, active, now, now],
        ).lastrowid
    db.execute(
        "UPDATE staff SET full_name = ?, title = ?, unit_id = ?, active = ?, updated_at = ?"
        " WHERE id = ?",
        [full_name, title, unit_id, active, now, staff_id],
    )
    return staff_id


# --- Reads and writes for the admin pages and API (server/manage/) ----------


def _in_units(column, unit_ids, where, params):
    """Add ``column IN (...)`` to a WHERE list; ``unit_ids`` None means no limit."""
    if unit_ids is None:
        return True
    if not unit_ids:
        return False
    where.append(f"{column} IN ({','.join('?' * len(unit_ids))})")
    params.extend(sorted(unit_ids))
    return True


def list_units(db, unit_ids=None):
    """Units (with parent code), limited to ``unit_ids`` unless None."""
    where, params = [], []
    if not _in_units("u.id", unit_ids, where, params):
        return []
    sql = (
        "SELECT u.id, u.code, u.name, u.parent_id, p.code AS parent, u.active, u.created_at,"
        " u.updated_at FROM units u LEFT JOIN units p ON p.id = u.parent_id"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    return query(db, sql + " ORDER BY u.code", params)


def unit_by_code(db, code):
    return query_one(
        db,
        "SELECT u.id, u.code, u.name, u.parent_id, p.code AS parent, u.active, u.created_at,"
        " u.updated_at FROM units u LEFT JOIN units p ON p.id = u.parent_id WHERE u.code = ?",
        [code],
    )


def list_counters(db, unit_ids=None):
    where, params = [], []
    if not _in_units("c.unit_id", unit_ids, where, params):
        return []
    sql = (
        "SELECT c.id, c.code, c.name, c.unit_id, u.code AS unit, c.active, c.created_at, c.updated_at"
        " FROM counters c JOIN units u ON u.id = c.unit_id"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    return query(db, sql + " ORDER BY u.code, c.code", params)


def counter_detail(db, code):
    return query_one(
        db,
        "SELECT c.id, c.code, c.name, c.unit_id, u.code AS unit, c.active, c.created_at, c.updated_at"
        " FROM counters c JOIN units u ON u.id = c.unit_id WHERE c.code = ?",
        [code],
    )


STAFF_COLUMNS = (
    "s.id, s.code, s.full_name, s.title, s.unit_id, u.code AS unit, s.active, s.created_at,"
    " s.updated_at, (SELECT COUNT(*) FROM staff_photos p WHERE p.staff_id = s.id) AS has_photo"
)


def list_staff(db, unit_ids=None):
    where, params = [], []
    if not _in_units("s.unit_id", unit_ids, where, params):
        return []
    sql = f"SELECT {STAFF_COLUMNS} FROM staff s JOIN units u ON u.id = s.unit_id"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return query(db, sql + " ORDER BY u.code, s.code", params)


def staff_detail(db, code):
    return query_one(
        db, f"SELECT {STAFF_COLUMNS} FROM staff s JOIN units u ON u.id = s.unit_id WHERE s.code = ?", [code]
    )


def staff_vote_count(db, staff_id):
    return db.execute("SELECT COUNT(*) FROM votes WHERE staff_id = ?", [staff_id]).fetchone()[0]


def delete_staff(db, staff_id):
    """Delete a staff member who has no votes (the caller checks); their photo goes too."""
    db.execute("DELETE FROM staff_photos WHERE staff_id = ?", [staff_id])
    db.execute("DELETE FROM staff WHERE id = ?", [staff_id])


def save_staff_photo(db, staff_id, content_type, data, sha256, now):
    db.execute(
        "INSERT INTO staff_photos (staff_id, content_type, data, sha256, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (staff_id) DO UPDATE SET"
        " content_type = excluded.content_type, data = excluded.data, sha256 = excluded.sha256,"
        " updated_at = excluded.updated_at",
        [staff_id, content_type, data, sha256, now],
    )


def staff_photo(db, staff_id):
    return query_one(db, "SELECT * FROM staff_photos WHERE staff_id = ?", [staff_id])
