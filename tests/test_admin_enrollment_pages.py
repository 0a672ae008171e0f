"""Issuing an enrollment code shows the code, the link as text and its QR code; a phone that scans
the QR code lands on a public page that explains what to do; the tablet enrolls with the link."""

from device_client import protocol
from device_client.tablet import enroll
from tests.admin_live import PHONE, people_server, signed_in, submit  # noqa: F401


def test_an_issued_code_shows_its_link_and_the_tablet_enrolls_with_it(people_server, browser, tmp_path):
    with signed_in(browser, people_server) as page:
        page.goto(people_server.url + "/admin/devices")
        submit(page, "#issue-code", counter="DN-TT-Q2")
        code = page.text_content("#enroll-code").strip()
        link = page.text_content("#enroll-link").strip()
        assert link == f"{people_server.url}/enroll?code={code}"
        assert page.text_content("#enroll-command").strip() == f"hailong-device enroll --link '{link}'"
        assert page.locator(".qr svg").count() == 1
        assert "(UTC+07:00)" in page.text_content("#issued")

    phone = browser.new_context(viewport=PHONE, locale="vi-VN", is_mobile=True, has_touch=True)
    try:
        landing = phone.new_page()
        assert landing.goto(link).status == 200  # no sign-in
        assert landing.text_content("h1").strip() == "Đăng ký máy tính bảng"
        assert landing.text_content("#enroll-command").strip() == f"hailong-device enroll --link '{link}'"
    finally:
        phone.close()

    tablet = enroll(str(tmp_path / "tablet"), *protocol.parse_enroll_link(link))
    assert tablet.config["counter"]["code"] == "DN-TT-Q2"
    tablet.close()
