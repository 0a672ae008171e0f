"""POST /api/v1/votes/batch against a real `hailong serve` process over HTTP."""

import json

import pytest
import requests

from device_client import protocol, store
from tests.live import enroll_tablet, server_rows as database_rows

pytestmark = pytest.mark.backends


@pytest.fixture
def live_server(shared_server):
    return shared_server


@pytest.fixture
def tablet(live_server, tmp_path):
    tablet = enroll_tablet(live_server, tmp_path / "tablet")
    yield tablet
    tablet.close()


@pytest.fixture
def rows(live_server, tablet):
    """Query the server database, restricted to this test's device by ``device_id = :d``."""

    def run(sql):
        return server_rows(live_server, sql.replace(":d", "?"), [tablet.device_id] * sql.count(":d"))

    return run


def post(server, tablet, votes, device_time=None, token=None):
    return requests.post(
        server.url + "/api/v1/votes/batch",
        json={"device_time": device_time or protocol.format_local_time(), "votes": votes},
        headers={"Authorization": f"Bearer {token or tablet.identity['token']}"},
        timeout=10,
    )


def server_rows(server, sql, params=()):
    return database_rows(server.database, sql, params)


def vote_count(server, tablet):
    return server_rows(server, "SELECT COUNT(*) FROM votes WHERE device_id = ?", [tablet.device_id])[0][0]


def signed(tablet, **changes):
    """A vote made by ``record_vote``, with fields changed and re-signed."""
    vote = tablet.record_vote("NV001", 4)
    vote.update(changes)
    vote["signature"] = protocol.sign(tablet.key, protocol.canonical_vote_bytes(vote))
    return vote


def test_a_batch_is_stored_once_and_acknowledged(live_server, tablet, rows):
    votes = [tablet.record_vote("NV001", 4), tablet.record_vote("NV002", 1, ["long_wait"], "HS-9")]
    response = post(live_server, tablet, votes)
    assert response.status_code == 200
    body = response.json()
    assert body["ack_seq"] == 2
    assert [(r["seq"], r["status"]) for r in body["results"]] == [(1, "accepted"), (2, "accepted")]
    assert rows(
        "SELECT uuid, seq, rating, reasons, ticket, local_time, signature FROM votes"
        " WHERE device_id = :d ORDER BY id"
    ) == [
        (votes[0]["id"], 1, 4, "[]", None, votes[0]["local_time"], votes[0]["signature"]),
        (votes[1]["id"], 2, 1, '["long_wait"]', "HS-9", votes[1]["local_time"], votes[1]["signature"]),
    ]


def test_an_identical_resend_is_a_duplicate_and_stores_nothing(live_server, tablet, rows):
    votes = [tablet.record_vote("NV001", 4) for _ in range(3)]
    post(live_server, tablet, votes)
    again = post(live_server, tablet, votes).json()
    assert [r["status"] for r in again["results"]] == ["duplicate"] * 3
    assert again["ack_seq"] == 3
    assert vote_count(live_server, tablet) == 3
    assert rows("SELECT n_accepted, n_duplicate FROM sync_batches WHERE device_id = :d ORDER BY id") == [
        (3, 0), (0, 3),
    ]


def test_a_resent_vote_with_an_altered_rating_is_a_conflict_and_overwrites_nothing(live_server, tablet, rows):
    vote = tablet.record_vote("NV001", 4)
    post(live_server, tablet, [vote])
    altered = {**vote, "rating": 1}
    altered["signature"] = protocol.sign(tablet.key, protocol.canonical_vote_bytes(altered))
    result = post(live_server, tablet, [altered]).json()["results"][0]
    assert result["status"] == "conflict"
    assert rows("SELECT rating FROM votes WHERE device_id = :d") == [(4,)]
    incident = rows("SELECT kind, seq, item_uuid, detail FROM sync_incidents WHERE device_id = :d")
    assert incident[0][:3] == ("conflict", 1, vote["id"])
    assert "already used by a different vote" in json.loads(incident[0][3])["reason"]


def test_a_tablets_rapid_second_vote_is_stored_with_the_flag_and_answered_with_it(live_server, tablet, rows):
    votes = [tablet.record_vote("NV001", 4, min_interval=3600), tablet.record_vote("NV001", 4, min_interval=3600)]
    assert ["marks" in vote for vote in votes] == [False, True]
    results = post(live_server, tablet, votes).json()["results"]
    assert [(r["status"], r.get("flags")) for r in results] == [("accepted", None), ("accepted", ["rapid_repeat"])]
    assert rows("SELECT seq, flags FROM votes WHERE device_id = :d ORDER BY seq") == [(1, None), (2, "rapid_repeat")]


