"""Daily vote rollups: the SQL behind ``server/scoring/rollups.py``.

``vote_rollups`` holds one row per local day × staff × unit × counter ×
counter's unit × scale version × rating × standing with its count. It is
built from ``votes`` incrementally (ids above the watermark in
``rollup_state``) and corrected per ``(day, staff)`` pair listed in
``rollup_dirty`` (a flag or its review changed some votes' standing).

The local day is computed in SQL as ``date(counted_at, '+N minutes')`` when
the time zone has one fixed offset (the caller checks that), and in Python
otherwise: functions here take the day either as that SQL offset or as rows
already grouped by the caller.

The same SQL runs on both databases; where SQLite has a fast path of its own
PostgreSQL gets a correct equivalent, at these costs:

- ``vote_rollups`` and ``vote_rollups_monthly`` are ``WITHOUT ROWID`` on
  SQLite: each row lives in its primary key's b-tree, so an upsert touches one
  b-tree and a month's read is one range scan of it. PostgreSQL has no such
  tables (the migration drops the words): a heap and a primary-key index, so an
  upsert writes both and leaves a dead row version for vacuum, and a month's
  read walks the index then the heap pages (index-only once vacuum has set the
  visibility map). Same rows, same answers; more I/O per add on PostgreSQL.
- The local day in SQL is SQLite's built-in ``date(t, '+420 minutes')``; on
  PostgreSQL a native ``to_char`` of the time plus an interval (``_day_sql``):
  the same text, 1.8 µs a vote where the compatibility ``date`` function
  costs 7.4 µs.
- Adding a chunk's counts: ``executemany`` of one upsert per row on SQLite (in
  process); one upsert over arrays on PostgreSQL (``_add_rows``), one round
  trip instead of one statement per row.
- Measured (50,000 votes in chunks of 5,000, best of 5, variants run in turn
  on this shared 2-core machine, so ranges): SQLite 0.2-0.5 s; PostgreSQL
  0.4-0.7 s as written here, 1.0 s with the compatibility ``date`` instead,
  0.9-1.2 s with row-by-row upserts instead.
- The bound of a step (``order.settled_max_id``) is ``MAX(id)`` on SQLite (one
  writer: rows commit in id order). On PostgreSQL it is a short transaction
  that takes the exclusive append lock first: it waits for the inserts still
  open (an ingest transaction, milliseconds) and holds new ones while it reads
  the maximum, once a step.
- ``fingerprint`` names the database by its file on SQLite and by the
  connection's host, port and database on PostgreSQL.
"""

from server.storage import dialect, query

WATERMARK = "votes_rolled_up_to"
# A month's generation in rollup_state is named this and the month ("generation:2026-11").
MONTH_GENERATION = "generation:"
KEY = ("day", "staff_id", "unit_id", "counter_id", "counter_unit_id", "scale_version", "rating", "standing")
MONTH_KEY = ("month", *KEY[1:])

# A vote's standing (the contract in docs/scoring.md): excluded once any flag
# on it is confirmed; flagged while any flag on it is open, or while it carries
# the kiosk's rapid_repeat mark and no flag covering it has been dismissed;
# counted otherwise. ``votes.flags`` is the ingest flags' text (comma-separated
# or a JSON list): LIKE finds the mark in either form.
STANDING_SQL = """CASE
    WHEN EXISTS (SELECT 1 FROM flag_votes fv JOIN flags f ON f.id = fv.flag_id
                 WHERE fv.vote_id = v.id AND f.status = 'confirmed') THEN 'excluded'
    WHEN EXISTS (SELECT 1 FROM flag_votes fv JOIN flags f ON f.id = fv.flag_id
                 WHERE fv.vote_id = v.id AND f.status = 'open') THEN 'flagged'
    WHEN v.flags LIKE '%rapid_repeat%' AND NOT EXISTS (
        SELECT 1 FROM flag_votes fv JOIN flags f ON f.id = fv.flag_id
        WHERE fv.vote_id = v.id AND f.status = 'dismissed') THEN 'flagged'
    ELSE 'counted' END"""

_COLUMNS = "v.staff_id, v.unit_id, v.counter_id, v.counter_unit_id, v.scale_version, v.rating"


