"""Reads for exports (server/exports/): votes with their leaf index and reviews, incidents, devices,
sequence ranges, audit rows, all streamed in keyset chunks so memory stays flat at any size.

Each chunk is its own short statement (``id > last AND id <= up_to``), so no
read transaction stays open for the length of a download: a slow client
does not hold the WAL back. ``up_to`` is the source row id of the last leaf
under the export's checkpoint: rows after it are not exported, and rows up
to it never change (votes and audit entries are immutable; a flag's review
may change and is read as it is now).

Which votes an export takes (``criteria``, made by ``server/exports``):
``start``/``end`` (UTC text, ``counted_at`` in ``[start, end)``), ``scope``
and ``units`` (sets of unit ids, None for no limit: a vote is in when its
staff member's or its counter's unit at vote time is in the set, as
``votes.read`` scopes), ``staff_id``, ``device_id``, ``flagged`` (include |
exclude | only: ingest flags, or a scan flag open or confirmed).
"""

from server.storage import dialect, query

CHUNK = 5_000

# Columns of a vote chunk, in this order (server/exports/bundle.py reads them by position).
VOTE_COLUMNS = ("leaf_index", "id", "uuid", "device_id", "seq", "counter_id", "staff_id", "unit_id",
                "counter_unit_id", "rating", "reasons", "ticket", "local_time", "received_at", "counted_at",
                "time_corrected", "clock_offset_ms", "scale_version", "flags", "signature")
_VOTES = (
    "SELECT l.idx, v.id, v.uuid, v.device_id, v.seq, v.counter_id, v.staff_id, v.unit_id, v.counter_unit_id,"
    " v.rating, v.reasons, v.ticket, v.local_time, v.received_at, v.counted_at, v.time_corrected,"
    " v.clock_offset_ms, v.scale_version, v.flags, v.signature"
    " FROM votes v JOIN log_leaves l ON l.tree = 'votes' AND l.row_id = v.id"
)
# A vote counts as flagged by an ingest flag, or by a scan flag still open or confirmed (not dismissed).
_FLAGGED = ("((v.flags IS NOT NULL AND v.flags <> '') OR EXISTS (SELECT 1 FROM flag_votes fv"
            " JOIN flags f ON f.id = fv.flag_id WHERE fv.vote_id = v.id AND f.status IN ('open', 'confirmed')))")


def _marks(n):
    return ",".join("?" * n)


def _units(unit_ids, where, params):
    if not unit_ids:
        where.append("0 = 1")
        return
    marks = _marks(len(unit_ids))
    where.append(f"(v.unit_id IN ({marks}) OR v.counter_unit_id IN ({marks}))")
    params.extend([*sorted(unit_ids), *sorted(unit_ids)])


def hint(db):
    """``"+"`` on SQLite, where a unary + before a column keeps the planner off that column's index (it walks
    rows in id order, a keyset chunk, instead of choosing the time's index and sorting the whole period for
    every chunk); nothing on PostgreSQL, whose planner needs no such hint and has no unary + for text."""
    return "+" if dialect(db) == "sqlite" else ""


def period_conditions(criteria, column="v.counted_at", plus="+"):
    """``(where, params)`` of the period alone on ``column`` (sequence ranges are taken before the other filters);
    ``plus`` is ``hint(db)``."""
    where, params = [], []
    if criteria.get("start"):
        where.append(f"{plus}{column} >= ?")
        params.append(criteria["start"])
    if criteria.get("end"):
        where.append(f"{plus}{column} < ?")
        params.append(criteria["end"])
    return where, params


def period_window(db, criteria, after, up_to):
    """``(after, up_to)`` narrowed to the ids of the period's votes: every vote of the period has
    ``after < id <= up_to`` afterwards.

    The period's own conditions keep SQLite walking rows in id order (see
    ``period_conditions``), which for one month of a year's votes means
    walking the eleven others too. A vote's ``counted_at`` never changes, so
    the smallest and largest id with a time in the period (read from the
    ``counted_at`` index, not the rows) bound the walk without changing what
    it finds: votes sent late by a tablet that was offline are inside the
    bounds, since the bounds come from the times, not from the ids' order.
    """
    where, params = [], []
    if criteria.get("start"):
        where.append("counted_at >= ?")
        params.append(criteria["start"])
    if criteria.get("end"):
        where.append("counted_at < ?")
        params.append(criteria["end"])
    if not where:
        return after, up_to
    low, high = db.execute(f"SELECT MIN(id), MAX(id) FROM votes WHERE {' AND '.join(where)}", params).fetchone()
    if low is None:
        return after, after  # no vote in the period: nothing to walk
    return max(after, low - 1), min(up_to, high)


