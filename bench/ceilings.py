"""What each part of the ingest path carries on its own, measured in the bench process on the same votes.

The end-to-end figure is read against these: storing through the storage
layer's inserts (transactions of 100, WAL and ``synchronous=FULL`` as the
server runs), Ed25519 verification, the protocol's item rules, and the whole
pipeline (``server.sync.pipeline.ingest``) without HTTP; plus a cProfile of
the request path through Flask's test client, summarised by area.
"""

import cProfile
import json
import os
import pstats
import time

from bench import RATE_SETTINGS, ROOT
from bench.tablets import body
from device_client import protocol
from server import create_app, storage
from server.settings import DEFAULTS
from server.storage import batches, devices as device_storage, votes as vote_storage
from server.sync import pipeline
from server.sync.streams import VOTES

AREAS = (  # first match wins: (area, substring of "file:function")
    ("Ed25519 verify (PyNaCl)", "nacl"),
    ("Ed25519 verify (PyNaCl)", "_sodium"),
    ("marshmallow validation", "marshmallow"),
    ("SQLite", "sqlite"),
    ("PostgreSQL (psycopg, waiting for the server)", "psycopg"),
    ("JSON encode/decode", "json"),
    ("Flask/Werkzeug", "werkzeug"),
    ("Flask/Werkzeug", "flask"),
    ("hashing (sha256)", "sha256"),
    ("hashing (sha256)", "hashlib"),
    ("regex", "re.py"),
    ("regex", "re.Pattern"),
    ("server code", "/server/"),
    ("protocol (rules, canonical bytes, times)", "device_client"),
    ("datetime", "datetime"),
)


def measure(ceiling_db, ingest_db, devices, per_device, remove=os.remove):
    """Every ceiling, on copies of the database taken before the timed runs, dropped afterwards by
    ``remove`` (files on SQLite, databases on PostgreSQL)."""
    print("measuring ceilings in this process ...")
    sample = sample_votes(devices, min(per_device, 25))
    rules = per_second(sample[:100], protocol.vote_errors)
    ceilings = {
        "raw_insert_votes_per_s": insert_ceiling(ceiling_db, sample),
        "raw_insert_db": "copy of the bench database after the preload (same schema and indexes)",
        "verify_per_s_per_core": verify_ceiling(sample[:100]),
        # The protocol's rules (protocol.vote_errors) replaced both VoteSchema.load
        # and its hand-written fast path is_clean_vote: both keys keep their
        # place in results.json and hold what the rules cost.
        "schema_loads_per_s_per_core": rules,
        "clean_vote_checks_per_s_per_core": rules,
        "ingest_votes_per_s_per_core": ingest_ceiling(ingest_db, sample),
    }
    for path in (ceiling_db, ingest_db):
        remove(path)
    return ceilings


def sample_votes(devices, n_batches):
    """The first ``n_batches`` batches of every device, decoded, in send order per device."""
    return [(device, json.loads(body(i, b))) for b in range(n_batches) for i, device in enumerate(devices)]


def insert_ceiling(database, batches_sent):
    """votes/s storing checked batches with the storage layer's inserts, one write transaction each.

    No dedupe lookups, rules or signatures: only what storing costs.
    """
    db = storage.connect(database)
    now = protocol.format_utc()  # this month's partition on PostgreSQL
    counters = dict(db.execute("SELECT code, id FROM counters").fetchall())
    staff = dict(db.execute("SELECT code, id FROM staff").fetchall())
    units = dict(db.execute("SELECT code, unit_id FROM staff").fetchall())
    counter_units = dict(db.execute("SELECT code, unit_id FROM counters").fetchall())
    prepared = []
    for device, batch in batches_sent:
        rows = [{
            "uuid": v["id"], "device_id": v["device"], "seq": v["seq"], "counter_id": counters[v["counter"]],
            "staff_id": staff[v["staff"]], "rating": v["rating"], "reasons": v["reasons"], "ticket": v["ticket"],
            "local_time": v["local_time"], "scale_version": v["scale_version"], "signature": v["signature"],
            "digest": protocol.vote_digest(protocol.canonical_vote_bytes(v)),
            "received_at": now, "clock_offset_ms": 12, "batch_id": None, "flags": [],
            "unit_id": units[v["staff"]], "counter_unit_id": counter_units[v["counter"]],
            "counted_at": protocol.format_utc(protocol.parse_time(v["local_time"])), "time_corrected": 0,
        } for v in batch["votes"]]
        prepared.append((device["id"], rows))
    counts = {"accepted": 0, "duplicate": 0, "conflict": 0, "rejected": 0}
    started = time.perf_counter()
    for device_id, rows in prepared:
        with storage.write_transaction(db):
            batch_id = batches.insert_batch(db, "votes", device_id, now,
                                            "2026-11-27T16:00:00.000+07:00", 12, {**counts, "accepted": len(rows)})
            for row in rows:
                row["batch_id"] = batch_id
            vote_storage.insert_votes(db, rows)
            batches.set_ack(db, "votes", device_id, rows[-1]["seq"], batch_id)
    elapsed = time.perf_counter() - started
    db.close()
    return round(sum(len(rows) for _, rows in prepared) / elapsed)


