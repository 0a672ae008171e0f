"""PostgreSQL's monthly vote partitions, made ahead of the votes that fill them.

``votes`` is partitioned by the month of ``received_at`` (migrations/postgres.py).
``hailong migrate`` and a daily job of ``hailong jobs`` call ``ensure``: it
makes the partitions from the oldest month that has votes waiting in the
default partition (or this month) to ``ahead`` months from now. A vote whose
month has no partition yet (the jobs process was down for months) is never
refused: it lands in ``votes_default``, and the next ``ensure`` moves it into
its month's new partition in one transaction. On SQLite there is nothing to do.
"""

import datetime as dt

from server.storage import dialect, now_utc, query, write_transaction

DEFAULT = "votes_default"


def name(month):
    return f"votes_{month.year:04d}_{month.month:02d}"


def _next(month):
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def existing(db):
    """The monthly partitions there are, as ``[(name, 'YYYY-MM')]`` in order."""
    rows = query(db, "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                     " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'votes' ORDER BY c.relname")
    return [(r["name"], r["name"][6:10] + "-" + r["name"][11:13]) for r in rows if r["name"] != DEFAULT]


def ensure(db, ahead=3, today=None):
    """Make the monthly partitions up to ``ahead`` months from now; returns the names made.

    Votes found in the default partition get their month's partition made
    and are moved into it (same transaction), so a partition is never
    refused for rows the default holds.
    """
    if dialect(db) != "postgresql":
        return []
    today = today or now_utc().date()
    first = dt.date(today.year, today.month, 1)
    waiting = query(db, f"SELECT MIN(received_at) AS first FROM {DEFAULT}")[0]["first"]
    if waiting:
        first = min(first, dt.date(int(waiting[:4]), int(waiting[5:7]), 1))
    last = first if ahead < 0 else dt.date(today.year, today.month, 1)
    for _ in range(ahead):
        last = _next(last)
    have = {n for n, _ in existing(db)}
    made = []
    month = first
    while month <= last:
        if name(month) not in have:
            _make(db, month)
            made.append(name(month))
        month = _next(month)
    return made


def make_months(db, months):
    """Make the partitions of the given months ('YYYY-MM') that are missing; returns the names made.

    For ``hailong copy-database``: every month the copied votes arrived in
    gets its partition before they are inserted, so none lands in the default.
    """
    if dialect(db) != "postgresql":
        return []
    have = {n for n, _ in existing(db)}
    made = []
    for text in months:
        month = dt.date(int(text[:4]), int(text[5:7]), 1)
        if name(month) not in have:
            _make(db, month)
            made.append(name(month))
            have.add(name(month))
    return made


def _make(db, month):
    lower, upper = month.strftime("%Y-%m"), _next(month).strftime("%Y-%m")
    part = name(month)
    with write_transaction(db):
        # The default partition's rows of this month move into the new one before it is attached.
        db.execute(f"CREATE TABLE {part} (LIKE votes INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        db.execute(f"ALTER TABLE votes DETACH PARTITION {DEFAULT}")
        db.execute(f"INSERT INTO {part} SELECT * FROM {DEFAULT} WHERE received_at >= ? AND received_at < ?",
                   [lower, upper])
        db.execute(f"DELETE FROM {DEFAULT} WHERE received_at >= ? AND received_at < ?", [lower, upper])
        db.execute(f"ALTER TABLE votes ATTACH PARTITION {part} FOR VALUES FROM ('{lower}') TO ('{upper}')")
        db.execute(f"ALTER TABLE votes ATTACH PARTITION {DEFAULT} DEFAULT")
