"""The admin pages in headless Chromium against a real ``hailong serve``.

The main flow of the issue: the first admin, made with ``hailong user
create``, signs in, creates a unit, a counter and a staff member, issues an
enrollment code, a real tablet enrolls with the code read from the page,
the device shows up online, the admin revokes it. The pages on a phone are
tests/test_admin_phone.py.
"""

import pytest

from device_client import transport
from device_client.tablet import enroll
from tests.admin_live import submit
from devtools.processes import Server
from tests.live import hailong

PASSWORD = "first sign-in password"  # never holding the username (admin)


@pytest.fixture
def admin_server(db_path, tmp_path):
    hailong("--database", str(db_path), "user", "create", "--username", "admin", "--role", "admin",
            "--full-name", "Quản trị viên", "--password-stdin", input=PASSWORD + "\n")
    server = Server(db_path, settings={"DEVELOPMENT": "true"}, log_path=tmp_path / "serve.log").start()
    yield server
    server.stop()


def sign_in(page, server):
    page.goto(server.url + "/lang/en?next=/admin/units")
    assert page.url.startswith(server.url + "/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/admin/units")


def test_first_admin_sets_up_a_counter_and_enrolls_then_revokes_a_tablet(admin_server, page, tmp_path):
    server = admin_server
    sign_in(page, server)

    submit(page, "#new-unit", code="QN-TT", name="Trung tâm Phục vụ hành chính công Quảng Ninh")
    page.wait_for_selector("text=QN-TT")

    page.goto(server.url + "/admin/counters")
    submit(page, "#new-counter", code="QN-TT-Q1", name="Quầy 1 – Hộ tịch", unit="QN-TT")
    page.wait_for_selector("a:has-text('QN-TT-Q1')")

    page.goto(server.url + "/admin/staff")
    submit(page, "#new-staff", code="QN001", full_name="Nguyễn Văn An", title="Chuyên viên", unit="QN-TT")
    page.wait_for_selector("a:has-text('QN001')")

    page.goto(server.url + "/admin/devices")
    submit(page, "#issue-code", counter="QN-TT-Q1")
    code = page.text_content("#enroll-code").strip()
    assert page.locator(".qr svg").count() == 1

    tablet = enroll(str(tmp_path / "tablet"), server.url, code)
    assert tablet.config["counter"]["code"] == "QN-TT-Q1"
    assert [s["code"] for s in tablet.config["staff"]] == ["QN001"]

    page.goto(server.url + "/admin/devices")
    row = page.locator(f"tr[data-device='{tablet.device_id}']")
    assert row.locator(".state").text_content().strip() == "online"
    assert "QN-TT-Q1" in row.text_content()

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button:has-text('Revoke')").click()
    page.wait_for_selector(f"tr[data-device='{tablet.device_id}'] .state-revoked")
    with pytest.raises(transport.ServerError) as refused:
        tablet.heartbeat()
    assert refused.value.status == 401
    tablet.close()

    page.goto(server.url + "/admin/audit")
    actions = page.locator("#audit").text_content()
    for action in ("login", "create", "issue_code", "revoke"):
        assert action in actions


# --- Page flows through the Flask test client (fast; no browser needed) -----


def _form(client, path, data):
    from tests.people import csrf_token

    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)},
                       headers={"Accept-Language": "en"}, content_type="multipart/form-data")


def test_the_import_page_previews_problems_then_applies_only_on_confirm(people):
    import io
    import re

    from tests.people import app_for, sign_in

    path, _ = people
    client = app_for(path).test_client()
    sign_in(client, "admin")
    bad = _form(client, "/admin/staff/import", {"action": "preview", "file": (
        io.BytesIO(b"kind,code,name,parent,title,active\nstaff,NV060,X,NOWHERE,,\n"), "org.csv")})
    assert bad.status_code == 400 and "NOWHERE" in bad.get_data(as_text=True)
    good = _form(client, "/admin/staff/import", {"action": "preview", "file": (
        io.BytesIO("kind,code,name,parent,title,active\nstaff,NV060,Lý Thị Mai,DN-TT,,\n".encode()), "org.csv")})
    text = good.get_data(as_text=True)
    assert good.status_code == 200 and "Preview" in text
    assert client.get("/api/v1/staff/NV060").status_code == 404
    upload = re.search(r'name="upload" value="([^"]+)"', text).group(1)
    applied = _form(client, "/admin/staff/import", {"action": "apply", "upload": upload})
    assert applied.status_code == 200 and "Applied" in applied.get_data(as_text=True)
    assert client.get("/api/v1/staff/NV060").json["full_name"] == "Lý Thị Mai"


def test_the_staff_page_deactivates_and_refuses_to_delete_someone_with_votes(people):
    from tests.people import app_for, sign_in

    path, _ = people
    client = app_for(path).test_client()
    sign_in(client, "hr")
    refused = _form(client, "/admin/staff/NV001", {"action": "delete"})
    assert refused.status_code == 409 and "deactivate them instead" in refused.get_data(as_text=True)
    saved = _form(client, "/admin/staff/NV001", {"action": "save", "full_name": "Nguyễn Thị Hồng Nhung",
                                                 "title": "Chuyên viên", "unit": "DN-TT"})
    assert saved.status_code == 302
    assert client.get("/api/v1/staff/NV001").json["active"] is False


def test_a_page_for_another_units_object_is_a_plain_404(people):
    from tests.people import app_for, sign_in

    path, _ = people
    client = app_for(path).test_client()
    sign_in(client, "manager")
    response = client.get("/admin/counters/DN-BH-Q1")
    assert response.status_code == 404 and "Quầy 1 – Tổng hợp" not in response.get_data(as_text=True)
    assert client.get("/admin/users").status_code == 403
