"""Staff sign-in and sign-out on the kiosk page: PINs checked offline, attempts limited, events synced."""

import sqlite3

import pytest
import requests

from tests.kiosk_live import KioskTablet, wait_for


@pytest.fixture(scope="module")
def server(kiosk_server):
    return kiosk_server


@pytest.fixture
def kiosk(server, tmp_path):
    tablet = KioskTablet(server, tmp_path / "tablet").start()
    yield tablet
    tablet.stop()


def server_sessions(database, device_id):
    conn = sqlite3.connect(database)
    try:
        return conn.execute(
            "SELECT e.seq, s.code, e.event, e.reason FROM staff_sessions e JOIN staff s ON s.id = e.staff_id"
            " WHERE e.device_id = ? ORDER BY e.seq",
            [device_id],
        ).fetchall()
    finally:
        conn.close()


def enter(page, code, pin):
    page.click("#staff-button")
    page.fill("#staff-code", code)
    for digit in pin:
        page.click(f".key[data-key='{digit}']")
    page.click("#pin-ok")


def test_with_nobody_signed_in_the_counter_is_closed_and_takes_no_votes(page, kiosk):
    page.goto(kiosk.url + "/")
    page.wait_for_selector("#screen-closed.active")
    assert page.inner_text("#closed-title") == "Quầy đang tạm nghỉ"
    refused = requests.post(kiosk.url + "/api/vote", json={"key": "nobody-home-1", "rating": 4}, timeout=5)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "closed"
    assert kiosk.votes() == []


def test_staff_sign_in_and_out_are_recorded_and_synced_exactly_once(page, kiosk, server):
    page.goto(kiosk.url + "/")
    page.wait_for_selector("#screen-closed.active")
    enter(page, "nv002", "5678")
    page.wait_for_selector("#screen-waiting.active")
    assert page.inner_text("#staff-name") == "Trần Văn Bình"
    assert page.inner_text("#staff-title") == "Cán bộ một cửa"
    page.click("#start")
    page.wait_for_timeout(450)
    page.click(".level[data-value='3']")
    page.wait_for_selector("#screen-thanks.active")
    assert [v["staff"] for v in kiosk.votes()] == ["NV002"]
    page.click("#staff-button")
    assert page.is_hidden("#staff-code")  # only the signed-in person's PIN signs them out
    for digit in "9999":
        page.click(f".key[data-key='{digit}']")
    page.click("#sign-out")
    page.wait_for_selector("#sign-in-message:has-text('Sai mã PIN.')")
    assert requests.get(kiosk.url + "/api/state", timeout=5).json()["open"]  # still signed in
    for digit in "5678":
        page.click(f".key[data-key='{digit}']")
    page.click("#sign-out")
    page.wait_for_selector("#screen-closed.active")
    assert wait_for(lambda: len(server_sessions(server.database, kiosk.tablet.device_id)) == 2)
    assert server_sessions(server.database, kiosk.tablet.device_id) == [
        (1, "NV002", "sign_in", None),
        (2, "NV002", "sign_out", "manual"),
    ]


def test_wrong_pins_are_refused_then_the_code_is_locked_even_across_a_restart(page, kiosk, server):
    page.goto(kiosk.url + "/")
    page.wait_for_selector("#screen-closed.active")
    enter(page, "NV001", "0000")
    page.wait_for_selector("#sign-in-message:has-text('Sai mã cán bộ hoặc mã PIN.')")
    assert "Còn 2 lần thử." in page.inner_text("#sign-in-message")
    page.click("#staff-close")
    enter(page, "NV001", "1111")
    page.wait_for_selector("#sign-in-message:has-text('Còn 1 lần thử.')")
    page.click("#staff-close")
    enter(page, "NV001", "2222")  # KIOSK_PIN_MAX_ATTEMPTS is 3 here
    page.wait_for_selector("#sign-in-message:has-text('Nhập sai quá nhiều lần')")
    kiosk.stop()
    kiosk.start()  # the counters live in the tablet's SQLite, not in the service's memory
    page.reload()
    page.wait_for_selector("#screen-closed.active")
    enter(page, "NV001", "1234")  # the right PIN, but the code is locked
    page.wait_for_selector("#sign-in-message:has-text('Nhập sai quá nhiều lần')")
    assert page.is_visible("#screen-closed")
    page.click("#staff-close")
    enter(page, "NV002", "5678")  # other staff codes are not affected
    page.wait_for_selector("#screen-waiting.active")
    assert wait_for(lambda: (1, "NV001", "lockout", "attempts") in server_sessions(server.database, kiosk.tablet.device_id))


def test_an_unknown_staff_code_gets_exactly_the_same_answers_as_a_wrong_pin(kiosk):
    def answers(code):
        replies = [requests.post(kiosk.url + "/api/staff/sign-in", json={"staff": code, "pin": "0000"}, timeout=5)
                   for _ in range(3)]
        bodies = [reply.json() for reply in replies]
        for body in bodies:  # when the lock ends differs by the moment it was set, nothing else
            body["error"]["locked_until"] = body["error"]["locked_until"] and "set"
        return [(reply.status_code, body) for reply, body in zip(replies, bodies)]

    known, unknown, no_pin = answers("NV001"), answers("NV999"), answers("NV003")  # NV003 has no PIN set
    assert known == unknown == no_pin
    assert [body["error"]["code"] for _, body in known] == ["wrong_pin", "wrong_pin", "locked"]
    assert known[0] == (403, {"error": {"code": "wrong_pin", "message": "Staff code or PIN is wrong.", "fields": {},
                                        "locked_until": None, "attempts_left": 2}})


def test_a_new_sign_in_signs_the_previous_person_out(kiosk, server):
    kiosk.sign_in("NV001")
    kiosk.sign_in("NV002")
    state = requests.get(kiosk.url + "/api/state", timeout=5).json()
    assert state["staff"]["code"] == "NV002"
    assert wait_for(lambda: len(server_sessions(server.database, kiosk.tablet.device_id)) == 3)
    assert [row[1:] for row in server_sessions(server.database, kiosk.tablet.device_id)] == [
        ("NV001", "sign_in", None), ("NV001", "sign_out", "replaced"), ("NV002", "sign_in", None),
    ]
