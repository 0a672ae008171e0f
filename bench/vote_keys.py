"""Where the keys of partitioned votes live on PostgreSQL: the shipped trigger against two alternatives.

PostgreSQL enforces a unique index on a partitioned table only when it holds
the partition key, and votes are partitioned by ``received_at``. The keys
that make ingest exactly-once (the vote's uuid; device and sequence number)
must be unique across every month, so migrations/postgres.py keeps them in
``vote_keys``, one unpartitioned table written by the BEFORE INSERT trigger
``votes_key``. This bench measures that choice against:

- ``explicit``: the same table written by the storage code itself (an
  ``INSERT INTO vote_keys ... RETURNING id`` per vote, then the vote with
  that id), no trigger;
- ``uniques``: no key table; unique indexes ``(uuid, received_at)`` and
  ``(device_id, seq, received_at)`` on votes (what PostgreSQL allows) and
  the dedupe pre-check as the only guard across months: the database then
  no longer refuses a vote stored twice with different arrival times.

One durable throwaway PostgreSQL (``devtools/postgres.Cluster(durable=True)``)
holds one database per variant, copied from one preloaded database (the
ingest bench's preload: 200 devices, votes over 200 days through the storage
layer's inserts), with ``--months`` monthly partitions made. Then, in rounds
that alternate the variants' order, each stores ``--batches`` batches of
100 new votes from one connection as the pipeline does: in one transaction
each, the two dedupe lookups (by uuid; by device and seq) and the inserts,
committed durably. Per variant it reports votes/s (median of rounds), the
PostgreSQL server's CPU and the WAL per vote, and the bytes each stored vote
takes in votes, vote_keys and their indexes.

Example: .venv/bin/python bench/vote_keys.py                     # 300,000 votes preloaded, 12 and 120 months
         .venv/bin/python bench/vote_keys.py --preload 2000 --batches 5 --rounds 1 --months 12 --results /tmp/k.json
"""

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import ROOT, WORK, fresh_work_dir, postgresql, preload, report, tablets  # noqa: E402
from device_client import protocol  # noqa: E402
from server import storage  # noqa: E402
from server.storage import partitions  # noqa: E402
from server.storage import votes as vote_storage  # noqa: E402

VARIANTS = ("trigger", "explicit", "uniques")
RESULTS = os.path.join(ROOT, "bench", "vote_keys.json")
COLUMNS = vote_storage.COLUMNS
INSERT_VOTES = f"INSERT INTO votes ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
INSERT_WITH_ID = f"INSERT INTO votes (id, {', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * (len(COLUMNS) + 1))})"
INSERT_KEY = "INSERT INTO vote_keys (uuid, device_id, seq, received_at) VALUES (%s, %s, %s, %s) RETURNING id"
# The dedupe lookups of a batch, as the pipeline makes them, against where each variant keeps the keys.
LOOKUPS = {
    "vote_keys": ("SELECT uuid FROM vote_keys WHERE uuid = ANY(%s)",
                  "SELECT seq FROM vote_keys WHERE device_id = %s AND seq = ANY(%s)"),
    "votes": ("SELECT uuid FROM votes WHERE uuid = ANY(%s)",
              "SELECT seq FROM votes WHERE device_id = %s AND seq = ANY(%s)"),
}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preload", type=int, default=300_000, help="Votes in each database beforehand.")
    parser.add_argument("--batches", type=int, default=100, help="100-vote batches per variant and round.")
    parser.add_argument("--rounds", type=int, default=5, help="Rounds, the variants' order alternating.")
    parser.add_argument("--months", type=int, nargs="+", default=[12, 120],
                        help="Monthly partitions in the database (each figure is measured at each count).")
    parser.add_argument("--work-dir", default=os.path.join(WORK, "vote_keys"), help="Emptied first.")
    parser.add_argument("--results", default=RESULTS, help="Default bench/vote_keys.json.")
    return parser.parse_args(argv)


def prepare(cluster, work_dir, n):
    """The preloaded database every variant is copied from; returns the history devices' ids."""
    url = cluster.url(postgresql.DATABASE)
    tablets.hailong("--database", url, "migrate")
    tablets.seed_org(url, work_dir)
    preload.preload(url, n)
    db = storage.connect(url)
    try:
        return db.execute("SELECT d.id, d.counter_id, c.unit_id, MAX(v.seq) FROM devices d"
                          " JOIN counters c ON c.id = d.counter_id JOIN votes v ON v.device_id = d.id"
                          " GROUP BY d.id, d.counter_id, c.unit_id ORDER BY d.id").fetchall()
    finally:
        db.close()


