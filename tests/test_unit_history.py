"""Every way a staff member or a counter changes unit keeps its history (``unit_history``)."""

import pytest

from server.manage import imports
from server.manage import org as org_actions
from server.manage import staff as staff_actions
from server.manage.actor import cli_actor
from server.storage import history
from tests.live import ORG_CSV

pytestmark = pytest.mark.backends


def rows(db, subject, code):
    table = "staff" if subject == "staff" else "counters"
    subject_id = db.execute(f"SELECT id FROM {table} WHERE code = ?", [code]).fetchone()[0]
    return [(row["unit"], row["valid_from"] is None, row["valid_to"] is None)
            for row in history.history(db, subject, subject_id)]


def load_org(db, tmp_path, text=ORG_CSV, name="org.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    imports.import_file(db, cli_actor(), str(path))


def test_new_staff_and_counters_get_their_first_row_since_always(db, tmp_path):
    load_org(db, tmp_path)
    assert rows(db, "staff", "NV001") == [("DN-TT", True, True)]
    assert rows(db, "counter", "DN-BH-Q1") == [("DN-BH", True, True)]
    staff_actions.create_staff(db, cli_actor(), {"code": "NV100", "full_name": "A", "unit": "DN-BH"})
    org_actions.create_counter(db, cli_actor(), {"code": "DN-BH-Q9", "name": "Q9", "unit": "DN-BH"})
    assert rows(db, "staff", "NV100") == [("DN-BH", True, True)]
    assert rows(db, "counter", "DN-BH-Q9") == [("DN-BH", True, True)]


def test_an_import_that_moves_someone_closes_the_old_row_and_opens_a_new_one(db, tmp_path):
    load_org(db, tmp_path)
    moved = "kind,code,name,parent,title,active\nstaff,NV003,Lê Hoàng Phúc,DN-BH,Chuyên viên,\n" \
            "counter,DN-TT-Q2,Quầy 2 – Hộ tịch,DN-BH,,\n"
    load_org(db, tmp_path, moved, "moved.csv")
    assert rows(db, "staff", "NV003") == [("DN-TT", True, False), ("DN-BH", False, True)]
    assert rows(db, "counter", "DN-TT-Q2") == [("DN-TT", True, False), ("DN-BH", False, True)]
    (closed, opened) = history.history(db, "staff", db.execute("SELECT id FROM staff WHERE code = 'NV003'")
                                       .fetchone()[0])
    assert closed["valid_to"] == opened["valid_from"]


def test_an_edit_that_keeps_the_unit_adds_no_row_and_a_move_back_adds_one(db, tmp_path):
    load_org(db, tmp_path)
    staff_actions.update_staff(db, cli_actor(), "NV001", {"title": "Trưởng bộ phận"})
    assert rows(db, "staff", "NV001") == [("DN-TT", True, True)]
    staff_actions.update_staff(db, cli_actor(), "NV001", {"unit": "DN-BH"})
    staff_actions.update_staff(db, cli_actor(), "NV001", {"unit": "DN-TT"})
    assert rows(db, "staff", "NV001") == [("DN-TT", True, False), ("DN-BH", False, False), ("DN-TT", False, True)]


def test_deleting_a_record_entered_by_mistake_removes_its_history(db, tmp_path):
    load_org(db, tmp_path)
    staff_actions.delete_staff(db, cli_actor(), "NV003")
    assert db.execute("SELECT COUNT(*) FROM unit_history WHERE subject = 'staff' AND subject_id NOT IN"
                      " (SELECT id FROM staff)").fetchone() == (0,)


def test_the_unit_at_a_moment_follows_the_rows(db):
    spans = [(None, "2026-05-01T00:00:00.000Z", 1), ("2026-05-01T00:00:00.000Z", None, 2)]
    assert history.unit_at(spans, "2026-04-30T23:59:59.999Z", 9) == 1
    assert history.unit_at(spans, "2026-05-01T00:00:00.000Z", 9) == 2
    assert history.unit_at(None, "2026-05-01T00:00:00.000Z", 9) == 9
    assert history.unit_at([("2026-05-01T00:00:00.000Z", None, 2)], "2026-01-01T00:00:00.000Z", 9) == 2


@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_the_api_and_the_pages_show_where_someone_was_and_when(people):
    from tests.people import app_for, sign_in

    path, facts = people
    client = app_for(path, WTF_CSRF_ENABLED=False).test_client()
    token = {"Authorization": f"Bearer {facts['tokens']['admin']}"}
    assert client.patch("/api/v1/staff/NV002", json={"unit": "DN-BH"}, headers=token).status_code == 200
    spans = client.get("/api/v1/staff/NV002", headers=token).json["unit_history"]
    assert [(s["unit"], s["valid_from"] is None, s["valid_to"] is None) for s in spans] == [
        ("DN-TT", True, False), ("DN-BH", False, True)]
    assert client.patch("/api/v1/counters/DN-TT-Q2", json={"unit": "DN-BH"}, headers=token).status_code == 200
    assert [s["unit"] for s in client.get("/api/v1/counters/DN-TT-Q2", headers=token).json["unit_history"]] == \
        ["DN-TT", "DN-BH"]
    sign_in(client, "admin")
    client.get("/lang/en")
    page = client.get("/admin/staff/NV002").get_data(as_text=True)
    assert "Units over time" in page and "from the start" in page
    assert "Units over time" in client.get("/admin/counters/DN-TT-Q2").get_data(as_text=True)
    assert "Units over time" not in client.get("/admin/staff/NV001").get_data(as_text=True)  # never moved
