"""Bad input gets a clear error in the one JSON shape and changes nothing (each of these was a 500).

Integers beyond SQLite's 64 bits, lone surrogates, control and text-direction
characters, bodies nested too deep, NaN, a missing Content-Type, an
oversized chunked body: through the Flask test client over a real SQLite
file, comparing the whole database before and after.
"""

import io
import json

import pytest

from tests.hostile import signed_vote, world as make_world

BIG = 2**70


@pytest.fixture
def world(people_template, tmp_path):
    return make_world(people_template, tmp_path)


def refused(world, method, path, status=400, headers=None, **kwargs):
    """Send the request; assert the status and that the database did not change; return the error."""
    before = world.snapshot()
    response = world.client.open(path, method=method, headers=headers or world.admin(), **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    assert world.snapshot() == before
    return response.json["error"]


def heartbeat(**changes):
    return {"device_time": "2026-11-27T09:20:00.000+07:00", "app_version": "0.1.0", "queue_depth": 0, **changes}


@pytest.mark.parametrize("path, field", [
    ("/api/v1/votes?after_id=99999999999999999999", "after_id"),
    ("/api/v1/incidents?after_id=99999999999999999999", "after_id"),
    ("/api/v1/audit?before_id=99999999999999999999", "before_id"),
    ("/api/v1/audit?before_id=-99999999999999999999", "before_id"),
])
def test_a_query_integer_beyond_64_bits_is_a_field_error(world, path, field):
    error = refused(world, "GET", path)
    assert error["code"] == "validation_error"
    assert error["fields"][field][0] in ("Must be less than or equal to 9223372036854775807.",
                                         "Must be greater than or equal to -9223372036854775808.")


def test_a_body_integer_beyond_64_bits_is_a_field_error(world):
    error = refused(world, "POST", "/api/v1/me/tokens", json={"name": "script", "days": BIG, "password": "x"})
    assert error["fields"] == {"days": ["Must be less than or equal to 9223372036854775807."]}
    error = refused(world, "POST", "/api/v1/enrollment-codes", json={"counter": "DN-TT-Q1", "ttl_minutes": BIG})
    assert error["fields"] == {"ttl_minutes": ["From 1 minute to 7 days (10080 minutes)."]}
    for field in ("queue_depth", "last_seq", "dead_letters"):
        error = refused(world, "POST", "/api/v1/device/heartbeat", headers=world.device(),
                        json=heartbeat(**{field: BIG}))
        assert error["fields"] == {field: ["Must be less than or equal to 9223372036854775807."]}


def test_a_vote_with_a_huge_scale_version_or_rating_is_rejected_not_a_500(world):
    votes = [signed_vote(world, 1, scale_version=BIG), signed_vote(world, 2, rating=-BIG)]
    answer = world.client.post("/api/v1/votes/batch", headers=world.device(),
                               json={"device_time": "2026-11-27T09:20:00.000+07:00", "votes": votes})
    assert answer.status_code == 200
    assert [r["errors"] for r in answer.json["results"]] == [
        {"scale_version": ["Must be less than or equal to 9223372036854775807."]},
        {"rating": ["Must be greater than or equal to -9223372036854775808."]},
    ]


@pytest.mark.parametrize("path", ["/api/v1/me/tokens/99999999999999999999",
                                  "/api/v1/users/nobody/roles/99999999999999999999"])
def test_an_id_in_the_url_beyond_64_bits_is_no_such_address(world, path):
    assert refused(world, "DELETE", path, status=404)["code"] == "not_found"


@pytest.mark.parametrize("body", [
    '{"code": "X1", "name": "\\ud800"}',
    '{"code": "X1", "name": "ok", "\\udc00": 1}',
    '{"code": "X1", "name": ["\\uDFFF"]}',
])
def test_a_lone_surrogate_anywhere_in_a_body_is_not_json(world, body):
    error = refused(world, "POST", "/api/v1/units", data=body, content_type="application/json")
    assert error["code"] == "malformed_json"
    assert "lone surrogate" in error["message"]


def test_a_lone_surrogate_in_a_vote_fails_the_batch_not_the_server(world):
    vote = json.dumps(signed_vote(world, 1, ticket="HS-1")).replace("HS-1", "\\ud800")
    body = '{"device_time": "2026-11-27T09:20:00.000+07:00", "votes": [' + vote + "]}"
    error = refused(world, "POST", "/api/v1/votes/batch", headers=world.device(), data=body,
                    content_type="application/json")
    assert error["code"] == "malformed_json"


def test_an_escaped_surrogate_pair_is_one_character_and_welcome(world):
    answer = world.client.post("/api/v1/units", headers=world.admin(), content_type="application/json",
                               data='{"code": "X1", "name": "Quầy \\ud83d\\ude00"}')
    assert answer.status_code == 201 and answer.json["name"] == "Quầy \U0001f600"


BAD_CHARACTERS = ["a\x00b", "a\tb", "a\nb", "a\x7fb", "a\x85b", "a\u202eb", "\u2066a", "a\u2069"]
TEXT_FIELDS = [
    ("POST", "/api/v1/units", {"code": "X1", "name": "Đơn vị"}, "name"),
    ("PATCH", "/api/v1/units/DN-TT", {}, "name"),
    ("POST", "/api/v1/counters", {"code": "X1", "name": "Quầy", "unit": "DN-TT"}, "name"),
    ("PATCH", "/api/v1/counters/DN-TT-Q1", {}, "name"),
    ("POST", "/api/v1/staff", {"code": "X1", "full_name": "Tên", "unit": "DN-TT"}, "full_name"),
    ("POST", "/api/v1/staff", {"code": "X1", "full_name": "Tên", "unit": "DN-TT"}, "title"),
    ("PATCH", "/api/v1/staff/NV002", {}, "title"),
    ("POST", "/api/v1/users", {"username": "new1", "password": "a long enough password"}, "full_name"),
    ("PATCH", "/api/v1/users/nobody", {}, "full_name"),
    ("POST", "/api/v1/me/tokens", {"name": "script", "password": "x"}, "name"),
    ("POST", "/api/v1/enroll", {"code": "WJ6EP-ZYGHP", "public_key": "k" * 44, "proof": "p" * 88}, "app_version"),
    ("POST", "/api/v1/device/heartbeat", heartbeat(), "app_version"),
]


@pytest.mark.parametrize("method, path, body, field", TEXT_FIELDS, ids=lambda v: v if isinstance(v, str) else "")
def test_control_and_text_direction_characters_are_refused_in_every_text_field(world, method, path, body, field):
    headers = world.device() if "/device/" in path else world.admin()
    for text in BAD_CHARACTERS:
        error = refused(world, method, path, headers=headers, json={**body, field: text})
        assert error["code"] == "validation_error"
        assert error["fields"] == {field: [
            "No text-direction control characters (U+202A to U+202E, U+2066 to U+2069)." if text.strip("ab") in
            "\u202e\u2066\u2069" else "No line breaks or control characters."]}, text


def test_an_audit_filter_with_a_control_character_is_refused(world):
    error = refused(world, "GET", "/api/v1/audit?actor=admin%1b%5b2J")
    assert error["fields"] == {"actor": ["No line breaks or control characters."]}


def test_a_body_nested_100000_deep_is_malformed_json_not_a_recursion_error(world):
    deep = "[" * 100_000 + "]" * 100_000
    for path, headers in [("/api/v1/units", world.admin()), ("/api/v1/votes/batch", world.device())]:
        error = refused(world, "POST", path, headers=headers, data=deep, content_type="application/json")
        assert error == {"code": "malformed_json", "message": "The body is not valid JSON: nested deeper than 32 "
                         "levels.", "fields": {}}


def test_a_body_nested_just_past_the_limit_is_refused_and_at_the_limit_is_read(world):
    def batch(levels):  # the envelope, its list of votes, then a vote of objects inside objects
        vote = "{}"
        for _ in range(levels - 3):
            vote = '{"a": ' + vote + "}"
        return '{"device_time": "2026-11-27T09:20:00.000+07:00", "votes": [' + vote + "]}"

    error = refused(world, "POST", "/api/v1/votes/batch", headers=world.device(), data=batch(33),
                    content_type="application/json")
    assert error["code"] == "malformed_json"
    answer = world.client.post("/api/v1/votes/batch", headers=world.device(), data=batch(32),
                               content_type="application/json")
    assert answer.status_code == 200
    assert answer.json["results"][0]["status"] == "rejected"


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_nan_and_infinity_are_not_json(world, text):
    error = refused(world, "POST", "/api/v1/device/heartbeat", headers=world.device(),
                    data=json.dumps(heartbeat()).replace('"queue_depth": 0', f'"queue_depth": {text}'),
                    content_type="application/json")
    assert error["code"] == "malformed_json"


def test_a_body_without_a_content_type_is_415(world):
    error = refused(world, "POST", "/api/v1/device/heartbeat", status=415, headers=world.device(),
                    data=json.dumps(heartbeat()))
    assert error == {"code": "unsupported_media_type", "message": "Send the body as application/json.",
                     "fields": {}}


def chunked(world, data):
    """POST a body as a WSGI server (gunicorn) hands over a chunked request: no length, a terminated stream."""
    return world.client.post("/api/v1/device/heartbeat", headers={**world.device(), "Transfer-Encoding": "chunked"},
                             content_type="application/json", input_stream=io.BytesIO(data),
                             environ_overrides={"wsgi.input_terminated": True})


def test_a_chunked_body_over_the_limit_is_413_not_malformed_json(world):
    limit = world.app.config["MAX_CONTENT_LENGTH"]
    before = world.snapshot()
    body = json.dumps(heartbeat(app_version="x" * limit)).encode()
    answer = chunked(world, body)
    assert answer.status_code == 413
    assert answer.json["error"]["code"] == "body_too_large"
    assert world.snapshot() == before


def test_a_chunked_body_of_exactly_the_limit_is_read(world):
    limit = world.app.config["MAX_CONTENT_LENGTH"]
    body = json.dumps(heartbeat()).encode()
    answer = chunked(world, body + b" " * (limit - len(body)))
    assert answer.status_code == 200, answer.json
    assert chunked(world, body).status_code == 200
