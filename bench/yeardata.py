"""A province's year, made once and cached: 5,000 staff and 10 million votes for ``bench/scores.py``.

The cache lives in ``bench/work/cache/`` (the ingest bench works in
``bench/work/ingest/`` and never empties it) and is rebuilt only when its
recipe changes (``RECIPE``, written beside it) or it is missing. Later
benches reuse it (issue 10's exports, issue 11's load run).

The organisation goes in through ``hailong org import`` (the real path);
the votes through the storage layer's own inserts, like the ingest bench's
preload, one batch record per 100 votes per device, in time order. What the
votes look like:

- the province ``TINH``, 10 centres, 10 departments each (100 units), 5
  counters and 50 staff per department, one tablet per counter;
- votes on working days (Monday–Friday) within 07:00–11:30 and 13:00–17:00
  local time, over the 12 months ending with the current month;
- each person's share of votes drawn from a log-normal, so some have a handful
  and some several thousand; each person's true satisfaction rate from
  Beta(18, 2) (mean 90%); a satisfied vote is "very satisfied" 70% of the time,
  an unsatisfied one "neutral" 70% of the time.

Signatures and digests are random bytes of the real sizes: nothing here
verifies them, but the rows weigh what real rows weigh. A recipe with
``"signed": True`` (``bench/export.py``'s million votes for the standalone
verifier) makes the same kind of year with real ones instead: each tablet's
key from its seed, every vote a uuid7 signed over its canonical bytes
(``device_client.protocol``), as a tablet would have sent it.
"""

import base64
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import time
import zoneinfo

import numpy as np

from bench import WORK
from device_client import protocol
from devtools.demo_history import store_in_batches
from devtools.processes import BIN
from server import storage
from server.storage import devices

CACHE = os.path.join(WORK, "cache")
TZ = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
RECIPE = {"version": 1, "centres": 10, "departments": 10, "counters": 5, "staff": 50, "votes": 10_000_000,
          "seed": 9}
SLOTS = [(7 * 60, 11 * 60 + 30), (13 * 60, 17 * 60)]  # local minutes of a working day


def cached_year(recipe=RECIPE, cache=CACHE, log=print):
    """The path of the cached year database, made when missing or when its recipe changed."""
    path = year_path(recipe, cache)
    stamp = path + ".recipe.json"
    want = json.dumps(recipe, sort_keys=True)
    if os.path.exists(path) and os.path.exists(stamp) and open(stamp).read() == want:
        migrate(path)  # a newer schema: its migrations fill what they add
        return path
    os.makedirs(cache, exist_ok=True)
    for leftover in (path, path + "-wal", path + "-shm", stamp):
        if os.path.exists(leftover):
            os.remove(leftover)
    started = time.perf_counter()
    log(f"making the year's votes in {path} (once; reused while {os.path.basename(stamp)} matches) ...")
    migrate(path)
    org_import(path, recipe, cache)
    made = generate(path, recipe, log)
    with open(stamp, "w") as handle:
        handle.write(want)
    log(f"  {made:,} votes in {time.perf_counter() - started:.0f} s")
    return path


def year_path(recipe=RECIPE, cache=CACHE):
    """Where ``cached_year`` keeps the year of ``recipe`` (signed years apart from the others)."""
    return os.path.join(cache, f"year-{recipe['votes']}{'-signed' if recipe.get('signed') else ''}.db")


