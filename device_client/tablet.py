"""One tablet: its identity, outbox and cached configuration, and the calls it makes.

``record_vote`` is the single path a tap takes (CLI now, kiosk page later):
validated against the cached configuration, signed, and committed to the
outbox before it returns.
"""

import os
import sys
import time

from device_client import __version__, identity, protocol, store, transport

MAX_BATCH = 500


class VoteError(ValueError):
    """A tap that cannot be recorded (unknown staff, rating off the scale, ...)."""


class TooSoon(VoteError):
    """A new vote came before the configured least interval since the last one."""


def default_data_dir():
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~")
    else:
        base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.environ.get("HAILONG_DEVICE_DIR") or os.path.join(base, "hailong-device")


def enroll(data_dir, server, code, timeout=15.0):
    """Make a key pair, register its public half with ``code``, save the identity."""
    try:
        existing = identity.load_identity(data_dir)
    except identity.NotEnrolled:
        existing = None
    if existing:
        raise VoteError(
            f"This data folder is already enrolled as {existing['device_id']}; use another --data-dir."
        )
    try:
        # A key left by an enrollment whose answer was lost: reuse it so the
        # retry is recognised by the server as the same tablet.
        key = identity.load_key(data_dir)
    except identity.NotEnrolled:
        key = identity.create_key(data_dir)
    public = protocol.public_key_b64(key)
    body = {
        "code": code,
        "public_key": public,
        "proof": protocol.sign(key, protocol.enroll_proof_bytes(code, public)),
        "app_version": __version__,
    }
    server = server.rstrip("/")
    answer = transport.call("POST", f"{server}/api/v1/enroll", body, timeout=timeout)
    record = {
        "server": server,
        "device_id": answer["device_id"],
        "token": answer["token"],
        "counter": answer["counter"],
        "enrolled_at": protocol.format_utc(),
    }
    identity.save_identity(data_dir, record)
    tablet = Tablet(data_dir)
    try:
        tablet.refresh_config()
    except (transport.Unreachable, transport.ServerError):
        pass  # the sync loop fetches it later
    return tablet


