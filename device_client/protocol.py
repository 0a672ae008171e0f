"""The wire protocol shared by tablets and server: canonical bytes and signatures.

This module is the executable form of ``docs/protocol.md``. The server imports
it too, so both sides compute exactly the same bytes. It depends on the
standard library and PyNaCl only.
"""

import base64
import collections
import datetime as dt
import hashlib
import json
import os
import re
import time
import urllib.parse
import uuid

import nacl.exceptions
import nacl.signing

PROTOCOL_VERSION = 1
VOTE_DOMAIN = b"hailong-vote-v1\n"
ENROLL_DOMAIN = b"hailong-enroll-v1\n"
SESSION_DOMAIN = b"hailong-session-v1\n"

# The fields a vote is signed over, in the order docs/protocol.md lists them.
VOTE_FIELDS = (
    "id",
    "device",
    "seq",
    "counter",
    "staff",
    "rating",
    "reasons",
    "ticket",
    "local_time",
    "scale_version",
)
# What the tablet noticed about a tap, signed with the vote so that no mark can
# be added or removed in transit. Optional: a vote without marks leaves the
# field out, so its canonical bytes (and every signature made before marks
# existed) are unchanged. ``rapid_repeat``: the vote came sooner than the
# kiosk's vote interval after the previous one; recorded all the same.
VOTE_MARKS = ("rapid_repeat",)


def marks_from_flags(flags):
    """The marks a stored vote was signed with, from its ingest flags.

    The server keeps each mark as the vote's flag of the same name (and
    raises no such flag otherwise), so an auditor rebuilds a stored vote's
    signed bytes from its columns plus these marks (``"marks"`` only when
    non-empty).
    """
    return sorted(flag for flag in flags if flag in VOTE_MARKS)


# One encoder for every vote: json.dumps builds a new one per call when given options.
_JCS = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_vote_bytes(vote):
    """Return the bytes a vote's signature covers.

    The domain prefix followed by the RFC 8785 (JCS) serialisation of the
    vote's fields. For the value types a vote may hold (strings, integers,
    null and lists of strings) JCS is exactly sorted keys, no whitespace and
    UTF-8 without ASCII escaping, which is what ``json.dumps`` produces here.
    The optional ``marks`` is covered when the vote has it (the rules allow
    it only non-empty). Raises ``KeyError`` when a required field is missing.
    """
    body = {name: vote[name] for name in VOTE_FIELDS}
    if "marks" in vote:
        body["marks"] = vote["marks"]
    return VOTE_DOMAIN + _JCS.encode(body).encode("utf-8")


# Staff sign-in/out events from the kiosk: same rules as votes, own domain so a
# signature over one can never be replayed as the other.
SESSION_FIELDS = ("id", "device", "seq", "counter", "staff", "event", "reason", "local_time")
SESSION_EVENTS = ("sign_in", "sign_out", "lockout")
SESSION_REASONS = ("manual", "idle", "end_of_day", "replaced", "attempts")


def canonical_session_bytes(event):
    """The bytes a staff session event's signature covers (see docs/protocol.md)."""
    body = {name: event[name] for name in SESSION_FIELDS}
    return SESSION_DOMAIN + _JCS.encode(body).encode("utf-8")


def vote_digest(canonical):
    """SHA-256 of the canonical bytes, hex: the vote's identity for dedup and audit."""
    return hashlib.sha256(canonical).hexdigest()


def enroll_proof_bytes(code, public_key_b64):
    """The bytes a tablet signs at enrollment to prove it holds its private key."""
    return ENROLL_DOMAIN + f"{code}\n{public_key_b64}".encode("utf-8")


# Enrollment by scanning: the server's QR code carries a link to itself with
# the one-time code, "<server URL>/enroll?code=WJ6EP-ZYGHP" (the server may sit
# under a path prefix, which stays part of the server URL).
ENROLL_LINK_PATH = "/enroll"
ENROLL_CODE = re.compile(r"^[A-Za-z0-9-]{1,64}\Z")


