"""Signed items from tablets, for every stream alike: batches, dedupe, incidents, acknowledgement.

A stream (votes, staff sign-in events, later ones) is described to this
module by a ``Table``: where its items live, which device column holds its
acknowledged high-water mark, and how its rows are inserted.
``store_batch`` decides each item's outcome and writes everything a batch
changes – the batch record, the new items, the incidents and the device's
acknowledgement – inside the caller's write transaction, so either all of it
is committed or none, and a retried batch always meets a consistent past.
"""

import dataclasses
import json
from typing import Callable

from server.storage import dialect, timestamp

OUTCOMES = ("accepted", "duplicate", "conflict", "rejected")
# Incidents that give a sequence number its final answer (a gap does not).
RESOLVED_INCIDENTS = ("rejected", "conflict")


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one device may make the server keep of what it refuses.

    ``per_day`` incidents (conflicts and rejections) per device and UTC day;
    past it, the refused items are still answered but only counted, in one
    ``suppressed`` incident a day. A kept payload longer than
    ``payload_bytes`` is cut to its start. Without these a device could fill
    the disk with refusals.
    """

    per_day: int | None = None
    payload_bytes: int | None = None


@dataclasses.dataclass(frozen=True)
class Table:
    """Where one stream's items are stored."""

    stream: str  # the name batches and incidents record: "votes", "sessions"
    item: str  # what one item is called in messages: "vote", "event"
    name: str  # the items' table, with columns uuid, device_id, seq, digest, ...
    ack_column: str  # the column of ``devices`` holding the stream's acknowledged seq
    insert: Callable  # insert(db, rows): rows are dicts of the table's columns
    # On PostgreSQL, the table holding the items' unique keys (id, uuid, device_id, seq, received_at) when
    # the items' table cannot: votes are partitioned by month and keep theirs in vote_keys, so only there
    # do uuid and (device_id, seq) have an index. None: the items' table has them (SQLite, sessions).
    keys: str | None = None

    def __post_init__(self):
        _TABLES[self.stream] = self


_TABLES = {}


def insert_batch(db, stream, device_id, received_at, device_time, clock_offset_ms, counts):
    """Record a batch as received (its ack is set once its items are stored); returns its id."""
    return db.execute(
        "INSERT INTO sync_batches (stream, device_id, received_at, device_time, clock_offset_ms, n_items,"
        " n_accepted, n_duplicate, n_conflict, n_rejected, ack_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"
        " RETURNING id",
        [stream, device_id, received_at, device_time, clock_offset_ms, sum(counts.values()),
         counts["accepted"], counts["duplicate"], counts["conflict"], counts["rejected"]],
    ).fetchone()[0]


def set_ack(db, stream, device_id, ack_seq, batch_id=None):
    """Set a device's acknowledged seq for a stream (and the batch's, when given)."""
    column = table_of(stream).ack_column
    db.execute(f"UPDATE devices SET {column} = ? WHERE id = ?", [ack_seq, device_id])
    if batch_id is not None:
        db.execute("UPDATE sync_batches SET ack_seq = ? WHERE id = ?", [ack_seq, batch_id])


def table_of(stream):
    """The ``Table`` of a stream by its name (each stream's module declares its own)."""
    return _TABLES[stream]


