"""The schema as either backend holds it, in one form, so the two can be compared.

The migrations are written once and applied to both databases; this reads
back what each made: tables, columns (name, type, NOT NULL, default),
primary keys, unique constraints, foreign keys, the number of CHECK
constraints, and the named indexes. ``tests/test_schema_drift.py`` compares
a fresh SQLite and a fresh PostgreSQL and fails on any difference that
``ALLOWED`` does not list with its reason.

Types are compared by what they hold: SQLite's INTEGER and PostgreSQL's
BIGINT are both 64-bit integers (``int``), REAL and DOUBLE PRECISION both
doubles (``float``), TEXT ``text``, BLOB and BYTEA ``bytes``.
"""

import re

from server.storage import dialect

_TYPES = {
    "integer": "int", "bigint": "int", "int": "int",
    "real": "float", "double precision": "float",
    "text": "text",
    "blob": "bytes", "bytea": "bytes",
}

# What is meant to differ, and why (docs/scaling.md). Keyed by (table, what).
ALLOWED = {
    ("vote_keys", "table"): "PostgreSQL keeps the unique keys of partitioned votes here",
    ("votes", "primary_key"): "a partitioned table's key must include the partition key (received_at)",
    ("votes", "index:votes_id"): "votes by id alone, since the primary key is (id, received_at)",
}


def _type(declared):
    return _TYPES.get(declared.strip().lower(), declared.strip().lower())


def _default(value):
    if value is None:
        return None
    text = str(value)
    text = re.sub(r"::[a-z ]+$", "", text)  # PostgreSQL's '0'::bigint
    return text.strip("'\"") if text.startswith(("'", '"')) else text


def describe(db):
    """``{table: {"columns": ..., "primary_key": ..., "unique": ..., "foreign_keys": ..., "checks": n,
    "indexes": {name: (unique, columns)}}}`` for every table but the migrations' own."""
    read = _postgresql if dialect(db) == "postgresql" else _sqlite
    return {name: spec for name, spec in read(db).items() if name != "_sqlite_migrations"}


def differences(sqlite_schema, postgresql_schema):
    """The differences ``ALLOWED`` does not explain, as readable lines."""
    found = []
    for table in sorted(set(sqlite_schema) | set(postgresql_schema)):
        left, right = sqlite_schema.get(table), postgresql_schema.get(table)
        if left is None or right is None:
            if (table, "table") not in ALLOWED:
                found.append(f"{table}: only on {'PostgreSQL' if left is None else 'SQLite'}")
            continue
        for what in ("columns", "primary_key", "unique", "foreign_keys", "checks"):
            if left[what] != right[what] and (table, what) not in ALLOWED:
                found.append(f"{table}.{what}: SQLite {left[what]!r} != PostgreSQL {right[what]!r}")
        for name in sorted(set(left["indexes"]) | set(right["indexes"])):
            if left["indexes"].get(name) != right["indexes"].get(name) and (table, f"index:{name}") not in ALLOWED:
                found.append(f"{table} index {name}: SQLite {left['indexes'].get(name)!r}"
                             f" != PostgreSQL {right['indexes'].get(name)!r}")
    return found


def _sqlite(db):
    tables = {}
    for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"
                                " AND name NOT LIKE 'sqlite_%'").fetchall():
        columns = db.execute(f"PRAGMA table_info({name})").fetchall()
        spec = {
            "columns": {c[1]: (_type(c[2]), bool(c[3]) or bool(c[5]), _default(c[4])) for c in columns},
            "primary_key": tuple(c[1] for c in sorted(columns, key=lambda c: c[5]) if c[5]),
            "unique": set(),
            "foreign_keys": set(),
            "checks": len(re.findall(r"\bCHECK\s*\(", sql, re.I)),
            "indexes": {},
        }
        keys = {}
        for row in db.execute(f"PRAGMA foreign_key_list({name})").fetchall():
            keys.setdefault(row[0], []).append((row[3], row[2], row[4]))
        spec["foreign_keys"] = {(tuple(c for c, _, _ in k), k[0][1], tuple(t for _, _, t in k)) for k in keys.values()}
        for index in db.execute(f"PRAGMA index_list({name})").fetchall():
            index_name, unique, origin, partial = index[1], bool(index[2]), index[3], bool(index[4])
            cols = tuple(r[2] if r[2] is not None else "<expression>"
                         for r in db.execute(f"PRAGMA index_xinfo({index_name})").fetchall() if r[5])
            if origin == "u":
                spec["unique"].add(cols)
            elif origin == "c":
                spec["indexes"][index_name] = (unique, cols, partial)
        tables[name] = spec
    return tables


def _as_votes(tables):
    """Read PostgreSQL's vote keys as the votes' own: enforced there, they must be the ones SQLite has."""
    keys = tables.get("vote_keys")
    if keys and "votes" in tables:
        tables["votes"]["unique"] = set(keys["unique"])
    for spec in tables.values():
        spec["foreign_keys"] = {(cols, "votes" if target == "vote_keys" else target, ref)
                                for cols, target, ref in spec["foreign_keys"]}
    return tables


def _postgresql(db):
    tables = {}
    names = [r[0] for r in db.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition").fetchall()]
    for name in names:
        columns = db.execute(
            "SELECT column_name, data_type, is_nullable, column_default, is_identity FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position", [name]).fetchall()
        constraints = db.execute(
            "SELECT con.contype, con.conname, ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)"
            " JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),"
            " con.confrelid::regclass::text,"
            " ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)"
            " JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i)"
            " FROM pg_constraint con WHERE con.conrelid = ?::regclass", [name]).fetchall()
        primary = next((tuple(c[2]) for c in constraints if c[0] == "p"), ())
        spec = {
            "columns": {
                c[0]: (_type(c[1]), c[2] == "NO", None if c[4] == "YES" else _default(c[3])) for c in columns
            },
            "primary_key": primary,
            "unique": {tuple(c[2]) for c in constraints if c[0] == "u"},
            "foreign_keys": {(tuple(c[2]), c[3], tuple(c[4])) for c in constraints if c[0] == "f"},
            "checks": sum(1 for c in constraints if c[0] == "c"),
            "indexes": {},
        }
        # A single-column integer primary key: SQLite's table_info says NOT NULL only when declared so.
        for column in primary:
            kind, _, default = spec["columns"][column]
            spec["columns"][column] = (kind, True, default)
        constraint_names = {c[1] for c in constraints}
        for index_name, unique, keys, partial in db.execute(
            "SELECT ic.relname, i.indisunique, ARRAY(SELECT CASE WHEN k.n = 0 THEN '<expression>' ELSE a.attname END"
            " FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)"
            " LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o),"
            " i.indpred IS NOT NULL"
            " FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = ?::regclass", [name]
        ).fetchall():
            if index_name not in constraint_names:
                spec["indexes"][index_name] = (bool(unique), tuple(keys), bool(partial))
        tables[name] = spec
    return _as_votes(tables)
