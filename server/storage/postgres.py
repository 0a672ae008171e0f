"""PostgreSQL behind the same small interface the storage layer uses on SQLite.

Every storage function takes ``db`` and calls ``db.execute(sql, params)``
with ``?`` placeholders, reads ``cursor.description`` / ``fetchall()`` /
``fetchone()``, and opens transactions through ``storage.write_transaction``
(which looks at ``db.conn.in_transaction`` and issues ``BEGIN``/``SAVEPOINT``
itself). ``Database`` here offers exactly that over a psycopg 3 connection,
so one body of SQL serves both backends:

- ``?`` becomes ``%s`` (and a literal ``%`` becomes ``%%``), outside quotes;
- SQLite's DDL words become PostgreSQL's (``INTEGER`` is 64-bit ``BIGINT``
  as in SQLite, ``REAL`` is ``DOUBLE PRECISION``, ``BLOB`` is ``BYTEA``, an
  integer primary key is an identity column, ``WITHOUT ROWID`` goes);
- the handful of SQLite functions the queries use (``date``, ``strftime``,
  ``group_concat``, ``instr``; ``ifnull`` is read as ``COALESCE``) exist in the database
  as SQL functions made by ``migrations/postgres.py``;
- ``numeric`` results (``sum`` of integers, ``avg``) come back as ``int``
  or ``float``, as SQLite returns them, never ``Decimal``.

The connection runs in autocommit mode: a statement outside
``write_transaction`` commits on its own, as on SQLite with
``isolation_level=None``.
"""

import functools
import itertools
import re

import psycopg
from psycopg.adapt import Loader

DIALECT = "postgresql"
_streams = itertools.count(1)


def is_url(target):
    return str(target).startswith(("postgresql://", "postgres://"))


def without_password(url):
    """``url`` with any password replaced by ``***``, for messages and logs."""
    return re.sub(r"^(postgres(?:ql)?://[^:/@]*):[^@]*@", r"\1:***@", str(url))


class _NumericLoader(Loader):
    """``numeric`` as SQLite would give it: ``int`` when whole, else ``float``."""

    def load(self, data):
        text = bytes(data).decode()
        if text in ("NaN", "Infinity", "-Infinity"):
            return float(text)
        if "." in text or "e" in text.lower():
            value = float(text)
            return value
        return int(text)


class Cursor(psycopg.Cursor):
    """A psycopg cursor that also answers ``lastrowid`` as sqlite3's does after an INSERT.

    Every integer key is an identity column, so the id just given out is the
    session's ``lastval()`` (for a vote: its ``vote_keys`` id, which is the
    vote's). Asked only when read; new code says ``RETURNING id`` instead.
    """

    @property
    def lastrowid(self):
        try:
            return self.connection.execute("SELECT lastval()").fetchone()[0]
        except psycopg.errors.ObjectNotInPrerequisiteState:
            return None


def _open(url, **kwargs):
    conn = psycopg.connect(url, autocommit=True, **kwargs)
    prepare(conn)
    return conn


def prepare(conn):
    """Settings every connection of ours has: UTC, and numerics as SQLite returns them."""
    conn.cursor_factory = Cursor
    conn.adapters.register_loader("numeric", _NumericLoader)
    conn.execute("SET TIME ZONE 'UTC'")


def connect(url):
    """A ``Database`` over a new connection (CLI commands, jobs, tests)."""
    return Database(_open(url))


def pool(url, size):
    """A psycopg_pool ``ConnectionPool`` of our connections (web workers: server/db.py)."""
    from psycopg_pool import ConnectionPool

    return ConnectionPool(
        url, min_size=1, max_size=max(1, size), open=True, kwargs={"autocommit": True},
        configure=prepare, check=ConnectionPool.check_connection, reset=_reset, name="hailong",
    )


def _reset(raw):
    if raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raw.execute("ROLLBACK")


def lend(pool):
    """A ``Database`` over a pooled connection; ``close()`` gives it back."""
    raw = pool.getconn()
    return Database(raw, release=pool.putconn)


class _Conn:
    """What ``write_transaction`` and ``close_db`` need of ``db.conn``."""

    def __init__(self, raw):
        self.raw = raw

    @property
    def in_transaction(self):
        status = self.raw.info.transaction_status
        return status in (psycopg.pq.TransactionStatus.INTRANS, psycopg.pq.TransactionStatus.INERROR)

    def execute(self, sql, params=()):
        return self.raw.execute(translate(sql), _params(params))

    def executemany(self, sql, rows):
        """sqlite3's ``executemany``: psycopg pipelines the rows (one round trip per batch, not per row)."""
        cursor = self.raw.cursor()
        cursor.executemany(translate(sql), [_params(row) for row in rows])
        return cursor

    def close(self):
        self.raw.close()


