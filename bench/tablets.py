"""The bench's organisation and tablets: enrolled over HTTP, and their batches signed before the clock starts.

The tablets are real: ``hailong device-code --json`` issues each a code and
``device_client.tablet.enroll`` enrolls it against a running server, so
their keys and tokens are the ones the server checks. Every 100-vote batch
is then signed with the tablet's key and serialised in a process pool; only
``device_time`` is stamped when a batch is sent (``body``).
"""

import concurrent.futures
import json
import multiprocessing
import os
import random
import subprocess

from bench import PYTHONPATH
from device_client import protocol, tablet
from devtools.processes import BIN, Server

REASONS = ["attitude", "long_wait", "other", "unclear_guidance", "wrong_result"]
# Two centres with four counters each; staff belong to a centre.
UNITS = {"BN-A": "Trung tâm Phục vụ hành chính công A", "BN-B": "Bộ phận Một cửa B"}
COUNTERS = {f"{u}-Q{i}": u for u in UNITS for i in range(1, 5)}
STAFF = {f"NV-{u[-1]}{i:02d}": u for u in UNITS for i in range(1, 7)}
HEAD = b'{"device_time":"'

BODIES = []  # per device: its batches' body tails (see HEAD), in send order; forked clients read them


def hailong(*args):
    """Run the ``hailong`` CLI of this tree; returns what it printed."""
    done = subprocess.run([os.path.join(BIN, "hailong"), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": PYTHONPATH})
    if done.returncode != 0:
        raise RuntimeError(f"hailong {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def seed_org(database, work):
    """2 centres, 8 counters and 12 staff, through ``hailong org import`` (the CSV is written to ``work``)."""
    lines = ["kind,code,name,parent,title,active", "unit,BN,Tỉnh Bench,,,"]
    lines += [f"unit,{code},{name},BN,," for code, name in UNITS.items()]
    lines += [f"counter,{code},Quầy {code[-1]},{unit},," for code, unit in COUNTERS.items()]
    lines += [f"staff,{code},Cán bộ {code},{unit},Chuyên viên," for code, unit in STAFF.items()]
    path = os.path.join(work, "org.csv")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    hailong("--database", database, "org", "import", path)


def enroll_devices(database, n, work):
    """``n`` tablets spread over the counters (their folders in ``work``), enrolled against a server
    started for the purpose."""
    counters = [list(COUNTERS)[i % len(COUNTERS)] for i in range(n)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:  # each CLI start costs about a second
        codes = list(pool.map(
            lambda counter: json.loads(hailong("--database", database, "device-code", "--counter", counter,
                                               "--json"))["code"],
            counters,
        ))
    devices = []
    with Server(database, workers=1, threads=1, env={"PYTHONPATH": PYTHONPATH},
                log_path=os.path.join(work, "server.log")) as server:
        for i, (counter, code) in enumerate(zip(counters, codes)):
            t = tablet.enroll(os.path.join(work, "devices", f"d{i:02d}"), server.url, code)
            staff = [s for s, unit in STAFF.items() if unit == COUNTERS[counter]]
            devices.append({"id": t.device_id, "token": t.identity["token"], "counter": counter,
                            "seed": bytes(t.key), "staff": staff})
            t.close()
    return devices


def sign_batches(devices, batches_per_device, batch_size):
    """Sign every device's batches into BODIES, in a process pool."""
    # spawn, not fork: a forked pool child can inherit a lock another thread held and hang.
    with multiprocessing.get_context("spawn").Pool(os.cpu_count()) as pool:
        BODIES[:] = pool.map(_sign, [(d, batches_per_device, batch_size) for d in devices])


def _sign(task):
    """Sign ``n_batches`` batches for one device; returns body tails (see HEAD)."""
    device, n_batches, batch_size = task
    key = protocol.signing_key_from_seed(device["seed"])
    rng = random.Random(device["id"])
    tails, seq = [], 1
    for _ in range(n_batches):
        batch = []
        for _ in range(batch_size):
            rating = rng.randint(1, 4)
            reasons = sorted(rng.sample(REASONS, rng.randint(1, 2))) if rating < 3 else []
            vote = {
                "id": protocol.uuid7(), "device": device["id"], "seq": seq, "counter": device["counter"],
                "staff": rng.choice(device["staff"]), "rating": rating, "reasons": reasons,
                "ticket": f"A{rng.randint(1, 999):03d}" if rng.random() < 0.8 else None,
                "local_time": protocol.format_local_time(), "scale_version": 1,
            }
            vote["signature"] = protocol.sign(key, protocol.canonical_vote_bytes(vote))
            batch.append(vote)
            seq += 1
        votes = json.dumps(batch, ensure_ascii=False, separators=(",", ":")).encode()
        tails.append(b'","votes":' + votes + b"}")
    return tails


def body(device_index, batch_index):
    """The request body of a device's batch, stamped with the tablet's clock at send time."""
    return HEAD + protocol.format_local_time().encode() + BODIES[device_index][batch_index]
