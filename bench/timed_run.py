"""The timed phase: client processes POST pre-signed batches to a real ``hailong serve``; then the check.

Each client process owns some tablets and sends their batches in order over
one keep-alive connection, requiring HTTP 200, every vote ``accepted`` and
the expected ``ack_seq``. The server's CPU (its whole process group) and the
clients' are measured too: on a shared machine they say more than the clock.
"""

import contextlib
import http.client
import json
import multiprocessing
import os
import signal
import time

from bench import PYTHONPATH, RATE_SETTINGS
from bench.tablets import body
from devtools.processes import Server, group_stats
from server import storage
from server.storage import votes as vote_storage


def timed_run(database, devices, workers, threads, clients, start, n_batches, batch_size, max_seconds,
              servers=1, meter=None, work_dir=None):
    """One configuration: returns its figures; batches ``start..start+n_batches`` per device.

    ``servers`` ``hailong serve`` processes over the same database (PostgreSQL
    only), the clients spread over them; ``meter`` measures the database
    server's side (``bench/postgresql.Meter``). The servers' logs go in
    ``work_dir`` (beside the database by default).
    """
    work_dir = work_dir or os.path.dirname(database)
    before = count_votes(database)
    load = os.getloadavg()[0]
    # fork, not spawn: the clients use the pre-signed batches this process already holds.
    ctx = multiprocessing.get_context("fork")
    plans = [[] for _ in range(clients)]
    for b in range(n_batches):  # a device's batches stay in one client, in order
        for i, device in enumerate(devices):
            plans[i % clients].append((i, b, device["token"], batch_size))
    with contextlib.ExitStack() as stack:
        started = [stack.enter_context(Server(
            database, workers=workers, threads=threads, settings=RATE_SETTINGS, env={"PYTHONPATH": PYTHONPATH},
            log_path=os.path.join(work_dir, "server.log" if s == 0 else f"server-{s + 1}.log")))
            for s in range(servers)]
        barrier, results = ctx.Barrier(clients + 1), ctx.Queue()
        deadline = time.monotonic() + max_seconds
        procs = [ctx.Process(target=_client, daemon=True,
                             args=(started[c % servers].port, plans[c], start, barrier, results, deadline))
                 for c in range(clients)]
        try:
            for p in procs:
                p.start()
            if meter:
                meter.begin()
            server_cpu = sum(group_cpu_seconds(server.pid) for server in started)
            barrier.wait(timeout=30)
            reports = [results.get(timeout=max_seconds + 60) for _ in procs]
            server_cpu = sum(group_cpu_seconds(server.pid) for server in started) - server_cpu
            sent = sum(r["sent"] for r in reports)
            database_side = meter.end(sent) if meter else {}
        finally:
            for p in procs:
                if p.is_alive():
                    p.terminate()
                p.join(5)
    seconds = max(r["ended"] for r in reports) - min(r["began"] for r in reports)
    latencies = sorted(x for r in reports for x in r["latencies"])
    server_us = 1e6 * server_cpu / max(sent, 1)
    client_us = 1e6 * sum(r["cpu"] for r in reports) / max(sent, 1)
    database_us = database_side.get("database_cpu_us_per_vote", 0)
    run = {
        "workers": workers, "threads": threads, "clients": clients, "batch_size": batch_size,
        "votes_sent": sent, "votes_stored": count_votes(database) - before, "seconds": round(seconds, 3),
        "votes_per_s": round(sent / seconds) if seconds else 0,
        "latency_ms": {"p50": _pct(latencies, 50), "p95": _pct(latencies, 95), "max": _pct(latencies, 100)},
        "server_cpu_us_per_vote": round(server_us, 1),
        "client_cpu_us_per_vote": round(client_us, 1),
        # What the cores could carry if nothing else ran: CPU only, no lock or fsync waits
        # (the database server's CPU counts too when it is measured: it shares the cores).
        "cpu_bound_votes_per_s": round((os.cpu_count() or 1) * 1e6 / (server_us + client_us + database_us)),
        "loadavg_1min_before": round(load, 2),
        "errors": [e for r in reports for e in r["bad"]][:5],
    }
    if meter:
        run = {"servers": servers, **run, **database_side}
    return run


def _client(port, work, start, barrier, results, deadline):
    """POST this client's batches in order over one keep-alive connection (a forked process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # on Ctrl-C the parent stops us
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    sent, bad, latencies = 0, [], []
    barrier.wait()
    began, cpu = time.monotonic(), time.process_time()
    try:
        for device_index, batch_index, token, n in work:
            if time.monotonic() > deadline:
                break
            t0 = time.monotonic()
            conn.request("POST", "/api/v1/votes/batch", body(device_index, start + batch_index),
                         {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            response = conn.getresponse()
            raw = response.read()
            latencies.append(time.monotonic() - t0)
            if response.status != 200:
                bad.append(f"HTTP {response.status}: {raw[:200]!r}")
                break
            answer = json.loads(raw)
            statuses = [r["status"] for r in answer["results"]]
            if len(statuses) != n or any(s != "accepted" for s in statuses):
                bad.append(f"not all accepted: {sorted(set(statuses))}")
                break
            if answer["ack_seq"] != (start + batch_index + 1) * n:
                bad.append(f"ack_seq {answer['ack_seq']} after batch {start + batch_index}")
                break
            sent += n
    except Exception as exc:  # reported, not raised: the parent waits for every client
        bad.append(f"{type(exc).__name__}: {exc}")
    results.put({"sent": sent, "bad": bad, "latencies": latencies, "began": began,
                 "ended": time.monotonic(), "cpu": time.process_time() - cpu})


def _pct(values, p):
    if not values:
        return None
    return round(1000 * values[min(len(values) - 1, int(len(values) * p / 100))], 1)


def group_cpu_seconds(pgid):
    """User+system CPU of every process in a process group (the server and its workers)."""
    ticks = sum(int(fields[11]) + int(fields[12]) for fields in group_stats(pgid).values())
    return ticks / os.sysconf("SC_CLK_TCK")


def count_votes(database):
    db = storage.connect(database)
    try:
        return db.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
    finally:
        db.close()


def verify_database(database, devices, expected_per_device, expected_total):
    """Exactly the votes sent, each once, contiguous per device and acknowledged."""
    db = storage.connect(database)
    totals = vote_storage.vote_totals(db)
    problems = []
    if totals["votes"] != expected_total:
        problems.append(f"{totals['votes']} votes stored, expected {expected_total}")
    if not totals["votes"] == totals["distinct_ids"] == totals["distinct_device_seqs"]:
        problems.append(f"duplicates: {totals}")
    for device in devices:
        n, distinct, low, high = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM votes WHERE device_id = ?",
            [device["id"]],
        ).fetchone()
        ack = db.execute("SELECT ack_seq FROM devices WHERE id = ?", [device["id"]]).fetchone()[0]
        want = expected_per_device
        if (n, distinct, low or 0, high or 0, ack) != (want, want, 1 if want else 0, want, want):
            problems.append(f"{device['id']}: {n} votes, seqs {low}..{high}, ack_seq {ack};"
                            f" expected {want}")
    incidents = db.execute("SELECT COUNT(*) FROM sync_incidents").fetchone()[0]
    if incidents:
        problems.append(f"{incidents} sync incidents")
    db.close()
    return {**totals, "incidents": incidents, "ok": not problems, "problems": problems[:10]}
