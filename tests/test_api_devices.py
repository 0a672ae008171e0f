"""Enrollment, configuration, heartbeats, revocation and rate limits, over real HTTP."""

import datetime as dt

import pytest
import requests

from device_client import protocol, sync, transport
from device_client.tablet import VoteError, enroll
from server import storage
from devtools.processes import Server
from tests.live import enroll_tablet, hailong, issue_code, seed_org, server_rows


@pytest.fixture
def live_server(shared_server):
    return shared_server


def enroll_body(code, key=None):
    key = key or protocol.new_signing_key()
    public = protocol.public_key_b64(key)
    return {
        "code": code,
        "public_key": public,
        "proof": protocol.sign(key, protocol.enroll_proof_bytes(code, public)),
        "app_version": "test",
    }


@pytest.mark.backends
def test_enrollment_gives_an_id_and_a_token_whose_hash_alone_is_stored(live_server, tmp_path):
    tablet = enroll_tablet(live_server, tmp_path / "t")
    token = tablet.identity["token"]
    row = server_rows(live_server.database,
                      "SELECT token_hash, public_key, status FROM devices WHERE id = ?", [tablet.device_id])[0]
    assert row[0] != token and len(row[0]) == 64
    assert row[1] == protocol.public_key_b64(tablet.key)
    assert row[2] == "active"
    assert tablet.config["counter"]["code"] == "DN-TT-Q1"


@pytest.mark.backends
def test_a_used_code_is_refused_with_a_clear_message(live_server, tmp_path):
    code = issue_code(live_server.database)
    enroll(str(tmp_path / "first"), live_server.url, code)
    with pytest.raises(transport.ServerError) as refused:
        enroll(str(tmp_path / "second"), live_server.url, code)
    assert refused.value.status == 409
    assert refused.value.message == "This enrollment code has already been used."


@pytest.mark.backends
def test_an_expired_code_is_refused(live_server):
    code = issue_code(live_server.database)
    db = storage.connect(live_server.database)
    db.execute("UPDATE enrollment_codes SET expires_at = '2020-01-01T00:00:00.000Z'")
    db.close()
    response = requests.post(live_server.url + "/api/v1/enroll", json=enroll_body(code), timeout=10)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "code_expired"


@pytest.mark.backends
def test_an_unknown_code_or_a_wrong_proof_is_refused(live_server):
    unknown = requests.post(live_server.url + "/api/v1/enroll", json=enroll_body("NOPE-NOPE"), timeout=10)
    assert unknown.status_code == 400
    assert unknown.json()["error"]["fields"] == {"code": ["Unknown code."]}
    code = issue_code(live_server.database)
    body = enroll_body(code)
    body["proof"] = enroll_body(code)["proof"]  # signed by another key
    wrong = requests.post(live_server.url + "/api/v1/enroll", json=body, timeout=10)
    assert wrong.status_code == 400
    assert wrong.json()["error"]["fields"] == {"proof": ["Signature does not verify."]}
    # the code was not used up by the failed attempt
    assert requests.post(live_server.url + "/api/v1/enroll", json=enroll_body(code), timeout=10).status_code == 201


@pytest.mark.backends
def test_the_config_lists_the_units_active_staff_and_the_scale(live_server, tmp_path):
    config = enroll_tablet(live_server, tmp_path / "t").refresh_config()
    assert config["counter"] == {"code": "DN-TT-Q1", "name": "Quầy 1 – Đất đai"}
    assert [u["code"] for u in config["unit"]["path"]] == ["DN", "DN-TT"]
    assert [s["code"] for s in config["staff"]] == ["NV001", "NV002", "NV003"]
    assert config["staff"][0]["full_name"] == "Nguyễn Thị Hồng Nhung"
    assert config["scale"]["version"] == 1
    assert [level["label_vi"] for level in config["scale"]["levels"]] == [
        "Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng",
    ]


@pytest.mark.backends
def test_a_heartbeat_records_queue_version_and_clock(live_server, tmp_path):
    tablet = enroll_tablet(live_server, tmp_path / "t")
    tablet.record_vote("NV001", 4)
    answer = tablet.heartbeat()
    assert answer["ack_seq"] == 0
    row = server_rows(
        live_server.database,
        "SELECT queue_depth, oldest_unsent_at IS NOT NULL, app_version, last_heartbeat_at IS NOT NULL,"
        " clock_offset_ms FROM devices WHERE id = ?",
        [tablet.device_id],
    )[0]
    assert row[:4] == (1, 1, "0.1.0", 1)
    assert abs(row[4]) < 5000
    assert tablet.status()["clock_offset_ms"] is not None


@pytest.mark.backends
def test_a_revoked_device_gets_401_everywhere_and_its_votes_stay(live_server, tmp_path):
    tablet = enroll_tablet(live_server, tmp_path / "t")
    tablet.record_vote("NV001", 4)
    assert sync.sync_once(tablet) == 1
    result = hailong("--database", str(live_server.database), "device", "revoke", tablet.device_id)
    assert f"Revoked {tablet.device_id}" in result.stdout
    tablet.record_vote("NV001", 3)
    with pytest.raises(sync.Revoked):
        sync.sync_once(tablet)
    for call in (tablet.heartbeat, tablet.refresh_config):
        with pytest.raises(transport.ServerError) as refused:
            call()
        assert refused.value.status == 401
    assert server_rows(live_server.database, "SELECT COUNT(*) FROM votes WHERE device_id = ?",
                       [tablet.device_id]) == [(1,)]
    status = tablet.status()
    assert status["revoked"] is True and status["queue_depth"] == 1


