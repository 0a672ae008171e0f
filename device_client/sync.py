"""Background sync: drain the outbox in batches, with capped, jittered backoff.

``sync_once`` is what ``hailong-device sync`` runs; ``run_loop`` is the loop
of ``hailong-device run``: it sends right after a tap (it notices the outbox
database change), otherwise every ``interval`` seconds, votes first, then the
kiosk's staff sign-in/out events; it heartbeats, refreshes the cached
configuration, signs idle staff out, and backs off with full jitter while the
server is unreachable, never sooner than a ``Retry-After`` asks.
"""

import logging
import random
import threading
import time

from device_client import staff, store, transport

log = logging.getLogger("hailong.device.sync")


class Revoked(Exception):
    pass


def sync_once(tablet, progress=None):
    """Send batches until the queue is empty; returns how many votes were sent.

    Raises ``transport.Unreachable``/``transport.ServerError`` on the first
    failure (what was acknowledged before it stays acknowledged) and
    ``Revoked`` on a 401.
    """
    total = 0
    while True:
        if progress:
            progress(f"sending up to {tablet.batch_size} votes")
        try:
            sent, answer = tablet.send_batch()
        except transport.ServerError as exc:
            if exc.status == 401:
                with store.transaction(tablet.conn):
                    store.set_meta(tablet.conn, "revoked", True)
                raise Revoked(exc.message) from None
            if exc.status == 413 and tablet.batch_size > 1:
                tablet.batch_size = max(1, tablet.batch_size // 2)
                continue
            raise
        if not sent:
            return total
        total += sent
        if progress:
            counts = {}
            for result in answer["results"]:
                counts[result["status"]] = counts.get(result["status"], 0) + 1
            progress(f"sent {sent}: {counts}, acknowledged up to {answer['ack_seq']}")
        if sent < tablet.batch_size:
            return total


class Backoff:
    """Exponential backoff with full jitter: sleep uniform(0, min(cap, base·2^n))."""

    def __init__(self, base=1.0, cap=300.0, rng=None):
        self.base, self.cap, self.failures = base, cap, 0
        self.rng = rng or random.Random()

    def next_delay(self, retry_after=None):
        ceiling = min(self.cap, self.base * (2 ** self.failures))
        self.failures += 1
        delay = self.rng.uniform(0, ceiling)
        return max(delay, retry_after or 0.0)

    def reset(self):
        self.failures = 0


def run_loop(tablet, stop=None, interval=30.0, heartbeat_every=60.0, config_every=600.0,
             backoff=None, poll=0.25):
    """Run until ``stop`` (a ``threading.Event``) is set."""
    stop = stop or threading.Event()
    backoff = backoff or Backoff()
    watch = store.open_store(tablet.data_dir)  # its own connection, to see others' commits
    last_version = store.data_version(watch)
    next_heartbeat = next_config = 0.0
    while not stop.is_set():
        delay = interval
        try:
            now = time.monotonic()
            if now >= next_config or tablet.config is None:
                tablet.refresh_config()
                next_config = now + config_every
            staff.current(tablet)  # automatic sign-out also when no page is open
            sent = sync_once(tablet)
            if sent:
                log.info("sent %d votes", sent)
            if staff.send_sessions(tablet):
                log.info("sent staff session events")
            if time.monotonic() >= next_heartbeat:
                tablet.heartbeat()
                next_heartbeat = time.monotonic() + heartbeat_every
            backoff.reset()
        except Revoked as exc:
            log.error("device revoked by the server: %s; votes stay queued", exc)
            tablet.note_error(f"revoked: {exc}")
            delay = max(interval, 300.0)
        except transport.ServerError as exc:
            tablet.note_error(str(exc))
            delay = backoff.next_delay(exc.retry_after)
            log.warning("server refused: %s; retrying in %.1f s", exc, delay)
        except transport.Unreachable as exc:
            tablet.note_error(f"unreachable: {exc}")
            delay = backoff.next_delay()
            log.info("server unreachable (%s); retrying in %.1f s", exc, delay)
        # Wait for the delay, but wake at once when a new vote is committed
        # (unless we are backing off: then the server needs the rest).
        deadline = time.monotonic() + delay
        while not stop.is_set() and time.monotonic() < deadline:
            version = store.data_version(watch)
            if version != last_version:
                last_version = version
                if backoff.failures == 0:
                    break
            stop.wait(min(poll, max(0.0, deadline - time.monotonic())))
        last_version = store.data_version(watch)
    watch.close()
