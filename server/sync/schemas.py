"""Schemas of the device API: enrollment, heartbeats and batch envelopes.

Envelopes are checked whole. The items in them (votes, staff events) are
checked one by one against the protocol's own rules
(``device_client.protocol.vote_errors``), so one bad vote is rejected on its
own instead of failing the batch, by exactly the rules the tablet applied.
"""

from marshmallow import fields, validate

from server.schemas import BaseSchema, Timestamp


class EnrollSchema(BaseSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    public_key = fields.String(required=True, validate=validate.Length(min=40, max=64))
    proof = fields.String(required=True, validate=validate.Length(min=80, max=100))
    app_version = fields.String(required=True, validate=validate.Length(min=1, max=64))


class HeartbeatSchema(BaseSchema):
    device_time = Timestamp(required=True)
    app_version = fields.String(required=True, validate=validate.Length(min=1, max=64))
    queue_depth = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    oldest_unsent_at = Timestamp(load_default=None, allow_none=True)
    last_seq = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0))
    dead_letters = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0))


class BatchSchema(BaseSchema):
    """The envelope of a batch of votes."""

    device_time = Timestamp(required=True)
    # Any JSON value: an entry that is not an object is one rejected item, not a refused batch.
    votes = fields.List(fields.Raw(allow_none=True), required=True)


class SessionBatchSchema(BaseSchema):
    device_time = Timestamp(required=True)
    events = fields.List(fields.Raw(allow_none=True), required=True)
