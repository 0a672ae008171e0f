"""Schemas of the device API: enrollment, heartbeats and batch envelopes.

Envelopes are checked whole. The items in them (votes, staff events) are
checked one by one against the protocol's own rules
(``device_client.protocol.vote_errors``), so one bad vote is rejected on its
own instead of failing the batch, by exactly the rules the tablet applied.
"""

from marshmallow import fields, validate

from server.schemas import BaseSchema, Integer, Text, Timestamp

VERSION = validate.Length(min=1, max=64)
COUNT = validate.Range(min=0)


class EnrollSchema(BaseSchema):
    code = Text(required=True, validate=validate.Length(min=1, max=64))
    public_key = Text(required=True, validate=validate.Length(min=40, max=64))
    proof = Text(required=True, validate=validate.Length(min=80, max=100))
    app_version = Text(required=True, validate=VERSION)


class HeartbeatSchema(BaseSchema):
    device_time = Timestamp(required=True)
    app_version = Text(required=True, validate=VERSION)
    queue_depth = Integer(required=True, strict=True, validate=COUNT)
    oldest_unsent_at = Timestamp(load_default=None, allow_none=True)
    last_seq = Integer(load_default=0, strict=True, validate=COUNT)
    dead_letters = Integer(load_default=0, strict=True, validate=COUNT)


class BatchSchema(BaseSchema):
    """The envelope of a batch of votes."""

    device_time = Timestamp(required=True)
    # Any JSON value: an entry that is not an object is one rejected item, not a refused batch.
    votes = fields.List(fields.Raw(allow_none=True), required=True)


class SessionBatchSchema(BaseSchema):
    device_time = Timestamp(required=True)
    events = fields.List(fields.Raw(allow_none=True), required=True)
