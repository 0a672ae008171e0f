"""What a valid vote and session event are: the protocol's rules, with the server's field messages.

The tablet checks these before it signs and the server when it receives, so
the messages here are the ones clients and stored sync incidents already
carry, word for word.
"""

import pytest

from device_client.protocol import session_event_errors, unsigned_errors, vote_errors, VOTE_RULES

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
EVENT = {
    "id": "01936b2e-8f3a-7c4d-9e2f-000000000001",
    "device": "dev-7k2m9q4x",
    "seq": 1,
    "counter": "DN-TT-Q1",
    "staff": "NV001",
    "event": "sign_in",
    "reason": None,
    "local_time": "2026-11-27T07:31:12.500+07:00",
    "signature": "A" * 86 + "==",
}
RANGE = "Must be greater than or equal to 1 and less than or equal to 9007199254740991."


def test_a_good_vote_and_a_good_event_have_no_errors():
    assert vote_errors(VOTE) == {}
    assert vote_errors({**VOTE, "ticket": None, "reasons": []}) == {}
    assert session_event_errors(EVENT) == {}
    assert session_event_errors({**EVENT, "event": "sign_out", "reason": "idle"}) == {}


@pytest.mark.parametrize(
    "change, messages",
    [
        ({"id": "01936B2E-8F3A-7C4D-9E2F-1A2B3C4D5E6F"}, {"id": ["Not a lowercase UUID."]}),
        ({"id": 7}, {"id": ["Not a valid string."]}),
        ({"id": None}, {"id": ["Field may not be null."]}),
        ({"device": ""}, {"device": ["Length must be between 1 and 64."]}),
        ({"seq": 0}, {"seq": [RANGE]}),
        ({"seq": 2**53}, {"seq": [RANGE]}),
        ({"seq": "42"}, {"seq": ["Not a valid integer."]}),
        ({"seq": 4.5}, {"seq": ["Not a valid integer."]}),
        ({"seq": 42.0}, {"seq": ["Not a valid integer."]}),
        ({"rating": True}, {"rating": ["Not a valid integer."]}),
        ({"rating": "4"}, {"rating": ["Not a valid integer."]}),
        ({"counter": "-Q1"}, {"counter": ["String does not match expected pattern."]}),
        ({"staff": "NV 001"}, {"staff": ["String does not match expected pattern."]}),
        ({"reasons": ["long_wait", "attitude"]}, {"reasons": ["Reason codes must be distinct and in ascending order."]}),
        ({"reasons": ["attitude", "attitude"]}, {"reasons": ["Reason codes must be distinct and in ascending order."]}),
        ({"reasons": "attitude"}, {"reasons": ["Not a valid list."]}),
        ({"reasons": ["attitude", 5, "a b"]}, {"reasons": {1: ["Not a valid string."],
                                                          2: ["String does not match expected pattern."]}}),
        ({"reasons": None}, {"reasons": ["Field may not be null."]}),
        ({"ticket": ""}, {"ticket": ["Length must be between 1 and 64."]}),
        ({"ticket": "a\nb"}, {"ticket": ["String does not match expected pattern."]}),
        ({"ticket": "x" * 65 + "\x7f"}, {"ticket": ["Length must be between 1 and 64.",
                                                    "String does not match expected pattern."]}),
        ({"ticket": 123}, {"ticket": ["Not a valid string."]}),
        ({"ticket": "HS\x851"}, {"ticket": ["String does not match expected pattern."]}),  # C1: NEL
        ({"ticket": "HS-\u202e321"}, {"ticket": ["String does not match expected pattern."]}),
        ({"ticket": "\u2066HS-1\u2069"}, {"ticket": ["String does not match expected pattern."]}),
        ({"ticket": "HS-\ud800"}, {"ticket": ["String does not match expected pattern."]}),
        ({"device": "dev-\x1b[2J"}, {"device": ["String does not match expected pattern."]}),
        ({"rating": 2**63}, {"rating": ["Must be less than or equal to 9223372036854775807."]}),
        ({"rating": -(2**63) - 1}, {"rating": ["Must be greater than or equal to -9223372036854775808."]}),
        ({"scale_version": 2**70}, {"scale_version": ["Must be less than or equal to 9223372036854775807."]}),
        ({"local_time": "2026-11-27T09:15:02"}, {"local_time": ["Not an ISO 8601 time with a UTC offset."]}),
        ({"local_time": "2026-02-30T09:15:02+07:00"}, {"local_time": ["Not a valid date and time."]}),
        ({"scale_version": 0}, {"scale_version": ["Must be greater than or equal to 1."]}),
        ({"signature": "short"}, {"signature": ["Length must be 88."]}),
        ({"extra": 1}, {"extra": ["Unknown field."]}),
        ({"marks": []}, {"marks": ["Leave the field out when there are no marks."]}),
        ({"marks": None}, {"marks": ["Field may not be null."]}),
        ({"marks": "rapid_repeat"}, {"marks": ["Not a valid list."]}),
        ({"marks": ["rapid_repeat", "rapid_repeat"]}, {"marks": ["Marks must be distinct and in ascending order."]}),
        ({"marks": ["self_vote"]}, {"marks": {0: ["Must be one of: rapid_repeat."]}}),
        ({"marks": ["rapid_repeat", 7, None]}, {"marks": {1: ["Not a valid string."], 2: ["Field may not be null."]}}),
    ],
)
def test_bad_vote_fields_get_the_servers_field_messages(change, messages):
    assert vote_errors({**VOTE, **change}) == messages


