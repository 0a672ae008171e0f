"""Months of past votes for the demo province, so the HR pages have something to show.

A demo that starts empty shows "insufficient data" everywhere: evaluation
needs weeks of votes. This writes the months before today as a province
would have collected them: one history tablet per counter, enrolled before
the first vote with a real Ed25519 key, every vote signed with it (an
auditor's check of the demo's votes passes), stored through the storage
layer's inserts with the units of their time, one batch record per 100 votes.

What it looks like: votes on working days between 07:00–11:30 and
13:00–17:00; each person serves at one counter of their unit, with their own
busyness (from a handful of votes a month to dozens a day) and their own true
satisfaction rate; one person, ``SELF_VOTER``, adds about ten "very
satisfied" votes a day in quick bursts during the last month — what the
anomaly scan is there to flag.
"""

import datetime as dt
import random
import zoneinfo

from device_client import protocol
from server import storage
from server.storage import batches, devices, org as org_storage, votes

SELF_VOTER = "NV004"
REASONS_BAD = ["long_wait", "attitude", "unclear_guidance", "wrong_result", "other"]
SLOTS = [(7 * 60, 11 * 60 + 30), (13 * 60, 17 * 60)]


def write_history(database, months=4, timezone="Asia/Ho_Chi_Minh", today=None, seed=2026):
    """Insert ``months`` of signed past votes up to yesterday; returns ``{"votes", "devices", "first_day"}``."""
    zone = zoneinfo.ZoneInfo(timezone)
    today = today or dt.datetime.now(zone).date()
    first_day = _months_before(today, months)
    rng = random.Random(seed)
    db = storage.connect(database)
    try:
        with storage.write_transaction(db):
            org = _org(db)
            tablets = _tablets(db, org, first_day, zone, rng)
            people = _people(org, rng)
            written = 0
            day = first_day
            while day < today:
                if day.weekday() < 5:
                    written += _day(db, day, zone, people, tablets, rng, today)
                day += dt.timedelta(days=1)
            # Retired once their history is in: the live demo tablets serve now,
            # and a history tablet must not show as silent.
            for tablet in tablets.values():
                devices.revoke_device(db, tablet["id"])
    finally:
        db.close()
    return {"votes": written, "devices": len(tablets), "first_day": first_day.isoformat(),
            "last_month": (_months_before(today, 1).isoformat(), (today - dt.timedelta(days=1)).isoformat())}


def _months_before(day, months):
    year, month = day.year, day.month - months
    while month <= 0:
        year, month = year - 1, month + 12
    return dt.date(year, month, 1)


def _org(db):
    """Active counters and staff as ``(id, code, unit id)``, in code order."""
    known = org_storage.org_for_import(db)
    unit_id = {code: row["id"] for code, row in known["unit"].items()}
    return {kind: [(row["id"], code, unit_id[row["parent"]]) for code, row in sorted(known[kind].items())
                   if row["active"]]
            for kind in ("counter", "staff")}


def _tablets(db, org, first_day, zone, rng):
    """One history tablet per counter, enrolled the day before the first vote, with a real key."""
    enrolled = dt.datetime.combine(first_day - dt.timedelta(days=1), dt.time(8), zone)
    tablets = {}
    for counter_id, code, unit_id in org["counter"]:
        key = protocol.signing_key_from_seed(rng.randbytes(32))
        device_id = "dev-demo-" + code.lower()
        devices.insert_device(db, device_id, counter_id, protocol.public_key_b64(key), rng.randbytes(32).hex(),
                              protocol.format_utc(enrolled), "demo-history")
        tablets[counter_id] = {"id": device_id, "code": code, "unit_id": unit_id, "key": key, "seq": 0}
    return tablets


