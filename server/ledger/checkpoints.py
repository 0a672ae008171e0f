"""Checkpoint notes: a tree's size and root, signed by the server (C2SP tlog-checkpoint + signed-note).

The text, exactly (every line ends in a newline)::

    {name}/{tree}
    {size}
    {base64(root)}
    time {YYYY-MM-DDTHH:MM:SSZ}

    — {name} {base64(key id + Ed25519 signature)}

The signature covers the body: the first four lines, the last newline
included. An auditor keeps the note (printed, mailed, as a QR code) and
later asks the server to prove that the newer tree still holds it.
"""

import base64
import binascii
import datetime as dt
import hmac
import re

import nacl.exceptions
import nacl.signing

from server.ledger import keys

DASH = "\u2014"  # the signature line starts with an em dash and a space
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z", re.ASCII)


class NoteError(ValueError):
    """The text is not a checkpoint note."""


def format_time(moment):
    """UTC to the second, as the note's ``time`` line has it."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def note_body(name, tree, size, root, at):
    return f"{name}/{tree}\n{size}\n{base64.b64encode(root).decode('ascii')}\ntime {at}\n"


def sign_note(key, name, tree, size, root, at):
    """The signed note of a tree of ``size`` with ``root`` at ``at`` (text from ``format_time``)."""
    body = note_body(name, tree, size, root, at)
    signature = key.sign(body.encode("utf-8")).signature
    stamp = base64.b64encode(keys.key_id(name, key) + signature).decode("ascii")
    return f"{body}\n{DASH} {name} {stamp}\n"


def parse_note(text):
    """``{"name", "tree", "size", "root", "at", "key_id", "signature", "body"}`` of a note; ``NoteError`` if not one.

    Only this server's form is read: one signature line, no other extension
    lines than ``time``.
    """
    if not isinstance(text, str) or not text.endswith("\n"):
        raise NoteError("a checkpoint note ends with a newline")
    body, sep, signatures = text.partition("\n\n")
    if not sep:
        raise NoteError("a checkpoint note has a blank line between its body and its signature")
    lines = body.split("\n")
    if len(lines) != 4:
        raise NoteError("a checkpoint's body has four lines: origin, size, root hash, time")
    origin, size_text, root_text, time_line = lines
    name, slash, tree = origin.rpartition("/")
    if not slash or not name or not tree:
        raise NoteError("the first line must be NAME/TREE")
    if not re.fullmatch(r"0|[1-9][0-9]{0,18}", size_text, re.ASCII):
        raise NoteError("the second line must be the tree size in decimal")
    root = _b64(root_text, "the root hash")
    if len(root) != 32:
        raise NoteError("the root hash must be 32 bytes")
    if not time_line.startswith("time ") or not _TIME.match(time_line[5:]):
        raise NoteError("the fourth line must be `time YYYY-MM-DDTHH:MM:SSZ`")
    sig_lines = signatures[:-1].split("\n")
    if len(sig_lines) != 1:
        raise NoteError("a checkpoint note has one signature line")
    parts = sig_lines[0].split(" ")
    if len(parts) != 3 or parts[0] != DASH:
        raise NoteError(f"the signature line must be `{DASH} NAME SIGNATURE`")
    if parts[1] != name:
        raise NoteError("the signature line names another key than the origin line")
    stamp = _b64(parts[2], "the signature")
    if len(stamp) != 4 + 64:
        raise NoteError("the signature must be a 4-byte key id and a 64-byte Ed25519 signature")
    return {"name": name, "tree": tree, "size": int(size_text), "root": root, "at": time_line[5:],
            "key_id": stamp[:4], "signature": stamp[4:], "body": body + "\n"}


def _b64(text, what):
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise NoteError(f"{what} is not base64") from None


def verify_note(text, public_key):
    """True when ``text`` is a note signed by ``public_key`` (32 raw bytes, base64 text, or a key object)."""
    try:
        note = parse_note(text)
    except NoteError:
        return False
    if isinstance(public_key, str):
        try:
            public_key = base64.b64decode(public_key, validate=True)
        except (binascii.Error, ValueError):
            return False
    if isinstance(public_key, (bytes, bytearray)):
        if len(public_key) != 32:
            return False
        public_key = nacl.signing.VerifyKey(bytes(public_key))
    if not hmac.compare_digest(note["key_id"], keys.key_id(note["name"], public_key)):
        return False
    verify = public_key.verify_key if isinstance(public_key, nacl.signing.SigningKey) else public_key
    try:
        verify.verify(note["body"].encode("utf-8"), note["signature"])
    except nacl.exceptions.BadSignatureError:
        return False
    return True
