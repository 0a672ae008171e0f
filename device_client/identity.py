"""The tablet's identity: its Ed25519 key (never leaves the tablet) and its token.

Both files, and the folder they are in, are the owner's alone where the OS
allows (``device_client.private``: POSIX modes; on Windows the per-user
profile folder is what protects them).
"""

import json
import os

from device_client import private, protocol

KEY_FILE = "device.key"
IDENTITY_FILE = "identity.json"


class NotEnrolled(Exception):
    pass


def _write_private(path, data):
    tmp = path + ".tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, private.FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    private.restrict(path)


def create_key(data_dir):
    """Make a new key pair, store the private seed; returns the signing key."""
    private.private_folder(data_dir)
    key = protocol.new_signing_key()
    _write_private(os.path.join(data_dir, KEY_FILE), bytes(key))
    return key


def load_key(data_dir):
    path = os.path.join(data_dir, KEY_FILE)
    try:
        with open(path, "rb") as handle:
            return protocol.signing_key_from_seed(handle.read())
    except FileNotFoundError:
        raise NotEnrolled(f"No device key in {data_dir}: enroll first.") from None


def save_identity(data_dir, identity):
    data = json.dumps(identity, ensure_ascii=False, indent=2).encode("utf-8")
    _write_private(os.path.join(data_dir, IDENTITY_FILE), data)


def load_identity(data_dir):
    """``{server, device_id, token, counter, enrolled_at}``; raises ``NotEnrolled``."""
    try:
        with open(os.path.join(data_dir, IDENTITY_FILE), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise NotEnrolled(
            f"This tablet is not enrolled (no {IDENTITY_FILE} in {data_dir}). "
            "Run: hailong-device enroll --server URL --code CODE"
        ) from None
