"""The admin JSON API beyond permissions: validation, staff rules, photos, import, devices, OpenAPI."""

import hashlib
import io
import re

import pytest

from server import storage
from tests.images import image_bytes
from tests.people import app_for, insert_vote

pytestmark = pytest.mark.backends

ORG_GOOD = "kind,code,name,parent,title,active\nunit,DN-NEW,Bộ phận mới,DN,,\nstaff,NV050,Hồ Thị Lan,DN-NEW,Chuyên viên,\n"
ORG_BAD = "kind,code,name,parent,title,active\nstaff,NV051,Ai Đó,NOWHERE,,\nbogus,X,Y,,,\n"


def api(path, facts, role="admin"):
    client = app_for(path).test_client()
    headers = {"Authorization": f"Bearer {facts['tokens'][role]}"}
    return client, headers


@pytest.mark.backends("sqlite")  # input checks or pages: no SQL of their own
def test_unknown_and_server_owned_fields_are_rejected(people):
    client, headers = api(*people)
    unknown = client.post("/api/v1/staff", json={"code": "NV070", "full_name": "A", "unit": "DN-TT", "pin": "1"},
                          headers=headers)
    assert unknown.status_code == 400
    assert unknown.json["error"]["fields"] == {"pin": ["Unknown field."]}
    for field, value in (("id", 99), ("created_at", "2020-01-01T00:00:00Z"), ("has_photo", True)):
        owned = client.post("/api/v1/staff", json={"code": "NV070", "full_name": "A", "unit": "DN-TT", field: value},
                            headers=headers)
        assert owned.status_code == 400 and field in owned.json["error"]["fields"]
    patch = client.patch("/api/v1/staff/NV001", json={"code": "NV999"}, headers=headers)
    assert patch.status_code == 400 and patch.json["error"]["fields"] == {"code": ["Unknown field."]}
    assert client.get("/api/v1/staff/NV070", headers=headers).status_code == 404


def test_someone_with_votes_is_never_deleted_only_deactivated(people):
    client, headers = api(*people)
    refused = client.delete("/api/v1/staff/NV001", headers=headers)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "has_votes"
    deactivated = client.patch("/api/v1/staff/NV001", json={"active": False}, headers=headers)
    assert deactivated.status_code == 200 and deactivated.json["active"] is False
    assert client.get("/api/v1/staff/NV001", headers=headers).json["full_name"] == "Nguyễn Thị Hồng Nhung"


def test_a_mistaken_record_without_votes_can_be_deleted(people):
    client, headers = api(*people)
    assert client.delete("/api/v1/staff/NV002", headers=headers).status_code == 204
    assert client.get("/api/v1/staff/NV002", headers=headers).status_code == 404


def _photo(client, headers, data, name="p.bin"):
    return client.put("/api/v1/staff/NV002/photo", headers=headers, content_type="multipart/form-data",
                      data={"photo": (io.BytesIO(data), name)})


@pytest.mark.backends("sqlite")  # input checks or pages: no SQL of their own
def test_photos_are_checked_by_their_bytes_not_their_name(people):
    path, facts = people
    client = app_for(path, PHOTO_MAX_BYTES=4000).test_client()
    headers = {"Authorization": f"Bearer {facts['tokens']['hr']}"}
    gif = _photo(client, headers, b"GIF89a" + b"\x00" * 20, "looks.png")
    assert gif.status_code == 415 and gif.json["error"]["fields"] == {"photo": ["Not a JPEG, PNG or WebP image."]}
    big = _photo(client, headers, b"\xff\xd8\xff" + b"\x00" * 4000, "big.jpg")
    assert big.status_code == 413 and big.json["error"]["code"] == "photo_too_large"
    webp = image_bytes("WEBP", (40, 50))
    ok = _photo(client, headers, webp, "x")
    assert ok.status_code == 200 and ok.json["content_type"] == "image/jpeg"  # stored re-encoded
    shown = client.get("/api/v1/staff/NV002/photo", headers=headers)
    assert shown.mimetype == "image/jpeg" and shown.data[:3] == b"\xff\xd8\xff"
    assert hashlib.sha256(shown.data).hexdigest() == ok.json["sha256"]
    assert client.get("/api/v1/staff/NV002", headers=headers).json["has_photo"] is True


def test_an_import_is_previewed_and_applied_only_when_asked(people):
    client, headers = api(*people)

    def upload(text, query=""):
        return client.post(f"/api/v1/staff/import{query}", headers=headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(text.encode()), "org.csv")})

    bad = upload(ORG_BAD, "?apply=1")
    assert bad.status_code == 400 and bad.json["error"]["code"] == "import_rejected"
    assert len(bad.json["error"]["fields"]["file"]) >= 2 and bad.json["error"]["fields"]["file"][0].startswith("line ")
    hostile = upload("PK\x03\x04 not really a workbook")
    assert hostile.status_code == 400
    preview = upload(ORG_GOOD)
    assert preview.json["applied"] is False and preview.json["summary"]["staff"]["created"] == 1
    assert client.get("/api/v1/staff/NV050", headers=headers).status_code == 404
    applied = upload(ORG_GOOD, "?apply=1")
    assert applied.json["applied"] is True
    assert client.get("/api/v1/staff/NV050", headers=headers).json["unit"] == "DN-NEW"


