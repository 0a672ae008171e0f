"""The ingest bench's PostgreSQL half: a durable throwaway server, and what a vote costs it.

``bench/ingest.py`` runs the same steps against PostgreSQL after SQLite, in
the same run, so the two figures meet the same machine load: a server of
``devtools/postgres.Cluster`` in the work folder with ``durable=True``
(``fsync``, ``synchronous_commit`` and ``full_page_writes`` on, as a real
installation runs), the migrated schema with votes partitioned by month,
the same preload, tablets and timed run. Beside the votes per second it
measures what each vote costs the database server, which the web server's
CPU does not show: the PostgreSQL processes' CPU (every backend and the
background writers, read from ``/proc``), the WAL written (the WAL position
before and after, and ``pg_waldump --stats`` over that range for its records
and full-page images),
and the bytes each stored vote takes in ``votes`` (every monthly partition),
``vote_keys`` and their indexes. With ``--pg-statements`` the server loads
``pg_stat_statements`` and the run lists the statements that took the
database's time (it costs a little, so the figures of such a run are not
the ones to quote).
"""

import os
import re
import subprocess

from devtools import processes
from devtools.postgres import SUPERUSER, Cluster
from server import storage

DATABASE = "bench"
STATEMENTS_TOP = 12


def start(statements=False):
    """A durable PostgreSQL in a temporary folder of its own; returns ``(cluster, url of an empty database)``.

    Not in the bench's work folder: as root the server runs as the ``postgres``
    user, who may not enter it (pytest's temporary folders are private).
    """
    settings = {"max_connections": "300"}
    if statements:
        settings.update({"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all"})
    cluster = Cluster(durable=True, settings=settings).start()
    print(f"PostgreSQL {cluster.folder} (durable: fsync, synchronous_commit, full_page_writes on)")
    url = cluster.create_database(DATABASE)
    if statements:
        cluster.psql("CREATE EXTENSION pg_stat_statements", DATABASE)
    return cluster, url


def copy(cluster, name):
    """A copy of the bench database, nobody connected to it; returns its URL.

    ``STRATEGY FILE_COPY`` copies the files after a checkpoint instead of
    writing every page of a large database through the WAL (PostgreSQL 15's
    default for ``CREATE DATABASE``).
    """
    cluster.psql(f'CREATE DATABASE "{name}" TEMPLATE "{DATABASE}" STRATEGY FILE_COPY')
    return cluster.url(name)


def server_facts(url, cluster):
    """The server's version and the settings that decide a commit's cost."""
    db = storage.connect(url)
    try:
        names = ("server_version", "fsync", "synchronous_commit", "full_page_writes", "wal_level",
                 "shared_buffers", "max_wal_size", "checkpoint_timeout")
        return {**{name: db.execute("SELECT current_setting(?)", [name]).fetchone()[0] for name in names},
                "durable": cluster.durable}
    finally:
        db.close()


def cpu_seconds(cluster):
    """CPU of the whole PostgreSQL server so far: the postmaster, its live children, and the children it
    reaped (a backend whose connection closed counts in the postmaster's ``cutime``/``cstime``)."""
    postmaster = cluster.pid()
    ticks = 0
    for pid, fields in processes.proc_stats().items():
        if pid == postmaster:
            ticks += sum(int(f) for f in fields[11:15])
        elif int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class Meter:
    """What a timed run costs the database server: ``begin()`` before the clock, ``end(votes)`` after."""

    def __init__(self, cluster, url, statements=False):
        self.cluster, self.url, self.statements = cluster, url, statements

    def _lsn(self):
        db = storage.connect(self.url)
        try:
            return db.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
        finally:
            db.close()

    def begin(self):
        if self.statements:
            db = storage.connect(self.url)
            db.execute("SELECT pg_stat_statements_reset()")
            db.close()
        self.lsn = self._lsn()
        self.cpu = cpu_seconds(self.cluster)

    def end(self, votes):
        cpu = cpu_seconds(self.cluster) - self.cpu
        lsn = self._lsn()
        db = storage.connect(self.url)
        try:
            wal_bytes = db.execute("SELECT pg_wal_lsn_diff(?, ?)", [lsn, self.lsn]).fetchone()[0]
        finally:
            db.close()
        records, full_pages = wal_records(self.cluster, self.lsn, lsn)
        votes = max(votes, 1)
        figures = {
            "database_cpu_us_per_vote": round(1e6 * cpu / votes, 1),
            "wal_bytes_per_vote": round(int(wal_bytes) / votes),
            "wal_records_per_vote": round(records / votes, 2),
            "wal_full_page_image_bytes_per_vote": round(full_pages / votes),
        }
        if self.statements:
            figures["statements"] = top_statements(self.url)
        return figures


