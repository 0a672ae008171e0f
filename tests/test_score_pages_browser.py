"""The evaluation pages in headless Chromium against a real ``hailong serve`` with months of real votes.

Tablets enrolled at three counters sign votes and send them over HTTP; the
rollup job step adds them up (tests/score_pages.py). Then, as HR, manager,
auditor and the civil servant themselves: the charts are really drawn (the
canvas has pixels), in Vietnamese and English, with no Content-Security-Policy
violation; the files download with Vietnamese intact; a flag is reviewed
through its form; the ranking fits a phone.
"""

import csv
import io
import urllib.parse

import openpyxl
import pytest

from devtools.processes import Server
from tests.admin_live import PHONE, signed_in
from tests.people import copy_db
from tests.score_pages import seed

LISTEN = """document.addEventListener('securitypolicyviolation', e => {
    (window.__violations = window.__violations || []).push(e.violatedDirective + ' ' + e.blockedURI);
});"""
# How many pixels of a canvas something was drawn on (Chart.js draws on its 2D context).
INKED = """selector => [...document.querySelectorAll(selector)].map(canvas => {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let inked = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i]) inked++;
    return inked;
})"""


@pytest.fixture(scope="module")
def scored(people_template, tmp_path_factory):
    template, facts = people_template
    folder = tmp_path_factory.mktemp("scored")
    path = copy_db(template, folder / "people.db")
    server = Server(path, settings={"DEVELOPMENT": "true"}, log_path=folder / "serve.log").start()
    server.facts = facts
    server.seeded = seed(server, folder)
    yield server
    server.stop()


def watch(page):
    found = []
    page.on("console", lambda message: "Content Security Policy" in message.text and found.append(message.text))
    page.add_init_script(LISTEN)
    return found


def violations(page, found):
    return found + page.evaluate("window.__violations || []")


def open_page(page, server, path, lang):
    page.goto(f"{server.url}/lang/{lang}?next={urllib.parse.quote(path)}")
    page.wait_for_load_state("load")
    drawn = page.locator("canvas[data-chart]").count()
    if drawn:
        page.wait_for_selector(f"canvas[data-chart][data-drawn='1'] >> nth={drawn - 1}", state="attached")
    return drawn


@pytest.mark.parametrize("lang,title,funnel", [("vi", "Xếp hạng", "Biểu đồ phễu"), ("en", "Ranking", "Funnel plot")])
def test_the_ranking_and_its_funnel_plot_are_drawn_in_both_languages(scored, browser, lang, title, funnel):
    month = scored.seeded["last_month"]
    with signed_in(browser, scored, "hr") as page:
        found = watch(page)
        assert open_page(page, scored, f"/scores?period={month}", lang) == 1
        assert page.text_content("h1").startswith(title)
        assert funnel in page.text_content(".funnel h2")
        assert page.evaluate(INKED, "canvas[data-chart=funnel]")[0] > 2000
        staff = page.eval_on_selector_all("#ranking tbody tr", "rows => rows.map(r => r.dataset.staff)")
        assert sorted(staff) == ["NV001", "NV002", "NV003"]  # NV004 is in DN-BH: outside HR's scope
        row = page.text_content("#ranking tr[data-staff='NV003']")
        assert "n = " not in row and "[" in row and "%" in row  # each figure with its interval
        assert violations(page, found) == []


def test_the_staff_page_draws_levels_trend_and_reasons_and_shades_the_heat_map(scored, browser):
    month = scored.seeded["last_month"]
    with signed_in(browser, scored, "manager") as page:
        found = watch(page)
        for lang, heading in (("vi", "Lượt đánh giá theo mức"), ("en", "Votes per level")):
            assert open_page(page, scored, f"/scores/staff/NV003?period={month}", lang) == 3
            assert heading in page.text_content("#levels h2")
            assert all(inked > 500 for inked in page.evaluate(INKED, "canvas[data-chart]"))
            assert page.text_content("h1").startswith("Lê Hoàng Phúc")
            assert page.locator("#heatmap td.h5").count() >= 1  # the busiest hour, darkest
            assert page.locator("#heatmap tbody tr").count() == 7
            months = page.locator("#trend tbody tr").count()
            assert months == len(scored.seeded["periods"])
            if months >= 3:  # Mann–Kendall and Theil–Sen need three months of votes
                assert "Theil–Sen" in page.text_content("#series-trend")
        assert violations(page, found) == []


