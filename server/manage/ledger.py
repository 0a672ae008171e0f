"""The tamper-evident log as auditors use it: checkpoints, a checkpoint now, a vote's proof, consistency.

Checkpoints cover a whole tree (every unit's votes), so anyone with
``log.read`` sees all of them; a vote's proof shows the vote, so it is
scoped like ``votes.read``. Hashes and signatures leave as base64, as the
checkpoint notes and docs/verify.md write them.
"""

import base64

from device_client.protocol import Verifier, canonical_vote_bytes
from server import audit
from server.errors import N_, Conflict, invalid
from server.ledger import keys, leaves, log, merkle
from server.manage import not_found, require
from server.storage import devices, write_transaction
from server.storage import ledger as store


def _b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")


def _tree(tree):
    if tree not in leaves.TREES:
        raise not_found(N_("No such log: it is one of votes, sessions, audit."))
    return tree


def checkpoint_out(row):
    """A stored checkpoint as the API and pages show it (root as base64)."""
    return {"id": row["id"], "tree": row["tree"], "size": row["size"], "root": _b64(row["root"]), "at": row["at"],
            "key_id": row["key_id"], "trigger": row["trigger"], "note": row["note"]}


def list_checkpoints(db, actor, tree, before_id=None, limit=100):
    """A tree's checkpoints, newest first; page back with ``before_id``."""
    require(actor, "log.read")
    return [checkpoint_out(row) for row in log.checkpoints(db, _tree(tree), before_id=before_id, limit=limit)]


def trees(db, actor):
    """Each tree with its size as appended and its latest checkpoint (None before the first)."""
    require(actor, "log.read")
    out = []
    for name in leaves.TREES:
        latest = log.latest_checkpoint(db, name)
        out.append({"tree": name, "size": log.tree_state(db, name)["size"],
                    "latest": latest and checkpoint_out(latest)})
    return out


def get_checkpoint(db, actor, tree, checkpoint_id):
    require(actor, "log.read")
    row = log.checkpoint(db, checkpoint_id) if 0 < checkpoint_id < 2**63 else None
    if row is None or row["tree"] != _tree(tree):
        raise not_found(N_("No such checkpoint."))
    return checkpoint_out(row)


def server_key(db, actor, settings):
    """The server's public key as an auditor keeps it (``hailong keys show``)."""
    require(actor, "log.read")
    key = signing_key(settings)
    name = settings["LOG_NAME"]
    return {"name": name, "public_key": keys.public_key_b64(key), "key_id": keys.key_id(name, key).hex(),
            "verifier_key": keys.verifier_key(name, key)}


def signing_key(settings):
    """The log's signing key, or ``Conflict`` telling the operator to run ``hailong migrate``.

    Asked for before any work that signs (a checkpoint, an export's manifest),
    so a missing key is one clear error and never a broken download.
    """
    try:
        return keys.load_key(settings["INSTANCE"])
    except keys.KeyFileError:
        raise Conflict(N_("The server has no signing key for its log yet: run `hailong migrate`.")) from None


def publish_checkpoint(db, actor, settings, tree):
    """Sign a checkpoint of the tree now (after catching it up); audited. Returns it."""
    require(actor, "log.checkpoint")
    _tree(tree)
    signing_key(settings)  # a clear error before any work
    log.catch_up(db, tree, chunk=settings["LOG_CHUNK_LEAVES"])  # the backlog in chunks, outside the audited write
    with write_transaction(db):
        row = log.publish(db, settings, tree, "manual")
        audit.record(db, actor, "checkpoint", "log", object_id=row["id"],
                     after={"tree": tree, "size": row["size"], "root": _b64(row["root"])})
    return checkpoint_out(row)


def consistency(db, actor, tree, first_id, second_id):
    """The proof that checkpoint ``first_id``'s tree is a prefix of ``second_id``'s, checked here too."""
    require(actor, "log.read")
    first, second = (get_checkpoint(db, actor, tree, ident) for ident in (first_id, second_id))
    if first["size"] > second["size"]:
        raise invalid("first", N_("The first checkpoint must be the older, smaller one."))
    try:
        proof = log.consistency(db, tree, first["size"], second["size"])
    except log.LogError:  # the tree holds fewer leaves than a checkpoint signed: its history was cut
        return {"tree": tree, "first": first, "second": second, "proof": [], "consistent": False}
    holds = merkle.verify_consistency(first["size"], second["size"], base64.b64decode(first["root"]),
                                      base64.b64decode(second["root"]), proof)
    return {"tree": tree, "first": first, "second": second, "proof": [_b64(p) for p in proof], "consistent": holds}


def vote_proof(db, actor, settings, vote_uuid):
    """Everything needed to check one vote by hand: its row, its leaf, the device's signature on it, and its
    inclusion proof against the latest checkpoint that covers it.

    ``status``: ``included`` (the proof holds), ``pending`` (not yet in a
    signed checkpoint: the next one will hold it), ``altered`` (the vote as
    stored no longer makes the leaf the log holds), ``not_included`` (the
    proof fails against the checkpoint).
    """
    require(actor, "votes.read")
    require(actor, "log.read")
    row = store.vote_row_by_uuid(db, vote_uuid) if isinstance(vote_uuid, str) and len(vote_uuid) <= 64 else None
    if row is None:
        raise not_found(N_("No vote with this id."))
    scope = actor.scope(db, "votes.read")
    units = {row["unit_id"], row["counter_unit_id"], row["counter_unit_now"], row["staff_unit_now"]}
    if scope is not None and not units & scope:
        raise not_found(N_("No vote with this id."))
    signed = leaves.vote_signed(row)
    leaf = leaves.vote_leaf(row)
    digest = merkle.leaf_hash(leaf)
    device = devices.get_device(db, row["device_id"])
    try:
        signature_valid = Verifier(device["public_key"]).verify(canonical_vote_bytes(signed), row["signature"])
    except (TypeError, ValueError):  # no device row, or a key that is not one
        signature_valid = False
    result = {
        "vote": {**signed, **leaves.vote_server(row)},
        "leaf": _b64(leaf), "leaf_hash": _b64(digest), "leaf_index": None,
        "device_public_key": device["public_key"] if device else None, "signature_valid": signature_valid,
        "checkpoint": None, "inclusion": None, "status": "pending",
    }
    stored = log.leaf_of_row(db, "votes", row["id"])
    if stored is None:
        return result
    result["leaf_index"] = stored["index"]
    if stored["hash"] != digest:
        result["status"] = "altered"
    latest = log.latest_checkpoint(db, "votes")
    if latest is None or latest["size"] <= stored["index"]:
        return result
    result["checkpoint"] = checkpoint_out(latest)
    try:
        proof = log.inclusion(db, "votes", stored["index"], latest["size"])
    except log.LogError:  # the tree holds fewer leaves than the checkpoint signed
        result["status"] = "not_included"
        return result
    result["inclusion"] = [_b64(p) for p in proof]
    if result["status"] != "altered":
        holds = merkle.verify_inclusion(digest, stored["index"], latest["size"], proof, bytes(latest["root"]))
        result["status"] = "included" if holds else "not_included"
    return result
