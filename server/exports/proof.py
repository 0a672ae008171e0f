"""proof.txt for rows that come in a few long runs of leaf indices, written a block of the tree at a time.

A bundle's proof.txt (docs/verify.md) lists, one ``start end base64hash``
line each, the union of the audit paths of every exported leaf, sorted by
start ascending, end descending: about two lines per row of an unfiltered or
period-filtered export, which is a handful of long runs of leaf indices.
Inside a run the union is simply every node below the complete subtrees the
run covers, so ``proof_text`` walks the tree node by node only above and
beside them; a covered complete subtree of up to ``2**BLOCK_LEVEL`` leaves
is written whole: each of its levels read with one range query as one blob
(server/storage/ledger_paths.py), base64 done for the block in one call, and
its lines laid out by a precomputed pre-order pattern. That is about a third
of the time per line of the node-by-node walk (``log.proof_nodes``), which
stays the path for scattered indices (a staff or device filter: many short
runs); both write the same lines (tests/test_export_speed.py).

The base64 of a block in one call: a 32-byte hash followed by one zero byte
is 33 bytes, eleven whole 3-byte groups, so its 44 characters do not depend
on its neighbours; the first 43 are the hash's own base64, and the 44th
(``A``, from the zero byte) stands where the hash alone has its ``=``.
"""

import binascii
import bisect
import functools
import hashlib
import tempfile
import threading

from server.ledger import log, merkle
from server.storage import ledger_paths

BLOCK_LEVEL = 12
# More runs than this (scattered indices) go node by node through log.proof_nodes: the walk here reads each
# node outside a covered block with a query of its own, fine for a few edges, not for millions.
MAX_RUNS = 1_000
FLUSH_CHARS = 1 << 20
_B64 = 44  # characters of a padded hash


class _Walk:
    def __init__(self, db, tree, runs, size, block_level):
        self.db, self.tree, self.size = db, tree, size
        self.starts = [start for start, _ in runs]
        self.ends = [end for _, end in runs]
        self.block = 1 << block_level
        self.parts, self.chars, self.lines = [], 0, 0

    def _touches(self, start, end):
        at = bisect.bisect_right(self.starts, end - 1) - 1
        return at >= 0 and self.ends[at] > start

    def _covers(self, start, end):
        at = bisect.bisect_right(self.starts, start) - 1
        return at >= 0 and self.ends[at] >= end

    def _add(self, text, lines):
        self.parts.append(text)
        self.chars += len(text)
        self.lines += lines

    def take(self):
        text, self.parts, self.chars = "".join(self.parts), [], 0
        return text

    def walk(self, start, end, wanted, descend):
        """Lines of node ``[start, end)`` (when ``wanted``) and of its subtree's part of the union, in order."""
        if wanted:
            digest = log.node(self.db, self.tree, start, end)
            self._add(f"{start} {end} {binascii.b2a_base64(digest, newline=False).decode('ascii')}\n", 1)
        width = end - start
        if not descend or width == 1:
            return
        if width <= self.block and merkle.is_perfect(start, end) and self._covers(start, end):
            self._add(*self._block(start, width.bit_length() - 1))
        else:
            mid = start + merkle.split(width)
            left, right = self._touches(start, mid), self._touches(mid, end)
            # A child is in the union when its sibling holds an index; its own subtree when it holds one itself.
            yield from self.walk(start, mid, right, left)
            yield from self.walk(mid, end, left, right)
        if self.chars >= FLUSH_CHARS:
            yield self.take()

    def _block(self, start, level):
        """``(text, lines)``: every node strictly inside the complete subtree of ``2**level`` leaves at ``start``."""
        blobs = []
        for below in range(level):
            first, count = start >> below, 1 << (level - below)
            blob = ledger_paths.padded_hashes(self.db, self.tree, below, first, first + count - 1)
            if len(blob) != count * (merkle.HASH_SIZE + 1):
                raise log.LogError(f"the {self.tree} tree is missing stored nodes at level {below} from index {first}")
            blobs.append(blob)
        text = binascii.b2a_base64(b"".join(blobs), newline=False).decode("ascii")
        numbers = list(map(str, range(start, start + (1 << level) + 1)))
        starts, ends, at = _pattern(level)
        lines = [f"{numbers[a]} {numbers[b]} {text[p:p + 43]}=\n" for a, b, p in zip(starts, ends, at)]
        return "".join(lines), len(lines)


