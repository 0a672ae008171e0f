"""``POST /api/v1/device/sessions/batch`` and the kiosk's share of the device configuration."""

import hashlib

import pytest
import requests

from device_client import protocol
from server.manage.staff import reencode_photo
from tests.kiosk_live import portrait_png, set_pins_and_photo
from tests.live import enroll_tablet, hailong, server_rows

pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
def server(shared_server, tmp_path_factory):
    set_pins_and_photo(shared_server.database, tmp_path_factory.mktemp("pins"))
    return shared_server


@pytest.fixture
def tablet(server, tmp_path):
    device = enroll_tablet(server, tmp_path / "t")
    yield device
    device.close()


def signed(tablet, seq, **changes):
    event = {
        "id": protocol.uuid7(), "device": tablet.device_id, "seq": seq, "counter": "DN-TT-Q1",
        "staff": "NV001", "event": "sign_in", "reason": None,
        "local_time": protocol.format_local_time(), **changes,
    }
    event["signature"] = protocol.sign(tablet.key, protocol.canonical_session_bytes(event))
    return event


def post(server, tablet, events, token=None):
    return requests.post(
        server.url + "/api/v1/device/sessions/batch",
        json={"device_time": protocol.format_local_time(), "events": events},
        headers={"Authorization": f"Bearer {token or tablet.identity['token']}"},
        timeout=10,
    )


def stored(server, tablet):
    return server_rows(server.database, "SELECT seq, event, reason FROM staff_sessions WHERE device_id = ? ORDER BY seq",
                       [tablet.device_id])


def test_events_are_stored_once_and_acknowledged(server, tablet):
    events = [signed(tablet, 1), signed(tablet, 2, event="sign_out", reason="idle")]
    first = post(server, tablet, events)
    assert first.status_code == 200
    assert first.json()["ack_seq"] == 2
    assert [r["status"] for r in first.json()["results"]] == ["accepted", "accepted"]
    again = post(server, tablet, events)
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert stored(server, tablet) == [(1, "sign_in", None), (2, "sign_out", "idle")]


def test_another_event_under_a_used_sequence_number_is_a_conflict(server, tablet):
    post(server, tablet, [signed(tablet, 1)])
    answer = post(server, tablet, [signed(tablet, 1, staff="NV002")]).json()
    assert answer["results"][0]["status"] == "conflict"
    assert stored(server, tablet) == [(1, "sign_in", None)]


def test_bad_events_are_rejected_one_by_one_and_still_acknowledged(server, tablet):
    forged = signed(tablet, 2)
    forged["staff"] = "NV002"
    answer = post(server, tablet, [
        signed(tablet, 1, staff="NV999"), forged, signed(tablet, 3, counter="DN-BH-Q1"),
        signed(tablet, 4, event="dance"), signed(tablet, 5, event="lockout", reason="attempts"),
    ]).json()
    statuses = {r["seq"]: (r["status"], sorted(r.get("errors", {}))) for r in answer["results"]}
    assert statuses == {
        1: ("rejected", ["staff"]), 2: ("rejected", ["signature"]), 3: ("rejected", ["counter"]),
        4: ("rejected", ["event"]), 5: ("accepted", []),
    }
    assert answer["ack_seq"] == 5
    assert stored(server, tablet) == [(5, "lockout", "attempts")]


def test_a_gap_holds_the_acknowledgement_until_it_is_filled(server, tablet):
    assert post(server, tablet, [signed(tablet, 2)]).json()["ack_seq"] == 0
    assert post(server, tablet, [signed(tablet, 1)]).json()["ack_seq"] == 2


def test_an_unknown_token_gets_401(server, tablet):
    answer = post(server, tablet, [signed(tablet, 1)], token="nope")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def test_a_malformed_envelope_is_a_400_in_the_error_shape(server, tablet):
    answer = requests.post(
        server.url + "/api/v1/device/sessions/batch", json={"events": []},
        headers={"Authorization": f"Bearer {tablet.identity['token']}"}, timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"] == {"device_time": ["Missing data for required field."]}


def test_the_configuration_carries_pin_hashes_photo_hashes_and_kiosk_timings(server, tablet):
    config = tablet.refresh_config()
    people = {person["code"]: person for person in config["staff"]}
    assert people["NV001"]["pin_hash"].startswith("$argon2id$")
    assert people["NV003"]["pin_hash"] is None
    assert people["NV001"]["photo_sha256"] == hashlib.sha256(reencode_photo(portrait_png())).hexdigest()
    assert config["kiosk"]["vote_interval_seconds"] == 5
    assert config["kiosk"]["pin_max_attempts"] == 5


def test_the_photo_is_downloaded_once_and_only_for_the_own_unit(server, tablet):
    from device_client import staff

    path, content_type = staff.photo_path(tablet, "NV001")
    assert path.endswith(hashlib.sha256(reencode_photo(portrait_png())).hexdigest() + ".jpg")
    assert content_type == "image/jpeg"  # stored re-encoded on the server, served as such by the kiosk
    headers = {"Authorization": f"Bearer {tablet.identity['token']}"}
    own = requests.get(server.url + "/api/v1/device/staff/NV001/photo", headers=headers, timeout=10)
    assert own.status_code == 200 and own.headers["Content-Type"] == "image/jpeg"
    other = requests.get(server.url + "/api/v1/device/staff/NV004/photo", headers=headers, timeout=10)
    assert other.status_code == 404
    anonymous = requests.get(server.url + "/api/v1/device/staff/NV001/photo", timeout=10)
    assert anonymous.status_code == 401


def test_set_pin_reads_the_pin_twice_from_stdin_and_stores_only_a_hash(server):
    result = hailong("--database", server.database, "staff", "set-pin", "NV003", input="246810\n246810\n")
    assert "PIN set for NV003" in result.stdout
    pin_hash = server_rows(server.database, "SELECT pin_hash FROM staff WHERE code = 'NV003'")[0][0]
    assert pin_hash.startswith("$argon2id$") and "246810" not in pin_hash


def test_set_pin_refuses_short_pins_and_unknown_staff_readably(server):
    short = hailong("--database", server.database, "staff", "set-pin", "NV003", "--pin", "12", check=False)
    assert (short.returncode, short.stderr.strip()) == (1, "Error: A PIN has 4 to 8 digits.")
    unknown = hailong("--database", server.database, "staff", "set-pin", "NV999", "--pin", "1234", check=False)
    assert unknown.stderr.strip() == "Error: No staff member with this code."


def test_photo_checks_the_file_type_and_size(server, tmp_path):
    text = tmp_path / "photo.png"
    text.write_text("not a picture")
    wrong = hailong("--database", server.database, "staff", "photo", "NV002", str(text), check=False)
    assert wrong.stderr.strip() == "Error: The photo must be a JPEG, PNG or WebP image. (photo: Not a JPEG, PNG or WebP image.)"
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + b"0" * 600_000)
    too_big = hailong("--database", server.database, "staff", "photo", "NV002", str(big), check=False)
    assert too_big.stderr.strip() == "Error: The photo is larger than 512 KB. (photo: At most 512 KB.)"
    good = tmp_path / "good.png"
    good.write_bytes(portrait_png())
    assert "Photo stored for NV002" in hailong("--database", server.database, "staff", "photo", "NV002", str(good)).stdout
