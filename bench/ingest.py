"""Ingest benchmark: signed votes per second through a real ``hailong serve``.

Builds a fresh server database in bench/work/ingest/ holding 1,000,000 votes, enrolls
bench tablets over HTTP, pre-signs their 100-vote batches, then lets client
processes POST them over keep-alive connections and counts what the server
accepted. The same run measures the ceilings the figure is compared with
(storage inserts, Ed25519 verification, the item rules, the ingest pipeline
in-process) and writes everything to bench/results.json.

Then the same steps run against PostgreSQL in the same run (a durable
throwaway server in the work folder, sharing the cores with the web server
and the tablets): its figures, ceilings and per-vote costs go under the key
``postgresql`` (bench/postgresql.py).

Example: .venv/bin/python bench/ingest.py --workers 3 --threads 2 --clients 6
         .venv/bin/python bench/ingest.py --sweep     # try several configurations

The steps live beside this file: bench/preload.py, bench/tablets.py,
bench/timed_run.py, bench/ceilings.py, bench/report.py (bench/README.md).
"""

import argparse
import os
import shutil
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import RATE_SETTINGS, ROOT, WORK, ceilings, fresh_work_dir, postgresql, preload, report, tablets  # noqa: E402,E501
from bench import timed_run  # noqa: E402
from device_client import protocol  # noqa: E402