class Database:
    """The part of ``sqlite_utils.Database`` the storage layer uses, over PostgreSQL."""

    dialect = DIALECT

    def __init__(self, raw, release=None):
        self.conn = _Conn(raw)
        self._release = release

    def execute(self, sql, params=()):
        cursor = self.conn.raw.cursor()
        cursor.execute(translate(sql), _params(params))
        return cursor

    def stream(self, sql, params=(), size=5_000):
        """The rows of a large result a chunk at a time, from a server-side cursor (an ordinary psycopg
        cursor takes the whole result into memory at execute).

        Declared ``WITH HOLD``, so it needs no transaction left open while the
        caller is slow (an export streamed to a client): PostgreSQL keeps the
        result on its side, and the cursor is closed when the rows are read or
        the generator is dropped.
        """
        with self.conn.raw.cursor(name=f"hailong_stream_{next(_streams)}", withhold=True) as cursor:
            cursor.itersize = size
            cursor.execute(translate(sql), _params(params))
            while True:
                rows = cursor.fetchmany(size)
                if not rows:
                    return
                yield from rows

    def executescript(self, script):
        for statement in _statements(script):
            self.execute(statement)

    def table_names(self):
        return [row[0] for row in self.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
            " ORDER BY c.relname").fetchall()]

    def __getitem__(self, name):
        return _Table(self, name)

    def close(self):
        if self._release is not None:
            release, self._release = self._release, None
            release(self.conn.raw)
        else:
            self.conn.raw.close()


class _Table:
    """``db[name].get(pk)``, ``.count``, ``.rows``, ``.exists()``: the few reads tests use."""

    def __init__(self, db, name):
        self.db, self.name = db, name

    def exists(self):
        return self.name in self.db.table_names()

    @property
    def count(self):
        return self.db.execute(f'SELECT COUNT(*) FROM "{self.name}"').fetchone()[0]

    @property
    def rows(self):
        cursor = self.db.execute(f'SELECT * FROM "{self.name}"')
        names = [c[0] for c in cursor.description]
        return (dict(zip(names, row)) for row in cursor.fetchall())

    def get(self, pk):
        key = self.db.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
            " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = ?::regclass AND i.indisprimary",
            [self.name]).fetchone()[0]
        cursor = self.db.execute(f'SELECT * FROM "{self.name}" WHERE "{key}" = ?', [pk])
        row = cursor.fetchone()
        if row is None:
            import sqlite_utils

            raise sqlite_utils.db.NotFoundError
        return dict(zip([c[0] for c in cursor.description], row))


def _params(params):
    # Always a sequence, never None: psycopg then reads ``%%`` as ``%`` every time, as translate() wrote it.
    if not params:
        return []
    if isinstance(params, dict):
        return params
    return [bytes(p) if isinstance(p, memoryview) else p for p in params]


def _statements(script):
    return [s.strip() for s in script.split(";") if s.strip()]


_TOKEN = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|--[^\n]*|\?|%")


@functools.lru_cache(maxsize=4096)
def translate(sql):
    """SQLite's SQL as PostgreSQL reads it: placeholders, then DDL words for DDL."""
    def swap(match):
        text = match.group(0)
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        # psycopg reads ``%`` everywhere, inside quotes too; ``?`` only counts outside them.
        return text.replace("%", "%%")

    out = _IFNULL.sub("COALESCE(", _TOKEN.sub(swap, sql))
    head = out.lstrip()[:12].upper()
    if head.startswith(("CREATE", "ALTER")):
        out = ddl(out)
    elif head.startswith("BEGIN"):
        out = "BEGIN"
    return out


_IFNULL = re.compile(r"\bIFNULL\(", re.I)

_DDL = [
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.I),
     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY(?=\s+REFERENCES)", re.I), "BIGINT PRIMARY KEY"),
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\b", re.I), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
    (re.compile(r"\)\s*WITHOUT\s+ROWID\s*$", re.I), ")"),
    (re.compile(r"CREATE\s+TRIGGER\s+(\w+)\s+BEFORE\s+(UPDATE|DELETE)\s+ON\s+(\w+)\s+BEGIN\s+SELECT\s+"
                r"RAISE\(ABORT,\s*('[^']*')\);\s*END", re.I),
     r"CREATE TRIGGER \1 BEFORE \2 ON \3 FOR EACH ROW EXECUTE FUNCTION hailong_refuse(\4)"),
    # Votes are partitioned on PostgreSQL; what refers to a vote refers to its key (migrations/postgres.py).
    (re.compile(r"\bREFERENCES\s+votes\s*\(\s*id\s*\)", re.I), "REFERENCES vote_keys(id)"),
]


def ddl(sql):
    for pattern, replacement in _DDL:
        sql = pattern.sub(replacement, sql)
    return sql
