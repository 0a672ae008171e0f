"""Forms refused in Vietnamese: the summary and every field message are Vietnamese, not the schema's English."""

from tests.admin_live import people_server, signed_in, submit  # noqa: F401
from tests.people import PASSWORD

SUMMARY = "Một số trường cần sửa: xem thông báo bên dưới từng trường."


def field_errors(page, form, name):
    return [t.strip() for t in page.locator(f"{form} [name={name}] ~ .error").all_text_contents()]


def test_a_unit_with_a_bad_code_and_a_long_name_is_refused_in_vietnamese(people_server, browser):
    with signed_in(browser, people_server) as page:
        page.goto(people_server.url + "/admin/units")
        submit(page, "#new-unit", code="QN TT", name="x" * 201)
        assert page.text_content("[role=alert]").strip() == SUMMARY
        assert field_errors(page, "#new-unit", "code") == ["Chỉ gồm chữ, số, . _ - (tối đa 64 ký tự)."]
        assert field_errors(page, "#new-unit", "name") == ["Từ 1 đến 200 ký tự."]


def test_a_unit_code_that_exists_is_refused_in_vietnamese(people_server, browser):
    with signed_in(browser, people_server) as page:
        page.goto(people_server.url + "/admin/units")
        submit(page, "#new-unit", code="DN-TT", name="Trùng mã")
        assert page.text_content("[role=alert]").strip() == "Đã có đơn vị với mã này."
        assert field_errors(page, "#new-unit", "code") == ["Đã có đơn vị với mã này."]


def test_a_short_new_password_is_refused_in_vietnamese(people_server, browser):
    with signed_in(browser, people_server, username="auditor") as page:
        page.goto(people_server.url + "/account")
        submit(page, "#change-password", current_password=PASSWORD, new_password="short", confirm_password="short")
        assert page.text_content("[role=alert]").strip() == "Mật khẩu mới quá yếu."
        assert field_errors(page, "#change-password", "new_password") == ["Ít nhất 10 ký tự."]


def test_a_username_with_capitals_is_refused_in_vietnamese(people_server, browser):
    with signed_in(browser, people_server) as page:
        page.goto(people_server.url + "/admin/users")
        submit(page, "#new-user", username="Nguyen Van A", password="a long enough password")
        assert page.text_content("[role=alert]").strip() == SUMMARY
        assert field_errors(page, "#new-user", "username") == [
            "Chỉ gồm chữ thường, số, . _ - (từ 2 đến 64 ký tự)."]


def test_a_bad_audit_query_is_a_vietnamese_page_not_json(people_server, browser):
    with signed_in(browser, people_server) as page:
        answer = page.goto(people_server.url + "/admin/audit?before_id=abc")
        assert answer.status == 400
        assert "Không phải số nguyên hợp lệ." in page.text_content("main")