SWEEP = [(1, 4, 4), (2, 1, 4), (2, 1, 6), (2, 2, 6), (2, 4, 8), (3, 1, 6), (3, 2, 6)]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # The best of --sweep on 2 cores: one thread per worker (no GIL hand-offs
    # inside a worker) and two requests in flight per core.
    cores = os.cpu_count() or 1
    parser.add_argument("--workers", type=int, default=cores, help="Server workers (default: one per core).")
    parser.add_argument("--threads", type=int, default=1, help="Threads per worker (default 1).")
    parser.add_argument("--clients", type=int, default=2 * cores,
                        help="Client processes, one connection each (default: two per core).")
    parser.add_argument("--devices", type=int, default=12, help="Bench tablets enrolled over HTTP.")
    parser.add_argument("--votes", type=int, help="Votes per configuration (60,000; 30,000 with --sweep).")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--preload", type=int, default=1_000_000, help="Votes in the database beforehand.")
    parser.add_argument("--max-seconds", type=int, default=90, help="Time bound per configuration.")
    parser.add_argument("--sweep", action="store_true", help=f"Try {SWEEP} (workers, threads, clients).")
    parser.add_argument("--no-profile", action="store_true", help="Skip the cProfile of the request path.")
    parser.add_argument("--no-postgresql", action="store_true",
                        help="SQLite only (results.json then holds postgresql: null).")
    parser.add_argument("--pg-servers", type=int, default=1,
                        help="hailong serve processes over the PostgreSQL database, the clients spread over them"
                        " (default 1); --workers, --threads and --clients are each one's.")
    parser.add_argument("--pg-configs", help="PostgreSQL's configurations as WORKERSxTHREADSxCLIENTS[,...], e.g."
                        " 2x1x4,2x2x8 (default: one worker per core x 2 threads, 4 clients per core; with"
                        " --sweep, SQLite's); the best is reported.")
    parser.add_argument("--pg-statements", action="store_true",
                        help="Load pg_stat_statements and list the statements that took PostgreSQL's time"
                        " (costs a little: not for the figures to quote).")
    parser.add_argument("--keep", action="store_true", help="Keep bench/work/ingest/bench.db (about 400 MB) and the"
                        " PostgreSQL server's temporary folder (stopped; its path is printed).")
    parser.add_argument("--work-dir", default=os.path.join(WORK, "ingest"),
                        help="Where the run works (default bench/work/ingest/, emptied first; the cached year of"
                        " bench/work/cache/ is left alone).")
    parser.add_argument("--results", default=report.RESULTS, help="Where to write the results "
                        "(default bench/results.json).")
    args = parser.parse_args(argv)
    args.votes = args.votes or (30_000 if args.sweep else 60_000)
    args.configs = SWEEP if args.sweep else [(args.workers, args.threads, args.clients)]
    # On PostgreSQL a batch waits for some 27 round trips to the database server: a second thread
    # per worker runs while the first waits (2 x 2 with 8 clients carried 5,526 votes/s where
    # 2 x 1 with 4 carried 3,527 in the same run; 4 or 6 workers x 1 fewer: bench/README.md).
    default_pg = SWEEP if args.sweep else [(cores, 2, 4 * cores)]
    args.pg_configs = ([tuple(int(n) for n in c.split("x")) for c in args.pg_configs.split(",")]
                       if args.pg_configs else default_pg)
    args.per_device = -(-args.votes // (args.devices * args.batch_size))  # batches per configuration
    args.profile_batches = 0 if args.no_profile else 4
    return args


def prepare(args, database, work_dir):
    """Migrated, seeded and preloaded database; enrolled tablets (their folders in ``work_dir``); their
    batches signed."""
    tablets.hailong("--database", database, "migrate")
    tablets.seed_org(database, work_dir)
    loaded = preload.preload(database, args.preload)
    print(f"preloaded {loaded['votes']:,} votes ({loaded['devices']} historical devices)"
          f" in {loaded['seconds']} s")
    devices = tablets.enroll_devices(database, args.devices, work_dir)
    print(f"enrolled {len(devices)} bench devices over HTTP")
    n_batches = args.per_device * max(len(args.configs), len(args.pg_configs)) + args.profile_batches
    started = time.perf_counter()
    tablets.sign_batches(devices, n_batches, args.batch_size)
    print(f"signed {n_batches * len(devices) * args.batch_size:,} votes"
          f" in {time.perf_counter() - started:.1f} s")
    return loaded, devices


def checkpoint_copy(database, name):
    """A copy of the database (everything checkpointed into it) beside it, for the ceilings."""
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    copy = os.path.join(os.path.dirname(database), name)
    shutil.copyfile(database, copy)
    return copy


def main(argv=None):
    sys.stdout.reconfigure(line_buffering=True)  # progress shows even when piped to a file
    args = parse_args(argv)
    load_at_start = round(os.getloadavg()[0], 2)  # other work on the machine skews every figure
    args.work_dir = fresh_work_dir(args.work_dir)
    database = os.path.join(args.work_dir, "bench.db")
    print(f"work dir {args.work_dir}", flush=True)
    loaded, devices = prepare(args, database, args.work_dir)
    # Copies for the ceilings, taken before any timed run: there the tablets are still at seq 0.
    ceiling_db = checkpoint_copy(database, "ceiling.db")
    ingest_db = checkpoint_copy(database, "ingest.db")
    print("SQLite:")

    runs, offset = [], 0
    for workers, threads, clients in args.configs:
        run = timed_run.timed_run(database, devices, workers, threads, clients, offset, args.per_device,
                                  args.batch_size, args.max_seconds)
        runs.append(run)
        offset += args.per_device
        print(report.describe(run))

    profile = None
    if args.profile_batches:
        path = os.path.join(args.work_dir, "requests.prof")
        profile = ceilings.profile_requests(database, devices, offset, args.profile_batches, path)

    measured = ceilings.measure(ceiling_db, ingest_db, devices, args.per_device)
    per_device = args.batch_size * (args.per_device * len(args.configs) + args.profile_batches)
    check = timed_run.verify_database(database, devices, per_device, loaded["votes"] + len(devices) * per_device)
    best = max(runs, key=lambda r: r["votes_per_s"])
    verdict = report.print_table(best, measured, os.cpu_count() or 1)
    report.print_check(check, profile)
    sqlite_storage = postgresql.sqlite_storage_per_vote(database)
    on_postgresql = None if args.no_postgresql else run_postgresql(args)

    report.write_results({
        "timestamp": protocol.format_utc(),
        "code": report.code_version(),
        "machine": report.machine(load_at_start),
        "settings": {
            "devices": len(devices), "batch_size": args.batch_size,
            "votes_per_config": args.per_device * len(devices) * args.batch_size,
            "max_seconds": args.max_seconds, **RATE_SETTINGS,
        },
        "preload": loaded,
        "runs": runs,
        "best": best,
        "ceilings": measured,
        "target_votes_per_s": report.TARGET,
        "verdict": verdict,
        "database_check": check,
        "profile": profile,
        "storage_per_vote": sqlite_storage,
        "postgresql": on_postgresql,
    }, args.results)
    print(f"wrote {os.path.relpath(args.results, ROOT)}")
    if not args.keep:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(database + suffix):
                os.remove(database + suffix)
    failed = not check["ok"] or any(r["errors"] for r in runs)
    if on_postgresql:
        failed = failed or not on_postgresql["database_check"]["ok"] or any(r["errors"] for r in on_postgresql["runs"])
    return 1 if failed else 0


def run_postgresql(args):
    """The same steps on a durable throwaway PostgreSQL in the work folder; returns its part of results.json."""
    print()
    cluster, url = postgresql.start(statements=args.pg_statements)
    try:
        tablets_dir = os.path.join(args.work_dir, "postgresql-tablets")
        os.makedirs(tablets_dir)
        loaded, devices = prepare(args, url, tablets_dir)
        facts = postgresql.server_facts(url, cluster)
        copies = {postgresql.copy(cluster, name): name for name in ("ceiling", "ingest")}
        ceiling_db, ingest_db = copies
        meter = postgresql.Meter(cluster, url, statements=args.pg_statements)
        runs, offset = [], 0
        for workers, threads, clients in args.pg_configs:
            run = timed_run.timed_run(url, devices, workers, threads, clients, offset,
                                      args.per_device, args.batch_size, args.max_seconds,
                                      servers=args.pg_servers, meter=meter, work_dir=args.work_dir)
            runs.append(run)
            offset += args.per_device
            print(report.describe(run) + f"; PostgreSQL CPU {run['database_cpu_us_per_vote']} us/vote,"
                  f" WAL {run['wal_bytes_per_vote']} bytes/vote")
        profile = None
        if args.profile_batches:
            path = os.path.join(args.work_dir, "requests-postgresql.prof")
            profile = ceilings.profile_requests(url, devices, offset, args.profile_batches, path)
        measured = ceilings.measure(ceiling_db, ingest_db, devices, args.per_device,
                                    remove=lambda copy: cluster.drop_database(copies[copy]))
        per_device = args.batch_size * (args.per_device * len(args.pg_configs) + args.profile_batches)
        check = timed_run.verify_database(url, devices, per_device, loaded["votes"] + len(devices) * per_device)
        per_vote = postgresql.storage_per_vote(url)
        best = max(runs, key=lambda r: r["votes_per_s"])
        verdict = report.print_postgresql_table(best, measured, per_vote, os.cpu_count() or 1)
        report.print_check(check, profile)
        return {
            "server": facts,
            "settings": {"servers": args.pg_servers, "pg_stat_statements": args.pg_statements},
            "preload": loaded,
            "runs": runs,
            "best": best,
            "ceilings": measured,
            "storage_per_vote": per_vote,
            "target_votes_per_s": report.TARGET_POSTGRESQL,
            "verdict": verdict,
            "database_check": check,
            "profile": profile,
        }
    finally:
        if args.keep:
            cluster.stop()
        else:
            cluster.remove()


def _on_sigterm(signum, frame, main_pid=os.getpid()):
    # In this process SIGTERM unwinds like Ctrl-C, so the server is always stopped.
    # Forked helpers (pool workers, clients) inherit the handler and must just go:
    # Pool.terminate() sends them SIGTERM, and unwinding there can deadlock.
    if os.getpid() == main_pid:
        sys.exit(143)
    os._exit(143)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; the server was stopped", file=sys.stderr)
        sys.exit(130)
