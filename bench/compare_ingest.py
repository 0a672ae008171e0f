"""Paired comparison of the ingest pipeline between two revisions, in-process, on the same votes.

On a shared machine the end-to-end figure of ``bench/ingest.py`` moves with
the neighbours' load by more than most changes move it. This asks a narrower
question steadily: how many votes per second does
``server.sync.pipeline.ingest`` get through (no HTTP), in the code of BASE and
of NEW, on copies of one prepared database and the same signed batches? The
rounds alternate which revision goes first, each in a fresh process, and the
answer is the median of the per-round ratios, by wall clock and by the
process's CPU time (the steadier one when the machine is busy).

Example: .venv/bin/python bench/compare_ingest.py --base main            # main against this working tree
         .venv/bin/python bench/compare_ingest.py --base HEAD~3 --new HEAD --rounds 8
"""

import argparse
import json
import os
import pickle
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

MEASURE = r'''
import json, pickle, sys, time
from device_client import protocol
from server import storage
from server.settings import DEFAULTS
from server.storage import devices as device_storage
from server.sync import pipeline
from server.sync.streams import VOTES
db = storage.connect(sys.argv[1])
work = pickle.load(open(sys.argv[2], "rb"))
config = {**DEFAULTS, "DEVICE_RATE_PER_MINUTE": 10_000_000, "DEVICE_RATE_BURST": 1_000_000}
devices = {d["id"]: device_storage.device_for_token(db, d["token"]) for d in work["devices"]}
batches = [(d, json.loads(b'{"device_time":"' + protocol.format_local_time().encode() + tail))
           for d, tail in work["batches"]]
n, started, cpu = 0, time.perf_counter(), time.process_time()
for device_id, batch in batches:
    answer = pipeline.ingest(db, devices[device_id], batch, config, VOTES)
    assert all(r["status"] == "accepted" for r in answer["results"]), answer["results"][:2]
    n += len(batch["votes"])
print(json.dumps([n / (time.perf_counter() - started), n / (time.process_time() - cpu)]))
'''


def tree(revision, folder):
    """The files of ``revision`` (None: this working tree) in ``folder``; returns its path."""
    if revision is None:
        return ROOT
    os.makedirs(folder)
    archive = subprocess.run(["git", "-C", ROOT, "archive", revision], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    return folder


def prepare(work, preload_votes, batches_per_device):
    """A migrated database with the bench org, ``preload_votes`` old votes and 12 enrolled tablets, and their
    signed batches (by this tree's bench modules; the schema must be the same in both revisions)."""
    from bench import preload, tablets

    database = os.path.join(work, "compare.db")
    tablets.hailong("--database", database, "migrate")
    tablets.seed_org(database, work)
    preload.preload(database, preload_votes)
    devices = tablets.enroll_devices(database, 12, work)
    conn = sqlite3.connect(database)  # everything into the main file, which is what each round copies
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    tablets.sign_batches(devices, batches_per_device, 100)
    batches = [(devices[i]["id"], tablets.BODIES[i][b]) for b in range(batches_per_device) for i in range(len(devices))]
    with open(os.path.join(work, "work.pkl"), "wb") as handle:
        pickle.dump({"devices": devices, "batches": batches}, handle)
    return database


def measure(code, database, work):
    """``(votes/s by wall clock, votes/s by CPU time)`` of one fresh process running ``code``'s pipeline."""
    copy = os.path.join(work, "copy.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(copy + suffix):
            os.remove(copy + suffix)
    shutil.copy(database, copy)
    done = subprocess.run([sys.executable, "-c", MEASURE, copy, os.path.join(work, "work.pkl")], cwd=code,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": code})
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="The revision to compare against (e.g. main).")
    parser.add_argument("--new", help="The revision to measure (default: this working tree).")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--preload", type=int, default=200_000, help="Votes in the database beforehand.")
    parser.add_argument("--batches", type=int, default=25, help="100-vote batches per tablet (12 tablets).")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="compare-ingest-") as work:
        base = tree(args.base, os.path.join(work, "base"))
        new = tree(args.new, os.path.join(work, "new"))
        database = prepare(work, args.preload, args.batches)
        results = {"base": [], "new": []}
        for number in range(args.rounds):
            order = [("base", base), ("new", new)] if number % 2 == 0 else [("new", new), ("base", base)]
            for name, code in order:
                results[name].append(measure(code, database, work))
            print(f"round {number + 1}: base {results['base'][-1][1]:,.0f}, new {results['new'][-1][1]:,.0f}"
                  " votes/s by CPU time", flush=True)
    summary = {}
    for index, clock in ((0, "wall"), (1, "cpu")):
        ratios = [n[index] / b[index] for n, b in zip(results["new"], results["base"])]
        summary[clock] = {"base_median": round(statistics.median(b[index] for b in results["base"])),
                          "new_median": round(statistics.median(n[index] for n in results["new"])),
                          "ratio_median": round(statistics.median(ratios), 3),
                          "ratios": [round(r, 3) for r in ratios]}
    print(json.dumps({"base": args.base, "new": args.new or "working tree", **summary}, indent=2))
    return summary


if __name__ == "__main__":
    main()
