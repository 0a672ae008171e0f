"""The auditor's log pages: the trees and their signed checkpoints, one checkpoint to keep, one vote verified.

A checkpoint is only worth something kept away from this server, so its page
gives the signed note in every form an auditor files it: the text (to copy,
print or mail), a ``.txt`` download, a QR code of the same text, and the
server's public key beside it. Everything comes from the actions of
``server.manage.ledger`` (permission-checked and, for a vote, scoped as
``votes.read`` is there); the pages only shape it.
"""

import base64
import re

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from server.auth import current_actor, page_requires
from server.db import get_db
from server.errors import N_, NotFound
from server.ledger import checkpoints as notes
from server.ledger import merkle
from server.manage import ledger as ledger_service
from server.manage.devices import qr_svg
from server.web import attempt, page_errors, translate

bp = Blueprint("web_ledger", __name__)

TREES = ("votes", "sessions", "audit")
PAGE = 50
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
NOT_A_UUID = N_("A vote id looks like 01935c4e-7b1f-7000-8000-000000000000.")


def _tree(tree):
    if tree not in TREES:
        raise NotFound(N_("No such log: it is one of votes, sessions, audit."))
    return tree


@bp.get("/log")
@bp.get("/log/<tree>/checkpoints")
@page_requires("log.read")
def checkpoints(tree="votes"):
    """Each tree with its size and latest checkpoint; one tree's checkpoints, newest first, a page at a time."""
    db, actor = get_db(), current_actor()
    tree = _tree(tree)
    before = request.args.get("before_id", "")
    before_id = int(before) if before.isascii() and before.isdigit() and 0 < int(before) < 2**63 else None
    rows = ledger_service.list_checkpoints(db, actor, tree, before_id=before_id, limit=PAGE)
    older = rows[-1]["id"] if len(rows) >= PAGE else None
    trees = ledger_service.trees(db, actor)
    return render_template("log_checkpoints.html", trees=trees, tree=tree, tree_names=TREES, checkpoints=rows,
                           paged=before_id is not None, older=older, can_publish=actor.can("log.checkpoint"))


@bp.post("/log/<tree>/checkpoints")
@page_requires("log.checkpoint")
def publish(tree):
    """Sign a checkpoint of the tree as it is now (the action catches the tree up first), then show it."""
    db, actor = get_db(), current_actor()
    tree = _tree(tree)
    row = ledger_service.publish_checkpoint(db, actor, current_app.config, tree)
    return redirect(url_for("web_ledger.checkpoint", tree=tree, checkpoint_id=row["id"]))


@bp.get("/log/<tree>/checkpoints/<int:checkpoint_id>")
@page_requires("log.read")
def checkpoint(tree, checkpoint_id):
    db, actor = get_db(), current_actor()
    row = _checkpoint(db, actor, tree, checkpoint_id)
    key = ledger_service.server_key(db, actor, current_app.config)
    return render_template("log_checkpoint.html", checkpoint=row, key=key, qr_svg=qr_svg(row["note"]),
                           signature_ok=notes.verify_note(row["note"], key["public_key"]), text_name=text_name(row))


@bp.get("/log/<tree>/checkpoints/<int:checkpoint_id>.txt")
@page_requires("log.read")
def checkpoint_text(tree, checkpoint_id):
    """The signed note exactly as stored (a verifier reads these bytes), as a file to keep."""
    row = _checkpoint(get_db(), current_actor(), tree, checkpoint_id)
    return Response(row["note"].encode("utf-8"), mimetype="text/plain",
                    headers={"Content-Disposition": f'attachment; filename="{text_name(row)}"'})


def _checkpoint(db, actor, tree, checkpoint_id):
    return ledger_service.get_checkpoint(db, actor, _tree(tree), checkpoint_id)


def text_name(row):
    """``hailong-votes-1234.txt``: the log, the tree and the size say which checkpoint a kept file is."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", current_app.config["LOG_NAME"])
    return f"{name}-{row['tree']}-{row['size']}.txt"


@bp.get("/log/verify")
@page_requires("votes.read")
def verify_vote():
    """A vote by id: its signature and its inclusion proof against the latest checkpoint; 404 when unseen."""
    db, actor = get_db(), current_actor()
    vote_id = request.args.get("vote", "").strip()
    context = {"vote_id": vote_id, "errors": {}, "proof": None, "outcome": None}
    if not vote_id:
        return render_template("vote_proof.html", **context)
    if not UUID.match(vote_id):
        context["errors"] = {"vote": [translate(NOT_A_UUID)]}
        return render_template("vote_proof.html", **context), 400
    proof, errors, message, status = attempt(
        lambda: ledger_service.vote_proof(db, actor, current_app.config, vote_id.lower()))
    if status == 404:
        return render_template("vote_proof.html", **{**context, "outcome": "not_found"}), 404
    if errors or message:
        return render_template("vote_proof.html", **{**context, "errors": errors, "message": message}), status
    return render_template("vote_proof.html", **{**context, "proof": proof, "root": root_reached(proof)})


def root_reached(proof):
    """The root the vote's leaf hash and inclusion proof lead to (base64), shown beside the checkpoint's.

    Worked out here from the hashes the page shows, not taken from the
    action's verdict: what the auditor reads is what was checked.
    """
    if not proof["checkpoint"] or proof["inclusion"] is None:
        return None
    path = [base64.b64decode(h) for h in proof["inclusion"]]
    root = merkle.root_from_inclusion(base64.b64decode(proof["leaf_hash"]), proof["leaf_index"],
                                      proof["checkpoint"]["size"], path)
    return base64.b64encode(root).decode("ascii") if root is not None else None


page_errors(bp)
