"""Taking a backup while the server runs: an online copy, checked, hashed, with its manifest.

The copy is SQLite's backup API over one pinned snapshot (``server/storage/backups.py``),
written under a temporary name and renamed when complete. The manifest is
made from the copy itself, never from the live database, so it describes
exactly the file beside it: its SHA-256 and size, the rows of every table,
the migrations applied, each log tree's size and root and its latest signed
checkpoint. ``hailong restore`` checks all of it.
"""

import base64
import datetime as dt
import os
import shutil
import sqlite3
import time

from migrations import migrations
from server.backups import BackupError, files, refuse_postgresql
from server.ledger import keys, log
from server.storage import backups as store
from server.storage import timestamp
from server.version import __version__

# Room a backup must leave on its disk beyond its own size: never fill the disk it shares with the database.
RESERVE_BYTES = 64 * 1024 * 1024


def take(db, settings, now=None, folder=None, progress=None):
    """Back up the database of connection ``db`` into ``folder`` (default ``files.backup_dir``).

    Returns the manifest, with ``path`` (the database file) added. Raises
    ``BackupError`` (and leaves no file behind) when the folder cannot be
    written, the disk lacks room, or the copy fails its integrity check.
    ``progress(done_pages, total_pages)`` follows the copy.
    """
    refuse_postgresql(settings)
    now = now or dt.datetime.now(dt.timezone.utc)
    folder = os.path.abspath(folder or files.backup_dir(settings))
    files.ensure_dir(folder)
    need = store.database_bytes(db)
    free = shutil.disk_usage(folder).free
    if free < need + max(RESERVE_BYTES, need // 10):
        raise BackupError(f"not enough room in {folder}: {free // 2**20} MiB free, a backup of this database needs"
                          f" {need // 2**20} MiB and leaves at least {max(RESERVE_BYTES, need // 10) // 2**20} MiB"
                          " (remove old backups or give BACKUP_DIR another disk)")
    name = files.new_name(folder, now)
    final = os.path.join(folder, name)
    temporary = os.path.join(folder, f"{files.TEMPORARY_PREFIX}{name}.tmp")
    started = time.monotonic()
    try:
        store.copy_snapshot(db, temporary, progress=progress)
        facts = describe(temporary)
        if facts["integrity_check"] != ["ok"]:
            raise BackupError(f"the copy fails PRAGMA integrity_check ({'; '.join(facts['integrity_check'][:3])}):"
                              " the database itself may be damaged; check it with sqlite3 and keep the last good"
                              " backups")
        files.fsync_file(temporary)
        size, digest = os.path.getsize(temporary), files.sha256_file(temporary)
        os.replace(temporary, final)
        files.fsync_dir(folder)
    except (OSError, sqlite3.Error) as exc:
        _remove(temporary)
        raise BackupError(f"the backup to {folder} failed: {_reason(exc)}") from None
    except BaseException:
        _remove(temporary)
        raise
    manifest = {
        "format": files.FORMAT,
        "file": name,
        "taken_at": timestamp(now),
        "seconds": round(time.monotonic() - started, 3),
        "software_version": __version__,
        "source": os.path.abspath(settings["DATABASE"]),
        "sha256": digest,
        "size": size,
        "integrity_check": "ok",
        "tables": facts["tables"],
        "migrations": facts["migrations"],
        "log": facts["log"],
        "log_key": _verifier_key(settings),
        "secrets": "not included: INSTANCE/log-key, INSTANCE/ticket-key and SECRET_KEY are kept apart"
                   " (docs/operations.md, Backups, restore and disaster recovery)",
    }
    try:
        files.write_manifest(files.manifest_path(final), manifest)
    except OSError as exc:
        _remove(final)
        raise BackupError(f"the backup's manifest could not be written in {folder}: {_reason(exc)}") from None
    return {**manifest, "path": final}


def describe(path):
    """What a backup file holds: integrity, rows per table, migrations, and the log's trees and checkpoints."""
    db = store.open_read_only(path)
    try:
        integrity = store.integrity_check(db)
        if integrity != ["ok"]:
            return {"integrity_check": integrity}
        return {"integrity_check": integrity, "tables": store.table_counts(db),
                "migrations": [m.name for m in migrations.applied(db)], "log": log_state(db)}
    finally:
        db.close()


def log_state(db):
    """Each tree's size, root and latest signed checkpoint, roots as base64 (as checkpoint notes write them)."""
    out = {}
    for tree in log.trees():
        state = log.tree_state(db, tree)
        latest = log.latest_checkpoint(db, tree)
        out[tree] = {"size": state["size"], "root": _b64(state["root"]), "last_row_id": state["last_row_id"],
                     "checkpoint": latest and {"id": latest["id"], "size": latest["size"], "root": _b64(latest["root"]),
                                               "at": latest["at"], "key_id": latest["key_id"], "note": latest["note"]}}
    return out


def _verifier_key(settings):
    """The public half of the instance's log key, so a restore can check the checkpoints' signatures."""
    try:
        key = keys.load_key(settings["INSTANCE"])
    except keys.KeyFileError:
        return None
    return keys.verifier_key(settings["LOG_NAME"], key)


def _b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")


def _reason(exc):
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} ({exc.filename})" if exc.filename else exc.strerror
    return str(exc)


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
