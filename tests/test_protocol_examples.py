"""The JSON examples in docs/protocol.md, sent to a real `hailong serve` as a tablet written elsewhere would.

Each ```json block after an ``<!-- example: NAME -->`` line is read from the
doc. Requests are sent as written (placeholders in ``<…>`` filled in);
answers are compared with the documented ones, exactly where the doc shows
the server's own words, and by shape (the same keys, the same JSON types)
where it shows values that vary. The batch example is the first test vector,
sent by a device that has the vectors' key, so the server checks its
signature too.
"""

import json
import pathlib
import re

import pytest
import requests

from device_client import protocol
from server import storage
from server.storage import devices as device_storage
from server.storage import org
from server.storage import votes as storage_votes
from tests.live import issue_code, server_rows

pytestmark = pytest.mark.backends

DOC = pathlib.Path(__file__).parent.parent / "docs" / "protocol.md"
KEY = protocol.signing_key_from_seed(bytes(range(32)))  # the test vectors' key
TOKEN = "doc-example-token"


def examples():
    text = DOC.read_text(encoding="utf-8")
    found = re.findall(r"^<!-- example: (.+?) -->\n```json\n(.*?)```", text, re.S | re.M)
    return {name: json.loads(block) for name, block in found}


EXAMPLES = examples()


def same_shape(documented, real):
    """The same keys and JSON types all the way down; a list's items each like one of the documented ones."""
    if isinstance(documented, dict):
        return isinstance(real, dict) and set(real) == set(documented) and all(
            same_shape(documented[key], real[key]) for key in documented)
    if isinstance(documented, list):
        return isinstance(real, list) and (not documented and not real or all(
            any(same_shape(item, got) for item in documented) for got in real))
    if documented is None:
        return real is None
    return type(real) is type(documented)


@pytest.fixture(scope="module")
def server(shared_server):
    """The real server, with the test vectors' device (dev-7k2m9q4x at DN-TT-Q1, enrolled long ago)."""
    db = storage.connect(shared_server.database)
    try:
        counter = org.counter_by_code(db, "DN-TT-Q1")
        device_storage.insert_device(db, "dev-7k2m9q4x", counter["id"], protocol.public_key_b64(KEY),
                                     device_storage.hash_secret(TOKEN), "2000-01-01T00:00:00.000Z", "0.1.0")
    finally:
        db.close()
    return shared_server