def test_a_unit_cannot_move_under_its_own_subtree(people):
    client, headers = api(*people)
    response = client.patch("/api/v1/units/DN", json={"parent": "DN-TT"}, headers=headers)
    assert response.status_code == 400
    assert response.json["error"]["fields"] == {"parent": ["A unit cannot move under itself."]}


def test_the_last_admin_cannot_be_deactivated_or_lose_the_role(people):
    client, headers = api(*people)
    assert client.patch("/api/v1/users/admin", json={"active": False}, headers=headers).status_code == 409
    role_id = client.get("/api/v1/users/admin", headers=headers).json["roles"][0]["id"]
    assert client.delete(f"/api/v1/users/admin/roles/{role_id}", headers=headers).status_code == 409


def test_two_admins_deactivating_each_other_at_once_leave_one(people):
    """The check and the change are one transaction, queued (on PostgreSQL by an advisory lock)."""
    import concurrent.futures
    import threading

    from server.errors import Conflict
    from server.manage import users
    from server.manage.actor import cli_actor
    from tests.people import CONFIG, create_user

    path, _facts = people
    db = storage.connect(path)
    create_user(db, "admin2", "admin", None)
    db.close()
    start = threading.Barrier(2)

    def deactivate(username):
        db = storage.connect(path)
        try:
            start.wait(timeout=30)
            users.update_user(db, cli_actor(), username, {"active": False}, CONFIG)
            return "done"
        except Conflict:
            return "refused"
        finally:
            db.close()

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(deactivate, ["admin", "admin2"])) == ["done", "refused"]
    db = storage.connect(path)
    assert db.execute("SELECT COUNT(*) FROM users WHERE active = 1 AND username IN ('admin', 'admin2')"
                      ).fetchone()[0] == 1
    db.close()


@pytest.mark.backends("sqlite")  # input checks or pages: no SQL of their own
def test_roles_other_than_admin_need_a_unit(people):
    client, headers = api(*people)
    response = client.post("/api/v1/users/nobody/roles", json={"role": "hr"}, headers=headers)
    assert response.status_code == 400 and "roles" in response.json["error"]["fields"]
    response = client.post("/api/v1/users/nobody/roles", json={"role": "admin", "unit": "DN"}, headers=headers)
    assert response.status_code == 400


def test_devices_show_online_silent_and_revoked(people):
    path, facts = people
    db = storage.connect(path)
    db.execute("UPDATE devices SET silent_since = '2026-01-01T00:00:00.000Z' WHERE id = ?", [facts["devices"]["in2"]])
    db.close()
    client, headers = api(path, facts)
    client.post(f"/api/v1/devices/{facts['devices']['out']}/revoke", headers=headers)
    states = {d["id"]: d["state"] for d in client.get("/api/v1/devices", headers=headers).json["devices"]}
    assert states == {facts["devices"]["in"]: "online", facts["devices"]["in2"]: "silent",
                      facts["devices"]["out"]: "revoked"}


def test_an_enrollment_code_comes_as_text_and_as_a_qr_svg(people):
    client, headers = api(*people)
    response = client.post("/api/v1/enrollment-codes", json={"counter": "DN-TT-Q2", "ttl_minutes": 30},
                           headers=headers)
    assert response.status_code == 201
    assert len(response.json["code"]) == 11 and response.json["qr_svg"].startswith("<svg")


def test_raw_votes_are_paged_by_id(people):
    path, facts = people
    db = storage.connect(path)
    insert_vote(db, facts["devices"]["in"], "DN-TT-Q1", "NV002", "00000000-0000-7000-8000-00000000000c", seq=2)
    db.close()
    client, headers = api(path, facts, "auditor")
    first = client.get("/api/v1/votes?limit=1", headers=headers).json["votes"]
    assert [v["staff"] for v in first] == ["NV001"]
    rest = client.get(f"/api/v1/votes?after_id={first[0]['id']}", headers=headers).json["votes"]
    assert [v["staff"] for v in rest] == ["NV002"]
    assert client.get("/api/v1/votes?limit=0", headers=headers).status_code == 400


@pytest.mark.backends("sqlite")  # input checks or pages: no SQL of their own
def test_the_openapi_document_comes_from_the_schemas(client):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"] == "3.0.3"
    assert {"/api/v1/staff", "/api/v1/staff/{code}", "/api/v1/devices/{device_id}/revoke", "/api/v1/audit",
            "/api/v1/me/tokens"} <= set(spec["paths"])
    staff = spec["components"]["schemas"]["Staff"]
    assert staff["properties"]["id"]["readOnly"] is True
    assert staff["properties"]["has_photo"]["readOnly"] is True
    assert set(staff["required"]) == {"code", "full_name", "unit"}
    create = spec["paths"]["/api/v1/staff"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Staff"}
    assert "staff.write" in create["description"]
    params = {p["name"] for p in spec["paths"]["/api/v1/audit"]["get"]["parameters"]}
    assert {"actor", "action", "object_type", "before_id", "limit"} <= params


@pytest.mark.backends("sqlite")  # input checks or pages: no SQL of their own
def test_the_api_docs_page_is_readable_html(client):
    page = client.get("/api/docs", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "POST /api/v1/staff" in text and "/api/openapi.json" in text
    # No CDN and no inline script: the one script every page loads is ours (the revoke question).
    assert re.findall(r"<script[^>]*>", text) == ['<script src="/static/admin/confirm.js" defer>']
