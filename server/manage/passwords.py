"""Argon2id password hashes (argon2-cffi's defaults, which follow RFC 9106)."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.errors import N_

_hasher = PasswordHasher()
_dummy = []


def _dummy_hash():
    """Verified against when the username is unknown, so both cases cost the same time."""
    if not _dummy:
        _dummy.append(_hasher.hash("not a real password"))
    return _dummy[0]


def hash_password(password):
    return _hasher.hash(password)


def verify_password(password_hash, password):
    """True when ``password`` matches; never raises for a wrong or malformed hash."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_strength(password, min_length):
    """A list of problems with a new password (empty when it is acceptable)."""
    problems = []
    if len(password) < min_length:
        problems.append(N_("At least %(count)s characters.", count=min_length))
    if password.strip() != password:
        problems.append(N_("No spaces at the start or end."))
    return problems
