"""The load bench's tablets: enrolled and configured over HTTP, their taps planned and signed, then all online at once.

Setting up (before the clock starts), each tablet is a real one:
``server.manage.devices.issue_code`` (the action behind ``hailong
device-code``) issues a code for its counter, ``device_client.tablet.enroll``
enrolls it over HTTP with a key of its own, and ``Tablet.refresh_config``
fetches its configuration (roster, scale, ``heartbeat_seconds``, the kiosk's
``vote_interval_seconds``).

The taps are planned then (an open-loop schedule: each tablet's taps come at
their planned moments whatever the server answers) and signed in a process
pool with the tablet's key, each vote stamped with its planned tap time (its
``local_time`` and uuid7), and marked ``rapid_repeat`` when it follows the
tablet's previous tap sooner than ``vote_interval_seconds``, as the kiosk
does. Only ``device_time`` is stamped at send time.

Online (``run``), every tablet behaves as ``hailong-device run``
(``device_client/sync.py``), one request at a time: it sends its unsent votes
(oldest first, at most 500) right after a tap, heartbeats every
``heartbeat_seconds`` the configuration gives, and fetches its configuration
again every ``config_every`` seconds (``run_loop``'s default, 600). The phases
of the heartbeats and fetches are spread at random, as for tablets switched
on at different moments. A request's latency is counted from the moment it
was due (a batch: the tap of its oldest vote), not from when it went out, so
a slow answer that holds up a tablet's next send is counted in full instead
of hiding it (no coordinated omission).
"""

import asyncio
import bisect
import concurrent.futures
import datetime as dt
import json
import multiprocessing
import os
import random
import time

from bench.load_http import HttpError, request
from device_client import protocol, tablet
from server import settings as server_settings
from server import storage
from server.manage import devices as device_actions
from server.manage.actor import cli_actor

APP_VERSION = "load-bench"
MAX_BATCH = 500  # MAX_BATCH_VOTES: a tablet sends at most this many at once
CONFIG_EVERY = 600.0  # device_client.sync.run_loop's default
TICKETS = 0.8  # share of votes with a ticket number

# The signed votes of every tablet, in tap order, as JSON bytes (filled by ``sign``; read by ``run``).
VOTES = []


def issue_codes(database, counters):
    """One enrollment code per counter, through the action ``hailong device-code`` calls."""
    config = server_settings.load({"DATABASE": database})
    db = storage.connect(database)
    try:
        return [device_actions.issue_code(db, cli_actor(), {"counter": counter}, config)["code"]
                for counter in counters]
    finally:
        db.close()


def enroll(url, counters, codes, work, threads=8):
    """Enroll a tablet per counter over HTTP and fetch its configuration; returns what the run needs of each."""

    def one(i):
        t = tablet.enroll(os.path.join(work, "tablets", f"t{i:03d}"), url, codes[i])
        try:
            config = t.refresh_config()
            levels = config["scale"]["levels"]
            return {
                "id": t.device_id, "token": t.identity["token"], "counter": counters[i], "seed": bytes(t.key),
                "staff": [s["code"] for s in config["staff"] if s.get("assignments") is None],
                "scale_version": config["scale"]["version"],
                "ratings": [level["value"] for level in levels],
                "negative": [level["value"] for level in levels if level["negative"]],
                "reasons": sorted(r["code"] for r in config["scale"]["reasons"]),
                "heartbeat_seconds": config.get("heartbeat_seconds") or 60,
                "vote_interval_seconds": (config.get("kiosk") or {}).get("vote_interval_seconds", 5),
            }
        finally:
            t.close()

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(len(counters))))


def plan_taps(devices, duration, vote_every, seed=11):
    """Each tablet's tap moments (seconds from the start): a random first tap within ``vote_every``, then gaps
    uniform in [0.5, 1.5] x ``vote_every``."""
    plans = []
    for i in range(len(devices)):
        rng = random.Random(seed * 100_003 + i)
        at, taps = rng.uniform(0, vote_every), []
        while at < duration:
            taps.append(round(at, 3))
            at += rng.uniform(0.5, 1.5) * vote_every
        plans.append(taps)
    return plans


