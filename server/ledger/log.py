"""The stored Merkle trees: appending new rows, roots, proofs, and signed checkpoints.

Each tree grows from its source table in id order (``migrations/ledger.py``,
``TREES``), by the jobs process a few seconds behind the ingest (the log's
merge delay, as in Certificate Transparency): appending one leaf stores it
and the complete subtrees it closes, O(log n) hashes and O(1) on average,
never a rebuild. A chunk of ``LOG_CHUNK_LEAVES`` is one write transaction,
so the ingest waits for the write lock at most that long, and a crash loses
nothing (the next run continues after ``log_trees.last_row_id``). SQLite
gives ids in commit order, so no row can appear later below one already
appended. PostgreSQL does not: a sequence value taken by a transaction that
commits late can land below rows already appended. So there the appender
reads only up to ``order.settled_max_id`` (server/storage/order.py: every
insert into a source table holds a shared lock the bound takes exclusively),
and a row committed late is appended by the next run, in id order, never
skipped (``store.append_bound``).

Only complete subtrees are stored; the nodes along the right edge of a tree
whose size is not a power of two are computed from them when asked for.
"""

import bisect
import datetime as dt

from server.ledger import checkpoints as notes
from server.ledger import keys, leaves, merkle
from server.storage import timestamp, write_transaction
from server.storage import ledger as store

TRIGGERS = ("schedule", "manual", "export")
DEFAULT_CHUNK = 5_000


class LogError(LookupError):
    """A proof or node asked for outside the tree as stored."""


def trees():
    return tuple(leaves.TREES)


def _check_tree(tree):
    if tree not in leaves.TREES:
        raise LogError(f"no such tree: {tree!r} (one of {', '.join(leaves.TREES)})")


def catch_up(db, tree, limit=None, chunk=DEFAULT_CHUNK, now=None):
    """Append the source rows after the tree's last one, in id order; returns how many.

    One write transaction per ``chunk`` rows; each starts from the tree as
    stored (size, last row, the complete subtrees along its right edge), so
    two processes catching up at once only take turns. On PostgreSQL it
    reads no row above the bound taken before the first chunk
    (``store.append_bound``): rows after it wait for the next run.
    """
    _check_tree(tree)
    make = leaves.TREES[tree]
    leaf_hash, node_hash = merkle.leaf_hash, merkle.node_hash
    done = 0
    bound = store.append_bound(db, tree)
    while limit is None or done < limit:
        want = chunk if limit is None else min(chunk, limit - done)
        with write_transaction(db):
            state = store.tree_for_append(db, tree)
            rows = store.source_rows_after(db, tree, state["last_row_id"], want, up_to=bound)
            if not rows:
                break
            size = state["size"]
            frontier = _frontier(db, tree, size)
            new_leaves, new_nodes = [], []
            for row in rows:
                digest = leaf_hash(make(row))
                new_leaves.append((size, row["id"], digest))
                # The new leaf closes one complete subtree per trailing 1 bit of its index.
                idx, level = size, 0
                while idx & 1:
                    digest = node_hash(frontier.pop(), digest)
                    idx >>= 1
                    level += 1
                    new_nodes.append((level, idx, digest))
                frontier.append(digest)
                size += 1
            store.append(db, tree, new_leaves, new_nodes, size, rows[-1]["id"], _fold(frontier),
                         timestamp(now))
        done += len(rows)
        if len(rows) < want:
            break
    return done


def _frontier(db, tree, size):
    """The complete subtrees along the right edge of a tree of ``size``, largest first (one per 1 bit)."""
    hashes = []
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            digest = store.stored_hash(db, tree, level, (size >> level) - 1)
            if digest is None:
                raise LogError(f"the {tree} tree of size {size} is missing its node at level {level}")
            hashes.append(digest)
    return hashes


def _fold(frontier):
    if not frontier:
        return merkle.EMPTY_ROOT
    digest = frontier[-1]
    for left in reversed(frontier[:-1]):
        digest = merkle.node_hash(left, digest)
    return digest


def tree_state(db, tree):
    """``{"size", "root", "last_row_id"}`` of the tree as stored."""
    _check_tree(tree)
    row = store.tree(db, tree)
    return {"size": row["size"], "root": bytes(row["root"]), "last_row_id": row["last_row_id"]}


def node(db, tree, start, end):
    """MTH(D[start:end]): a stored complete subtree, or computed from them (right-edge nodes)."""
    if not 0 <= start < end:
        raise LogError(f"no node [{start}, {end})")
    if merkle.is_perfect(start, end):
        level = (end - start).bit_length() - 1
        digest = store.stored_hash(db, tree, level, start >> level)
        if digest is None:
            raise LogError(f"the {tree} tree has no node [{start}, {end}) yet")
        return bytes(digest)
    mid = start + merkle.split(end - start)
    return merkle.node_hash(node(db, tree, start, mid), node(db, tree, mid, end))


