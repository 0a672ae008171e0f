"""Staff sign-in/out events from kiosks, as stored.

Their batches are deduplicated and acknowledged like votes (``batches.py``);
this module knows the staff_sessions table itself.
"""

from server.storage import order
from server.storage.batches import Table

COLUMNS = ("uuid", "device_id", "seq", "counter_id", "staff_id", "event", "reason", "local_time", "signature",
           "digest", "received_at", "clock_offset_ms", "batch_id")
_INSERT = f"INSERT INTO staff_sessions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def insert_events(db, rows):
    """Insert session events; each row is a dict of ``COLUMNS``. Runs inside the caller's transaction."""
    if not rows:
        return
    order.appending(db)  # the log appender and the rollups read these rows in id order (order.py)
    db.conn.executemany(_INSERT, [tuple(row[name] for name in COLUMNS) for row in rows])


TABLE = Table(stream="sessions", item="event", name="staff_sessions", ack_column="session_ack_seq",
              insert=insert_events)