def sign(devices, plans, start_wall):
    """Sign every planned tap into VOTES, in a process pool (spawn: a forked pool child can inherit a held lock)."""
    with multiprocessing.get_context("spawn").Pool(os.cpu_count()) as pool:
        VOTES[:] = pool.map(_sign, [(d, taps, start_wall) for d, taps in zip(devices, plans)], chunksize=8)


def _sign(task):
    device, taps, start_wall = task
    key = protocol.signing_key_from_seed(device["seed"])
    rng = random.Random(device["id"])
    weights = _rating_weights(device["ratings"])
    out, previous = [], None
    for seq, at in enumerate(taps, start=1):
        moment = start_wall + at
        rating = rng.choices(device["ratings"], weights)[0]
        reasons = []
        if rating in device["negative"] and device["reasons"]:
            reasons = sorted(rng.sample(device["reasons"], min(len(device["reasons"]), rng.randint(1, 2))))
        vote = {
            "id": protocol.uuid7(int(moment * 1000)), "device": device["id"], "seq": seq,
            "counter": device["counter"], "staff": rng.choice(device["staff"]), "rating": rating,
            "reasons": reasons, "ticket": f"A{rng.randint(1, 999):03d}" if rng.random() < TICKETS else None,
            "local_time": protocol.format_local_time(dt.datetime.fromtimestamp(moment).astimezone()),
            "scale_version": device["scale_version"],
        }
        interval = device["vote_interval_seconds"]
        if previous is not None and interval and 0 <= at - previous < interval:
            vote["marks"] = ["rapid_repeat"]  # what the kiosk signs (Tablet.record_vote)
        previous = at
        vote["signature"] = protocol.sign(key, protocol.canonical_vote_bytes(vote))
        out.append(json.dumps(vote, ensure_ascii=False, separators=(",", ":")).encode())
    return out


def _rating_weights(ratings):
    """Mostly satisfied, as the province's year is: the best level 60%, the next 25%, the rest share 15%."""
    order = sorted(ratings, reverse=True)
    share = {order[0]: 0.60}
    if len(order) > 1:
        share[order[1]] = 0.25
    for value in order[2:]:
        share[value] = 0.15 / (len(order) - 2)
    return [share[value] for value in ratings]


class Recorder:
    """Every request's kind, latency from when it was due (ms), time in flight (ms), and the errors."""

    def __init__(self):
        self.samples = {}  # kind -> [(due-based ms, in-flight ms)]
        self.errors = []
        self.votes_sent = 0
        self.batch_sizes = []

    def add(self, kind, due_ms, flight_ms):
        self.samples.setdefault(kind, []).append((due_ms, flight_ms))

    def error(self, kind, device, message):
        self.errors.append(f"{kind} {device}: {message}")


async def run(host, port, devices, plans, duration, start, recorder, config_every=CONFIG_EVERY, seed=11):
    """Every tablet online from ``start`` (``(time.monotonic(), time.time())`` of the same moment: the taps were
    signed with wall-clock times) until its planned taps are all sent."""
    agents = [_tablet(host, port, device, plans[i], VOTES[i], duration, start, recorder, config_every,
                      random.Random(seed * 7919 + i)) for i, device in enumerate(devices)]
    await asyncio.gather(*agents)


