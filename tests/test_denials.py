"""Permission denials (403) from the pages and the API are audited, one entry per actor, permission and hour."""

import concurrent.futures
import datetime as dt
import threading

import pytest

from server import audit, storage
from server.manage.actor import Actor
from tests.people import app_for, csrf_token, sign_in


def denials(path):
    db = storage.connect(path)
    try:
        return db.execute(
            "SELECT a.actor_kind, a.actor, a.object_type, a.object_id, u.code, a.after, d.count FROM audit_log a"
            " JOIN audit_counts d ON d.audit_id = a.id LEFT JOIN units u ON u.id = a.unit_id"
            " WHERE a.action = 'denied' ORDER BY a.id").fetchall()
    finally:
        db.close()


def bearer(facts, role):
    return {"Authorization": f"Bearer {facts['tokens'][role]}"}


def test_a_403_from_the_api_is_audited_with_who_what_and_where(people):
    path, facts = people
    client = app_for(path).test_client()
    refused = client.get("/api/v1/users", headers=bearer(facts, "hr"), environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert refused.status_code == 403
    assert denials(path) == [("token", "hr", "permission", "users.read", "DN-TT",
                              '{"method": "GET", "path": "/api/v1/users"}', 1)]
    db = storage.connect(path)
    assert db.execute("SELECT address FROM audit_log WHERE action = 'denied'").fetchone() == ("10.9.8.7",)
    db.close()


def test_a_scan_leaves_one_entry_per_permission_with_its_count(people):
    path, facts = people
    client = app_for(path).test_client()
    for _ in range(40):
        assert client.get("/api/v1/users", headers=bearer(facts, "hr")).status_code == 403
        assert client.post("/api/v1/users", json={}, headers=bearer(facts, "hr")).status_code == 403
        assert client.get("/api/v1/audit", headers=bearer(facts, "hr")).status_code == 403
    rows = denials(path)
    assert [(row[3], row[6]) for row in rows] == [("users.read", 40), ("users.write", 40), ("audit.read", 40)]
    entries = client.get("/api/v1/audit?action=denied", headers=bearer(facts, "admin")).json["entries"]
    assert [(e["object_id"], e["after"]["times"]) for e in entries] == [
        ("audit.read", 40), ("users.write", 40), ("users.read", 40)]
    assert entries[0]["after"]["last_at"] >= entries[0]["at"]


def test_after_an_hour_the_next_denial_opens_a_new_entry(people):
    path, _ = people
    db = storage.connect(path)
    actor = Actor(kind="user", name="someone", roles=[{"role": "hr", "unit_id": None}])
    start = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)
    first = audit.record_denial(db, actor, "users.read", "GET", "/admin/users", now=start)
    assert audit.record_denial(db, actor, "users.read", "GET", "/admin/users", now=start + dt.timedelta(minutes=59)) \
        == first
    later = audit.record_denial(db, actor, "users.read", "GET", "/admin/users", now=start + dt.timedelta(minutes=61))
    assert later != first
    assert audit.record_denial(db, actor, "units.write", "POST", "/admin/units", now=start) not in (first, later)
    db.close()
    assert [(row[3], row[6]) for row in denials(path)] == [("users.read", 2), ("users.read", 1), ("units.write", 1)]


def test_a_crafted_long_address_is_stored_cut(people):
    path, facts = people
    client = app_for(path).test_client()
    assert client.get("/api/v1/users/" + "y" * 5000, headers=bearer(facts, "hr")).status_code == 403
    (row,) = denials(path)
    assert row[5] == '{"method": "GET", "path": "/api/v1/users/' + "y" * 186 + '"}'  # 200 characters of it


def test_a_403_on_the_pages_is_audited_and_shows_the_403_page(people):
    path, _ = people
    client = app_for(path).test_client()
    sign_in(client, "auditor")
    token = csrf_token(client, "/admin/staff/NV001")
    refused = client.post("/admin/staff/NV001", data={"action": "save", "full_name": "X", "csrf_token": token},
                          headers={"Accept-Language": "en"})
    assert refused.status_code == 403 and "Your roles do not allow this." in refused.get_data(as_text=True)
    nobody = app_for(path).test_client()
    sign_in(nobody, "nobody")
    assert nobody.get("/admin/units").status_code == 403
    assert [row[:5] + row[6:] for row in denials(path)] == [
        ("user", "auditor", "permission", "staff.write", "DN-TT", 1),
        ("user", "nobody", "permission", "units.read", None, 1),  # no roles, no unit: admins see it
    ]


def test_out_of_scope_and_allowed_requests_are_not_denials(people):
    path, facts = people
    client = app_for(path).test_client()
    assert client.get("/api/v1/staff/NV004", headers=bearer(facts, "hr")).status_code == 404
    assert client.get("/api/v1/units", headers=bearer(facts, "hr")).status_code == 200
    assert client.get("/api/v1/units").status_code == 401
    assert denials(path) == []


def test_auditors_see_their_units_denials_and_admins_see_all_on_the_audit_page(people):
    path, facts = people
    client = app_for(path).test_client()
    for _ in range(3):
        client.get("/api/v1/users", headers=bearer(facts, "manager"))
    client.get("/api/v1/users", headers=bearer(facts, "nobody"))
    auditor = app_for(path).test_client()
    sign_in(auditor, "auditor")
    page = auditor.get("/admin/audit?action=denied", headers={"Accept-Language": "vi"}).get_data(as_text=True)
    assert "bị từ chối: không có quyền" in page and "users.read" in page
    assert "Số lần</span>:\n<ins>3</ins>" in page and "/api/v1/users" in page
    assert "nobody" not in page
    admin = app_for(path).test_client()
    sign_in(admin, "admin")
    page = admin.get("/admin/audit?action=denied", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "was refused: no permission" in page and "nobody" in page and "manager" in page


@pytest.mark.backends  # SQLite's BEGIN IMMEDIATE queues the writers; PostgreSQL's READ COMMITTED needs a lock
def test_denials_at_once_on_separate_connections_are_one_entry_with_their_count(db_path):
    actor = Actor(kind="token", name="hr", address="10.0.0.1")
    start = threading.Barrier(12)

    def deny(_):
        db = storage.connect(db_path)
        try:
            start.wait(timeout=30)
            return audit.record_denial(db, actor, "users.read", "GET", "/api/v1/users")
        finally:
            db.close()

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        ids = set(pool.map(deny, range(12)))
    assert len(ids) == 1
    assert [row[-1] for row in denials(db_path)] == [12]
