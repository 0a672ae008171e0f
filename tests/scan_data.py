"""A simulated unit in a real SQLite file for the scan's plumbing tests: honest staff and one self-voter.

Unit SIM (under DN) has eight staff, each at their own counter and tablet,
open Mon–Fri 07:00–11:30 and 13:00–17:00 (UTC+7, the default hours). Each
honest person gets citizens at their own rate (3 to 6 an hour), 60% of whom
vote with the person's own mix of levels; they sign in at 06:55 and out at
17:05. The self-voter (SIM-CHEAT) adds ``extra_per_day`` top votes a day in
bursts of five taps 10 s apart, half of them in the lunch break. The weeks
are ``weeks`` Monday-started weeks ending on ``last_day``'s week.
"""

import datetime as dt

import numpy as np

from migrations import migrations
from server import orgimport, storage
from server.storage import batches, votes
from tests.live import ORG_CSV
from tests.people import enroll_fake_device

HONEST = [f"SIM-{i}" for i in range(1, 8)]
CHEAT = "SIM-CHEAT"
TZ = dt.timezone(dt.timedelta(hours=7))
OPEN = ((7.0, 11.5), (13.0, 17.0))


def org_csv():
    rows = [ORG_CSV.rstrip("\n"), "unit,SIM,Bộ phận mô phỏng,DN,,"]
    for code in HONEST + [CHEAT]:
        rows.append(f"counter,Q-{code},Quầy {code},SIM,,")
        rows.append(f"staff,{code},Cán bộ {code},SIM,Chuyên viên,")
    return "\n".join(rows) + "\n"


def _utc(local):
    return storage.timestamp(local.astimezone(dt.timezone.utc))


def build(path, tmp_path, first_day, days, extra_per_day=20, seed=7, rapid_repeat=()):
    """Migrate, import the org, cast ``days`` days of votes from ``first_day`` (a date); returns facts.

    ``rapid_repeat``: ``(staff code, day index)`` pairs whose first vote of the day carries the kiosk's mark.
    """
    rng = np.random.default_rng(seed)
    db = storage.connect(path)
    migrations.apply(db)
    (tmp_path / "sim.csv").write_text(org_csv(), encoding="utf-8")
    orgimport.import_file(db, str(tmp_path / "sim.csv"))
    facts = {"staff": {}, "cheat_votes": 0}
    rows, sessions = [], []
    for code in HONEST + [CHEAT]:
        staff = db.execute("SELECT id, unit_id FROM staff WHERE code = ?", [code]).fetchone()
        counter = db.execute("SELECT id, unit_id FROM counters WHERE code = ?", [f"Q-{code}"]).fetchone()
        device = enroll_fake_device(db, f"Q-{code}", key=code[-1].lower())
        facts["staff"][code] = staff[0]
        rate = rng.uniform(3, 6)
        mix = rng.dirichlet([2, 3, 12, 20])  # levels 1..4 (4 = top)
        for index in range(days):
            day = first_day + dt.timedelta(days=index)
            if day.weekday() >= 5:
                continue
            midnight = dt.datetime.combine(day, dt.time(), TZ)
            times = []
            for start, end in OPEN:
                n = rng.poisson(rate * (end - start) * 0.6)
                times += list(rng.uniform(start, end, n) * 3600)
            ratings = list(rng.choice([1, 2, 3, 4], size=len(times), p=mix))
            if code == CHEAT:
                for burst in range(extra_per_day // 5):
                    base = rng.uniform(11.6, 12.9) if burst % 2 else rng.uniform(8, 16.5)
                    times += [base * 3600 + 10 * k for k in range(5)]
                    ratings += [4] * 5
                facts["cheat_votes"] += extra_per_day // 5 * 5
            order = np.argsort(times)
            marked_today = (code, index) in rapid_repeat
            for position, i in enumerate(order):
                moment = midnight + dt.timedelta(seconds=float(times[i]))
                rows.append({
                    "device": device, "counter": counter, "staff": staff, "rating": int(ratings[i]),
                    "local_time": moment.isoformat(timespec="milliseconds"), "counted_at": _utc(moment),
                    "flags": ["rapid_repeat"] if marked_today and position == 0 else [],
                })
            for event, hour in (("sign_in", 6 + 55 / 60), ("sign_out", 17 + 5 / 60)):
                moment = midnight + dt.timedelta(hours=hour)
                sessions.append((device, counter[0], staff[0], event, moment.isoformat(timespec="milliseconds")))
    _store(db, rows, sessions)
    db.close()
    return facts


def _store(db, rows, sessions):
    now = storage.timestamp()
    with storage.write_transaction(db):
        batch_of, seq = {}, {}
        for row in rows:
            device = row["device"]
            if device not in batch_of:
                batch_of[device] = batches.insert_batch(db, "votes", device, now, now, 0,
                                                        {"accepted": 0, "duplicate": 0, "conflict": 0, "rejected": 0})
            seq[device] = seq.get(device, 0) + 1
        counters = {device: 0 for device in batch_of}
        ordered = sorted(rows, key=lambda r: r["counted_at"])
        items = []
        for number, row in enumerate(ordered):
            counters[row["device"]] += 1
            items.append({
                "uuid": f"00000000-0000-7000-8000-{number:012d}", "device_id": row["device"],
                "seq": counters[row["device"]], "counter_id": row["counter"][0], "staff_id": row["staff"][0],
                "rating": row["rating"], "reasons": [], "ticket": None, "local_time": row["local_time"],
                "scale_version": 1, "signature": "sig", "digest": "digest", "received_at": now,
                "clock_offset_ms": 0, "batch_id": batch_of[row["device"]], "flags": row["flags"],
                "unit_id": row["staff"][1], "counter_unit_id": row["counter"][1], "counted_at": row["counted_at"],
                "time_corrected": 0,
            })
        votes.insert_votes(db, items)
        for device, last in counters.items():
            batches.set_ack(db, "votes", device, last, batch_of[device])
        seqs = {}
        for number, (device, counter_id, staff_id, event, local_time) in enumerate(sessions):
            seqs[device] = seqs.get(device, 0) + 1
            db.execute(
                "INSERT INTO staff_sessions (uuid, device_id, seq, counter_id, staff_id, event, local_time, signature,"
                " digest, received_at, clock_offset_ms) VALUES (?, ?, ?, ?, ?, ?, ?, 'sig', 'digest', ?, 0)",
                [f"00000000-0000-7000-9000-{number:012d}", device, seqs[device], counter_id, staff_id, event,
                 local_time, now],
            )
