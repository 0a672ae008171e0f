"""Load benchmark: 500 tablets online at once while HR reads the score pages and an auditor downloads an export.

On a copy of the province's cached year (``bench/yeardata.py``: 10 million
votes, 500 counters, 5,000 staff, made once under ``bench/work/cache/`` and
shared with ``bench/scores.py`` and ``bench/export.py``), with its votes tree
and rollups caught up first, a real ``hailong serve`` (gunicorn as shipped:
cores + 1 workers x 2 threads, the default rate limits) and a real ``hailong
jobs`` run while, for ``--duration`` seconds (3 minutes by default):

- 500 tablets, one per counter, enrolled over HTTP, each tapping a vote every
  few seconds (``--vote-every``, 5 s on average) and sending it right after
  the tap, signed, as ``hailong-device run`` does; heartbeating every
  ``heartbeat_seconds`` of its configuration and fetching its configuration
  every 10 minutes (``bench/load_fleet.py``: the taps are planned and signed
  before the clock starts, and every latency counts from when the request
  was due, not when it went out);
- three HR officers read the score dashboard, the province's ranking and a
  person's score page, one every few seconds each, and an auditor downloads
  last month's votes export (``bench/load_people.py``).

It prints the figures beside their targets (0 errors, ingest p99 ≤ 100 ms,
page p95 ≤ 300 ms), with the machine's load before the run and the CPU of the
server, of ``hailong jobs`` and of the load generator itself (it shares the
machine), and writes ``bench/load.json``.

Example: .venv/bin/python bench/load.py
         .venv/bin/python bench/load.py --duration 600 --vote-every 3        # longer and busier
         .venv/bin/python bench/load.py --votes 3000 --tablets 6 --duration 10 --vote-every 1 --hr 1 \\
             --page-every 1 --cache /tmp/c --work-dir /tmp/w --results /tmp/l.json        # a smoke run
"""

import argparse
import asyncio
import datetime as dt
import glob
import hashlib
import http.client
import json
import multiprocessing
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import PYTHONPATH, ROOT, WORK, fresh_work_dir, ingest, load_fleet, load_people, report, yeardata  # noqa: E402,E501
from bench import export as export_bench  # noqa: E402
from bench.timed_run import group_cpu_seconds  # noqa: E402
from devtools.processes import Jobs, Server  # noqa: E402

RESULTS = os.path.join(ROOT, "bench", "load.json")
TARGETS = {"errors": 0, "ingest_p99_ms": 100.0, "page_p95_ms": 300.0}
PASSWORD = "load bench password 2026"
# What a prepared copy (--prepared) depends on: the schema and the code that writes the tree and the rollups.
PREPARED_CODE = ("migrations/*.py", "server/ledger/*.py", "server/storage/ledger.py", "server/scoring/rollups.py",
                 "server/storage/rollups.py")
PAGE_KINDS = load_people.PAGES
KINDS = ("votes", "heartbeat", "config", *PAGE_KINDS)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cores = os.cpu_count() or 1
    parser.add_argument("--tablets", type=int, default=500, help="Tablets online at once, one per counter.")
    parser.add_argument("--duration", type=float, default=180, help="Seconds the tablets tap (default 180).")
    parser.add_argument("--vote-every", type=float, default=5.0,
                        help="Mean seconds between a tablet's taps (uniform in 0.5-1.5 times this).")
    parser.add_argument("--config-every", type=float, default=load_fleet.CONFIG_EVERY,
                        help="Seconds between a tablet's configuration fetches (hailong-device run: 600).")
    parser.add_argument("--hr", type=int, default=3, help="HR officers reading the score pages.")
    parser.add_argument("--page-every", type=float, default=3.0, help="Mean seconds between an officer's pages.")
    parser.add_argument("--exports", type=int, default=1, help="Votes exports of last month the auditor downloads.")
    parser.add_argument("--backup", action="store_true",
                        help="Let hailong jobs take its first backup during the run, as it does at once on an"
                        " instance without one (by default BACKUP_EVERY_HOURS=0 for the run: the steady state,"
                        " where a backup is due every 6 hours, not in these minutes).")
    parser.add_argument("--workers", type=int, default=cores + 1,
                        help="Server workers (default cores + 1, as hailong serve; 2 threads each).")
    parser.add_argument("--votes", type=int, default=yeardata.RECIPE["votes"], help="Votes in the cached year.")
    parser.add_argument("--cache", default=yeardata.CACHE, help="Where the cached year lives.")
    parser.add_argument("--work-dir", default=os.path.join(WORK, "load"),
                        help="Where the run works (default bench/work/load/, emptied first; the year's copy,"
                        " about 7 GB at full size, is removed at the end unless --keep).")
    parser.add_argument("--prepared", help="Keep the prepared copy (tree and rollups caught up) in this file and"
                        " start later runs from it while the recipe and code match (about 7 GB at full size).")
    parser.add_argument("--keep", action="store_true", help="Keep the year's copy with the run's votes.")
    parser.add_argument("--results", default=RESULTS, help="Where to write the results (default bench/load.json).")
    return parser.parse_args(argv)