def add_months(url, months):
    """Partitions up to ``months`` in all (the preload's months and the ones after)."""
    db = storage.connect(url)
    try:
        have = len(partitions.existing(db))
        if months > have:
            first = partitions.existing(db)[0][1]
            partitions.ensure(db, ahead=months - 1, today=dt.date(int(first[:4]), int(first[5:7]), 1))
        return len(partitions.existing(db))
    finally:
        db.close()


def make_variant(cluster, variant, months):
    """A copy of the preloaded database shaped as ``variant``; returns its URL."""
    name = f"{variant}_{months}"
    cluster.psql(f'CREATE DATABASE "{name}" TEMPLATE "{postgresql.DATABASE}" STRATEGY FILE_COPY')
    url = cluster.url(name)
    if variant == "explicit":
        cluster.psql("DROP TRIGGER votes_key ON votes", name)
    elif variant == "uniques":
        cluster.psql(
            "DROP TRIGGER votes_key ON votes;"
            " CREATE SEQUENCE votes_id_seq;"
            " SELECT setval('votes_id_seq', (SELECT MAX(id) FROM votes));"
            " ALTER TABLE votes ALTER COLUMN id SET DEFAULT nextval('votes_id_seq');"
            " CREATE UNIQUE INDEX votes_uuid_at ON votes(uuid, received_at);"
            " CREATE UNIQUE INDEX votes_device_seq_at ON votes(device_id, seq, received_at);"
            " DROP TABLE vote_keys CASCADE", name)
    cluster.psql("VACUUM ANALYZE", name)
    return url


def batches_of(devices, start_round, n_batches, size=100):
    """New votes of the history devices, after the seqs they have: ``[(device_id, rows)]``."""
    rng = random.Random(start_round)
    out = []
    for b in range(n_batches):
        g = start_round * n_batches + b  # every batch of the run has its own device and seqs
        device_id, counter_id, unit_id, last_seq = devices[g % len(devices)]
        first = last_seq + 1 + size * (g // len(devices))
        now_ms = int(time.time() * 1000)
        received = protocol.format_utc()
        rows = []
        for k in range(size):
            at = protocol.format_utc(dt.datetime.fromtimestamp((now_ms - 60_000 + k) / 1000, dt.timezone.utc))
            rows.append((preload.fast_uuid7(now_ms - 60_000 + k, rng), device_id, first + k, counter_id, None,
                         1 + k % 4, "[]", "A001", at, 1, "s" * 88, "d" * 64, received, 12, None, None, unit_id,
                         unit_id, at, 0))
        out.append((device_id, rows))
    return out


def store(raw, variant, device_id, rows, staff_id, batch_id):
    """One batch as the pipeline stores it: lookups, inserts, one durable commit."""
    rows = [row[:4] + (staff_id,) + row[5:14] + (batch_id,) + row[15:] for row in rows]
    by_uuid, by_seq = LOOKUPS["votes" if variant == "uniques" else "vote_keys"]
    with raw.transaction():
        with raw.cursor() as cur:
            assert not cur.execute(by_uuid, [[r[0] for r in rows]]).fetchall()
            assert not cur.execute(by_seq, [device_id, [r[2] for r in rows]]).fetchall()
            if variant == "explicit":
                cur.executemany(INSERT_KEY, [(r[0], r[1], r[2], r[12]) for r in rows], returning=True)
                ids = []
                while True:
                    ids.append(cur.fetchone()[0])
                    if not cur.nextset():
                        break
                cur.executemany(INSERT_WITH_ID, [(i, *r) for i, r in zip(ids, rows)])
            else:
                cur.executemany(INSERT_VOTES, rows)


def timed(cluster, url, variant, work, staff_id, batch_id):
    db = storage.connect(url)
    raw = db.conn.raw
    lsn = db.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
    cpu, client = postgresql.cpu_seconds(cluster), time.process_time()
    started = time.perf_counter()
    for device_id, rows in work:
        store(raw, variant, device_id, rows, staff_id, batch_id)
    seconds = time.perf_counter() - started
    cpu, client = postgresql.cpu_seconds(cluster) - cpu, time.process_time() - client
    (wal,) = db.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), ?::pg_lsn)", [lsn]).fetchone()
    db.close()
    votes = sum(len(rows) for _, rows in work)
    return {"votes_per_s": votes / seconds, "database_cpu_us_per_vote": 1e6 * cpu / votes,
            "client_cpu_us_per_vote": 1e6 * client / votes, "wal_bytes_per_vote": int(wal) / votes}


