"""Rows for the log's tests: an organisation, a device, and votes, sign-in events and audit entries of every
shape a leaf must carry (reasons, tickets, marks, flags, Vietnamese text, nulls), written through the
storage layer's own inserts (signatures are real: the key is the device's)."""

import random

from device_client import protocol
from migrations import migrations
from server import orgimport, storage
from server.storage import audit, batches, sessions, votes
from tests.live import ORG_CSV
from tests.people import enroll_fake_device

SIGNING_KEY = protocol.signing_key_from_seed(bytes(range(32)))


def make_database(path, tmp_path):
    db = storage.connect(path)
    migrations.apply(db)
    org_file = tmp_path / "org.csv"
    org_file.write_text(ORG_CSV, encoding="utf-8")
    orgimport.import_file(db, str(org_file))
    device = enroll_fake_device(db, "DN-TT-Q1", "a")
    with storage.write_transaction(db):
        db.execute("UPDATE devices SET public_key = ? WHERE id = ?", [protocol.public_key_b64(SIGNING_KEY), device])
    return db, device


def ids(db):
    counter = db.execute("SELECT id, unit_id FROM counters WHERE code = 'DN-TT-Q1'").fetchone()
    staff = db.execute("SELECT id, unit_id FROM staff WHERE code = 'NV001'").fetchone()
    return counter, staff


def add_votes(db, device, count, rng=None, first_seq=1):
    """``count`` signed votes from ``device`` at DN-TT-Q1 about NV001; returns their uuids."""
    rng = rng or random.Random(count)
    (counter_id, counter_unit), (staff_id, staff_unit) = ids(db)
    rows = []
    now = storage.timestamp()
    for offset in range(count):
        seq = first_seq + offset
        marks = ["rapid_repeat"] if rng.random() < 0.2 else []
        vote = {
            "id": protocol.uuid7(), "device": device, "seq": seq, "counter": "DN-TT-Q1", "staff": "NV001",
            "rating": rng.randint(1, 5), "reasons": rng.sample(["slow", "rude", "unclear"], rng.randint(0, 2)),
            "ticket": rng.choice([None, "A-001", "Số 12 – Hộ tịch"]), "local_time": now, "scale_version": 1,
        }
        if marks:
            vote["marks"] = marks
        signature = protocol.sign(SIGNING_KEY, protocol.canonical_vote_bytes(vote))
        flags = sorted(set(marks) | ({"clock_skew"} if rng.random() < 0.2 else set()))
        rows.append({
            "uuid": vote["id"], "device_id": device, "seq": seq, "counter_id": counter_id, "staff_id": staff_id,
            "rating": vote["rating"], "reasons": vote["reasons"], "ticket": vote["ticket"], "local_time": now,
            "scale_version": 1, "signature": signature, "digest": "d", "received_at": now,
            "clock_offset_ms": rng.choice([None, 0, -1500]), "batch_id": None, "flags": flags,
            "unit_id": staff_unit, "counter_unit_id": counter_unit, "counted_at": now,
            "time_corrected": rng.randint(0, 1),
        })
    with storage.write_transaction(db):
        batch = batches.insert_batch(db, "votes", device, now, now, 0,
                                     {"accepted": count, "duplicate": 0, "conflict": 0, "rejected": 0})
        votes.insert_votes(db, [dict(row, batch_id=batch) for row in rows])
    return [row["uuid"] for row in rows]


def add_sessions(db, device, count, first_seq=1):
    (counter_id, _), (staff_id, _) = ids(db)
    now = storage.timestamp()
    rows = []
    for offset in range(count):
        event = {"id": protocol.uuid7(), "device": device, "seq": first_seq + offset, "counter": "DN-TT-Q1",
                 "staff": "NV001", "event": "sign_in" if offset % 2 == 0 else "sign_out",
                 "reason": None if offset % 2 == 0 else "idle", "local_time": now}
        rows.append({"uuid": event["id"], "device_id": device, "seq": event["seq"], "counter_id": counter_id,
                     "staff_id": staff_id, "event": event["event"], "reason": event["reason"], "local_time": now,
                     "signature": protocol.sign(SIGNING_KEY, protocol.canonical_session_bytes(event)),
                     "digest": "d", "received_at": now, "clock_offset_ms": 12, "batch_id": None})
    with storage.write_transaction(db):
        sessions.insert_events(db, rows)


def add_audit(db, count):
    with storage.write_transaction(db):
        for i in range(count):
            audit.append(db, {"at": storage.timestamp(), "actor_kind": "cli", "actor": "cli", "address": None,
                              "action": "test", "object_type": "thing", "object_id": str(i), "unit_id": None,
                              "before": None if i % 2 else {"tên": "cũ"}, "after": {"n": i}})
