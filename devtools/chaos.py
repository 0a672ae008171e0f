"""``make chaos``: every vote reaches the server exactly once, whatever fails, counted at scale.

Fifty tablets record 2,000 votes each and sync through ``devtools.faultproxy``,
which resets, drops, cuts or delays ≥ 30% of the connections, while the chaos
monkey, at moments spread over the run:

- SIGKILLs ``hailong serve`` (gunicorn's whole group), some of the times right
  after a batch commits and before its answer leaves
  (``FAULT_KILL_AFTER_COMMIT_FILE``), and restarts it;
- SIGKILLs ``hailong jobs`` (appending votes to the Merkle tree) and restarts it;
- SIGKILLs real ``hailong-device run`` kiosk tablets in the middle of a tap and
  in the middle of a sync, and real ``hailong-device sync`` processes while
  their request is on the wire (``devtools.chaos_tablets``).

On PostgreSQL (``--backend postgresql``: a throwaway server of
``devtools.postgres`` in a temporary folder) the campaign can run
``--servers 2`` (or more) ``hailong serve`` processes on the one database,
the fault proxy handing each connection to the next server in turn, so a
tablet's retries land on either; and the chaos monkey also SIGKILLs
PostgreSQL itself (``--database-kills``: postmaster and backends at once,
then a start, which is crash recovery).

``PRAGMA integrity_check`` (on PostgreSQL: the facts it must keep, see
``chaos_facts.integrity_check``) runs after every restart. Then the network heals,
every tablet drains its queue, ``hailong jobs`` catches up, and the stores
must agree (``devtools.chaos_facts``): every vote recorded on a tablet is on
the server once, with a good signature, acknowledged; every tap that got its
"thank you" is in its tablet's outbox; the votes tree holds every vote once
(its size, and its root recomputed from the votes); and some votes were
committed but their answer lost (the case the protocol exists for).

Run: ``python -m devtools.chaos`` (``make chaos``) writes ``bench/chaos.json``
(a PostgreSQL run its figures under the key ``postgresql``);
``tests/test_fault_campaign.py`` runs the same code small in ``make test``, on
both backends, and ``tests/test_fault_two_servers.py`` the two-server
PostgreSQL form.
``--seed`` replays a run's random choices (thread timing still varies).
"""

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from device_client.tablet import enroll as enroll_tablet
from devtools import chaos_facts as facts
from devtools.chaos_tablets import CliTablet, KioskTablet, ThreadTablet
from devtools.demo_org import write_demo_org
from devtools.faultproxy import FaultProxy
from devtools.postgres import Cluster
from devtools.processes import BIN, Jobs, Server
from server import storage
from server.storage import partitions
from migrations import migrations
from server.ledger import keys
from server.manage import devices, imports, staff
from server.manage.actor import cli_actor
from server.settings import DEFAULTS

HAILONG = os.path.join(BIN, "hailong")
ROOT = Path(__file__).resolve().parent.parent
PIN = "2580"


