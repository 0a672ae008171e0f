"""The audit log: every change with who, when, from where, before and after; append-only; scoped."""

import pytest

from server import storage
from tests.live import hailong
from tests.people import app_for, sign_in

pytestmark = pytest.mark.backends


def test_a_change_records_who_when_where_what_before_and_after(people):
    path, facts = people
    client = app_for(path).test_client()
    response = client.patch("/api/v1/staff/NV002", json={"title": "Phó trưởng bộ phận"},
                            headers={"Authorization": f"Bearer {facts['tokens']['manager']}"},
                            environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 200
    entries = client.get("/api/v1/audit?action=update&object_type=staff",
                         headers={"Authorization": f"Bearer {facts['tokens']['admin']}"}).json["entries"]
    assert len(entries) == 1
    entry = entries[0]
    assert (entry["actor_kind"], entry["actor"], entry["address"], entry["object_id"]) == (
        "token", "manager", "10.1.2.3", "NV002")
    assert entry["before"]["title"] == "Cán bộ một cửa" and entry["after"]["title"] == "Phó trưởng bộ phận"
    assert entry["at"].endswith("Z")


def test_the_audit_log_refuses_updates_and_deletes(people):
    path, _ = people
    db = storage.connect(path)
    assert db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] > 0
    with pytest.raises(storage.IntegrityError, match="append-only"):
        db.execute("UPDATE audit_log SET actor = 'someone else'")
    with pytest.raises(storage.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit_log")
    db.close()


def test_a_refused_change_leaves_no_entry(people):
    path, facts = people
    db = storage.connect(path)
    count = db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    client = app_for(path).test_client()
    client.patch("/api/v1/staff/NV004", json={"title": "x"}, headers={"Authorization": f"Bearer {facts['tokens']['hr']}"})
    client.delete("/api/v1/staff/NV001", headers={"Authorization": f"Bearer {facts['tokens']['admin']}"})
    assert db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == count
    db.close()


def test_auditors_see_their_units_entries_and_admins_see_sign_in_failures(people):
    path, facts = people
    client = app_for(path).test_client()
    sign_in(client, "nobody", "wrong password")
    admin = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {facts['tokens']['admin']}"}).json
    assert [e["object_id"] for e in admin["entries"] if e["action"] == "login_failed"] == ["nobody"]
    auditor = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {facts['tokens']['auditor']}"}).json
    assert auditor["entries"] and all(e["unit_id"] for e in auditor["entries"])
    assert "NV006" not in str(auditor) and "login_failed" not in str(auditor)


def test_the_audit_page_filters_by_action(people):
    path, _ = people
    client = app_for(path).test_client()
    sign_in(client, "admin")
    page = client.get("/admin/audit?action=photo", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "NV001" in page and "NV004" in page and "login_failed" not in page


def test_command_line_changes_are_audited_as_cli(db_path):
    hailong("--database", str(db_path), "user", "create", "--username", "root", "--role", "admin",
            "--password-stdin", input="a long enough password\n")
    db = storage.connect(db_path)
    rows = db.execute("SELECT actor_kind, actor, action, object_id FROM audit_log").fetchall()
    db.close()
    assert rows == [("cli", "cli", "create", "root")]