def _size_ok(db, tree, size):
    stored = tree_state(db, tree)["size"]
    if not 0 <= size <= stored:
        raise LogError(f"the {tree} tree has {stored} leaves, not {size}")


def root(db, tree, size):
    """The root of the tree's first ``size`` leaves."""
    _size_ok(db, tree, size)
    return node(db, tree, 0, size) if size else merkle.EMPTY_ROOT


def inclusion(db, tree, index, size):
    """PATH(index, D[size]): the inclusion proof of leaf ``index`` in the tree's first ``size`` leaves."""
    _size_ok(db, tree, size)
    if not 0 <= index < size:
        raise LogError(f"leaf {index} is not in the {tree} tree of size {size}")
    return merkle.inclusion_proof(lambda start, end: node(db, tree, start, end), index, size)


def consistency(db, tree, m, n):
    """PROOF(m, D[n]): the tree of size ``m`` is a prefix of the one of size ``n``."""
    _size_ok(db, tree, n)
    if not 0 <= m <= n:
        raise LogError(f"no consistency proof from size {m} to size {n}")
    return merkle.consistency_proof(lambda start, end: node(db, tree, start, end), m, n)


def leaf_of_row(db, tree, row_id):
    """``{"index", "hash"}`` of the leaf made from source row ``row_id``, or None (not appended yet)."""
    row = store.leaf_of_row(db, tree, row_id)
    return row and {"index": row["index"], "hash": bytes(row["hash"])}


# A complete subtree of SMALLEST_BLOCK to BLOCK leaves that are all exported (a dense export) is listed from
# one read per level instead of node by node: 0.7 µs a node instead of ~3 on the bench machine.
BLOCK = 4096
SMALLEST_BLOCK = 32


def proof_nodes(db, tree, indices, size, block=BLOCK):
    """The union of the audit paths of the leaves ``indices`` in the tree of ``size``: ``(start, end, hash)``.

    Sorted by start ascending, end descending, each once. ``indices`` is
    ascending and may hold millions (an export's rows): a list or range is
    searched in place, any other iterable is first copied into a temporary
    table (``store.scratch_indices``), so memory stays flat. Stored hashes are
    read a range at a time per level; a block of ``block`` leaves that are
    all indices (a dense export) is listed from one read per level.
    """
    _size_ok(db, tree, size)
    if isinstance(indices, (list, tuple, range)):
        yield from _proof_nodes(db, tree, _Sorted(indices), size, block)
        return
    scratch = store.scratch_indices(db, indices)
    try:
        yield from _proof_nodes(db, tree, _Window(db, scratch), size, block)
    finally:
        store.drop_scratch(db, scratch)


def _proof_nodes(db, tree, source, size, block):
    levels = _LevelReader(db, tree)
    for start, end, below in merkle.proof_walk(source, size, block, min(SMALLEST_BLOCK, block)):
        if below:
            yield from _block_nodes(db, tree, start, end)
        elif merkle.is_perfect(start, end):
            level = (end - start).bit_length() - 1
            yield start, end, levels.get(level, start >> level)
        else:
            yield start, end, node(db, tree, start, end)


def _block_nodes(db, tree, start, end):
    """Every node below the complete subtree ``[start, end)``, in pre-order, from one read per level."""
    pattern = merkle.block_pattern(end - start)
    top = (end - start).bit_length() - 1
    hashes = []
    for level in range(top):
        rows = store.stored_hashes(db, tree, level, start >> level, ((end) >> level) - 1)
        if len(rows) != (end - start) >> level:
            raise LogError(f"the {tree} tree is missing stored nodes in [{start}, {end}) at level {level}")
        hashes.append([bytes(digest) for _, digest in rows])
    for offset, stop, level in pattern:
        yield start + offset, start + stop, hashes[level][offset >> level]


class _Sorted:
    """A list or range of ascending indices as ``merkle.proof_walk``'s source."""

    def __init__(self, indices):
        self._items, self._pos = indices, 0
        self.head = indices[0] if len(indices) else None

    def advance(self):
        self._pos += 1
        self.head = self._items[self._pos] if self._pos < len(self._items) else None

    def successor(self, x):
        at = bisect.bisect_left(self._items, x, self._pos)
        return self._items[at] if at < len(self._items) else None

    def covered(self, start, end):
        last = self._pos + (end - start) - 1
        return self.head == start and last < len(self._items) and self._items[last] == end - 1

    def skip(self, end):
        self._pos = bisect.bisect_left(self._items, end, self._pos)
        self.head = self._items[self._pos] if self._pos < len(self._items) else None


