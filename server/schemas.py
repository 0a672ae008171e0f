"""What every request schema shares: the strict base, the patterns, the time field.

``load()`` validates; unknown fields raise (set on the shared base so nested
schemas inherit it). Field messages end up in the error shape's ``fields``.
The device API's schemas are in ``server/sync/schemas.py``, the admin API's
in ``server/api/admin/schemas.py``.
"""

from marshmallow import RAISE, Schema, ValidationError, fields

from device_client import protocol

# The protocol's patterns (they end in \Z, not $: "$" also matches before a
# trailing newline), shared so a code means the same on every path.
CODE_RE = protocol.CODE.pattern
NO_CONTROL = protocol.NO_CONTROL


class BaseSchema(Schema):
    class Meta:
        unknown = RAISE


class Timestamp(fields.String):
    """An ISO 8601 time with an explicit offset, kept as the exact text sent."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not protocol.TIME.match(text):
            raise ValidationError("Not an ISO 8601 time with a UTC offset.")
        try:
            protocol.parse_time(text)
        except ValueError:
            raise ValidationError("Not a valid date and time.") from None
        return text


class Day(fields.Date):
    """A calendar date (``YYYY-MM-DD``), kept as that text: how rosters and reports name days."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).isoformat()

    def _serialize(self, value, attr, obj, **kwargs):
        return value
