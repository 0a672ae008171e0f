"""Schemas of the log's API (issue 10): queries (load) and answers (dump, OpenAPI).

Kept beside ``schemas.py`` rather than in it so the parts of issue 10 built
in parallel each keep their own file.
"""

from marshmallow import fields, validate

from server.errors import N_
from server.schemas import BaseSchema, Integer

Id = lambda **kw: Integer(validate=validate.Range(min=1, error=N_("1 or more.")), **kw)  # noqa: E731


class CheckpointSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    tree = fields.String(dump_only=True, metadata={"description": "votes, sessions or audit"})
    size = fields.Integer(dump_only=True, metadata={"description": "leaves in the tree"})
    root = fields.String(dump_only=True, metadata={"description": "root hash, base64"})
    at = fields.String(dump_only=True)
    key_id = fields.String(dump_only=True, metadata={"description": "the signing key's id, hex"})
    trigger = fields.String(dump_only=True, metadata={"description": "schedule, manual or export"})
    note = fields.String(dump_only=True, metadata={"description": "the signed note, exactly as kept "
                                                                  "(docs/verify.md)"})


class CheckpointQuerySchema(BaseSchema):
    before_id = Id(load_default=None)
    limit = Integer(load_default=100, validate=validate.Range(min=1, max=500, error=N_("From 1 to 500.")))


class ConsistencyQuerySchema(BaseSchema):
    first = Id(required=True)
    second = Id(required=True)


class ConsistencySchema(BaseSchema):
    tree = fields.String(dump_only=True)
    first = fields.Nested(CheckpointSchema, dump_only=True)
    second = fields.Nested(CheckpointSchema, dump_only=True)
    proof = fields.List(fields.String(), dump_only=True, metadata={"description": "RFC 9162 PROOF, base64 hashes"})
    consistent = fields.Boolean(dump_only=True, metadata={"description": "the server's own check of the proof"})


class ServerKeySchema(BaseSchema):
    name = fields.String(dump_only=True, metadata={"description": "LOG_NAME"})
    public_key = fields.String(dump_only=True, metadata={"description": "Ed25519, base64"})
    key_id = fields.String(dump_only=True, metadata={"description": "hex"})
    verifier_key = fields.String(dump_only=True, metadata={"description": "NAME+KEYID+base64(0x01 || key)"})


class VoteProofSchema(BaseSchema):
    vote = fields.Dict(dump_only=True, metadata={"description": "the signed fields and what the server added"})
    leaf = fields.String(dump_only=True, metadata={"description": "the leaf's bytes, base64"})
    leaf_hash = fields.String(dump_only=True, metadata={"description": "SHA-256(0x00 || leaf), base64"})
    leaf_index = fields.Integer(dump_only=True, allow_none=True)
    device_public_key = fields.String(dump_only=True, allow_none=True)
    signature_valid = fields.Boolean(dump_only=True)
    checkpoint = fields.Nested(CheckpointSchema, dump_only=True, allow_none=True)
    inclusion = fields.List(fields.String(), dump_only=True, allow_none=True,
                            metadata={"description": "RFC 9162 PATH, base64 hashes, leaf to root"})
    status = fields.String(dump_only=True, metadata={"description": "included, pending, altered or not_included"})
