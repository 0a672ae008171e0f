"""Who is at the counter: PIN sign-in checked on the tablet, signed session events, photos.

Sign-in must work with no network, so the tablet checks the PIN against the
argon2id hash from its cached configuration. Wrong PINs are counted per staff
code in the local SQLite (a reload or a restart does not reset them) and lock
that code for a while after too many. Every sign-in, sign-out (manual, idle,
end of day, replaced) and lockout is an event signed with the device key, with
its own gapless sequence, queued and synced like votes (docs/protocol.md).
"""

import base64
import datetime as dt
import hashlib
import os
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from device_client import roster, store, transport
from device_client.settings import kiosk_settings

HASHER = PasswordHasher()


class SignInError(ValueError):
    """A refused sign-in; ``code`` is what the page shows (wrong_pin, locked, ...)."""

    def __init__(self, code, message, locked_until=None, attempts_left=None):
        super().__init__(message)
        self.code, self.locked_until, self.attempts_left = code, locked_until, attempts_left


def settings(tablet):
    """The kiosk settings in force on this tablet (``device_client/settings.py``)."""
    return kiosk_settings(tablet.config)


def person(tablet, code):
    """Staff ``code``'s roster entry if they may serve at this counter today (``roster.serving``)."""
    return roster.serving(tablet.config, code)


def current(tablet, now=None):
    """The signed-in session ``{staff, signed_in_at, last_activity}``, after automatic sign-out."""
    now = now or time.time()
    session = store.get_meta(tablet.conn, "session")
    if session is None:
        return None
    limits = settings(tablet)
    reason = None
    if person(tablet, session["staff"]) is None:
        reason = "replaced"  # no longer on this counter's roster
    elif now - max(session["last_activity"], store.get_meta(tablet.conn, "last_vote_at", 0)) > (
        limits["idle_sign_out_minutes"] * 60
    ):
        reason = "idle"
    elif now >= _day_end(session["signed_in_at"], limits["day_end"]):
        reason = "end_of_day"
    if reason:
        sign_out(tablet, reason, now)
        return None
    return session


def touch(tablet, now=None):
    """Note a staff tap so the idle sign-out counts from now (a vote counts by itself)."""
    with store.transaction(tablet.conn):
        session = store.get_meta(tablet.conn, "session")
        if session:
            session["last_activity"] = now or time.time()
            store.set_meta(tablet.conn, "session", session)


def check_pin(tablet, code, pin, now=None):
    """Check ``pin`` for staff ``code``, counting a wrong one against the code; returns the code.

    A wrong PIN, an unknown code and a person with no PIN get one answer:
    ``wrong_pin`` with the attempts left (unknown codes are counted and locked
    like known ones), after about the same time (an unknown code is checked
    against a stand-in hash of the roster's cost). So the keypad tells no one
    which codes exist. Raises ``SignInError`` (``wrong_pin``, ``locked``).
    """
    now = now or time.time()
    limits = settings(tablet)
    code = (code or "").strip().upper()
    who = person(tablet, code)
    pin_hash = (who or {}).get("pin_hash")
    failures, locked_until = store.pin_attempts(tablet.conn, code)
    if locked_until > now:
        raise SignInError("locked", "Too many wrong PINs; try again later.", locked_until=locked_until)
    right = False
    checked_against = pin_hash or _stand_in(tablet)
    if checked_against:
        try:
            right = HASHER.verify(checked_against, pin or "") and pin_hash is not None
        except (VerificationError, InvalidHashError):
            right = False
    if not right:
        # Only someone who has a PIN gets a lockout event: the server knows no one else.
        left = _failed(tablet, code, failures, limits, now, record=pin_hash is not None)
        raise SignInError("wrong_pin", "Staff code or PIN is wrong.", attempts_left=left)
    with store.transaction(tablet.conn):
        store.set_pin_attempts(tablet.conn, code, 0, 0)
    return code


def _stand_in(tablet):
    """A hash no PIN matches, as costly to check as the roster's (None when nobody has a PIN)."""
    real = next((p["pin_hash"] for p in (tablet.config or {}).get("staff", []) if p.get("pin_hash")), None)
    if real is None or real.count("$") < 5:
        return None
    params = real.rsplit("$", 2)[0]  # $argon2id$v=19$m=...,t=...,p=...
    salt, digest = (base64.b64encode(os.urandom(n)).decode().rstrip("=") for n in (16, 32))
    return f"{params}${salt}${digest}"


