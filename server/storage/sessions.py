"""Staff sign-in/out events from kiosks.

``store_events`` mirrors ``votes.store_batch`` in small: each event is stored
once (``duplicate`` for an identical re-send, ``conflict`` for a different
event under a used id or seq, ``rejected`` kept as an incident), and the
device's ``session_ack_seq`` moves as a contiguous high-water mark, all in the
caller's write transaction.
"""

import json

from server.storage import query, query_one, timestamp


def store_events(db, device_id, meta, candidates, rejections):
    """Commit checked events; returns ``(ack_seq, outcomes)`` (index → (status, errors))."""
    outcomes = {}
    now = timestamp()
    for event in candidates:
        known = query_one(db, "SELECT digest FROM staff_sessions WHERE uuid = ?", [event["id"]])
        taken = query_one(
            db, "SELECT uuid, digest FROM staff_sessions WHERE device_id = ? AND seq = ?",
            [device_id, event["seq"]],
        )
        if known and known["digest"] == event["digest"]:
            outcomes[event["index"]] = ("duplicate", None)
            continue
        if known or taken:
            why = f"id or sequence number {event['seq']} is already used by a different event"
            outcomes[event["index"]] = ("conflict", {"_event": [why]})
            _incident(db, device_id, "conflict", event, {"reason": why}, now)
            continue
        db.execute(
            "INSERT INTO staff_sessions (uuid, device_id, seq, counter_id, staff_id, event, reason,"
            " local_time, signature, digest, received_at, clock_offset_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [event["id"], device_id, event["seq"], event["counter_id"], event["staff_id"],
             event["event"], event["reason"], event["local_time"], event["signature"],
             event["digest"], meta["received_at"], meta["clock_offset_ms"]],
        )
        outcomes[event["index"]] = ("accepted", None)
    for rejection in rejections:
        outcomes[rejection["index"]] = ("rejected", rejection["errors"])
        seen = db.execute(
            "SELECT 1 FROM staff_session_incidents WHERE device_id = ? AND kind = 'rejected'"
            " AND seq IS ? AND digest = ?",
            [device_id, rejection["seq"], rejection["digest"]],
        ).fetchone()
        if not seen:
            _incident(db, device_id, "rejected", rejection, {"errors": rejection["errors"]}, now)
    return _advance_ack(db, device_id), outcomes


def _advance_ack(db, device_id):
    ack = db.execute("SELECT session_ack_seq FROM devices WHERE id = ?", [device_id]).fetchone()[0]
    seqs = db.execute(
        "SELECT seq FROM staff_sessions WHERE device_id = ? AND seq > ?"
        " UNION SELECT seq FROM staff_session_incidents WHERE device_id = ? AND seq > ?"
        " AND kind IN ('rejected', 'conflict') ORDER BY seq",
        [device_id, ack, device_id, ack],
    ).fetchall()
    high = ack
    for (seq,) in seqs:
        if seq != high + 1:
            break
        high = seq
    if high != ack:
        db.execute("UPDATE devices SET session_ack_seq = ? WHERE id = ?", [high, device_id])
    return high


def _incident(db, device_id, kind, item, detail, now):
    db.execute(
        "INSERT INTO staff_session_incidents (device_id, kind, seq, event_uuid, digest, detail, payload,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [device_id, kind, item.get("seq"), item.get("id") or item.get("uuid"), item.get("digest"),
         json.dumps(detail, ensure_ascii=False),
         json.dumps(item.get("payload"), ensure_ascii=False, default=str), now],
    )
