"""What every request schema shares: the strict base, the patterns, the field types.

``load()`` validates; unknown fields raise (set on the shared base so nested
schemas inherit it). Field messages end up in the error shape's ``fields``.
The device API's schemas are in ``server/sync/schemas.py``, the admin API's
in ``server/api/admin/schemas.py``; both take every integer as ``Integer``
and every string as ``Text`` (or a ``Timestamp``), so one rule holds on every
path: an integer fits SQLite's 64 bits, and text is Unicode that prints as
it reads.
"""

from marshmallow import RAISE, Schema, ValidationError, fields

from device_client import protocol

# The protocol's patterns (they end in \Z, not $: "$" also matches before a
# trailing newline), shared so a code means the same on every path.
CODE_RE = protocol.CODE.pattern
NO_CONTROL = protocol.NO_CONTROL

# Marks a message for the catalogs (pybabel -k N_) so the pages can translate
# it; server.errors has the full N_, but the base layer may not import it.
N_ = str


class BaseSchema(Schema):
    class Meta:
        unknown = RAISE


class Integer(fields.Integer):
    """An integer that fits a signed 64-bit SQLite column, whatever narrower range a field adds.

    Python's integers have no bound, so without this a 2**70 reached SQLite
    and came back as a 500. A field's own ``Range`` runs first: its message
    says more than this one.
    """

    # The protocol's words (protocol.ABOVE_INT64, BELOW_INT64), written out for the catalogs.
    default_error_messages = {
        "above": N_("Must be less than or equal to 9223372036854775807."),
        "below": N_("Must be greater than or equal to -9223372036854775808."),
    }

    def _validate(self, value):
        super()._validate(value)
        if value > protocol.INT64_MAX:
            raise self.make_error("above")
        if value < protocol.INT64_MIN:
            raise self.make_error("below")


class Text(fields.String):
    """A string a person may read: Unicode text with no control or direction-override characters.

    It reaches pages, logs and terminals (``hailong device list`` prints a
    tablet's ``app_version``), where a control character is obeyed and
    U+202E shows text reversed. The characters are the protocol's
    (``device_client.protocol.NO_CONTROL``), so a tablet and the server
    agree. Length limits stay the field's own validators.
    """

    default_error_messages = {
        "control": N_("No line breaks or control characters."),
        "bidi": N_("No text-direction control characters (U+202A to U+202E, U+2066 to U+2069)."),
        "surrogate": N_("Not valid Unicode text."),
    }

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not NO_CONTROL.match(text):
            if protocol.SURROGATE.search(text):
                raise self.make_error("surrogate")
            raise self.make_error("control" if protocol.CONTROL.search(text) else "bidi")
        return text


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


def flat_messages(messages, prefix=""):
    """marshmallow's nested errors (``{"levels": {0: {"value": [...]}}}``) as ``{"levels.0.value": [...]}``,
    for a form or a command line that shows one field path per message."""
    if isinstance(messages, dict):
        flat = {}
        for name, inner in messages.items():
            flat.update(flat_messages(inner, f"{prefix}.{name}" if prefix else str(name)))
        return flat
    return {prefix or "_schema": list(messages) if isinstance(messages, list) else [messages]}
