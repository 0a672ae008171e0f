"""server/ledger/merkle.py against published test vectors and against the RFC's own definitions.

Vectors: transparency-dev/merkle (the Go Merkle library of Certificate
Transparency and Trillian), ``testonly/constants.go`` (the leaves and roots of
the RFC 6962 reference tests, first in google/certificate-transparency) and
the ``testdata/inclusion`` and ``testdata/consistency`` probes, copied into
``tests/fixtures/merkle_probes.json`` (its ``source`` names the commit;
Apache License 2.0, Copyright Google LLC).

The independent implementation below is written straight from the text of
RFC 9162 §2.1 (MTH, PATH, SUBPROOF), recursively and with nothing shared
with the module it checks.
"""

import base64
import bisect
import hashlib
import json
import pathlib
import random

import pytest

from server.ledger import merkle

PROBES = json.loads((pathlib.Path(__file__).parent / "fixtures" / "merkle_probes.json").read_text())

# testonly/constants.go: LeafInputs() and RootHashes() (by tree size, from 0).
LEAF_INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# One probe where our verifier is stricter on purpose: transparency-dev accepts equal sizes with equal roots
# that are not hashes at all ("don't care 2"); ours wants every hash to be 32 bytes.
STRICTER = {"testdata/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"}


# --- RFC 9162 §2.1, written out as the text says ------------------------------


def sha256(data):
    return hashlib.sha256(data).digest()


