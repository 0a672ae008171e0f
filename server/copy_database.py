"""Moving an installation from SQLite to PostgreSQL: ``hailong copy-database --to postgresql://...``.

The target is migrated first (so its schema is this version's), must hold
nothing but what migrating put there, and gets every table of the SQLite
database in foreign-key order, ids kept, in one transaction: a copy that
fails half way leaves the target as empty as it was. Votes go through the
``votes`` table, so ``vote_keys`` fills as it does for the ingest, and each
month the votes arrived in gets its partition before they go in. Then the
identity sequences move past the copied ids and partitions are made ahead.

Nothing is trusted without a check: the row count of every table must be the
same on both sides, each Merkle tree's root recomputed on the target from its
rows (the leaves' bytes, ``server/ledger/leaves.py``) must be the root the
SQLite database stored, and each tree's latest signed checkpoint must hold on
the target (its root at its size, its signature with INSTANCE/log-key).
"""

import os

from migrations import migrations
from migrations.postgres import reset_identities
from server import storage
from server.ledger import checkpoints as notes
from server.ledger import keys, leaves, log, merkle
from server.storage import copying, partitions, write_transaction
from server.storage import ledger as ledger_store

BATCH = 2_000
PROGRESS_EVERY = 100_000  # rows between progress lines of a big table


class CopyError(Exception):
    """Why the copy was refused or does not verify, in one line."""


def copy_to_postgresql(settings, to, say=print, batch=BATCH):
    """Copy the instance's SQLite database (``settings["DATABASE"]``) into the PostgreSQL database ``to``.

    Returns ``[(table, rows in SQLite, rows in PostgreSQL)]``; raises
    ``CopyError`` when refused or when the copy does not verify. ``say``
    gets the progress lines.
    """
    source_path = settings["DATABASE"]
    if storage.is_postgresql(source_path):
        raise CopyError(f"this instance's database is already PostgreSQL ({storage.describe(source_path)}):"
                        " copy-database moves a SQLite installation into PostgreSQL")
    if not storage.is_postgresql(to):
        raise CopyError(f"--to must be a postgresql:// URL, not {storage.describe(to)!r}")
    if not os.path.isfile(source_path):
        raise CopyError(f"there is no SQLite database at {source_path}")
    source = storage.connect(source_path, settings["BUSY_TIMEOUT_MS"])
    try:
        if migrations.pending(source):
            raise CopyError(f"the SQLite database {source_path} is not up to date: run `hailong migrate` first")
        target = _connect(to)
        try:
            return _copy(settings, source, target, to, say, batch)
        finally:
            target.close()
    finally:
        source.close()


def _connect(url):
    try:
        return storage.connect(url)
    except storage.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise CopyError(f"cannot open {storage.describe(url)}: {reason}") from None


def _copy(settings, source, target, to, say, batch):
    where = storage.describe(to)
    seeded = _seeded()
    _refuse_unless_empty(target, set(copying.target_tables(target)), seeded, where)  # before migrating it
    say(f"Migrating {where} ...")
    migrations.apply(target)
    tables = copying.source_tables(source)
    there = set(copying.target_tables(target))
    missing = [table for table in tables if table not in there]
    if missing:
        raise CopyError(f"{where} has no table {missing[0]} after migrating: is it another program's database?")
    order = _foreign_key_order(source, tables)
    with copying.snapshot(source):
        counts = {table: copying.count(source, table) for table in tables}
        states = {tree: log.tree_state(source, tree) for tree in log.trees()}
        say(f"Copying {len(order)} tables ({sum(counts.values()):,} rows) from {settings['DATABASE']} to {where},"
            " in one transaction ...")
        with write_transaction(target):
            for table in order:
                if seeded.get(table):
                    copying.clear(target, table)  # migrating's seed rows: the source has its own
            made = partitions.make_months(target, copying.vote_months(source))
            if made:
                say(f"  made the vote partitions {', '.join(made)}")
            for table in order:
                _copy_table(source, target, table, counts[table], say, batch)
            reset_identities(target)
    made = partitions.ensure(target)
    if made:
        say(f"  made the vote partitions ahead: {', '.join(made)}")
    say("Verifying ...")
    table = _verify_counts(target, order, counts, where)
    for line in _verify_log(settings, target, states):
        say(f"  {line}")
    return table


def _seeded():
    """Rows each table holds right after migrating (a few seed rows: the default scale, opening hours, trees)."""
    db = storage.connect(":memory:")
    try:
        migrations.apply(db)
        return {table: copying.count(db, table) for table in copying.source_tables(db)}
    finally:
        db.close()


def _refuse_unless_empty(target, tables, seeded, where):
    for table in sorted(tables - {copying.MIGRATIONS_TABLE}):
        rows = copying.count(target, table)
        if rows > seeded.get(table, 0):
            raise CopyError(f"{where} is not empty ({table} has {rows:,} rows): copy-database copies only into"
                            " an empty database")