def test_a_mark_the_protocol_does_not_know_is_rejected_and_kept_as_an_incident(live_server, tablet, rows):
    vote = signed(tablet, marks=["self_vote"])
    result = post(live_server, tablet, [vote]).json()["results"][0]
    assert (result["status"], result["errors"]) == ("rejected", {"marks": {"0": ["Must be one of: rapid_repeat."]}})
    assert vote_count(live_server, tablet) == 0
    assert rows("SELECT kind, seq FROM sync_incidents WHERE device_id = :d") == [("rejected", 1)]


def test_a_seq_beyond_64_bits_is_rejected_and_kept_without_it(live_server, tablet, rows):
    """Found by tests/test_arbitrary_json.py: a refused item claiming seq 2**63 answered 500 on SQLite."""
    vote = {**signed(tablet), "seq": 2**63}
    result = post(live_server, tablet, [vote]).json()["results"][0]
    assert result["status"] == "rejected"
    assert rows("SELECT kind, seq FROM sync_incidents WHERE device_id = :d") == [("rejected", None)]


def test_an_altered_vote_without_a_new_signature_is_rejected(live_server, tablet):
    vote = tablet.record_vote("NV001", 4)
    result = post(live_server, tablet, [{**vote, "rating": 1}]).json()["results"][0]
    assert result["status"] == "rejected"
    assert result["errors"] == {"signature": ["The signature does not verify with this device's key."]}
    assert vote_count(live_server, tablet) == 0


def test_a_second_vote_claiming_a_used_sequence_number_is_a_conflict(live_server, tablet, rows):
    first = tablet.record_vote("NV001", 4)
    post(live_server, tablet, [first])
    impostor = signed(tablet, seq=1)
    result = post(live_server, tablet, [impostor]).json()["results"][0]
    assert result["status"] == "conflict"
    assert "sequence number 1 is already used" in result["errors"]["_vote"][0]
    assert rows("SELECT uuid FROM votes WHERE device_id = :d") == [(first["id"],)]


def test_one_bad_vote_does_not_block_the_others(live_server, tablet, rows):
    good = tablet.record_vote("NV001", 4)
    unknown_staff = signed(tablet, staff="NV999")
    other_counter = signed(tablet, counter="DN-BH-Q1")
    off_scale = signed(tablet, rating=9)
    wrong_type = {**tablet.record_vote("NV001", 4), "rating": "4"}
    unknown_field = {**tablet.record_vote("NV001", 4), "colour": "red"}
    body = post(live_server, tablet, [good, unknown_staff, other_counter, off_scale, wrong_type, unknown_field]).json()
    statuses = [(r["seq"], r["status"]) for r in body["results"]]
    assert statuses == [(1, "accepted"), (2, "rejected"), (3, "rejected"), (4, "rejected"), (5, "rejected"), (6, "rejected")]
    errors = [r.get("errors") for r in body["results"]]
    assert errors[1] == {"staff": ["No staff member has this code."]}
    assert errors[2]["counter"] == ["This device is enrolled at counter DN-TT-Q1."]
    assert errors[3] == {"rating": ["Not a level of rating scale 1."]}
    assert errors[4] == {"rating": ["Not a valid integer."]}
    assert errors[5] == {"colour": ["Unknown field."]}
    assert body["ack_seq"] == 6  # rejections are final answers: the mark moves past them
    assert vote_count(live_server, tablet) == 1
    kinds = rows("SELECT kind, seq FROM sync_incidents WHERE device_id = :d ORDER BY seq")
    assert kinds == [("rejected", 2), ("rejected", 3), ("rejected", 4), ("rejected", 5), ("rejected", 6)]


def test_a_vote_for_someone_deactivated_is_accepted_and_flagged(live_server, tablet, rows):
    vote = signed(tablet, staff="NV005")  # NV005 is inactive in the seeded org
    result = post(live_server, tablet, [vote]).json()["results"][0]
    assert result["status"] == "accepted"
    assert result["flags"] == ["staff_inactive"]
    assert rows("SELECT flags FROM votes WHERE device_id = :d") == [("staff_inactive",)]