def last_and_this_month():
    today = dt.date.today()
    last = today.replace(day=1) - dt.timedelta(days=1)
    return f"{last.year}-{last.month:02d}", f"{today.year}-{today.month:02d}"


def prepare(args, recipe, work, say):
    """The year's copy (tree and rollups caught up), the people's accounts; returns the copy's path.

    With ``--prepared FILE`` the prepared copy is kept there and reused by later runs while the recipe and
    the code it depends on (``PREPARED_CODE``) are the same: on a busy machine the tree of 10 million votes
    takes many minutes.
    """
    copy = os.path.join(work, "load.db")
    want = json.dumps({"year": recipe, "code": code_fingerprint(), "hr": args.hr}, sort_keys=True)
    stamp = args.prepared + ".recipe.json" if args.prepared else None
    if stamp and os.path.exists(args.prepared) and os.path.exists(stamp) and open(stamp).read() == want:
        started = time.perf_counter()
        yeardata.copy_of(args.prepared, copy)
        export_bench.migrate(os.environ["HAILONG_INSTANCE"], copy)
        say(f"  copied the prepared year {args.prepared} in {time.perf_counter() - started:.0f} s")
        return copy
    year = yeardata.cached_year(recipe, args.cache, log=say)
    started = time.perf_counter()
    yeardata.copy_of(year, copy)
    export_bench.migrate(os.environ["HAILONG_INSTANCE"], copy)
    say(f"  copied and migrated the cached year in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    leaves = export_bench.jobs_work_done(copy)
    say(f"  votes tree ({leaves:,} leaves added) and rollups caught up in {time.perf_counter() - started:.0f} s,"
        " so hailong jobs starts as on a server that has been running")
    for i in range(args.hr):
        yeardata.hailong(copy, "user", "create", "--username", f"load-hr-{i + 1}", "--role", "hr", "--unit", "TINH",
                         "--password-stdin", input_text=PASSWORD + "\n")
    yeardata.hailong(copy, "user", "create", "--username", "load-auditor", "--role", "auditor", "--unit", "TINH",
                     "--password-stdin", input_text=PASSWORD + "\n")
    if stamp:
        yeardata.copy_of(copy, args.prepared)
        with open(stamp, "w") as handle:
            handle.write(want)
        say(f"  kept the prepared year as {args.prepared} for later runs (--prepared)")
    return copy


def code_fingerprint():
    digest = hashlib.sha256()
    for pattern in PREPARED_CODE:
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            digest.update(os.path.relpath(path, ROOT).encode() + b"\0")
            with open(path, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()[:16]


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 1)


def by_kind(samples):
    """Per kind: how many, and the latency percentiles from when it was due (and in flight)."""
    out = {}
    for kind in KINDS:
        pairs = samples.get(kind, [])
        due = [d for d, _ in pairs]
        flight = [f for _, f in pairs]
        out[kind] = {"requests": len(pairs), "p50_ms": percentile(due, 50), "p95_ms": percentile(due, 95),
                     "p99_ms": percentile(due, 99), "max_ms": percentile(due, 100),
                     "in_flight_p50_ms": percentile(flight, 50), "in_flight_p99_ms": percentile(flight, 99)}
    return out


METRIC = "hailong_http_request_duration_seconds_bucket"


def scrape_latency(host, port):
    """``{"METHOD route": {le: count}}`` of the server's own request-time histogram (/metrics, loopback)."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("GET", "/metrics")
        answer = conn.getresponse()
        text = answer.read().decode("utf-8", errors="replace")
    except OSError:
        return {}
    finally:
        conn.close()
    if answer.status != 200:
        return {}
    found = {}
    for line in text.splitlines():
        if not line.startswith(METRIC + "{"):
            continue
        labels, value = line[len(METRIC) + 1:].rsplit("} ", 1)
        fields = dict(part.split("=", 1) for part in labels.split(","))
        fields = {k: v.strip('"') for k, v in fields.items()}
        key = f"{fields.get('method')} {fields.get('route')}"
        found.setdefault(key, {})[fields["le"]] = found.get(key, {}).get(fields["le"], 0) + float(value)
    return found


def server_side(before, after):
    """Per route (most requested first), over the run: requests, and how many the server itself answered within 0.1 s and 0.3 s
    (its histogram: from the app's first line to its last, without the wait in gunicorn's queue); the
    difference from the client's figures is time spent waiting for a thread."""
    out = []
    for key, buckets in after.items():
        done = {le: n - before.get(key, {}).get(le, 0) for le, n in buckets.items()}
        total = done.get("+Inf", 0)
        if total < 1:
            continue
        p99 = next((le for le, n in sorted(((le, n) for le, n in done.items() if le != "+Inf"),
                                           key=lambda item: float(item[0])) if n >= 0.99 * total), "+Inf")
        out.append({"route": key, "requests": int(total), "within_100_ms": round(done.get("0.1", 0) / total, 4),
                    "within_300_ms": round(done.get("0.3", 0) / total, 4), "p99_at_most_s": p99})
    return sorted(out, key=lambda route: -route["requests"])


def log_errors(path, limit=5):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return [line.rstrip() for line in handle if "Traceback" in line or " ERROR " in line
                    or '"level": "ERROR"' in line][:limit]
    except OSError:
        return []


def main(argv=None):
    sys.stdout.reconfigure(line_buffering=True)  # progress shows even when piped to a file
    args = parse_args(argv)
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    print(f"load bench: {export_bench.uptime()} ({cores} cores)")
    if load > cores:
        print(f"  !! the 1-minute load ({load:.2f}) is above the core count: other work shares the machine, and"
              " the latencies will say as much about it as about the server")
    recipe = dict(yeardata.RECIPE, votes=args.votes)
    counters = yeardata.org_codes(recipe)[1]
    if args.tablets > len(counters):
        raise SystemExit(f"the year has {len(counters)} counters; at most that many tablets (one per counter)")
    work = fresh_work_dir(args.work_dir)
    os.environ["HAILONG_INSTANCE"] = os.path.join(work, "instance")  # every hailong started here keeps its key there
    started_all = time.perf_counter()
    print(f"preparing the province's year ({args.votes:,} votes) ...")
    database = prepare(args, recipe, work, print)
    last_month, this_month = last_and_this_month()
    staff_codes = [code for code, _name, _unit in yeardata.org_codes(recipe)[2]]
    env = {"PYTHONPATH": PYTHONPATH}
    server = Server(database, workers=args.workers, env=env, log_path=os.path.join(work, "server.log"))
    jobs = Jobs(database, env=env, log_path=os.path.join(work, "jobs.log"),
                settings=None if args.backup else {"BACKUP_EVERY_HOURS": 0})
    with server, jobs:
        host, port = "127.0.0.1", server.port
        started = time.perf_counter()
        chosen = [code for code, _name, _unit in counters[:args.tablets]]
        codes = load_fleet.issue_codes(database, chosen)
        devices = load_fleet.enroll(server.url, chosen, codes, work)
        print(f"{len(devices)} tablets enrolled and configured over HTTP in {time.perf_counter() - started:.0f} s")
        hr_cookies = [load_people.sign_in(host, port, f"load-hr-{i + 1}", PASSWORD) for i in range(args.hr)]
        auditor_cookie = load_people.sign_in(host, port, "load-auditor", PASSWORD)
        plans = load_fleet.plan_taps(devices, args.duration, args.vote_every)
        n_votes = sum(len(p) for p in plans)
        # The votes carry their planned tap times, so the start is chosen before they are signed; should the
        # signing take longer than planned (a busy machine), the clock starts a second after it instead and
        # the taps' stamps are that much older than their sending (as from a tablet briefly offline).
        start_wall = time.time() + 5 + n_votes / 2000
        started = time.perf_counter()
        load_fleet.sign(devices, plans, start_wall)
        print(f"signed {n_votes:,} votes for the planned taps in {time.perf_counter() - started:.1f} s")
        late = max(0.0, time.time() + 1 - start_wall)
        start_mono = time.monotonic() + (start_wall + late - time.time())
        load_at_start = os.getloadavg()[0]

        recorder = load_fleet.Recorder()
        ctx = multiprocessing.get_context("fork")
        results = ctx.Queue()
        people = ctx.Process(target=load_people.run, daemon=True, args=(
            host, port, hr_cookies, auditor_cookie, (last_month, this_month), staff_codes, args.duration,
            start_mono, args.page_every, args.exports, work, results))
        people.start()
        print(f"running for {args.duration:g} s: {len(devices)} tablets, {args.hr} HR officers,"
              f" {args.exports} export(s) of {last_month} ...")
        cpu_before = {"server": group_cpu_seconds(server.pid), "jobs": group_cpu_seconds(jobs.pid)}
        histogram_before = scrape_latency(host, port)
        time.sleep(max(0.0, start_mono - time.monotonic()))
        wall_before, own_cpu = time.monotonic(), time.process_time()
        try:
            asyncio.run(load_fleet.run(host, port, devices, plans, args.duration, (start_mono, start_wall),
                                       recorder, args.config_every))
            people_result = results.get(timeout=args.duration + 900)
            people.join(30)
        finally:
            if people.is_alive():
                people.terminate()
        wall = time.monotonic() - wall_before
        own_cpu = time.process_time() - own_cpu
        cpu = {"server": group_cpu_seconds(server.pid) - cpu_before["server"],
               "jobs": group_cpu_seconds(jobs.pid) - cpu_before["jobs"]}
        timed_by_server = server_side(histogram_before, scrape_latency(host, port))
        ended = time.perf_counter()
        caught_up = export_bench.caught_up(database, 120)
        tree_lag = round(time.perf_counter() - ended, 1) if caught_up else None
    sent_per_device = [0] * len(devices)
    for i, taps in enumerate(plans):  # every planned tap was sent when its tablet reported no error
        sent_per_device[i] = len(taps)
    check = load_fleet.check_database(database, devices, sent_per_device)

    samples = dict(recorder.samples)
    for kind, due_ms, flight_ms, _size in people_result["pages"]:
        samples.setdefault(kind, []).append((due_ms, flight_ms))
    kinds = by_kind(samples)
    pages = [d for kind in PAGE_KINDS for d, _ in samples.get(kind, [])]
    votes = [d for d, _ in samples.get("votes", [])]
    errors = recorder.errors + people_result["errors"]
    server_errors = log_errors(server.log_path) + log_errors(jobs.log_path)
    figures = {
        "tablets": len(devices),
        "errors": len(errors),
        "ingest_p50_ms": percentile(votes, 50),
        "ingest_p99_ms": percentile(votes, 99),
        "page_p95_ms": percentile(pages, 95),
        "server_cpu_percent": round(100 * cpu["server"] / wall, 1),
    }
    verdicts = {"errors": figures["errors"] == TARGETS["errors"] and check["ok"] and not server_errors,
                "ingest_p99_ms": (figures["ingest_p99_ms"] or 0) <= TARGETS["ingest_p99_ms"],
                "page_p95_ms": (figures["page_p95_ms"] or 0) <= TARGETS["page_p95_ms"]}
    data = {
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": report.machine(round(load, 2)),
        "uptime": export_bench.uptime(),
        "code": report.code_version(),
        **figures,
        "votes_sent": recorder.votes_sent,
        "votes_per_s": round(recorder.votes_sent / wall, 1),
        "requests_per_s": round(sum(k["requests"] for k in kinds.values()) / wall, 1),
        "requests": {kind: k["requests"] for kind, k in kinds.items()},
        "p99_ms": {kind: k["p99_ms"] for kind, k in kinds.items()},
        "latency_by_kind": kinds,
        "server_side": timed_by_server,
        "batch_votes": {"mean": round(sum(recorder.batch_sizes) / max(1, len(recorder.batch_sizes)), 2),
                        "max": max(recorder.batch_sizes, default=0)},
        "exports": people_result["exports"],
        "cpu_percent": {"server": figures["server_cpu_percent"], "jobs": round(100 * cpu["jobs"] / wall, 1),
                        "load_generator": round(100 * (own_cpu + people_result["cpu_s"]) / wall, 1),
                        "of": f"one core; the machine has {cores}"},
        "loadavg_1min_at_run_start": round(load_at_start, 2),
        "loadavg_1min_at_run_end": round(os.getloadavg()[0], 2),
        "run_seconds": round(wall, 1),
        "taps_stamped_early_s": round(late, 1),
        "tree_caught_up_s_after_run": tree_lag,
        "database_check": check,
        "error_samples": errors[:10],
        "server_and_jobs_log_errors": server_errors,
        "settings": {"tablets": args.tablets, "duration_s": args.duration, "vote_every_s": args.vote_every,
                     "config_every_s": args.config_every, "heartbeat_s": devices[0]["heartbeat_seconds"] if devices
                     else None, "hr_readers": args.hr, "page_every_s": args.page_every, "exports": args.exports,
                     "workers": args.workers, "threads": 2, "year_votes": args.votes,
                     "backup_during_run": args.backup},
        "targets": TARGETS,
        "verdict": "PASS" if all(verdicts.values()) else "BELOW",
        "total_seconds": round(time.perf_counter() - started_all),
    }
    print_table(data)
    report.write_results(data, args.results)
    print(f"Written to {args.results}.")
    if not args.keep:
        export_bench.remove(database)
    return 0 if check["ok"] and not errors else 1


def print_table(data):
    kinds = data["latency_by_kind"]
    cpu = data["cpu_percent"]
    rows = [
        ("tablets online at once", f"{data['tablets']:,}", ""),
        ("errors (requests, database check, server and jobs logs)",
         f"{data['errors'] + len(data['database_check']['problems']) + len(data['server_and_jobs_log_errors'])}",
         "target 0"),
        ("ingest latency p50, ms (from the tap)", f"{data['ingest_p50_ms']}", ""),
        ("ingest latency p99, ms (from the tap)", f"{data['ingest_p99_ms']}",
         f"target ≤ {TARGETS['ingest_p99_ms']:g}"),
        ("HR pages p95, ms (from when they were due)", f"{data['page_p95_ms']}",
         f"target ≤ {TARGETS['page_p95_ms']:g}"),
        ("server CPU, % of one core", f"{data['server_cpu_percent']}", f"of {data['machine']['cpu_count'] * 100}"),
        ("hailong jobs CPU, % of one core", f"{cpu['jobs']}", ""),
        ("load generator CPU (tablets and people), % of one core", f"{cpu['load_generator']}", "same machine"),
        ("votes sent (and stored)", f"{data['votes_sent']:,}", f"{data['votes_per_s']} votes/s"),
    ]
    print()
    print(f"{'figure':62} {'value':>10} {'compared with':>18}")
    for name, value, against in rows:
        print(f"{name:62} {value:>10} {against:>18}")
    print(f"\n{'requests by kind':22} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
          f" {'in flight p99':>14}")
    for kind, k in kinds.items():
        figures = [str(k[key]) for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms")]
        print(f"{kind:22} {k['requests']:>7,} {figures[0]:>8} {figures[1]:>8} {figures[2]:>8} {figures[3]:>8}"
              f" {str(k['in_flight_p99_ms']):>14}")
    if data["server_side"]:
        print("\nthe server's own time (its /metrics histogram; the rest of the client's is the wait for a thread):")
        for k in data["server_side"][:8]:
            print(f"  {k['route']:44} {k['requests']:>7,} requests, {100 * k['within_100_ms']:5.1f}% within 100 ms,"
                  f" {100 * k['within_300_ms']:5.1f}% within 300 ms, p99 ≤ {k['p99_at_most_s']} s")
    for record in data["exports"]:
        print(f"export {record['path']}: HTTP {record['status']}, {record['votes']} votes,"
              f" {record['bytes'] / 1e6:.1f} MB in {record['seconds']} s (first byte {record['first_byte_s']} s)")
    check = data["database_check"]
    print(f"database check: {'OK' if check['ok'] else 'FAILED'} ({check['votes_stored']:,} of"
          f" {check['votes_expected']:,} votes stored, {check['incidents']} incidents)"
          f"{'; ' + '; '.join(check['problems']) if check['problems'] else ''}")
    for line in data["error_samples"] + data["server_and_jobs_log_errors"]:
        print(f"  !! {line}")
    print(f"tree caught up {data['tree_caught_up_s_after_run']} s after the run; load at the run's start"
          f" {data['loadavg_1min_at_run_start']}, end {data['loadavg_1min_at_run_end']}; verdict {data['verdict']}")


if __name__ == "__main__":
    # bench/ingest.py's handler: SIGTERM unwinds like Ctrl-C here (the server and jobs are stopped), forked
    # helpers just go.
    signal.signal(signal.SIGTERM, ingest._on_sigterm)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; the server and jobs were stopped", file=sys.stderr)
        sys.exit(130)