def store_batch(db, table, device_id, meta, candidates, rejections, limits=Limits()):
    """Commit one checked batch; returns ``(batch_id, ack_seq, outcomes)``.

    ``candidates`` passed every check: dicts with ``index``, ``id``, ``seq``,
    ``digest``, ``signature``, ``payload`` and ``columns`` (the stream's own
    columns); ``rejections`` are ``{index, seq, uuid, digest, errors,
    payload}``; ``meta`` has ``received_at``, ``device_time`` and
    ``clock_offset_ms``. ``outcomes`` maps each index to ``(status,
    errors)``. Must run inside ``write_transaction``, after ``devices.lock``:
    what it reads of the device's past must not change before it commits.
    On PostgreSQL another device's transaction may still insert an item
    with one of these ids meanwhile (ids are unique across devices); the
    insert then raises ``storage.IntegrityError`` and the caller runs the
    batch again, which then finds that item and answers a conflict.
    """
    by_uuid = _existing_by_uuid(db, table, [item["id"] for item in candidates])
    by_seq = _existing_by_seq(db, table, device_id, [item["seq"] for item in candidates])
    outcomes, fresh, incidents = {}, [], []
    for item in candidates:
        known, taken = by_uuid.get(item["id"]), by_seq.get(item["seq"])
        if known and known["digest"] == item["digest"]:
            outcomes[item["index"]] = ("duplicate", None)
            continue
        if known or taken:
            why = (
                f"id {item['id']} is already used by a different {table.item}"
                if known
                else f"sequence number {item['seq']} is already used by {table.item} {taken['uuid']}"
            )
            outcomes[item["index"]] = ("conflict", {f"_{table.item}": [why]})
            detail = {"reason": why, "existing_digest": (known or taken)["digest"]}
            incidents.append(("conflict", item["seq"], item["id"], item["digest"], detail, item["payload"],
                              item.get("staff_id")))
            continue
        outcomes[item["index"]] = ("accepted", None)
        fresh.append(item)
        by_uuid[item["id"]] = {"digest": item["digest"]}
        by_seq[item["seq"]] = {"uuid": item["id"], "digest": item["digest"]}
    for rejection in rejections:
        outcomes[rejection["index"]] = ("rejected", rejection["errors"])
        if not _already_rejected(db, table.stream, device_id, rejection):
            incidents.append(("rejected", rejection["seq"], rejection["uuid"], rejection["digest"],
                              {"errors": rejection["errors"]}, rejection["payload"], rejection.get("staff_id")))

    counts = dict.fromkeys(OUTCOMES, 0)
    for status, _ in outcomes.values():
        counts[status] += 1
    batch_id = insert_batch(db, table.stream, device_id, meta["received_at"], meta["device_time"],
                            meta["clock_offset_ms"], counts)
    table.insert(db, [
        {**item["columns"], "uuid": item["id"], "device_id": device_id, "seq": item["seq"],
         "signature": item["signature"], "digest": item["digest"], "received_at": meta["received_at"],
         "clock_offset_ms": meta["clock_offset_ms"], "batch_id": batch_id}
        for item in fresh
    ])
    now = timestamp()
    room = _room_today(db, device_id, now, limits.per_day) if incidents else 0
    for kind, seq, uuid, digest, detail, payload, staff_id in incidents[:room]:
        insert_incident(db, table.stream, device_id, batch_id, kind, seq, uuid, digest, detail,
                        _cut(payload, limits.payload_bytes), now, staff_id)
    if len(incidents) > room:
        _suppress(db, table.stream, device_id, batch_id, len(incidents) - room, now)
    ack_seq = _advance_ack(db, table, device_id, batch_id, now)
    return batch_id, ack_seq, outcomes


def _advance_ack(db, table, device_id, batch_id, now):
    """Move the device's contiguous high-water mark for the stream; record or resolve gaps.

    A sequence number counts once the server holds a final answer for it: a
    stored item, or a kept rejection or conflict.
    """
    ack_seq = db.execute(f"SELECT {table.ack_column} FROM devices WHERE id = ?", [device_id]).fetchone()[0]
    marks = ",".join("?" * len(RESOLVED_INCIDENTS))
    seqs = [
        row[0]
        for row in db.execute(
            f"SELECT seq FROM {_keys(db, table) or table.name} WHERE device_id = ? AND seq > ?"
            " UNION SELECT seq FROM sync_incidents WHERE device_id = ? AND stream = ? AND seq > ?"
            f" AND kind IN ({marks}) ORDER BY seq",
            [device_id, ack_seq, device_id, table.stream, ack_seq, *RESOLVED_INCIDENTS],
        ).fetchall()
    ]
    high, gap_after = ack_seq, None
    for seq in seqs:
        if seq == high + 1:
            high = seq
        elif seq > high + 1:
            gap_after = seq
            break
    if high != ack_seq:
        db.execute(f"UPDATE devices SET {table.ack_column} = ? WHERE id = ?", [high, device_id])
        db.execute(
            "UPDATE sync_incidents SET resolved_at = ? WHERE device_id = ? AND stream = ? AND kind = 'gap'"
            " AND resolved_at IS NULL AND seq <= ?",
            [now, device_id, table.stream, high],
        )
    if gap_after is not None:
        open_gap = db.execute(
            "SELECT 1 FROM sync_incidents WHERE device_id = ? AND stream = ? AND kind = 'gap' AND seq = ?"
            " AND resolved_at IS NULL",
            [device_id, table.stream, high + 1],
        ).fetchone()
        if not open_gap:
            detail = {"missing_from": high + 1, "missing_to": gap_after - 1}
            insert_incident(db, table.stream, device_id, batch_id, "gap", high + 1, None, None, detail, None, now)
    db.execute("UPDATE sync_batches SET ack_seq = ? WHERE id = ?", [high, batch_id])
    return high