def hailong(database, *args, input_text=None, ok_if_exists=False):
    """Run this tree's ``hailong`` on ``database``; returns what it printed."""
    done = subprocess.run([os.path.join(BIN, "hailong"), "--database", database, *args], capture_output=True,
                          text=True, timeout=600, input=input_text)
    if done.returncode != 0 and not (ok_if_exists and "taken" in done.stdout + done.stderr):
        raise RuntimeError(f"hailong {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def migrate(path):
    hailong(path, "migrate")


def org_codes(recipe):
    """``(units, counters, staff)``: lists of (code, name, parent code)."""
    units = [("TINH", "Tỉnh Bench", "")]
    counters, staff = [], []
    for c in range(1, recipe["centres"] + 1):
        centre = f"TT{c:02d}"
        units.append((centre, f"Trung tâm Phục vụ hành chính công {c}", "TINH"))
        for d in range(1, recipe["departments"] + 1):
            dept = f"{centre}-P{d:02d}"
            units.append((dept, f"Phòng {d} – Trung tâm {c}", centre))
            counters += [(f"{dept}-Q{q}", f"Quầy {q}", dept) for q in range(1, recipe["counters"] + 1)]
            staff += [(f"{dept}-CB{s:02d}", f"Cán bộ {s:02d} {dept}", dept) for s in range(1, recipe["staff"] + 1)]
    return units, counters, staff


def org_import(path, recipe, cache):
    units, counters, staff = org_codes(recipe)
    lines = ["kind,code,name,parent,title,active"]
    lines += [f"unit,{code},{name},{parent},," for code, name, parent in units]
    lines += [f"counter,{code},{name},{parent},," for code, name, parent in counters]
    lines += [f"staff,{code},{name},{parent},Chuyên viên," for code, name, parent in staff]
    csv_path = os.path.join(cache, "org.csv")
    with open(csv_path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    hailong(path, "org", "import", csv_path)


def working_days(today=None):
    """Monday–Friday local dates of the 12 months ending with this month."""
    today = today or dt.datetime.now(TZ).date()
    first = dt.date(today.year - 1, today.month, 1) + dt.timedelta(days=32)
    first = first.replace(day=1)
    last = (dt.date(today.year, today.month, 1) + dt.timedelta(days=32)).replace(day=1)
    days = []
    day = first
    while day < last:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def generate(path, recipe, log):
    """Insert the year's votes; returns how many."""
    rng = np.random.default_rng(recipe["seed"])
    db = storage.connect(path)
    conn = db.conn
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    conn.execute("PRAGMA foreign_keys = OFF")
    staff = np.array(conn.execute("SELECT id, unit_id FROM staff ORDER BY id").fetchall(), dtype=np.int64)
    counter_rows = conn.execute("SELECT id, unit_id FROM counters ORDER BY id").fetchall()
    counters_of = {}
    for counter_id, unit_id in counter_rows:
        counters_of.setdefault(unit_id, []).append(counter_id)
    # Each person works at one counter of their unit; each counter has one tablet.
    home = np.array([counters_of[unit][i % len(counters_of[unit])] for i, (_, unit) in enumerate(staff)])
    counter_unit = dict(counter_rows)
    device_of, keys = {}, {}
    with storage.write_transaction(db):
        for counter_id, _ in counter_rows:
            device_id = f"dev-y{counter_id:05d}"
            seed = rng.bytes(32)  # an unsigned year's "public key" is these random bytes themselves
            keys[device_id] = protocol.signing_key_from_seed(seed)
            public = (protocol.public_key_b64(keys[device_id]) if recipe.get("signed")
                      else base64.b64encode(seed).decode())
            devices.insert_device(db, device_id, counter_id, public, rng.bytes(32).hex(), "2025-01-02T01:00:00.000Z",
                                  "bench-year")
            device_of[counter_id] = device_id
    signer = Signer(conn, keys) if recipe.get("signed") else None
    share = rng.lognormal(0.0, 1.2, len(staff))
    share /= share.sum()
    true_rate = rng.beta(18, 2, len(staff))
    days = working_days()
    per_day = recipe["votes"] // len(days)
    signatures = [base64.b64encode(rng.bytes(64)).decode() for _ in range(4096)]
    digests = [rng.bytes(32).hex() for _ in range(4096)]
    seq = {device: 0 for device in device_of.values()}
    total = 0
    started = time.perf_counter()
    with storage.write_transaction(db):
        for index, day in enumerate(days):
            n = per_day + (recipe["votes"] - per_day * len(days) if index == len(days) - 1 else 0)
            who = rng.choice(len(staff), size=n, p=share)
            slot = rng.integers(0, 2, n)
            starts = np.array([s for s, _ in SLOTS])[slot]
            lengths = np.array([e - s for s, e in SLOTS])[slot]
            seconds = (starts + rng.random(n) * lengths) * 60
            order = np.argsort(seconds)
            who, seconds = who[order], seconds[order]
            satisfied = rng.random(n) < true_rate[who]
            strong = rng.random(n) < 0.7
            rating = np.where(satisfied, np.where(strong, 4, 3), np.where(strong, 2, 1))
            midnight = dt.datetime.combine(day, dt.time(), TZ)
            base_utc = midnight.astimezone(dt.timezone.utc)
            rows_by_device = {}
            for k in range(n):
                person = who[k]
                counter_id = int(home[person])
                device_id = device_of[counter_id]
                moment = midnight + dt.timedelta(seconds=float(seconds[k]))
                utc = base_utc + dt.timedelta(seconds=float(seconds[k]))
                seq[device_id] += 1
                counted = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
                r = int(rating[k])
                row = {
                    "uuid": f"{int(utc.timestamp() * 1000):012x}-7000-8000-{total + k:012x}"[:36],
                    "device_id": device_id, "seq": seq[device_id], "counter_id": counter_id,
                    "staff_id": int(staff[person][0]), "rating": r,
                    "reasons": ["long_wait"] if r < 3 else [], "ticket": f"A{(total + k) % 1000:03d}",
                    "local_time": moment.isoformat(timespec="milliseconds"), "scale_version": 1,
                    "signature": signatures[k % 4096], "digest": digests[(total + k) % 4096],
                    "received_at": counted, "clock_offset_ms": 0, "flags": [],
                    "unit_id": int(staff[person][1]), "counter_unit_id": counter_unit[counter_id],
                    "counted_at": counted, "time_corrected": 0,
                }
                if signer:
                    signer.sign(row, int(utc.timestamp() * 1000), total + k)
                rows_by_device.setdefault(device_id, []).append(row)
            for device_id, rows in rows_by_device.items():
                store_in_batches(db, device_id, rows)
            total += n
            if index % 25 == 0:
                log(f"  {day}: {total:,} votes ({time.perf_counter() - started:.0f} s)")
    conn.execute("PRAGMA journal_mode = WAL")
    db.close()
    return total


class Signer:
    """Real signatures for a signed year: each row becomes the vote its tablet signed."""

    def __init__(self, conn, keys):
        self.keys = keys
        self.counter_code = dict(conn.execute("SELECT id, code FROM counters").fetchall())
        self.staff_code = dict(conn.execute("SELECT id, code FROM staff").fetchall())

    def sign(self, row, ms, n):
        """Give ``row`` a uuid7 (from its time and running number ``n``), its signature and its digest."""
        value = (ms << 80) | (0x7 << 76) | (0b10 << 62) | n
        h = f"{value:032x}"
        row["uuid"] = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        canonical = protocol.canonical_vote_bytes({
            "id": row["uuid"], "device": row["device_id"], "seq": row["seq"],
            "counter": self.counter_code[row["counter_id"]], "staff": self.staff_code[row["staff_id"]],
            "rating": row["rating"], "reasons": row["reasons"], "ticket": row["ticket"],
            "local_time": row["local_time"], "scale_version": row["scale_version"],
        })
        row["signature"] = protocol.sign(self.keys[row["device_id"]], canonical)
        row["digest"] = protocol.vote_digest(canonical)


def copy_of(path, target):
    """A private copy of the cached database (the cache itself is never written by a measurement)."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(target + suffix):
            os.remove(target + suffix)
    source = sqlite3.connect(path)
    source.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    source.close()
    shutil.copyfile(path, target)
    return target
