"""Argon2id password hashes (argon2-cffi's defaults, which follow RFC 9106), and what a new password must not be.

A new password is refused when it is too short, one of the most common
passwords, or contains the username. The common ones are the list Django's
CommonPasswordValidator ships (``common-passwords.txt`` beside this file,
19,640 lowercased passwords, most common first; where it comes from and its
BSD licence: ``common-passwords.LICENSE.txt``). It is read the first time a
password is checked, not at import: web workers that never see a new
password never load it.
"""

import functools
import importlib.resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.errors import N_

_hasher = PasswordHasher()
_dummy = []
COMMON_PASSWORDS = "common-passwords.txt"
# A shorter username inside a password is too often a coincidence ("an" in "banana").
USERNAME_IN_PASSWORD_MIN = 3


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


@functools.cache
def common_passwords():
    """The shipped list as a frozenset (about 20,000 entries, read once per process)."""
    text = importlib.resources.files(__package__).joinpath(COMMON_PASSWORDS).read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line)


def check_strength(password, min_length, username=None):
    """A list of problems with a new password for ``username`` (empty when it is acceptable)."""
    problems = []
    if len(password) < min_length:
        problems.append(N_("At least %(count)s characters.", count=min_length))
    if password.strip() != password:
        problems.append(N_("No spaces at the start or end."))
    folded = password.strip().lower()
    if folded in common_passwords():
        problems.append(N_("This is one of the most common passwords; choose another."))
    if username and len(username) >= USERNAME_IN_PASSWORD_MIN and username.lower() in folded:
        problems.append(N_("A password must not contain the username."))
    return problems
