"""The kiosk's local service on its own, through Flask's test client over an offline tablet."""

import pytest

from device_client.kiosk import create_app
from tests.kiosk_live import offline_tablet


@pytest.fixture
def client(tmp_path):
    offline_tablet(tmp_path).close()
    app = create_app(str(tmp_path), {"TESTING": True})
    with app.test_client() as client:
        yield client
    app.extensions["kiosk"].close()


def test_a_vote_the_server_would_refuse_is_refused_at_the_tap_with_a_400(client):
    assert client.post("/api/staff/sign-in", json={"staff": "NV001", "pin": "1234"}).status_code == 200
    refused = client.post("/api/vote", json={"key": "citizen-key-1", "rating": True, "reasons": []})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "invalid_vote"
    assert "rating: Not a valid integer." in refused.get_json()["error"]["message"]
    assert client.get("/api/state").get_json()["queue"] == 0