def _people(org, rng):
    counters_of = {}
    for counter_id, _code, unit_id in org["counter"]:
        counters_of.setdefault(unit_id, []).append(counter_id)
    people = []
    for i, (staff_id, code, unit_id) in enumerate(org["staff"]):
        if unit_id not in counters_of:
            continue  # a unit without counters: its people serve nowhere in the demo
        people.append({
            "id": staff_id, "code": code, "unit_id": unit_id,
            "counter": counters_of[unit_id][i % len(counters_of[unit_id])],
            "per_day": rng.choice([0.3, 1, 3, 6, 10, 15]),  # some barely rated, some busy
            "rate": min(0.99, max(0.55, rng.betavariate(14, 2))),
        })
    return people


def _day(db, day, zone, people, tablets, rng, today):
    taps = []
    for person in people:
        for _ in range(_poisson(rng, person["per_day"])):
            taps.append((_moment(day, zone, rng), person, None))
        if person["code"] == SELF_VOTER and (today - day).days <= 31:
            start = _moment(day, zone, rng)
            for k in range(10):  # ten "very satisfied" taps in quick succession, as a self-voter presses
                taps.append((start + dt.timedelta(seconds=8 * k + rng.random() * 6), person, 4))
    taps.sort(key=lambda tap: tap[0])
    by_tablet = {}
    for moment, person, forced in taps:
        tablet = tablets[person["counter"]]
        satisfied = rng.random() < person["rate"]
        rating = forced or (4 if satisfied and rng.random() < 0.7 else 3 if satisfied else
                            2 if rng.random() < 0.7 else 1)
        tablet["seq"] += 1
        vote = {
            "id": protocol.uuid7(int(moment.timestamp() * 1000)), "device": tablet["id"], "seq": tablet["seq"],
            "counter": tablet["code"], "staff": person["code"], "rating": rating,
            "reasons": [rng.choice(REASONS_BAD)] if rating <= 2 and rng.random() < 0.6 else [],
            "ticket": f"{rng.randrange(1, 999):03d}", "local_time": protocol.format_local_time(moment),
            "scale_version": 1,
        }
        canonical = protocol.canonical_vote_bytes(vote)
        counted = protocol.format_utc(moment.astimezone(dt.timezone.utc))
        by_tablet.setdefault(person["counter"], []).append({
            "uuid": vote["id"], "device_id": tablet["id"], "seq": vote["seq"], "counter_id": person["counter"],
            "staff_id": person["id"], "rating": rating, "reasons": vote["reasons"], "ticket": vote["ticket"],
            "local_time": vote["local_time"], "scale_version": 1,
            "signature": protocol.sign(tablet["key"], canonical), "digest": protocol.vote_digest(canonical),
            "received_at": counted, "clock_offset_ms": 0, "flags": [],
            "unit_id": person["unit_id"], "counter_unit_id": tablet["unit_id"], "counted_at": counted,
            "time_corrected": 0,
        })
    for counter_id, rows in by_tablet.items():
        store_in_batches(db, tablets[counter_id]["id"], rows)
    return len(taps)


def store_in_batches(db, device_id, rows, size=100):
    """Past votes of one device (dicts of ``votes.COLUMNS`` but the batch), as the pipeline would have
    stored them: a batch record per ``size`` votes, the device's acknowledgement where the last one left it.
    The scores bench's cached year (``bench/yeardata.py``) is stored the same way."""
    for start in range(0, len(rows), size):
        chunk = rows[start:start + size]
        counts = {"accepted": len(chunk), "duplicate": 0, "conflict": 0, "rejected": 0}
        batch_id = batches.insert_batch(db, "votes", device_id, chunk[-1]["received_at"], chunk[-1]["local_time"],
                                        0, counts)
        for row in chunk:
            row["batch_id"] = batch_id
        votes.insert_votes(db, chunk)
        batches.set_ack(db, "votes", device_id, chunk[-1]["seq"], batch_id)


def _moment(day, zone, rng):
    start, end = SLOTS[rng.randrange(2)]
    minute = start + rng.random() * (end - start - 15)
    return dt.datetime.combine(day, dt.time(), zone) + dt.timedelta(minutes=minute)


def _poisson(rng, lam):
    # Knuth's method: small means only.
    limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