# SQLite only, as the next: the tablet's offline cache is the tablet's; the bucket on PostgreSQL, with two
# servers spending it at once, is tests/test_two_servers_ingest.py's.
def test_the_tablet_records_votes_from_its_cache_while_the_server_is_down(tmp_path, db_path):
    seed_org(db_path, tmp_path)
    server = Server(db_path).start()
    try:
        tablet = enroll_tablet(server, tmp_path / "t")
    finally:
        server.stop()
    tablet.close()
    from device_client.tablet import Tablet

    restarted = Tablet(str(tmp_path / "t"))  # as after a tablet reboot, server still down
    restarted.record_vote("NV002", 2, ["long_wait"])
    with pytest.raises(transport.Unreachable):
        sync.sync_once(restarted)
    with pytest.raises(VoteError):
        restarted.record_vote("NV004", 4)  # not on this counter's roster
    server.start()
    try:
        assert sync.sync_once(restarted) == 1
        assert restarted.status()["queue_depth"] == 0
    finally:
        server.stop()


def test_a_flooding_device_gets_429_with_retry_after_and_nothing_stored(tmp_path, db_path):
    seed_org(db_path, tmp_path)
    server = Server(db_path, settings={"DEVICE_RATE_PER_MINUTE": 6, "DEVICE_RATE_BURST": 2}).start()
    try:
        tablet = enroll_tablet(server, tmp_path / "t")
        statuses = []
        for _ in range(4):
            vote = tablet.record_vote("NV001", 4)
            response = requests.post(
                server.url + "/api/v1/votes/batch",
                json={"device_time": protocol.format_local_time(), "votes": [vote]},
                headers={"Authorization": f"Bearer {tablet.identity['token']}"},
                timeout=10,
            )
            statuses.append(response.status_code)
        assert statuses == [200, 200, 429, 429]
        assert response.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(response.headers["Retry-After"]) <= 10
        assert server_rows(db_path, "SELECT COUNT(*) FROM votes") == [(2,)]
    finally:
        server.stop()


@pytest.mark.backends
def test_the_enrollment_code_expires_after_its_ttl(db):
    from server.manage.actor import cli_actor
    from server.manage import devices
    from server.settings import DEFAULTS

    db.execute("INSERT INTO units (code, name, created_at, updated_at) VALUES ('U', 'U', 'x', 'x')")
    db.execute(
        "INSERT INTO counters (code, name, unit_id, created_at, updated_at) VALUES ('C', 'C', 1, 'x', 'x')"
    )
    issued = devices.issue_code(db, cli_actor(), {"counter": "C", "ttl_minutes": 30}, DEFAULTS)
    code, expires = issued["code"], issued["expires_at"]
    delta = protocol.parse_time(expires) - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(minutes=29) < delta <= dt.timedelta(minutes=30)
    assert len(code) == 11 and code[5] == "-"


@pytest.mark.backends
def test_an_enrollment_whose_answer_was_lost_can_be_retried_with_the_same_code(live_server, tmp_path):
    from devtools.faultproxy import FaultProxy

    code = issue_code(live_server.database)
    data = str(tmp_path / "t")
    with FaultProxy(live_server.port, drop=1.0) as proxy:
        with pytest.raises(transport.Unreachable):
            enroll(data, proxy.url, code)  # the server enrolled it; the answer was lost
        proxy.heal()
        tablet = enroll(data, proxy.url, code)
    devices = server_rows(
        live_server.database,
        "SELECT id FROM devices WHERE id IN (SELECT device_id FROM enrollment_codes WHERE device_id IS NOT NULL)"
        " AND public_key = ?", [protocol.public_key_b64(tablet.key)])
    assert devices == [(tablet.device_id,)]  # one device, not an orphan plus a new one
    tablet.identity["server"] = live_server.url
    tablet.heartbeat()  # the reissued token works


@pytest.mark.backends
def test_a_replayed_enrollment_cannot_take_over_a_working_tablet(live_server, tmp_path):
    code = issue_code(live_server.database)
    key = protocol.new_signing_key()
    body = enroll_body(code, key)
    first = requests.post(live_server.url + "/api/v1/enroll", json=body, timeout=10).json()
    requests.post(
        live_server.url + "/api/v1/device/heartbeat",
        json={"device_time": protocol.format_local_time(), "app_version": "t", "queue_depth": 0},
        headers={"Authorization": f"Bearer {first['token']}"},
        timeout=10,
    ).raise_for_status()
    replay = requests.post(live_server.url + "/api/v1/enroll", json=body, timeout=10)
    assert replay.status_code == 409
    assert replay.json()["error"]["code"] == "code_used"
