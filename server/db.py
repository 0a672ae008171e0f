"""The request's database connection: one per worker thread, reused across requests.

Opening a SQLite connection costs about 0.8 ms of CPU, and closing the last
open one checkpoints and deletes the WAL (3-7 ms on a large database): paid on
every request, that was a tenth of the ingest CPU budget. So each thread keeps
its connection (keyed by database path and process id, so a forked worker
never inherits its parent's) and teardown only makes sure no transaction is
left open.
"""

import os
import threading

from flask import current_app, g

from server import storage

_local = threading.local()


def get_db():
    if "db" not in g:
        key = (os.path.abspath(current_app.config["DATABASE"]), os.getpid())
        if getattr(_local, "key", None) != key:
            stale = getattr(_local, "db", None)
            if stale is not None and _local.key[1] == os.getpid():
                stale.close()
            _local.db = storage.connect(key[0], current_app.config["BUSY_TIMEOUT_MS"])
            _local.key = key
        g.db = _local.db
    return g.db


def close_db(exc=None):
    db = g.pop("db", None)
    if db is not None and db.conn.in_transaction:
        db.conn.execute("ROLLBACK")


def init_app(app):
    app.teardown_appcontext(close_db)


def data_folder():
    """The instance folder: where the server keeps files it stages (import uploads)."""
    return current_app.config["INSTANCE"]
