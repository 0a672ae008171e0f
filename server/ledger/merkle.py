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
    it = iter(indices)
    head = next(it, None)

    def first_at_least(x):
        return head if head is not None and head >= x else successor(x)

    if head is None or size <= 1:
        return
    if head >= size:
        raise ValueError(f"leaf index {head} is not in a tree of size {size}")
    # Nodes still to visit, right sibling under left: (start, end, in the union, holds an index).
    stack = [(0, size, False, True)]
    while stack:
        start, end, wanted, touched = stack.pop()
        if wanted:
            yield start, end
        if not touched:
            continue
        if end - start == 1:
            # A touched leaf: consume the index it holds and check the order of the rest.
            previous = head
            head = next(it, None)
            if head is not None and (head <= previous or head >= size):
                raise ValueError(f"leaf indices must be ascending and below {size}: {previous} then {head}")
            continue
        mid = start + split(end - start)
        left = head < mid
        if left:
            nxt = first_at_least(mid)
            right = nxt is not None and nxt < end
        else:
            right = True
        # A child is in the union when its sibling holds an index (it is on that index's audit path).
        stack.append((mid, end, left, right))
        stack.append((start, mid, right, left))
