"""Sign-in, cookies, CSRF, session expiry, throttling, password change, personal API tokens."""

import pytest

from server import storage
from tests.people import PASSWORD, app_for, csrf_token, sign_in, signed_in


def test_signing_in_sets_a_secure_httponly_samesite_cookie_and_opens_the_pages(people):
    path, _ = people
    client = app_for(path, DEVELOPMENT=False).test_client()
    response = sign_in(client, "admin")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").headers["Location"] == "/dashboard"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert client.get("/admin/units").status_code == 200


def test_development_mode_drops_only_the_secure_flag(people):
    path, _ = people
    cookie = sign_in(app_for(path).test_client(), "admin").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_someone_without_roles_lands_on_their_account_page(people):
    path, _ = people
    client = app_for(path).test_client()
    sign_in(client, "nobody")
    assert client.get("/").headers["Location"] == "/account"
    assert client.get("/account").status_code == 200
    assert client.get("/admin/units").status_code == 403


def test_pages_send_anonymous_visitors_to_the_sign_in_page(people):
    path, _ = people
    response = app_for(path).test_client().get("/admin/staff")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_a_wrong_password_is_refused_with_one_message_and_audited(people):
    path, _ = people
    client = app_for(path).test_client()
    wrong = sign_in(client, "admin", "not the password", address="10.0.0.9")
    unknown = sign_in(client, "ghost", "not the password", address="10.0.0.9")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Wrong username or password." in response.get_data(as_text=True)
    db = storage.connect(path)
    rows = db.execute(
        "SELECT actor_kind, actor, address, action FROM audit_log WHERE action = 'login_failed' ORDER BY id"
    ).fetchall()
    assert rows == [("anonymous", "admin", "10.0.0.9", "login_failed"), ("anonymous", "ghost", "10.0.0.9", "login_failed")]


def test_an_account_is_locked_after_too_many_failures_even_with_the_right_password(people):
    path, _ = people
    client = app_for(path, LOGIN_MAX_FAILURES=2, LOGIN_LOCK_MINUTES=7).test_client()
    assert sign_in(client, "hr", "bad password 1", address="10.0.0.1").status_code == 401
    assert sign_in(client, "hr", "bad password 2", address="10.0.0.2").status_code == 401
    locked = sign_in(client, "hr", PASSWORD, address="10.0.0.3")
    assert locked.status_code == 429
    assert "Too many failed sign-ins. Try again in 7 minutes." in locked.get_data(as_text=True)
    assert sign_in(client, "admin", PASSWORD, address="10.0.0.3").status_code == 302


def test_an_address_is_throttled_across_accounts(people):
    path, _ = people
    client = app_for(path, LOGIN_MAX_FAILURES_PER_ADDRESS=2).test_client()
    assert sign_in(client, "hr", "bad password", address="10.9.9.9").status_code == 401
    assert sign_in(client, "manager", "bad password", address="10.9.9.9").status_code == 401
    assert sign_in(client, "admin", PASSWORD, address="10.9.9.9").status_code == 429
    assert sign_in(client, "admin", PASSWORD, address="10.9.9.8").status_code == 302


def test_forms_without_the_csrf_token_are_refused_and_change_nothing(people):
    path, _ = people
    client = app_for(path).test_client()
    sign_in(client, "admin")
    refused = client.post("/admin/units", data={"code": "NEW", "name": "New unit"})
    assert refused.status_code == 400
    assert client.get("/api/v1/units/NEW").status_code == 404
    token = csrf_token(client, "/admin/units")
    accepted = client.post("/admin/units", data={"code": "NEW", "name": "New unit", "csrf_token": token})
    assert accepted.status_code == 302
    assert client.get("/api/v1/units/NEW").json["name"] == "New unit"


def test_the_sign_in_form_itself_needs_the_csrf_token(people):
    path, _ = people
    client = app_for(path).test_client()
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/api/v1/me").status_code == 401


def test_the_api_on_a_session_cookie_needs_the_csrf_header_but_a_token_does_not(people):
    path, facts = people
    client = app_for(path).test_client()
    sign_in(client, "admin")
    body = {"code": "NEW", "name": "New unit"}
    refused = client.post("/api/v1/units", json=body)
    assert refused.status_code == 400 and refused.json["error"]["code"] == "csrf_failed"
    token = csrf_token(client, "/admin/units")
    assert client.post("/api/v1/units", json=body, headers={"X-CSRFToken": token}).status_code == 201
    bearer = {"Authorization": f"Bearer {facts['tokens']['admin']}"}
    other = app_for(path).test_client()
    assert other.post("/api/v1/units", json={"code": "NEW2", "name": "x"}, headers=bearer).status_code == 201


@pytest.mark.backends  # sessions and tokens: their SQL
def test_a_session_ends_when_idle_too_long(people):
    path, _ = people
    client = app_for(path).test_client()
    sign_in(client, "admin")
    assert client.get("/api/v1/me").status_code == 200
    db = storage.connect(path)
    db.execute("UPDATE user_sessions SET expires_at = '2000-01-01T00:00:00.000Z'")
    db.close()
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/admin/units").headers["Location"].startswith("/login")


