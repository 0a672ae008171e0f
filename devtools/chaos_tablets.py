"""The chaos campaign's tablets (``devtools/chaos.py``): three kinds, all real tablet code.

``ThreadTablet``
    ``device_client.Tablet`` driven by a thread of the campaign: it taps
    (records signed votes in its outbox) and syncs after every few taps,
    backing off on failures as the tablet's own loop does, through the
    shared fault proxy. Most tablets are these: a thread costs little, so
    fifty of them fit on two cores.
``CliTablet``
    taps recorded by a thread, sent only by real ``hailong-device sync``
    processes, one at a time, through a fault proxy of its own; the chaos
    monkey SIGKILLs one of them while its request is on the wire (the
    proxy says when one is).
``KioskTablet``
    a real ``hailong-device run`` process with its kiosk page, tapped over
    HTTP as the page taps (``POST /api/vote`` with an idempotency key, the
    same key again after a failure), syncing in the background through its
    own fault proxy. The chaos monkey SIGKILLs it in the middle of a tap or
    in the middle of a sync; every tap that got its "thank you" (a 200) must
    be in the outbox afterwards, under the seq and id it was thanked with.

Every kind takes the campaign's shared state ``run`` (counts, notes,
errors: ``devtools.chaos.Run``) and the plan, and has ``work`` (the thread's
body), ``drain`` (after the heal: send everything) and ``outbox`` facts
(``devtools.chaos_facts``).
"""

import http.client
import json
import os
import random
import signal
import subprocess
import threading
import time

from device_client import store, sync, transport
from device_client.tablet import Tablet
from devtools.processes import BIN, HOST, DeviceRun

DEVICE = os.path.join(BIN, "hailong-device")


def choose_vote(rng, levels, reasons):
    """A rating as citizens give them: mostly good, reasons with the low ones (the scale asks for them)."""
    rating = rng.choice(levels)
    chosen = sorted(rng.sample(reasons, rng.randint(1, 2))) if rating <= 2 else []
    return rating, chosen


class ThreadTablet:
    kind = "thread"

    def __init__(self, index, data_dir):
        self.index, self.data_dir = index, data_dir

    def work(self, run, plan):
        rng = random.Random(run.seed * 1000 + self.index)
        backoff = sync.Backoff(base=0.05, cap=0.5, rng=rng)  # the tablet's own policy, in fast motion
        tablet = Tablet(self.data_dir)
        try:
            staff, levels, reasons = _choices(tablet.config)
            burst = rng.randint(5, 40)
            for n, asked in tap_moments(run, plan, rng):
                rating, chosen = choose_vote(rng, levels, reasons)
                ticket = rng.choice([None, f"HS-{rng.randint(1, 99999)}", f"Hồ sơ {rng.randint(1, 999)}/ĐN"])
                tablet.record_vote(rng.choice(staff), rating, chosen, ticket)
                run.add("taps")
                burst -= 1
                if asked or burst == 0 or n == plan.votes - 1:
                    try_sync(run, tablet, backoff, tries=1 if asked else 3)
                    burst = rng.randint(5, 40)
            # Until the chaos plan is through, send what failed before (the answers lost, the dead ports).
            while not run.chaos_done.wait(rng.uniform(0.05, 0.3)):
                try_sync(run, tablet, backoff, tries=1)
        except Exception as exc:
            run.fail(f"tablet {self.index}", exc)
        finally:
            tablet.close()

    def drain(self, deadline):
        tablet = Tablet(self.data_dir)
        try:
            while time.monotonic() < deadline:
                sync.send_all(tablet)
                if store.queue_summary(tablet.conn)["queue_depth"] == 0:
                    return True
                time.sleep(0.1)  # delivered but not acknowledged yet: the facts will say so
            return False
        finally:
            tablet.close()


