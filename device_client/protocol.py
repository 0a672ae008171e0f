"""The wire protocol shared by tablets and server: canonical bytes and signatures.

This module is the executable form of ``docs/protocol.md``. The server imports
it too, so both sides compute exactly the same bytes. It depends on the
standard library and PyNaCl only.
"""

import base64
import datetime as dt
import hashlib
import json
import os
import time
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


# One encoder for every vote: json.dumps builds a new one per call when given options.
_JCS = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_vote_bytes(vote):
    """Return the bytes a vote's signature covers.

    The domain prefix followed by the RFC 8785 (JCS) serialisation of the
    vote's fields. For the value types a vote may hold (strings, integers,
    null and lists of strings) JCS is exactly sorted keys, no whitespace and
    UTF-8 without ASCII escaping, which is what ``json.dumps`` produces here.
    Raises ``KeyError`` when a field is missing.
    """
    body = {name: vote[name] for name in VOTE_FIELDS}
    return VOTE_DOMAIN + _JCS.encode(body).encode("utf-8")


# Staff sign-in/out events from the kiosk: same rules as votes, own domain so a
# signature over one can never be replayed as the other.
SESSION_FIELDS = ("id", "device", "seq", "counter", "staff", "event", "reason", "local_time")
SESSION_EVENTS = ("sign_in", "sign_out", "lockout")


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
