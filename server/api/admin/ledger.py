"""The tamper-evident log: checkpoints, a checkpoint now, consistency between two, a vote's proof."""

from flask import Blueprint

from server.api.admin import config, db, doc, dump, query_args
from server.api.admin.ledger_schemas import (CheckpointQuerySchema, CheckpointSchema, ConsistencyQuerySchema,
                                             ConsistencySchema, ServerKeySchema, VoteProofSchema)
from server.auth import api_requires, current_actor
from server.manage import ledger

bp = Blueprint("admin_ledger", __name__, url_prefix="/api/v1")


@bp.get("/log/<tree>/checkpoints")
@api_requires("log.read")
@doc("Signed checkpoints of a log (votes, sessions or audit), newest first; page back with before_id",
     response=CheckpointSchema, many="checkpoints", query=CheckpointQuerySchema, tag="log")
def checkpoints(tree):
    args = query_args(CheckpointQuerySchema)
    rows = ledger.list_checkpoints(db(), current_actor(), tree, args["before_id"], args["limit"])
    return {"checkpoints": dump(CheckpointSchema, rows, many=True)}


@bp.get("/log/<tree>/checkpoints/<int:checkpoint_id>")
@api_requires("log.read")
@doc("One checkpoint, with its signed note", response=CheckpointSchema, tag="log")
def checkpoint(tree, checkpoint_id):
    return dump(CheckpointSchema, ledger.get_checkpoint(db(), current_actor(), tree, checkpoint_id))


@bp.post("/log/<tree>/checkpoints")
@api_requires("log.checkpoint")
@doc("Sign a checkpoint of the log now (its newest entries appended first)", response=CheckpointSchema,
     status=201, tag="log")
def publish(tree):
    return dump(CheckpointSchema, ledger.publish_checkpoint(db(), current_actor(), config(), tree)), 201


@bp.get("/log/<tree>/consistency")
@api_requires("log.read")
@doc("Proof that the first checkpoint's tree is a prefix of the second's (RFC 9162 consistency proof)",
     response=ConsistencySchema, query=ConsistencyQuerySchema, tag="log")
def consistency(tree):
    args = query_args(ConsistencyQuerySchema)
    return dump(ConsistencySchema, ledger.consistency(db(), current_actor(), tree, args["first"], args["second"]))


@bp.get("/log/key")
@api_requires("log.read")
@doc("The server's public key that signs checkpoints and export manifests", response=ServerKeySchema, tag="log")
def key():
    return dump(ServerKeySchema, ledger.server_key(db(), current_actor(), config()))


@bp.get("/votes/<vote_uuid>/proof")
@api_requires("log.read")
@doc("One vote in your scope: its leaf, its device's signature check, and its inclusion proof against the "
     "latest checkpoint", response=VoteProofSchema, tag="log")
def vote_proof(vote_uuid):
    return dump(VoteProofSchema, ledger.vote_proof(db(), current_actor(), config(), vote_uuid))