def tap_moments(run, plan, rng):
    """Yield ``(n, asked)`` before each of a tablet's ``plan.votes`` taps, and pace them.

    Most taps are spread over ``plan.recording_seconds``. The last few are a
    reserve: while the chaos plan runs, one of them comes in each round the
    chaos monkey asks for (``asked``: it waits for a batch to commit, or for
    a tap to kill a kiosk in; ``Run.ask_for_taps``), so it never waits on
    tablets that are done; once the plan is through, the rest come at once.
    """
    pause = plan.recording_seconds / plan.votes
    paced = plan.votes - min(plan.votes // 2, max(20, plan.votes // 20))
    seen = None
    for n in range(plan.votes):
        if n < paced:
            yield n, False
            time.sleep(rng.uniform(0, 2 * pause))
            continue
        seen = run.round if seen is None else seen  # rounds asked before the reserve began are past
        asked = False
        while not asked and not run.chaos_done.is_set():
            now = run.wait_round(seen)
            asked, seen = now > seen, now
        yield n, asked
        if asked:
            time.sleep(rng.uniform(0, 0.1))


def _choices(config):
    staff = [person["code"] for person in config["staff"]]
    levels = [level["value"] for level in config["scale"]["levels"]]
    reasons = [reason["code"] for reason in config["scale"]["reasons"]]
    return staff, levels, reasons


def try_sync(run, tablet, backoff, tries):
    """``sync_once``, backing off on the failures a tablet must ride out (5xx, 429, no answer)."""
    for _ in range(tries):
        run.add("sync_attempts")
        retry_after = None
        try:
            sync.sync_once(tablet)
            backoff.reset()
            return True
        except transport.Unreachable:
            pass
        except transport.ServerError as exc:
            if exc.status < 500 and exc.status != 429:
                raise
            retry_after = exc.retry_after
        run.add("sync_failures")
        time.sleep(backoff.next_delay(retry_after))
    return False


class CliTablet:
    kind = "cli"

    def __init__(self, index, data_dir, proxy):
        self.index, self.data_dir, self.proxy = index, data_dir, proxy
        self.syncing = threading.Lock()  # one `hailong-device sync` at a time, as a cron job would run it

    def work(self, run, plan):
        rng = random.Random(run.seed * 1000 + self.index)
        tablet = Tablet(self.data_dir)
        try:
            staff, levels, reasons = _choices(tablet.config)
            burst = rng.randint(20, 80)
            for n, asked in tap_moments(run, plan, rng):
                rating, chosen = choose_vote(rng, levels, reasons)
                tablet.record_vote(rng.choice(staff), rating, chosen, None)
                run.add("taps")
                burst -= 1
                if asked or burst == 0 or n == plan.votes - 1:
                    with self.syncing:
                        self.sync_process(run)
                    burst = rng.randint(20, 80)
            while not run.chaos_done.wait(rng.uniform(0.5, 1.5)):
                with self.syncing:
                    self.sync_process(run)
        except Exception as exc:
            run.fail(f"CLI tablet {self.index}", exc)
        finally:
            tablet.close()

    def sync_process(self, run, timeout=120):
        """One ``hailong-device sync``; its exit code (1 when the faults beat it: it is run again later)."""
        run.add("cli_runs")
        result = subprocess.run([DEVICE, "--data-dir", self.data_dir, "sync"], capture_output=True, text=True,
                                timeout=timeout)
        return result

    def kill_mid_sync(self, run, rng):
        """Start ``hailong-device sync -v`` and SIGKILL it while its request is on the wire.

        Returns True when it was killed with a connection open (False: it
        finished, or failed on its own, before one was seen).
        """
        with self.syncing:
            run.add("cli_runs")
            process = subprocess.Popen([DEVICE, "--data-dir", self.data_dir, "sync", "-v"],
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            killed = False
            with process:
                for line in process.stdout:
                    if line.startswith("sending"):
                        killed = _kill_when_in_flight(self.proxy, process, rng, timeout=5)
                        break
                process.stdout.close()
                process.wait(timeout=60)
            if killed:
                run.add("cli_killed_mid_sync")
            run.note(f"CLI sync of tablet {self.index} "
                     + ("SIGKILLed mid-request" if killed else f"exited {process.returncode} first"))
            return killed

    def drain(self, deadline):
        while time.monotonic() < deadline:
            result = subprocess.run([DEVICE, "--data-dir", self.data_dir, "sync", "-v"], capture_output=True,
                                    text=True, timeout=max(5, deadline - time.monotonic()))
            if result.returncode == 0 and "queue 0, dead letters 0" in result.stdout:
                return True
            time.sleep(0.2)
        return False


def _kill_when_in_flight(proxy, process, rng, timeout):
    """SIGKILL ``process`` (a Popen) a moment after its connection through ``proxy`` opens; True if it was open."""
    deadline = time.monotonic() + timeout
    in_flight = False
    while not in_flight and process.poll() is None and time.monotonic() < deadline:
        if proxy.in_flight:
            time.sleep(rng.uniform(0, 0.005))  # before the commit, between commit and answer, or while reading it
            in_flight = proxy.in_flight > 0
        else:
            time.sleep(0.0005)
    if not in_flight:
        return False
    process.send_signal(signal.SIGKILL)  # a no-op if it has just exited (Popen knows)
    process.wait()
    return in_flight and process.returncode == -signal.SIGKILL


class KioskTablet:
    kind = "kiosk"

    def __init__(self, index, data_dir, proxy, staff, pin):
        self.index, self.data_dir, self.proxy = index, data_dir, proxy
        self.staff, self.pin = staff, pin
        self.process = DeviceRun(data_dir, log_path=os.path.join(data_dir, "run.log"),
                                 args=("--interval", "1", "--heartbeat", "5", "--max-backoff", "1"))
        self.ready = threading.Event()  # the kiosk page answers (cleared while it is killed and restarted)
        self.tapping = threading.Event()  # a tap's request is on its way to the kiosk page
        self.thanked = {}  # key -> (seq, id) of every tap answered 200

    def start(self, timeout=60):
        self.process.start(timeout)
        self.ready.set()
        return self

    def stop(self):
        self.ready.clear()
        self.process.stop()

    def work(self, run, plan):
        rng = random.Random(run.seed * 1000 + self.index)
        try:
            self._call(run, "/api/staff/sign-in", {"staff": self.staff, "pin": self.pin})
            config = _read_config(self.data_dir)
            _, levels, reasons = _choices(config)
            for n, _ in tap_moments(run, plan, rng):
                rating, chosen = choose_vote(rng, levels, reasons)
                key = f"chaos-{self.index}-{n}-{rng.getrandbits(32):08x}"
                answer = self._call(run, "/api/vote", {"key": key, "rating": rating, "reasons": chosen}, tap=True)
                self.thanked[key] = (answer["seq"], answer["id"])
                run.add("taps")
        except Exception as exc:
            run.fail(f"kiosk tablet {self.index}", exc)

    def _call(self, run, path, body, tap=False, timeout=120):
        """POST to the kiosk page until it answers 200, as the page does: the same body (key) again after a failure.

        A 409 ``closed`` (nobody signed in) signs the staff member in again first.
        """
        deadline = time.monotonic() + timeout
        while True:
            if not self.ready.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"the kiosk page of tablet {self.index} did not come back within {timeout} s")
            if tap:
                self.tapping.set()
            try:
                status, answer = _post(self.process.port, path, body)
            except OSError:
                if self.ready.is_set() and not self.process.alive():  # not the chaos monkey's kill: a crash
                    raise RuntimeError(f"hailong-device run of tablet {self.index} died by itself (exit"
                                       f" {self.process.returncode}); the end of its log:\n"
                                       f"{self.process.log_tail(20)}") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the kiosk page of tablet {self.index} did not answer {path} within"
                                       f" {timeout} s") from None
                if tap:
                    run.add("taps_sent_again")
                time.sleep(0.05)
                continue
            finally:
                self.tapping.clear()
            if status == 200:
                return answer
            if status == 409 and (answer or {}).get("error", {}).get("code") == "closed":
                self._call(run, "/api/staff/sign-in", {"staff": self.staff, "pin": self.pin})
                continue
            raise RuntimeError(f"kiosk {path} answered {status}: {answer}")

    def kill(self, run, rng, moment):
        """SIGKILL the process in the middle of a tap (``moment="tap"``) or of a sync (``"sync"``), restart it.

        Returns whether the moment was hit: a tap's request was on its way,
        or a connection to the server was open. Then ``PRAGMA
        integrity_check`` on its outbox, and the restart.
        """
        deadline = time.monotonic() + 10
        happening = self.tapping.is_set if moment == "tap" else lambda: self.proxy.in_flight > 0
        hit = False
        while not hit and time.monotonic() < deadline:
            if happening():
                time.sleep(rng.uniform(0, 0.002))  # somewhere in it: before, during or after the commit
                hit = happening()
            else:
                time.sleep(0.0005)
        self.ready.clear()
        self.process.kill()
        run.add(f"kiosk_kills_{moment}" + ("" if hit else "_missed"))
        check = run.integrity(os.path.join(self.data_dir, "outbox.db"),
                              f"kiosk tablet {self.index} killed during a {moment}")
        self.start()
        run.note(f"kiosk tablet {self.index} SIGKILLed {'during a ' + moment if hit else '(moment missed)'},"
                 f" restarted; outbox integrity_check {check}")
        return hit

    def drain(self, deadline):
        """The process syncs by itself now the network is healed: wait until both its queues are empty."""
        while time.monotonic() < deadline:
            conn = store.open_store(self.data_dir)
            try:
                empty = all(store.queue_summary(conn, stream)["queue_depth"] == 0 for stream in Tablet.streams)
            finally:
                conn.close()
            if empty:
                return True
            time.sleep(0.2)
        return False


def _read_config(data_dir):
    conn = store.open_store(data_dir)
    try:
        return store.get_meta(conn, "config")
    finally:
        conn.close()


def _post(port, path, body, timeout=30):
    """A JSON POST to the kiosk page, as its script sends it; ``(status, parsed answer)``."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        try:
            return response.status, json.loads(data) if data else None
        except ValueError:
            return response.status, data.decode("utf-8", "replace")
    finally:
        conn.close()
