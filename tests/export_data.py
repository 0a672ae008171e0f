"""Many stored votes, fast, for the export tests: through the storage layer's own inserts, like the
bench's preload (bench/yeardata.py), with the votes tree caught up.

Signatures are random bytes of the real size: the exports copy them, nothing here checks them.
"""

import base64
import datetime as dt
import random

from devtools.demo_history import store_in_batches
from server import storage
from server.ledger import log
from server.storage import staff as staff_storage

# (counter, staff) pairs the votes go round: DN-TT's two counters and DN-BH's one (tests/live.py ORG_CSV).
SEATS = (("DN-TT-Q1", "NV001"), ("DN-TT-Q2", "NV002"), ("DN-BH-Q1", "NV004"), ("DN-TT-Q1", "NV003"))


def add_votes(db, devices, n, first_day="2026-10-01", days=30, seed=7, tickets=None, catch_up=True):
    """``n`` votes spread over ``days`` local days from ``first_day``, round the ``SEATS``.

    ``devices`` maps a counter code to its device id. Ticket numbers are
    ``A001``…, or taken in turn from ``tickets`` when given (texts a
    spreadsheet would run, for instance). Returns how many were stored.
    """
    rng = random.Random(seed)
    counters = {code: storage.org.counter_by_code(db, code) for code, _ in SEATS}
    staff = {code: staff_storage.detail(db, code) for _, code in SEATS}
    signatures = [base64.b64encode(rng.randbytes(64)).decode() for _ in range(256)]
    seq = {device: _last_seq(db, device) for device in devices.values()}
    start = dt.datetime.fromisoformat(first_day + "T01:00:00+00:00")
    step = dt.timedelta(days=days) / max(n, 1)
    per_device = {}
    for k in range(n):
        counter_code, staff_code = SEATS[k % len(SEATS)]
        device = devices[counter_code]
        seq[device] += 1
        moment = start + step * k
        text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        rating = 1 + (k * 7919) % 4
        per_device.setdefault(device, []).append({
            "uuid": f"{k:08x}-0000-7000-8000-{seed:012x}", "device_id": device, "seq": seq[device],
            "counter_id": counters[counter_code]["id"], "staff_id": staff[staff_code]["id"], "rating": rating,
            "reasons": ["long_wait"] if rating < 3 else [],
            "ticket": tickets[k % len(tickets)] if tickets else f"A{k % 1000:03d}",
            "local_time": text, "scale_version": 1, "signature": signatures[k % 256], "digest": f"{k:064x}",
            "received_at": text, "clock_offset_ms": 0, "flags": [], "unit_id": staff[staff_code]["unit_id"],
            "counter_unit_id": counters[counter_code]["unit_id"], "counted_at": text, "time_corrected": 0,
        })
        if len(per_device[device]) >= 10_000:
            _store(db, device, per_device.pop(device))
    for device, rows in per_device.items():
        _store(db, device, rows)
    if catch_up:
        log.catch_up(db, "votes", chunk=50_000)
    return n


def _store(db, device, rows):
    with storage.write_transaction(db):
        store_in_batches(db, device, rows, size=1000)


def _last_seq(db, device):
    return db.execute("SELECT COALESCE(MAX(seq), 0) FROM votes WHERE device_id = ?", [device]).fetchone()[0]
