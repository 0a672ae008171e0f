"""Every tap is recorded: ratings in quick succession are kept, marked ``rapid_repeat`` and thanked.

The demo that lost 5 of 8 ratings, replayed in Chromium against a real tablet
and a real server: with a vote interval longer than the whole test, every
rating after the first comes "too soon", and every one is still thanked,
recorded with the signed mark, synced, stored with the ingest flag
``rapid_repeat`` and shown to auditors with it.
"""

import pytest
import requests

from server import storage
from tests.kiosk_live import KioskTablet, migrated_database, start_server, wait_for
from tests.people import create_user, token_for

RATINGS = [4, 4, 3, 1, 4, 2, 4, 3]  # the demo's eight
NEGATIVE = {1, 2}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rapid_repeat")
    live = start_server(migrated_database(folder), folder, {"KIOSK_VOTE_INTERVAL_SECONDS": 3600})
    yield live
    live.stop()


@pytest.fixture(scope="module")
def kiosk(server, tmp_path_factory):
    running = KioskTablet(server, tmp_path_factory.mktemp("rapid_repeat_tablet")).start()
    running.sign_in("NV001")
    yield running
    running.stop()


def auditor_token(database):
    db = storage.connect(database)
    try:
        create_user(db, "auditor", "auditor", "DN-TT")
        return token_for(db, "auditor")
    finally:
        db.close()


def test_eight_ratings_in_a_row_are_all_thanked_recorded_and_flagged_after_the_first(page, kiosk, server):
    page.goto(kiosk.url + "/")
    page.wait_for_selector("#screen-waiting.active")
    for rating in RATINGS:
        assert page.is_enabled("#start")  # nobody waits for the interval
        page.click("#start")
        page.wait_for_selector("#screen-rating.active")
        page.wait_for_timeout(450)  # the double-tap guard
        page.click(f".level[data-value='{rating}']")
        if rating in NEGATIVE:
            page.wait_for_selector("#screen-reasons.active")
            page.click("#reasons-skip")
        page.wait_for_selector("#screen-thanks.active")
        assert page.inner_text("#thanks-title") == "Xin cảm ơn Quý vị!"
        page.wait_for_selector("#screen-waiting.active", timeout=5000)  # KIOSK_THANKS_SECONDS is 1

    recorded = kiosk.votes()
    assert [vote["rating"] for vote in recorded] == RATINGS
    assert [vote.get("marks") for vote in recorded] == [None] + [["rapid_repeat"]] * 7

    assert wait_for(lambda: len(kiosk.server_flags(server.database)) == 8)
    assert kiosk.server_flags(server.database) == [(RATINGS[0], [])] + [(r, ["rapid_repeat"]) for r in RATINGS[1:]]
    assert wait_for(lambda: requests.get(kiosk.url + "/api/state", timeout=5).json()["queue"] == 0)
    assert kiosk.tablet.status()["dead_letters"] == 0

    token = auditor_token(server.database)
    listed = requests.get(server.url + "/api/v1/votes?limit=100", timeout=10,
                          headers={"Authorization": f"Bearer {token}"}).json()["votes"]
    assert [(vote["rating"], vote["flags"]) for vote in listed] == (
        [(RATINGS[0], [])] + [(r, ["rapid_repeat"]) for r in RATINGS[1:]])
