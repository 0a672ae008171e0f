"""``make demo``: the whole system on this machine, with a demo province.

Everything runs as it would in a province, only closer together: a fresh
``instance/`` is migrated and loaded with ``hailong org import``; ``hailong
serve`` and ``hailong jobs`` run as processes; three tablets are enrolled with
``hailong device-code`` and ``hailong-device enroll`` and each runs
``hailong-device run``, talking to the server through its own
``devtools.faultproxy`` so it can be taken off the network. Citizens vote
through ``hailong-device vote``; every minute or so one tablet goes offline
for half a minute and its votes wait in its outbox.

Example: python -m devtools.demo --duration 120 --port 8000

Ctrl-C (or SIGTERM) stops it in order: no more votes, every tablet back
online, a few seconds to deliver, then every process ends. Docs: docs/demo.md.
"""

import argparse
import concurrent.futures
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request

from devtools import processes
from devtools.demo_history import write_history
from devtools.demo_org import write_demo_org
from devtools.faultproxy import FaultProxy
from migrations import DEFAULT_SCALE

BIN = processes.BIN
HAILONG = os.path.join(BIN, "hailong")
DEVICE = os.path.join(BIN, "hailong-device")
MARKER = ".demo"
PACES = {"normal": 1.0, "fast": 10.0}
# Counters in three different offices, so the tablets serve different rosters.
TABLETS = {"tthcc-q1": "DN-TTHCC-Q1", "bienhoa-q2": "DN-BH-Q2", "tanhiep-q1": "DN-BH-TH-Q1"}
# Demo sign-ins: printed by the demo, never used outside it.
ADMIN_USER, ADMIN_PASSWORD = "admin", "hailong-demo-2026"
AUDITOR_USER, AUDITOR_UNIT = "kiemtoan", "DN"  # the province's auditor: checkpoints, exports, proofs
STAFF_PIN = "246810"
# Written to instance/config.py, so every process and every command typed in
# this folder (hailong device list, the pages) sees the same settings.
JOBS_SETTINGS = {
    "DEVELOPMENT": True,  # session cookies without Secure: the demo serves plain HTTP
    "SILENT_AFTER_MINUTES": 2,
    "JOBS_SILENT_CHECK_SECONDS": 20,
    "DEVICE_HEARTBEAT_SECONDS": 15,  # so a tablet offline for a short outage shows as late
}
DEMO_HOURS = "Mon-Sun 00:00-24:00"  # the demo is "open" whenever you run it (`hailong hours set-default`)
RATING_WEIGHTS = {4: 55, 3: 30, 2: 10, 1: 5}  # mostly satisfied, as real counters see
STOP_TIMEOUT = 12.0  # gunicorn's graceful_timeout is 10 s


class DemoError(Exception):
    """Setup failed in a way the user can act on; the message says how."""


class Tablet:
    def __init__(self, name, counter, unit, staff, data_dir):
        self.name, self.counter, self.unit, self.staff = name, counter, unit, staff
        self.data_dir = data_dir
        self.proxy = self.process = self.device_id = None
        self.ticket = random.randint(1000, 9000)

    @property
    def kiosk_url(self):
        return self.process.url if self.process else None


