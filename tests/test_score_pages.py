"""The evaluation pages without a browser: who may open each, the downloads, the period and flag forms.

The people database (tests/people.py) has the users' roles on DN-TT; NV004 and
DN-BH are outside their scope. Its two votes (NV001 in scope, NV004 out) are
rolled up first, as ``hailong jobs`` would, so both show in the scores of
whoever may see them. The page permissions are written out here as the spec,
independently of server/manage/actor.py, like tests/test_role_matrix.py does
for the API.
"""

import csv
import hashlib
import io
import pathlib
import re

import openpyxl
import pytest

from server import jobs, storage
from server.settings import DEFAULTS
from server.web import exports
from tests.people import app_for, sign_in

ROLES = ("anonymous", "nobody", "admin", "manager", "hr", "auditor", "staff")
READERS = {"admin", "manager", "hr", "auditor"}
OUT_SECRETS = ("NV004", "Phạm Thị Thu Trang", "DN-BH")
ROOT = pathlib.Path(__file__).parent.parent
CHART_JS = ROOT / "server" / "web" / "static" / "vendor" / "chartjs" / "chart.umd.min.js"
CHART_JS_SHA256 = "87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2"


def this_month():
    import datetime as dt
    import zoneinfo

    return dt.datetime.now(zoneinfo.ZoneInfo(DEFAULTS["TIMEZONE"])).strftime("%Y-%m")


def pages(facts):
    """(name, path in scope, path out of scope or None, roles allowed, status out of scope)."""
    month = this_month()
    return [
        ("dashboard", "/dashboard", None, READERS),
        ("ranking", f"/scores?period={month}", f"/scores?period={month}&unit=DN-BH", READERS),
        ("ranking csv", f"/scores/export.csv?period={month}", f"/scores/export.csv?period={month}&unit=DN-BH",
         READERS),
        ("ranking xlsx", f"/scores/export.xlsx?period={month}", None, READERS),
        ("staff page", f"/scores/staff/NV001?period={month}", f"/scores/staff/NV004?period={month}", READERS),
        ("units", f"/scores/units?period={month}", f"/scores/units?period={month}&unit=DN-BH", READERS),
        ("flags", "/flags?status=all", None, READERS),
        ("flag", f"/flags/{facts['flags']['in']}", f"/flags/{facts['flags']['out']}", READERS),
        ("periods", "/periods", None, READERS),
        ("objections", "/objections?status=all", None, READERS),
        ("objection", f"/objections/{facts['objections']['in']}", f"/objections/{facts['objections']['out']}",
         READERS),
        ("own page", f"/me?period={month}", None, {"staff"}),
    ]


CASES = [(name, role, scope) for name in
         ("dashboard", "ranking", "ranking csv", "ranking xlsx", "staff page", "units", "flags", "flag", "periods",
          "objections", "objection", "own page")
         for role in ROLES for scope in ("in", "out")]


@pytest.fixture
def rolled_up(people):
    path, facts = people
    db = storage.connect(path)
    jobs.roll_up_votes(db, dict(DEFAULTS), None)
    db.close()
    return path, facts


def client_as(path, role):
    client = app_for(path).test_client()
    if role != "anonymous":
        assert sign_in(client, role).status_code == 302
    return client


@pytest.mark.parametrize("name,role,scope", CASES)
def test_each_page_opens_for_its_roles_only_and_shows_nothing_out_of_scope(rolled_up, name, role, scope):
    path, facts = rolled_up
    _, path_in, path_out, allowed = next(p for p in pages(facts) if p[0] == name)
    if scope == "out" and path_out is None:
        path_out = path_in  # a list: the check is that out-of-scope rows are absent
    url = path_out if scope == "out" else path_in
    client = client_as(path, role)
    db = storage.connect(path)
    denied_before = db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'denied'").fetchone()[0]
    response = client.get(url, headers={"Accept-Language": "vi"})
    denied = db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'denied'").fetchone()[0] - denied_before
    db.close()
    body = response.get_data()
    xlsx = url.startswith("/scores/export.xlsx") and response.status_code == 200
    text = _xlsx_text(body) if xlsx else body.decode("utf-8", "replace")

    if role == "anonymous":
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        return
    if role not in allowed:
        assert response.status_code == 403
        assert denied == 1, "a 403 is audited"
        return
    assert denied == 0
    if scope == "out" and path_out != path_in and role != "admin":
        assert response.status_code == 404, text[:300]
        assert "Phạm Thị Thu Trang" not in text  # (the code is in the page's own URL, its language links)
        return
    assert response.status_code == 200, text[:500]
    if role != "admin":
        assert not any(secret in text for secret in OUT_SECRETS[:2]), text
    if name in ("ranking", "ranking csv", "ranking xlsx") and scope == "in":
        assert "NV001" in text and "Nguyễn Thị Hồng Nhung" in text
        if role == "admin":
            assert "NV004" in text


def _xlsx_text(body):
    book = openpyxl.load_workbook(io.BytesIO(body))
    return "\n".join(str(cell.value) for row in book.active.iter_rows() for cell in row)