def _keys(db, table):
    """The table to look an item's keys up in when it is not the items' own (``Table.keys``), else None."""
    return table.keys if table.keys and dialect(db) == "postgresql" else None


def _existing_by_uuid(db, table, uuids):
    if not uuids:
        return {}
    marks = ",".join("?" * len(uuids))
    keys = _keys(db, table)
    if keys:  # by the key table's unique index, then each row by its primary key (id, received_at)
        sql = (f"SELECT k.uuid, v.digest FROM {keys} k JOIN {table.name} v"
               f" ON v.id = k.id AND v.received_at = k.received_at WHERE k.uuid IN ({marks})")
    else:
        sql = f"SELECT uuid, digest FROM {table.name} WHERE uuid IN ({marks})"
    return {uuid: {"digest": digest} for uuid, digest in db.execute(sql, uuids).fetchall()}


def _existing_by_seq(db, table, device_id, seqs):
    if not seqs:
        return {}
    marks = ",".join("?" * len(seqs))
    keys = _keys(db, table)
    if keys:
        sql = (f"SELECT k.seq, k.uuid, v.digest FROM {keys} k JOIN {table.name} v"
               f" ON v.id = k.id AND v.received_at = k.received_at WHERE k.device_id = ? AND k.seq IN ({marks})")
    else:
        sql = f"SELECT seq, uuid, digest FROM {table.name} WHERE device_id = ? AND seq IN ({marks})"
    rows = db.execute(sql, [device_id, *seqs]).fetchall()
    return {seq: {"uuid": uuid, "digest": digest} for seq, uuid, digest in rows}


def _already_rejected(db, stream, device_id, rejection):
    """An identical re-send of a rejected item is answered again, not logged twice."""
    return bool(db.execute(
        "SELECT 1 FROM sync_incidents WHERE device_id = ? AND stream = ? AND kind = 'rejected'"
        " AND seq IS NOT DISTINCT FROM ? AND digest = ?",
        [device_id, stream, rejection["seq"], rejection["digest"]],
    ).fetchone())


def insert_incident(db, stream, device_id, batch_id, kind, seq, uuid, digest, detail, payload, now,
                    staff_id=None):
    """Keep one incident; ``payload`` is the item as sent (JSON-able) or its JSON text already cut."""
    if payload is not None and not isinstance(payload, str):
        payload = json.dumps(payload, ensure_ascii=False, default=str)
    db.execute(
        "INSERT INTO sync_incidents (stream, device_id, batch_id, kind, seq, item_uuid, digest, detail,"
        " payload, created_at, staff_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [stream, device_id, batch_id, kind, seq, uuid, digest, json.dumps(detail, ensure_ascii=False),
         payload, now, staff_id],
    )


def _cut(payload, limit):
    """The payload's JSON text, cut to ``limit`` bytes' worth (with what was cut said) when longer."""
    if payload is None:
        return None
    text = json.dumps(payload, ensure_ascii=False, default=str)
    if limit is None or len(text.encode("utf-8")) <= limit:
        return text
    start = text.encode("utf-8")[:limit].decode("utf-8", "ignore")
    return json.dumps({"truncated": True, "bytes": len(text.encode("utf-8")), "start": start}, ensure_ascii=False)


def _room_today(db, device_id, now, per_day):
    """How many more incidents the device may have kept today (UTC day of ``now``)."""
    if per_day is None:
        return 1 << 62
    kept = db.execute(
        "SELECT COUNT(*) FROM sync_incidents WHERE device_id = ? AND kind IN ('rejected', 'conflict')"
        " AND created_at >= ?",
        [device_id, now[:10]],
    ).fetchone()[0]
    return max(0, per_day - kept)


def _suppress(db, stream, device_id, batch_id, count, now):
    """Count refused items past the daily cap in the day's one ``suppressed`` incident."""
    day = now[:10]
    row = db.execute(
        "SELECT id, detail FROM sync_incidents WHERE device_id = ? AND stream = ? AND kind = 'suppressed'"
        " AND created_at >= ?",
        [device_id, stream, day],
    ).fetchone()
    if row is None:
        insert_incident(db, stream, device_id, batch_id, "suppressed", None, None, None,
                        {"day": day, "count": count, "reason": "daily incident cap reached; not kept"}, None, now)
        return
    detail = json.loads(row[1])
    detail["count"] += count
    db.execute("UPDATE sync_incidents SET detail = ? WHERE id = ?", [json.dumps(detail), row[0]])
