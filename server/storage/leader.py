"""Which ``hailong jobs`` leads when several run against one PostgreSQL: a session advisory lock.

The leader holds ``pg_try_advisory_lock(JOBS_LOCK)`` on a connection of its
own for as long as it schedules. PostgreSQL releases a session lock when its
connection ends, whatever ended it (the process killed, the machine gone once
the server's TCP keepalive gives up, PostgreSQL restarted), so a standby's
next try succeeds and no one has to clean anything up. On SQLite there is one
machine and nothing to elect: these functions are for PostgreSQL only.
"""

# pg_advisory locks are keyed by one bigint; order.APPEND_LOCK is "hailong" in ASCII, this one "hljobs".
JOBS_LOCK = 0x686C6A6F6273

# pg_locks shows a bigint advisory key as two 32-bit halves (classid high, objid low) and objsubid 1.
_HALVES = (JOBS_LOCK >> 32, JOBS_LOCK & 0xFFFFFFFF)


def try_lead(db):
    """Take the lock if no other session holds it; True when this connection holds it now."""
    return bool(db.execute("SELECT pg_try_advisory_lock(?)", [JOBS_LOCK]).fetchone()[0])


def holds(db):
    """Whether this connection still holds the lock (raises if the connection itself is gone)."""
    return db.execute(
        "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"
        " AND classid = ?::oid AND objid = ?::oid AND objsubid = 1", list(_HALVES)).fetchone()[0] > 0


def release(db):
    """Give the lock up (a clean stop: a standby takes over at its next try instead of waiting for a drop)."""
    db.execute("SELECT pg_advisory_unlock(?)", [JOBS_LOCK])


def leaders(db):
    """How many sessions hold the lock: 1 while some ``hailong jobs`` leads, 0 when none does."""
    return db.execute(
        "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid = ?::oid AND objid = ?::oid AND objsubid = 1", list(_HALVES)).fetchone()[0]


def keep_alive(db, seconds):
    """Ask PostgreSQL to probe this connection's TCP peer after ``seconds`` idle, and drop it soon after a
    dead machine stops answering (these settings are per session; a Unix socket ignores them)."""
    probe = max(1, int(seconds) // 3)
    db.execute(f"SET tcp_keepalives_idle = {int(seconds)}")
    db.execute(f"SET tcp_keepalives_interval = {probe}")
    db.execute("SET tcp_keepalives_count = 3")