def enroll_link(server, code):
    """The link an enrollment QR code carries for ``code`` on the server at ``server``."""
    return f"{server.rstrip('/')}{ENROLL_LINK_PATH}?{urllib.parse.urlencode({'code': code})}"


def parse_enroll_link(link):
    """``(server URL, code)`` from an enrollment link; ``ValueError`` says what is wrong with it."""
    parts = urllib.parse.urlsplit(link.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{link!r} is not an enrollment link: it must start with http:// or https:// "
                         "and the server's address.")
    if not parts.path.rstrip("/").endswith(ENROLL_LINK_PATH):
        raise ValueError(f"{link!r} is not an enrollment link: its path must end in {ENROLL_LINK_PATH}.")
    codes = urllib.parse.parse_qs(parts.query).get("code", [])
    if len(codes) != 1 or not ENROLL_CODE.match(codes[0]):
        raise ValueError(f"{link!r} has no enrollment code: it must end in ?code=XXXXX-XXXXX.")
    prefix = parts.path.rstrip("/")[: -len(ENROLL_LINK_PATH)]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, prefix, "", "")), codes[0]


def b64(data):
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    """Decode standard base64 strictly; raises ``ValueError`` on bad input."""
    return base64.b64decode(text.encode("ascii"), validate=True)


def new_signing_key():
    return nacl.signing.SigningKey.generate()


def signing_key_from_seed(seed):
    return nacl.signing.SigningKey(seed)


def public_key_b64(signing_key):
    return b64(bytes(signing_key.verify_key))


def sign(signing_key, message):
    """Ed25519 signature (64 bytes, base64) of ``message``."""
    return b64(signing_key.sign(message).signature)


class Verifier:
    """Checks Ed25519 signatures for one public key (kept so the key parses once)."""

    def __init__(self, public_key_b64_text):
        raw = unb64(public_key_b64_text)
        if len(raw) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")
        self._key = nacl.signing.VerifyKey(raw)

    def verify(self, message, signature_b64):
        """True when ``signature_b64`` is this key's signature of ``message``."""
        try:
            signature = unb64(signature_b64)
        except (ValueError, UnicodeEncodeError):
            return False
        if len(signature) != 64:
            return False
        try:
            self._key.verify(message, signature)
        except nacl.exceptions.BadSignatureError:
            return False
        return True


def uuid7(now_ms=None):
    """A time-ordered UUID (RFC 9562 version 7).

    Votes use it so that new ids land at the end of the server's unique index
    instead of at random pages: inserts stay append-mostly as the table grows.
    """
    if now_ms is None:
        now_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (now_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def format_local_time(moment=None):
    """ISO 8601 local time with milliseconds and an explicit UTC offset."""
    moment = moment or dt.datetime.now().astimezone()
    return moment.isoformat(timespec="milliseconds")


def format_utc(moment=None):
    """ISO 8601 UTC time with milliseconds and a ``Z`` suffix."""
    moment = moment or dt.datetime.now(dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def parse_time(text):
    """Parse a protocol timestamp (offset required); raises ``ValueError``."""
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("timestamp needs a UTC offset")
    return moment


# --- What a valid vote and a valid session event are ---------------------------
#
# The server refuses an item that breaks one of these rules (status `rejected`,
# with these field messages); the tablet checks the same rules before it signs,
# so it never queues what the server would refuse. Plain Python, no marshmallow
# (a tablet does not install it), and cheap on the server's hot path: the
# common case, a valid item, costs one pass over its fields.
#
# The messages are the ones marshmallow gave when the server checked with
# schemas, word for word: clients and stored sync incidents already carry them.

# \Z, not $: "$" also matches before a trailing newline, which would let
# "A1\n" through as a code or a ticket.
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
# ASCII digits only: \d alone also matches other scripts' digits ("٢٠٢٦").
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})\Z", re.ASCII)
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
# What no text field may hold, on the tablet and on the server, in votes and
# everywhere else: control characters (C0, which would make the canonical JSON
# escape-dependent, DEL and C1: a terminal obeys them), the bidirectional
# embeddings, overrides and isolates U+202A-U+202E and U+2066-U+2069 (they make
# text display other than it reads), and lone surrogates, which are not Unicode
# text and have no UTF-8 form to sign or store.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
BIDI_CONTROL = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
SURROGATE = re.compile(r"[\ud800-\udfff]")
NO_CONTROL = re.compile(r"^[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]*\Z")
MAX_SEQ = 2**53 - 1  # the largest integer every JSON reader keeps exactly
# SQLite's integers are 64-bit signed: every other integer is bounded to that.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