def test_the_csv_opens_in_excel_with_vietnamese_intact_and_formulas_inert(rolled_up):
    path, _facts = rolled_up
    db = storage.connect(path)
    db.execute("UPDATE staff SET full_name = '=HYPERLINK(\"http://evil.example\")' WHERE code = 'NV001'")
    db.close()
    client = client_as(path, "hr")
    # The people database's votes are both flagged (tests/flagged.py): counted here with flagged=1.
    response = client.get(f"/scores/export.csv?period={this_month()}&flagged=1", headers={"Accept-Language": "vi"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="scores-{this_month()}.csv"'
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Mã", "Họ và tên", "Đơn vị", "Lượt đánh giá (n)"]
    [row] = [r for r in rows[1:] if r[0] == "NV001"]
    assert row[1] == "'=HYPERLINK(\"http://evil.example\")"
    assert row[2] == "DN-TT" and row[3] == "1"


def test_the_xlsx_keeps_vietnamese_and_numbers_and_stores_formulas_as_text(rolled_up):
    path, _facts = rolled_up
    db = storage.connect(path)
    db.execute("UPDATE staff SET full_name = '=1+1' WHERE code = 'NV001'")
    db.close()
    client = client_as(path, "admin")
    response = client.get(f"/scores/export.xlsx?period={this_month()}&sort=code&dir=asc&flagged=1",
                          headers={"Accept-Language": "vi"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == exports.XLSX_TYPE
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:3] == ["Mã", "Họ và tên", "Đơn vị"]
    assert [r[0] for r in rows[1:]] == ["NV001", "NV004"]
    assert rows[1][1] == "=1+1" and sheet["B2"].data_type == "s", "a name is text, never a formula"
    assert rows[2][1] == "Phạm Thị Thu Trang"
    assert isinstance(rows[1][3], int) and isinstance(rows[1][5], (int, float))  # numbers stay numbers


def test_cells_that_spreadsheets_would_run_are_made_inert_and_numbers_are_left_alone():
    assert [exports.inert(v) for v in ("=1", "+1", "-1", "@x", "\tx", "ok", -1, 0.5, None)] == \
        ["'=1", "'+1", "'-1", "'@x", "'\tx", "ok", -1, 0.5, None]


def test_an_unknown_period_or_format_is_refused_with_a_page(rolled_up):
    path, _facts = rolled_up
    client = client_as(path, "hr")
    refused = client.get("/scores?period=2026-13", headers={"Accept-Language": "en"})
    assert refused.status_code == 400
    assert "A period is a month (2026-10), a quarter (2026-Q4) or a year (2026)." in refused.get_data(as_text=True)
    assert client.get("/scores/export.pdf").status_code == 404


def test_the_ranking_sorts_and_filters_as_the_query_says(rolled_up):
    path, _facts = rolled_up
    client = client_as(path, "admin")
    month = this_month()

    def order(query):
        text = client.get(f"/scores?period={month}&{query}").get_data(as_text=True)
        return [code for code in ("NV001", "NV004") if f'data-staff="{code}"' in text], text

    assert order("sort=code&dir=asc")[0] == ["NV001", "NV004"]
    text = order("sort=code&dir=desc")[1]
    assert text.index('data-staff="NV004"') < text.index('data-staff="NV001"')
    assert order("q=trang")[0] == ["NV004"]
    assert order("unit=DN-TT")[0] == ["NV001"]
    assert order("min_n=2")[0] == []


def test_the_home_page_is_the_dashboard_for_readers_and_the_own_page_for_staff(rolled_up):
    path, _facts = rolled_up
    for role, target in (("hr", "/dashboard"), ("auditor", "/dashboard"), ("admin", "/dashboard"),
                         ("staff", "/me"), ("nobody", "/account")):
        assert client_as(path, role).get("/").headers["Location"] == target, role


def test_auditors_and_managers_read_flags_but_only_hr_and_admin_review_them(rolled_up):
    path, facts = rolled_up
    url = f"/flags/{facts['flags']['in']}"
    for role, status in (("auditor", 403), ("manager", 403), ("hr", 302)):
        client = client_as(path, role)
        page = client.get(url).get_data(as_text=True)
        assert ('id="review-flag"' in page) == (role == "hr"), role
        token = _csrf(page) or _csrf(client.get("/account").get_data(as_text=True))
        answer = client.post(url, data={"decision": "dismiss", "reason": "Hai công dân khác nhau",
                                        "csrf_token": token})
        assert answer.status_code == status, role
    client = client_as(path, "hr")
    page = client.get(url, headers={"Accept-Language": "vi"}).get_data(as_text=True)
    assert "Hai công dân khác nhau" in page and "đã bác bỏ" in page


def test_a_review_without_a_reason_is_refused_beside_the_form(rolled_up):
    path, facts = rolled_up
    client = client_as(path, "hr")
    url = f"/flags/{facts['flags']['in']}"
    token = _csrf(client.get(url).get_data(as_text=True))
    answer = client.post(url, data={"decision": "confirm", "reason": " ", "csrf_token": token},
                         headers={"Accept-Language": "en"})
    assert answer.status_code == 400
    assert "Write why: the reason stays in the audit log." in answer.get_data(as_text=True)


def test_closing_a_period_from_the_page_lists_it_with_its_revision(rolled_up):
    path, _facts = rolled_up
    client = client_as(path, "hr")
    token = _csrf(client.get("/periods").get_data(as_text=True))
    answer = client.post("/periods", data={"period": "2025-06", "unit": "DN-TT", "csrf_token": token})
    assert answer.status_code == 302
    page = client.get("/periods", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'data-period="2025-06"' in page and "Revision 1" in page
    revision = client.get("/periods/2025-06/1?unit=DN-TT")
    assert revision.status_code == 200
    again = client.post("/periods", data={"period": "2025-06", "unit": "DN-TT", "csrf_token": token},
                        headers={"Accept-Language": "en"})
    assert again.status_code == 409
    assert "This period is already closed" in again.get_data(as_text=True)
    auditor = client_as(path, "auditor")
    assert 'id="close-period"' not in auditor.get("/periods").get_data(as_text=True)
    assert auditor.post("/periods", data={"period": "2025-05", "unit": "DN-TT",
                                          "csrf_token": token}).status_code in (400, 403)


def test_the_vendored_chart_library_is_the_published_file():
    assert hashlib.sha256(CHART_JS.read_bytes()).hexdigest() == CHART_JS_SHA256
    readme = (CHART_JS.parent / "README.md").read_text(encoding="utf-8")
    assert CHART_JS_SHA256 in readme and "4.6.1" in readme
    assert (CHART_JS.parent / "LICENSE.md").read_text(encoding="utf-8").startswith("The MIT License")


def _csrf(page):
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return found.group(1) if found else None


def test_the_civil_servant_objects_from_their_page_and_reads_hr_s_answer_there(rolled_up):
    path, facts = rolled_up
    staff = client_as(path, "staff")
    page = staff.get("/me", headers={"Accept-Language": "vi"}).get_data(as_text=True)
    second = facts["flags"]["in2"]
    assert f'value="flag:{second}"' in page
    empty = staff.post("/me", data={"about": f"flag:{facts['flags']['in2']}", "text": " ", "csrf_token": _csrf(page)},
                       headers={"Accept-Language": "en"})
    assert empty.status_code == 400 and "Write the text: it stays in the audit log." in empty.get_data(as_text=True)
    filed = staff.post("/me", data={"about": f"flag:{facts['flags']['in2']}", "text": "Tôi đã phục vụ hai người",
                                    "csrf_token": _csrf(page)})
    assert filed.status_code == 302
    db = storage.connect(path)
    objection = db.execute("SELECT id FROM objections WHERE flag_id = ?", [facts["flags"]["in2"]]).fetchone()[0]
    db.close()
    hr = client_as(path, "hr")
    listed = hr.get("/objections").get_data(as_text=True)
    assert f'data-objection="{objection}"' in listed and "NV004" not in listed
    form = hr.get(f"/objections/{objection}").get_data(as_text=True)
    assert "Tôi đã phục vụ hai người" in form and 'id="answer-objection"' in form
    answered = hr.post(f"/objections/{objection}", data={"decision": "upheld", "answer": "Đúng, camera cho thấy hai người",
                                                         "csrf_token": _csrf(form)})
    assert answered.status_code == 302
    mine = staff.get("/me", headers={"Accept-Language": "vi"}).get_data(as_text=True)
    assert "Đúng, camera cho thấy hai người" in mine and "được chấp nhận" in mine
    auditor = client_as(path, "auditor").get(f"/objections/{objection}").get_data(as_text=True)
    assert 'id="answer-objection"' not in auditor


def test_a_long_ranking_is_shown_a_page_at_a_time_and_the_funnel_keeps_everyone(rolled_up, monkeypatch):
    from server.web import scores as score_pages

    monkeypatch.setattr(score_pages.Pages, "PAGE_SIZE", 1)
    path, _facts = rolled_up
    client = client_as(path, "admin")
    month = this_month()
    first = client.get(f"/scores?period={month}&sort=code&dir=asc").get_data(as_text=True)
    second = client.get(f"/scores?period={month}&sort=code&dir=asc&page=2").get_data(as_text=True)
    assert 'data-staff="NV001"' in first and 'data-staff="NV004"' not in first
    assert 'data-staff="NV004"' in second and 'data-staff="NV001"' not in second
    assert 'rel="next"' in first and 'rel="prev"' in second
    funnel = re.compile(r'id="funnel-data">(.*?)</script>', re.S)
    assert funnel.findall(first) == funnel.findall(second)  # the plot keeps every person
    beyond = client.get(f"/scores?period={month}&sort=code&dir=asc&page=99").get_data(as_text=True)
    assert 'data-staff="NV004"' in beyond  # the last page, not an empty one

