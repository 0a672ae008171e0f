"""The SQL of backups and restores: an online copy through SQLite's backup API, and the checks of a copy.

The copy is taken inside one read transaction on the source connection: in
WAL mode that pins a snapshot, so every step of the backup reads the same
database however many batches the ingest commits meanwhile, and the result
is consistent. Without it SQLite restarts a backup from the first page
whenever another connection writes, and under a steady ingest it may never
finish (measured here: 1,000 pages took 731 steps with a writer beside it,
11 with the snapshot held). A reader blocks no writer in WAL mode; what the
snapshot holds back is the WAL checkpoint, so the WAL grows by what the
ingest writes while the copy runs.
"""

import sqlite3
import time

import sqlite_utils

from device_client.private import private_database

# 1,024 pages (4 MiB at the default page size) a step, then a pause: the copy leaves the disk and a core
# to the server between steps instead of streaming the whole file at once.
STEP_PAGES = 1024
STEP_PAUSE_SECONDS = 0.002


def copy_snapshot(db, target_path, progress=None, pages=STEP_PAGES, pause=STEP_PAUSE_SECONDS):
    """Copy the database of connection ``db`` to a new file ``target_path`` (0600), a step at a time.

    ``progress(done_pages, total_pages)`` is called after each step. The
    copy is left in rollback-journal mode (``DELETE``), one self-contained
    file: nothing beside it is part of the backup.
    """
    conn = db.conn
    if conn.in_transaction:
        raise RuntimeError("copy_snapshot needs a connection outside any transaction")
    private_database(str(target_path))
    target = sqlite3.connect(str(target_path), isolation_level=None)
    try:
        conn.execute("BEGIN")  # deferred: the next read starts the snapshot every step reads from
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()

            def step(status, remaining, total):
                if progress is not None:
                    progress(total - remaining, total)
                if remaining and pause:
                    time.sleep(pause)

            conn.backup(target, pages=pages, progress=step)
        finally:
            conn.execute("COMMIT")
        target.execute("PRAGMA journal_mode = DELETE")
    finally:
        target.close()


def open_read_only(path):
    """A read-only connection to a backup file that nobody writes (``immutable``: no locks, no journal)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, isolation_level=None)
    return sqlite_utils.Database(conn, execute_plugins=False)


def open_plain(path):
    """A read-write connection with no pragmas of the server's: for a copy being made ready to serve."""
    private_database(str(path))
    conn = sqlite3.connect(str(path), isolation_level=None)
    return sqlite_utils.Database(conn, execute_plugins=False)


def integrity_check(db):
    """``PRAGMA integrity_check``'s findings; ``["ok"]`` when the file is sound."""
    return [row[0] for row in db.execute("PRAGMA integrity_check").fetchall()]


def table_counts(db):
    """``{table: rows}`` of every table of the schema (SQLite's own excepted), by name."""
    names = [row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {name: db.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}


def use_wal(db):
    """Put a restored copy in WAL mode, as every server process opens it."""
    db.execute("PRAGMA journal_mode = WAL")


def take_exclusive(path):
    """A connection holding the database file exclusively, or None when another process has it open.

    In WAL mode every open connection, idle or not, holds a shared lock on
    the file; ``locking_mode = EXCLUSIVE`` and a first read need it alone,
    and a busy timeout of 0 makes the answer immediate. While the returned
    connection is open no server process can open the database. The WAL is
    checkpointed into the file, so the file alone holds everything.
    """
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=0)
    try:
        conn.execute("PRAGMA busy_timeout = 0")
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.OperationalError as exc:
        conn.close()
        if "locked" in str(exc) or "busy" in str(exc):
            return None
        raise
    return conn


def database_bytes(db):
    """The size of the database as pages × page size (what a copy of it takes, the WAL folded in)."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    return pages * db.execute("PRAGMA page_size").fetchone()[0]
