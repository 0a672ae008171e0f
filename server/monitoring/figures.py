"""What /metrics reads at scrape time: the database's own counts, and the disk it lives on.

Read per scrape rather than counted in a worker, so they are right whichever
process did the work (``hailong jobs``, a CLI command, another worker) and
survive restarts. A scrape costs a few small queries: the devices, incidents
grouped by kind, and ``job_runs``.

On PostgreSQL the data lives on the database server's disk, which a web
server cannot see: the size comes from PostgreSQL (``pg_database_size``) and
the disk figures are left out (None) rather than reporting the web server's
own disk; the database server's own monitoring watches its disk.
"""

import os
import shutil

from device_client.protocol import parse_time
from server import storage
from server.storage import dialect, leader, operations
from server.version import __version__


def read(db, settings, fleet):
    """The figures ``metrics.exposition`` turns into metrics; ``fleet`` is ``manage.devices.fleet``'s answer."""
    target = settings["DATABASE"]
    if storage.is_postgresql(target):
        database_bytes, disk = operations.database_bytes(db), None
    else:
        database = os.path.abspath(target)
        database_bytes = sum(_size(database + suffix) for suffix in ("", "-wal"))
        disk = shutil.disk_usage(os.path.dirname(database))
    return {
        "version": __version__,
        "tablets": fleet["tablets"],
        "queues": fleet["queues"],
        "incidents": operations.incident_counts(db),
        "open_gaps": operations.open_gaps(db),
        "jobs": [{**row, "last_ok_unix": parse_time(row["last_ok_at"]).timestamp() if row["last_ok_at"] else None}
                 for row in operations.job_runs(db)],
        "database_bytes": database_bytes,
        "disk_free_bytes": disk.free if disk else None,
        "disk_size_bytes": disk.total if disk else None,
        # PostgreSQL: whether some ``hailong jobs`` holds the leader lock (server/commands/jobs_leader.py).
        "jobs_leader": leader.leaders(db) if dialect(db) == "postgresql" else None,
    }


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
