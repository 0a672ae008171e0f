"""Every kiosk screen in landscape and portrait, captured and checked.

A test run writes them to a temporary folder, so it never changes the
checkout; ``make screenshots`` sets SCREENSHOTS_DIR=docs/screenshots to
refresh the pictures the README and docs/kiosk.md show.
"""

import os
import pathlib

import pytest

from tests.browser import wait_until
from tests.kiosk_live import KioskTablet, migrated_database, start_server

ORIENTATIONS = {"landscape": {"width": 1280, "height": 800}, "portrait": {"width": 800, "height": 1280}}


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kiosk_screens")
    server = start_server(migrated_database(folder), folder, {"KIOSK_REASONS_TIMEOUT_SECONDS": 600, "KIOSK_THANKS_SECONDS": 600,
                                         "KIOSK_VOTE_INTERVAL_SECONDS": 0})
    tablet = KioskTablet(server, folder / "tablet").start()
    yield tablet
    tablet.stop()
    server.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """Where the pictures go: SCREENSHOTS_DIR (``make screenshots``), else a temporary folder."""
    wanted = os.environ.get("SCREENSHOTS_DIR")
    if not wanted:
        return tmp_path_factory.mktemp("screenshots")
    folder = pathlib.Path(wanted)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page, folder, name, orientation):
    page.wait_for_timeout(150)  # let the fonts and the photo settle
    page.screenshot(path=str(folder / f"kiosk-{name}-{orientation}.png"))


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_every_screen_is_captured_in_both_orientations(browser, kiosk, shots, orientation):
    kiosk.sign_out()
    context = browser.new_context(viewport=ORIENTATIONS[orientation], locale="vi-VN", has_touch=True)
    page = context.new_page()
    try:
        page.goto(kiosk.url + "/")
        page.wait_for_selector("#screen-closed.active")
        shoot(page, shots, "closed", orientation)
        page.click("#staff-button")
        page.fill("#staff-code", "NV001")
        for digit in "12":
            page.click(f".key[data-key='{digit}']")
        shoot(page, shots, "sign-in", orientation)
        for digit in "34":
            page.click(f".key[data-key='{digit}']")
        page.click("#pin-ok")
        page.wait_for_selector("#screen-waiting.active")
        wait_until(page, "document.querySelector('#staff-photo').complete")
        shoot(page, shots, "waiting", orientation)
        page.click("#start")
        page.wait_for_selector("#screen-rating.active")
        shoot(page, shots, "rating", orientation)
        page.wait_for_timeout(450)
        page.click(".level[data-value='1']")
        page.wait_for_selector("#screen-reasons.active")
        page.click(".chip[data-code='long_wait']")
        shoot(page, shots, "reasons", orientation)
        page.click("#reasons-send")
        page.wait_for_selector("#screen-thanks.active")
        shoot(page, shots, "thanks", orientation)
        page.click(".lang[data-lang='en']")
        page.wait_for_selector("#screen-thanks.active")
        assert page.inner_text("#thanks-title") == "Thank you!"
        shoot(page, shots, "thanks-en", orientation)
    finally:
        context.close()
    for name in ("closed", "sign-in", "waiting", "rating", "reasons", "thanks"):
        assert (shots / f"kiosk-{name}-{orientation}.png").stat().st_size > 10_000
