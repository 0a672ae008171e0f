"""A lost enrollment answer may be asked for again – only before the token is used at all, and only
for a few minutes – so a replayed request cannot take the device's token away."""

import datetime as dt

import pytest
import requests

from device_client import protocol
from server import storage
from server.sync.enrollment import RETRY_MINUTES
from tests.live import issue_code


def enroll_body(code, key):
    public = protocol.public_key_b64(key)
    return {"code": code, "public_key": public, "proof": protocol.sign(key, protocol.enroll_proof_bytes(code, public)),
            "app_version": "0.1.0"}


def enroll(server, body):
    return requests.post(server.url + "/api/v1/enroll", json=body, timeout=10)


def config_fetch(server, token):
    return requests.get(server.url + "/api/v1/device/config", headers={"Authorization": f"Bearer {token}"},
                        timeout=10)


@pytest.mark.backends
def test_a_retry_before_any_call_gets_a_new_token_and_the_first_stops_working(shared_server):
    body = enroll_body(issue_code(shared_server.database), protocol.new_signing_key())
    first = enroll(shared_server, body).json()
    retried = enroll(shared_server, body)
    assert retried.status_code == 201 and retried.json()["device_id"] == first["device_id"]
    assert config_fetch(shared_server, first["token"]).status_code == 401
    assert config_fetch(shared_server, retried.json()["token"]).status_code == 200


@pytest.mark.backends
def test_a_replay_after_a_configuration_fetch_cannot_swap_the_token(shared_server):
    body = enroll_body(issue_code(shared_server.database), protocol.new_signing_key())
    first = enroll(shared_server, body).json()
    assert config_fetch(shared_server, first["token"]).status_code == 200  # no heartbeat, no batch: only this
    replay = enroll(shared_server, body)
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "code_used"
    assert config_fetch(shared_server, first["token"]).status_code == 200


@pytest.mark.backends
def test_a_replay_after_the_retry_minutes_cannot_swap_an_unused_token(shared_server):
    body = enroll_body(issue_code(shared_server.database), protocol.new_signing_key())
    first = enroll(shared_server, body).json()
    db = storage.connect(shared_server.database)
    late = storage.timestamp(storage.now_utc() - dt.timedelta(minutes=RETRY_MINUTES + 1))
    db.execute("UPDATE devices SET enrolled_at = ?, last_seen_at = ? WHERE id = ?", [late, late, first["device_id"]])
    db.close()
    replay = enroll(shared_server, body)
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "code_used"
    assert config_fetch(shared_server, first["token"]).status_code == 200


def test_devices_heard_from_before_the_upgrade_count_as_having_used_their_token(tmp_path):
    from migrations import migrations

    db = storage.connect(tmp_path / "old.db")
    migrations.apply(db, stop_before="accounts_003_device_token_first_use")
    db.execute("INSERT INTO units (code, name, created_at, updated_at) VALUES ('U', 'U', 't', 't')")
    db.execute("INSERT INTO counters (code, name, unit_id, created_at, updated_at) VALUES ('C', 'C', 1, 't', 't')")
    for device, seen in (("dev-working", "t2"), ("dev-fresh", "t1")):
        db.execute("INSERT INTO devices (id, counter_id, public_key, token_hash, enrolled_at, last_seen_at)"
                   " VALUES (?, 1, 'k', ?, 't1', ?)", [device, device, seen])
    migrations.apply(db)
    assert db.execute("SELECT id, token_used_at FROM devices ORDER BY id").fetchall() == [
        ("dev-fresh", None), ("dev-working", "t2")]