def test_a_gap_in_the_sequence_is_recorded_and_resolved_when_filled(live_server, tablet, rows):
    votes = [tablet.record_vote("NV001", 4) for _ in range(4)]
    body = post(live_server, tablet, [votes[0], votes[3]]).json()
    assert body["ack_seq"] == 1
    gap = rows("SELECT kind, seq, detail, resolved_at FROM sync_incidents WHERE device_id = :d")
    assert gap[0][:2] == ("gap", 2)
    assert json.loads(gap[0][2]) == {"missing_from": 2, "missing_to": 3}
    assert gap[0][3] is None
    assert post(live_server, tablet, votes[1:3]).json()["ack_seq"] == 4
    assert rows("SELECT resolved_at IS NOT NULL FROM sync_incidents WHERE device_id = :d") == [(1,)]


def test_the_server_stores_receive_time_and_clock_offset(live_server, tablet, rows):
    vote = tablet.record_vote("NV001", 4)
    post(live_server, tablet, [vote], device_time="2020-01-01T07:00:00.000+07:00")
    received_at, offset = rows("SELECT received_at, clock_offset_ms FROM votes WHERE device_id = :d")[0]
    assert received_at.endswith("Z")
    assert offset > 6 * 365 * 24 * 3600 * 1000  # the tablet's clock is years behind


@pytest.mark.parametrize(
    "body, status, code, fields",
    [
        (b"{not json", 400, "malformed_json", {}),
        (b"[1, 2]", 400, "validation_error", {"_schema": ["Expected an object."]}),
        (json.dumps({"votes": []}).encode(), 400, "validation_error",
         {"device_time": ["Missing data for required field."]}),
        (json.dumps({"device_time": "yesterday", "votes": []}).encode(), 400, "validation_error",
         {"device_time": ["Not an ISO 8601 time with a UTC offset."]}),
        (json.dumps({"device_time": "2026-11-27T09:00:00+07:00", "votes": {}}).encode(), 400,
         "validation_error", {"votes": ["Not a valid list."]}),
        (json.dumps({"device_time": "2026-11-27T09:00:00+07:00", "votes": [], "x": 1}).encode(), 400,
         "validation_error", {"x": ["Unknown field."]}),
    ],
)
def test_bad_envelopes_get_an_error_and_change_nothing(live_server, tablet, rows, body, status, code, fields):
    response = requests.post(
        live_server.url + "/api/v1/votes/batch",
        data=body,
        headers={"Authorization": f"Bearer {tablet.identity['token']}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["fields"] == fields
    assert rows("SELECT COUNT(*) FROM sync_batches WHERE device_id = :d") == [(0,)]


def test_an_oversized_batch_is_refused_whole(live_server, tablet):
    vote = tablet.record_vote("NV001", 4)
    response = post(live_server, tablet, [vote] * 501)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "batch_too_large"
    assert vote_count(live_server, tablet) == 0


def test_an_oversized_body_gets_413_in_the_error_shape(live_server, tablet):
    response = requests.post(
        live_server.url + "/api/v1/votes/batch",
        data=b'{"pad": "' + b"x" * (3 * 1024 * 1024) + b'"}',
        headers={"Authorization": f"Bearer {tablet.identity['token']}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_unknown_or_missing_tokens_get_401(live_server, tablet):
    vote = tablet.record_vote("NV001", 4)
    for headers in [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}]:
        response = requests.post(
            live_server.url + "/api/v1/votes/batch",
            json={"device_time": protocol.format_local_time(), "votes": [vote]},
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    assert vote_count(live_server, tablet) == 0


def test_unknown_urls_and_methods_answer_in_the_error_shape(live_server):
    missing = requests.get(live_server.url + "/api/v1/nothing", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = requests.get(live_server.url + "/api/v1/votes/batch", timeout=10)
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


def test_the_outbox_is_emptied_by_a_sync(live_server, tablet, rows):
    from device_client.sync import sync_once

    for _ in range(1203):
        tablet.record_vote("NV002", 3)
    assert sync_once(tablet) == 1203
    assert store.queue_summary(tablet.conn)["queue_depth"] == 0
    assert vote_count(live_server, tablet) == 1203
    assert rows("SELECT n_items FROM sync_batches WHERE device_id = :d ORDER BY id") == [(500,), (500,), (203,)]
