"""Background sync: drain the outbox in batches, with capped, jittered backoff.

``sync_once`` drains one stream; ``sync_now`` is what ``hailong-device sync``
runs (configuration, every stream, a heartbeat); ``run_loop`` is the loop of
``hailong-device run``: it sends right after a tap (it notices the outbox
database change), otherwise every ``interval`` seconds, votes first, then the
kiosk's staff sign-in/out events; it heartbeats at the interval the server's
configuration asks for, refreshes the cached configuration, signs idle staff
out, and backs off with full jitter while the server is unreachable, never
sooner than a ``Retry-After`` asks. Everything it does to the tablet is a
method of ``Tablet``.
"""

import logging
import random
import threading
import time

from device_client import transport
from device_client.tablet import Revoked

log = logging.getLogger("hailong.device.sync")

__all__ = ["Backoff", "Revoked", "run_loop", "send_all", "sync_now", "sync_once"]


def sync_once(tablet, progress=None, stream="votes"):
    """Send batches of ``stream`` until its queue is empty; returns how many items were sent.

    Raises ``transport.Unreachable``/``transport.ServerError`` on the first
    failure (what was acknowledged before it stays acknowledged) and
    ``Revoked`` on a 401.
    """
    total = 0
    while True:
        if progress:
            progress(f"sending up to {tablet.batch_size} {stream}")
        try:
            sent, answer = tablet.send(stream)
        except transport.ServerError as exc:
            if exc.status == 413 and tablet.smaller_batches():
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


def send_all(tablet, progress=None):
    """Drain every stream, votes first; returns ``{stream: items sent}``."""
    return {stream: sync_once(tablet, progress, stream) for stream in tablet.streams}


def sync_now(tablet, progress=None):
    """Refresh the configuration, send every stream, heartbeat: ``hailong-device sync``.

    A failed refresh does not stop the sending (the votes matter more than new
    PINs); its error is returned as ``config_error``, None when it worked.
    """
    config_error = None
    try:
        tablet.refresh_config()
    except Revoked:
        raise
    except (transport.Unreachable, transport.ServerError) as exc:
        config_error = str(exc)
        if progress:
            progress(f"configuration not refreshed: {exc}")
    sent = send_all(tablet, progress)
    tablet.heartbeat()
    return sent, config_error


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


def run_loop(tablet, stop=None, interval=30.0, heartbeat_every=None, config_every=600.0,
             backoff=None, poll=0.25):
    """Run until ``stop`` (a ``threading.Event``) is set.

    ``heartbeat_every`` overrides the configuration's ``heartbeat_seconds``
    (60 when it has none); the loop wakes for a heartbeat even when that is
    sooner than ``interval``, since the server calls a quiet tablet late.
    """
    stop = stop or threading.Event()
    backoff = backoff or Backoff()
    watch = tablet.watch()
    next_heartbeat = next_config = 0.0
    while not stop.is_set():
        delay = interval
        watch.changed()  # from here on, any commit (a tap, or this round's own) wakes the wait
        try:
            now = time.monotonic()
            if now >= next_config or tablet.config is None:
                tablet.refresh_config()
                next_config = now + config_every
            tablet.sign_out_if_due()  # automatic sign-out also when no page is open
            sent = send_all(tablet)
            if any(sent.values()):
                log.info("sent %s", ", ".join(f"{n} {stream}" for stream, n in sent.items() if n))
            if time.monotonic() >= next_heartbeat:
                tablet.heartbeat()
                next_heartbeat = time.monotonic() + (heartbeat_every or tablet.heartbeat_seconds)
            backoff.reset()
            delay = min(interval, max(0.0, next_heartbeat - time.monotonic()))
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
            if watch.changed() and backoff.failures == 0:
                break
            stop.wait(min(poll, max(0.0, deadline - time.monotonic())))
    watch.close()
