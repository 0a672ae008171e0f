"""Online backups of the server database, their manifests, restoring one, and which to keep.

- ``files``: where backups live, their names, the manifest beside each, listing them.
- ``snapshot``: taking one while the server ingests (SQLite's backup API, a pinned snapshot).
- ``restore``: checking a backup (file, manifest, integrity, counts, the log against its checkpoints) and
  putting it in place of the database.
- ``retention``: which backups the schedule keeps (a pure function) and removing the others.

The SQL is in ``server/storage/backups.py``; the commands in ``server/commands/backup.py`` and
``backup_jobs.py``; the operator's side in docs/operations.md.

All of it is SQLite's: a backup is one database file. A PostgreSQL database
is backed up with PostgreSQL's own tools (``pg_dump``, ``pg_basebackup`` and
WAL archiving), so on a ``postgresql://`` DATABASE every entry point refuses
with ``refuse_postgresql`` before it reads a path out of the URL.
"""

from server import storage


class BackupError(Exception):
    """A backup that cannot be taken, read or restored: the message is one line saying what and what to do."""


def refuse_postgresql(settings):
    """Raise ``BackupError`` when the instance's database is PostgreSQL: these backups are SQLite files."""
    if storage.is_postgresql(settings.get("DATABASE", "")):
        raise BackupError(
            f"the database is PostgreSQL ({storage.describe(settings['DATABASE'])}): hailong backup and restore"
            " copy SQLite files only. Back it up with pg_dump (or pg_basebackup with WAL archiving) and restore"
            " with pg_restore; docs/operations.md, \"Backups on PostgreSQL\"."
        )
