"""Where backups live, what they are called, and the manifest written beside each.

A backup is two files in the backup folder: ``hailong-20261130T120000Z.db``
(the database, named by the UTC second it was taken; ``-2``, ``-3`` … when
two fall in one second) and ``hailong-20261130T120000Z.json``, its manifest.
Both are written under a temporary name starting with ``.`` and renamed when
complete, the database first, so a backup with a manifest is a whole one; a
database without its manifest is a backup cut short and is not listed as one.
"""

import datetime as dt
import hashlib
import json
import os
import re

from device_client.private import opener, private_folder
from server.backups import BackupError, refuse_postgresql

FORMAT = "hailong-backup/1"
NAME = re.compile(r"hailong-(\d{8}T\d{6}Z)(?:-(\d+))?\.db\Z")
TEMPORARY_PREFIX = "."


def backup_dir(settings):
    """BACKUP_DIR, or a folder ``backups`` beside the database (in INSTANCE when the database is there)."""
    refuse_postgresql(settings)
    if settings["BACKUP_DIR"]:
        return os.path.abspath(settings["BACKUP_DIR"])
    return os.path.join(os.path.dirname(os.path.abspath(settings["DATABASE"])), "backups")


def ensure_dir(folder):
    """Make the backup folder (0700: a backup holds every vote and the password hashes)."""
    try:
        private_folder(folder)
    except OSError as exc:
        raise BackupError(f"cannot make the backup folder {folder}: {exc.strerror or exc}") from None


def new_name(folder, now):
    """A database file name for a backup taken at ``now`` that no backup in ``folder`` has."""
    stem = "hailong-" + now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name, n = f"{stem}.db", 1
    while os.path.exists(os.path.join(folder, name)) or os.path.exists(os.path.join(folder, manifest_name(name))):
        n += 1
        name = f"{stem}-{n}.db"
    return name


def manifest_name(db_name):
    return db_name[:-len(".db")] + ".json"


def manifest_path(db_path):
    """The manifest beside a backup's database file."""
    folder, name = os.path.split(db_path)
    return os.path.join(folder, manifest_name(name) if name.endswith(".db") else name + ".json")


def taken_at(name):
    """The UTC time a backup's name says it was taken, or None for a name that is not a backup's."""
    match = NAME.match(os.path.basename(name))
    if not match:
        return None
    return dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)


def sha256_file(path):
    """The SHA-256 of a file, read in 1 MiB blocks. Never call it on a database this process has open."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_file(path):
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_dir(folder):
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_manifest(path, manifest):
    """Write a manifest under a temporary name, 0600, durable, then rename it into place."""
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, f"{TEMPORARY_PREFIX}{name}.tmp")
    with open(temporary, "w", encoding="utf-8", opener=opener) as handle:
        json.dump(manifest, handle, ensure_ascii=False, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_dir(folder)


def read_manifest(db_path):
    """The manifest beside a backup, checked for the keys a restore reads; ``BackupError`` if it cannot be used."""
    path = manifest_path(db_path)
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except FileNotFoundError:
        raise BackupError(f"{path} does not exist: a backup is its .db file and the .json manifest beside it"
                          " (one without the other is a backup cut short)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BackupError(f"the manifest {path} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a hailong backup manifest (its format is not {FORMAT})")
    shapes = {"sha256": str, "size": int, "tables": dict, "migrations": list, "log": dict, "taken_at": str}
    for key, kind in shapes.items():
        if not isinstance(manifest.get(key), kind):
            raise BackupError(f"the manifest {path} has no valid {key!r}")
    return manifest


def list_backups(folder):
    """The whole backups in ``folder``, oldest first: ``{"path", "name", "taken_at", "size", "manifest"}``.

    ``manifest`` is the parsed manifest, or None for a database file whose
    manifest is missing or unreadable (listed, so a person sees it, but never
    restored or counted by retention as a backup).
    """
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        moment = taken_at(name)
        if moment is None:
            continue
        path = os.path.join(folder, name)
        try:
            manifest = read_manifest(path)
        except BackupError:
            manifest = None
        out.append({"path": path, "name": name, "taken_at": moment, "size": os.path.getsize(path),
                    "manifest": manifest})
    return sorted(out, key=lambda backup: (backup["taken_at"], _number(backup["name"])))


def _number(name):
    match = NAME.match(name)
    return int(match.group(2) or 1)


def leftovers(folder):
    """Temporary files of backups that were cut short (a killed process, a full disk): ``[path]``."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return [os.path.join(folder, name) for name in names
            if name.startswith(TEMPORARY_PREFIX + "hailong-") and name.endswith(".tmp")]
