"""The alerts page and the monthly report in Chromium: rendered with data, in both languages, printable,
with no Content-Security-Policy violation."""

import pytest

from tests.admin_live import people_server, signed_in  # noqa: F401
from tests.test_csp_browser import violations, watch



@pytest.mark.parametrize("locale, heading, alert", [("vi-VN", "Báo cáo tháng", "Tỷ lệ không hài lòng cao"),
                                                    ("en-GB", "Monthly report", "High share of dissatisfied votes")])
def test_the_report_and_the_alerts_render_in_each_language(browser, people_server, locale, heading, alert):
    with signed_in(browser, people_server, "manager", locale=locale) as page:
        found = watch(page)
        page.goto(people_server.url + "/reports/DN-TT/2026-11")
        page.wait_for_load_state("load")
        assert page.locator("h1").inner_text().startswith(heading)
        assert page.locator("article.report table").count() >= 1
        # The report's stylesheet applies, and printing leaves the header and menu out.
        assert page.evaluate("getComputedStyle(document.querySelector('.report .summary')).display") == "grid"
        page.emulate_media(media="print")
        assert page.evaluate("getComputedStyle(document.querySelector('header')).display") == "none"
        page.emulate_media(media="screen")
        page.goto(people_server.url + "/alerts")
        page.wait_for_load_state("load")
        assert alert in page.locator("#alerts").inner_text()
        assert "DN-BH" not in page.content()
        assert violations(page, found) == []
