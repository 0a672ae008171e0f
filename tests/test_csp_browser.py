"""The admin pages and the kiosk work in Chromium under their Content-Security-Policy, with no violation.

Chromium reports every blocked inline script, handler, style or foreign
resource both as a console error and as a ``securitypolicyviolation`` event;
both are collected, and a test first makes sure a real violation is caught.
"""

import pytest

from tests.admin_live import people_server, signed_in  # noqa: F401
from tests.browser import wait_until
from tests.kiosk_live import KioskTablet

PAGES = ["/admin/units", "/admin/units/DN-TT", "/admin/counters", "/admin/counters/DN-TT-Q1", "/admin/staff",
         "/admin/staff/NV001", "/admin/staff/import", "/admin/devices", "/admin/users", "/admin/users/hr",
         "/admin/audit", "/account", "/api/docs", "/enroll?code=WJ6EP-ZYGHP", "/admin/nothing-here",
         # The evaluation pages (their charts are checked with months of votes in test_score_pages_browser.py).
         "/dashboard", "/scores", "/scores/units", "/scores/staff/NV001", "/flags", "/periods", "/objections",
         # The auditor's log pages (a checkpoint's page, with its QR code: tests/test_ledger_pages_browser.py).
         "/log", "/log/verify"]
LISTEN = """document.addEventListener('securitypolicyviolation', e => {
    (window.__violations = window.__violations || []).push(e.violatedDirective + ' ' + e.blockedURI);
});"""


def watch(page):
    """Collect CSP violations of ``page``: console errors, and the events of every document it loads."""
    found = []
    page.on("console", lambda message: "Content Security Policy" in message.text and found.append(message.text))
    page.add_init_script(LISTEN)
    return found


def violations(page, found):
    return found + (page.evaluate("window.__violations || []"))


@pytest.fixture(scope="module")
def admin(people_server, browser):
    with signed_in(browser, people_server) as page:
        page.found = watch(page)
        yield page


def test_a_blocked_inline_script_is_noticed(admin, people_server):
    admin.goto(people_server.url + "/admin/units")
    admin.evaluate("""() => { const s = document.createElement('script');
                              s.textContent = 'window.ran = true'; document.body.append(s); }""")
    admin.wait_for_timeout(100)
    assert admin.evaluate("window.ran === undefined")
    assert any("script-src" in v for v in violations(admin, admin.found))
    admin.found.clear()


@pytest.mark.parametrize("path", PAGES)
def test_each_page_loads_with_no_policy_violation(admin, people_server, path):
    admin.goto(people_server.url + path)
    admin.wait_for_load_state("load")
    assert admin.evaluate("getComputedStyle(document.body).fontFamily")  # the stylesheet applied
    assert admin.evaluate("document.styleSheets.length") == 1
    assert violations(admin, admin.found) == []


def test_revoking_a_device_still_asks_first_and_the_enrollment_qr_shows(admin, people_server):
    device = people_server.facts["devices"]["in2"]
    admin.goto(people_server.url + "/admin/devices")
    questions = []
    admin.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    admin.click(f"tr[data-device='{device}'] button.danger")
    admin.wait_for_timeout(300)
    assert questions == ["Thu hồi thiết bị này?"]
    assert admin.locator(f"tr[data-device='{device}'] .state-revoked").count() == 0  # answered "no": kept
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.click(f"tr[data-device='{device}'] button.danger")
    admin.wait_for_selector(f"tr[data-device='{device}'] .state-revoked")
    admin.select_option("#issue-code [name=counter]", "DN-TT-Q1")
    admin.click("#issue-code button")
    admin.wait_for_selector(".qr svg")
    assert admin.locator(".qr svg").bounding_box()["width"] > 100
    admin.goto(people_server.url + "/admin/units")
    depths = admin.eval_on_selector_all(".tree li", "items => items.map(li => getComputedStyle(li).paddingLeft)")
    assert depths[:2] == ["0px", "24px"]  # the tree is indented without inline styles
    assert violations(admin, admin.found) == []


def test_the_kiosk_runs_a_whole_citizen_and_staff_flow_with_no_policy_violation(kiosk_server, browser, tmp_path):
    tablet = KioskTablet(kiosk_server, tmp_path / "tablet").start()
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    try:
        page = context.new_page()
        found = watch(page)
        page.goto(tablet.url + "/")
        page.wait_for_selector("#screen-closed.active")
        page.click("#staff-button")
        page.fill("#staff-code", "NV001")
        for digit in "1234":
            page.click(f".key[data-key='{digit}']")
        page.click("#pin-ok")
        page.wait_for_selector("#screen-waiting.active")
        wait_until(page, "document.querySelector('#staff-photo').complete")
        assert page.evaluate("document.querySelector('#staff-photo').naturalWidth") > 0
        assert page.evaluate("document.fonts.check('16px \"Kiosk Sans\"')")
        page.wait_for_timeout(1100)  # KIOSK_VOTE_INTERVAL_SECONDS
        page.click("#start")
        page.wait_for_selector("#screen-rating.active")
        page.wait_for_timeout(450)
        page.click(".level[data-value='1']")
        page.wait_for_selector("#screen-reasons.active")
        page.click(".chip[data-code='long_wait']")
        page.click("#reasons-send")
        page.wait_for_selector("#screen-thanks.active")
        page.click(".lang[data-lang='en']")
        page.wait_for_selector("#screen-thanks.active")
        assert violations(page, found) == []
    finally:
        context.close()
        tablet.stop()
