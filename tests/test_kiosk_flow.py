"""The citizen's flow on the kiosk page, in Chromium, against a real tablet and server."""

import pytest
import requests

from migrations import DEFAULT_SCALE
from tests.kiosk_live import KioskTablet, wait_for

LEVELS = [level["value"] for level in DEFAULT_SCALE["levels"]]
NEGATIVE = {level["value"] for level in DEFAULT_SCALE["levels"] if level["negative"]}


@pytest.fixture(scope="module")
def server(kiosk_server):
    return kiosk_server


@pytest.fixture(scope="module")
def tablet(server, tmp_path_factory):
    running = KioskTablet(server, tmp_path_factory.mktemp("kiosk_tablet")).start()
    yield running
    running.stop()


@pytest.fixture
def kiosk(tablet):
    """The module's tablet, with NV001 signed in and only this test's votes counted."""
    return tablet.fresh("NV001")


def open_page(page, kiosk):
    page.goto(kiosk.url + "/")
    page.wait_for_selector("#screen-waiting.active")
    return page


def rate(page, value):
    page.click("#start")
    page.wait_for_selector("#screen-rating.active")
    page.wait_for_timeout(450)  # the double-tap guard
    page.click(f".level[data-value='{value}']")


@pytest.mark.parametrize("value", LEVELS)
def test_each_level_is_recorded_for_the_signed_in_staff_and_synced(page, kiosk, server, value):
    open_page(page, kiosk)
    assert page.inner_text("#staff-name") == "Nguyễn Thị Hồng Nhung"
    rate(page, value)
    if value in NEGATIVE:
        page.wait_for_selector("#screen-reasons.active")
        page.click("#reasons-skip")
    page.wait_for_selector("#screen-thanks.active")
    assert [(v["staff"], v["rating"], v["reasons"]) for v in kiosk.votes()] == [("NV001", value, [])]
    page.wait_for_selector("#screen-waiting.active", timeout=5000)
    assert wait_for(lambda: kiosk.server_votes(server.database)) == [("NV001", value, "[]")]


def test_reasons_are_recorded_with_the_negative_rating(page, kiosk, server):
    open_page(page, kiosk)
    rate(page, 1)
    page.wait_for_selector("#screen-reasons.active")
    page.click(".chip[data-code='long_wait']")
    page.click(".chip[data-code='attitude']")
    page.click(".chip[data-code='other']")
    page.click(".chip[data-code='other']")  # a second tap takes it back
    assert page.get_attribute(".chip[data-code='other']", "aria-pressed") == "false"
    page.click("#reasons-send")
    page.wait_for_selector("#screen-thanks.active")
    assert [(v["rating"], v["reasons"]) for v in kiosk.votes()] == [(1, ["attitude", "long_wait"])]
    assert wait_for(lambda: kiosk.server_votes(server.database)) == [("NV001", 1, '["attitude", "long_wait"]')]


def test_a_citizen_who_walks_away_from_the_reasons_still_has_the_rating_recorded(page, kiosk):
    open_page(page, kiosk)
    rate(page, 2)
    page.wait_for_selector("#screen-reasons.active")
    page.click(".chip[data-code='unclear_guidance']")
    # KIOSK_REASONS_TIMEOUT_SECONDS is 2 here: the page records what it has.
    page.wait_for_selector("#screen-thanks.active", timeout=5000)
    assert [(v["rating"], v["reasons"]) for v in kiosk.votes()] == [(2, ["unclear_guidance"])]
    page.wait_for_selector("#screen-waiting.active", timeout=5000)


def test_rapid_repeated_taps_record_one_vote(page, kiosk):
    open_page(page, kiosk)
    page.click("#start")
    page.wait_for_selector("#screen-rating.active")
    page.wait_for_timeout(450)
    box = page.locator(".level[data-value='4']").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for _ in range(8):
        page.mouse.click(x, y)
    page.wait_for_selector("#screen-thanks.active")
    for _ in range(8):
        page.mouse.click(x, y)
    page.wait_for_timeout(300)
    assert len(kiosk.votes()) == 1


def test_a_double_tap_on_start_does_not_also_rate(page, kiosk):
    open_page(page, kiosk)
    box = page.locator("#start").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(x, y)
    page.mouse.click(x, y)
    page.wait_for_selector("#screen-rating.active")
    page.wait_for_timeout(300)
    assert kiosk.votes() == []


