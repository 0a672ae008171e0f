"""Every answer of the server and of the kiosk carries the security headers; answers with secrets are never cached."""

import re

import nacl.signing
import pytest

from device_client import protocol
from server import storage
from server.manage import devices
from server.manage.actor import cli_actor
from tests.people import PASSWORD, app_for, csrf_token, sign_in

SERVER_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
              "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def assert_secured(response, referrer="same-origin"):
    headers = response.headers
    assert headers["Content-Security-Policy"].split("; ")[0] == "default-src 'none'"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == referrer


@pytest.fixture
def admin(people):
    path, _ = people
    client = app_for(path).test_client()
    sign_in(client, "admin")
    return client


def test_a_signed_in_page_has_the_policy_and_is_never_stored(admin):
    response = admin.get("/admin/units")
    assert response.status_code == 200
    assert_secured(response)
    assert response.headers["Content-Security-Policy"] == SERVER_CSP
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: HSTS would mean nothing


def test_the_pages_carry_no_inline_script_or_style(admin, people):
    _, facts = people
    for path in ("/admin/units", "/admin/counters", "/admin/staff", "/admin/staff/NV001", "/admin/devices",
                 "/admin/users", "/admin/audit", "/account", "/api/docs", "/enroll?code=ABCDE-FGHJK"):
        page = admin.get(path).get_data(as_text=True)
        scripts = re.findall(r"<script\b[^>]*>", page)
        assert scripts and all(" src=" in tag for tag in scripts), (path, scripts)
        assert not re.search(r"<[^>]*\s(on[a-z]+|style)\s*=", page), path  # handlers, style attributes
        assert "<style" not in page and "javascript:" not in page, path


def test_a_new_api_token_in_the_answer_is_never_stored(admin):
    token = csrf_token(admin, "/account")
    response = admin.post("/account", data={"action": "token", "name": "script", "password": PASSWORD,
                                          "csrf_token": token})
    assert response.status_code == 200 and "hlu_" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert_secured(response)


def test_api_answers_errors_and_the_sign_in_page_are_secured_too(people):
    path, facts = people
    client = app_for(path).test_client()
    bearer = {"Authorization": f"Bearer {facts['tokens']['admin']}"}
    for response in (client.get("/api/v1/units", headers=bearer), client.get("/api/v1/units"),
                     client.get("/api/v1/nothing-here"), client.get("/admin/nothing-here"), client.get("/login"),
                     client.get("/healthz")):
        assert_secured(response)
        assert response.headers["Cache-Control"] == "no-store"


def test_static_files_keep_their_own_caching(people):
    path, _ = people
    client = app_for(path).test_client()
    for url in ("/static/admin/admin.css", "/static/admin/confirm.js", "/favicon.ico"):
        with client.get(url) as response:
            assert response.status_code == 200
            assert_secured(response)
            assert response.headers["Cache-Control"] != "no-store"
    with client.get("/static/admin/confirm.js") as script:
        assert script.mimetype == "text/javascript"


def test_the_enrollment_answer_with_the_device_token_is_never_stored(people):
    path, _ = people
    db = storage.connect(path)
    issued = devices.issue_code(db, cli_actor(), {"counter": "DN-TT-Q1"}, {"ENROLL_CODE_TTL_MINUTES": 10,
                                                                          "PUBLIC_URL": ""})
    db.close()
    key = nacl.signing.SigningKey.generate()
    public = protocol.public_key_b64(key)
    body = {"code": issued["code"], "public_key": public, "app_version": "test",
            "proof": protocol.sign(key, protocol.enroll_proof_bytes(issued["code"], public))}
    response = app_for(path).test_client().post("/api/v1/enroll", json=body)
    assert response.status_code == 201 and response.get_json()["token"]
    assert response.headers["Cache-Control"] == "no-store"
    assert_secured(response)


def test_hsts_is_sent_only_over_https(people):
    path, _ = people
    client = app_for(path, DEVELOPMENT=False).test_client()
    secure = client.get("/login", base_url="https://hailong.example")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_the_enrollment_landing_page_keeps_its_stricter_referrer_policy(people):
    path, _ = people
    response = app_for(path).test_client().get("/enroll?code=ABCDE-FGHJK")
    assert_secured(response, referrer="no-referrer")


def test_every_kiosk_answer_carries_the_policy(kiosk_client):
    kiosk = kiosk_client
    answers = [kiosk.get("/"), kiosk.get("/api/state"), kiosk.get("/photo/NV001"),
               kiosk.get("/", headers={"Host": "evil.example"})]
    for answer in answers:
        assert_secured(answer, referrer="no-referrer")
        assert answer.headers["Cache-Control"] == "no-store"
    assert answers[0].headers["Content-Security-Policy"] == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
    with kiosk.get("/static/kiosk.js") as script:
        assert_secured(script, referrer="no-referrer")
        assert script.headers["Cache-Control"] != "no-store"