def test_the_dashboard_and_the_unit_comparison_are_drawn(scored, browser):
    month = scored.seeded["last_month"]
    with signed_in(browser, scored, "admin") as page:
        found = watch(page)
        assert open_page(page, scored, "/", "vi") == 1
        assert page.url.endswith("/dashboard")
        assert int(page.text_content("#votes-month .big").replace(".", "")) >= 12
        assert page.evaluate(INKED, "canvas[data-chart]")[0] > 1000
        assert "biểu đồ p" in page.text_content("#control thead")  # each month against its p-chart limits
        assert open_page(page, scored, f"/scores/units?period={month}", "en") == 1
        units = page.eval_on_selector_all("#units tbody tr", "rows => rows.map(r => r.dataset.unit)")
        assert {"DN-TT", "DN-BH"} <= set(units)
        assert page.evaluate(INKED, "canvas[data-chart]")[0] > 1000
        assert violations(page, found) == []


def test_the_auditor_reads_the_flag_but_sees_no_review_form(scored, browser):
    flag = scored.seeded["flag_id"]
    with signed_in(browser, scored, "auditor") as page:
        open_page(page, scored, f"/flags/{flag}", "en")
        assert "Burst of votes" in page.text_content("h1")
        assert page.locator("#flag-votes tbody tr").count() == 4
        assert page.locator("#review-flag").count() == 0


def test_hr_confirms_a_flag_with_a_reason_and_the_votes_leave_the_score(scored, browser):
    flag, month = scored.seeded["flag_id"], scored.seeded["last_month"]
    with signed_in(browser, scored, "hr") as page:
        found = watch(page)
        open_page(page, scored, f"/flags/{flag}", "vi")
        page.check("#review-flag input[value=confirm]")
        page.fill("#review-flag textarea[name=reason]", "Bốn lượt trong một phút, cùng một phiếu")
        page.click("#review-flag button")
        page.wait_for_selector("#reviews")
        assert "Bốn lượt trong một phút, cùng một phiếu" in page.text_content("#reviews")
        assert "đã xác nhận gian lận" in page.text_content("h1")
        assert violations(page, found) == []


def test_the_downloads_open_with_vietnamese_intact(scored, browser):
    month = scored.seeded["last_month"]
    with signed_in(browser, scored, "admin") as page:
        open_page(page, scored, f"/scores?period={month}&sort=code&dir=asc", "vi")
        with page.expect_download() as download:
            page.click("#export-csv")
        body = download.value.path().read_bytes()
        assert body.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert rows[0][1] == "Họ và tên"
        assert [r[1] for r in rows[1:]] == ["Nguyễn Thị Hồng Nhung", "Trần Văn Bình", "Lê Hoàng Phúc",
                                            "Phạm Thị Thu Trang"]
        with page.expect_download() as download:
            page.click("#export-xlsx")
        assert download.value.suggested_filename == f"scores-{month}.xlsx"
        sheet = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes())).active
        assert [sheet.cell(row=r, column=2).value for r in range(2, 6)] == [r[1] for r in rows[1:]]


def test_the_ranking_fits_a_phone_with_its_funnel_plot(scored, browser):
    month = scored.seeded["last_month"]
    with signed_in(browser, scored, "hr", viewport=PHONE) as page:
        found = watch(page)
        open_page(page, scored, f"/scores?period={month}", "vi")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert page.evaluate(INKED, "canvas[data-chart]")[0] > 1000
        cell = page.locator("#ranking tr[data-staff='NV001'] td").nth(2)
        assert cell.bounding_box()["width"] < PHONE["width"]  # a card per person, not a wide table
        assert violations(page, found) == []


def test_the_civil_servant_sees_their_own_page_and_no_one_elses(scored, browser):
    month = scored.seeded["last_month"]
    with signed_in(browser, scored, "staff") as page:
        found = watch(page)
        assert open_page(page, scored, "/", "en") >= 2  # levels and trend (reasons if any were given)
        assert page.url.endswith("/me")
        page.goto(f"{scored.url}/me?period={month}")
        page.wait_for_selector("canvas[data-chart][data-drawn='1'] >> nth=1", state="attached")
        assert page.text_content("h1").startswith("Nguyễn Thị Hồng Nhung")
        assert page.locator("#headline .grade").count() == 1
        assert page.goto(f"{scored.url}/scores/staff/NV003?period={month}").status == 403
        assert violations(page, found) == []


@pytest.mark.parametrize("lang,title", [("vi", "Báo cáo tháng"), ("en", "Monthly report")])
def test_the_unit_comparison_links_each_unit_to_its_monthly_report_which_renders(scored, browser, lang, title):
    month = scored.seeded["last_month"]
    with signed_in(browser, scored, "manager") as page:
        found = watch(page)
        open_page(page, scored, f"/scores/units?period={month}", lang)
        page.click("#units tr[data-unit='DN-TT'] a[href*='/reports/']")
        page.wait_for_load_state("load")
        assert page.url.endswith(f"/reports/DN-TT/{month}")
        assert page.text_content("h1").startswith(title)
        assert "Lê Hoàng Phúc" in page.text_content("main")
        assert violations(page, found) == []