@functools.lru_cache(maxsize=None)
def _pattern(level):
    """The nodes strictly inside a complete subtree of ``2**level`` leaves, in pre-order (start ascending, end
    descending): their start and end offsets, and where each one's hash is in the block's base64 text (the
    levels' blobs one after the other, leaves first)."""
    base, offset = [], 0
    for below in range(level):
        base.append(offset)
        offset += 1 << (level - below)
    starts, ends, at = [], [], []
    stack = [(level - 1, 1), (level - 1, 0)] if level else []
    while stack:
        below, j = stack.pop()
        starts.append(j << below)
        ends.append((j + 1) << below)
        at.append((base[below] + j) * _B64)
        if below:
            stack.append((below - 1, 2 * j + 1))
            stack.append((below - 1, 2 * j))
    return tuple(starts), tuple(ends), tuple(at)


def proof_text(db, tree, runs, size, block_level=None):
    """proof.txt's lines for the leaf indices in ``runs`` (ascending, disjoint ``(start, end)`` pairs) in the tree
    of ``size``: yields text a megabyte or so at a time; returns the number of lines.

    The same lines, in the same order, as ``log.proof_nodes`` of those indices.
    """
    stored = log.tree_state(db, tree)["size"]
    if not 0 <= size <= stored:
        raise log.LogError(f"the {tree} tree has {stored} leaves, not {size}")
    previous = 0
    for start, end in runs:
        if not previous <= start < end <= size:
            raise ValueError(f"runs of leaf indices must be ascending, disjoint and below {size}: {runs[:5]}…")
        previous = end
    walk = _Walk(db, tree, runs, size, BLOCK_LEVEL if block_level is None else block_level)
    if size > 1 and runs:
        yield from walk.walk(0, size, False, True)
    if walk.parts:
        yield walk.take()
    return walk.lines


class Ahead:
    """proof.txt written beforehand, in a thread on a connection of its own, into a temporary file.

    For an export that takes every row under its checkpoint (no filter), the
    leaf indices are known before the rows are read: ``[0, size)``. SQLite
    releases the GIL while it writes the CSV, so on a machine with two cores
    the proof costs the export little wall time. ``open_db()`` makes the
    thread's connection (closed by it). ``wait()`` returns ``(lines, sha256
    hex, bytes)`` once done, raising what the thread raised; ``copy_to(out)``
    copies the file a block at a time (a generator); ``close()`` stops the
    thread if it still runs and removes the file.
    """

    BLOCK = 1 << 20

    def __init__(self, open_db, tree, runs, size):
        self._file = tempfile.TemporaryFile()
        self._sha, self._bytes, self._lines, self._error = hashlib.sha256(), 0, None, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write, args=(open_db, tree, runs, size), daemon=True,
                                        name="hailong-proof-ahead")
        self._thread.start()

    def _write(self, open_db, tree, runs, size):
        try:
            db = open_db()
            try:
                pieces = proof_text(db, tree, runs, size)
                while not self._stop.is_set():
                    try:
                        text = next(pieces)
                    except StopIteration as done:
                        self._lines = done.value
                        break
                    data = text.encode("ascii")
                    self._sha.update(data)
                    self._bytes += len(data)
                    self._file.write(data)
            finally:
                db.close()
        except BaseException as error:  # handed to the exporting thread by wait()
            self._error = error

    def wait(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._lines is None:
            raise RuntimeError("the proof was stopped before it was written")
        return self._lines, self._sha.hexdigest(), self._bytes

    def copy_to(self, out):
        self._file.seek(0)
        while True:
            block = self._file.read(self.BLOCK)
            if not block:
                return
            out.write(block)
            yield None

    def close(self):
        self._stop.set()
        self._thread.join()
        self._file.close()
