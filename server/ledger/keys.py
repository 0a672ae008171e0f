"""The server's own Ed25519 key, which signs the log's checkpoints and the export manifests.

Kept as the base64 of its 32-byte seed in ``INSTANCE/log-key``, readable by
the server's account only, made once by ``hailong migrate`` and never
replaced: every checkpoint an auditor kept names this key, and a new key
would make them all unverifiable against the published one. Its name and
id follow C2SP signed notes (https://c2sp.org/signed-note), so the
checkpoints are read by tools that know that format.
"""

import base64
import binascii
import hashlib
import os

import nacl.signing

from device_client.private import opener, private_folder, restrict

FILE_NAME = "log-key"
ED25519 = b"\x01"  # the signed-note signature type of Ed25519


class KeyFileError(OSError):
    """The key file is missing or unreadable: one readable line for the operator."""


def key_path(instance):
    return os.path.join(instance, FILE_NAME)


def ensure_key(instance):
    """Make the key if there is none; returns ``(path, made)``. An existing key is never touched but its mode."""
    path = key_path(instance)
    private_folder(instance)
    made = write_new_secret(path)
    if not made:
        load_key(instance)  # an existing file must hold a key
    return path, made


def write_new_secret(path):
    """32 random bytes, base64, in a new file only its owner reads; False (its mode made 0600) when one is there.

    The instance's secrets (this key, the exports' ticket key) are made this
    way once and never replaced.
    """
    try:
        with open(path, "x", encoding="ascii", opener=opener) as handle:
            handle.write(base64.b64encode(os.urandom(32)).decode("ascii") + "\n")
    except FileExistsError:
        restrict(path)
        return False
    return True


def read_secret(path):
    """The 32 bytes a secret file holds, or None when it holds something else; ``OSError`` when unreadable."""
    with open(path, encoding="ascii") as handle:
        text = handle.read().strip()
    try:
        secret = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return secret if len(secret) == 32 else None


def load_key(instance):
    """The signing key, or ``KeyFileError`` saying what to do."""
    path = key_path(instance)
    try:
        seed = read_secret(path)
    except FileNotFoundError:
        raise KeyFileError(f"the log's signing key {path} does not exist: run `hailong migrate`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"the log's signing key {path} cannot be read: {exc}") from None
    if seed is None:
        raise KeyFileError(f"{path} does not hold an Ed25519 key (the base64 of 32 bytes)")
    return nacl.signing.SigningKey(seed)


def public_key(key):
    """The 32 raw bytes of the public key of a signing or verify key."""
    verify = key.verify_key if isinstance(key, nacl.signing.SigningKey) else key
    return bytes(verify)


def public_key_b64(key):
    return base64.b64encode(public_key(key)).decode("ascii")


def key_id(name, key):
    """SHA-256(name || "\\n" || 0x01 || public key)[:4], as signed notes name a key."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519 + public_key(key)).digest()[:4]


def verifier_key(name, key):
    """``name+keyid+base64(0x01 || public key)``: the line an auditor keeps to check checkpoints."""
    encoded = base64.b64encode(ED25519 + public_key(key)).decode("ascii")
    return f"{name}+{key_id(name, key).hex()}+{encoded}"
