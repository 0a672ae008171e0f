"""One request bucket per device, kept on its row so it holds across worker processes.

A device may make ``DEVICE_RATE_BURST`` write requests back to back, then
``DEVICE_RATE_PER_MINUTE`` on average. ``waiting_time`` is the arithmetic;
``precheck`` refuses a flood cheaply (no write, before any signature is
checked); ``take`` spends a token inside the request's write transaction, so
it costs no extra commit.
"""

from server.storage import devices


class RateLimited(Exception):
    """The device must wait ``retry_after`` seconds (the API answers 429 with ``Retry-After``)."""

    def __init__(self, retry_after):
        super().__init__(retry_after)
        self.retry_after = retry_after


def waiting_time(tokens, at, now, per_minute, burst):
    """``(tokens now, seconds to wait)``; 0 seconds when a request may go."""
    rate = per_minute / 60.0
    tokens = burst if tokens is None else min(burst, tokens + (now - at) * rate)
    return tokens, (0.0 if tokens >= 1 else (1 - tokens) / rate)


def precheck(device, config, now):
    """Raise ``RateLimited`` when the bucket read with the device row is empty."""
    _, wait = waiting_time(device.get("rate_tokens"), device.get("rate_at"), now,
                           config["DEVICE_RATE_PER_MINUTE"], config["DEVICE_RATE_BURST"])
    if wait:
        raise RateLimited(wait)


def take(db, device_id, config, now):
    """Spend one token (inside the caller's write transaction) or raise ``RateLimited``."""
    tokens, at = devices.rate_bucket(db, device_id)
    tokens, wait = waiting_time(tokens, at, now, config["DEVICE_RATE_PER_MINUTE"], config["DEVICE_RATE_BURST"])
    if wait:
        raise RateLimited(wait)
    devices.set_rate_bucket(db, device_id, tokens - 1, now)
