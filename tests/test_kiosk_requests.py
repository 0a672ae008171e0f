"""The kiosk takes a POST only as JSON from its own page: other pages open on the tablet cannot drive it."""

import pytest
import requests

from tests.kiosk_live import KioskTablet


@pytest.fixture
def client(kiosk_client):
    assert kiosk_client.post("/api/staff/sign-in", json={"staff": "NV001", "pin": "1234"}).status_code == 200
    return kiosk_client


def signed_in(client):
    return client.get("/api/state").get_json()["open"]


@pytest.mark.parametrize("path", ["/api/staff/sign-out", "/api/staff/touch", "/api/staff/sign-in", "/api/vote"])
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                          "text/plain", None])
def test_a_post_that_is_not_json_is_refused_with_a_415(client, path, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    answer = client.post(path, data='{"pin": "1234"}', headers=headers)
    assert answer.status_code == 415
    assert answer.get_json()["error"]["code"] == "unsupported_media_type"
    assert signed_in(client)


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"},
                                     {"Origin": "http://localhost:8765"},
                                     {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                                     {"Sec-Fetch-Site": "none"}])
def test_json_from_another_origin_is_refused(client, headers):
    answer = client.post("/api/staff/sign-out", json={"pin": "1234"}, headers=headers)
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "cross_origin"
    assert signed_in(client)


def test_json_from_the_page_itself_is_taken(client):
    headers = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    answer = client.post("/api/staff/sign-out", json={"pin": "1234"}, headers=headers)
    assert answer.status_code == 200 and answer.get_json() == {"staff": "NV001"}
    assert not signed_in(client)


def test_signing_out_takes_the_signed_in_persons_pin(client):
    wrong = client.post("/api/staff/sign-out", json={"pin": "5678"})  # NV002's PIN, not NV001's
    assert wrong.status_code == 403
    assert wrong.get_json()["error"] == {"code": "wrong_pin", "message": "Staff code or PIN is wrong.",
                                              "fields": {}, "locked_until": None, "attempts_left": 2}
    assert client.post("/api/staff/sign-out", json={}).status_code == 403
    assert signed_in(client)
    assert client.post("/api/staff/sign-out", json={"pin": "1234"}).get_json() == {"staff": "NV001"}
    assert not signed_in(client)
    assert client.post("/api/staff/sign-out", json={"pin": "1234"}).get_json() == {"staff": None}


@pytest.fixture(scope="module")
def server(kiosk_server):
    return kiosk_server


def test_a_form_on_another_page_in_the_tablets_browser_cannot_sign_the_staff_member_out(server, browser, tmp_path):
    kiosk = KioskTablet(server, tmp_path / "tablet").start()
    context = browser.new_context()
    try:
        kiosk.sign_in("NV001")
        page = context.new_page()
        forms = {  # a JSON-looking text/plain body, and an ordinary form
            "text": f"""<form method="post" action="{kiosk.url}/api/staff/sign-out" enctype="text/plain">
                        <input name='{{"pin":"' value='1234"}}'></form>""",
            "form": f"""<form method="post" action="{kiosk.url}/api/staff/sign-out">
                        <input name="pin" value="1234"></form>""",
        }
        for form in forms.values():
            page.set_content(form)
            with page.expect_navigation():
                page.evaluate("document.forms[0].submit()")
            assert "unsupported_media_type" in page.content()
        page.goto("about:blank")  # another page again (the forms left it on the kiosk's answer)
        # A no-cors text/plain POST: the browser may send it (or, from this blank page, not at
        # all); either way it has no JSON type and changes nothing.
        page.evaluate(f"""() => fetch('{kiosk.url}/api/staff/sign-out', {{method: 'POST', mode: 'no-cors',
                           headers: {{'Content-Type': 'text/plain'}}, body: '{{"pin": "1234"}}'}})
                           .then(() => 'sent', () => 'failed')""")
        blocked = page.evaluate(f"""() => fetch('{kiosk.url}/api/staff/sign-out', {{method: 'POST',
                                    headers: {{'Content-Type': 'application/json'}}, body: '{{"pin": "1234"}}'}})
                                    .then(() => 'sent', () => 'blocked')""")
        assert blocked == "blocked"  # JSON needs a CORS preflight the kiosk never grants
        state = requests.get(kiosk.url + "/api/state", timeout=5).json()
        assert state["open"] and state["staff"]["code"] == "NV001"
    finally:
        context.close()
        kiosk.stop()


@pytest.mark.parametrize("body, status", [
    ("[" * 5_000 + "]" * 5_000, 400),  # a RecursionError in the parser, once a 500
    ('{"key": "\\ud800abcdefgh", "rating": 4}', 400),  # a lone surrogate is not text
    ('{"rating": NaN}', 400),
    ('{"key": "' + "x" * 20_000 + '"}', 413),  # the page never sends this much
])
def test_hostile_json_is_a_clear_refusal_not_a_crash(client, body, status):
    answer = client.post("/api/vote", data=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == status
    assert signed_in(client)