def _day_sql(db, offset_minutes):
    """The vote's local day as ``YYYY-MM-DD`` text at a fixed offset.

    PostgreSQL reads SQLite's ``date(t, modifier)`` through the function of
    ``migrations/postgres.py``, which is not inlined and parses its modifier
    on every row (7.4 µs a row here); the native expression gives the same
    text in 1.8 µs (checked equal over 200,000 times), a third of a chunk's
    time on PostgreSQL.
    """
    if dialect(db) == "postgresql":
        return (f"to_char(CAST(left(v.counted_at, 19) AS TIMESTAMP) + INTERVAL '{int(offset_minutes)} minutes',"
                " 'YYYY-MM-DD')")
    return f"date(v.counted_at, '{int(offset_minutes):+d} minutes')"


# The rollup step's transaction lock on PostgreSQL (one pg_advisory key of its own): see ``lock_step``.
STEP_LOCK = int.from_bytes(b"rollups", "big")


def lock_step(db):
    """Call first in each write transaction of the rollup step: one step's transaction at a time.

    A step reads the watermark (or the dirty pairs) and adds counts on top of
    what is there, so two at once would count the same votes twice: the jobs
    process and a period being closed on a web server (``close_period`` rolls
    up first) may both run one. SQLite's ``BEGIN IMMEDIATE`` already lets one
    writer in at a time; PostgreSQL's transactions run side by side, so there
    the second waits on this lock (held until its transaction ends) and then
    reads the watermark the first one moved.
    """
    if dialect(db) == "postgresql":
        db.execute("SELECT pg_advisory_xact_lock(?)", [STEP_LOCK])


def watermark(db):
    """The highest ``votes.id`` already in the rollups (0 before the first run)."""
    row = db.execute("SELECT value FROM rollup_state WHERE name = ?", [WATERMARK]).fetchone()
    return row[0] if row else 0


def set_watermark(db, vote_id):
    db.execute(
        "INSERT INTO rollup_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [WATERMARK, vote_id],
    )
    bump_generation(db)


def bump_generation(db):
    """Count a change of the rollups (readers that remember computed scores compare it)."""
    db.execute(
        "INSERT INTO rollup_state (name, value) VALUES ('generation', 1)"
        " ON CONFLICT (name) DO UPDATE SET value = rollup_state.value + 1"
    )


def chunk_end(db, after_id, size, up_to):
    """The id that ends the next chunk of at most ``size`` votes in ``(after_id, up_to]``; None when there
    are none. ``up_to`` is ``order.settled_max_id``: on PostgreSQL a vote with a smaller id than one
    already committed may still be in an open transaction of another server, and must not be passed."""
    row = db.execute(
        "SELECT MAX(id) FROM (SELECT id FROM votes WHERE id > ? AND id <= ? ORDER BY id LIMIT ?) AS chunk",
        [after_id, up_to, size],
    ).fetchone()
    return row[0]


def first_unattributed(db, after_id, up_to):
    """The first vote in ``(after_id, up_to]`` without ``counted_at`` or units (the ingest fills them), or None."""
    row = db.execute(
        "SELECT MIN(id) FROM votes WHERE id > ? AND id <= ?"
        " AND (counted_at IS NULL OR unit_id IS NULL OR counter_unit_id IS NULL)",
        [after_id, up_to],
    ).fetchone()
    return row[0]


def add_votes_sql(db, after_id, up_to, offset_minutes):
    """Add the votes ``(after_id, up_to]`` to the rollups, the day computed in SQL at a fixed offset.

    The chunk is grouped once (a few thousand rows at most) and added to the
    daily and the monthly table alike.
    """
    counts = {tuple(row[:-1]): row[-1] for row in db.execute(
        f"SELECT {_day_sql(db, offset_minutes)} AS day, {_COLUMNS}, {STANDING_SQL} AS standing, COUNT(*)"
        " FROM votes v WHERE v.id > ? AND v.id <= ?"
        " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
        [after_id, up_to],
    )}
    add_counts(db, counts)


def votes_for_python_days(db, after_id, up_to):
    """``(counted_at, staff, unit, counter, counter unit, version, rating, standing)`` of votes in
    ``(after_id, up_to]``, for a caller that computes local days itself."""
    return db.execute(
        f"SELECT v.counted_at, {_COLUMNS}, {STANDING_SQL} FROM votes v WHERE v.id > ? AND v.id <= ?",
        [after_id, up_to],
    ).fetchall()


_UPSERT = (" ON CONFLICT ({key}) DO UPDATE SET n = {table}.n + excluded.n")
_TEXT_COLUMNS = {"day", "month", "standing"}  # the other key columns are integers


