"""Folders and files only their owner may read: 0700 and 0600, made so and kept so.

A tablet's folder holds its signing key, its token, and an outbox that
caches the unit's PIN hashes; the server's instance folder holds the
database and the secret key. Another account on the same machine must read
none of it. On POSIX the modes say so; on Windows they mean nothing (Python
can only toggle the read-only flag), so these do nothing there and the
per-user profile folder the data lives in is what protects it. The server
uses these too (``server.storage.connect``, ``hailong migrate``).
"""

import os

FOLDER_MODE = 0o700
FILE_MODE = 0o600
POSIX = os.name == "posix"


def private_folder(path):
    """Create ``path`` (and its parents) if needed; make it the owner's alone."""
    os.makedirs(path, mode=FOLDER_MODE, exist_ok=True)  # the mode applies to a new folder, minus the umask
    restrict(path, FOLDER_MODE)


def private_file(path):
    """Create ``path`` empty if it does not exist, with no moment readable by others; fix an older one's mode.

    An existing file is never opened: closing any descriptor of an SQLite
    database drops every POSIX lock this process holds on it, those of its
    other connections included (a second thread's connection, the tablet's
    watch), and the database can then be corrupted. O_EXCL creates or fails.
    """
    if POSIX:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        except OSError:  # it exists; or no folder, a read-only disk: the caller's own open says so
            pass
    restrict(path, FILE_MODE)


def opener(path, flags):
    """For ``open(..., opener=private.opener)``: a new file is created 0600, never briefly readable."""
    return os.open(path, flags, FILE_MODE)


def private_database(path):
    """An SQLite database file and the journal files beside it, the owner's alone.

    Call before connecting: SQLite creates a database with the umask's mode
    (0644 as a rule) and its ``-wal`` and ``-shm`` with the database's mode,
    so a database made 0600 first keeps them 0600; older ones are fixed here.
    """
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        restrict(path + suffix)


def restrict(path, mode=FILE_MODE):
    """Set ``path``'s mode if it exists and we may; never fail because of it (another owner, a read-only disk)."""
    if not POSIX:
        return
    try:
        if os.stat(path).st_mode & 0o777 != mode:
            os.chmod(path, mode)
    except OSError:
        pass