@dataclasses.dataclass
class Plan:
    """How big the campaign is and what it breaks; the defaults are ``make chaos``'s."""

    tablets: int = 50
    votes: int = 2000  # per tablet
    kiosks: int = 4  # of the tablets: real `hailong-device run` processes, tapped through the kiosk page
    cli_tablets: int = 2  # of the tablets: sent only by `hailong-device sync` processes
    recording_seconds: float = 420.0  # each tablet spreads its taps over about this long
    server_kills: int = 10
    hook_kills: int = 4  # of the server kills: between a batch's commit and its answer
    jobs_kills: int = 3
    kiosk_kills: int = 12  # half in the middle of a tap, half in the middle of a sync
    cli_kills: int = 6  # `hailong-device sync` killed with its request on the wire
    refuse: float = 0.10  # shares of the connections: reset before the request is read
    drop: float = 0.12  # request served, answer never forwarded
    cut: float = 0.12  # answer cut short
    slow: float = 0.15  # answer held back up to `latency` seconds
    latency: float = 1.5
    backend: str = "sqlite"  # or "postgresql": a throwaway PostgreSQL server of its own
    servers: int = 1  # `hailong serve` processes on the one database (more than one: PostgreSQL only)
    database_kills: int = 0  # SIGKILLs of PostgreSQL itself, each followed by crash recovery
    seed: int | None = None

    def __post_init__(self):
        if self.backend not in ("sqlite", "postgresql"):
            raise ValueError(f"backend must be sqlite or postgresql, not {self.backend!r}")
        if self.backend == "sqlite" and (self.servers != 1 or self.database_kills):
            raise ValueError("several servers and database kills need --backend postgresql")

    def steps(self, rng):
        """The chaos monkey's steps, shuffled: ``kill``, ``hook``, ``database``, ``jobs``, ``tap``, ``sync``, ``cli``."""
        steps = (["kill"] * (self.server_kills - self.hook_kills) + ["hook"] * self.hook_kills
                 + ["database"] * self.database_kills
                 + ["jobs"] * self.jobs_kills + ["tap"] * (self.kiosk_kills - self.kiosk_kills // 2)
                 + ["sync"] * (self.kiosk_kills // 2) + ["cli"] * self.cli_kills)
        rng.shuffle(steps)
        return steps


class Run:
    """Shared state of one run: counts, integrity checks, notes, and what went wrong in a thread."""

    def __init__(self, seed, out):
        self.seed, self.out = seed, out
        self.lock = threading.Lock()
        self.counts = {}
        self.errors, self.log, self.checks = [], [], []
        self.chaos_done = threading.Event()
        self.outage = threading.Lock()  # held while PostgreSQL is down (the jobs monkey waits for it)
        self.rounds = threading.Condition()  # the chaos monkey asks for taps in rounds: one tap a tablet each
        self.round = 0
        self.began = self.started = time.monotonic()  # ``started``: when the faults begin, after the setup

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    @contextlib.contextmanager
    def ask_for_taps(self, every=0.5):
        """While in this block, each tablet taps one vote of its reserve every ``every`` seconds.

        The chaos monkey asks when it waits for a batch to commit (the
        after-commit hook) or for a tap to kill a kiosk in, so it never waits
        on tablets that are done (``chaos_tablets.tap_moments``).
        """
        stop = threading.Event()

        def rounds():
            while True:
                with self.rounds:
                    self.round += 1
                    self.rounds.notify_all()
                if stop.wait(every):
                    return

        asker = threading.Thread(target=rounds, name="ask-for-taps", daemon=True)
        asker.start()
        try:
            yield
        finally:
            stop.set()
            asker.join()

    def wait_round(self, seen, timeout=0.2):
        """The round of taps now, after waiting up to ``timeout`` s for one later than ``seen``."""
        with self.rounds:
            self.rounds.wait_for(lambda: self.round > seen, timeout)
            return self.round

    def count(self, key):
        return self.counts.get(key, 0)

    def fail(self, where, exc):
        with self.lock:
            self.errors.append(f"{where}: {type(exc).__name__}: {exc}")
        self.note(f"ERROR {where}: {type(exc).__name__}: {exc}")

    def note(self, line):
        line = f"{time.monotonic() - self.started:7.1f}s {line}"
        with self.lock:
            self.log.append(line)
        self.out(line)

    def integrity(self, path, after):
        result = facts.integrity_check(path)
        with self.lock:
            self.checks.append({"after": after, "database": facts.database_name(path), "result": result})
        return result


def run(plan, work_dir, out=print):
    """Run the campaign in ``work_dir`` (emptied first); returns ``(figures, problems)``."""
    seed = plan.seed if plan.seed is not None else random.SystemRandom().randrange(10**6)
    work = Path(work_dir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    state = Run(seed, out)
    cluster = None
    try:
        if plan.backend == "postgresql":
            # In a temporary folder of its own, not in ``work``: PostgreSQL runs as its own user when we are
            # root, and must reach its folder.
            cluster = Cluster().start()
            state.note(f"PostgreSQL {cluster.bin.split('/')[-2]} in {cluster.folder}")
            database = cluster.create_database("hailong")
        else:
            database = work / "hailong.db"
        return campaign(state, plan, work, database, cluster)
    finally:
        if cluster is not None:
            cluster.remove()


def campaign(state, plan, work, database, cluster):
    """The run itself on a database ready to be migrated; ``cluster``: the PostgreSQL server, or None."""
    seed = state.seed
    env = {"HAILONG_INSTANCE": str(work)}
    org = prepare(database, work, plan)
    marker = work / "kill-after-commit"
    settings = {
        "DEVICE_RATE_PER_MINUTE": 60000,  # 429s are tested elsewhere; here they would only slow the run
        "DEVICE_RATE_BURST": 6000,
        "FAULT_KILL_AFTER_COMMIT_FILE": marker,
        "KIOSK_VOTE_INTERVAL_SECONDS": 0,  # the kiosk taps faster than citizens: no rapid_repeat marks
        "KIOSK_DAY_END": "23:59",
    }
    # One server keeps the log name it always had; several are serve-1.log, serve-2.log, ...
    servers = [Server(database, log_path=work / ("serve.log" if plan.servers == 1 else f"serve-{n}.log"), env=env,
                      settings=settings, name="hailong serve" if plan.servers == 1 else f"hailong serve {n}")
               for n in range(1, plan.servers + 1)]
    jobs = Jobs(database, log_path=work / "jobs.log", env=env,
                settings={"JOBS_LOG_APPEND_SECONDS": 1, "LOG_CHUNK_LEAVES": 500})
    proxies, tablets = [], []
    ports = [server.port for server in servers]
    try:
        for process in (*servers, jobs):  # side by side: each takes seconds to import its code
            process.launch()
        for process in (*servers, jobs):
            process.wait_ready(60)
        proxies.append(FaultProxy(ports, seed=seed).start())
        enroll(plan, org, database, work, ports, proxies, tablets, seed)
        state.note(f"{plan.tablets} tablets enrolled ({plan.kiosks} kiosk processes, {plan.cli_tablets} synced by"
                   f" the CLI) on {plan.backend}, {plan.servers} server(s); seed {seed}; faults on")
        for proxy in proxies:
            proxy.configure(refuse=plan.refuse, drop=plan.drop, cut=plan.cut, slow=plan.slow, latency=plan.latency)
        state.started = time.monotonic()
        workers = [threading.Thread(target=tablet.work, args=(state, plan), name=f"tablet-{tablet.index}",
                                    daemon=True) for tablet in tablets]
        monkeys = chaos_monkeys(state, plan, servers, jobs, marker, database, tablets, cluster)
        for thread in (*workers, *monkeys):
            thread.start()
        watch_progress(state, plan, [*workers, *monkeys])
        recording = time.monotonic() - state.started
        faulted = sum_stats(proxy.stats() for proxy in proxies)

        for proxy in proxies:
            proxy.heal()
        healed = time.monotonic()
        drained = drain(state, tablets, deadline=time.monotonic() + 120 + plan.tablets * plan.votes / 500)
        heal_seconds = time.monotonic() - healed
        caught_up = wait_for_tree(database, deadline=time.monotonic() + 180)
        jobs.stop()
        for tablet in tablets:
            if tablet.kind == "kiosk":
                tablet.stop()
        for server in servers:
            server.stop()
        state.integrity(database, "the end")
    finally:
        for tablet in tablets:
            if tablet.kind == "kiosk":
                tablet.process.kill()
        for proxy in proxies:
            proxy.stop()
        jobs.kill()
        for server in servers:
            server.kill()
        marker.unlink(missing_ok=True)
    return summarise(state, plan, tablets, database, faulted, drained, caught_up,
                     recording=recording, heal_seconds=heal_seconds)


def prepare(database, work, plan):
    """A migrated database with the instance's log key, the demo province, and PINs for the kiosks' staff.

    Done in-process through the same functions ``hailong migrate`` and
    ``hailong org import`` call (their own tests run the commands): two
    Python start-ups fewer.
    """
    org = write_demo_org(work / "org.csv")
    keys.ensure_key(str(work))
    db = storage.connect(database)
    try:
        migrations.apply(db)
        if storage.dialect(db) == "postgresql":
            partitions.ensure(db)  # as `hailong migrate` does: this month's votes in their partition
        imports.import_file(db, cli_actor(), str(work / "org.csv"))
        kiosk_units = {org["unit_of_counter"][org["counters"][i % len(org["counters"])]]
                       for i in range(plan.kiosks)}
        for unit in sorted(kiosk_units):
            staff.set_pin(db, cli_actor(), org["staff_by_unit"][unit][0], PIN)
    finally:
        db.close()
    return org


def enroll(plan, org, database, work, ports, proxies, tablets, seed):
    """Codes in-process (the CLI has its own tests), enrollment over HTTP through a faultless proxy.

    Kiosk and CLI tablets get a proxy of their own, so the chaos monkey can
    see when their request is on the wire. ``proxies`` and ``tablets`` grow
    as they are made, so the caller stops whatever was started.
    """
    counters = org["counters"]
    db = storage.connect(database)
    try:
        codes = [devices.issue_code(db, cli_actor(), {"counter": counters[i % len(counters)]}, DEFAULTS)["code"]
                 for i in range(plan.tablets)]
    finally:
        db.close()
    for index, code in enumerate(codes):
        data_dir = str(work / f"tablet-{index:02d}")
        if index < plan.kiosks + plan.cli_tablets:
            proxy = FaultProxy(ports, seed=seed * 100 + index).start()
            proxies.append(proxy)
        else:
            proxy = proxies[0]
        enroll_tablet(data_dir, proxy.url, code).close()
        if index < plan.kiosks:
            unit = org["unit_of_counter"][counters[index % len(counters)]]
            tablets.append(KioskTablet(index, data_dir, proxy, org["staff_by_unit"][unit][0], PIN))
            tablets[-1].process.launch()
        elif index < plan.kiosks + plan.cli_tablets:
            tablets.append(CliTablet(index, data_dir, proxy))
        else:
            tablets.append(ThreadTablet(index, data_dir))
    for tablet in tablets:
        if tablet.kind == "kiosk":
            tablet.process.wait_ready(60)
            tablet.ready.set()


def chaos_monkeys(state, plan, servers, jobs, marker, database, tablets, cluster):
    """Two monkeys side by side, so the restarts of one do not hold up the other's steps.

    One kills the servers (and PostgreSQL), the other ``hailong jobs`` and the tablets' processes; each
    spreads its steps over the recording time. Returns the threads; ``state.chaos_done`` is set when both end.
    """
    rng = random.Random(state.seed)
    steps = plan.steps(rng)
    server_steps = [step for step in steps if step in ("kill", "hook", "database")]
    others = [step for step in steps if step not in server_steps]
    done = []

    def monkey(name, steps, seed):
        rng = random.Random(seed)
        kiosks = [tablet for tablet in tablets if tablet.kind == "kiosk"]
        clis = [tablet for tablet in tablets if tablet.kind == "cli"]
        gap = plan.recording_seconds / (len(steps) + 1)
        try:
            for number, step in enumerate(steps, 1):
                wait = state.started + number * gap + rng.uniform(-gap / 3, gap / 3) - time.monotonic()
                time.sleep(max(0.2, wait))
                if step in ("kill", "hook"):
                    kill_server(state, rng, servers, marker, database, step)
                elif step == "database":
                    kill_database(state, rng, cluster, database)
                elif step == "jobs":
                    with state.outage:  # restarted once PostgreSQL is back, as its supervisor would in the end
                        jobs.kill()
                        state.add("jobs_kills")
                        jobs.start(60)
                        check = state.integrity(database, f"hailong jobs kill {state.count('jobs_kills')}")
                    state.note(f"hailong jobs SIGKILLed and restarted; integrity_check {check}")
                elif step in ("tap", "sync") and kiosks:
                    with state.ask_for_taps():
                        rng.choice(kiosks).kill(state, rng, step)
                elif step == "cli" and clis:
                    tablet = rng.choice(clis)
                    for _ in range(30):  # a sync that meets a dead port exits first: try again
                        if tablet.kill_mid_sync(state, rng):
                            break
                        time.sleep(0.3)
        except Exception as exc:
            state.fail(f"chaos ({name})", exc)
        with state.lock:
            done.append(name)
            last = len(done) == 2
        if last:
            finish(state, servers, jobs, marker)

    return [threading.Thread(target=monkey, args=(name, part, rng.random()), name=f"chaos-{name}", daemon=True)
            for name, part in (("server", server_steps), ("jobs and tablets", others))]


def finish(state, servers, jobs, marker):
    """After the last step: no hook left armed, the servers and jobs running, then the tablets may stop."""
    marker.unlink(missing_ok=True)  # an unfired hook must not kill the heal phase
    try:
        for server in servers:
            if not server.alive():
                server.wait_gone()
                server.start(60)
        if not jobs.alive():
            jobs.start(60)
    except Exception as exc:
        state.fail("chaos, last restart", exc)
    state.chaos_done.set()


def kill_server(state, rng, servers, marker, database, step):
    """SIGKILL one server (``kill``: one of them at random) or let the after-commit hook kill one (``hook``: the
    first to commit a batch), then restart it and check the database."""
    if step == "kill":
        server = rng.choice(servers)
        server.kill()
        how = "SIGKILLed"
        time.sleep(rng.uniform(0.2, 1.0))  # down for a moment: tablets meet a dead port
    else:
        marker.touch()
        deadline = time.monotonic() + 60
        with state.ask_for_taps():  # the hook fires on the next commit: there must be one
            while all(server.alive() for server in servers) and time.monotonic() < deadline:
                time.sleep(0.01)
        dead = [server for server in servers if not server.alive()]
        if not dead or marker.exists():
            raise AssertionError("no server died on the after-commit hook within 60 s")
        server = dead[0]
        server.wait_gone()
        state.add("hook_kills")
        how = "killed itself between a commit and its answer"
    state.add("server_kills")
    server.start(60)
    check = state.integrity(database, f"server kill {state.count('server_kills')} ({step})")
    state.note(f"{server.name} {how}, restarted; integrity_check {check}")


def kill_database(state, rng, cluster, database):
    """SIGKILL PostgreSQL (postmaster and backends, the servers' pooled connections with them), start it again.

    Down for a moment, so requests meet a database that is not there; the
    start is crash recovery from the write-ahead log. The servers are left
    running: their pools must replace the dead connections by themselves.
    """
    with state.outage:
        cluster.kill()
        time.sleep(rng.uniform(0.3, 1.5))
        cluster.start()
        state.add("database_kills")
        check = state.integrity(database, f"PostgreSQL kill {state.count('database_kills')}")
    state.note(f"PostgreSQL SIGKILLed, crash-recovered; facts check {check}")


def watch_progress(state, plan, threads, every=30.0):
    """Join the threads, printing how far the taps are every ``every`` seconds (long work shows progress)."""
    total = plan.tablets * plan.votes
    last = time.monotonic()
    limit = time.monotonic() + plan.recording_seconds * 4 + 600
    for thread in threads:
        while thread.is_alive() and time.monotonic() < limit:
            thread.join(timeout=1.0)
            if time.monotonic() - last >= every:
                last = time.monotonic()
                state.out(f"{last - state.started:7.1f}s taps {state.count('taps')}/{total},"
                          f" server kills {state.count('server_kills')}, syncs failed"
                          f" {state.count('sync_failures')}/{state.count('sync_attempts')}")
        if thread.is_alive():
            state.fail(thread.name, TimeoutError("still running long after the plan's time"))


def drain(state, tablets, deadline):
    """Faults off: every tablet sends until its queue is empty; returns the indexes of those that could not.

    A tablet whose server refuses it (a 4xx, or a 500 that is a server bug)
    is stuck too, with the error among the run's: the other tablets still
    drain, so the figures say what arrived.
    """
    stuck = []
    for tablet in tablets:
        try:
            drained = tablet.drain(deadline)
        except Exception as exc:
            state.fail(f"drain of tablet {tablet.index}", exc)
            drained = False
        if not drained:
            stuck.append(tablet.index)
    return stuck


def wait_for_tree(database, deadline):
    """Let ``hailong jobs`` append the last votes; True once the tree is as big as the votes table."""
    while time.monotonic() < deadline:
        size, votes = facts.tree_size(database)
        if size == votes:
            return True
        time.sleep(0.5)
    return False


def sum_stats(all_stats):
    total = {}
    for stats in all_stats:
        for key, value in stats.items():
            if isinstance(value, dict):  # "lost" by request, "upstreams" by port
                each = total.setdefault(key, {})
                for label, n in value.items():
                    each[label] = each.get(label, 0) + n
            else:
                total[key] = total.get(key, 0) + value
    return total


def summarise(state, plan, tablets, database, faulted, stuck, caught_up, recording, heal_seconds):
    """The figures of ``bench/chaos.json``, and the list of what is wrong (empty when the run passed)."""
    on_tablets = {tablet.index: facts.tablet_facts(tablet.data_dir) for tablet in tablets}
    stored = facts.server_facts(database)
    recorded = sum(t["last_seq"] for t in on_tablets.values())
    acknowledged = sum(t["acknowledged"] for t in on_tablets.values())
    lost, unexpected, problems = 0, 0, []
    for index, tablet in on_tablets.items():
        device = stored["devices"].get(tablet["device_id"], {"votes": [], "ack_seq": 0})
        on_server = {seq: uuid for seq, uuid in device["votes"]}
        lost += sum(1 for seq, uuid in tablet["votes"].items() if on_server.get(seq) != uuid)
        unexpected += sum(1 for seq, uuid in on_server.items() if tablet["votes"].get(seq) != uuid)
        if sorted(tablet["votes"]) != list(range(1, tablet["last_seq"] + 1)):
            problems.append(f"tablet {index}: its outbox does not hold seqs 1..{tablet['last_seq']}")
        if device["ack_seq"] != tablet["last_seq"]:
            problems.append(f"tablet {index}: acknowledged up to {device['ack_seq']} of {tablet['last_seq']}")
        if tablet["dead_letters"] or tablet["queue_depth"] or tablet["sessions_queued"]:
            problems.append(f"tablet {index}: queue {tablet['queue_depth']}, sessions {tablet['sessions_queued']},"
                            f" dead letters {tablet['dead_letters']}")
    thanked = sum(len(t.thanked) for t in tablets if t.kind == "kiosk")
    missing = [key for t in tablets if t.kind == "kiosk" for key in facts.thanked_missing(t.data_dir, t.thanked)]
    duplicated = (stored["votes"] - stored["distinct_ids"]) + (stored["votes"] - stored["distinct_device_seqs"])
    tree = stored["tree"]
    duplicated += tree["leaves"] - tree["distinct_rows"]
    faults = sum(faulted.get(k, 0) for k in ("refuse", "drop", "cut", "slow"))
    share = faults / max(1, faults + faulted.get("pass", 0))
    failed_checks = [check for check in state.checks if check["result"] != "ok"]
    figures = {
        "recorded": recorded,
        "acknowledged": acknowledged,
        "on_server": stored["votes"],
        "lost": lost + len(missing),
        "duplicated": duplicated,
        "committed_unacked": stored["duplicates"],
        "server_kills": state.count("server_kills"),
        "database_kills": state.count("database_kills"),
        "backend": plan.backend,
        "servers": plan.servers,
        "connections_per_server": sorted(faulted.get("upstreams", {}).values()),
        "faulted_connections": faults,
        "connections": faulted.get("connections", 0),
        "faulted_share": round(share, 3),
        "proxy": {k: faulted.get(k, 0) for k in ("pass", "refuse", "drop", "cut", "slow", "upstream_down",
                                                 "no_answer", "offline")},
        "batch_answers_lost": faulted.get("lost", {}).get("POST /api/v1/votes/batch 200", 0),
        "batches": stored["batches"],
        "batches_with_duplicates": stored["batches_with_duplicates"],
        "hook_kills": state.count("hook_kills"),
        "jobs_kills": state.count("jobs_kills"),
        "kiosk_kills_during_tap": state.count("kiosk_kills_tap"),
        "kiosk_kills_during_sync": state.count("kiosk_kills_sync"),
        "kiosk_kills_moment_missed": state.count("kiosk_kills_tap_missed") + state.count("kiosk_kills_sync_missed"),
        "cli_syncs_killed_mid_request": state.count("cli_killed_mid_sync"),
        "cli_sync_runs": state.count("cli_runs"),
        "taps_thanked": thanked,
        "taps_thanked_missing": len(missing),
        "taps_sent_again": state.count("taps_sent_again"),
        "votes_unknown_to_tablets": unexpected,
        "bad_signatures": len(stored["bad_signatures"]),
        "open_incidents": stored["incidents"],
        "integrity_checks": len(state.checks),
        "integrity_failures": failed_checks,
        "tree": tree,
        "sync_attempts": state.count("sync_attempts"),
        "sync_failures": state.count("sync_failures"),
        "tablets": plan.tablets,
        "votes_per_tablet": plan.votes,
        "kiosk_tablets": plan.kiosks,
        "cli_tablets": plan.cli_tablets,
        "plan": dataclasses.asdict(plan) | {"seed": state.seed},
        "recording_seconds": round(recording, 1),
        "heal_seconds": round(heal_seconds, 1),
        "elapsed_seconds": round(time.monotonic() - state.started, 1),
        "total_seconds": round(time.monotonic() - state.began, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "errors": state.errors,
    }
    expected = plan.tablets * plan.votes
    problems = state.errors + problems
    for what, ok in (
        (f"recorded {recorded}, expected {expected}", recorded == expected),
        (f"acknowledged {acknowledged} of {recorded}", acknowledged == recorded),
        (f"on the server {stored['votes']} of {recorded}", stored["votes"] == recorded),
        (f"lost {figures['lost']}", figures["lost"] == 0),
        (f"duplicated {duplicated}", duplicated == 0),
        (f"{unexpected} votes on the server no tablet recorded", unexpected == 0),
        (f"accepted {stored['accepted']} of {stored['votes']}", stored["accepted"] == stored["votes"]),
        ("no vote was committed with its answer lost", stored["duplicates"] > 0),
        (f"bad signatures: {stored['bad_signatures'][:5]}", not stored["bad_signatures"]),
        (f"open sync incidents: {stored['incidents']}", not stored["incidents"]),
        (f"integrity_check failed: {failed_checks}", not failed_checks),
        (f"tablets {stuck} could not drain their queues after the heal", not stuck),
        ("hailong jobs did not catch up with the votes", caught_up),
        (f"the votes tree skipped {tree['votes_skipped']} votes for good (ids below its last leaf's, committed"
         " after a larger id was appended)", tree["votes_skipped"] == 0),
        (f"the votes tree does not hold every vote once: {tree}",
         tree["size"] == tree["votes"] == tree["leaves"] == tree["distinct_rows"] == stored["votes"]
         and tree["votes_not_in_tree"] == 0 and tree["root_matches"]),
        (f"faulted share {share:.2f} < 0.30", share >= 0.30),
        (f"server kills {figures['server_kills']} of {plan.server_kills}", figures["server_kills"] == plan.server_kills),
        (f"after-commit kills {figures['hook_kills']} of {plan.hook_kills}", figures["hook_kills"] == plan.hook_kills),
        (f"jobs kills {figures['jobs_kills']} of {plan.jobs_kills}", figures["jobs_kills"] == plan.jobs_kills),
        (f"PostgreSQL kills {figures['database_kills']} of {plan.database_kills}",
         figures["database_kills"] == plan.database_kills),
        (f"a server got no connection: {figures['connections_per_server']}",
         plan.servers == 1 or (len(figures["connections_per_server"]) == plan.servers
                               and min(figures["connections_per_server"]) > 0)),
        (f"thanked taps missing from the outbox: {missing[:5]}", not missing),
        ("no kiosk tablet was killed during a tap", plan.kiosks == 0 or figures["kiosk_kills_during_tap"] > 0),
        ("no kiosk tablet was killed during a sync", plan.kiosks == 0 or plan.kiosk_kills < 2
         or figures["kiosk_kills_during_sync"] > 0),
        ("no hailong-device sync was killed mid-request", plan.cli_kills == 0
         or figures["cli_syncs_killed_mid_request"] > 0),
    ):
        if not ok:
            problems.append(what)
    return figures, problems


def run_reported(folder, **plan):
    """Run a campaign the way the tests do: the seed from ``HAILONG_FAULT_SEED`` when set (to replay a
    failure), the report printed; returns ``(figures, problems, report)`` with the report as text for
    assertion messages."""
    seed = os.environ.get("HAILONG_FAULT_SEED")
    lines = []
    figures, problems = run(Plan(**plan, seed=int(seed) if seed else None), folder, out=lines.append)
    report(figures, problems, out=lines.append)
    print("\n".join(lines))
    return figures, problems, "\n" + "\n".join(lines)


def report(figures, problems, out=print):
    """The figures a person reads first, then what went wrong."""
    out(f"\nchaos campaign on {figures['backend']}"
        + (f", {figures['servers']} servers (connections {figures['connections_per_server']})"
           if figures["servers"] > 1 else "") + ":")
    for key in ("recorded", "acknowledged", "on_server", "lost", "duplicated", "committed_unacked"):
        out(f"  {key.replace('_', ' ')}: {figures[key]:,}")
    out(f"  server kills: {figures['server_kills']} ({figures['hook_kills']} between commit and answer);"
        f" jobs kills: {figures['jobs_kills']}"
        + (f"; PostgreSQL kills: {figures['database_kills']}" if figures["backend"] == "postgresql" else ""))
    out(f"  kiosk tablets killed during a tap: {figures['kiosk_kills_during_tap']}, during a sync:"
        f" {figures['kiosk_kills_during_sync']}; hailong-device sync killed mid-request:"
        f" {figures['cli_syncs_killed_mid_request']} of {figures['cli_sync_runs']} runs")
    out(f"  taps thanked: {figures['taps_thanked']:,}, missing from the outbox: {figures['taps_thanked_missing']}")
    out(f"  connections: {figures['connections']:,}, faulted {figures['faulted_connections']:,}"
        f" ({figures['faulted_share']:.0%}): {figures['proxy']}")
    out(f"  batch answers lost after commit: {figures['batch_answers_lost']:,}")
    out(f"  integrity_check: {figures['integrity_checks']} runs, "
        + ("all ok" if not figures["integrity_failures"] else f"FAILED {figures['integrity_failures']}"))
    tree = figures["tree"]
    out(f"  votes tree: size {tree['size']:,} for {tree['votes']:,} votes ({tree['votes_skipped']:,} skipped), root"
        f" {'matches the recomputed one' if tree['root_matches'] else 'DIFFERS'} ({tree['root'][:16]}…)")
    out(f"  recording {figures['recording_seconds']} s, heal {figures['heal_seconds']} s,"
        f" elapsed {figures['elapsed_seconds']} s ({figures['total_seconds']} s with the setup and checks), load {figures['load_average_1m']}, seed {figures['plan']['seed']}")
    out("PASS" if not problems else "FAIL:\n  " + "\n  ".join(problems))


def main(argv=None):
    """``make chaos``: the campaign at full size; figures to bench/chaos.json."""
    parser = argparse.ArgumentParser(prog="python -m devtools.chaos", description=__doc__.split("\n\n")[0])
    defaults = Plan()
    parser.add_argument("--tablets", type=int, default=defaults.tablets)
    parser.add_argument("--votes", type=int, default=defaults.votes, help="Votes per tablet.")
    parser.add_argument("--seconds", type=float, default=defaults.recording_seconds,
                        help="How long each tablet spreads its taps over.")
    parser.add_argument("--seed", type=int, help="Replay a run's random choices.")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default=defaults.backend,
                        help="The server's database: a SQLite file, or a throwaway PostgreSQL server.")
    parser.add_argument("--servers", type=int, default=defaults.servers,
                        help="hailong serve processes on the one database, behind the proxy in turn"
                             " (more than one: PostgreSQL only).")
    parser.add_argument("--database-kills", type=int, default=defaults.database_kills,
                        help="SIGKILLs of PostgreSQL itself during the run, each followed by crash recovery.")
    parser.add_argument("--work-dir",
                        help="Emptied, then holds the database (SQLite), logs and tablets (default"
                             " bench/work/chaos, bench/work/chaos-postgresql for a PostgreSQL run).")
    parser.add_argument("--results", default=str(ROOT / "bench" / "chaos.json"),
                        help="Where the figures go (default bench/chaos.json; a PostgreSQL run's under the key"
                             " postgresql, beside the SQLite run's).")
    args = parser.parse_args(argv)
    try:
        plan = Plan(tablets=args.tablets, votes=args.votes, recording_seconds=args.seconds, seed=args.seed,
                    backend=args.backend, servers=args.servers, database_kills=args.database_kills)
    except ValueError as exc:
        parser.error(str(exc))
    work_dir = args.work_dir or ROOT / "bench" / "work" / ("chaos" if plan.backend == "sqlite" else "chaos-postgresql")
    figures, problems = run(plan, work_dir, out=lambda line: print(line, flush=True))
    report(figures, problems)
    figures = {"timestamp": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "commit": _commit(), "passed": not problems, "problems": problems, **figures}
    write_results(Path(args.results), figures, plan.backend)
    print(f"wrote {args.results}" + (" (key postgresql)" if plan.backend == "postgresql" else ""))
    return 0 if not problems else 1


def write_results(path, figures, backend):
    """The SQLite run's figures at the top of the file, a PostgreSQL run's under ``postgresql``; each run keeps
    the other's."""
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        results = {}
    if backend == "postgresql":
        results["postgresql"] = figures
    else:
        results = {**figures, **({"postgresql": results["postgresql"]} if "postgresql" in results else {})}
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _commit():
    result = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() or None


if __name__ == "__main__":
    sys.exit(main())
