"""Times on the pages are in the province's time zone (UTC+7), not UTC; the API keeps UTC."""

import datetime as dt
import re

from tests.admin_live import people_server, signed_in  # noqa: F401
from tests.people import PASSWORD

UTC_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|Z \(UTC\)|\(UTC\)")


def local_text(utc, seconds=False):
    moment = dt.datetime.fromisoformat(utc.replace("Z", "+00:00")) + dt.timedelta(hours=7)
    return moment.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "")) + " (UTC+07:00)"


def test_token_times_on_the_account_page_are_local_and_the_api_keeps_utc(people_server, browser):
    with signed_in(browser, people_server, username="manager") as page:
        page.goto(people_server.url + "/account")
        page.fill("#create-token input[name=name]", "nightly report")
        page.fill("#create-token input[name=password]", PASSWORD)
        page.click("#create-token button")
        token = page.request.get(people_server.url + "/api/v1/me/tokens").json()["tokens"][-1]
        assert token["created_at"].endswith("Z") and token["expires_at"].endswith("Z")
        row = page.locator("#tokens tr", has_text="nightly report").text_content()
        assert local_text(token["created_at"]) in row and local_text(token["expires_at"]) in row
        assert not UTC_TEXT.search(page.text_content("main"))


def test_audit_entries_show_local_time_to_the_second(people_server, browser):
    with signed_in(browser, people_server) as page:
        entry = page.request.get(people_server.url + "/api/v1/audit?limit=1").json()["entries"][0]
        page.goto(people_server.url + "/admin/audit")
        assert local_text(entry["at"], seconds=True) in page.locator("#audit tbody tr").first.text_content()


def test_no_page_shows_a_utc_time(people_server, browser):
    with signed_in(browser, people_server) as page:
        for path in ("/admin/devices", "/admin/audit", "/account", "/admin/users/hr"):
            page.goto(people_server.url + path)
            found = UTC_TEXT.search(page.text_content("main"))
            assert not found, f"{path} shows {found.group(0)!r}"
            if path != "/admin/devices":  # the people database's devices were never heard from
                assert "(UTC+07:00)" in page.text_content("main"), path
