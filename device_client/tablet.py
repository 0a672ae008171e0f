"""One tablet: its identity, outbox and cached configuration, and every call it makes.

``record_vote`` is the single path a tap takes (CLI and kiosk page alike):
checked against the protocol's rules and the cached configuration, signed,
and committed to the outbox before it returns. Staff session events take the
same path (``record_session_event``). ``send`` sends one batch of any stream;
the sync loop (``device_client/sync.py``) only calls methods of ``Tablet``.
"""

import datetime as dt
import os
import sys
import time

from device_client import __version__, identity, protocol, roster, settings, store, transport

MAX_BATCH = 500


class VoteError(ValueError):
    """A tap that cannot be recorded (unknown staff, rating off the scale, ...).

    ``fields`` holds the protocol's field messages when the item broke its rules.
    """

    def __init__(self, message, fields=None):
        super().__init__(message)
        self.fields = fields or {}


class Revoked(transport.ServerError):
    """The server answered 401: the tablet was revoked (or its token is unknown)."""


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


def describe(errors):
    """Field messages in one line: ``ticket: String does not match expected pattern.``"""
    parts = []
    for field, messages in errors.items():
        if isinstance(messages, dict):  # per element of a list: {index: [messages]}
            messages = [f"item {index}: {' '.join(texts)}" for index, texts in messages.items()]
        parts.append(f"{field}: {' '.join(messages)}")
    return "; ".join(parts)


