"""A civil servant's own account: linked to their staff record, the staff role, and nothing of the admin pages."""

import pytest

from server import storage
from server.manage import account
from tests.live import hailong
from tests.people import app_for, sign_in

pytestmark = pytest.mark.backends

NEW = {"username": "nv002", "password": "a long enough password", "full_name": "Trần Văn Bình"}


def api(path, facts, role="admin"):
    return app_for(path).test_client(), {"Authorization": f"Bearer {facts['tokens'][role]}"}


def test_a_staff_account_is_made_linked_to_its_record_with_an_email(people):
    client, headers = api(*people)
    made = client.post("/api/v1/users", headers=headers, json={
        **NEW, "staff": "NV002", "email": "binh@example.vn", "roles": [{"role": "staff"}]})
    assert made.status_code == 201, made.json
    assert (made.json["staff"], made.json["email"]) == ("NV002", "binh@example.vn")
    assert [(r["role"], r["unit"]) for r in made.json["roles"]] == [("staff", None)]


def test_the_staff_role_needs_a_link_and_no_unit(people):
    client, headers = api(*people)
    unlinked = client.post("/api/v1/users", headers=headers, json={**NEW, "roles": [{"role": "staff"}]})
    assert unlinked.status_code == 400 and "roles" in unlinked.json["error"]["fields"]
    with_unit = client.post("/api/v1/users", headers=headers,
                            json={**NEW, "staff": "NV002", "roles": [{"role": "staff", "unit": "DN-TT"}]})
    assert with_unit.status_code == 400 and "roles" in with_unit.json["error"]["fields"]
    grant = client.post("/api/v1/users/nobody/roles", headers=headers, json={"role": "staff"})
    assert grant.status_code == 400
    assert client.get("/api/v1/users/nv002", headers=headers).status_code == 404


def test_a_staff_record_has_at_most_one_account(people):
    client, headers = api(*people)
    taken = client.post("/api/v1/users", headers=headers, json={**NEW, "staff": "NV001"})
    assert taken.status_code == 409
    assert taken.json["error"]["fields"] == {"staff": ["This staff member already has an account: staff."]}
    unknown = client.patch("/api/v1/users/nobody", headers=headers, json={"staff": "NV999"})
    assert unknown.status_code == 400 and "staff" in unknown.json["error"]["fields"]


def test_unlinking_waits_until_the_staff_role_is_gone(people):
    client, headers = api(*people)
    refused = client.patch("/api/v1/users/staff", headers=headers, json={"staff": None})
    assert refused.status_code == 409
    role_id = client.get("/api/v1/users/staff", headers=headers).json["roles"][0]["id"]
    assert client.delete(f"/api/v1/users/staff/roles/{role_id}", headers=headers).status_code == 200
    unlinked = client.patch("/api/v1/users/staff", headers=headers, json={"staff": None})
    assert unlinked.status_code == 200 and unlinked.json["staff"] is None


@pytest.mark.backends("sqlite")  # input checks or pages: no SQL of their own
def test_email_is_checked_and_can_be_changed_and_cleared(people):
    client, headers = api(*people)
    bad = client.patch("/api/v1/users/hr", headers=headers, json={"email": "not an address"})
    assert bad.status_code == 400 and "email" in bad.json["error"]["fields"]
    assert client.patch("/api/v1/users/hr", headers=headers, json={"email": "hr@dongnai.gov.vn"}).json["email"] \
        == "hr@dongnai.gov.vn"
    assert client.patch("/api/v1/users/hr", headers=headers, json={"email": ""}).json["email"] == ""


@pytest.mark.backends("sqlite")  # input checks or pages: no SQL of their own
def test_only_admins_link_accounts(people):
    client, headers = api(*people, role="hr")
    assert client.patch("/api/v1/users/nobody", headers=headers, json={"staff": "NV002"}).status_code == 403


def test_the_actor_of_a_staff_account_carries_its_staff_id_and_only_with_the_role(people):
    path, facts = people
    db = storage.connect(path)
    nv001 = db.execute("SELECT id FROM staff WHERE code = 'NV001'").fetchone()[0]
    actor = account.actor_for_token(db, facts["tokens"]["staff"], "127.0.0.1")
    assert actor.staff_id == nv001 and not actor.can("staff.read") and actor.can("self.read")
    db.execute("UPDATE users SET staff_id = ? WHERE username = 'hr'",
               [db.execute("SELECT id FROM staff WHERE code = 'NV002'").fetchone()[0]])
    assert account.actor_for_token(db, facts["tokens"]["hr"], "127.0.0.1").staff_id is None
    db.close()


def test_a_staff_user_signs_in_lands_on_their_own_page_and_reaches_no_admin_page(people):
    path, _facts = people
    client = app_for(path).test_client()
    assert sign_in(client, "staff").status_code == 302
    landing = client.get("/")
    assert landing.status_code == 302 and landing.headers["Location"].endswith("/me")
    own = client.get("/me", headers={"Accept-Language": "en"})
    assert own.status_code == 200 and "Nguyễn Thị Hồng Nhung" in own.get_data(as_text=True)
    for page in ("/admin/units", "/admin/counters", "/admin/staff", "/admin/devices", "/admin/users",
                 "/admin/audit"):
        assert client.get(page).status_code == 403, page
    assert client.get("/account").status_code == 200


@pytest.mark.backends("sqlite")  # input checks or pages: no SQL of their own
def test_others_have_no_own_page(people):
    path, _facts = people
    client = app_for(path).test_client()
    sign_in(client, "hr")
    assert client.get("/me").status_code == 403


def test_a_linked_record_is_not_deleted_under_its_account(people):
    client, headers = api(*people)
    client.post("/api/v1/users", headers=headers, json={**NEW, "staff": "NV003"})
    refused = client.delete("/api/v1/staff/NV003", headers=headers)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "has_account"


def test_the_cli_makes_and_links_a_staff_account(people):
    path, _facts = people
    made = hailong("--database", str(path), "user", "create", "--username", "nv002", "--role", "staff",
                   "--staff", "NV002", "--email", "binh@example.vn", "--password-stdin",
                   input="a long enough password\n")
    assert made.stdout.strip() == "Created user nv002 (staff)."
    changed = hailong("--database", str(path), "user", "update", "--username", "nobody", "--staff", "NV003",
                      "--email", "x@example.vn")
    assert changed.stdout.strip() == "Updated user nobody: e-mail x@example.vn, staff record NV003."
    bad = hailong("--database", str(path), "user", "update", "--username", "nobody", "--email", "nope", check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "e-mail" in bad.stderr


@pytest.mark.backends("sqlite")  # input checks or pages: no SQL of their own
def test_a_staff_user_gets_403_on_every_page_but_their_own_and_their_account(people):
    """Checked against the app's URL map, so a page added later is covered too."""
    path, facts = people
    app = app_for(path)
    client = app.test_client()
    sign_in(client, "staff")
    values = {"code": "NV001", "username": "staff", "flag_id": facts["flags"]["in"], "fmt": "csv",
              "objection_id": facts["objections"]["in"], "alert_id": facts["alerts"]["in"], "key": "2026-10",
              "revision": 1, "unit": "DN-TT", "period": "2026-10", "filename": "admin.css",
              "tree": "votes", "checkpoint_id": 1}
    own = ("web_auth.", "web_public.", "web_me.")
    checked = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.endpoint.startswith("web_") or rule.endpoint.startswith(own):
            continue
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})
        assert client.get(url).status_code == 403, url
        checked.append(url)
    assert "/admin/users" in checked and len(checked) > 10
