"""Units, counters and rating scales: where votes are cast (staff live in ``staff.py``)."""

import json

from server.storage import history, in_units, query, query_one


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


# --- Writes for the importer and the admin actions ---------------------------


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
    assignments = query(
        db,
        "SELECT a.id, s.code AS staff, c.code AS counter, a.valid_from, a.valid_to FROM counter_assignments a"
        " JOIN staff s ON s.id = a.staff_id JOIN counters c ON c.id = a.counter_id",
    )
    return {
        "unit": {row["code"]: row for row in units},
        "counter": {row["code"]: row for row in counters},
        "staff": {row["code"]: row for row in staff},
        "assignment": {(row["staff"], row["counter"], row["valid_from"]): row for row in assignments},
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
    """Insert (``counter_id`` None) or update a counter; returns its id.

    ``deactivated_at`` is when the counter last stopped serving (votes cast
    after it are refused): set when it goes inactive, kept while it stays so,
    cleared when it serves again. A move to another unit is recorded in
    ``unit_history`` in the caller's transaction (``history.record_unit``).
    """
    if counter_id is None:
        counter_id = db.execute(
            "INSERT INTO counters (code, name, unit_id, active, created_at, updated_at, deactivated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [code, name, unit_id, active, now, now, None if active else now],
        ).lastrowid
    else:
        db.execute(
            "UPDATE counters SET name = ?, unit_id = ?, active = ?, updated_at = ?,"
            " deactivated_at = CASE WHEN ? = 1 THEN NULL ELSE COALESCE(deactivated_at, ?) END WHERE id = ?",
            [name, unit_id, active, now, int(bool(active)), now, counter_id],
        )
    history.record_unit(db, "counter", counter_id, unit_id, now)
    return counter_id


# --- Reads and writes for the admin pages and API (server/manage/) ----------


def list_units(db, unit_ids=None):
    """Units (with parent code), limited to ``unit_ids`` unless None."""
    where, params = [], []
    if not in_units("u.id", unit_ids, where, params):
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
    if not in_units("c.unit_id", unit_ids, where, params):
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
