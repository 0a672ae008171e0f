"""The pages for opening hours, holidays and rating scales: who sees the forms, and what a mistake says."""

import json

from server import storage
from tests.people import app_for, sign_in


def client_as(path, username, lang="en"):
    client = app_for(path, WTF_CSRF_ENABLED=False).test_client()
    sign_in(client, username)
    client.get(f"/lang/{lang}")
    return client


def test_an_admin_sets_a_units_hours_and_a_child_unit_inherits_them(people):
    path, _ = people
    admin = client_as(path, "admin")
    page = admin.get("/admin/units/DN-TT").get_data(as_text=True)
    assert "Mon-Fri 07:00-11:30,13:00-17:00" in page and "the organisation's default" in page
    answer = admin.post("/admin/units/DN-TT", data={"action": "hours", "hours": "Mon-Fri 07:00-11:30; Sat 07:00-11:30"})
    assert answer.status_code == 302
    page = admin.get("/admin/units/DN-TT").get_data(as_text=True)
    assert "Mon-Sat 07:00-11:30" in page and "its own" in page  # the same times, grouped
    db = storage.connect(path)
    try:
        db.execute("INSERT INTO units (code, name, parent_id, created_at, updated_at)"
                   " SELECT 'DN-TT-A', 'A', id, created_at, updated_at FROM units WHERE code = 'DN-TT'")
    finally:
        db.close()
    assert "inherited from DN-TT" in admin.get("/admin/units/DN-TT-A").get_data(as_text=True)


def test_hours_that_do_not_parse_are_explained_beside_the_field_in_vietnamese(people):
    path, _ = people
    admin = client_as(path, "admin", "vi")
    answer = admin.post("/admin/units/DN-TT", data={"action": "hours", "hours": "Mon-Fri 07:00-12:00,11:00-17:00"})
    assert answer.status_code == 400
    assert "Các khoảng giờ của Mon chồng lên nhau (12:00 muộn hơn 11:00)." in answer.get_data(as_text=True)


def test_others_read_the_hours_but_get_no_form(people):
    path, _ = people
    manager = client_as(path, "manager")
    page = manager.get("/admin/units/DN-TT").get_data(as_text=True)
    assert "Mon-Fri 07:00-11:30,13:00-17:00" in page and 'id="unit-hours"' not in page
    holidays = manager.get("/admin/holidays?year=2026").get_data(as_text=True)
    assert "Quốc khánh" in holidays and 'id="new-holiday"' not in holidays
    assert 'id="publish-scale"' not in manager.get("/admin/scales").get_data(as_text=True)
    assert manager.post("/admin/holidays", data={"action": "import"}).status_code == 403
    assert client_as(path, "nobody").get("/admin/holidays").status_code == 403


def test_the_holidays_page_imports_the_shipped_list_and_refuses_a_bad_day(people):
    path, _ = people
    admin = client_as(path, "admin")
    assert admin.post("/admin/holidays?year=2026", data={"action": "import"}).status_code == 302
    page = admin.get("/admin/holidays?year=2026").get_data(as_text=True)
    assert "2026-02-17" in page and "Tết Nguyên đán (mùng 1)" in page
    answer = admin.post("/admin/holidays", data={"action": "add", "day": "2026-02-30", "name_vi": ""})
    assert answer.status_code == 400
    assert "Not a valid date." in answer.get_data(as_text=True) or "Not a date" in answer.get_data(as_text=True)


def test_the_scales_page_publishes_from_the_current_version_and_shows_what_is_wrong(people):
    path, _ = people
    admin = client_as(path, "admin")
    page = admin.get("/admin/scales").get_data(as_text=True)
    assert "(current)" in page and "Very satisfied" in page and "long_wait" in page
    scale = {"levels": [{"value": 3, "label_vi": "Tốt", "label_en": "Good", "satisfied": True},
                        {"value": 3, "label_vi": "Kém", "label_en": "Poor", "satisfied": False}], "reasons": []}
    answer = admin.post("/admin/scales", data={"scale": json.dumps(scale), "note": ""})
    assert answer.status_code == 400 and "levels.1.value: Two levels have the value 3." in answer.get_data(as_text=True)
    assert "Not valid JSON." in admin.post("/admin/scales", data={"scale": "{levels"}).get_data(as_text=True)
    scale["levels"][1]["value"] = 1
    assert admin.post("/admin/scales", data={"scale": json.dumps(scale), "note": "two"}).status_code == 302
    page = admin.get("/admin/scales").get_data(as_text=True)
    assert "Good" in page and page.index("Good") < page.index("Very satisfied")  # the newest first