@pytest.mark.backends  # sessions and tokens: their SQL
def test_a_session_with_zero_idle_minutes_expires_at_once(people):
    path, _ = people
    client = app_for(path, SESSION_IDLE_MINUTES=0).test_client()
    assert sign_in(client, "admin").status_code == 302
    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.backends  # sessions and tokens: their SQL
def test_signing_out_ends_the_session_server_side(people):
    path, _ = people
    client = app_for(path).test_client()
    sign_in(client, "admin")
    cookie = client.get_cookie("hailong_session").value
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/units")})
    replay = app_for(path).test_client()
    replay.set_cookie("hailong_session", cookie)
    assert replay.get("/api/v1/me").status_code == 401


@pytest.mark.backends  # sessions and tokens: their SQL
def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(people):
    path, _ = people
    first, second = app_for(path).test_client(), app_for(path).test_client()
    sign_in(first, "hr")
    sign_in(second, "hr")
    headers = {"X-CSRFToken": csrf_token(first, "/account")}
    wrong = first.post("/api/v1/me/password", json={"current_password": "nope", "new_password": "a new long password"},
                       headers=headers)
    assert wrong.status_code == 400 and wrong.json["error"]["fields"] == {"current_password": ["Wrong password."]}
    short = first.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "short"},
                       headers=headers)
    assert short.status_code == 400 and "new_password" in short.json["error"]["fields"]
    ok = first.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "a new long password"},
                    headers=headers)
    assert ok.status_code == 204
    assert first.get("/api/v1/me").status_code == 200
    assert second.get("/api/v1/me").status_code == 401
    assert sign_in(app_for(path).test_client(), "hr", PASSWORD).status_code == 401
    assert sign_in(app_for(path).test_client(), "hr", "a new long password").status_code == 302


@pytest.mark.backends  # sessions and tokens: their SQL
def test_a_token_is_shown_once_stored_hashed_and_works_until_revoked(people):
    path, facts = people
    client, csrf = signed_in(path, "admin")
    created = client.post("/api/v1/me/tokens", json={"name": "export", "days": 5, "password": PASSWORD},
                          headers=csrf)
    assert created.status_code == 201
    secret = created.json["token"]
    assert secret.startswith("hlu_") and created.json["prefix"] == secret[:10]
    listed = client.get("/api/v1/me/tokens").get_data(as_text=True)
    assert secret not in listed and "export" in listed
    db = storage.connect(path)
    assert db.execute("SELECT COUNT(*) FROM api_tokens WHERE token_hash = ?", [secret]).fetchone()[0] == 0
    db.close()
    mine = {"Authorization": f"Bearer {secret}"}
    other = app_for(path).test_client()
    assert other.get("/api/v1/units", headers=mine).status_code == 200
    revoked = client.delete(f"/api/v1/me/tokens/{created.json['id']}", headers=csrf)
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    assert other.get("/api/v1/units", headers=mine).status_code == 401


@pytest.mark.backends  # sessions and tokens: their SQL
def test_an_expired_token_is_refused(people):
    path, facts = people
    db = storage.connect(path)
    db.execute("UPDATE api_tokens SET expires_at = '2000-01-01T00:00:00.000Z'")
    db.close()
    response = app_for(path).test_client().get(
        "/api/v1/me", headers={"Authorization": f"Bearer {facts['tokens']['admin']}"})
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"


def test_a_token_cannot_outlive_the_maximum_and_cannot_revoke_someone_elses(people):
    path, facts = people
    client, csrf = signed_in(path, "hr", API_TOKEN_MAX_DAYS=30)
    too_long = client.post("/api/v1/me/tokens", json={"name": "x", "days": 31, "password": PASSWORD}, headers=csrf)
    assert too_long.status_code == 400 and too_long.json["error"]["fields"] == {"days": ["At most 30 days."]}
    admins = client.get("/api/v1/me/tokens", headers={"Authorization": f"Bearer {facts['tokens']['admin']}"})
    admin_token_id = admins.json["tokens"][0]["id"]
    hr = {"Authorization": f"Bearer {facts['tokens']['hr']}"}
    assert app_for(path).test_client().delete(f"/api/v1/me/tokens/{admin_token_id}", headers=hr).status_code == 404


def test_a_token_acts_with_its_owners_scope(people):
    path, facts = people
    client = app_for(path).test_client()
    manager = {"Authorization": f"Bearer {facts['tokens']['manager']}"}
    codes = [c["code"] for c in client.get("/api/v1/counters", headers=manager).json["counters"]]
    assert codes == ["DN-TT-Q1", "DN-TT-Q2"]


@pytest.mark.backends  # sessions and tokens: their SQL
def test_a_deactivated_users_tokens_and_sessions_stop_working(people):
    path, facts = people
    client = app_for(path).test_client()
    sign_in(client, "hr")
    admin = {"Authorization": f"Bearer {facts['tokens']['admin']}"}
    assert client.patch("/api/v1/users/hr", json={"active": False}, headers=admin).status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    hr = {"Authorization": f"Bearer {facts['tokens']['hr']}"}
    assert app_for(path).test_client().get("/api/v1/me", headers=hr).status_code == 401


def test_passwords_are_hashed_with_argon2id_at_its_recommended_cost():
    from tests.people import PRODUCTION_HASHER

    encoded = PRODUCTION_HASHER.hash("correct horse battery staple")
    assert encoded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PRODUCTION_HASHER.verify(encoded, "correct horse battery staple")
