"""Schemas of the device API: enrollment, heartbeats, batch envelopes and their items.

Envelopes are checked whole; items one by one, so one bad vote is rejected
on its own instead of failing the batch.
"""

import re

from marshmallow import ValidationError, fields, validate, validates

from device_client.protocol import SESSION_EVENTS, parse_time
from server.schemas import CODE_RE, NO_CONTROL, TIME_RE, UUID_RE, BaseSchema, Timestamp

SESSION_REASONS = ("manual", "idle", "end_of_day", "replaced", "attempts")


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
    votes = fields.List(fields.Dict(), required=True)


class VoteSchema(BaseSchema):
    id = fields.String(required=True, validate=validate.Regexp(UUID_RE, error="Not a lowercase UUID."))
    device = fields.String(required=True, validate=validate.Length(min=1, max=64))
    seq = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=2**53 - 1)
    )
    counter = fields.String(required=True, validate=validate.Regexp(CODE_RE))
    staff = fields.String(required=True, validate=validate.Regexp(CODE_RE))
    rating = fields.Integer(required=True, strict=True)
    reasons = fields.List(fields.String(validate=validate.Regexp(CODE_RE)), required=True)
    ticket = fields.String(
        required=True,
        allow_none=True,
        validate=[validate.Length(min=1, max=64), validate.Regexp(NO_CONTROL)],
    )
    local_time = Timestamp(required=True)
    scale_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    signature = fields.String(required=True, validate=validate.Length(equal=88))

    @validates("reasons")
    def reasons_sorted_and_distinct(self, value, **kwargs):
        if value != sorted(set(value)):
            raise ValidationError("Reason codes must be distinct and in ascending order.")


_UUID = re.compile(UUID_RE)
_TIME = re.compile(TIME_RE)
_CODE = re.compile(CODE_RE)
_VOTE_KEYS = frozenset(VoteSchema().fields)


def _int(value, low, high=2**53 - 1):
    return type(value) is int and low <= value <= high


def is_clean_vote(raw):
    """True only when ``VoteSchema().load(raw)`` would return ``raw`` unchanged.

    The ingest hot path: marshmallow costs about half the server's CPU per
    vote, and nearly every vote is well-formed. A vote this check does not
    pass still goes through ``VoteSchema`` (which stays the contract and gives
    the field messages). ``tests/test_schemas.py`` checks the two agree.
    """
    if type(raw) is not dict or raw.keys() != _VOTE_KEYS:
        return False
    text = (raw["id"], raw["device"], raw["counter"], raw["staff"], raw["local_time"], raw["signature"])
    if any(type(value) is not str for value in text):
        return False
    reasons, ticket = raw["reasons"], raw["ticket"]
    return (
        _UUID.match(raw["id"]) is not None
        and 1 <= len(raw["device"]) <= 64
        and _int(raw["seq"], 1)
        and _CODE.match(raw["counter"]) is not None
        and _CODE.match(raw["staff"]) is not None
        and _int(raw["rating"], -(2**53), 2**53)
        and type(reasons) is list
        and all(type(code) is str and _CODE.match(code) for code in reasons)
        and reasons == sorted(set(reasons))
        and (ticket is None or type(ticket) is str and 1 <= len(ticket) <= 64 and NO_CONTROL.match(ticket))
        and _TIME.match(raw["local_time"]) is not None
        and _parses(raw["local_time"])
        and _int(raw["scale_version"], 1)
        and len(raw["signature"]) == 88
    )


def _parses(text):
    try:
        parse_time(text)
    except ValueError:
        return False
    return True


class SessionBatchSchema(BaseSchema):
    device_time = Timestamp(required=True)
    events = fields.List(fields.Dict(), required=True)


class SessionEventSchema(BaseSchema):
    id = fields.String(required=True, validate=validate.Regexp(UUID_RE, error="Not a lowercase UUID."))
    device = fields.String(required=True, validate=validate.Length(min=1, max=64))
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**53 - 1))
    counter = fields.String(required=True, validate=validate.Regexp(CODE_RE))
    staff = fields.String(required=True, validate=validate.Regexp(CODE_RE))
    event = fields.String(required=True, validate=validate.OneOf(SESSION_EVENTS))
    reason = fields.String(required=True, allow_none=True, validate=validate.OneOf(SESSION_REASONS))
    local_time = Timestamp(required=True)
    signature = fields.String(required=True, validate=validate.Length(equal=88))
