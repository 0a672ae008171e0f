"""Marshmallow schemas for every request body the API accepts.

``load()`` validates; unknown fields raise (set on the shared base so nested
schemas inherit it). Field messages end up in the error shape's ``fields``.
"""

import re

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from device_client.protocol import parse_time

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
TIME_RE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
CODE_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# Control characters would make the canonical JSON escape-dependent.
NO_CONTROL = re.compile(r"^[^\x00-\x1f\x7f]*$")


class BaseSchema(Schema):
    class Meta:
        unknown = RAISE


class Timestamp(fields.String):
    """An ISO 8601 time with an explicit offset, kept as the exact text sent."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not re.match(TIME_RE, text):
            raise ValidationError("Not an ISO 8601 time with a UTC offset.")
        try:
            parse_time(text)
        except ValueError:
            raise ValidationError("Not a valid date and time.") from None
        return text


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
    """The envelope. Votes are checked one by one (``VoteSchema``) so one bad
    vote is rejected on its own instead of failing the whole batch."""

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
