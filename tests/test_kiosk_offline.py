"""The kiosk with no server, and with its own service restarting: nothing lost, nothing twice."""

import pytest

from tests.browser import wait_until
from tests.kiosk_live import KioskTablet, server_votes, wait_for


@pytest.fixture(scope="module")
def server(kiosk_server):
    return kiosk_server


@pytest.fixture
def kiosk(server, tmp_path):
    tablet = KioskTablet(server, tmp_path / "tablet").start()
    tablet.sign_in("NV001")
    yield tablet
    tablet.stop()


def vote(page, value):
    page.wait_for_selector("#screen-waiting.active", timeout=5000)
    page.click("#start")
    page.wait_for_selector("#screen-rating.active")
    page.wait_for_timeout(450)
    page.click(f".level[data-value='{value}']")
    page.wait_for_selector("#screen-thanks.active")


def test_votes_are_kept_while_the_server_is_down_and_arrive_once_when_it_is_back(page, kiosk, server):
    page.goto(kiosk.url + "/")
    page.wait_for_selector("#indicator:not(.offline)")
    server.kill()
    for value in (4, 3, 4):
        vote(page, value)
    page.wait_for_selector("#indicator.offline", timeout=10000)
    assert page.inner_text("#queue") == "3"
    assert page.is_visible("#indicator .offline-text")
    assert [v["rating"] for v in kiosk.votes()] == [4, 3, 4]

    server.start()
    page.wait_for_selector("#indicator:not(.offline)", timeout=15000)
    assert wait_for(lambda: len(server_votes(server.database, kiosk.tablet.device_id)) == 3)
    wait_until(page, "document.querySelector('#queue').textContent === '0'", timeout=10)
    assert server_votes(server.database, kiosk.tablet.device_id) == [
        (1, "NV001", 4, "[]"), (2, "NV001", 3, "[]"), (3, "NV001", 4, "[]")
    ]


def test_the_page_recovers_when_the_local_service_restarts_mid_flow(page, kiosk, server):
    page.goto(kiosk.url + "/")
    page.wait_for_selector("#screen-waiting.active")
    page.click("#start")
    page.wait_for_selector("#screen-rating.active")
    page.wait_for_timeout(450)
    page.click(".level[data-value='1']")
    page.wait_for_selector("#screen-reasons.active")
    page.click(".chip[data-code='attitude']")
    kiosk.kill()  # a power cut of the service, with the citizen on the reasons screen
    page.click("#reasons-send")
    page.wait_for_selector("#screen-saving.active")
    page.wait_for_timeout(500)
    kiosk.start()
    page.wait_for_selector("#screen-thanks.active", timeout=10000)
    assert [(v["rating"], v["reasons"]) for v in kiosk.votes()] == [(1, ["attitude"])]
    assert wait_for(lambda: server_votes(server.database, kiosk.tablet.device_id)) == [
        (1, "NV001", 1, '["attitude"]')
    ]
