"""The history a real server carries: ``total`` votes from 200 devices, before the clock starts.

Written through the storage layer's own inserts (``insert_device``,
``insert_batch``, ``insert_votes``, ``set_ack``), so the rows are the ones
the pipeline would store: one batch record per 100 votes, uuid7 ids in time
order, each device's acknowledgement where its last batch left it. Worker
processes make the rows (a round of one batch per device per task) while
this process inserts them in batch order, in one transaction without a
journal or fsync: durability does not matter while loading.

On PostgreSQL the monthly partitions of the preload's months are made
first (``partitions.ensure``), as ``hailong jobs`` would have made them
while the votes arrived, and the load is one transaction as well; foreign
keys stay checked there (turning them off would turn off the trigger that
fills ``vote_keys`` too).
"""

import base64
import datetime as dt
import multiprocessing
import os
import random
import time

from device_client import protocol
from server import storage
from server.storage import batches, devices, partitions, votes

TZ = dt.timezone(dt.timedelta(hours=7))
DAY_MS = 86_400_000
ALPHABET = "abcdefghjkmnpqrstvwxyz23456789"


def preload(database, total, per_device=5000, batch_size=100):
    """Insert ``total`` historical votes; returns ``{"votes", "devices", "seconds"}``."""
    started = time.perf_counter()
    db = storage.connect(database)
    conn = db.conn
    sqlite = storage.dialect(db) == "sqlite"
    start_ms = int(time.time() * 1000) - 200 * DAY_MS
    if sqlite:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -1000000")
        # The rows refer to the counters and staff read just below: checking four
        # foreign keys per vote would only slow the load.
        conn.execute("PRAGMA foreign_keys = OFF")
    else:
        first = dt.datetime.fromtimestamp(start_ms / 1000, dt.timezone.utc).date()
        partitions.ensure(db, ahead=9, today=first)
        conn.execute("SET synchronous_commit = off")
    written = 0
    with storage.write_transaction(db):
        history = add_history_devices(db, max(1, total // per_device))
        rounds = -(-total // (len(history) * batch_size))
        step_ms = (199 * DAY_MS) // total
        tasks = [(r, history, start_ms, step_ms, batch_size, total) for r in range(rounds)]
        # spawn, not fork: a forked pool child can inherit a lock another thread held and hang.
        with multiprocessing.get_context("spawn").Pool(max(1, os.cpu_count() - 1)) as pool:
            for round_batches in pool.imap(history_round, tasks):
                for batch, rows in round_batches:
                    written += store(db, batch, rows)
    if sqlite:
        conn.execute("PRAGMA journal_mode = WAL")
    else:
        db.execute("ANALYZE")  # as autovacuum would soon after a load this size
    db.close()
    return {"votes": written, "devices": len(history), "seconds": round(time.perf_counter() - started, 2)}


def store(db, batch, rows):
    """One historical batch, as the pipeline would have stored it; returns its vote count.

    ``rows`` come as tuples in ``votes.COLUMNS`` order and become the dicts
    ``insert_votes`` takes only here: a million dicts unpickled from the pool
    made the load twice as slow (6 s -> 12 s) as tuples do.
    """
    counts = {"accepted": len(rows), "duplicate": 0, "conflict": 0, "rejected": 0}
    batch_id = batches.insert_batch(db, "votes", batch["device_id"], batch["received_at"], batch["device_time"],
                                    0, counts)
    votes.insert_votes(db, [dict(zip(votes.COLUMNS, row), batch_id=batch_id) for row in rows])
    batches.set_ack(db, "votes", batch["device_id"], batch["last_seq"], batch_id)
    return len(rows)


def add_history_devices(db, n):
    """Enroll ``n`` devices spread over the counters; returns ``(device_id, counter_id, staff ids of its unit)``."""
    counters = db.execute("SELECT id, unit_id FROM counters ORDER BY id").fetchall()
    staff_of = {}
    for staff_id, unit_id in db.execute("SELECT id, unit_id FROM staff ORDER BY id"):
        staff_of.setdefault(unit_id, []).append(staff_id)
    rng = random.Random(1)
    history = []
    for i in range(n):
        device_id = "dev-h" + "".join(rng.choice(ALPHABET) for _ in range(7))
        counter_id, unit_id = counters[i % len(counters)]
        devices.insert_device(db, device_id, counter_id, base64.b64encode(rng.randbytes(32)).decode(),
                              rng.randbytes(32).hex(), "2026-01-02T01:00:00.000Z", "bench-history")
        history.append((device_id, counter_id, unit_id, staff_of[unit_id]))
    return history


def history_round(task):
    """Round ``r``: one batch per historical device, votes in time order; runs in a pool worker."""
    r, history, start_ms, step_ms, batch_size, total = task
    rng = random.Random(r)
    round_batches = []
    for d, (device_id, counter_id, unit_id, staff_ids) in enumerate(history):
        done = (r * len(history) + d) * batch_size
        n = min(batch_size, total - done)
        if n <= 0:
            break
        first_ms = start_ms + done * step_ms
        first = dt.datetime.fromtimestamp(first_ms / 1000, TZ)
        received = protocol.format_utc(dt.datetime.fromtimestamp((first_ms + n * step_ms) / 1000, dt.timezone.utc))
        rows = []
        for k in range(n):
            bits = rng.getrandbits(32)
            rating = 1 + (bits & 3)
            moment = first + dt.timedelta(milliseconds=k * step_ms)
            rows.append((  # votes.COLUMNS; the batch id is known once the batch is stored
                fast_uuid7(first_ms + k * step_ms, rng), device_id, r * batch_size + k + 1, counter_id,
                staff_ids[(bits >> 2) % len(staff_ids)], rating, ["long_wait"] if rating < 3 else [],
                f"A{(bits >> 8) % 1000:03d}",
                moment.isoformat(timespec="milliseconds"), 1,
                base64.b64encode(rng.randbytes(64)).decode(), rng.randbytes(32).hex(), received,
                ((bits >> 18) % 1801) - 900, None, [], unit_id, unit_id, protocol.format_utc(moment), 0,
            ))
        batch = {"device_id": device_id, "received_at": received, "device_time": rows[-1][8],
                 "last_seq": r * batch_size + n}
        round_batches.append((batch, rows))
    return round_batches


def fast_uuid7(ms, rng):
    """protocol.uuid7 for a given millisecond, with a seeded generator (fast, reproducible)."""
    rand = rng.getrandbits(74)
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
