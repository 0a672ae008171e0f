"""Request schemas: field messages for every kind of bad input."""

import pytest
from marshmallow import ValidationError

from server.sync.schemas import BatchSchema, EnrollSchema, HeartbeatSchema, VoteSchema

VOTE = {
    "id": "01936b2e-8f3a-7c4d-9e2f-1a2b3c4d5e6f",
    "device": "dev-7k2m9q4x",
    "seq": 42,
    "counter": "DN-TT-Q1",
    "staff": "NV001",
    "rating": 1,
    "reasons": ["attitude", "long_wait"],
    "ticket": "HS-2026-000123",
    "local_time": "2026-11-27T09:15:02.123+07:00",
    "scale_version": 1,
    "signature": "A" * 86 + "==",
}


def errors(schema, data):
    with pytest.raises(ValidationError) as caught:
        schema.load(data)
    return caught.value.messages


def test_a_good_vote_loads_unchanged():
    assert VoteSchema().load(VOTE) == VOTE


@pytest.mark.parametrize(
    "change, messages",
    [
        ({"id": "01936B2E-8F3A-7C4D-9E2F-1A2B3C4D5E6F"}, {"id": ["Not a lowercase UUID."]}),
        ({"seq": 0}, {"seq": ["Must be greater than or equal to 1 and less than or equal to 9007199254740991."]}),
        ({"seq": "42"}, {"seq": ["Not a valid integer."]}),
        ({"seq": 4.5}, {"seq": ["Not a valid integer."]}),
        ({"rating": True}, {"rating": ["Not a valid integer."]}),
        ({"reasons": ["long_wait", "attitude"]}, {"reasons": ["Reason codes must be distinct and in ascending order."]}),
        ({"reasons": "attitude"}, {"reasons": ["Not a valid list."]}),
        ({"ticket": ""}, {"ticket": ["Length must be between 1 and 64."]}),
        ({"ticket": "a\nb"}, {"ticket": ["String does not match expected pattern."]}),
        ({"local_time": "2026-11-27T09:15:02"}, {"local_time": ["Not an ISO 8601 time with a UTC offset."]}),
        ({"local_time": "2026-02-30T09:15:02+07:00"}, {"local_time": ["Not a valid date and time."]}),
        ({"signature": "short"}, {"signature": ["Length must be 88."]}),
        ({"extra": 1}, {"extra": ["Unknown field."]}),
    ],
)
def test_bad_vote_fields_get_field_messages(change, messages):
    assert errors(VoteSchema(), {**VOTE, **change}) == messages


def test_every_vote_field_is_required():
    for name in VOTE:
        vote = dict(VOTE)
        del vote[name]
        assert errors(VoteSchema(), vote) == {name: ["Missing data for required field."]}


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


BAD_VALUES = [None, True, False, 0, -1, 1.5, 2**60, "", "x", "4", "A" * 65, "a\nb", [], ["b", "a"],
              ["a", "a"], ["ok"], {}, "2026-11-27T09:15:02+07:00", "2026-13-27T09:15:02+07:00",
              "01936b2e-8f3a-7c4d-9e2f-1a2b3c4d5e6f", "A" * 88, "Hồ sơ"]


def test_the_fast_vote_check_never_passes_what_the_schema_would_change_or_refuse():
    from server.sync.schemas import is_clean_vote

    assert is_clean_vote(VOTE)
    checked = 0
    for name in VOTE:
        for value in BAD_VALUES:
            vote = {**VOTE, name: value}
            if is_clean_vote(vote):
                assert VoteSchema().load(vote) == vote, (name, value)
                checked += 1
        missing = {k: v for k, v in VOTE.items() if k != name}
        assert not is_clean_vote(missing)
    assert not is_clean_vote({**VOTE, "extra": 1})
    assert checked > 10  # the sweep did exercise accepted variants too


def test_a_trailing_newline_does_not_sneak_through_a_pattern():
    from server.sync.schemas import is_clean_vote

    for name, value in [("id", VOTE["id"] + "\n"), ("staff", "NV001\n"), ("ticket", "A1\n"),
                        ("local_time", VOTE["local_time"] + "\n")]:
        vote = {**VOTE, name: value}
        assert not is_clean_vote(vote), name
        assert name in errors(VoteSchema(), vote)