async def _tablet(host, port, device, taps, votes, duration, start, recorder, config_every, rng):
    start_mono, start_wall = start
    auth = {"Authorization": f"Bearer {device['token']}"}
    heartbeat_every = device["heartbeat_seconds"]
    next_heartbeat = rng.uniform(0, heartbeat_every)
    next_config = rng.uniform(0, config_every)
    sent = acked = 0  # votes sent (and acknowledged): always equal after a good answer

    async def call(kind, due, method, path, body=None):
        began = time.monotonic()
        try:
            status, raw = await request(host, port, method, path, body, auth)
        except HttpError as exc:
            recorder.error(kind, device["id"], str(exc))
            return None
        ended = time.monotonic()
        recorder.add(kind, 1000 * (ended - (start_mono + due)), 1000 * (ended - began))
        if status != 200:
            recorder.error(kind, device["id"], f"HTTP {status}: {raw[:200]!r}")
            return None
        return json.loads(raw)

    while True:
        due_tap = taps[sent] if sent < len(taps) else None
        due = min(x for x in (due_tap, next_heartbeat, next_config) if x is not None)
        if due >= duration and due_tap is None:
            return
        wait = start_mono + due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        now = time.monotonic() - start_mono
        if next_config <= now:
            answer = await call("config", next_config, "GET", "/api/v1/device/config")
            if answer is not None and answer.get("device_id") != device["id"]:
                recorder.error("config", device["id"], f"another device's configuration: {answer.get('device_id')}")
            next_config += config_every
        tapped = bisect.bisect_right(taps, time.monotonic() - start_mono)
        if tapped > sent:
            n = min(tapped - sent, MAX_BATCH)
            body = (b'{"device_time":"' + protocol.format_local_time().encode() + b'","votes":['
                    + b",".join(votes[sent:sent + n]) + b"]}")
            answer = await call("votes", taps[sent], "POST", "/api/v1/votes/batch", body)
            if answer is None:
                return  # a tablet would retry; the bench counts the error and stops this one
            statuses = [r["status"] for r in answer["results"]]
            if len(statuses) != n or any(s != "accepted" for s in statuses):
                recorder.error("votes", device["id"], f"not all accepted: {sorted(set(statuses))}")
                return
            if answer["ack_seq"] != sent + n:
                recorder.error("votes", device["id"], f"ack_seq {answer['ack_seq']}, expected {sent + n}")
                return
            sent = acked = sent + n
            recorder.votes_sent += n
            recorder.batch_sizes.append(n)
        if next_heartbeat <= time.monotonic() - start_mono:
            waiting = bisect.bisect_right(taps, time.monotonic() - start_mono) - acked
            oldest = None
            if waiting:
                oldest = protocol.format_utc(dt.datetime.fromtimestamp(start_wall + taps[acked], dt.timezone.utc))
            body = json.dumps({
                "device_time": protocol.format_local_time(), "app_version": APP_VERSION, "queue_depth": waiting,
                "oldest_unsent_at": oldest, "last_seq": acked + waiting, "dead_letters": 0,
            }).encode()
            answer = await call("heartbeat", next_heartbeat, "POST", "/api/v1/device/heartbeat", body)
            if answer is not None and answer.get("ack_seq") != acked:
                recorder.error("heartbeat", device["id"], f"ack_seq {answer.get('ack_seq')}, expected {acked}")
            next_heartbeat += heartbeat_every


def check_database(database, devices, sent_per_device):
    """Every sent vote stored once, contiguous and acknowledged per tablet; no sync incident for them."""
    db = storage.connect(database)
    problems, stored, incidents = [], 0, 0
    try:
        for device, want in zip(devices, sent_per_device):
            n, distinct, low, high = db.execute(
                "SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM votes WHERE device_id = ?",
                [device["id"]]).fetchone()
            ack = db.execute("SELECT ack_seq FROM devices WHERE id = ?", [device["id"]]).fetchone()[0]
            incidents += db.execute("SELECT COUNT(*) FROM sync_incidents WHERE device_id = ?",
                                    [device["id"]]).fetchone()[0]
            stored += n
            if (n, distinct, low or 0, high or 0, ack) != (want, want, 1 if want else 0, want, want):
                problems.append(f"{device['id']}: {n} votes, seqs {low}..{high}, ack_seq {ack}; expected {want}")
    finally:
        db.close()
    if incidents:
        problems.append(f"{incidents} sync incidents")
    return {"votes_expected": sum(sent_per_device), "votes_stored": stored, "incidents": incidents,
            "ok": not problems, "problems": problems[:10]}