def _foreign_key_order(source, tables):
    """``tables`` with every table after the ones its foreign keys point at (alphabetical among equals)."""
    pending = {table: set(copying.references(source, table)) - {table} for table in tables}
    order = []
    while pending:
        ready = sorted(table for table, needs in pending.items() if not needs - set(order))
        if not ready:
            raise CopyError(f"the foreign keys of {', '.join(sorted(pending))} form a cycle")
        order.extend(ready)
        for table in ready:
            del pending[table]
    return order


def _copy_table(source, target, table, total, say, batch):
    names = copying.columns(source, table)
    done, shown = 0, 0
    chunks = copying.batches(source, table, names, batch)
    link = copying.self_reference(source, table)
    if link:  # a tree (units under units): parents first, whatever their ids
        chunks = _in_batches(_parents_first([row for chunk in chunks for row in chunk], names, link), batch)
    for rows in chunks:
        copying.insert(target, table, names, rows)
        done += len(rows)
        if done - shown >= PROGRESS_EVERY and done < total:
            say(f"  {table}: {done:,} of {total:,} rows ...")
            shown = done
    say(f"  {table}: {done:,} rows")


def _parents_first(rows, names, link):
    column, parent_column = link
    child, key = names.index(column), names.index(parent_column)
    placed, order, waiting = set(), [], rows
    while waiting:
        ready = [row for row in waiting if row[child] is None or row[child] in placed]
        if not ready:
            raise CopyError(f"{len(waiting)} rows whose {column} leads nowhere or in a circle")
        order.extend(ready)
        placed.update(row[key] for row in ready)
        waiting = [row for row in waiting if not (row[child] is None or row[child] in placed)
                   or row[key] not in placed]
    return order


def _in_batches(rows, size):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _verify_counts(target, order, counts, where):
    table = [(name, counts[name], copying.count(target, name)) for name in order]
    table.append(("vote_keys", counts.get("votes", 0), copying.count(target, "vote_keys")))
    wrong = [(name, was, now) for name, was, now in table if was != now]
    if wrong:
        name, was, now = wrong[0]
        raise CopyError(f"the copy does not verify: {name} has {was:,} rows in SQLite and {now:,} in {where}"
                        " (the target keeps what was copied: drop it, make an empty database, copy again)")
    return table


def _verify_log(settings, target, states):
    """Each tree's root recomputed on the target from its rows, and its latest checkpoint; lines saying so."""
    try:
        key = keys.load_key(settings["INSTANCE"])
    except keys.KeyFileError:
        key = None
    lines = []
    for tree, state in states.items():
        size, root = _root_from_rows(target, tree, state["last_row_id"])
        if (size, root) != (state["size"], state["root"]):
            raise CopyError(f"the copy does not verify: the {tree} log's root recomputed from the copied rows"
                            f" ({size:,} leaves) is not the root SQLite stored ({state['size']:,} leaves)")
        line = f"{tree} log: {size:,} leaves, root recomputed from the copied rows = the stored root"
        latest = log.latest_checkpoint(target, tree)
        if latest is not None:
            note = notes.parse_note(latest["note"])
            if (log.root(target, tree, latest["size"]) != bytes(latest["root"])
                    or (note["size"], note["root"]) != (latest["size"], bytes(latest["root"]))):
                raise CopyError(f"the copy does not verify: the {tree} log's root at checkpoint {latest['id']}'s"
                                " size is not the root it signed")
            if key is not None and not notes.verify_note(latest["note"], key):
                raise CopyError(f"the {tree} log's checkpoint {latest['id']} is not signed by INSTANCE/log-key")
            line += (f"; checkpoint {latest['id']} ({latest['size']:,} leaves) holds"
                     + (", its signature too" if key is not None else " (signature not checked: no INSTANCE/log-key)"))
        lines.append(line)
    return lines


def _root_from_rows(db, tree, last_row_id, chunk=5_000):
    """``(leaves, root)`` of the tree made afresh from its source rows up to ``last_row_id``, as appended."""
    make = leaves.TREES[tree]
    frontier, size, after = [], 0, 0
    while after < last_row_id:
        rows = ledger_store.source_rows_after(db, tree, after, chunk)
        rows = [row for row in rows if row["id"] <= last_row_id]
        if not rows:
            break
        for row in rows:
            digest, index = merkle.leaf_hash(make(row)), size
            while index & 1:  # the new leaf closes one complete subtree per trailing 1 bit of its index
                digest = merkle.node_hash(frontier.pop(), digest)
                index >>= 1
            frontier.append(digest)
            size += 1
        after = rows[-1]["id"]
    if not frontier:
        return size, merkle.EMPTY_ROOT
    digest = frontier[-1]
    for left in reversed(frontier[:-1]):
        digest = merkle.node_hash(left, digest)
    return size, digest