def verify_ceiling(batches_sent):
    keys, work = {}, []
    for device, batch in batches_sent:
        key = keys.setdefault(device["id"], protocol.signing_key_from_seed(device["seed"]).verify_key)
        for v in batch["votes"]:
            work.append((key, protocol.canonical_vote_bytes(v), protocol.unb64(v["signature"])))
    started = time.perf_counter()
    for key, message, signature in work:
        key.verify(message, signature)
    return round(len(work) / (time.perf_counter() - started))


def per_second(batches_sent, check):
    """How many votes per second ``check(vote)`` gets through."""
    votes = [v for _, batch in batches_sent for v in batch["votes"]]
    started = time.perf_counter()
    for v in votes:
        check(v)
    return round(len(votes) / (time.perf_counter() - started))


def ingest_ceiling(database, batches_sent):
    """votes/s through server.sync.pipeline.ingest in one process (no HTTP, no Flask)."""
    db = storage.connect(database)
    config = {**DEFAULTS, **RATE_SETTINGS}
    devices = {d["id"]: device_storage.device_for_token(db, d["token"]) for d, _ in batches_sent}
    started = time.perf_counter()
    for device, batch in batches_sent:
        answer = pipeline.ingest(db, devices[device["id"]], batch, config, VOTES)
        if any(r["status"] != "accepted" for r in answer["results"]):
            raise RuntimeError(f"in-process ingest did not accept: {answer['results'][:2]}")
    elapsed = time.perf_counter() - started
    db.close()
    return round(sum(len(b["votes"]) for _, b in batches_sent) / elapsed)


def profile_requests(database, devices, start, n_batches, path):
    """cProfile of the whole request path (Flask test client) in one process; returns its summary."""
    app = create_app({**DEFAULTS, **RATE_SETTINGS, "DATABASE": database})
    client = app.test_client()
    profiler = cProfile.Profile()
    sent = 0
    started = time.perf_counter()
    profiler.enable()
    for b in range(n_batches):
        for i, device in enumerate(devices):
            response = client.post("/api/v1/votes/batch", data=body(i, start + b),
                                   headers={"Authorization": f"Bearer {device['token']}",
                                            "Content-Type": "application/json"})
            assert response.status_code == 200, response.data[:300]
            sent += len(response.get_json()["results"])
    profiler.disable()
    elapsed = time.perf_counter() - started
    profiler.dump_stats(path)
    return {**summarise_profile(path), "votes": sent, "votes_per_s_under_profiler": round(sent / elapsed)}


def summarise_profile(path, top=15):
    stats = pstats.Stats(path)
    total = sum(v[2] for v in stats.stats.values())
    areas, functions = {}, []
    for (filename, line, name), (cc, nc, tt, ct, callers) in stats.stats.items():
        label = f"{filename}:{name}"
        area = next((a for a, needle in AREAS if needle in label), "other Python")
        areas[area] = areas.get(area, 0) + tt
        short = filename.replace(ROOT + "/", "").split("site-packages/")[-1]
        functions.append((tt, ct, nc, f"{short}:{line}({name})"))
    functions.sort(reverse=True)
    return {
        "total_s": round(total, 3),
        "by_area": {a: round(100 * t / total, 1) for a, t in sorted(areas.items(), key=lambda x: -x[1])},
        "top_functions": [
            {"function": f, "calls": nc, "tottime_s": round(tt, 3), "cumtime_s": round(ct, 3)}
            for tt, ct, nc, f in functions[:top]
        ],
    }
