"""Votes, sync batches and sync incidents: the exactly-once ingest transaction.

``store_batch`` decides each vote's outcome and writes everything a batch
changes in one ``BEGIN IMMEDIATE`` transaction: the batch record, the new
votes, the incidents and the device's acknowledged high-water mark. Either all
of it is committed or none, so a retried batch always meets a consistent past.
"""

import json

from server.storage import in_units, query, timestamp
from server.storage.devices import take_rate_token

RESOLVED_INCIDENTS = ("rejected", "conflict")


class RateLimited(Exception):
    def __init__(self, retry_after):
        super().__init__(retry_after)
        self.retry_after = retry_after


def store_batch(db, device_id, batch, candidates, rejections, rate):
    """Commit one batch; returns ``(batch_id, ack_seq, outcomes)``.

    ``candidates`` are votes that passed every check (dicts with the wire
    fields plus ``index``, ``digest``, ``staff_id``, ``counter_id``,
    ``flags``); ``rejections`` are ``{index, seq, uuid, digest, errors,
    payload}``. ``outcomes`` maps index to ``(status, detail)``. Must run
    inside ``write_transaction``. Raises ``RateLimited`` before writing when
    the device's bucket is empty.
    """
    device = query(
        db, "SELECT id, ack_seq, rate_tokens, rate_at FROM devices WHERE id = ?", [device_id]
    )[0]
    wait = take_rate_token(db, device, rate["now"], rate["per_minute"], rate["burst"])
    if wait:
        raise RateLimited(wait)

    by_uuid = _existing_by_uuid(db, [vote["id"] for vote in candidates])
    by_seq = _existing_by_seq(db, device_id, [vote["seq"] for vote in candidates])
    outcomes, fresh, incidents = {}, [], []
    for vote in candidates:
        known = by_uuid.get(vote["id"])
        taken = by_seq.get(vote["seq"])
        if known and known["digest"] == vote["digest"]:
            outcomes[vote["index"]] = ("duplicate", None)
            continue
        if known or taken:
            other = known or taken
            why = (
                f"id {vote['id']} is already used by a different vote"
                if known
                else f"sequence number {vote['seq']} is already used by vote {taken['uuid']}"
            )
            detail = {"reason": why, "existing_digest": other["digest"]}
            outcomes[vote["index"]] = ("conflict", {"_vote": [why]})
            incidents.append(
                ("conflict", vote["seq"], vote["id"], vote["digest"], detail, vote["payload"])
            )
            continue
        outcomes[vote["index"]] = ("accepted", None)
        fresh.append(vote)
        by_uuid[vote["id"]] = {"digest": vote["digest"]}
        by_seq[vote["seq"]] = {"uuid": vote["id"], "digest": vote["digest"]}

    for rejection in rejections:
        outcomes[rejection["index"]] = ("rejected", rejection["errors"])
        if not _already_rejected(db, device_id, rejection):
            incidents.append(
                (
                    "rejected",
                    rejection["seq"],
                    rejection["uuid"],
                    rejection["digest"],
                    {"errors": rejection["errors"]},
                    rejection["payload"],
                )
            )

    counts = {status: 0 for status in ("accepted", "duplicate", "conflict", "rejected")}
    for status, _ in outcomes.values():
        counts[status] += 1
    batch_id = db.execute(
        "INSERT INTO sync_batches (device_id, received_at, device_time, clock_offset_ms, n_votes,"
        " n_accepted, n_duplicate, n_conflict, n_rejected, ack_seq)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
        [
            device_id,
            batch["received_at"],
            batch["device_time"],
            batch["clock_offset_ms"],
            len(outcomes),
            counts["accepted"],
            counts["duplicate"],
            counts["conflict"],
            counts["rejected"],
        ],
    ).lastrowid
    db.conn.executemany(
        "INSERT INTO votes (uuid, device_id, seq, counter_id, staff_id, rating, reasons, ticket,"
        " local_time, scale_version, signature, digest, received_at, clock_offset_ms, batch_id,"
        " flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                vote["id"],
                device_id,
                vote["seq"],
                vote["counter_id"],
                vote["staff_id"],
                vote["rating"],
                json.dumps(vote["reasons"]) if vote["reasons"] else "[]",
                vote["ticket"],
                vote["local_time"],
                vote["scale_version"],
                vote["signature"],
                vote["digest"],
                batch["received_at"],
                batch["clock_offset_ms"],
                batch_id,
                ",".join(vote["flags"]) or None,
            )
            for vote in fresh
        ],
    )
    now = timestamp()
    for kind, seq, uuid, digest, detail, payload in incidents:
        _incident(db, device_id, batch_id, kind, seq, uuid, digest, detail, payload, now)

    ack_seq = _advance_ack(db, device_id, device["ack_seq"], batch_id, now)
    db.execute("UPDATE sync_batches SET ack_seq = ? WHERE id = ?", [ack_seq, batch_id])
    return batch_id, ack_seq, outcomes


