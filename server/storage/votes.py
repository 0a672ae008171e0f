"""Votes as stored: inserted by the sync pipeline (server/sync/), listed for auditors.

How a batch of votes is deduplicated and acknowledged is the same for every
stream and lives in ``batches.py``; this module knows the votes table itself.
"""

import json

from server.storage import order, query
from server.storage.batches import Table

COLUMNS = ("uuid", "device_id", "seq", "counter_id", "staff_id", "rating", "reasons", "ticket", "local_time",
           "scale_version", "signature", "digest", "received_at", "clock_offset_ms", "batch_id", "flags",
           "unit_id", "counter_unit_id", "counted_at", "time_corrected")
_INSERT = (
    f"INSERT INTO votes ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
)


def insert_votes(db, rows):
    """Insert votes; each row is a dict of ``COLUMNS`` with ``reasons`` and ``flags`` as lists.

    ``unit_id`` and ``counter_unit_id`` are the staff member's and the
    counter's units at ``counted_at`` (UTC text, the moment the vote counts
    at; ``time_corrected`` 1 when that is the tablet's time corrected by its
    measured clock offset).

    The one way votes enter the table: the ingest pipeline and the bench's
    preload both call it. Runs inside the caller's transaction.
    """
    if not rows:
        return
    order.appending(db)  # the log appender and the rollups read these rows in id order (order.py)
    db.conn.executemany(_INSERT, [
        (row["uuid"], row["device_id"], row["seq"], row["counter_id"], row["staff_id"], row["rating"],
         json.dumps(row["reasons"]) if row["reasons"] else "[]", row["ticket"], row["local_time"],
         row["scale_version"], row["signature"], row["digest"], row["received_at"], row["clock_offset_ms"],
         row["batch_id"], ",".join(row["flags"]) or None, row["unit_id"], row["counter_unit_id"],
         row["counted_at"], row["time_corrected"])
        for row in rows
    ])


TABLE = Table(stream="votes", item="vote", name="votes", ack_column="ack_seq", insert=insert_votes,
              keys="vote_keys")


def vote_totals(db):
    """Counts an operator or a test checks exactly-once against."""
    row = db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT uuid), COUNT(DISTINCT device_id || ':' || seq) FROM votes"
    ).fetchone()
    return {"votes": row[0], "distinct_ids": row[1], "distinct_device_seqs": row[2]}


# --- Reads for the admin pages and API (server/manage/votes.py) -------------


def _cast_at_or_about(counter_unit, staff_unit, unit_ids, where, params):
    """Limit to what was cast at a counter of ``unit_ids`` or is about their staff, wherever cast."""
    if unit_ids is None:
        return True
    if not unit_ids:
        return False
    marks = ",".join("?" * len(unit_ids))
    where.append(f"({counter_unit} IN ({marks}) OR {staff_unit} IN ({marks}))")
    params.extend([*sorted(unit_ids), *sorted(unit_ids)])
    return True


def list_votes_in(db, unit_ids=None, after_id=0, limit=100):
    """Raw votes in ascending id order, after ``after_id`` (keyset pagination).

    A unit sees the votes cast at its counters and those about its staff wherever they were cast
    (a seconded official's home department sees them too).
    """
    where, params = ["v.id > ?"], [after_id]
    if not _cast_at_or_about("c.unit_id", "s.unit_id", unit_ids, where, params):
        return []
    rows = query(
        db,
        "SELECT v.id, v.uuid, v.device_id, v.seq, c.code AS counter, s.code AS staff, v.rating,"
        " v.reasons, v.ticket, v.local_time, v.received_at, v.scale_version, v.flags, v.counted_at,"
        " v.time_corrected, v.clock_offset_ms, vu.code AS unit, cu.code AS counter_unit"
        " FROM votes v JOIN counters c ON c.id = v.counter_id JOIN staff s ON s.id = v.staff_id"
        " LEFT JOIN units vu ON vu.id = v.unit_id LEFT JOIN units cu ON cu.id = v.counter_unit_id"
        f" WHERE {' AND '.join(where)} ORDER BY v.id LIMIT ?",
        [*params, limit],
    )
    for row in rows:
        row["reasons"] = json.loads(row["reasons"])
        row["time_corrected"] = bool(row["time_corrected"])
        row["flags"] = stored_flags(row["flags"])
    return rows


def stored_flags(text):
    """A vote's ingest flags as a list: stored comma-separated (NULL for none), or as a JSON list."""
    if not text:
        return []
    return json.loads(text) if text.startswith("[") else text.split(",")


def list_incidents_in(db, unit_ids=None, after_id=0, limit=100):
    """Sync incidents (gaps, conflicts, rejections) of every stream: of devices at counters in
    ``unit_ids``, and about their staff wherever the device stood."""
    where, params = ["i.id > ?"], [after_id]
    if not _cast_at_or_about("c.unit_id", "(SELECT unit_id FROM staff WHERE id = i.staff_id)", unit_ids, where,
                             params):
        return []
    return query(
        db,
        "SELECT i.id, i.stream, i.device_id, i.batch_id, i.kind, i.seq, i.item_uuid,"
        " CASE WHEN i.stream = 'votes' THEN i.item_uuid END AS vote_uuid, i.detail, i.created_at,"
        " i.resolved_at, c.code AS counter, (SELECT code FROM staff WHERE id = i.staff_id) AS staff"
        " FROM sync_incidents i JOIN devices d ON d.id = i.device_id"
        " JOIN counters c ON c.id = d.counter_id"
        f" WHERE {' AND '.join(where)} ORDER BY i.id LIMIT ?",
        [*params, limit],
    )