def takes_every_row(criteria):
    """True when the criteria leave no vote out (every leaf under the checkpoint is a row)."""
    return not period_conditions(criteria)[0] and not filter_conditions(criteria)[0]


def database_file(db):
    """The file of the connection's main database (for a second connection to it), or None in memory
    (and on PostgreSQL, where the proof is written after the rows instead of beside them)."""
    if dialect(db) != "sqlite":
        return None
    for _, name, path in db.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return path or None
    return None


def filter_conditions(criteria, plus="+"):
    """``(where, params)`` of everything but the period: scope, unit subtree, staff, device, flagged (``plus``:
    ``hint(db)``)."""
    where, params = [], []
    for name in ("scope", "units"):
        if criteria.get(name) is not None:
            _units(criteria[name], where, params)
    if criteria.get("staff_id") is not None:
        where.append(f"{plus}v.staff_id = ?")
        params.append(criteria["staff_id"])
    if criteria.get("device_id") is not None:
        where.append(f"{plus}v.device_id = ?")
        params.append(criteria["device_id"])
    if criteria.get("flagged") == "only":
        where.append(_FLAGGED)
    elif criteria.get("flagged") == "exclude":
        where.append(f"NOT {_FLAGGED}")
    return where, params


def vote_chunks(db, criteria, up_to, after=0, chunk=CHUNK):
    """``(rows, reviews, last_id)`` per chunk of votes with ``after < id <= up_to``, ascending.

    ``rows`` are tuples in ``VOTE_COLUMNS`` order; ``reviews`` maps the
    chunk's vote ids to their scan flags (``flag, kind, status, reason,
    reviewed_at``), read with one query per chunk; ``last_id`` is how far the
    scan got (for progress), also on the last, possibly empty, chunk.
    """
    period, period_params = period_conditions(criteria, plus=hint(db))
    filters, filter_params = filter_conditions(criteria, plus=hint(db))
    after, up_to = period_window(db, criteria, after, up_to)
    # Walked in the order of the leaves' (tree, row_id) index, which is the votes' id order: ordering by
    # v.id instead made SQLite sort every remaining row for each chunk (a temporary b-tree per query).
    keyset, step = ["l.row_id > ?", "l.row_id <= ?"], None
    if dialect(db) == "postgresql":
        # PostgreSQL's planner carries no range across the join (l.row_id's bounds do not narrow v.id) and
        # answers "the first rows of what is left" by joining and sorting all that is left: each chunk would
        # cost the rest of the period. So the range is said on both sides and each statement takes at most
        # ``chunk`` ids: the walk is linear in the period, whatever its size.
        keyset, step = [*keyset, "v.id > ?", "v.id <= ?"], chunk
    where = " AND ".join([*keyset, *period, *filters])
    sql = f"{_VOTES} WHERE {where} ORDER BY l.row_id LIMIT ?"
    while after < up_to:
        upper = up_to if step is None else min(up_to, after + step)
        bounds = [after, upper] * (len(keyset) // 2)
        rows = db.execute(sql, [*bounds, *period_params, *filter_params, chunk]).fetchall()
        last = rows[-1][1] if len(rows) == chunk else upper
        reviews = _reviews(db, after, last) if rows else {}
        yield rows, reviews, last
        after = last


# --- Votes as CSV text built by SQLite (server/exports/sql_csv.py) -------------
#
# Python's csv module and the per-row work around it cost about 10 µs a row;
# SQLite writes the same line (printf of the cells) in a fraction of that and
# hands a whole chunk back as one string (group_concat): Python touches no row.
# The rules are server/exports/formats.py's (CsvRows). Cells SQLite cannot be
# trusted to write exactly are returned for a check too, and the caller
# then writes that chunk with the csv module.

CSV_CHUNK = 5_000  # rows per statement: each chunk's text is held a few times over (SQLite's, Python's, encoded)
_LINE_FORMAT = ",".join(["%s"] * 20) + "\r\n"
_COPIED_FORMAT = "%s" * 7
_STARTS_FORMAT = "%!.1s" * 5  # the first character (not byte) of each of five cells
# Flags the SQL below writes itself: comma-separated, without a double quote, a backslash or a control character.
_ODD_FLAG = "*[\"\\" + "".join(chr(c) for c in range(1, 32)) + "]*"
_PLAIN_FLAGS = "(substr(v.flags, 1, 1) <> '[' AND v.flags NOT GLOB ?)"
# Sorted as Python sorts strings (SQLite compares UTF-8 bytes: the same order as code points).
_SORTED_FLAGS = ("(SELECT json_group_array(value) FROM (SELECT value FROM json_each("
                 "'[\"' || replace(v.flags, ',', '\",\"') || '\"]') ORDER BY value))")
_REVIEW = (
    "CASE WHEN EXISTS (SELECT 1 FROM flag_votes fv JOIN flags f ON f.id = fv.flag_id WHERE fv.vote_id = v.id)"
    " THEN '\"' || replace((SELECT json_group_array(json_object('flag', id, 'kind', kind, 'status', status,"
    " 'reason', review_reason, 'reviewed_at', reviewed_at)) FROM (SELECT f.id, f.kind, f.status, f.review_reason,"
    " f.reviewed_at FROM flag_votes fv JOIN flags f ON f.id = fv.flag_id WHERE fv.vote_id = v.id ORDER BY f.id)),"
    " '\"', '\"\"') || '\"' ELSE '[]' END"
)


def _csv_quoted(x):
    """SQL for text ``x`` as the csv module writes it: in double quotes, doubled inside, when it holds a comma,
    a double quote, CR or LF."""
    return (f"CASE WHEN instr({x}, '\"') OR instr({x}, ',') OR instr({x}, char(10)) OR instr({x}, char(13))"
            f" THEN '\"' || replace({x}, '\"', '\"\"') || '\"' ELSE {x} END")


def _inert(x, starts):
    """SQL for text ``x`` with one leading apostrophe when it starts with one of ``starts``."""
    points = ", ".join(str(ord(char)) for char in starts)
    return f"CASE WHEN unicode({x}) IN ({points}) THEN '''' || {x} ELSE {x} END"


def _glob_class(chars):
    """A GLOB character class matching any of ``chars`` (``-`` last, ``]`` first, as GLOB wants them)."""
    inner = "".join(sorted(set(chars) - {"]", "-"}))
    return "[" + ("]" if "]" in chars else "") + inner + ("-" if "-" in chars else "") + "]"


def _code_cell(column, code, cells, params):
    """A code's cell: the code itself, or for the few whose cell is not (``cells``: {id: cell}), that cell."""
    if not cells:
        return code
    cases = []
    for code_id, cell in sorted(cells.items()):
        cases.append("WHEN ? THEN ?")
        params.extend([code_id, cell])
    return f"CASE {column} {' '.join(cases)} ELSE {code} END"


def writes_csv(db):
    """True when the database writes a votes CSV itself (``vote_csv_chunks``): SQLite. Its printf, GLOB,
    char(), unicode() and blob-free group_concat have no one-for-one PostgreSQL spelling, so there the
    export takes the csv module's path (the reference these bytes are tested against)."""
    return dialect(db) == "sqlite"


def vote_csv_chunks(db, criteria, up_to, inert_starts, code_cells, after=0, chunk=CSV_CHUNK):
    """``(rows, indices, last_id, text, copied, starts)`` per chunk of votes with ``after < id <= up_to``.

    ``text`` is the chunk's CSV lines (the columns of server/exports/bundle.py's
    ``VOTE_COLUMNS``, ``\\r\\n`` line ends), ``rows`` how many, ``indices`` their
    leaf indices (a ``range`` when they are one run), ``last_id`` how far the
    scan got (as in ``vote_chunks``). Written exactly here: numbers; codes
    (``code_cells``: ``{"counter"|"staff"|"unit": {id: cell}}`` for the codes
    whose cell is not the code itself); ``reasons``; ``flags`` when written
    comma-separated without a double quote, backslash or control character;
    ``review`` (SQLite's JSON is Python's compact JSON: same key order, same
    escapes); the ticket (one leading apostrophe for ``inert_starts``, then
    quoting); the signature's formula start. Left to the caller, for the
    cells copied as they are (vote id, device, the three times, the
    signature): ``copied`` holds them, with a ``"`` after a row whose flags
    are of another form, and ``starts`` the first character of each but the
    signature. The chunk's ``text`` is right only when ``copied`` holds no
    comma, double quote, CR or LF, and ``starts`` none of ``inert_starts``.

    One statement per chunk; the inner query yields the rows in leaf order,
    and ``group_concat`` takes them in the order they come.
    """
    period, period_params = period_conditions(criteria)
    filters, filter_params = filter_conditions(criteria)
    code_params = []
    counter = _code_cell("v.counter_id", "c.code", code_cells.get("counter"), code_params)
    staff = _code_cell("v.staff_id", "s.code", code_cells.get("staff"), code_params)
    unit = _code_cell("v.unit_id", "u.code", code_cells.get("unit"), code_params)
    counter_unit = _code_cell("v.counter_unit_id", "cu.code", code_cells.get("unit"), code_params)
    # Most votes have no reason: '[]' is decided by one comparison.
    reasons = ("CASE WHEN v.reasons = '[]' THEN '[]' ELSE "
               + _csv_quoted("(CASE WHEN v.reasons IS NULL OR v.reasons = '' THEN '[]' ELSE v.reasons END)") + " END")
    # A plain ticket (most) is decided by two GLOBs; the others are escaped step by step.
    escaped_ticket = _csv_quoted("(" + _inert("v.ticket", inert_starts) + ")")
    ticket = f"CASE WHEN NOT (v.ticket GLOB ? OR v.ticket GLOB ?) THEN v.ticket ELSE {escaped_ticket} END"
    flags = (f"CASE WHEN v.flags IS NULL OR v.flags = '' OR NOT {_PLAIN_FLAGS} THEN '[]'"
             f" ELSE {_csv_quoted(_SORTED_FLAGS)} END")
    odd_flags = f"CASE WHEN v.flags IS NULL OR v.flags = '' OR {_PLAIN_FLAGS} THEN '' ELSE '\"' END"
    line = (f"printf(?, l.idx, v.uuid, v.device_id, v.seq, {counter}, {staff}, {unit}, {counter_unit}, v.rating,"
            f" {reasons}, {ticket}, v.local_time, v.received_at, v.counted_at,"
            " CASE v.time_corrected WHEN 1 THEN 'true' ELSE 'false' END, v.clock_offset_ms, v.scale_version,"
            f" {flags}, {_REVIEW}, {_inert('v.signature', inert_starts)})")
    copied = f"printf(?, v.uuid, v.device_id, v.local_time, v.received_at, v.counted_at, v.signature, {odd_flags})"
    starts = "printf(?, v.uuid, v.device_id, v.local_time, v.received_at, v.counted_at)"
    ticket_patterns = [_glob_class(inert_starts) + "*", "*[\",\r\n]*"]
    after, up_to = period_window(db, criteria, after, up_to)
    where = " AND ".join(["l.row_id > ?", "l.row_id <= ?", *period, *filters])
    # Filters may leave gaps between leaf indices: then the chunk's own, from the same statement (a flag reviewed
    # meanwhile must not make the rows and their proof disagree); without any, every chunk is one run.
    indices = "group_concat(idx)" if period or filters else "NULL"
    sql = (
        "SELECT count(*), min(idx), max(idx), max(row_id), group_concat(line, ''), group_concat(copied, ''),"
        f" group_concat(starts, ''), {indices}"
        f" FROM (SELECT l.idx AS idx, l.row_id AS row_id, {line} AS line, {copied} AS copied, {starts} AS starts"
        " FROM votes v JOIN log_leaves l ON l.tree = 'votes' AND l.row_id = v.id"
        " LEFT JOIN counters c ON c.id = v.counter_id LEFT JOIN staff s ON s.id = v.staff_id"
        " LEFT JOIN units u ON u.id = v.unit_id LEFT JOIN units cu ON cu.id = v.counter_unit_id"
        f" WHERE {where} ORDER BY l.row_id LIMIT ?)"
    )
    while after < up_to:
        # In the order of the marks: the line's format, its codes, the ticket's and the flags' patterns; the
        # copied cells' format and flags' pattern; the starts' format; then keyset, filters and chunk size.
        bound = [_LINE_FORMAT, *code_params, *ticket_patterns, _ODD_FLAG, _COPIED_FORMAT, _ODD_FLAG, _STARTS_FORMAT,
                 after, up_to, *period_params, *filter_params, chunk]
        rows, first, last_idx, last_id, text, copied_text, starts_text, listed = db.execute(sql, bound).fetchone()
        last = last_id if rows == chunk else up_to
        if rows and last_idx - first + 1 == rows:
            found = range(first, last_idx + 1)
        else:
            found = [int(idx) for idx in listed.split(",")] if listed else []
        yield rows, found, last, text or "", copied_text or "", starts_text or ""
        after = last


def _reviews(db, after, last):
    """Scan flags of the votes with ``after < id <= last``, by vote id, in flag id order."""
    found = {}
    for vote_id, flag_id, kind, status, reason, reviewed_at in db.execute(
        "SELECT fv.vote_id, f.id, f.kind, f.status, f.review_reason, f.reviewed_at FROM flag_votes fv"
        " JOIN flags f ON f.id = fv.flag_id WHERE fv.vote_id > ? AND fv.vote_id <= ? ORDER BY fv.vote_id, f.id",
        [after, last],
    ):
        found.setdefault(vote_id, []).append(
            {"flag": flag_id, "kind": kind, "status": status, "reason": reason, "reviewed_at": reviewed_at})
    return found


def codes(db):
    """``{"unit": {id: code}, "counter": {...}, "staff": {...}}``: read once per export, not per row."""
    return {table: dict(db.execute(f"SELECT id, code FROM {name}").fetchall())
            for table, name in (("unit", "units"), ("counter", "counters"), ("staff", "staff"))}


def leaf_row_id(db, tree, index):
    """The source row id of leaf ``index`` of ``tree`` (0 when there is none)."""
    row = db.execute("SELECT row_id FROM log_leaves WHERE tree = ? AND idx = ?", [tree, index]).fetchone()
    return row[0] if row else 0


def sequence_bounds(db, criteria, up_to):
    """``{device_id: (first_seq, last_seq, exported)}`` of the period's votes with ``id <= up_to``, before the
    other filters; ``exported`` is true when the filters take at least one of that device's votes (the devices
    a bundle lists, known before its rows are written)."""
    period, params = period_conditions(criteria, plus=hint(db))
    filters, filter_params = filter_conditions(criteria, plus=hint(db))
    exported = f"MAX(CASE WHEN {' AND '.join(filters)} THEN 1 ELSE 0 END)" if filters else "1"
    after, up_to = period_window(db, criteria, 0, up_to)
    where = " AND ".join(["v.id > ?", "v.id <= ?", *period])
    rows = db.execute(f"SELECT v.device_id, MIN(v.seq), MAX(v.seq), {exported} FROM votes v WHERE {where}"
                      " GROUP BY v.device_id", [*filter_params, after, up_to, *params]).fetchall()
    return {device: (first, last, bool(taken)) for device, first, last, taken in rows}


def withheld_ranges(db, criteria, up_to):
    """``(device_id, from_seq, to_seq)``: runs of consecutive seqs in the period the filters left out.

    Ordered by device and seq; streamed (a staff filter on a busy tablet
    leaves a run between almost every two exported votes). Consecutive
    means no seq missing in between: a missing one is a gap with its own
    incident, never hidden inside a withheld range.
    """
    filters, filter_params = filter_conditions(criteria, plus=hint(db))
    if not filters:
        return
    period, period_params = period_conditions(criteria, plus=hint(db))
    kept = " AND ".join(filters)
    after, up_to = period_window(db, criteria, 0, up_to)
    where = " AND ".join(["v.id > ?", "v.id <= ?", *period, f"NOT COALESCE(({kept}), FALSE)"])
    sql = ("SELECT device_id, MIN(seq), MAX(seq) FROM ("
           " SELECT v.device_id, v.seq, v.seq - ROW_NUMBER() OVER (PARTITION BY v.device_id ORDER BY v.seq) AS grp"
           f" FROM votes v WHERE {where}) AS runs GROUP BY device_id, grp ORDER BY device_id, MIN(seq)")
    params = [after, up_to, *period_params, *filter_params]
    if dialect(db) == "postgresql":
        # psycopg's ordinary cursor would take every range into memory at once: a server-side one hands them
        # over a chunk at a time.
        yield from db.stream(sql, params, CHUNK)
        return
    cursor = db.execute(sql, params)
    while True:
        rows = cursor.fetchmany(CHUNK)
        if not rows:
            return
        yield from rows


INCIDENT_COLUMNS = ("id", "device", "stream", "kind", "seq", "item_uuid", "digest", "detail", "created_at",
                    "resolved_at", "counter", "staff")


def incidents_of(db, device_ids, stream="votes", chunk=CHUNK):
    """Sync incidents of ``stream`` of the devices, by device then id, as ``INCIDENT_COLUMNS`` tuples."""
    sql = ("SELECT i.id, i.device_id, i.stream, i.kind, i.seq, i.item_uuid, i.digest, i.detail, i.created_at,"
           " i.resolved_at, c.code, s.code FROM sync_incidents i JOIN devices d ON d.id = i.device_id"
           " JOIN counters c ON c.id = d.counter_id LEFT JOIN staff s ON s.id = i.staff_id"
           " WHERE i.device_id = ? AND i.stream = ? AND i.id > ? ORDER BY i.id LIMIT ?")
    for device in sorted(device_ids):
        after = 0
        while True:
            rows = db.execute(sql, [device, stream, after, chunk]).fetchall()
            yield from rows
            if len(rows) < chunk:
                break
            after = rows[-1][0]


def devices_of(db, device_ids):
    """The devices' public keys, counters and enrollment and revocation times, by id."""
    found = []
    ids = sorted(device_ids)
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        found += query(
            db,
            "SELECT d.id, c.code AS counter, d.public_key, d.status, d.enrolled_at, d.revoked_at FROM devices d"
            f" JOIN counters c ON c.id = d.counter_id WHERE d.id IN ({_marks(len(part))}) ORDER BY d.id",
            part,
        )
    return found


AUDIT_COLUMNS = ("leaf_index", "id", "at", "actor_kind", "actor", "address", "action", "object_type", "object_id",
                 "unit_id", "before", "after")


def audit_chunks(db, criteria, up_to, after=0, chunk=CHUNK):
    """``(rows, last_id)`` per chunk of audit entries with ``after < id <= up_to``, ``AUDIT_COLUMNS`` tuples.

    ``criteria``: ``scope`` (unit ids or None: entries of those units, as
    ``audit.read`` scopes), ``start``/``end`` on ``at``; ``actor``, ``action``,
    ``object_type`` as the audit page filters them (exact values).
    """
    where, params = ["l.row_id > ?", "l.row_id <= ?"], []
    for name in ("actor", "action", "object_type"):
        if criteria.get(name):
            where.append(f"a.{name} = ?")
            params.append(criteria[name])
    if criteria.get("scope") is not None:
        scope = sorted(criteria["scope"]) or [None]
        where.append(f"a.unit_id IN ({_marks(len(scope))})")
        params.extend(scope)
    period, period_params = period_conditions(criteria, "a.at", plus=hint(db))
    where.extend(period)
    params.extend(period_params)
    sql = ("SELECT l.idx, a.id, a.at, a.actor_kind, a.actor, a.address, a.action, a.object_type, a.object_id,"
           " a.unit_id, a.before, a.after FROM audit_log a JOIN log_leaves l ON l.tree = 'audit' AND l.row_id = a.id"
           f" WHERE {' AND '.join(where)} ORDER BY l.row_id LIMIT ?")
    while after < up_to:
        rows = db.execute(sql, [after, up_to, *params, chunk]).fetchall()
        last = rows[-1][1] if len(rows) == chunk else up_to
        yield rows, last
        after = last


def resolve(db, unit=None, staff=None, device=None):
    """Ids of the codes an export is filtered by: ``{"unit": (id) | None, "staff": ..., "device": ...}``."""
    found = {}
    for name, value, sql in (("unit", unit, "SELECT id FROM units WHERE code = ?"),
                             ("staff", staff, "SELECT id FROM staff WHERE code = ?"),
                             ("device", device, "SELECT id FROM devices WHERE id = ?")):
        if value is not None:
            row = db.execute(sql, [value]).fetchone()
            found[name] = row[0] if row else None
    return found