class _Window:
    """Indices in a temporary table, read ahead in batches so that most questions ("the first index >= x",
    "are all of [start, end) indices") are answered in memory; the rest are queries."""

    def __init__(self, db, scratch, ahead=2 * BLOCK):
        self._db, self._scratch, self._ahead = db, scratch, ahead
        self._buf, self._pos, self._after, self._done = [], 0, -1, False
        self._fill()
        self.head = self._buf[0] if self._buf else None

    def _fill(self):
        if self._pos:
            del self._buf[:self._pos]
            self._pos = 0
        while not self._done and len(self._buf) < 2 * self._ahead:
            batch = store.scratch_batch(self._db, self._scratch, self._after, 2 * self._ahead)
            self._buf.extend(batch)
            if len(batch) < 2 * self._ahead:
                self._done = True
            if batch:
                self._after = batch[-1]

    def _at(self, pos):
        """The item ``pos`` places after the head, reading more if needed; None past the end."""
        if self._pos + pos >= len(self._buf) and not self._done:
            self._fill()
        at = self._pos + pos
        return self._buf[at] if at < len(self._buf) else None

    def advance(self):
        self._pos += 1
        if len(self._buf) - self._pos < self._ahead:
            self._fill()
        self.head = self._buf[self._pos] if self._pos < len(self._buf) else None

    def successor(self, x):
        buf = self._buf
        if buf and buf[-1] >= x:
            return buf[bisect.bisect_left(buf, x, self._pos)]
        return None if self._done else store.scratch_successor(self._db, self._scratch, x)

    def covered(self, start, end):
        return self.head == start and self._at(end - start - 1) == end - 1

    def skip(self, end):
        while True:
            at = bisect.bisect_left(self._buf, end, self._pos)
            self._pos = at
            if at < len(self._buf) or self._done:
                break
            self._fill()
        if len(self._buf) - self._pos < self._ahead:
            self._fill()
        self.head = self._buf[self._pos] if self._pos < len(self._buf) else None


class _LevelReader:
    """Stored hashes of one tree, read as ranges per level: a walk asks each level in ascending order."""

    def __init__(self, db, tree):
        self._db, self._tree = db, tree
        self._cache = {}  # level -> (first idx, rows, span)

    def get(self, level, idx):
        first, rows, span = self._cache.get(level, (0, (), 1))
        offset = idx - first
        if not 0 <= offset < len(rows):
            # Contiguous asks (a dense export) double the range read, sparse ones start small.
            span = min(span * 2, 8192) if offset == len(rows) else 16
            first, rows = idx, store.stored_hashes(self._db, self._tree, level, idx, idx + span - 1)
            self._cache[level] = (first, rows, span)
            offset = 0
        if offset >= len(rows) or rows[offset][0] != idx:
            raise LogError(f"the {self._tree} tree has no stored node at level {level}, index {idx}")
        return bytes(rows[offset][1])


def latest_checkpoint(db, tree):
    _check_tree(tree)
    return store.latest_checkpoint(db, tree)


def checkpoints(db, tree, after_id=None, before_id=None, limit=100, newest_first=True):
    _check_tree(tree)
    return store.checkpoints(db, tree, after_id, before_id, limit, newest_first)


def checkpoint(db, checkpoint_id):
    return store.checkpoint(db, checkpoint_id)


def publish(db, settings, tree, trigger, now=None):
    """Catch the tree up, sign a checkpoint of it with the server's key, store it; returns the stored row."""
    _check_tree(tree)
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {TRIGGERS}")
    key = keys.load_key(settings["INSTANCE"])
    catch_up(db, tree, chunk=settings["LOG_CHUNK_LEAVES"])
    moment = now or dt.datetime.now(dt.timezone.utc)
    at = notes.format_time(moment)
    name = settings["LOG_NAME"]
    with write_transaction(db):
        # What came in meanwhile, under the same lock (SQLite; on PostgreSQL nothing is appended inside a
        # transaction, store.append_bound: the checkpoint signs the tree as the first catch-up left it).
        catch_up(db, tree, chunk=settings["LOG_CHUNK_LEAVES"])
        state = tree_state(db, tree)
        note = notes.sign_note(key, name, tree, state["size"], state["root"], at)
        checkpoint_id = store.insert_checkpoint(db, {
            "tree": tree, "size": state["size"], "root": state["root"], "at": at,
            "key_id": keys.key_id(name, key).hex(), "note": note, "trigger": trigger,
        })
    return store.checkpoint(db, checkpoint_id)