def _add_rows(db, table, key, rows):
    """Add ``rows`` (the key's values, then n; each key once) to ``table``'s counts.

    SQLite: one upsert per row through ``executemany``, in process (a few
    microseconds a row). PostgreSQL: the same upsert once over arrays of the
    rows (``unnest``), one round trip for the chunk; row by row, even
    pipelined, each row is a statement of its own (the module's docstring has
    the figures).
    """
    if not rows:
        return
    columns = (*key, "n")
    upsert = _UPSERT.format(key=", ".join(key), table=table)
    if dialect(db) == "postgresql":
        arrays = ", ".join(f"CAST(? AS {'TEXT' if c in _TEXT_COLUMNS else 'BIGINT'}[])" for c in columns)
        db.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) AS r" + upsert,
                   [list(values) for values in zip(*rows)])
        return
    db.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                        + upsert, rows)


def add_counts(db, counts):
    """Add ``{(day, staff, unit, counter, counter unit, version, rating, standing): n}`` to the daily
    rollups and to their monthly sums."""
    rows = [(*key, n) for key, n in counts.items() if n]
    _add_rows(db, "vote_rollups", KEY, rows)
    add_monthly(db, [((row[0][:7], *row[1:-1]), row[-1]) for row in rows])


def add_monthly(db, deltas):
    """Add ``[((month, staff, unit, counter, counter unit, version, rating, standing), n)]`` (n may be
    negative: a recount's difference) to the monthly sums; rows that reach 0 are removed."""
    monthly = {}
    for key, n in deltas:
        monthly[key] = monthly.get(key, 0) + n
    changed = [(*key, n) for key, n in monthly.items() if n]
    _add_rows(db, "vote_rollups_monthly", MONTH_KEY, changed)
    db.conn.executemany(
        f"DELETE FROM vote_rollups_monthly WHERE {' AND '.join(f'{c} = ?' for c in MONTH_KEY)} AND n = 0",
        [row[:-1] for row in changed if row[-1] < 0],
    )
    # Each month's own generation: a page that remembers last month's scores keeps them while this
    # month's votes arrive (the rollup job runs every minute; a province's month takes a second to score).
    db.conn.executemany(
        "INSERT INTO rollup_state (name, value) VALUES (?, 1)"
        " ON CONFLICT (name) DO UPDATE SET value = rollup_state.value + 1",
        [(MONTH_GENERATION + month,) for month in sorted({row[0] for row in changed})],
    )


def dirty_pairs(db, limit):
    """Up to ``limit`` ``(day, staff_id)`` pairs waiting to be recounted."""
    return db.execute("SELECT day, staff_id FROM rollup_dirty ORDER BY day, staff_id LIMIT ?", [limit]).fetchall()