def sizes(url, variant):
    db = storage.connect(url)
    try:
        (votes,) = db.execute("SELECT COUNT(*) FROM votes").fetchone()
        table, indexes = db.execute(
            "SELECT SUM(pg_table_size(relid)), SUM(pg_indexes_size(relid)) FROM pg_partition_tree('votes')"
            " WHERE isleaf").fetchone()
        keys = (0, 0) if variant == "uniques" else db.execute(
            "SELECT pg_table_size('vote_keys'), pg_indexes_size('vote_keys')").fetchone()
    finally:
        db.close()
    per = [round(int(x) / votes, 1) for x in (table, indexes, *keys)]
    return {"votes": per[0], "votes_indexes": per[1], "vote_keys": per[2], "vote_keys_indexes": per[3],
            "total": round(sum(per), 1)}


def main(argv=None):
    sys.stdout.reconfigure(line_buffering=True)
    args = parse_args(argv)
    load_at_start = round(os.getloadavg()[0], 2)
    work_dir = fresh_work_dir(args.work_dir)
    cluster, url = postgresql.start()
    try:
        started = time.perf_counter()
        devices = prepare(cluster, work_dir, args.preload)
        print(f"preloaded {args.preload:,} votes in {time.perf_counter() - started:.0f} s")
        db = storage.connect(url)
        staff_id = db.execute("SELECT MIN(id) FROM staff").fetchone()[0]
        batch_id = db.execute("SELECT MIN(id) FROM sync_batches").fetchone()[0]
        db.close()
        by_months, round_no = {}, 0
        for months in sorted(args.months):
            made = add_months(url, months)
            urls = {variant: make_variant(cluster, variant, months) for variant in VARIANTS}
            figures = {variant: [] for variant in VARIANTS}
            for r in range(args.rounds):
                order = VARIANTS if r % 2 == 0 else VARIANTS[::-1]
                work = batches_of(devices, round_no, args.batches)  # the same votes for every variant
                round_no += 1
                for variant in order:
                    figures[variant].append(timed(cluster, urls[variant], variant, work, staff_id, batch_id))
            result = {}
            for variant in VARIANTS:
                runs = figures[variant]
                result[variant] = {
                    **{key: round(statistics.median(run[key] for run in runs), 1) for key in runs[0]},
                    "bytes_per_vote": sizes(urls[variant], variant),
                    "votes_per_s_by_round": [round(run["votes_per_s"]) for run in runs],
                }
                cluster.drop_database(f"{variant}_{months}")
            by_months[str(made)] = result
            print(f"\n{made} monthly partitions ({args.preload:,} votes preloaded, {args.rounds} rounds of"
                  f" {args.batches} batches of 100):")
            print(f"  {'variant':9} {'votes/s':>8} {'PG CPU us':>10} {'client us':>10} {'WAL B':>7} {'bytes/vote':>11}")
            for variant, f in result.items():
                print(f"  {variant:9} {f['votes_per_s']:>8,.0f} {f['database_cpu_us_per_vote']:>10.1f}"
                      f" {f['client_cpu_us_per_vote']:>10.1f} {f['wal_bytes_per_vote']:>7,.0f}"
                      f" {f['bytes_per_vote']['total']:>11,.0f}")
        print(f"(1-minute load average at the start: {load_at_start} on {os.cpu_count()} cores)")
        report.write_results({
            "timestamp": protocol.format_utc(), "code": report.code_version(),
            "machine": report.machine(load_at_start),
            "settings": {"preload": args.preload, "batches": args.batches, "rounds": args.rounds,
                         "server": postgresql.server_facts(url, cluster)},
            "by_partitions": by_months,
        }, args.results)
        print(f"wrote {os.path.relpath(args.results, ROOT)}")
    finally:
        cluster.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
