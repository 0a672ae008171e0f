"""What goes wrong on a page is answered as a page, in the page's language, and never as a 500."""

import io

from tests.people import app_for, sign_in

BAD_CSV = b"kind,code,name,parent,title,active\nstaff,NV020,,DN-TT,,perhaps\n"


def test_a_page_address_that_does_not_exist_is_a_page_and_the_api_keeps_json(people):
    client = app_for(people[0]).test_client()
    page = client.get("/admin/nothing", headers={"Accept": "text/html", "Accept-Language": "vi"})
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "Không tìm thấy trang" in page.get_data(as_text=True)
    api = client.get("/api/v1/nothing", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.json["error"]["code"] == "not_found"


def test_a_tampered_role_or_token_id_is_refused_not_a_crash(people):
    client = app_for(people[0], WTF_CSRF_ENABLED=False).test_client()
    sign_in(client, "admin")
    role = client.post("/admin/users/hr", data={"action": "revoke", "role_id": "1 OR 1=1"})
    token = client.post("/account", data={"action": "revoke", "token_id": "<script>"})
    assert role.status_code == 404 and token.status_code == 404


def test_import_problems_are_listed_in_vietnamese(people):
    client = app_for(people[0], WTF_CSRF_ENABLED=False).test_client()
    sign_in(client, "admin")
    page = client.post("/admin/staff/import?lang=vi", data={"action": "preview", "file": (io.BytesIO(BAD_CSV), "o.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "dòng 2, cột name: bắt buộc" in page
    assert "dòng 2, cột active: &#39;perhaps&#39; không phải yes/no" in page


def test_an_id_too_large_for_the_database_is_refused_not_a_crash(people):
    client = app_for(people[0], WTF_CSRF_ENABLED=False).test_client()
    sign_in(client, "admin")
    assert client.post("/admin/users/hr", data={"action": "revoke", "role_id": "9" * 25}).status_code == 404


def test_device_list_writes_what_a_device_reported_as_escapes_not_terminal_codes(people):
    from server import storage
    from tests.live import hailong

    path, facts = people
    db = storage.connect(path)
    db.execute("UPDATE devices SET app_version = ? WHERE id = ?", ["1.0\x1b[2J\u202e", facts["devices"]["in"]])
    db.close()
    out = hailong("--database", str(path), "device", "list").stdout
    assert "\x1b" not in out and "\u202e" not in out and "1.0\\x1b[2J\\u202e" in out
