"""Checking a backup and putting it in place of the server's database.

A restore changes nothing until every check has passed and the copy it
will put in place is made and counted: the backup's SHA-256 and size against
its manifest, ``PRAGMA integrity_check``, the rows of every table, the
migrations, and for each log tree the root at its latest signed
checkpoint's size against the root that checkpoint signed (and the
signature, with the instance's log key or the public key the manifest
names). Only then is the database that was there moved aside (kept, never
deleted) and the copy renamed into its place.

A database some process has open is never replaced: in WAL mode every
connection holds a shared lock on the file, so the restore asks for it
exclusively with no wait (``storage.backups.take_exclusive``), and a running
``hailong serve`` or ``hailong jobs`` makes it stop with one line saying so.
"""

import base64
import binascii
import datetime as dt
import os
import sqlite3

import sqlite_utils

from migrations import migrations
from server import settings as server_settings
from server.backups import BackupError, files, refuse_postgresql
from server.exports import tickets
from server.ledger import checkpoints as notes
from server.ledger import keys, log
from server.storage import backups as store

RESTORING_SUFFIX = ".restoring"


def check(path, settings):
    """Every check of a backup file against its manifest; returns ``{"manifest", "findings", "pending"}``.

    ``findings`` are lines saying what was checked and found; ``pending`` the
    migrations this version of hailong would still apply to it. Raises
    ``BackupError`` at the first check that fails.
    """
    refuse_postgresql(settings)
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise BackupError(f"{path} does not exist or is not a file")
    manifest = files.read_manifest(path)
    size = os.path.getsize(path)
    if size != manifest["size"]:
        raise BackupError(f"{path} has {size} bytes, its manifest says {manifest['size']}: the file was cut or"
                          " changed after the backup; restore another backup")
    if files.sha256_file(path) != manifest["sha256"]:
        raise BackupError(f"{path} does not match its manifest's SHA-256: the file was damaged or changed after the"
                          " backup; restore another backup")
    findings = [f"file: {size} bytes, SHA-256 as the manifest says ({manifest['sha256'][:16]}…)"]
    try:
        db = store.open_read_only(path)
    except sqlite3.Error as exc:
        raise BackupError(f"{path} cannot be opened as a database: {exc}") from None
    try:
        try:
            integrity = store.integrity_check(db)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path} is not a sound database: {exc}") from None
        if integrity != ["ok"]:
            raise BackupError(f"{path} fails PRAGMA integrity_check: {'; '.join(integrity[:3])}")
        findings.append("PRAGMA integrity_check: ok")
        counts = store.table_counts(db)
        _same_counts(counts, manifest["tables"], "the backup")
        findings.append(f"rows: {len(counts)} tables as the manifest counts them ("
                        + ", ".join(f"{name} {counts[name]}" for name in ("votes", "staff_sessions", "audit_log")
                                    if name in counts) + ")")
        pending = _check_migrations(db, manifest)
        findings.extend(_check_log(db, manifest, settings))
    finally:
        db.close()
    return {"manifest": manifest, "findings": findings, "pending": pending}


def _same_counts(counts, expected, what):
    if counts != expected:
        differ = sorted(set(counts) ^ set(expected)) or sorted(t for t in counts if counts[t] != expected[t])
        name = differ[0]
        raise BackupError(f"{what} does not hold the rows its manifest counts: table {name} has"
                          f" {counts.get(name, 'no')} rows, the manifest says {expected.get(name, 'none')}")


def _check_migrations(db, manifest):
    applied = [m.name for m in migrations.applied(db)]
    if applied != manifest["migrations"]:
        raise BackupError("the backup's migrations are not the ones its manifest lists")
    known = {m.name for m in migrations.pending(sqlite_utils.Database(memory=True))}  # every one this version has
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise BackupError(f"the backup was made by a newer hailong (migration {unknown[0]} is unknown here):"
                          " install that version, then restore")
    return [m.name for m in migrations.pending(db)]


def _check_log(db, manifest, settings):
    """Each tree as the manifest says, and its root at the latest checkpoint's size equal to the signed root."""
    instance_key = _instance_key(settings)
    manifest_key = _manifest_key(manifest.get("log_key"))
    lines = []
    for tree in log.trees():
        state = log.tree_state(db, tree)
        said = manifest["log"].get(tree)
        if not isinstance(said, dict) or said.get("size") != state["size"] or said.get("root") != _b64(state["root"]):
            raise BackupError(f"the {tree} log's tree is not the one the manifest describes")
        latest = log.latest_checkpoint(db, tree)
        if latest is None:
            lines.append(f"{tree} log: {state['size']} leaves, no signed checkpoint yet")
            continue
        try:
            root_then = log.root(db, tree, latest["size"])
        except log.LogError:
            raise BackupError(f"the {tree} log holds {state['size']} leaves, fewer than checkpoint {latest['id']}"
                              f" signed ({latest['size']}): its history was cut") from None
        if root_then != bytes(latest["root"]):
            raise BackupError(f"the {tree} log does not verify: its root at checkpoint {latest['id']}'s size"
                              f" ({latest['size']}) is not the root that checkpoint signed")
        line = (f"{tree} log: {state['size']} leaves; the root at checkpoint {latest['id']}'s size"
                f" ({latest['size']}, {latest['at']}) is the signed root")
        lines.append(line + _signature_finding(tree, latest, instance_key, manifest_key))
    return lines