def post(server, path, body, token=TOKEN):
    return requests.post(server.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def enroll_request(server, key):
    code = issue_code(server.database)
    public = protocol.public_key_b64(key)
    return {**EXAMPLES["enroll request"], "code": code, "public_key": public,
            "proof": protocol.sign(key, protocol.enroll_proof_bytes(code, public))}


def test_the_doc_has_every_example_this_test_reads():
    assert set(EXAMPLES) == {"error", "enroll request", "enroll answer", "enroll bad proof", "batch request",
                             "batch answer", "conflict result", "heartbeat request", "heartbeat answer",
                             "marked batch request", "marked vote result"}


def test_the_documented_error_is_what_a_heartbeat_without_its_device_time_gets(server):
    beat = {k: v for k, v in EXAMPLES["heartbeat request"].items() if k != "device_time"}
    answer = post(server, "/api/v1/device/heartbeat", beat)
    assert answer.status_code == 400
    assert answer.json() == EXAMPLES["error"]


def test_the_documented_enrollment_gets_the_documented_answer(server):
    answer = requests.post(server.url + "/api/v1/enroll", json=enroll_request(server, protocol.new_signing_key()),
                           timeout=10)
    assert answer.status_code == 201
    assert same_shape(EXAMPLES["enroll answer"], answer.json())
    assert answer.json()["counter"] == "DN-TT-Q1"


def test_a_retried_enrollment_gets_a_new_token_and_the_earlier_one_stops_working(server):
    request = enroll_request(server, protocol.new_signing_key())
    first = requests.post(server.url + "/api/v1/enroll", json=request, timeout=10).json()
    again = requests.post(server.url + "/api/v1/enroll", json=request, timeout=10).json()
    assert again["device_id"] == first["device_id"] and again["token"] != first["token"]
    config = server.url + "/api/v1/device/config"
    assert requests.get(config, headers={"Authorization": f"Bearer {first['token']}"}, timeout=10).status_code == 401
    assert requests.get(config, headers={"Authorization": f"Bearer {again['token']}"}, timeout=10).status_code == 200


def test_a_proof_that_does_not_verify_gets_the_documented_answer(server):
    request = enroll_request(server, protocol.new_signing_key())
    other = protocol.new_signing_key()
    request["proof"] = protocol.sign(other, protocol.enroll_proof_bytes(request["code"], request["public_key"]))
    answer = requests.post(server.url + "/api/v1/enroll", json=request, timeout=10)
    assert answer.status_code == 400
    assert answer.json() == EXAMPLES["enroll bad proof"]


def test_the_documented_batch_is_accepted_with_the_documented_shape(server):
    answer = post(server, "/api/v1/votes/batch", EXAMPLES["batch request"])
    assert answer.status_code == 200
    assert same_shape(EXAMPLES["batch answer"], answer.json())
    assert [r["status"] for r in answer.json()["results"]] in (["accepted"], ["duplicate"])


def test_a_changed_resend_gets_the_documented_conflict(server):
    post(server, "/api/v1/votes/batch", EXAMPLES["batch request"])
    vote = {**EXAMPLES["batch request"]["votes"][0], "ticket": "HS-2026-000124"}
    vote["signature"] = protocol.sign(KEY, protocol.canonical_vote_bytes(vote))
    answer = post(server, "/api/v1/votes/batch", {**EXAMPLES["batch request"], "votes": [vote]})
    assert answer.json()["results"] == [EXAMPLES["conflict result"]]


def test_the_documented_marked_vote_is_stored_with_its_flag(server):
    answer = post(server, "/api/v1/votes/batch", EXAMPLES["marked batch request"])
    assert answer.status_code == 200
    (result,) = answer.json()["results"]
    assert result == EXAMPLES["marked vote result"] or result == {**EXAMPLES["marked vote result"],
                                                                  "status": "duplicate"}
    flags = server_rows(server.database, "SELECT flags FROM votes WHERE uuid = ?", [result["id"]])[0][0]
    assert storage_votes.stored_flags(flags) == ["rapid_repeat"]


def test_a_stored_marked_vote_is_verified_again_from_its_row(server):
    post(server, "/api/v1/votes/batch", EXAMPLES["marked batch request"])
    sent = EXAMPLES["marked batch request"]["votes"][0]
    row = server_rows(
        server.database,
        "SELECT v.uuid, v.device_id, v.seq, c.code, s.code, v.rating, v.reasons, v.ticket, v.local_time,"
        " v.scale_version, v.flags, v.signature FROM votes v JOIN counters c ON c.id = v.counter_id"
        " JOIN staff s ON s.id = v.staff_id WHERE v.uuid = ?", [sent["id"]])[0]
    names = ("id", "device", "seq", "counter", "staff", "rating", "reasons", "ticket", "local_time", "scale_version")
    rebuilt = {**dict(zip(names, row[:10])), "reasons": json.loads(row[6]),
               "marks": protocol.marks_from_flags(storage_votes.stored_flags(row[10]))}
    assert rebuilt == {key: value for key, value in sent.items() if key != "signature"}
    assert protocol.Verifier(protocol.public_key_b64(KEY)).verify(protocol.canonical_vote_bytes(rebuilt), row[11])


def test_a_marked_vote_stripped_of_its_mark_is_rejected_on_its_signature(server):
    vote = {**EXAMPLES["marked batch request"]["votes"][0], "id": "01936b2e-a005-7000-8000-0000000000ff", "seq": 46}
    vote["signature"] = protocol.sign(KEY, protocol.canonical_vote_bytes(vote))  # a new, marked, signed vote
    del vote["marks"]  # and a man in the middle takes the mark off
    answer = post(server, "/api/v1/votes/batch", {**EXAMPLES["marked batch request"], "votes": [vote]})
    (result,) = answer.json()["results"]
    assert result["status"] == "rejected"
    assert result["errors"] == {"signature": ["The signature does not verify with this device's key."]}


def test_an_empty_batch_answers_the_ack_and_is_recorded(server):
    def batches():
        return server_rows(server.database, "SELECT COUNT(*) FROM sync_batches WHERE device_id = 'dev-7k2m9q4x'")[0][0]

    before = batches()
    answer = post(server, "/api/v1/votes/batch", {**EXAMPLES["batch request"], "votes": []})
    assert answer.status_code == 200
    assert answer.json()["results"] == [] and type(answer.json()["ack_seq"]) is int
    assert batches() == before + 1


def test_the_documented_heartbeat_gets_the_documented_answer(server):
    beat = EXAMPLES["heartbeat request"]
    answer = post(server, "/api/v1/device/heartbeat", beat)
    assert answer.status_code == 200
    assert same_shape(EXAMPLES["heartbeat answer"], answer.json())
    # What the doc says is optional is, and any offset is a time.
    required = {k: beat[k] for k in ("device_time", "app_version", "queue_depth")}
    assert post(server, "/api/v1/device/heartbeat", required).status_code == 200
    utc = {**beat, "oldest_unsent_at": "2026-11-27T02:19:58.002Z"}
    assert post(server, "/api/v1/device/heartbeat", utc).status_code == 200
    assert post(server, "/api/v1/device/heartbeat", {**beat, "battery": 80}).json()["error"]["fields"] == {
        "battery": ["Unknown field."]}


def test_a_body_without_a_content_type_gets_415(server):
    answer = requests.post(server.url + "/api/v1/device/heartbeat", data=json.dumps(EXAMPLES["heartbeat request"]),
                           headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert "Content-Type" not in answer.request.headers
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_media_type"


def test_a_chunked_body_over_the_limit_gets_413_not_malformed_json(server):
    limit = 2 * 2**20  # MAX_CONTENT_LENGTH's default
    body = json.dumps({**EXAMPLES["heartbeat request"], "app_version": "x" * limit}).encode()

    def chunks():  # a generator: requests sends it chunked, with no Content-Length
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    answer = requests.post(server.url + "/api/v1/device/heartbeat", data=chunks(), timeout=30,
                           headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert answer.request.headers["Transfer-Encoding"] == "chunked"
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"