class Tablet:
    def __init__(self, data_dir, server=None):
        self.data_dir = data_dir
        self.identity = identity.load_identity(data_dir)
        if server:
            self.identity["server"] = server.rstrip("/")
        self.key = identity.load_key(data_dir)
        self.conn = store.open_store(data_dir)
        self.batch_size = MAX_BATCH

    @property
    def device_id(self):
        return self.identity["device_id"]

    def close(self):
        self.conn.close()

    # -- configuration ---------------------------------------------------------

    @property
    def config(self):
        return store.get_meta(self.conn, "config")

    def refresh_config(self):
        answer = self._call("GET", "/api/v1/device/config")
        with store.transaction(self.conn):
            store.set_meta(self.conn, "config", answer)
            store.set_meta(self.conn, "config_fetched_at", protocol.format_utc())
        from device_client import staff  # the kiosk's photos; imported late to keep the CLI light

        staff.cache_photos(self)
        return answer

    # -- the tap ---------------------------------------------------------------

    def record_vote(self, staff, rating, reasons=(), ticket=None, now=None, key=None, min_interval=0.0):
        """Validate, sign and commit one vote; returns it once it is durable.

        ``key`` is the kiosk page's idempotency key for one citizen
        interaction: a vote already recorded under it is returned again
        instead of a second one. ``min_interval`` (seconds) refuses a new vote
        that follows the previous one too closely with ``TooSoon``.
        """
        config = self.config
        if config is None:
            raise VoteError("No configuration cached yet: connect to the server once (hailong-device sync).")
        codes = {person["code"] for person in config["staff"]}
        if staff not in codes:
            raise VoteError(f"Staff code {staff!r} is not on this counter's roster.")
        scale = config["scale"]
        levels = {level["value"] for level in scale["levels"]}
        if rating not in levels:
            raise VoteError(f"Rating {rating} is not on the scale (levels: {sorted(levels)}).")
        reasons = sorted(set(reasons))
        unknown = set(reasons) - {reason["code"] for reason in scale["reasons"]}
        if unknown:
            raise VoteError(f"Unknown reason codes: {', '.join(sorted(unknown))}.")
        if ticket is not None and not (0 < len(ticket) <= 64):
            raise VoteError("A ticket number has 1 to 64 characters.")
        local_time = protocol.format_local_time(now)
        with store.transaction(self.conn):
            if key is not None:
                existing = store.vote_for_key(self.conn, key)
                if existing:
                    return existing
            moment = time.time()
            if min_interval and moment - store.get_meta(self.conn, "last_vote_at", 0) < min_interval:
                raise TooSoon(f"A new vote is possible {min_interval:g} s after the previous one.")
            store.set_meta(self.conn, "last_vote_at", moment)
            vote = {
                "id": protocol.uuid7(),
                "device": self.device_id,
                "seq": store.next_seq(self.conn),
                "counter": config["counter"]["code"],
                "staff": staff,
                "rating": rating,
                "reasons": reasons,
                "ticket": ticket,
                "local_time": local_time,
                "scale_version": scale["version"],
            }
            vote["signature"] = protocol.sign(self.key, protocol.canonical_vote_bytes(vote))
            store.insert_vote(self.conn, vote, protocol.format_utc())
            if key is not None:
                store.remember_key(self.conn, key, vote["seq"], protocol.format_utc())
        return vote

    # -- talking to the server ---------------------------------------------------

    def _call(self, method, path, body=None):
        return transport.call(
            method, self.identity["server"] + path, body, token=self.identity["token"]
        )

    def send_batch(self):
        """Send the oldest undelivered votes once; returns ``(sent, answer)``.

        ``(0, None)`` when nothing waits. Raises ``transport.Unreachable`` or
        ``transport.ServerError``; nothing is marked sent unless the server's
        answer arrived whole.
        """
        votes = store.unsent(self.conn, self.batch_size)
        if not votes:
            return 0, None
        started = time.time()
        body = {"device_time": protocol.format_local_time(), "votes": votes}
        answer = self._call("POST", "/api/v1/votes/batch", body)
        finished = time.time()
        store.apply_results(self.conn, answer["results"], answer["ack_seq"], protocol.format_utc())
        self._note_contact(answer["server_time"], started, finished)
        return len(votes), answer

    def heartbeat(self):
        summary = store.queue_summary(self.conn)
        started = time.time()
        answer = self._call(
            "POST",
            "/api/v1/device/heartbeat",
            {
                "device_time": protocol.format_local_time(),
                "app_version": __version__,
                "queue_depth": summary["queue_depth"],
                "oldest_unsent_at": summary["oldest_unsent_at"],
                "last_seq": store.get_meta(self.conn, "last_seq", 0),
                "dead_letters": summary["dead_letters"],
            },
        )
        self._note_contact(answer["server_time"], started, time.time())
        return answer

    def _note_contact(self, server_time, started, finished):
        """Server clock offset, NTP style: server time minus the request's midpoint."""
        server = protocol.parse_time(server_time).timestamp()
        offset_ms = int(round((server - (started + finished) / 2) * 1000))
        with store.transaction(self.conn):
            store.set_meta(self.conn, "last_sync_at", protocol.format_utc())
            store.set_meta(self.conn, "clock_offset_ms", offset_ms)
            store.set_meta(self.conn, "last_error", None)

    def note_error(self, message):
        with store.transaction(self.conn):
            store.set_meta(self.conn, "last_error", {"at": protocol.format_utc(), "message": message})

    def status(self):
        summary = store.queue_summary(self.conn)
        config = self.config or {}
        return {
            "device_id": self.device_id,
            "server": self.identity["server"],
            "counter": self.identity.get("counter"),
            "last_seq": store.get_meta(self.conn, "last_seq", 0),
            "ack_seq": store.get_meta(self.conn, "ack_seq", 0),
            **summary,
            "last_sync_at": store.get_meta(self.conn, "last_sync_at"),
            "clock_offset_ms": store.get_meta(self.conn, "clock_offset_ms"),
            "last_error": store.get_meta(self.conn, "last_error"),
            "revoked": store.get_meta(self.conn, "revoked", False),
            "config_fetched_at": store.get_meta(self.conn, "config_fetched_at"),
            "roster_size": len(config.get("staff", [])),
            "staff_on_duty": (store.get_meta(self.conn, "session") or {}).get("staff"),
            "session_events_queued": store.session_queue_depth(self.conn),
            "dead_letter_list": store.dead_letters(self.conn),
        }
