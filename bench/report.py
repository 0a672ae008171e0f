"""What a run found: one line per configuration, the table against the ceilings, and bench/results.json."""

import json
import os
import platform
import sqlite3
import subprocess

from bench import ROOT

RESULTS = os.path.join(ROOT, "bench", "results.json")
TARGET = 8000  # signed votes per second
TARGET_POSTGRESQL = 4000  # the same on PostgreSQL, its server sharing the cores (issue 12)


def describe(run):
    """One configuration's figures on one line."""
    line = (f"  {run['workers']} workers x {run['threads']} threads, {run['clients']} clients:"
            f" {run['votes_per_s']:>6,} votes/s ({run['votes_sent']:,} in {run['seconds']} s,"
            f" p50 {run['latency_ms']['p50']} ms, p95 {run['latency_ms']['p95']} ms;"
            f" server CPU {run['server_cpu_us_per_vote']} us/vote; load {run['loadavg_1min_before']})")
    if run["errors"]:
        line += f" ERRORS {run['errors']}"
    if run["votes_stored"] != run["votes_sent"]:
        line += f" !! {run['votes_stored']:,} stored for {run['votes_sent']:,} acknowledged"
    return line


def print_table(best, ceilings, cores):
    """The best run against every ceiling and the target; returns the verdict (PASS or BELOW)."""
    v = best["votes_per_s"]
    rows = [
        ("storage inserts, 1 process (same rows, txns of 100, FULL)", ceilings["raw_insert_votes_per_s"]),
        (f"Ed25519 verify per core x {cores} cores", cores * ceilings["verify_per_s_per_core"]),
        (f"protocol.vote_errors (the item rules) per core x {cores} cores",
         cores * ceilings["clean_vote_checks_per_s_per_core"]),
        (f"pipeline.ingest in-process per core x {cores} cores", cores * ceilings["ingest_votes_per_s_per_core"]),
        (f"{cores} idle cores / (server {best['server_cpu_us_per_vote']:.0f} + client"
         f" {best['client_cpu_us_per_vote']:.0f} us CPU per vote)", best["cpu_bound_votes_per_s"]),
    ]
    print()
    print(f"{'figure':72} {'value/s':>8} {'ceiling/s':>9} {'ratio':>6}")
    label = f"end to end, signed votes ({best['workers']}w x {best['threads']}t, {best['clients']} clients)"
    print(f"{label:72} {v:>8,}")
    for name, ceiling in rows:
        print(f"  vs {name:68} {'':>8} {ceiling:>9,} {v / ceiling:>6.2f}")
    verdict = "PASS" if v >= TARGET else "BELOW"
    print(f"{'target':72} {TARGET:>8,} {'':>9} {v / TARGET:>6.2f}  {verdict}")
    print(f"(1-minute load average before the run: {best['loadavg_1min_before']} on {cores} cores)")
    return verdict


def print_postgresql_table(best, ceilings, per_vote, cores):
    """The PostgreSQL run against its own ceilings of the same run and its target; returns the verdict."""
    v = best["votes_per_s"]
    cpu = best["server_cpu_us_per_vote"] + best["client_cpu_us_per_vote"] + best["database_cpu_us_per_vote"]
    rows = [
        ("storage inserts, 1 process (txns of 100, durable PostgreSQL)",
         ceilings["raw_insert_votes_per_s"]),
        (f"pipeline.ingest in-process per core x {cores} cores",
         cores * ceilings["ingest_votes_per_s_per_core"]),
        (f"{cores} idle cores / ({cpu:.0f} us CPU per vote: server {best['server_cpu_us_per_vote']:.0f},"
         f" PostgreSQL {best['database_cpu_us_per_vote']:.0f}, client {best['client_cpu_us_per_vote']:.0f})",
         best["cpu_bound_votes_per_s"]),
    ]
    print()
    print(f"{'PostgreSQL figure':72} {'value/s':>8} {'ceiling/s':>9} {'ratio':>6}")
    label = (f"end to end, signed votes ({best['servers']} server(s) x {best['workers']}w x {best['threads']}t,"
             f" {best['clients']} clients)")
    print(f"{label:72} {v:>8,}")
    for name, ceiling in rows:
        print(f"  vs {name:68} {'':>8} {ceiling:>9,} {v / ceiling:>6.2f}")
    verdict = "PASS" if v >= TARGET_POSTGRESQL else "BELOW"
    print(f"{'target':72} {TARGET_POSTGRESQL:>8,} {'':>9} {v / TARGET_POSTGRESQL:>6.2f}  {verdict}")
    size = per_vote["bytes_per_vote"]
    print(f"per vote: WAL {best['wal_bytes_per_vote']:,} bytes ({best['wal_records_per_vote']} records,"
          f" {best['wal_full_page_image_bytes_per_vote']:,} bytes of them full-page images);"
          f" stored {size['total']:,.0f} bytes (votes {size['votes']:,.0f} + its {per_vote['indexes_on_votes']}"
          f" indexes {size['votes_indexes']:,.0f}, vote_keys {size['vote_keys']:,.0f} + indexes"
          f" {size['vote_keys_indexes']:,.0f}, batches {size['sync_batches_and_indexes']:,.0f})"
          f" over {per_vote['partitions']} partitions")
    print(f"(1-minute load average before the run: {best['loadavg_1min_before']} on {cores} cores)")
    for statement in best.get("statements", []):
        print(f"  {statement['total_ms']:>9,.0f} ms {statement['calls']:>7,} calls {statement['us_per_call']:>8,.0f} us"
              f"  {statement['query'][:100]}")
    return verdict


def print_check(check, profile):
    problems = "; ".join(check["problems"])
    print(f"database check: {'OK' if check['ok'] else 'FAILED'} ({check['votes']:,} votes,"
          f" {check['incidents']} incidents){'; ' + problems if problems else ''}")
    if profile:
        print(f"where request time goes (cProfile, {profile['votes']} votes, share of own time):")
        for area, share in profile["by_area"].items():
            print(f"  {share:5.1f}%  {area}")


def machine(load_at_start):
    return {
        "cpu_count": os.cpu_count() or 1, "processor": _cpu_model(), "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version, "platform": platform.platform(), "loadavg_1min_at_start": load_at_start,
    }


def code_version():
    """The commit measured, and server-side files that differ from it."""
    def git(*args):
        done = subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else ""
    changed = git("status", "--porcelain", "--", "server", "device_client", "migrations")
    return {"commit": git("rev-parse", "--short", "HEAD").strip() or None,
            "uncommitted_changes": [line[3:] for line in changed.splitlines()]}


def write_results(data, path=RESULTS):
    """bench/results.json (or ``path``), replaced whole (never half-written)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(tmp, path)


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()