def wal_records(cluster, start, end):
    """``(records, bytes of full-page images)`` in the WAL between two positions (``pg_waldump --stats``)."""
    argv = [os.path.join(cluster.bin, "pg_waldump"), "--stats", "-p", os.path.join(cluster.data, "pg_wal"),
            "-s", start, "-e", end]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", SUPERUSER, "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True)
    total = re.search(r"^Total\s+(\d+)\s+(\d+)\s+\[[^]]*\]\s+(\d+)", done.stdout, re.M)
    if not total:
        return 0, 0
    return int(total.group(1)), int(total.group(3))


def top_statements(url, top=STATEMENTS_TOP):
    """The statements that took the database's time during the run (``pg_stat_statements``)."""
    db = storage.connect(url)
    try:
        rows = db.execute(
            "SELECT query, calls, total_exec_time, rows FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " ORDER BY total_exec_time DESC LIMIT ?", [top]).fetchall()
    finally:
        db.close()
    return [{"query": " ".join(q.split())[:160], "calls": calls, "total_ms": round(ms, 1),
             "us_per_call": round(1000 * ms / max(calls, 1), 1), "rows": n} for q, calls, ms, n in rows]


def storage_per_vote(url):
    """Rows and bytes per stored vote: ``votes`` (all partitions), ``vote_keys``, ``sync_batches``,
    each table and its indexes apart (``pg_table_size`` counts TOAST and the free-space and visibility maps)."""
    db = storage.connect(url)
    try:
        db.execute("VACUUM ANALYZE votes")  # the visibility and free-space maps as autovacuum would leave them
        db.execute("VACUUM ANALYZE vote_keys")
        (votes,) = db.execute("SELECT COUNT(*) FROM votes").fetchone()
        (partitions,) = db.execute("SELECT COUNT(*) FROM pg_partition_tree('votes') WHERE isleaf").fetchone()
        (indexes,) = db.execute("SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'votes'").fetchone()
        sizes = db.execute(
            "SELECT (SELECT SUM(pg_table_size(relid)) FROM pg_partition_tree('votes') WHERE isleaf),"
            " (SELECT SUM(pg_indexes_size(relid)) FROM pg_partition_tree('votes') WHERE isleaf),"
            " pg_table_size('vote_keys'), pg_indexes_size('vote_keys'),"
            " pg_table_size('sync_batches'), pg_indexes_size('sync_batches'), pg_database_size(current_database())"
        ).fetchone()
        (batches,) = db.execute("SELECT COUNT(*) FROM sync_batches").fetchone()
    finally:
        db.close()
    n = max(votes, 1)
    per = [round(int(size or 0) / n, 1) for size in sizes]
    return {
        "votes": votes, "partitions": partitions, "indexes_on_votes": indexes,
        "rows_per_vote": {"votes": 1, "vote_keys": 1, "sync_batches": round(batches / n, 3)},
        "bytes_per_vote": {
            "votes": per[0], "votes_indexes": per[1], "vote_keys": per[2], "vote_keys_indexes": per[3],
            "sync_batches_and_indexes": round(per[4] + per[5], 1),
            "total": round(sum(per[:6]), 1),
        },
        "database_bytes": int(sizes[6]),
    }


def sqlite_storage_per_vote(path):
    """The same for SQLite: bytes per vote of ``votes`` and its indexes (the ``dbstat`` table), and the file's."""
    db = storage.connect(path)
    try:
        (votes,) = db.execute("SELECT COUNT(*) FROM votes").fetchone()
        try:
            rows = db.execute(
                "SELECT s.name, m.type, SUM(s.pgsize) FROM dbstat s JOIN sqlite_master m ON m.name = s.name"
                " WHERE m.tbl_name = 'votes' GROUP BY s.name, m.type").fetchall()
        except storage.OperationalError:  # built without dbstat
            rows = []
        (page_count,) = db.execute("PRAGMA page_count").fetchone()
        (page_size,) = db.execute("PRAGMA page_size").fetchone()
    finally:
        db.close()
    n = max(votes, 1)
    table = sum(size for _, kind, size in rows if kind == "table")
    indexes = sum(size for _, kind, size in rows if kind == "index")
    return {
        "votes": votes, "indexes_on_votes": sum(1 for _, kind, _ in rows if kind == "index"),
        "bytes_per_vote": {"votes": round(table / n, 1), "votes_indexes": round(indexes / n, 1),
                           "total": round((table + indexes) / n, 1)},
        "database_bytes": page_count * page_size,
    }