def test_marks_are_optional_and_rapid_repeat_is_a_known_one():
    assert "marks" not in VOTE and vote_errors(VOTE) == {}
    assert vote_errors({**VOTE, "marks": ["rapid_repeat"]}) == {}


def test_a_missing_field_is_reported_beside_a_present_optional_one():
    vote = {**{key: value for key, value in VOTE.items() if key != "seq"}, "marks": ["rapid_repeat"], "mark": 1}
    assert vote_errors(vote) == {"seq": ["Missing data for required field."], "mark": ["Unknown field."]}


def test_every_vote_field_is_required():
    for name in VOTE:
        vote = {key: value for key, value in VOTE.items() if key != name}
        assert vote_errors(vote) == {name: ["Missing data for required field."]}


def test_a_missing_field_and_an_unknown_one_are_both_reported():
    vote = {**{key: value for key, value in VOTE.items() if key != "ticket"}, "tiket": "HS-1"}
    assert vote_errors(vote) == {"ticket": ["Missing data for required field."], "tiket": ["Unknown field."]}


def test_an_item_that_is_not_an_object_is_refused_whole():
    for item in ([], "vote", None, 42):
        assert vote_errors(item) == {"_schema": ["Invalid input type."]}
        assert session_event_errors(item) == {"_schema": ["Invalid input type."]}


@pytest.mark.parametrize(
    "change, messages",
    [
        ({"event": "log_in"}, {"event": ["Must be one of: sign_in, sign_out, lockout."]}),
        ({"event": None}, {"event": ["Field may not be null."]}),
        ({"reason": "lunch"}, {"reason": ["Must be one of: manual, idle, end_of_day, replaced, attempts."]}),
        ({"reason": 5}, {"reason": ["Not a valid string."]}),
        ({"seq": True}, {"seq": ["Not a valid integer."]}),
        ({"id": "not-a-uuid"}, {"id": ["Not a lowercase UUID."]}),
        ({"local_time": "07:31"}, {"local_time": ["Not an ISO 8601 time with a UTC offset."]}),
        ({"signature": "A" * 89}, {"signature": ["Length must be 88."]}),
        ({"rating": 4}, {"rating": ["Unknown field."]}),
    ],
)
def test_bad_session_event_fields_get_the_servers_field_messages(change, messages):
    assert session_event_errors({**EVENT, **change}) == messages


def test_every_session_event_field_is_required():
    for name in EVENT:
        event = {key: value for key, value in EVENT.items() if key != name}
        assert session_event_errors(event) == {name: ["Missing data for required field."]}


def test_a_trailing_newline_does_not_sneak_through_a_pattern():
    for name, value in [("id", VOTE["id"] + "\n"), ("staff", "NV001\n"), ("ticket", "A1\n"),
                        ("local_time", VOTE["local_time"] + "\n")]:
        assert name in vote_errors({**VOTE, name: value}), name


def test_an_item_about_to_be_signed_is_checked_without_its_signature():
    unsigned = {key: value for key, value in VOTE.items() if key != "signature"}
    assert unsigned_errors(unsigned, VOTE_RULES) == {}
    assert unsigned_errors({**unsigned, "ticket": "a\tb"}, VOTE_RULES) == {
        "ticket": ["String does not match expected pattern."]
    }
    assert unsigned_errors(VOTE, VOTE_RULES) == {"signature": ["Unknown field."]}


def test_a_tickets_length_counts_code_points_not_utf16_units():
    astral = "\U0001d7d8"  # MATHEMATICAL DOUBLE-STRUCK DIGIT ZERO: two UTF-16 units, one code point
    assert vote_errors({**VOTE, "ticket": astral * 64}) == {}
    assert vote_errors({**VOTE, "ticket": astral * 65}) == {"ticket": ["Length must be between 1 and 64."]}


def test_integers_at_the_64_bit_bounds_are_integers():
    assert vote_errors({**VOTE, "rating": 2**63 - 1}) == {}
    assert vote_errors({**VOTE, "rating": -(2**63)}) == {}