def sign_in(tablet, code, pin, now=None):
    """Check ``pin`` for staff ``code``; on success record the event and return the session.

    Raises ``SignInError`` (``wrong_pin``, ``locked``) as ``check_pin`` does.
    """
    now = now or time.time()
    code = check_pin(tablet, code, pin, now)
    with store.transaction(tablet.conn):
        previous = store.get_meta(tablet.conn, "session")
        if previous:
            tablet.record_session_event(previous["staff"], "sign_out", "replaced", now)
        tablet.record_session_event(code, "sign_in", None, now)
        session = {"staff": code, "signed_in_at": now, "last_activity": now}
        store.set_meta(tablet.conn, "session", session)
    return session


def sign_out_with_pin(tablet, pin, now=None):
    """The signed-in person signs out at the kiosk with their own PIN; returns their code (None if nobody).

    Anyone at the counter can open the staff panel, so a sign-out takes the
    PIN, counted like a sign-in's: wrong ones lock the code for a while.
    """
    now = now or time.time()
    session = current(tablet, now)
    if session is None:
        return None
    check_pin(tablet, session["staff"], pin, now)
    return sign_out(tablet, "manual", now)


def sign_out(tablet, reason="manual", now=None):
    """End the session (if any) with a signed ``sign_out`` event; returns the staff code."""
    now = now or time.time()
    with store.transaction(tablet.conn):
        session = store.get_meta(tablet.conn, "session")
        if session is None:
            return None
        tablet.record_session_event(session["staff"], "sign_out", reason, now)
        store.set_meta(tablet.conn, "session", None)
    return session["staff"]


def _failed(tablet, code, failures, limits, now, record):
    failures += 1
    locked = failures >= limits["pin_max_attempts"]
    with store.transaction(tablet.conn):
        until = now + limits["pin_lockout_minutes"] * 60 if locked else 0
        store.set_pin_attempts(tablet.conn, code, 0 if locked else failures, until)
        if locked and record:
            tablet.record_session_event(code, "lockout", "attempts", now)
    if locked:
        raise SignInError("locked", "Too many wrong PINs; try again later.", locked_until=until)
    return limits["pin_max_attempts"] - failures


def _day_end(signed_in_at, day_end):
    """Epoch time of ``day_end`` (HH:MM, tablet-local) on the day of the sign-in."""
    start = dt.datetime.fromtimestamp(signed_in_at)
    hour, minute = (int(part) for part in day_end.split(":"))
    end = start.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if end <= start:  # signed in after the day's end: the session lasts to midnight
        end = start.replace(hour=23, minute=59, second=59)
    return end.timestamp()


def photo_dir(tablet):
    return os.path.join(tablet.data_dir, "photos")


# The server sends photos re-encoded as JPEG (earlier ones may be PNG or WebP).
# A file is cached under its hash with the extension of its type, and the
# kiosk serves it as that type: nothing else is kept or guessed.
PHOTO_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


def photo_extension(data):
    """``.jpg``, ``.png`` or ``.webp`` by the photo's first bytes; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return None


def photo_path(tablet, code):
    """``(path, content type)`` of the cached photo of staff ``code``, or None when there is none."""
    who = person(tablet, code)
    if not who or not who.get("photo_sha256"):
        return None
    for extension, content_type in PHOTO_TYPES.items():
        path = os.path.join(photo_dir(tablet), who["photo_sha256"] + extension)
        if os.path.exists(path):
            return path, content_type
    return None


def cache_photos(tablet):
    """Download photos whose SHA-256 is not cached yet; a failure leaves the old cache."""
    os.makedirs(photo_dir(tablet), exist_ok=True)
    for who in (tablet.config or {}).get("staff", []):
        sha = who.get("photo_sha256")
        if not sha or photo_path(tablet, who["code"]):
            continue
        try:
            data = transport.fetch(
                tablet.identity["server"] + f"/api/v1/device/staff/{who['code']}/photo",
                token=tablet.identity["token"],
            )
        except (transport.Unreachable, transport.ServerError):
            continue
        extension = photo_extension(data)
        if extension and hashlib.sha256(data).hexdigest() == sha:
            path = os.path.join(photo_dir(tablet), sha + extension)
            with open(path + ".tmp", "wb") as handle:
                handle.write(data)
            os.replace(path + ".tmp", path)
