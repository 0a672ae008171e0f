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


# --- Answers: what the server sends back (dumped by nobody; they describe the answers in /api/openapi.json,
# and tests/test_api_fuzz.py checks every answer against them) -------------------------------------------

ITEM_STATUSES = ("accepted", "duplicate", "conflict", "rejected")


class EnrollAnswerSchema(BaseSchema):
    device_id = fields.String(required=True)
    token = fields.String(required=True, metadata={"description": "shown once; the server keeps its SHA-256"})
    counter = fields.String(required=True)
    server_time = fields.String(required=True)


class NamedCodeSchema(BaseSchema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class UnitPlaceSchema(NamedCodeSchema):
    path = fields.List(fields.Nested(NamedCodeSchema), required=True,
                       metadata={"description": "from the root to this unit"})


class ServingDaysSchema(BaseSchema):
    from_ = fields.String(data_key="from", required=True, metadata={"description": "a local date"})
    to = fields.String(required=True, allow_none=True, metadata={"description": "null: until further notice"})


class RosterEntrySchema(BaseSchema):
    code = fields.String(required=True)
    full_name = fields.String(required=True)
    title = fields.String(required=True)
    pin_hash = fields.String(required=True, allow_none=True)
    photo_sha256 = fields.String(required=True, allow_none=True)
    assignments = fields.List(fields.Nested(ServingDaysSchema), required=True, allow_none=True,
                              metadata={"description": "null: staff of the unit, any day"})


class LevelSchema(BaseSchema):
    value = fields.Integer(required=True)
    label_vi = fields.String(required=True)
    label_en = fields.String(required=True)
    negative = fields.Boolean(required=True)
    satisfied = fields.Boolean(required=True)
    weight = fields.Float(required=True)


class ReasonSchema(BaseSchema):
    code = fields.String(required=True)
    label_vi = fields.String(required=True)
    label_en = fields.String(required=True)


class DeviceScaleSchema(BaseSchema):
    version = fields.Integer(required=True)
    levels = fields.List(fields.Nested(LevelSchema), required=True)
    reasons = fields.List(fields.Nested(ReasonSchema), required=True)


class KioskSettingsSchema(BaseSchema):
    vote_interval_seconds = fields.Integer(required=True)
    reasons_timeout_seconds = fields.Integer(required=True)
    thanks_seconds = fields.Integer(required=True)
    idle_sign_out_minutes = fields.Integer(required=True)
    day_end = fields.String(required=True)
    pin_max_attempts = fields.Integer(required=True)
    pin_lockout_minutes = fields.Integer(required=True)


class DeviceConfigSchema(BaseSchema):
    device_id = fields.String(required=True)
    counter = fields.Nested(NamedCodeSchema, required=True)
    unit = fields.Nested(UnitPlaceSchema, required=True)
    staff = fields.List(fields.Nested(RosterEntrySchema), required=True, metadata={"description": "the roster"})
    scale = fields.Nested(DeviceScaleSchema, required=True)
    kiosk = fields.Nested(KioskSettingsSchema, required=True)
    heartbeat_seconds = fields.Integer(required=True)
    server_version = fields.String(required=True)
    config_version = fields.String(required=True)
    server_time = fields.String(required=True)


class HeartbeatAnswerSchema(BaseSchema):
    server_time = fields.String(required=True)
    ack_seq = fields.Integer(required=True, metadata={"description": "the highest seq stored with none missing"})


class ItemResultSchema(BaseSchema):
    index = fields.Integer(required=True)
    id = fields.String(required=True, allow_none=True)
    seq = fields.Integer(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(ITEM_STATUSES))
    errors = fields.Dict(metadata={"description": "a rejected item's field messages (protocol.md)"})
    flags = fields.List(fields.String(), metadata={"description": "ingest flags of an accepted item"})


class BatchAnswerSchema(BaseSchema):
    server_time = fields.String(required=True)
    batch_id = fields.Integer(required=True)
    ack_seq = fields.Integer(required=True)
    results = fields.List(fields.Nested(ItemResultSchema), required=True, metadata={"description": "one per item"})