def mark_dirty(db, pairs):
    """Ask the rollup job to recount these ``(day, staff_id)`` pairs (whoever changes a vote's standing)."""
    db.conn.executemany("INSERT INTO rollup_dirty (day, staff_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                        list(pairs))


def pair_rows(db, day, staff_id, columns=("unit_id", "counter_unit_id", "counter_id", "scale_version", "rating",
                                          "standing")):
    """``{(columns...): n}`` of one (day, staff); by default keyed (unit_id, counter_unit_id, counter_id,
    scale_version, rating, standing)."""
    return {tuple(row[:-1]): row[-1] for row in db.execute(
        f"SELECT {', '.join(columns)}, n FROM vote_rollups WHERE day = ? AND staff_id = ?", [day, staff_id])}


def clear_pair(db, day, staff_id):
    """Take one (day, staff) pair out of the daily rollups and their monthly sums (to be recounted)."""
    bump_generation(db)
    add_monthly(db, [((day[:7], staff_id, *key), -n) for key, n in pair_rows(db, day, staff_id, KEY[2:]).items()])
    db.execute("DELETE FROM vote_rollups WHERE day = ? AND staff_id = ?", [day, staff_id])
    db.execute("DELETE FROM rollup_dirty WHERE day = ? AND staff_id = ?", [day, staff_id])


def recount_pair_sql(db, day, staff_id, start_utc, end_utc, up_to, offset_minutes):
    """Put back one (day, staff) pair from its raw votes up to the watermark (fixed offset)."""
    add_counts(db, {tuple(row[:-1]): row[-1] for row in db.execute(
        f"SELECT {_day_sql(db, offset_minutes)} AS day, {_COLUMNS}, {STANDING_SQL} AS standing, COUNT(*)"
        " FROM votes v WHERE v.staff_id = ? AND v.counted_at >= ? AND v.counted_at < ? AND v.id <= ?"
        " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
        [staff_id, start_utc, end_utc, up_to],
    )})


def votes_of_pair(db, staff_id, start_utc, end_utc, up_to):
    """The same votes as ``recount_pair_sql``, for a caller that computes local days itself."""
    return db.execute(
        f"SELECT v.counted_at, {_COLUMNS}, {STANDING_SQL} FROM votes v"
        " WHERE v.staff_id = ? AND v.counted_at >= ? AND v.counted_at < ? AND v.id <= ?",
        [staff_id, start_utc, end_utc, up_to],
    ).fetchall()


def all_rows(db):
    """Every rollup row as ``{key tuple: n}`` (tests compare it with a full recount)."""
    return {tuple(row[:-1]): row[-1] for row in db.execute(f"SELECT {', '.join(KEY)}, n FROM vote_rollups")}


def period_rows(db, first_day, last_day, unit_ids=None):
    """Rollup rows of the whole months ``first_day..last_day`` summed: columns staff_id, unit_id,
    counter_id, counter_unit_id, scale_version, rating, standing, n. ``unit_ids`` (None: all) keeps the
    rows whose staff's or counter's unit (at vote time) is among them. One query of the monthly sums:
    the caller groups."""
    where, params = ["month >= ? AND month <= ?"], [first_day[:7], last_day[:7]]
    if unit_ids is not None:
        if not unit_ids:
            return []
        marks = ",".join("?" * len(unit_ids))
        where.append(f"(unit_id IN ({marks}) OR counter_unit_id IN ({marks}))")
        params += [*sorted(unit_ids), *sorted(unit_ids)]
    return db.execute(
        "SELECT staff_id, unit_id, counter_id, counter_unit_id, scale_version, rating, standing, SUM(n)"
        f" FROM vote_rollups_monthly WHERE {' AND '.join(where)}"
        " GROUP BY staff_id, unit_id, counter_id, counter_unit_id, scale_version, rating, standing",
        params,
    ).fetchall()


def all_monthly_rows(db):
    """Every monthly row as ``{key tuple: n}`` (tests compare it with the daily rows summed)."""
    return {tuple(row[:-1]): row[-1] for row in db.execute(f"SELECT {', '.join(MONTH_KEY)}, n FROM vote_rollups_monthly")}


def day_rows(db, first_day, last_day, staff_id=None, unit_ids=None):
    """Rows per day (for series and the dashboard): day, staff_id, unit_id, scale_version, rating,
    standing, n."""
    where, params = ["day >= ? AND day <= ?"], [first_day, last_day]
    if staff_id is not None:
        where.append("staff_id = ?")
        params.append(staff_id)
    if unit_ids is not None:
        if not unit_ids:
            return []
        where.append(f"unit_id IN ({','.join('?' * len(unit_ids))})")
        params += sorted(unit_ids)
    return query(
        db,
        "SELECT day, staff_id, unit_id, scale_version, rating, standing, SUM(n) AS n FROM vote_rollups"
        f" WHERE {' AND '.join(where)} GROUP BY day, staff_id, unit_id, scale_version, rating, standing",
        params,
    )


def day_totals(db, first_day, last_day, unit_ids=None):
    """Votes per day, scale version, rating and standing over staff of ``unit_ids`` (None: all): the
    dashboard's counts and monthly rates."""
    where, params = ["day >= ? AND day <= ?"], [first_day, last_day]
    if unit_ids is not None:
        if not unit_ids:
            return []
        where.append(f"unit_id IN ({','.join('?' * len(unit_ids))})")
        params += sorted(unit_ids)
    return query(
        db,
        "SELECT day, scale_version, rating, standing, SUM(n) AS n FROM vote_rollups"
        f" WHERE {' AND '.join(where)} GROUP BY day, scale_version, rating, standing",
        params,
    )


def month_totals(db, first_month, last_month, unit_ids=None):
    """Votes per month (``YYYY-MM``), scale version, rating and standing over staff of ``unit_ids`` (None:
    all), from the monthly rollups: the dashboard's months. Six months of a province's daily rows are over a
    million; their monthly sums a tenth of that."""
    where, params = ["month >= ? AND month <= ?"], [first_month, last_month]
    if unit_ids is not None:
        if not unit_ids:
            return []
        where.append(f"unit_id IN ({','.join('?' * len(unit_ids))})")
        params += sorted(unit_ids)
    return query(
        db,
        "SELECT month, scale_version, rating, standing, SUM(n) AS n FROM vote_rollups_monthly"
        f" WHERE {' AND '.join(where)} GROUP BY month, scale_version, rating, standing",
        params,
    )


def scales(db):
    """``{version: levels JSON text}`` of every rating-scale version."""
    return dict(db.execute("SELECT version, levels FROM rating_scales").fetchall())


def count_votes(db, after_id, up_to):
    """Votes with ``after_id < id <= up_to``."""
    return db.execute("SELECT COUNT(*) FROM votes WHERE id > ? AND id <= ?", [after_id, up_to]).fetchone()[0]


def flag_statuses_of_votes(db):
    """``(vote_id, flag status)`` for every flagged vote (a full recount's standings)."""
    return db.execute("SELECT fv.vote_id, f.status FROM flag_votes fv JOIN flags f ON f.id = fv.flag_id")


def votes_for_recount(db, up_to):
    """Every vote up to ``up_to``: id, counted_at, ingest flags, then the rollup key's columns."""
    return db.execute(
        "SELECT id, counted_at, flags, staff_id, unit_id, counter_id, counter_unit_id, scale_version, rating"
        " FROM votes WHERE id <= ?",
        [up_to],
    )


def fingerprint(db, first_day, last_day):
    """What a period's computed scores depend on besides their arguments, read in one cheap query: the
    database, the generations of the period's months (``add_monthly`` counts them), the flags and
    their reviews, names and scales.

    The database is named by its file on SQLite and by the server's socket or host, port and database
    name on PostgreSQL (the remembered scores are per process, and a process may open several); the
    generations are concatenated in name order, which PostgreSQL guarantees only when the ORDER BY is
    inside the aggregate (SQLite's ``group_concat`` takes no ORDER BY before 3.44, and follows the
    subquery's order).
    """
    if dialect(db) == "postgresql":
        info = db.conn.raw.info
        database, params = "?", [f"{info.host}:{info.port}/{info.dbname}"]
        generations = ("SELECT group_concat(name || '=' || value, ',' ORDER BY name) FROM rollup_state"
                       " WHERE name >= ? AND name <= ?")
    else:
        database, params = "(SELECT file FROM pragma_database_list WHERE name = 'main')", []
        generations = ("SELECT group_concat(name || '=' || value, ',') FROM (SELECT name, value FROM rollup_state"
                       " WHERE name >= ? AND name <= ? ORDER BY name) AS generations")
    return db.execute(
        f"SELECT {database}, ({generations}),"
        " (SELECT COUNT(*) || ':' || IFNULL(MAX(id), 0) || ':' || IFNULL(MAX(reviewed_at), '') FROM flags),"
        " (SELECT MAX(updated_at) FROM staff), (SELECT MAX(updated_at) FROM units),"
        " (SELECT MAX(updated_at) FROM counters), (SELECT COUNT(*) || ':' || MAX(version) FROM rating_scales)",
        [*params, MONTH_GENERATION + first_day[:7], MONTH_GENERATION + last_day[:7]],
    ).fetchone()


# --- For bench/scores.py -------------------------------------------------------


def period_rows_from_votes(db, start_utc, end_utc):
    """What ``period_rows`` gives, by a plain GROUP BY over the raw votes of ``start_utc..end_utc``:
    the comparison ``bench/scores.py`` measures the rollups against."""
    return db.execute(
        f"SELECT {_COLUMNS}, {STANDING_SQL} AS standing, COUNT(*) FROM votes v"
        " WHERE v.counted_at >= ? AND v.counted_at < ? GROUP BY 1, 2, 3, 4, 5, 6, 7",
        [start_utc, end_utc],
    ).fetchall()


def copy_votes_of_last_day(db):
    """Copies of the newest day's votes above the watermark, as if they had just arrived (new uuids and
    sequence numbers); returns how many. Only ``bench/scores.py`` calls it, inside a transaction it rolls back."""
    last = db.execute("SELECT MAX(counted_at) FROM votes").fetchone()[0]
    cut = last[:10] + "T00:00:00.000Z"
    columns = [c for c in ("device_id", "counter_id", "staff_id", "rating", "reasons", "ticket", "local_time",
                           "scale_version", "signature", "digest", "received_at", "clock_offset_ms", "batch_id",
                           "flags", "unit_id", "counter_unit_id", "counted_at", "time_corrected")]
    return db.execute(
        f"INSERT INTO votes (uuid, seq, {', '.join(columns)})"
        f" SELECT uuid || '-copy', seq + 1000000000, {', '.join(columns)} FROM votes WHERE counted_at >= ?"
        " ORDER BY id",
        [cut],
    ).rowcount