class Demo:
    def __init__(self, root, port, pace, duration):
        self.root = os.path.abspath(root)
        self.instance = os.path.join(self.root, "instance")
        self.database = os.path.join(self.instance, "hailong.db")
        self.logs = os.path.join(self.instance, "logs")
        self.port, self.pace, self.duration = port, pace, duration
        self.stop = threading.Event()  # Ctrl-C, SIGTERM or --duration
        self.hurry = threading.Event()  # a second Ctrl-C: skip the drain
        self.votes_stop = threading.Event()
        self.children, self.tablets, self.threads = [], [], []
        self.server = None
        self.history_votes = 0  # past votes written before the live tablets start (demo_history.py)
        # What every command and process of the demo gets on top of the environment.
        self.extra_env = {"PYTHONUNBUFFERED": "1", "HAILONG_INSTANCE": self.instance}
        self.env = {**os.environ, **self.extra_env}
        self.rng = random.Random()
        self._print_lock = threading.Lock()

    # -- output ------------------------------------------------------------------

    def say(self, line):
        self.emit(f"[{time.strftime('%H:%M:%S')}] {line}")

    def emit(self, text):
        """Print; a closed terminal or pipe must not stop the demo from cleaning up."""
        with self._print_lock:
            try:
                print(text, flush=True)
            except OSError:
                sys.stdout = open(os.devnull, "w", encoding="utf-8")

    def rel(self, path):
        """A path as the user should type it from where the demo was started."""
        relative = os.path.relpath(path, self.root)
        return path if relative.startswith("..") else relative

    # -- signals -----------------------------------------------------------------

    def on_signal(self, signum, _frame):
        if self.stop.is_set():
            self.hurry.set()
            return
        self.stop.set()

    # -- setup ---------------------------------------------------------------------

    def fresh_instance(self):
        """Remove an earlier demo's instance/, but never anything else."""
        if os.path.lexists(self.instance):
            marker = os.path.join(self.instance, MARKER)
            ours = os.path.isfile(marker)
            if not os.path.isdir(self.instance) or (os.listdir(self.instance) and not ours):
                raise DemoError(
                    f"{self.rel(self.instance)} exists and was not made by the demo (no {MARKER} file "
                    "in it). It may hold real data, so the demo leaves it alone: move it away, or run "
                    "the demo from another folder."
                )
            if os.path.isfile(marker):
                with open(marker, encoding="utf-8") as f:
                    pid = (json.loads(f.read() or "{}") or {}).get("pid")
                if pid and pid != os.getpid() and _pid_alive(pid):
                    raise DemoError(f"A demo seems to be running already (pid {pid}) in "
                                    f"{self.rel(self.instance)}; stop it first (if it is not a demo, "
                                    "remove the folder by hand).")
            shutil.rmtree(self.instance)
            self.say(f"Removed the previous demo's {self.rel(self.instance)}.")
        os.makedirs(self.logs)
        with open(os.path.join(self.instance, MARKER), "w", encoding="utf-8") as f:
            json.dump({"pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, f)
        with open(os.path.join(self.instance, "config.py"), "w", encoding="utf-8") as f:
            f.write("# Written by the demo (devtools/demo.py); read by every hailong command in this folder.\n")
            f.writelines(f"{name} = {value!r}\n" for name, value in JOBS_SETTINGS.items())

    def cli(self, *argv, what, input=None):
        """Run a one-shot command; its output goes to the setup log; failures stop the demo."""
        result = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=60,
                                start_new_session=True, input=input)
        with open(os.path.join(self.logs, "setup.log"), "a", encoding="utf-8") as log:
            log.write(f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}\n")
        if result.returncode != 0:
            raise DemoError(f"{what} failed:\n{(result.stdout + result.stderr).strip()}")
        return result.stdout.strip()

    def log(self, name):
        return os.path.join(self.logs, f"{name}.log")

    def launch(self, process):
        """Start a long-running process (devtools.processes); the demo stops it at the end."""
        self.children.append(process)
        return process.launch()

    def wait_ready(self, process, timeout=30):
        """Wait until ``process`` answers; False on Ctrl-C; a ``DemoError`` saying why if it cannot."""
        try:
            return process.wait_ready(timeout, abort=self.stop)
        except processes.StartError as exc:
            raise DemoError(str(exc)) from None

    def setup(self):
        for script in (HAILONG, DEVICE):
            if not os.path.exists(script):
                raise DemoError(f"{script} is missing: run `make venv` (or pip install -e '.[server,dev]').")
        self.fresh_instance()
        self.say(self.cli(HAILONG, "--database", self.database, "migrate", what="hailong migrate"))
        org_file = os.path.join(self.instance, "demo-org.csv")
        org = write_demo_org(org_file)
        self.say(self.cli(HAILONG, "--database", self.database, "org", "import", org_file,
                          what="hailong org import"))
        self.say(self.cli(HAILONG, "--database", self.database, "hours", "set-default", DEMO_HOURS,
                          what="hailong hours set-default"))
        self.people(org)
        history = write_history(self.database)  # TIMEZONE: the default, Asia/Ho_Chi_Minh
        self.history_votes = history["votes"]
        self.say(f"Wrote {history['votes']:,} signed past votes since {history['first_day']} from"
                 f" {history['devices']} retired history tablets, so the HR pages have months to show"
                 f" (devtools/demo_history.py).")
        first, last = history["last_month"]  # what the nightly scan would have found, as an admin asks for it
        self.say(self.cli(HAILONG, "--database", self.database, "scan", "--from", first, "--to", last,
                          what="hailong scan").splitlines()[-1])
        self.last_month = first, last
        # The history enters the tamper-evident log and gets its first signed checkpoints, as
        # `hailong jobs` would do within seconds; the auditor's pages then have something to show.
        notes = self.cli(HAILONG, "--database", self.database, "checkpoint", "--tree", "all",
                         what="hailong checkpoint")
        self.say(f"Signed the first checkpoints of the log ({notes.count('— ')} trees): see"
                 " docs/verify.md.")
        if not processes.port_free(self.port):
            wanted, self.port = self.port, processes.free_port()
            self.say(f"Port {wanted} is taken; using {self.port} instead.")
        server = self.server = self.launch(processes.Server(self.database, port=self.port, workers=2,
                                                            env=self.extra_env, log_path=self.log("server")))
        if not self.wait_ready(server):
            return
        self.say(f"Started hailong serve on {self.url} (pid {server.pid}).")
        jobs = self.launch(processes.Jobs(self.database, env=self.extra_env, log_path=self.log("jobs")))
        for name, counter in TABLETS.items():
            unit = org["unit_of_counter"][counter]
            self.tablets.append(Tablet(name, counter, unit, org["staff_by_unit"][unit],
                                       os.path.join(self.instance, "tablets", name)))
        # Enrolled side by side while jobs starts: each CLI start costs a second or so.
        with concurrent.futures.ThreadPoolExecutor(len(self.tablets)) as pool:
            enrolled = list(pool.map(self.enroll, self.tablets))
        if not self.wait_ready(jobs):
            return
        self.say(f"Started hailong jobs (pid {jobs.pid}): silent check every "
                 f"{JOBS_SETTINGS['JOBS_SILENT_CHECK_SECONDS']} s, silent after "
                 f"{JOBS_SETTINGS['SILENT_AFTER_MINUTES']} min, open {DEMO_HOURS}.")
        for tablet in self.tablets:  # each serves its kiosk page on a free port of its own
            tablet.process = self.launch(processes.DeviceRun(
                tablet.data_dir, args=("--interval", "10"), env=self.extra_env,
                log_path=self.log(f"tablet-{tablet.name}"), name=f"hailong-device run ({tablet.name})"))
        for tablet, line in zip(self.tablets, enrolled):
            if not self.wait_ready(tablet.process):
                return
            self.say(f"Tablet {tablet.name}: {line}; proxy {tablet.proxy.url}; "
                     f"hailong-device run pid {tablet.process.pid}.")
        self.sign_in_kiosks()

    def people(self, org):
        """A first admin for the pages, and a kiosk PIN for the first person at each tablet."""
        self.cli(HAILONG, "--database", self.database, "user", "create", "--username", ADMIN_USER,
                 "--role", "admin", "--full-name", "Quản trị viên (demo)", "--password-stdin",
                 what="hailong user create", input=ADMIN_PASSWORD + "\n")
        for counter in TABLETS.values():
            first = org["staff_by_unit"][org["unit_of_counter"][counter]][0]
            self.cli(HAILONG, "--database", self.database, "staff", "set-pin", first, "--pin", STAFF_PIN,
                     what=f"hailong staff set-pin {first}")
        self.cli(HAILONG, "--database", self.database, "user", "create", "--username", AUDITOR_USER,
                 "--role", "auditor", "--unit", AUDITOR_UNIT, "--full-name", "Kiểm toán viên (demo)",
                 "--password-stdin", what="hailong user create", input=ADMIN_PASSWORD + "\n")
        self.say(f"Created the admin user {ADMIN_USER!r}, the auditor {AUDITOR_USER!r} (unit {AUDITOR_UNIT})"
                 f" and kiosk PIN {STAFF_PIN} for the first person of each tablet's office.")

    def sign_in_kiosks(self):
        """Sign the first person of each office in at its kiosk, as they would at opening time."""
        for tablet in self.tablets:
            body = json.dumps({"staff": tablet.staff[0], "pin": STAFF_PIN}).encode()
            request = urllib.request.Request(tablet.kiosk_url + "/api/staff/sign-in", data=body,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=10):
                    self.say(f"Kiosk {tablet.name}: {tablet.staff[0]} signed in.")
            except OSError:
                self.say(f"Kiosk {tablet.name}: could not sign {tablet.staff[0]} in; use the page's "
                         f"'Cán bộ' button with PIN {STAFF_PIN}.")

    def enroll(self, tablet):
        """A code from the server, then ``hailong-device enroll`` through the tablet's proxy."""
        tablet.proxy = FaultProxy(self.port).start()
        issued = json.loads(self.cli(HAILONG, "--database", self.database, "device-code", "--counter",
                                     tablet.counter, "--json",
                                     what=f"hailong device-code --counter {tablet.counter}"))
        enrolled = self.cli(DEVICE, "--data-dir", tablet.data_dir, "enroll", "--server", tablet.proxy.url,
                            "--code", issued["code"], what=f"enrolling tablet {tablet.name}")
        status = json.loads(self.cli(DEVICE, "--data-dir", tablet.data_dir, "status", "--json",
                                     what=f"hailong-device status for {tablet.name}"))
        tablet.device_id = status["device_id"]
        if not status.get("config_fetched_at"):
            enrolled += (" WARNING: it has no configuration from the server yet, so votes fail until"
                         f" its sync loop gets one (see {self.rel(self.logs)}/tablet-{tablet.name}.log)")
        return enrolled.split(". Data in ")[0]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def print_guide(self):
        hailong, device = self.rel(HAILONG), self.rel(DEVICE)
        database = self.rel(self.database)
        lines = [
            "",
            "The demo is running. Where to look:",
            f"  server        {self.url}/healthz",
            f"  admin pages   {self.url}/  (sign in as {ADMIN_USER} / {ADMIN_PASSWORD})",
            f"  API docs      {self.url}/api/docs  and  {self.url}/api/openapi.json",
            f"  devices       {hailong} --database {database} device list",
            f"  auditor       {self.url}/log  (sign in as {AUDITOR_USER} / {ADMIN_PASSWORD}): checkpoints,"
            " exports, one vote's proof",
            f"  export        {hailong} --database {database} export --from {self.last_month[0]} --to"
            f" {self.last_month[1]} -o {self.rel(self.instance)}/export.zip",
            f"  verify        {hailong} --database {database} verify {self.rel(self.instance)}/export.zip",
        ]
        for tablet in self.tablets:
            lines.append(f"  tablet        {device} --data-dir {self.rel(tablet.data_dir)} status")
        for tablet in self.tablets:
            lines.append(f"  kiosk page    {tablet.kiosk_url}/  ({tablet.name}; staff "
                         f"{tablet.staff[0]} signed in, PIN {STAFF_PIN})")
        lines += [
            f"  logs          {self.rel(self.logs)}/"
            " (server.log, jobs.log, tablet-*.log, votes.log, setup.log)",
            "  (or activate the venv with `source .venv/bin/activate` and type hailong / hailong-device)",
            f"Votes every {5 / self.pace:g}-{15 / self.pace:g} s per tablet; a tablet goes offline every "
            f"{60 / self.pace:g}-{90 / self.pace:g} s. "
            + (f"Stopping after {self.duration:g} s; " if self.duration else "")
            + "Ctrl-C stops the demo.",
            "",
        ]
        self.emit("\n".join(lines))

    # -- the running demo --------------------------------------------------------------

    def vote_loop(self, tablet):
        rng, failures = random.Random(), set()
        with open(os.path.join(self.logs, "votes.log"), "a", encoding="utf-8") as log:
            while not self.votes_stop.wait(rng.uniform(5, 15) / self.pace):
                argv = [DEVICE, "--data-dir", tablet.data_dir, "vote", *self.citizen(tablet, rng)]
                result = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=60,
                                        start_new_session=True)
                log.write(f"{tablet.name}: {(result.stdout + result.stderr).strip()}\n")
                log.flush()
                error = result.stderr.strip()
                if result.returncode != 0 and error not in failures:
                    failures.add(error)  # each new error once; votes.log has every one
                    self.say(f"Vote at {tablet.name} failed: {error}")

    def citizen(self, tablet, rng):
        """One citizen's vote as ``hailong-device vote`` arguments."""
        rating = rng.choices(list(RATING_WEIGHTS), weights=list(RATING_WEIGHTS.values()))[0]
        args = ["--staff", rng.choice(tablet.staff), "--rating", str(rating)]
        negative = {level["value"] for level in DEFAULT_SCALE["levels"] if level["negative"]}
        if rating in negative and rng.random() < 0.8:
            reasons = [reason["code"] for reason in DEFAULT_SCALE["reasons"]]
            for code in rng.sample(reasons, rng.choice((1, 1, 2))):
                args += ["--reason", code]
        if rng.random() < 0.4:
            tablet.ticket += rng.randint(1, 7)
            args += ["--ticket", f"HS-2026-{tablet.ticket:06d}"]
        return args

    def tablet_counts(self, tablet):
        """(recorded, queue depth, dead letters) from ``hailong-device status --json``; None if it
        could not answer (its outbox busy for too long, say)."""
        result = subprocess.run([DEVICE, "--data-dir", tablet.data_dir, "status", "--json"], capture_output=True,
                                text=True, env=self.env, timeout=60, start_new_session=True)
        try:
            status = json.loads(result.stdout) if result.returncode == 0 else None
        except ValueError:
            status = None
        return status and (status["last_seq"], status["queue_depth"], status["dead_letters"])

    def server_states(self):
        """Each tablet's state as the server sees it (``hailong device list --json``), by device id."""
        result = subprocess.run([HAILONG, "--database", self.database, "device", "list", "--json"],
                                capture_output=True, text=True, env=self.env, timeout=60, start_new_session=True)
        try:
            return {row["id"]: row["state"] for row in json.loads(result.stdout)} if result.returncode == 0 else {}
        except ValueError:
            return {}

    def server_votes(self):
        """The server's count of the live tablets' votes (the history's left out), read-only; None while
        its database is busy."""
        try:
            conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5)
            try:
                return conn.execute("SELECT COUNT(*) FROM votes").fetchone()[0] - self.history_votes
            finally:
                conn.close()
        except sqlite3.Error:
            return None

    def snapshot(self, states=True):
        """Counts on each tablet (None where one could not answer), on the server, and the
        server's view of each tablet (with ``states``), all asked side by side."""
        with concurrent.futures.ThreadPoolExecutor(len(self.tablets) + 1) as pool:
            server_states = pool.submit(self.server_states) if states else None
            counts = dict(zip([t.name for t in self.tablets], pool.map(self.tablet_counts, self.tablets)))
            server = self.server_votes()
            return counts, server, server_states.result() if states else {}

    def summary(self, prefix="Votes"):
        tablets, server, states = self.snapshot()
        recorded = sum(counts[0] for counts in tablets.values() if counts)
        dead = sum(counts[2] for counts in tablets.values() if counts)
        parts = []
        for tablet in self.tablets:
            counts = tablets[tablet.name]
            part = f"{tablet.name} {'OFFLINE' if tablet.proxy.offline else 'online'} queue "
            part += "?" if counts is None else str(counts[1])
            seen = states.get(tablet.device_id)
            if seen not in (None, "online"):
                part += f" (server: {seen})"
            parts.append(part)
        on_server = "?" if server is None else server
        self.say(f"{prefix}: {recorded} recorded on tablets, {on_server} on the server"
                 + (f", {dead} dead letters" if dead else "") + " | " + " | ".join(parts))
        return recorded, server, dead, tablets

    def run_loop(self):
        for tablet in self.tablets:
            thread = threading.Thread(target=self.vote_loop, args=(tablet,), name=f"votes-{tablet.name}")
            thread.start()
            self.threads.append(thread)
        now = time.monotonic()
        end = now + self.duration if self.duration else None
        every = max(3.0, 15 / self.pace)
        next_summary = now + every
        next_outage = now + self.rng.uniform(20, 40) / self.pace
        outage, last, back_at = None, None, 0.0
        while not self.stop.wait(0.2):
            now = time.monotonic()
            if end and now >= end:
                self.say(f"{self.duration:g} s are up.")
                break
            if outage is None and now >= next_outage:
                outage = last = self.rng.choice([t for t in self.tablets if t is not last])
                length = self.rng.uniform(20, 40) / self.pace
                outage.proxy.offline = True
                back_at = now + length
                next_outage = max(now + self.rng.uniform(60, 90) / self.pace, back_at + 5 / self.pace)
                self.say(f"Tablet {outage.name} goes OFFLINE for {length:.0f} s; "
                         "its votes wait in its outbox.")
            elif outage is not None and now >= back_at:
                outage.proxy.offline = False
                counts = self.tablet_counts(outage)
                queued = f"{counts[1]} vote(s) queued" if counts else "its queue"
                self.say(f"Tablet {outage.name} is back ONLINE with {queued}.")
                outage = None
            if now >= next_summary:
                self.summary()
                next_summary = now + every

    # -- stopping ------------------------------------------------------------------

    def shutdown(self):
        """Stop votes, heal the network, let queues drain, then end every process."""
        self.say("Stopping: no more votes; every tablet back online." if self.threads else "Stopping.")
        self.votes_stop.set()
        for thread in self.threads:
            thread.join(timeout=60)
        for tablet in self.tablets:
            if tablet.proxy:
                tablet.proxy.offline = False
        if self.threads and self.server.alive():
            self.drain(timeout=20.0)
        self.stop_children()
        for tablet in self.tablets:
            if tablet.proxy:
                tablet.proxy.stop()

    def drain(self, timeout):
        """Wait for every queue to empty. A tablet still backing off after a long
        outage is nudged with ``hailong-device sync``, as a technician would."""
        start = time.monotonic()
        nudged = False
        self.say(f"Letting the tablets deliver their queues (up to {timeout:g} s; Ctrl-C again to skip).")
        while time.monotonic() - start < timeout and not self.hurry.is_set():
            tablets, server, _ = self.snapshot(states=False)
            recorded = sum(c[0] - c[2] for c in tablets.values() if c)
            lagging = [t for t in self.tablets if tablets[t.name] is None or tablets[t.name][1]]
            if not lagging and server == recorded:
                self.say(f"All queues are empty after {time.monotonic() - start:.1f} s.")
                return
            if not nudged and time.monotonic() - start > 5:
                nudged = True
                for tablet in lagging:
                    self.say(f"Tablet {tablet.name} is still backing off; nudging it: "
                             f"hailong-device --data-dir {self.rel(tablet.data_dir)} sync")
                    subprocess.run([DEVICE, "--data-dir", tablet.data_dir, "sync"], capture_output=True,
                                   env=self.env, timeout=60, start_new_session=True)
            time.sleep(0.5)
        self.say("Stopped waiting; what is still queued stays on the tablets.")

    def stop_children(self):
        # Tablets first, then jobs, then the server, each SIGTERM then SIGKILL.
        if not self.children:
            return
        order = [c for c in self.children if isinstance(c, processes.DeviceRun)]
        order += [c for c in self.children if c not in order]
        for child in order:
            child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        killed = [child.name for child in order if not child.wait_gone(max(0.1, deadline - time.monotonic()))]
        pids = ", ".join(str(child.pid) for child in order)
        self.say(f"All processes stopped (pids {pids})"
                 + (f"; killed after {STOP_TIMEOUT:g} s: {', '.join(killed)}." if killed else "."))

    def final_summary(self):
        recorded, server, dead, tablets = self.summary("Final counts")
        if server is not None and server == recorded and not dead:
            self.say(f"Final: all {recorded} votes recorded on the tablets are on the server.")
        elif server is not None and server == recorded - dead:
            self.say(f"Final: all {server} votes the server accepted are on it; {dead} it refused are kept "
                     "as dead letters on the tablets (see hailong-device status).")
        else:
            self.say(f"Final: {recorded} votes recorded on the tablets, {server} on the server "
                     f"({dead} dead letters); the rest stay queued on the tablets.")
        self.say(f"{self.rel(self.instance)}/ is kept for a look; the next demo replaces it.")

    def main(self):
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), self.on_signal)
        code = 0
        try:
            self.setup()
            if not self.stop.is_set():
                self.print_guide()
                self.run_loop()
        except DemoError as exc:
            self.say(f"Error: {exc}")
            code = 1
        finally:
            self.shutdown()
        if self.tablets and os.path.exists(self.database):
            self.final_summary()
        return code


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pace(text):
    value = PACES.get(text)
    if value is None:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not 'normal', 'fast' or a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("the pace must be above 0")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000,
                        help="Server port (default 8000; a free one is used if it is taken).")
    parser.add_argument("--duration", type=float, default=0,
                        help="Stop, as on Ctrl-C, this many seconds after the demo is running.")
    parser.add_argument("--pace", type=_pace, default=1.0,
                        help="Speed-up of votes, outages and summaries: a number, 'normal' (1) "
                        "or 'fast' (10).")
    args = parser.parse_args(argv)
    return Demo(os.getcwd(), args.port, args.pace, args.duration).main()


if __name__ == "__main__":
    sys.exit(main())
