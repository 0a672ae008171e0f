"""Every admin page on a phone (390×844, Vietnamese): the menu folds into one button, every tap
target is at least 44 px tall, and no table runs off the screen (wide ones stack into cards)."""

import pytest

from tests.admin_live import PHONE, people_server, signed_in, submit  # noqa: F401

PAGES = ["/admin/units", "/admin/units/DN-TT", "/admin/counters", "/admin/counters/DN-TT-Q1", "/admin/staff",
         "/admin/staff/NV001", "/admin/staff/import", "/admin/devices", "/admin/users", "/admin/users/hr",
         "/admin/audit", "/account", "/api/docs", "/admin/holidays?year=2026", "/admin/scales",
         # The evaluation pages.
         "/dashboard", "/scores", "/scores/units", "/scores/staff/NV001", "/flags", "/flags?status=all",
         "/periods", "/objections?status=all",
         # The auditor's log pages (issue 10).
         "/log", "/log/audit/checkpoints", "/log/verify"]
PUBLIC = ["/login", "/enroll?code=WJ6EP-ZYGHP"]

# Each visible tap target with its height; a checkbox is tapped through its label.
TARGETS = """() => [...document.querySelectorAll('a, button, input, select, textarea, summary')]
    .filter(el => el.type !== 'hidden' && el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden')
    .map(el => {
        const target = el.type === 'checkbox' ? el.closest('label') : el;
        const box = target.getBoundingClientRect();
        return {what: el.outerHTML.slice(0, 80), height: box.height, width: box.width};
    })
    .filter(t => t.width > 0)"""
# Tables wider than the screen, unless each row is a card (display: block).
WIDE_TABLES = """() => [...document.querySelectorAll('table')]
    .filter(t => t.getBoundingClientRect().width > innerWidth
                 && getComputedStyle(t.querySelector('tr')).display !== 'block')
    .map(t => t.id || t.outerHTML.slice(0, 60))"""


def check_fits_a_phone(page, path):
    small = [t for t in page.evaluate(TARGETS) if t["height"] < 44]
    assert not small, f"{path}: tap targets under 44 px: {small[:3]}"
    assert not page.evaluate(WIDE_TABLES), f"{path}: a table is wider than the phone"
    overflow = page.evaluate("document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0, f"{path} is wider than the phone by {overflow}px"


@pytest.fixture(scope="module")
def phone(people_server, browser):
    with signed_in(browser, people_server, viewport=PHONE) as page:
        yield page


@pytest.mark.parametrize("path", PAGES)
def test_each_admin_page_fits_a_phone_with_its_menu_folded(phone, people_server, path):
    assert phone.goto(people_server.url + path).status == 200
    header = phone.locator("header").bounding_box()
    assert header["height"] <= 60, f"{path}: the header is {header['height']}px tall"
    assert not phone.locator("header nav").is_visible()
    check_fits_a_phone(phone, path)


def test_the_folded_menu_opens_to_44_px_items(phone, people_server):
    phone.goto(people_server.url + "/admin/units")
    assert phone.text_content("header summary").strip() == "Trình đơn"
    phone.click("header summary")
    items = phone.locator("header nav a, header nav button")
    # Ranking and flags (the dashboard is the brand's link); six admin areas, holidays, scales, alerts;
    # the account, sign out.
    assert items.count() == 13
    assert all(box["height"] >= 44 for box in (item.bounding_box() for item in items.all()))
    phone.click("header nav a:has-text('Thiết bị')")
    phone.wait_for_url(people_server.url + "/admin/devices")
    assert not phone.locator("header nav").is_visible()


def test_the_enrollment_code_page_fits_a_phone(phone, people_server):
    phone.goto(people_server.url + "/admin/devices")
    submit(phone, "#issue-code", counter="DN-TT-Q1")
    assert phone.locator("#enroll-link").is_visible()
    check_fits_a_phone(phone, "the enrollment code page")


@pytest.mark.parametrize("path", PUBLIC)
def test_the_public_pages_fit_a_phone(people_server, browser, path):
    context = browser.new_context(viewport=PHONE, locale="vi-VN", is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        assert page.goto(people_server.url + path).status == 200
        assert page.locator("header").bounding_box()["height"] <= 60
        check_fits_a_phone(page, path)
    finally:
        context.close()


def test_the_menu_is_open_without_a_button_on_a_laptop(people_server, browser):
    with signed_in(browser, people_server) as page:
        assert page.locator("header nav a", has_text="Thiết bị").is_visible()
        assert not page.locator("header summary").is_visible()
        assert page.locator("header").bounding_box()["height"] <= 60