MISSING = "Missing data for required field."
UNKNOWN = "Unknown field."
NULL = "Field may not be null."
NOT_STRING = "Not a valid string."
NOT_INTEGER = "Not a valid integer."
NO_MATCH = "String does not match expected pattern."
# Range's own wording, for the 64-bit bounds every integer has.
ABOVE_INT64 = f"Must be less than or equal to {INT64_MAX}."
BELOW_INT64 = f"Must be greater than or equal to {INT64_MIN}."


# Each string rule checks the type itself: one call per field keeps a valid
# vote's check as cheap as the hand-inlined fast path it replaces.
def _pattern(pattern, message=NO_MATCH):
    def rule(value):
        if not isinstance(value, str):
            return [NOT_STRING]
        return None if pattern.match(value) else [message]

    return rule


def _length(low, high):
    message = f"Length must be {low}." if low == high else f"Length must be between {low} and {high}."

    def rule(value):
        if not isinstance(value, str):
            return [NOT_STRING]
        return None if low <= len(value) <= high else [message]

    return rule


def _one_of(choices):
    message = f"Must be one of: {', '.join(choices)}."

    def rule(value):
        if not isinstance(value, str):
            return [NOT_STRING]
        return None if value in choices else [message]

    return rule


def _integer(low=None, high=None):
    """Strict integers: ``True``, ``4.0`` and ``"4"`` are not integers; 64-bit at most either way."""
    message = None if low is None else f"Must be greater than or equal to {low}."
    if high is not None:
        message = message[:-1] + f" and less than or equal to {high}."

    def rule(value):
        if type(value) is not int:
            return [NOT_INTEGER]
        if low is not None and (value < low or high is not None and value > high):
            return [message]
        if not INT64_MIN <= value <= INT64_MAX:
            return [ABOVE_INT64 if value > 0 else BELOW_INT64]
        return None

    return rule


def _text(low, high):
    """Text: a length in code points (not UTF-16 units), and none of the characters NO_CONTROL refuses."""
    length = f"Length must be between {low} and {high}."

    def rule(value):
        if not isinstance(value, str):
            return [NOT_STRING]
        messages = []
        if not low <= len(value) <= high:
            messages.append(length)
        if not NO_CONTROL.match(value):
            messages.append(NO_MATCH)
        return messages or None

    return rule


def _time(value):
    if not isinstance(value, str):
        return [NOT_STRING]
    if not TIME.match(value):
        return ["Not an ISO 8601 time with a UTC offset."]
    try:
        parse_time(value)
    except ValueError:
        return ["Not a valid date and time."]
    return None


def _reasons(value):
    """Reason codes: a list of codes, distinct and in ascending order."""
    if type(value) is not list:
        return ["Not a valid list."]
    errors = {}
    for index, code in enumerate(value):
        if code is None:
            errors[index] = [NULL]
        elif not isinstance(code, str):
            errors[index] = [NOT_STRING]
        elif not CODE.match(code):
            errors[index] = [NO_MATCH]
    if errors:
        return errors
    if value != sorted(set(value)):
        return ["Reason codes must be distinct and in ascending order."]
    return None


