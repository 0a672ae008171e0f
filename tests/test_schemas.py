"""Device API schemas: envelopes, heartbeats and enrollments refuse what they do not know.

What a valid vote or staff event is, field by field, is the protocol's rule
(``device_client/protocol.py``), tested in tests/test_protocol_rules.py.
"""

import pytest
from marshmallow import ValidationError

from server.sync.schemas import BatchSchema, EnrollSchema, HeartbeatSchema


def errors(schema, data):
    with pytest.raises(ValidationError) as caught:
        schema.load(data)
    return caught.value.messages


def test_envelopes_heartbeats_and_enrollments_reject_unknown_fields():
    assert errors(BatchSchema(), {"device_time": "2026-11-27T09:00:00Z", "votes": [], "n": 1}) == {
        "n": ["Unknown field."]
    }
    assert "token" in errors(HeartbeatSchema(), {
        "device_time": "2026-11-27T09:00:00Z", "app_version": "1", "queue_depth": 0, "token": "x",
    })
    assert errors(EnrollSchema(), {}) == {
        name: ["Missing data for required field."] for name in ("code", "public_key", "proof", "app_version")
    }


def test_the_64_bit_messages_are_the_protocols_word_for_word():
    from device_client import protocol
    from server.schemas import Integer

    messages = Integer().error_messages
    assert (messages["above"], messages["below"]) == (protocol.ABOVE_INT64, protocol.BELOW_INT64)


def test_heartbeat_text_and_integers_follow_the_shared_field_types():
    beat = {"device_time": "2026-11-27T09:00:00+07:00", "app_version": "0.1.0", "queue_depth": 0}
    assert HeartbeatSchema().load({**beat, "queue_depth": 2**63 - 1})["queue_depth"] == 2**63 - 1
    assert errors(HeartbeatSchema(), {**beat, "queue_depth": 2**63}) == {
        "queue_depth": ["Must be less than or equal to 9223372036854775807."]}
    assert errors(HeartbeatSchema(), {**beat, "app_version": "0.1\x1b[31m"}) == {
        "app_version": ["No line breaks or control characters."]}
    assert errors(HeartbeatSchema(), {**beat, "app_version": "\ud800"}) == {
        "app_version": ["Not valid Unicode text."]}
    assert errors(HeartbeatSchema(), {**beat, "device_time": "٢٠٢٦-11-27T09:00:00+07:00"}) == {
        "device_time": ["Not an ISO 8601 time with a UTC offset."]}
