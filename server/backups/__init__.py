"""Online backups of the server database, their manifests, restoring one, and which to keep.

- ``files``: where backups live, their names, the manifest beside each, listing them.
- ``snapshot``: taking one while the server ingests (SQLite's backup API, a pinned snapshot).
- ``restore``: checking a backup (file, manifest, integrity, counts, the log against its checkpoints) and
  putting it in place of the database.
- ``retention``: which backups the schedule keeps (a pure function) and removing the others.

The SQL is in ``server/storage/backups.py``; the commands in ``server/commands/backup.py`` and
``backup_jobs.py``; the operator's side in docs/operations.md.
"""


class BackupError(Exception):
    """A backup that cannot be taken, read or restored: the message is one line saying what and what to do."""
