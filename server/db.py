"""The request's database connection: one per worker thread, reused across requests.

Opening a SQLite connection costs about 0.8 ms of CPU, and closing the last
open one checkpoints and deletes the WAL (3-7 ms on a large database): paid on
every request, that was a tenth of the ingest CPU budget. So each thread keeps
its connection (keyed by database path and process id, so a forked worker
never inherits its parent's) and teardown only makes sure no transaction is
left open.
"""

import contextlib
import os
import sqlite3
import threading

from flask import current_app, g

from server import storage
from server.storage import postgres

_local = threading.local()
_pools = {}
_pools_lock = threading.Lock()


def get_db():
    if "db" not in g:
        target = current_app.config["DATABASE"]
        if storage.is_postgresql(target):
            g.db = _pooled(target)
            return g.db
        key = (os.path.abspath(target), os.getpid())
        if getattr(_local, "key", None) != key:
            stale = getattr(_local, "db", None)
            if stale is not None and _local.key[1] == os.getpid():
                stale.close()
            _local.db = storage.connect(key[0], current_app.config["BUSY_TIMEOUT_MS"])
            _local.key = key
        g.db = _local.db
    return g.db


def _pooled(url):
    """A connection from this process's pool for ``url`` (psycopg_pool), handed back at teardown.

    A pool per process (a forked worker makes its own) holds up to
    ``POSTGRES_POOL_SIZE`` connections; each is checked before it is lent,
    so a PostgreSQL restart costs the next request a reconnect, not an error.
    """
    key = (url, os.getpid())
    pool = _pools.get(key)
    if pool is None:
        with _pools_lock:
            pool = _pools.get(key)
            if pool is None:
                pool = postgres.pool(url, current_app.config["POSTGRES_POOL_SIZE"])
                _pools[key] = pool
    return postgres.lend(pool)


def for_stream(body_of):
    """A response body that reads the database after the view returned, on a connection of its own.

    ``body_of(db)`` makes the generator. On SQLite that is the request's
    connection (the thread keeps it). On PostgreSQL a pooled connection goes
    back to the pool at teardown, and a long download must not share one with
    whichever request borrows it next: the body gets a connection of its own,
    closed when the body ends or is abandoned.
    """
    target = current_app.config["DATABASE"]
    if not storage.is_postgresql(target):
        return body_of(get_db())
    own = storage.connect(target)

    def body():
        try:
            yield from body_of(own)
        finally:
            own.close()

    return body()


def close_pools(url=None):
    """Close this process's pools (those of ``url``, or all) and their connections.

    A pool lives as long as its process; a process that is done with a
    database (a test whose database is thrown away) closes it here, so the
    PostgreSQL server is not left holding an idle connection per database
    up to its ``max_connections``.
    """
    with _pools_lock:
        for key in [key for key in _pools if url is None or key[0] == str(url)]:
            _pools.pop(key).close()


def close_db(exc=None):
    db = g.pop("db", None)
    if db is not None and storage.dialect(db) == "postgresql":
        db.close()  # back to the pool, which rolls back whatever a failed request left open
        return
    if db is not None and db.conn.in_transaction:
        try:
            db.conn.execute("ROLLBACK")
        except storage.Error:
            # A connection that cannot even roll back (an I/O error) is not handed to the next request.
            forget()


def forget():
    """Close this thread's connection, so the next request opens a new one.

    After a full or read-only disk: SQLite opens a file it cannot write
    read-only and keeps it so, and a connection that met an I/O error is best
    not trusted; a fresh one sees the disk as it is now.
    """
    pooled = g.pop("db", None)
    if pooled is not None and storage.dialect(pooled) == "postgresql":
        pooled.close()  # the pool checks it before lending it again
        return
    stale = getattr(_local, "db", None)
    _local.db = _local.key = None
    if stale is not None:
        with contextlib.suppress(sqlite3.Error):
            stale.conn.close()


def init_app(app):
    app.teardown_appcontext(close_db)


def data_folder():
    """The instance folder: where the server keeps files it stages (import uploads)."""
    return current_app.config["INSTANCE"]