def _advance_ack(db, device_id, ack_seq, batch_id, now):
    """Move the device's contiguous high-water mark; record or resolve gaps.

    A sequence number counts once the server holds a final answer for it: an
    accepted vote, or a kept rejection or conflict.
    """
    marks = ",".join("?" * len(RESOLVED_INCIDENTS))
    seqs = [
        row[0]
        for row in db.execute(
            "SELECT seq FROM votes WHERE device_id = ? AND seq > ?"
            " UNION SELECT seq FROM sync_incidents WHERE device_id = ? AND seq > ?"
            f" AND kind IN ({marks}) ORDER BY seq",
            [device_id, ack_seq, device_id, ack_seq, *RESOLVED_INCIDENTS],
        ).fetchall()
    ]
    high = ack_seq
    gap_after = None
    for seq in seqs:
        if seq == high + 1:
            high = seq
        elif seq > high + 1:
            gap_after = seq
            break
    if high != ack_seq:
        db.execute("UPDATE devices SET ack_seq = ? WHERE id = ?", [high, device_id])
        db.execute(
            "UPDATE sync_incidents SET resolved_at = ? WHERE device_id = ? AND kind = 'gap'"
            " AND resolved_at IS NULL AND seq <= ?",
            [now, device_id, high],
        )
    if gap_after is not None:
        open_gap = db.execute(
            "SELECT 1 FROM sync_incidents WHERE device_id = ? AND kind = 'gap' AND seq = ?"
            " AND resolved_at IS NULL",
            [device_id, high + 1],
        ).fetchone()
        if not open_gap:
            detail = {"missing_from": high + 1, "missing_to": gap_after - 1}
            _incident(db, device_id, batch_id, "gap", high + 1, None, None, detail, None, now)
    return high


def _existing_by_uuid(db, uuids):
    if not uuids:
        return {}
    marks = ",".join("?" * len(uuids))
    rows = db.execute(
        f"SELECT uuid, device_id, seq, digest FROM votes WHERE uuid IN ({marks})", uuids
    ).fetchall()
    return {u: {"device_id": d, "seq": s, "digest": g} for u, d, s, g in rows}


def _existing_by_seq(db, device_id, seqs):
    if not seqs:
        return {}
    marks = ",".join("?" * len(seqs))
    rows = db.execute(
        f"SELECT seq, uuid, digest FROM votes WHERE device_id = ? AND seq IN ({marks})",
        [device_id, *seqs],
    ).fetchall()
    return {s: {"uuid": u, "digest": g} for s, u, g in rows}


def _already_rejected(db, device_id, rejection):
    """An identical re-send of a rejected vote is answered again, not logged twice."""
    return bool(
        db.execute(
            "SELECT 1 FROM sync_incidents WHERE device_id = ? AND kind = 'rejected'"
            " AND seq IS ? AND digest = ?",
            [device_id, rejection["seq"], rejection["digest"]],
        ).fetchone()
    )


def _incident(db, device_id, batch_id, kind, seq, uuid, digest, detail, payload, now):
    db.execute(
        "INSERT INTO sync_incidents (device_id, batch_id, kind, seq, vote_uuid, digest, detail,"
        " payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            device_id,
            batch_id,
            kind,
            seq,
            uuid,
            digest,
            json.dumps(detail, ensure_ascii=False),
            None if payload is None else json.dumps(payload, ensure_ascii=False, default=str),
            now,
        ],
    )


def vote_totals(db):
    """Counts an operator or a test checks exactly-once against."""
    row = db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT uuid), COUNT(DISTINCT device_id || ':' || seq) FROM votes"
    ).fetchone()
    return {"votes": row[0], "distinct_ids": row[1], "distinct_device_seqs": row[2]}


# --- Reads for the admin pages and API (server/manage/votes.py) -------------


def list_votes_in(db, unit_ids=None, after_id=0, limit=100):
    """Raw votes in ascending id order, after ``after_id`` (keyset pagination)."""
    where, params = ["v.id > ?"], [after_id]
    if not in_units("c.unit_id", unit_ids, where, params):
        return []
    rows = query(
        db,
        "SELECT v.id, v.uuid, v.device_id, v.seq, c.code AS counter, s.code AS staff, v.rating,"
        " v.reasons, v.ticket, v.local_time, v.received_at, v.scale_version, v.flags"
        " FROM votes v JOIN counters c ON c.id = v.counter_id JOIN staff s ON s.id = v.staff_id"
        f" WHERE {' AND '.join(where)} ORDER BY v.id LIMIT ?",
        [*params, limit],
    )
    for row in rows:
        row["reasons"] = json.loads(row["reasons"])
    return rows


def list_incidents_in(db, unit_ids=None, after_id=0, limit=100):
    """Sync incidents (gaps, conflicts, rejections) of devices at counters in ``unit_ids``."""
    where, params = ["i.id > ?"], [after_id]
    if not in_units("c.unit_id", unit_ids, where, params):
        return []
    return query(
        db,
        "SELECT i.id, i.device_id, i.batch_id, i.kind, i.seq, i.vote_uuid, i.detail, i.created_at,"
        " i.resolved_at, c.code AS counter"
        " FROM sync_incidents i JOIN devices d ON d.id = i.device_id"
        " JOIN counters c ON c.id = d.counter_id"
        f" WHERE {' AND '.join(where)} ORDER BY i.id LIMIT ?",
        [*params, limit],
    )
