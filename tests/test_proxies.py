"""TRUSTED_PROXIES: behind the reverse proxy, the throttle and the audit log see the browser's address."""

import re

from server import storage
from tests.people import app_for

PROXY = "127.0.0.1"


def post_login(client, username, password, forwarded_for):
    """The sign-in form as nginx passes it on: the browser came over HTTPS, the proxy connects from 127.0.0.1."""
    headers = {"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https", "Accept-Language": "en",
               "Referer": "https://localhost/login"}  # Flask-WTF checks it on HTTPS, as browsers send it
    proxied = {"headers": headers, "environ_base": {"REMOTE_ADDR": PROXY}, "base_url": "https://localhost"}
    page = client.get("/login", **proxied).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token}, **proxied)


def failed_from(path):
    db = storage.connect(path)
    try:
        return [row[0] for row in db.execute("SELECT address FROM audit_log WHERE action = 'login_failed' ORDER BY id")]
    finally:
        db.close()


def test_behind_one_trusted_proxy_the_audit_log_and_throttle_see_the_browsers_address(people):
    path, _ = people
    client = app_for(path, TRUSTED_PROXIES=1, LOGIN_MAX_FAILURES_PER_ADDRESS=2, DEVELOPMENT=False).test_client()
    assert post_login(client, "hr", "bad password", "203.0.113.7").status_code == 401
    assert post_login(client, "manager", "bad password", "203.0.113.7").status_code == 401
    assert post_login(client, "auditor", "bad password", "203.0.113.7").status_code == 429
    # Another browser behind the same proxy is not locked out with it.
    assert post_login(client, "auditor", "bad password", "198.51.100.4").status_code == 401
    assert failed_from(path) == ["203.0.113.7", "203.0.113.7", "198.51.100.4"]


def test_a_client_that_forges_the_header_gains_nothing_when_no_proxy_is_trusted(people):
    path, _ = people
    client = app_for(path, LOGIN_MAX_FAILURES_PER_ADDRESS=2).test_client()
    for forged in ("203.0.113.1", "203.0.113.2"):
        assert post_login(client, "hr", "bad password", forged).status_code == 401
    assert post_login(client, "hr", "bad password", "203.0.113.3").status_code == 429
    assert failed_from(path) == [PROXY, PROXY]


def test_only_the_address_the_nearest_proxy_adds_is_believed(people):
    path, _ = people
    client = app_for(path, TRUSTED_PROXIES=1).test_client()
    post_login(client, "hr", "bad password", "10.66.66.66, 203.0.113.9")  # the first one the browser wrote itself
    assert failed_from(path) == ["203.0.113.9"]
