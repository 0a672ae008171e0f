"""Opening hours per unit (``opening_hours``; unit_id NULL: the organisation's default) and public holidays."""

from server.storage import query


def all_hours(db):
    """Every row ``(unit_id, weekday, opens, closes)``."""
    return db.execute("SELECT unit_id, weekday, opens, closes FROM opening_hours").fetchall()


def unit_parents(db):
    return dict(db.execute("SELECT id, parent_id FROM units").fetchall())


def unit_code(db, unit_id):
    row = db.execute("SELECT code FROM units WHERE id = ?", [unit_id]).fetchone()
    return row and row[0]


def hours_of(db, unit_id):
    """``{weekday: [(opens, closes)]}`` of the unit's own rows (None: the default's); empty when it has none."""
    week = {}
    for weekday, opens, closes in db.execute(
        "SELECT weekday, opens, closes FROM opening_hours WHERE unit_id IS NOT DISTINCT FROM ? ORDER BY weekday, opens", [unit_id]
    ):
        week.setdefault(weekday, []).append((opens, closes))
    return week


def set_hours(db, unit_id, week):
    """Replace the unit's (None: the default's) rows with ``week``; an empty week removes them."""
    db.execute("DELETE FROM opening_hours WHERE unit_id IS NOT DISTINCT FROM ?", [unit_id])
    db.conn.executemany(
        "INSERT INTO opening_hours (unit_id, weekday, opens, closes) VALUES (?, ?, ?, ?)",
        [(unit_id, weekday, opens, closes) for weekday, ranges in sorted(week.items()) for opens, closes in ranges],
    )


def holiday_days(db):
    return [row[0] for row in db.execute("SELECT day FROM holidays")]


def holidays(db, year=None):
    """Holidays in date order (of one year, when given)."""
    if year is None:
        return query(db, "SELECT day, name_vi, name_en FROM holidays ORDER BY day")
    return query(db, "SELECT day, name_vi, name_en FROM holidays WHERE day LIKE ? ORDER BY day", [f"{year:04d}-%"])


def holiday(db, day):
    rows = query(db, "SELECT day, name_vi, name_en FROM holidays WHERE day = ?", [day])
    return rows[0] if rows else None


def save_holiday(db, day, name_vi, name_en, now):
    db.execute(
        "INSERT INTO holidays (day, name_vi, name_en, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (day) DO UPDATE SET name_vi = excluded.name_vi, name_en = excluded.name_en,"
        " updated_at = excluded.updated_at",
        [day, name_vi, name_en, now, now],
    )


def delete_holiday(db, day):
    return db.execute("DELETE FROM holidays WHERE day = ?", [day]).rowcount