def _signature_finding(tree, latest, instance_key, manifest_key):
    try:
        note = notes.parse_note(latest["note"])
    except notes.NoteError as exc:
        raise BackupError(f"the {tree} log's checkpoint {latest['id']} is not a checkpoint note: {exc}") from None
    if note["size"] != latest["size"] or note["root"] != bytes(latest["root"]):
        raise BackupError(f"the {tree} log's checkpoint {latest['id']} signs another size or root than it stores")
    if instance_key is not None:
        if not notes.verify_note(latest["note"], instance_key):
            raise BackupError(f"the {tree} log's checkpoint {latest['id']} is not signed by this instance's log key"
                              " (INSTANCE/log-key): put the instance's own key in place before restoring"
                              " (docs/operations.md)")
        return "; its signature holds with INSTANCE/log-key"
    if manifest_key is not None:
        if not notes.verify_note(latest["note"], manifest_key):
            raise BackupError(f"the {tree} log's checkpoint {latest['id']} is not signed by the key the manifest"
                              " names")
        return "; its signature holds with the key the manifest names (INSTANCE/log-key is missing)"
    return "; signature not checked (no log key here or in the manifest)"


def _instance_key(settings):
    try:
        return keys.load_key(settings["INSTANCE"])
    except keys.KeyFileError:
        return None


def _manifest_key(verifier_key):
    """The 32-byte public key of a verifier key line ``NAME+KEYID+base64(0x01 || key)``, or None."""
    if not isinstance(verifier_key, str) or verifier_key.count("+") < 2:
        return None
    try:
        raw = base64.b64decode(verifier_key.rsplit("+", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw[1:] if len(raw) == 33 and raw[:1] == keys.ED25519 else None


def restore(path, settings, replace=False, now=None):
    """Check the backup, then make it the database at ``settings["DATABASE"]``.

    An existing database is replaced only with ``replace`` and only when no
    process has it open; it is moved aside to ``DATABASE.before-restore-<UTC
    time>`` (with its WAL, if one is left), never deleted. Returns
    ``check``'s answer with ``target``, ``aside`` (None when there was no
    database) and ``secrets`` (which of the instance's secrets are missing).
    """
    report = check(path, settings)
    now = now or dt.datetime.now(dt.timezone.utc)
    target = os.path.abspath(settings["DATABASE"])
    folder = os.path.dirname(target)
    present = os.path.exists(target)
    if present and not replace:
        raise BackupError(f"{target} exists: stop hailong serve and hailong jobs, then restore with --replace"
                          " (the database there is kept, renamed *.before-restore-<time>)")
    _make_folder(folder, settings["INSTANCE"])
    temporary = os.path.join(folder, f".{os.path.basename(target)}{RESTORING_SUFFIX}")
    _remove(temporary)
    try:
        _copy_into(path, temporary, report["manifest"])
        aside = _move_aside(target, now) if present else None
        try:
            os.replace(temporary, target)
        except OSError:
            if aside is not None:
                os.replace(aside, target)  # put the old database back as it was
            raise
        files.fsync_dir(folder)
    except (OSError, sqlite3.Error) as exc:
        _remove(temporary)
        raise BackupError(f"the restore to {target} failed and changed nothing: {exc}") from None
    except BaseException:
        _remove(temporary)
        raise
    return {**report, "target": target, "aside": aside, "secrets": missing_secrets(settings)}


def _make_folder(folder, instance):
    from device_client.private import private_folder

    if folder == os.path.abspath(instance):
        private_folder(folder)  # the instance folder is the server account's alone, as `hailong migrate` makes it
    else:
        os.makedirs(folder, exist_ok=True)


def _copy_into(path, temporary, manifest):
    """Copy the backup to ``temporary`` (0600) in WAL mode and count its rows again."""
    source = store.open_read_only(path)
    try:
        store.copy_snapshot(source, temporary, pause=0)
    finally:
        source.close()
    copy = store.open_plain(temporary)
    try:
        store.use_wal(copy)
        _same_counts(store.table_counts(copy), manifest["tables"], "the restored copy")
    finally:
        copy.close()
    files.fsync_file(temporary)


def _move_aside(target, now):
    """Rename the database (and a WAL left beside it) out of the way; None when a process has it open."""
    holder = store.take_exclusive(target)
    if holder is None:
        raise BackupError(f"{target} is open in another process: stop hailong serve and hailong jobs first")
    holder.close()  # its WAL is checkpointed into the file and removed
    aside = f"{target}.before-restore-{now.astimezone(dt.timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"
    os.replace(target, aside)
    for suffix in ("-wal", "-journal"):
        if os.path.exists(target + suffix):
            os.replace(target + suffix, aside + suffix)
    _remove(target + "-shm")  # an index of the WAL, rebuilt by whoever opens the database next
    return aside


def missing_secrets(settings):
    """The instance's secrets a backup does not hold and this instance lacks: lines saying what to do."""
    instance = settings["INSTANCE"]
    out = []
    if not os.path.exists(keys.key_path(instance)):
        out.append(f"{keys.key_path(instance)} is missing: copy the instance's original log key there before"
                   " `hailong migrate` (which would make a new one, and checkpoints signed from then on would not"
                   " match the key auditors keep)")
    ticket_path = os.path.join(instance, tickets.FILE_NAME)
    if not os.path.exists(ticket_path):
        out.append(f"{ticket_path} is missing: if the instance had one (the first export with --hash-tickets makes"
                   " it), copy it there, or later exports will hash ticket numbers differently from earlier ones")
    if settings["SECRET_KEY"] in ("", server_settings.DEFAULTS["SECRET_KEY"]):
        out.append("SECRET_KEY is not set: copy the instance's config.py (or set HAILONG_SECRET_KEY); a new key"
                   " only signs everyone out")
    return out


def _b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