def test_the_same_key_is_one_vote_and_a_new_vote_within_the_interval_is_recorded_with_a_mark(kiosk):
    def send(key, rating):
        body = {"key": f"{key}-{kiosk.baseline}", "rating": rating}
        return requests.post(kiosk.url + "/api/vote", json=body, timeout=5)

    first, again = send("citizen-1", 4), send("citizen-1", 4)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    soon = send("citizen-2", 3)  # KIOSK_VOTE_INTERVAL_SECONDS is 1: this is sooner
    assert soon.status_code == 200 and soon.json()["seq"] == first.json()["seq"] + 1
    assert [(v["rating"], v.get("marks")) for v in kiosk.votes()] == [(4, None), (3, ["rapid_repeat"])]


def test_reloading_mid_flow_resumes_and_never_records_twice(page, kiosk, server):
    open_page(page, kiosk)
    rate(page, 1)
    page.wait_for_selector("#screen-reasons.active")
    page.click(".chip[data-code='long_wait']")
    page.reload()
    page.wait_for_selector("#screen-reasons.active")
    assert page.get_attribute(".chip[data-code='long_wait']", "aria-pressed") == "true"
    page.click("#reasons-send")
    page.wait_for_selector("#screen-thanks.active")
    page.reload()  # on "thank you": the vote is committed; the reload must not send another
    page.wait_for_selector("#screen-waiting.active", timeout=5000)
    assert [(v["rating"], v["reasons"]) for v in kiosk.votes()] == [(1, ["long_wait"])]
    assert wait_for(lambda: kiosk.server_votes(server.database)) == [("NV001", 1, '["long_wait"]')]


def test_a_reload_while_saving_resends_with_the_same_key(page, kiosk):
    open_page(page, kiosk)
    key = f"resend-after-reload-{kiosk.baseline}"
    page.evaluate(
        "key => sessionStorage.setItem('hailong.flow', JSON.stringify("
        "{screen: 'saving', key: key, rating: 3, reasons: []}))", key
    )
    assert requests.post(kiosk.url + "/api/vote", json={"key": key, "rating": 3}, timeout=5).ok  # committed
    page.reload()
    page.wait_for_selector("#screen-thanks.active")
    assert [v["rating"] for v in kiosk.votes()] == [3]


def test_the_language_switch_works_on_every_screen_and_waiting_returns_to_vietnamese(page, kiosk):
    open_page(page, kiosk)
    assert page.inner_text("#waiting-title") == "Quý vị có hài lòng với sự phục vụ của chúng tôi?"
    page.click(".lang[data-lang='en']")
    page.wait_for_selector("#screen-waiting.active")
    assert page.inner_text("#waiting-title") == "How satisfied are you with our service?"
    assert page.get_attribute("html", "lang") == "en"
    page.click("#start")
    page.wait_for_selector("#screen-rating.active")
    assert page.inner_text(".level[data-value='4'] .label") == "Very satisfied"
    page.click(".lang[data-lang='vi']")
    page.wait_for_selector("#screen-rating.active")
    assert page.inner_text(".level[data-value='4'] .label") == "Rất hài lòng"
    page.click(".lang[data-lang='en']")
    page.wait_for_selector("#screen-rating.active")
    page.wait_for_timeout(450)
    page.click(".level[data-value='1']")
    page.wait_for_selector("#screen-reasons.active")
    assert page.inner_text(".chip[data-code='long_wait']") == "Long wait"
    page.click("#reasons-skip")
    page.wait_for_selector("#screen-thanks.active")
    assert page.inner_text("#thanks-title") == "Thank you!"
    page.wait_for_selector("#screen-waiting.active", timeout=5000)
    assert page.get_attribute("html", "lang") == "vi"
    assert page.inner_text("#waiting-title") == "Quý vị có hài lòng với sự phục vụ của chúng tôi?"
    assert [(v["rating"], v["reasons"]) for v in kiosk.votes()] == [(1, [])]


def test_the_page_loads_nothing_from_outside_the_tablet(page, kiosk):
    hosts = set()
    page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
    open_page(page, kiosk)
    page.wait_for_timeout(300)
    assert hosts == {f"127.0.0.1:{kiosk.port}"}
    fonts = page.evaluate("document.fonts.check('700 20px \"Kiosk Sans\"', 'Nguyễn Thị Hồng Nhung')")
    assert fonts is True


def test_touch_targets_are_large_and_labelled(page, kiosk):
    open_page(page, kiosk)
    page.click("#start")
    page.wait_for_selector("#screen-rating.active")
    for button in page.locator(".level").all():
        box = button.bounding_box()
        assert box["width"] >= 200 and box["height"] >= 200
        assert button.get_attribute("aria-label")
    for selector in (".lang", "#staff-button", "#rating-back"):
        for element in page.locator(selector).all():
            assert element.bounding_box()["height"] >= 60, selector
