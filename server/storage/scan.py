"""What the anomaly scan reads: a window's votes, the sign-in events around them, the weeks before."""

from server.storage import query


def votes_between(db, start, end):
    """Votes with ``start <= counted_at < end`` (UTC texts), by time: what the scan tests."""
    return db.execute(
        "SELECT v.id, v.counted_at, v.local_time, v.staff_id, v.counter_id,"
        " COALESCE(v.unit_id, s.unit_id), v.device_id, v.rating, v.scale_version, COALESCE(v.ticket, ''),"
        " v.clock_offset_ms, v.time_corrected, COALESCE(v.flags, '')"
        " FROM votes v JOIN staff s ON s.id = v.staff_id"
        " WHERE v.counted_at >= ? AND v.counted_at < ? ORDER BY v.counted_at, v.id",
        [start, end],
    ).fetchall()


def sign_in_events(db, start, end):
    """``(staff_id, counter_id, UTC time, event)`` of staff sign-in events in ``[start, end)``, by time.

    Tablets write ``local_time`` with their UTC offset; it is compared in UTC,
    like ``votes.counted_at`` (the table is small: a few events a person a day).
    """
    utc = "strftime('%Y-%m-%dT%H:%M:%fZ', local_time)"
    return db.execute(
        f"SELECT staff_id, counter_id, {utc} AS at, event FROM staff_sessions"
        f" WHERE {utc} >= ? AND {utc} < ? ORDER BY at, id",
        [start, end],
    ).fetchall()


def hourly_counts(db, start, end, offset_minutes):
    """``(staff_id, weekday (0 Monday), hour, votes, first counted_at)`` per person and local hour of the week.

    ``offset_minutes``: the time zone's fixed offset from UTC (the caller
    checks it is fixed), so SQLite turns ``counted_at`` into local time.
    """
    shift = f"{int(offset_minutes):+d} minutes"
    return db.execute(
        f"SELECT staff_id, (CAST(strftime('%w', counted_at, '{shift}') AS INTEGER) + 6) % 7,"
        f" CAST(strftime('%H', counted_at, '{shift}') AS INTEGER), COUNT(*), MIN(counted_at)"
        " FROM votes WHERE counted_at >= ? AND counted_at < ? GROUP BY 1, 2, 3",
        [start, end],
    ).fetchall()


def vote_times(db, start, end):
    """``(staff_id, counted_at)`` of every vote in ``[start, end)``: the baseline for a zone whose offset changes."""
    return db.execute("SELECT staff_id, counted_at FROM votes WHERE counted_at >= ? AND counted_at < ?",
                      [start, end]).fetchall()


def last_scanned_day(db):
    """The last local day a finished scan covered, or None."""
    row = db.execute("SELECT MAX(day_to) FROM scans WHERE finished_at IS NOT NULL").fetchone()
    return row[0] if row else None




def scans(db, limit=20):
    return query(db, "SELECT * FROM scans ORDER BY id DESC LIMIT ?", [limit])
