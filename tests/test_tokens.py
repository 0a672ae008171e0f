"""Personal API tokens die with the password and the account, are made only by a person who
enters their password at a signed-in session, and admins can see and revoke anyone's."""

import pytest

from server import storage
from tests.people import PASSWORD, app_for, csrf_token, sign_in, signed_in, snapshot

pytestmark = pytest.mark.backends

NEW_PASSWORD = "a fresh long passphrase"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def works(path, token):
    return app_for(path).test_client().get("/api/v1/me", headers=bearer(token)).status_code == 200


def audit(path, action):
    db = storage.connect(path)
    try:
        return db.execute("SELECT actor_kind, actor, object_id, after FROM audit_log WHERE action = ? ORDER BY id",
                          [action]).fetchall()
    finally:
        db.close()


def make_token(client, csrf, password=PASSWORD, name="script"):
    return client.post("/api/v1/me/tokens", json={"name": name, "password": password}, headers=csrf)


def test_changing_your_password_revokes_every_token_of_yours(people):
    path, facts = people
    client, csrf = signed_in(path, "hr")
    second = make_token(client, csrf).json["token"]
    assert works(path, facts["tokens"]["hr"]) and works(path, second)
    changed = client.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                          headers=csrf)
    assert changed.status_code == 204
    assert not works(path, facts["tokens"]["hr"]) and not works(path, second)
    assert works(path, facts["tokens"]["manager"])
    assert [row[:3] for row in audit(path, "password_changed")] == [("user", "hr", "hr")]
    assert '"tokens_revoked": 2' in audit(path, "password_changed")[0][3]


def test_an_admin_reset_revokes_the_users_tokens(people):
    path, facts = people
    admin = app_for(path).test_client()
    reset = admin.patch("/api/v1/users/auditor", json={"password": NEW_PASSWORD},
                        headers=bearer(facts["tokens"]["admin"]))
    assert reset.status_code == 200
    assert not works(path, facts["tokens"]["auditor"])


def test_deactivating_revokes_tokens_and_reactivating_revives_none(people):
    path, facts = people
    admin = app_for(path).test_client()
    headers = bearer(facts["tokens"]["admin"])
    assert admin.patch("/api/v1/users/manager", json={"active": False}, headers=headers).status_code == 200
    assert admin.patch("/api/v1/users/manager", json={"active": True}, headers=headers).status_code == 200
    assert not works(path, facts["tokens"]["manager"])
    listed = admin.get("/api/v1/users/manager/tokens", headers=headers).json["tokens"]
    assert [bool(t["revoked_at"]) for t in listed] == [True]


@pytest.mark.backends("sqlite")  # input checks or pages: no SQL of their own
def test_a_token_can_neither_make_a_token_nor_change_the_password(people):
    path, facts = people
    client = app_for(path).test_client()
    db = storage.connect(path)
    before = snapshot(db)
    made = client.post("/api/v1/me/tokens", json={"name": "x", "password": PASSWORD},
                       headers=bearer(facts["tokens"]["admin"]))
    changed = client.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                          headers=bearer(facts["tokens"]["admin"]))
    for response in (made, changed):
        assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    assert snapshot(db) == before
    db.close()


def test_a_token_needs_the_password_entered_again_and_a_wrong_one_is_audited(people):
    path, _ = people
    client, csrf = signed_in(path, "auditor")
    missing = client.post("/api/v1/me/tokens", json={"name": "x"}, headers=csrf)
    assert missing.status_code == 400 and "password" in missing.json["error"]["fields"]
    wrong = make_token(client, csrf, password="not my password")
    assert wrong.status_code == 400 and wrong.json["error"]["fields"] == {"password": ["Wrong password."]}
    assert [row[:3] for row in audit(path, "token_create_failed")] == [("user", "auditor", "auditor")]
    assert make_token(client, csrf).status_code == 201


def test_wrong_passwords_at_the_account_page_count_with_the_sign_in_throttle(people):
    path, _ = people
    client, csrf = signed_in(path, "hr", LOGIN_MAX_FAILURES=3)
    for guess in ("guess one", "guess two"):
        response = client.post("/api/v1/me/password", json={"current_password": guess, "new_password": NEW_PASSWORD},
                               headers=csrf)
        assert response.status_code == 400
    assert make_token(client, csrf, password="guess three").status_code == 400
    locked = client.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                         headers=csrf)
    assert locked.status_code == 429 and locked.json["error"]["code"] == "too_many_attempts"
    assert make_token(client, csrf).status_code == 429
    assert sign_in(app_for(path, LOGIN_MAX_FAILURES=3).test_client(), "hr").status_code == 429
    assert [row[:3] for row in audit(path, "password_change_failed")] == [("user", "hr", "hr")] * 2
    assert len(audit(path, "token_create_failed")) == 1


@pytest.mark.backends("sqlite")  # input checks or pages: no SQL of their own
def test_the_account_page_makes_a_token_only_with_the_password(people):
    path, _ = people
    client = app_for(path).test_client()
    sign_in(client, "hr")
    form = {"action": "token", "name": "export", "csrf_token": csrf_token(client, "/account")}
    refused = client.post("/account", data={**form, "password": "not it"}, headers={"Accept-Language": "en"})
    assert refused.status_code == 400 and "Wrong password." in refused.get_data(as_text=True)
    made = client.post("/account", data={**form, "password": PASSWORD})
    assert made.status_code == 200
    assert "hlu_" in made.get_data(as_text=True)


def test_an_admin_lists_and_revokes_anyones_tokens(people):
    path, facts = people
    client = app_for(path).test_client()
    headers = bearer(facts["tokens"]["admin"])
    listed = client.get("/api/v1/users/hr/tokens", headers=headers)
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json["tokens"]] == [facts["token_ids"]["hr"]]
    assert facts["tokens"]["hr"] not in listed.get_data(as_text=True)
    elsewhere = client.delete(f"/api/v1/users/manager/tokens/{facts['token_ids']['hr']}", headers=headers)
    assert elsewhere.status_code == 404
    revoked = client.delete(f"/api/v1/users/hr/tokens/{facts['token_ids']['hr']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    assert not works(path, facts["tokens"]["hr"])
    assert [row[:3] for row in audit(path, "token_revoked")] == [("token", "admin", str(facts["token_ids"]["hr"]))]


def test_an_admin_revokes_a_users_token_on_their_page(people):
    path, facts = people
    client = app_for(path).test_client()
    sign_in(client, "admin")
    page = client.get("/admin/users/auditor", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "API tokens" in page and facts["tokens"]["auditor"][:10] in page
    done = client.post("/admin/users/auditor", data={"action": "revoke_token", "csrf_token": csrf_token(
        client, "/admin/users/auditor"), "token_id": str(facts["token_ids"]["auditor"])})
    assert done.status_code == 302
    assert not works(path, facts["tokens"]["auditor"])
    other = client.post("/admin/users/auditor", data={"action": "revoke_token", "csrf_token": csrf_token(
        client, "/admin/users/auditor"), "token_id": str(facts["token_ids"]["hr"])})
    assert other.status_code == 404 and works(path, facts["tokens"]["hr"])
