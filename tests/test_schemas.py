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
