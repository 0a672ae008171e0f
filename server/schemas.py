"""What every request schema shares: the strict base, the patterns, the time field.

``load()`` validates; unknown fields raise (set on the shared base so nested
schemas inherit it). Field messages end up in the error shape's ``fields``.
The device API's schemas are in ``server/sync/schemas.py``, the admin API's
in ``server/api/admin/schemas.py``.
"""

import re

from marshmallow import RAISE, Schema, ValidationError, fields

from device_client.protocol import parse_time

# \Z, not $: "$" also matches before a trailing newline, which would let
# "A1\n" through as a code or a ticket.
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
TIME_RE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})\Z"
CODE_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z"
# Control characters would make the canonical JSON escape-dependent.
NO_CONTROL = re.compile(r"^[^\x00-\x1f\x7f]*\Z")


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
