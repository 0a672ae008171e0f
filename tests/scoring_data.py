"""A small organisation and votes written straight into the tables, for the rollup and score tests.

P (province) → A (centre) → A1 (a department); P → B. Two counters per
unit, staff spread over A, A1 and B. Votes are inserted with the columns
the ingest fills (unit at vote time, ``counted_at``), so the tests need
no tablet; tests/test_scores_api.py goes through the real ingest.
"""

import datetime as dt
import itertools
import random

from server.storage import batches, timestamp, write_transaction

UNITS = [("P", "Tỉnh", None), ("A", "Trung tâm A", "P"), ("A1", "Phòng A1", "A"), ("B", "Huyện B", "P")]
COUNTERS = {"A": ["A-Q1", "A-Q2"], "A1": ["A1-Q1"], "B": ["B-Q1", "B-Q2"]}
STAFF = {"A": ["SA1", "SA2", "SA3", "SA4", "SA5", "SA6"], "A1": ["SC1", "SC2"], "B": ["SB1", "SB2", "SB3"]}
_uuids = itertools.count(1)


def make_org(db):
    """Units, counters, staff and one device; returns ``{"units": {code: id}, "counters": …, "staff": …}``."""
    now = timestamp()
    ids = {"units": {}, "counters": {}, "staff": {}}
    with write_transaction(db):
        for code, name, parent in UNITS:
            ids["units"][code] = db.execute(
                "INSERT INTO units (code, name, parent_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                [code, name, ids["units"].get(parent), now, now]).lastrowid
        for unit, codes in COUNTERS.items():
            for code in codes:
                ids["counters"][code] = db.execute(
                    "INSERT INTO counters (code, name, unit_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                    [code, code, ids["units"][unit], now, now]).lastrowid
        for unit, codes in STAFF.items():
            for code in codes:
                ids["staff"][code] = db.execute(
                    "INSERT INTO staff (code, full_name, unit_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                    [code, f"Nhân viên {code}", ids["units"][unit], now, now]).lastrowid
        db.execute("INSERT INTO devices (id, counter_id, public_key, token_hash, enrolled_at) VALUES"
                   " ('dev', 1, 'k', 'h', ?)", [now])
        ids["batch"] = batches.insert_batch(db, "votes", "dev", now, now, 0,
                                            {"accepted": 0, "duplicate": 0, "conflict": 0, "rejected": 0})
    return ids


def add_vote(db, ids, staff, counter, counted_at, rating=4, unit=None, counter_unit=None, flags=None,
             scale_version=1):
    """Insert one vote as the ingest stores it; ``unit``/``counter_unit`` default to where they are now."""
    number = next(_uuids)
    staff_id, counter_id = ids["staff"][staff], ids["counters"][counter]
    unit_id = ids["units"][unit] if unit else db.execute("SELECT unit_id FROM staff WHERE id = ?", [staff_id]).fetchone()[0]
    counter_unit_id = (ids["units"][counter_unit] if counter_unit else
                       db.execute("SELECT unit_id FROM counters WHERE id = ?", [counter_id]).fetchone()[0])
    text = counted_at if isinstance(counted_at, str) else timestamp(counted_at)
    return db.execute(
        "INSERT INTO votes (uuid, device_id, seq, counter_id, staff_id, rating, reasons, ticket, local_time,"
        " scale_version, signature, digest, received_at, clock_offset_ms, batch_id, flags, unit_id,"
        " counter_unit_id, counted_at, time_corrected) VALUES (?, 'dev', ?, ?, ?, ?, '[]', NULL, ?, ?, 's', 'd',"
        " ?, 0, ?, ?, ?, ?, ?, 0)",
        [f"00000000-0000-7000-8000-{number:012d}", number, counter_id, staff_id, rating, text, scale_version,
         text, ids["batch"], ",".join(flags) if flags else None, unit_id, counter_unit_id, text],
    ).lastrowid


def random_moment(rng, start=dt.datetime(2026, 9, 28, tzinfo=dt.timezone.utc), days=40):
    """A moment in ``days`` days from ``start``, often near local midnight (the edge that matters)."""
    day = rng.randrange(days)
    if rng.random() < 0.3:
        seconds = 17 * 3600 + rng.choice([-1, 0, 1]) * rng.randrange(1, 120)  # 00:00 in Hà Nội is 17:00 UTC
    else:
        seconds = rng.randrange(86400)
    return start + dt.timedelta(days=day, seconds=seconds, milliseconds=rng.randrange(1000))


def random_votes(db, ids, rng, count, satisfied_share=0.85):
    """``count`` random votes; a tenth of them carry the kiosk's rapid_repeat mark."""
    out = []
    for _ in range(count):
        unit = rng.choice(list(STAFF))
        staff = rng.choice(STAFF[unit])
        counter = rng.choice(COUNTERS[unit])
        rating = rng.choice([3, 4]) if rng.random() < satisfied_share else rng.choice([1, 2])
        flags = ["rapid_repeat"] if rng.random() < 0.1 else None
        out.append(add_vote(db, ids, staff, counter, random_moment(rng), rating, flags=flags))
    return out


def flag(db, vote_ids, status="open", staff_id=None, timezone="Asia/Ho_Chi_Minh"):
    """A flag over ``vote_ids`` with ``status``, and their (day, staff) pairs marked dirty, as H5's scan does."""
    from server.scoring.days import local_day

    now = timestamp()
    key = f"test-{next(_uuids)}"
    with write_transaction(db):
        flag_id = db.execute(
            "INSERT INTO flags (key, kind, severity, staff_id, test, status, n_votes, created_at)"
            " VALUES (?, 'burst', 'high', ?, 'poisson', ?, ?, ?)",
            [key, staff_id, status, len(vote_ids), now]).lastrowid
        db.conn.executemany("INSERT INTO flag_votes (flag_id, vote_id) VALUES (?, ?)",
                            [(flag_id, v) for v in vote_ids])
        mark_dirty(db, vote_ids, local_day, timezone)
    return flag_id


def review(db, flag_id, status):
    from server.scoring.days import local_day

    with write_transaction(db):
        db.execute("UPDATE flags SET status = ?, reviewed_by = 'hr', reviewed_at = ?, review_reason = 'test'"
                   " WHERE id = ?", [status, timestamp(), flag_id])
        votes = [v for (v,) in db.execute("SELECT vote_id FROM flag_votes WHERE flag_id = ?", [flag_id])]
        mark_dirty(db, votes, local_day)


def mark_dirty(db, vote_ids, local_day, timezone="Asia/Ho_Chi_Minh"):
    marks = ",".join("?" * len(vote_ids))
    pairs = {(local_day(at, timezone), staff) for at, staff in
             db.execute(f"SELECT counted_at, staff_id FROM votes WHERE id IN ({marks})", list(vote_ids))}
    db.conn.executemany("INSERT INTO rollup_dirty (day, staff_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                        sorted(pairs))


def seeded(seed):
    return random.Random(seed)
