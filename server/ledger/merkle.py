"""RFC 6962 / RFC 9162 §2.1 Merkle trees, pure: hashes, proofs and their verification, no I/O.

A node is named by the leaf range ``[start, end)`` it covers; proofs are built
over a ``node(start, end) -> bytes`` callback, so the same code serves the
stored tree (``server/ledger/log.py``) and a list of leaves in memory (tests).
The proofs are RFC 9162's PATH (§2.1.3.1) and PROOF (§2.1.4.1); the
verifications follow §2.1.3.2 and §2.1.4.2, with the edge cases of
transparency-dev/merkle (every hash is 32 bytes; equal sizes need an empty
proof and equal roots; an empty tree is a prefix of every tree, with an empty
proof).
"""

import hashlib
import hmac

EMPTY_ROOT = hashlib.sha256(b"").digest()
HASH_SIZE = 32


def leaf_hash(data):
    """SHA-256(0x00 || data): the hash of one leaf."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n):
    """The largest power of two smaller than ``n`` (n >= 2): where MTH splits D[0:n]."""
    return 1 << ((n - 1).bit_length() - 1)


def is_perfect(start, end):
    """True when ``[start, end)`` is a complete subtree: 2**level leaves starting at a multiple of 2**level."""
    width = end - start
    return width > 0 and width & (width - 1) == 0 and start % width == 0


def root_from_leaves(hashes):
    """MTH of a list of leaf hashes (in memory; for tests and small trees)."""
    if not hashes:
        return EMPTY_ROOT

    def mth(start, end):
        if end - start == 1:
            return hashes[start]
        mid = start + split(end - start)
        return node_hash(mth(start, mid), mth(mid, end))

    return mth(0, len(hashes))


def audit_path_ranges(index, size):
    """The ranges PATH(index, D[size]) is made of, leaf to root (RFC 9162 §2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    ranges = []
    start, end = 0, size
    while end - start > 1:
        mid = start + split(end - start)
        if index < mid:
            ranges.append((mid, end))
            end = mid
        else:
            ranges.append((start, mid))
            start = mid
    ranges.reverse()
    return ranges


def consistency_ranges(m, n):
    """The ranges PROOF(m, D[n]) is made of, in proof order (RFC 9162 §2.1.4.1).

    Empty when ``m`` is 0 or equals ``n``: nothing needs proving.
    """
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    if m == 0 or m == n:
        return []
    ranges = []
    start, end, whole = 0, n, True
    while True:
        if m == end - start:  # SUBPROOF(m, D[m], b): nothing if b, else MTH(D[m])
            if not whole:
                ranges.append((start, end))
            break
        k = split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, whole = start + k, m - k, False
    ranges.reverse()
    return ranges


def inclusion_proof(node, index, size):
    """PATH(index, D[size]) as a list of hashes, leaf to root."""
    return [node(start, end) for start, end in audit_path_ranges(index, size)]


def consistency_proof(node, m, n):
    """PROOF(m, D[n]) as a list of hashes."""
    return [node(start, end) for start, end in consistency_ranges(m, n)]


def _hashes_ok(*values):
    return all(isinstance(value, (bytes, bytearray)) and len(value) == HASH_SIZE for value in values)


def root_from_inclusion(leaf, index, size, proof):
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2), or None when it cannot be one."""
    if not 0 <= index < size or not _hashes_ok(leaf, *proof):
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(leaf, index, size, proof, root):
    """True when ``proof`` shows the leaf hash ``leaf`` at ``index`` in the tree of ``size`` with ``root``."""
    computed = root_from_inclusion(leaf, index, size, proof)
    return computed is not None and _hashes_ok(root) and hmac.compare_digest(computed, root)


def verify_consistency(m, n, root_m, root_n, proof):
    """True when ``proof`` shows the tree of size ``m`` and ``root_m`` is a prefix of the one of ``n`` and ``root_n``."""
    if not 0 <= m <= n or not _hashes_ok(root_m, root_n, *proof):
        return False
    if m == n:
        return not proof and hmac.compare_digest(root_m, root_n)
    if m == 0:
        return not proof and hmac.compare_digest(root_m, EMPTY_ROOT)
    if not proof:
        return False
    if m & (m - 1) == 0:
        proof = [root_m, *proof]
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(fr, root_m) and hmac.compare_digest(sr, root_n)


def proof_ranges(indices, size, successor):
    """The union of the audit paths of the leaf ``indices`` in the tree of ``size``, as ranges.

    Yields ``(start, end)`` sorted by start ascending, end descending (a
    pre-order walk), each once. ``indices`` is an ascending iterable; a
    child is in the union when its sibling holds an index, so the walk must
    know whether a right half holds one before it yields anything in the left
    half: ``successor(x)`` answers "the smallest index >= x, or None" for
    that, and is only asked for points beyond what the walk has read so far
    (the caller keeps the indices where it can look them up: a temporary
    table, a list). Memory is O(log size) whatever the number of indices.
    """
    for start, end, below in proof_walk(_Stream(indices, successor), size):
        if not below:
            yield start, end
        else:
            for offset, stop, _level in block_pattern(end - start):
                yield start + offset, start + stop


class _Stream:
    """Ascending indices, one at a time, for ``proof_walk``: ``head`` is the next (None at the end)."""

    def __init__(self, indices, successor):
        self._it, self.successor = iter(indices), successor
        self.head = next(self._it, None)

    def advance(self):
        self.head = next(self._it, None)

    def covered(self, start, end):  # a plain stream cannot look that far ahead cheaply
        return False


def block_pattern(width):
    """Every node strictly below a complete subtree of ``width`` leaves, in pre-order:
    ``(start offset, end offset, level)``. The same for every block, so it is made once per width."""
    found = _PATTERNS.get(width)
    if found is None:
        found = []

        def walk(start, end):
            if end - start > 1:
                half = (end - start) // 2
                level = half.bit_length() - 1
                found.append((start, start + half, level))
                walk(start, start + half)
                found.append((start + half, end, level))
                walk(start + half, end)

        walk(0, width)
        _PATTERNS[width] = found
    return found


_PATTERNS = {}


def proof_walk(source, size, block=0, smallest=None):
    """``proof_ranges``' walk over a ``source`` (``head``, ``advance()``, ``successor(x)``, ``covered(start,
    end)``, ``skip(end)``): yields ``(start, end, below)``: ``below`` False for the node ``[start, end)``
    itself, True for every node strictly below it (a complete subtree of ``smallest`` to ``block`` leaves,
    the largest such, that are all indices: each of its nodes has an index under its sibling), left for
    the caller to list with ``block_pattern``; its indices are consumed."""
    smallest = block if smallest is None else smallest
    if source.head is None or size <= 1:
        return
    if source.head >= size:
        raise ValueError(f"leaf index {source.head} is not in a tree of size {size}")

    def first_at_least(x):
        head = source.head
        return head if head is not None and head >= x else source.successor(x)

    # Nodes still to visit, right sibling under left: (start, end, in the union, holds an index).
    stack = [(0, size, False, True)]
    while stack:
        start, end, wanted, touched = stack.pop()
        if not touched:
            yield start, end, False
            continue
        width = end - start
        if wanted:
            yield start, end, False
        if (smallest <= width <= block and width & (width - 1) == 0 and start % width == 0
                and source.covered(start, end)):
            yield start, end, True
            source.skip(end)
            _check(source, end - 1, size)
            continue
        if width == 1:
            # A touched leaf: consume the index it holds and check the order of the rest.
            previous = source.head
            source.advance()
            _check(source, previous, size)
            continue
        mid = start + split(width)
        left = source.head < mid
        if left:
            nxt = first_at_least(mid)
            right = nxt is not None and nxt < end
        else:
            right = True
        # A child is in the union when its sibling holds an index (it is on that index's audit path).
        stack.append((mid, end, left, right))
        stack.append((start, mid, right, left))


def _check(source, previous, size):
    head = source.head
    if head is not None and (head <= previous or head >= size):
        raise ValueError(f"leaf indices must be ascending and below {size}: {previous} then {head}")
