"""The sign-in throttle: guesses reserved before the password is checked, names checked before
anything is counted, refusals aggregated in the audit log, old failures forgotten."""

import concurrent.futures
import re
import threading

import pytest
import requests

from devtools.processes import Server
from server import storage
from tests.people import PASSWORD, PRODUCTION_HASHER, app_for, sign_in

pytestmark = pytest.mark.backends


def rows(path, sql, params=()):
    db = storage.connect(path)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def audit_actions(path):
    return [row[0] for row in rows(path, "SELECT action FROM audit_log ORDER BY id")]


@pytest.fixture
def slow_hash_server(people, tmp_path):
    """A real server whose admin has a production-cost password hash (~0.6 s a check), as in the field."""
    path, _ = people
    db = storage.connect(path)
    db.execute("UPDATE users SET password_hash = ? WHERE username = 'admin'", [PRODUCTION_HASHER.hash(PASSWORD)])
    db.close()
    server = Server(path, workers=2, threads=16, settings={"DEVELOPMENT": "true"},
                    log_path=tmp_path / "serve.log").start()
    yield server
    server.stop()


def test_thirty_parallel_wrong_passwords_get_exactly_the_five_guesses_the_limit_allows(slow_hash_server):
    server = slow_hash_server
    start = threading.Barrier(30)

    def guess(number):
        with requests.Session() as browser:
            form = browser.get(server.url + "/login", timeout=30).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
            start.wait(timeout=60)
            return browser.post(server.url + "/login", timeout=120, allow_redirects=False,
                                data={"username": "admin", "password": f"wrong guess {number}", "csrf_token": token}
                                ).status_code

    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        statuses = sorted(pool.map(guess, range(30)))
    assert statuses == [401] * 5 + [429] * 25
    path = server.database
    assert audit_actions(path).count("login_failed") == 5
    assert throttled(path) == [("user", "admin", 25)]


@pytest.mark.backends("sqlite")  # input checks or pages: no SQL of their own
def test_a_900_kb_username_is_refused_before_anything_is_counted_or_logged(people):
    path, _ = people
    before = audit_actions(path)
    client = app_for(path).test_client()
    for name in ("x" * 900_000, "a" * 65, "ad min", "ad\x00min", "adm'in", "ádmin"):
        response = sign_in(client, name, "whatever it is", address="10.0.0.5")
        assert response.status_code == 401
        assert "Wrong username or password." in response.get_data(as_text=True)
    assert audit_actions(path) == before
    assert rows(path, "SELECT COUNT(*) FROM login_failures") == [(0,)]


def test_a_name_in_capitals_with_spaces_around_is_the_same_account(people):
    path, _ = people
    assert sign_in(app_for(path).test_client(), "  Admin ").status_code == 302


def throttled(path):
    """``(object_type, object_id, times)`` of the login_throttled entries, oldest first."""
    return rows(path, "SELECT a.object_type, a.object_id, n.count FROM audit_log a JOIN audit_counts n"
                      " ON n.audit_id = a.id WHERE a.action = 'login_throttled' ORDER BY a.id")


def test_refused_attempts_make_one_audit_entry_per_account_and_window_with_their_count(people):
    path, _ = people
    client = app_for(path, LOGIN_MAX_FAILURES=2, LOGIN_LOCK_MINUTES=15).test_client()
    for number in range(2):
        assert sign_in(client, "hr", f"bad password {number}", address=f"10.0.1.{number}").status_code == 401
    for number in range(40):
        assert sign_in(client, "hr", PASSWORD, address=f"10.0.2.{number}").status_code == 429
    assert audit_actions(path).count("login_failed") == 2
    entries = rows(path, "SELECT actor_kind, actor, address, object_type, object_id, after FROM audit_log"
                         " WHERE action = 'login_throttled'")
    assert len(entries) == 1  # written at the first refusal, counted on since
    kind, actor, address, object_type, object_id, after = entries[0]
    assert (kind, actor, address, object_type, object_id) == ("anonymous", "hr", "10.0.2.0", "user", "hr")
    assert '"limit": "account"' in after
    assert throttled(path) == [("user", "hr", 40)]
    # The API shows the count with the entry.
    from tests.people import token_for

    db = storage.connect(path)
    token = token_for(db, "admin")
    db.close()
    shown = app_for(path).test_client().get("/api/v1/audit?action=login_throttled",
                                             headers={"Authorization": f"Bearer {token}"}).json["entries"]
    assert shown[0]["after"]["times"] == 40 and shown[0]["after"]["limit"] == "account"
    # Once the window is over, the next refusal opens another entry.
    db = storage.connect(path)
    db.execute("UPDATE audit_counts SET first_at = '2000-01-01T00:00:00.000Z'")
    db.close()
    assert sign_in(client, "hr", PASSWORD, address="10.0.3.1").status_code == 429
    assert throttled(path) == [("user", "hr", 40), ("user", "hr", 1)]


def test_an_address_trying_many_accounts_is_one_entry_for_the_address(people):
    path, _ = people
    client = app_for(path, LOGIN_MAX_FAILURES_PER_ADDRESS=3).test_client()
    for name in ("hr", "manager", "auditor"):
        assert sign_in(client, name, "bad password", address="10.9.9.9").status_code == 401
    for number in range(30):
        assert sign_in(client, f"user{number}", "bad password", address="10.9.9.9").status_code == 429
    assert throttled(path) == [("address", "10.9.9.9", 30)]


def test_failures_older_than_the_window_are_deleted_by_the_next_attempt(people):
    path, _ = people
    client = app_for(path).test_client()
    sign_in(client, "hr", "bad password", address="10.0.0.1")
    db = storage.connect(path)
    db.execute("UPDATE login_failures SET created_at = '2000-01-01T00:00:00.000Z'")
    db.close()
    sign_in(client, "manager", "bad password", address="10.0.0.2")
    assert rows(path, "SELECT username FROM login_failures") == [("manager",)]


def test_a_right_password_leaves_no_failure_behind(people):
    path, _ = people
    client = app_for(path, LOGIN_MAX_FAILURES=2).test_client()
    for _ in range(4):
        assert sign_in(client, "hr").status_code == 302
    assert rows(path, "SELECT COUNT(*) FROM login_failures") == [(0,)]