def _marks(value):
    """A vote's marks: known ones, distinct, ascending, and at least one (no marks: no field)."""
    if type(value) is not list:
        return ["Not a valid list."]
    if not value:
        return ["Leave the field out when there are no marks."]
    errors = {}
    for index, mark in enumerate(value):
        if mark is None:
            errors[index] = [NULL]
        elif not isinstance(mark, str):
            errors[index] = [NOT_STRING]
        elif mark not in VOTE_MARKS:
            errors[index] = [f"Must be one of: {', '.join(VOTE_MARKS)}."]
    if errors:
        return errors
    if value != sorted(set(value)):
        return ["Marks must be distinct and in ascending order."]
    return None


# One field's rule: ``check(value)`` gives its messages or None; ``None`` is
# allowed only where ``nullable``; an ``optional`` field may be left out.
Rule = collections.namedtuple("Rule", "field check nullable optional", defaults=(False, False))


_ID = Rule("id", _pattern(UUID, "Not a lowercase UUID."))
_DEVICE = Rule("device", _text(1, 64))
_SEQ = Rule("seq", _integer(1, MAX_SEQ))
_COUNTER = Rule("counter", _pattern(CODE))
_STAFF = Rule("staff", _pattern(CODE))
_LOCAL_TIME = Rule("local_time", _time)
_SIGNATURE = Rule("signature", _length(88, 88))  # base64 of 64 bytes

VOTE_RULES = (
    _ID, _DEVICE, _SEQ, _COUNTER, _STAFF,
    Rule("rating", _integer()),
    Rule("reasons", _reasons),
    Rule("ticket", _text(1, 64), nullable=True),
    _LOCAL_TIME,
    Rule("scale_version", _integer(1)),
    Rule("marks", _marks, optional=True),
    _SIGNATURE,
)
SESSION_EVENT_RULES = (
    _ID, _DEVICE, _SEQ, _COUNTER, _STAFF,
    Rule("event", _one_of(SESSION_EVENTS)),
    Rule("reason", _one_of(SESSION_REASONS), nullable=True),
    _LOCAL_TIME,
    _SIGNATURE,
)


def field_errors(item, rules):
    """``{field: [messages]}`` for every rule ``item`` breaks; ``{}`` when it keeps them all.

    Every field of ``rules`` is required, unless its rule is ``optional``,
    and no other field is allowed. A
    list field's per-element messages are keyed by index, like
    ``{"reasons": {0: ["Not a valid string."]}}``; an item that is not an
    object gets ``{"_schema": ["Invalid input type."]}``.
    """
    if not isinstance(item, dict):
        return {"_schema": ["Invalid input type."]}
    errors = {}
    present = 0
    for name, check, nullable, optional in rules:
        try:
            value = item[name]
        except KeyError:
            if not optional:
                errors[name] = [MISSING]
            continue
        present += 1
        if value is None:
            if not nullable:
                errors[name] = [NULL]
            continue
        messages = check(value)
        if messages is not None:
            errors[name] = messages
    if len(item) != present:  # a field no rule knows
        known = {rule[0] for rule in rules}
        for name in item:
            if name not in known:
                errors[name] = [UNKNOWN]
    return errors


def vote_errors(item):
    """The field messages for a vote the server must reject; ``{}`` for a valid vote."""
    return field_errors(item, VOTE_RULES)


def session_event_errors(item):
    """The field messages for a staff session event the server must reject; ``{}`` when valid."""
    return field_errors(item, SESSION_EVENT_RULES)


def unsigned_errors(item, rules):
    """The messages for an item about to be signed: every rule but the signature's."""
    return field_errors(item, tuple(rule for rule in rules if rule.field != "signature"))


# The signed streams a tablet sends: each is queued, numbered, sent, answered
# and acknowledged the same way (see "Sending votes" and "Staff sessions" in
# docs/protocol.md); only these facts differ. A later stream is one more line.
Stream = collections.namedtuple("Stream", "name path envelope canonical rules")
VOTES = Stream("votes", "/api/v1/votes/batch", "votes", canonical_vote_bytes, VOTE_RULES)
SESSIONS = Stream("sessions", "/api/v1/device/sessions/batch", "events", canonical_session_bytes,
                  SESSION_EVENT_RULES)
STREAMS = {stream.name: stream for stream in (VOTES, SESSIONS)}
