"""A civil servant objects to their own flag or a closed period's grade; HR answers once; both audited."""

import pytest

from server import storage
from server.manage import periods
from server.manage.actor import cli_actor
from tests.people import app_for

pytestmark = pytest.mark.backends


def api(path, facts, role):
    return app_for(path).test_client(), {"Authorization": f"Bearer {facts['tokens'][role]}"}


def audit_of_objections(path):
    db = storage.connect(path)
    try:
        return db.execute("SELECT actor, action FROM audit_log WHERE object_type = 'objection' ORDER BY id").fetchall()
    finally:
        db.close()


def test_a_civil_servant_objects_to_their_own_flag(people):
    path, facts = people
    client, headers = api(path, facts, "staff")
    made = client.post("/api/v1/objections", headers=headers,
                       json={"flag": facts["flags"]["in2"], "text": "Giờ nghỉ trưa tôi vẫn phục vụ người dân."})
    assert made.status_code == 201, made.json
    assert (made.json["staff"], made.json["flag"], made.json["status"], made.json["created_by"]) == \
        ("NV001", facts["flags"]["in2"], "open", "staff")
    assert audit_of_objections(path) == [("staff", "create")]
    listed = client.get("/api/v1/objections", headers=headers).json["objections"]
    assert {o["id"] for o in listed} == {made.json["id"], facts["objections"]["in"]}


def test_nobody_objects_to_someone_elses_flag_twice_or_without_words(people):
    path, facts = people
    client, headers = api(path, facts, "staff")
    other = client.post("/api/v1/objections", headers=headers, json={"flag": facts["flags"]["out"], "text": "x"})
    assert other.status_code == 404
    again = client.post("/api/v1/objections", headers=headers, json={"flag": facts["flags"]["in"], "text": "x"})
    assert again.status_code == 409
    for payload in ({"flag": facts["flags"]["in2"], "text": "  "}, {"text": "x"},
                    {"flag": facts["flags"]["in2"], "period": "2026-10", "text": "x"}):
        assert client.post("/api/v1/objections", headers=headers, json=payload).status_code == 400, payload
    assert audit_of_objections(path) == []


def test_only_a_closed_periods_grade_can_be_objected_to(people):
    path, facts = people
    client, headers = api(path, facts, "staff")
    refused = client.post("/api/v1/objections", headers=headers, json={"period": "2026-09", "text": "Điểm chưa đúng."})
    assert refused.status_code == 400 and "period" in refused.json["error"]["fields"]
    db = storage.connect(path)
    periods.close_period(db, cli_actor(), "2026-09", "DN-TT")
    db.close()
    made = client.post("/api/v1/objections", headers=headers, json={"period": "2026-09", "text": "Điểm chưa đúng."})
    assert made.status_code == 201, made.json
    assert (made.json["period"], made.json["period_kind"], made.json["flag"]) == ("2026-09", "month", None)


def test_hr_answers_once_and_the_answer_is_audited(people):
    path, facts = people
    client, headers = api(path, facts, "hr")
    url = f"/api/v1/objections/{facts['objections']['in']}/answer"
    assert client.post(url, headers=headers, json={"decision": "upheld", "answer": ""}).status_code == 400
    done = client.post(url, headers=headers, json={"decision": "upheld", "answer": "Camera cho thấy có công dân."})
    assert done.status_code == 200, done.json
    assert (done.json["status"], done.json["answered_by"]) == ("upheld", "hr")
    assert client.post(url, headers=headers, json={"decision": "rejected", "answer": "x"}).status_code == 409
    assert audit_of_objections(path) == [("hr", "answer")]
    staff_client, staff_headers = api(path, facts, "staff")
    seen = staff_client.get(f"/api/v1/objections/{facts['objections']['in']}", headers=staff_headers).json
    assert (seen["status"], seen["answer"]) == ("upheld", "Camera cho thấy có công dân.")


@pytest.mark.parametrize("role,status", [("staff", 403), ("manager", 403), ("auditor", 403)])
@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_only_hr_and_admins_answer(people, role, status):
    path, facts = people
    client, headers = api(path, facts, role)
    response = client.post(f"/api/v1/objections/{facts['objections']['in']}/answer", headers=headers,
                           json={"decision": "upheld", "answer": "x"})
    assert response.status_code == status


def test_nobody_answers_their_own_objection(people):
    path, facts = people
    db = storage.connect(path)
    db.execute("UPDATE users SET staff_id = NULL WHERE username = 'staff'")
    db.execute("UPDATE users SET staff_id = (SELECT id FROM staff WHERE code = 'NV001') WHERE username = 'hr'")
    db.close()
    client, headers = api(path, facts, "hr")
    response = client.post(f"/api/v1/objections/{facts['objections']['in']}/answer", headers=headers,
                           json={"decision": "upheld", "answer": "x"})
    assert response.status_code == 403


def test_over_http_a_civil_servant_objects_and_hr_answers(people_template, tmp_path):
    import requests

    from devtools.processes import Server
    from tests.people import copy_db

    template, facts = people_template
    path = copy_db(template, tmp_path / "people.db")
    with Server(path, log_path=tmp_path / "serve.log") as server:
        def call(method, url, role, **kw):
            return requests.request(method, server.url + url, timeout=10,
                                    headers={"Authorization": f"Bearer {facts['tokens'][role]}"}, **kw)

        made = call("POST", "/api/v1/objections", "staff", json={"flag": facts["flags"]["in2"], "text": "Không phải tôi."})
        assert made.status_code == 201, made.text
        answered = call("POST", f"/api/v1/objections/{made.json()['id']}/answer", "hr",
                        json={"decision": "rejected", "answer": "Nhật ký đăng nhập cho thấy quầy không có người."})
        assert answered.status_code == 200 and answered.json()["status"] == "rejected"
        mine = call("GET", "/api/v1/objections?status=rejected", "staff").json()["objections"]
        assert [o["id"] for o in mine] == [made.json()["id"]]