def mth(d):
    n = len(d)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return sha256(b"\x00" + d[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return sha256(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m, d):
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m, d, b):
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def proof(m, d):
    return subproof(m, d, True)


# --- helpers ------------------------------------------------------------------


def b64(text):
    return base64.b64decode(text) if text else b""


def leaves_of(inputs):
    return [merkle.leaf_hash(data) for data in inputs]


def node_over(data):
    """The ``node(start, end)`` callback over leaf data in memory, from the independent MTH."""
    return lambda start, end: mth(data[start:end])


def random_leaves(rng, n):
    """Distinct leaves (two equal leaves would make a proof for one index also hold for the other)."""
    return [i.to_bytes(4, "big") + rng.randbytes(rng.randint(0, 40)) for i in range(n)]


# --- published vectors --------------------------------------------------------


def test_roots_of_the_reference_leaves_match_the_published_roots():
    data = [bytes.fromhex(text) for text in LEAF_INPUTS]
    for size, want in enumerate(ROOTS):
        assert merkle.root_from_leaves(leaves_of(data[:size])).hex() == want
        assert mth(data[:size]).hex() == want


def test_every_published_inclusion_probe_is_judged_as_published():
    assert len(PROBES["inclusion"]) == 98
    for probe in PROBES["inclusion"]:
        ok = merkle.verify_inclusion(b64(probe["leafHash"]), probe["leafIdx"], probe["treeSize"],
                                     [b64(p) for p in probe["proof"] or []], b64(probe["root"]))
        assert ok == (not probe["wantErr"]), probe["file"]


def test_every_published_consistency_probe_is_judged_as_published():
    assert len(PROBES["consistency"]) == 98
    for probe in PROBES["consistency"]:
        ok = merkle.verify_consistency(probe["size1"], probe["size2"], b64(probe["root1"]), b64(probe["root2"]),
                                       [b64(p) for p in probe["proof"] or []])
        if probe["file"] in STRICTER:
            assert not ok
            continue
        assert ok == (not probe["wantErr"]), probe["file"]


def test_our_proofs_equal_the_published_happy_path_proofs():
    data = [bytes.fromhex(text) for text in LEAF_INPUTS]
    node = node_over(data)
    happy = [p for p in PROBES["inclusion"] if p["desc"] == "happy path"]
    assert happy
    for probe in happy:
        made = merkle.inclusion_proof(node, probe["leafIdx"], probe["treeSize"])
        assert made == [b64(p) for p in probe["proof"] or []], probe["file"]
    happy = [p for p in PROBES["consistency"] if p["desc"] == "happy path"]
    assert happy
    for probe in happy:
        made = merkle.consistency_proof(node, probe["size1"], probe["size2"])
        assert made == [b64(p) for p in probe["proof"] or []], probe["file"]


# --- against the independent implementation ----------------------------------


def test_roots_and_inclusion_proofs_agree_with_the_rfc_text_on_random_trees():
    rng = random.Random(6962)
    for size in list(range(1, 70)) + [rng.randint(70, 300) for _ in range(30)]:
        data = random_leaves(rng, size)
        hashes = leaves_of(data)
        root = mth(data)
        assert merkle.root_from_leaves(hashes) == root
        for index in range(size) if size < 70 else rng.sample(range(size), 10):
            made = merkle.inclusion_proof(node_over(data), index, size)
            assert made == path(index, data)
            assert merkle.verify_inclusion(hashes[index], index, size, made, root)
            assert not merkle.verify_inclusion(hashes[index], (index + 1) % size, size, made, root) or size == 1
            if made:
                broken = list(made)
                broken[rng.randrange(len(broken))] = sha256(b"not this")
                assert not merkle.verify_inclusion(hashes[index], index, size, broken, root)


def test_consistency_proofs_agree_with_the_rfc_text_for_every_pair_up_to_64():
    rng = random.Random(9162)
    data = random_leaves(rng, 64)
    roots = [mth(data[:n]) for n in range(65)]
    for n in range(1, 65):
        for m in range(1, n):
            made = merkle.consistency_proof(node_over(data), m, n)
            assert made == proof(m, data[:n]), (m, n)
            assert merkle.verify_consistency(m, n, roots[m], roots[n], made), (m, n)
            assert not merkle.verify_consistency(m, n, roots[m], sha256(b"other"), made)
            assert not merkle.verify_consistency(m, n, sha256(b"other"), roots[n], made)
        assert merkle.verify_consistency(n, n, roots[n], roots[n], [])
        assert merkle.verify_consistency(0, n, roots[0], roots[n], [])


def test_a_tree_with_one_leaf_changed_is_not_consistent_with_the_older_one():
    rng = random.Random(1)
    data = random_leaves(rng, 40)
    rewritten = list(data)
    rewritten[7] = b"another vote"
    for m in (8, 13, 32):
        made = merkle.consistency_proof(node_over(rewritten), m, 40)
        assert not merkle.verify_consistency(m, 40, mth(data[:m]), mth(rewritten), made)


def test_audit_path_ranges_name_the_nodes_of_path():
    rng = random.Random(2)
    data = random_leaves(rng, 300)
    for size in (1, 2, 5, 64, 65, 300):
        for index in range(0, size, 7):
            ranges = merkle.audit_path_ranges(index, size)
            assert [mth(data[s:e]) for s, e in ranges] == path(index, data[:size])
    with pytest.raises(ValueError):
        merkle.audit_path_ranges(5, 5)


def test_proof_ranges_are_the_sorted_union_of_the_audit_paths():
    rng = random.Random(3)
    for _ in range(400):
        size = rng.randint(1, 200)
        indices = sorted(rng.sample(range(size), rng.randint(0, min(size, 30) if rng.random() < .7 else size)))
        union = set()
        for index in indices:
            union.update(merkle.audit_path_ranges(index, size))

        def successor(x):
            at = bisect.bisect_left(indices, x)
            return indices[at] if at < len(indices) else None

        got = list(merkle.proof_ranges(iter(indices), size, successor))
        assert got == sorted(union, key=lambda r: (r[0], -r[1]))


def test_proof_ranges_refuse_indices_out_of_order_or_outside_the_tree():
    with pytest.raises(ValueError):
        list(merkle.proof_ranges([3, 2], 8, lambda x: None))
    with pytest.raises(ValueError):
        list(merkle.proof_ranges([1, 9], 8, lambda x: 9 if x <= 9 else None))