class Tablet:
    # Streams in the order they are sent: votes first, they are what counts.
    streams = ("votes", "sessions")

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

    @property
    def heartbeat_seconds(self):
        """How often to heartbeat: the configuration's ``heartbeat_seconds``, else 60."""
        value = (self.config or {}).get("heartbeat_seconds")
        if type(value) in (int, float) and value > 0:
            return value
        return settings.HEARTBEAT_SECONDS

    # -- recording: the tap and the staff events ---------------------------------

    def record_vote(self, staff, rating, reasons=(), ticket=None, now=None, key=None, min_interval=0.0):
        """Check, sign and commit one vote; returns it once it is durable.

        Raises ``VoteError`` for anything the server would refuse, before
        signing: nothing is queued. ``key`` is the kiosk page's idempotency
        key for one citizen interaction: a vote already recorded under it is
        returned again instead of a second one. A vote that follows the
        previous one by less than ``min_interval`` seconds is recorded all the
        same, with the signed mark ``rapid_repeat`` (the server flags it for
        review; nothing a citizen taps is dropped). ``now`` (aware datetime)
        is the moment of the tap, the clock's by default.
        """
        config = self.config
        if config is None:
            raise VoteError("No configuration cached yet: connect to the server once (hailong-device sync).")
        if isinstance(reasons, (list, tuple)) and all(isinstance(code, str) for code in reasons):
            reasons = sorted(set(reasons))  # the protocol wants them distinct and ascending
        fields = {
            "counter": config["counter"]["code"],
            "staff": staff,
            "rating": rating,
            "reasons": reasons,
            "ticket": ticket,
            "local_time": protocol.format_local_time(now),
            "scale_version": config["scale"]["version"],
        }
        with store.transaction(self.conn):
            if key is not None:
                existing = store.vote_for_key(self.conn, key)
                if existing:
                    return existing
            moment = now.timestamp() if now is not None else time.time()
            # Read and written in the vote's own transaction, so two processes tapping at
            # once cannot both see the old time. A clock set back (last vote "in the
            # future") says nothing about how fast the taps came: no mark.
            if min_interval and 0 <= moment - store.get_meta(self.conn, "last_vote_at", 0) < min_interval:
                fields["marks"] = ["rapid_repeat"]
            vote = self._sign_and_queue(protocol.VOTES, fields, lambda: _roster_and_scale(config, fields))
            store.set_meta(self.conn, "last_vote_at", moment)
            if key is not None:
                store.remember_key(self.conn, key, vote["seq"], protocol.format_utc())
        return vote

    def record_session_event(self, staff, kind, reason, now):
        """Sign and queue one staff session event (``sign_in``, ``sign_out``, ``lockout``).

        Runs in its own transaction, or as part of the caller's. Raises
        ``VoteError`` for an event the server would refuse.
        """
        config = self.config or {}
        fields = {
            "counter": (config.get("counter") or {}).get("code"),
            "staff": staff,
            "event": kind,
            "reason": reason,
            "local_time": protocol.format_local_time(dt.datetime.fromtimestamp(now).astimezone()),
        }
        with store.transaction(self.conn):
            return self._sign_and_queue(protocol.SESSIONS, fields, now_ms=int(now * 1000))

    def _sign_and_queue(self, stream, fields, check=None, now_ms=None):
        """Number, check, sign and queue one item of ``stream``; call inside a transaction."""

        def build(seq):
            item = {"id": protocol.uuid7(now_ms), "device": self.device_id, "seq": seq, **fields}
            errors = protocol.unsigned_errors(item, stream.rules)
            if errors:
                raise VoteError(f"Not recorded, the server would refuse it: {describe(errors)}", errors)
            if check:
                check()
            item["signature"] = protocol.sign(self.key, stream.canonical(item))
            return item

        return store.enqueue(self.conn, stream.name, build, protocol.format_utc())

    def items(self, stream):
        """Every item of ``stream`` still held in the outbox, oldest first (acknowledged ones too)."""
        return store.items(self.conn, stream)

    def sign_out_if_due(self, now=None):
        """Sign staff out automatically (idle, end of day, off the roster); returns the session left."""
        from device_client import staff

        return staff.current(self, now)

    # -- talking to the server ---------------------------------------------------

    def _call(self, method, path, body=None):
        try:
            return transport.call(method, self.identity["server"] + path, body, token=self.identity["token"])
        except transport.ServerError as exc:
            if exc.status != 401:
                raise
            with store.transaction(self.conn):
                store.set_meta(self.conn, "revoked", True)
            raise Revoked(401, {"error": {"code": exc.code, "message": exc.message, "fields": exc.fields}}) from None

    def send(self, stream):
        """Send the oldest undelivered items of ``stream`` once; returns ``(sent, answer)``.

        ``(0, None)`` when nothing waits. Raises ``transport.Unreachable``,
        ``transport.ServerError`` or ``Revoked``; nothing is marked sent unless
        the server's answer arrived whole.
        """
        wire = protocol.STREAMS[stream]
        pending = store.unsent(self.conn, stream, self.batch_size)
        if not pending:
            return 0, None
        started = time.time()
        body = {"device_time": protocol.format_local_time(), wire.envelope: pending}
        answer = self._call("POST", wire.path, body)
        finished = time.time()
        store.apply_results(self.conn, stream, answer["results"], answer["ack_seq"], protocol.format_utc())
        self._note_contact(answer["server_time"], started, finished)
        return len(pending), answer

    def smaller_batches(self):
        """Halve the batch size after a 413; False when it is 1 already."""
        if self.batch_size <= 1:
            return False
        self.batch_size = max(1, self.batch_size // 2)
        return True

    def heartbeat(self):
        summary = store.queue_summary(self.conn, "votes")
        started = time.time()
        answer = self._call(
            "POST",
            "/api/v1/device/heartbeat",
            {
                "device_time": protocol.format_local_time(),
                "app_version": __version__,
                "queue_depth": summary["queue_depth"],
                "oldest_unsent_at": summary["oldest_unsent_at"],
                "last_seq": store.last_seq(self.conn, "votes"),
                "dead_letters": store.dead_letter_count(self.conn),
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

    def watch(self):
        """A ``store.Watch``: its ``changed()`` turns true when another process commits (a tap)."""
        return store.Watch(self.data_dir)

    def status(self):
        summary = store.queue_summary(self.conn, "votes")
        sessions = store.queue_summary(self.conn, "sessions")
        letters = store.dead_letters(self.conn)  # every stream's
        config = self.config or {}
        return {
            "device_id": self.device_id,
            "server": self.identity["server"],
            "counter": self.identity.get("counter"),
            "last_seq": store.last_seq(self.conn, "votes"),
            "ack_seq": store.ack_seq(self.conn, "votes"),
            **summary,
            "dead_letters": len(letters),
            "last_sync_at": store.get_meta(self.conn, "last_sync_at"),
            "clock_offset_ms": store.get_meta(self.conn, "clock_offset_ms"),
            "last_error": store.get_meta(self.conn, "last_error"),
            "revoked": store.get_meta(self.conn, "revoked", False),
            "config_fetched_at": store.get_meta(self.conn, "config_fetched_at"),
            "roster_size": len(config.get("staff", [])),
            "staff_on_duty": (store.get_meta(self.conn, "session") or {}).get("staff"),
            "session_events_queued": sessions["queue_depth"],
            "dead_letter_list": letters,
            "streams": {
                name: {"last_seq": store.last_seq(self.conn, name), "ack_seq": store.ack_seq(self.conn, name),
                       **store.queue_summary(self.conn, name)}
                for name in self.streams
            },
        }


def _roster_and_scale(config, vote):
    """What the server checks against its data, checked against the cached copy of it."""
    day = vote["local_time"][:10]  # the tablet's local date of the tap
    if roster.serving(config, vote["staff"], day) is None:
        raise VoteError(f"Staff code {vote['staff']!r} is not on this counter's roster on {day}.")
    scale = config["scale"]
    levels = {level["value"] for level in scale["levels"]}
    if vote["rating"] not in levels:
        raise VoteError(f"Rating {vote['rating']} is not on the scale (levels: {sorted(levels)}).")
    unknown = set(vote["reasons"]) - {reason["code"] for reason in scale["reasons"]}
    if unknown:
        raise VoteError(f"Unknown reason codes: {', '.join(sorted(unknown))}.")
