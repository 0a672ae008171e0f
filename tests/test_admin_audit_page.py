"""The audit log page: what changed as 'field: old → new' (or a created/deleted object's fields), not raw
JSON; its filters and paging keep working."""

from urllib.parse import parse_qs, urlparse

from server import audit, storage
from server.manage.actor import cli_actor
from server.web.audit import changes
from tests.admin_live import people_server, signed_in, submit  # noqa: F401


def test_changes_are_the_fields_that_differ_or_every_field_of_a_created_or_deleted_object():
    assert changes({"name": "A", "active": True, "code": "X"}, {"name": "B", "active": False, "code": "X"}) == [
        ("name", "A", "B"), ("active", True, False)]
    assert changes(None, {"code": "X", "title": "", "active": True}) == [("code", None, "X"), ("active", None, True)]
    assert changes({"role": "hr", "unit": "DN-TT"}, None) == [("role", "hr", None), ("unit", "DN-TT", None)]
    assert changes({"a": 1}, {"a": 1, "b": 2}) == [("b", None, 2)]
    assert changes(None, {"id": 7, "name": "T"}) == [("name", None, "T")]  # the object column names it
    assert changes(None, None) == []


def test_a_staff_change_reads_as_old_and_new_values_in_vietnamese(people_server, browser):
    with signed_in(browser, people_server) as page:
        page.goto(people_server.url + "/admin/staff/NV002")
        submit(page, "#edit-staff", full_name="Trần Văn Bình Minh", active=False)
        page.goto(people_server.url + "/admin/audit?object_type=staff&action=update")
        entry = page.locator("#audit tbody tr").first
        lines = [" ".join(t.split()) for t in entry.locator(".changes li").all_text_contents()]
        assert "Họ và tên: Trần Văn Bình → Trần Văn Bình Minh" in lines
        assert "Đang hoạt động: có → không" in lines
        assert any(line.startswith("Thay đổi gần nhất: ") and "(UTC+07:00)" in line for line in lines)
        assert len(lines) == 3  # nothing that did not change
        assert "thay đổi" in entry.text_content() and "{" not in page.text_content("#audit")


def test_a_created_objects_fields_are_listed(people_server, browser):
    with signed_in(browser, people_server, locale="en-US") as page:
        page.goto(people_server.url + "/admin/counters")
        submit(page, "#new-counter", code="DN-TT-Q9", name="Counter 9", unit="DN-TT")
        page.goto(people_server.url + "/admin/audit?object_type=counter&action=create")
        lines = [" ".join(t.split()) for t in page.locator("#audit tbody tr").first.locator(".changes li")
                 .all_text_contents()]
        assert {"Code: DN-TT-Q9", "Name: Counter 9", "Unit: DN-TT", "Active: yes"} <= set(lines)


def test_older_entries_keep_the_filters(people_server, browser):
    db = storage.connect(people_server.database)
    with storage.write_transaction(db):
        for n in range(105):
            audit.record(db, cli_actor(), "update", "unit", "DN-BH", before={"name": f"v{n}"},
                         after={"name": f"v{n + 1}"})
    db.close()
    with signed_in(browser, people_server) as page:
        page.goto(people_server.url + "/admin/audit?action=update&object_type=unit")
        assert page.locator("#audit tbody tr").count() == 100
        page.click("#older")
        query = parse_qs(urlparse(page.url).query)
        assert (query["action"], query["object_type"]) == (["update"], ["unit"]) and "before_id" in query
        assert page.locator("#audit tbody tr").count() == 5
        assert "Tên: v0 → v1" in " ".join(page.text_content("#audit tbody tr:last-child").split())
        assert page.locator("#older").count() == 0
        page.click("text=Mới nhất")
        assert parse_qs(urlparse(page.url).query) == {"action": ["update"], "object_type": ["unit"]}
