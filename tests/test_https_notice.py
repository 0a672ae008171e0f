"""Signing in over plain HTTP from another machine cannot work (the session cookie is Secure):
the sign-in page and `hailong serve` say so and point to how; a closed-LAN trial says so loudly."""

import contextlib

import pytest

from devtools.processes import Server
from tests.browser import CHROMIUM_ARGS, ensure_chromium
from tests.people import PASSWORD, app_for, copy_db

# A name for this machine that a browser does not treat as itself (http://127.0.0.1 and
# http://localhost are "secure contexts", where Secure cookies are kept even over plain HTTP).
LAN_NAME = "hailong-server.lan.test"
NOTICE_EN = "Signing in needs HTTPS."
NOTICE_VI = "Đăng nhập cần HTTPS."


def login_page(path, base_url, lang="en", headers=None, **settings):
    client = app_for(path, DEVELOPMENT=False, **settings).test_client()
    return client.get("/login", base_url=base_url, headers={"Accept-Language": lang, **(headers or {})}
                      ).get_data(as_text=True)


@pytest.mark.parametrize("lang, notice", [("en", NOTICE_EN), ("vi", NOTICE_VI)])
def test_the_sign_in_page_over_plain_http_from_another_machine_says_https_is_needed(people, lang, notice):
    path, _ = people
    page = login_page(path, f"http://{LAN_NAME}:8000", lang)
    assert notice in page and "docs/admin.md" in page


def test_over_https_on_the_server_itself_or_behind_a_proxy_it_says_nothing(people):
    path, _ = people
    assert NOTICE_EN not in login_page(path, f"https://{LAN_NAME}")
    assert NOTICE_EN not in login_page(path, "http://127.0.0.1:8000")
    assert NOTICE_EN not in login_page(path, "http://localhost:8000")
    assert NOTICE_EN not in login_page(path, f"http://{LAN_NAME}", headers={"X-Forwarded-Proto": "https"})
    assert NOTICE_EN not in login_page(path, f"http://{LAN_NAME}", INSECURE_HTTP_TRIAL=True)


@contextlib.contextmanager
def lan_browser(browser):
    """Chromium that reaches this machine's 127.0.0.1 under LAN_NAME, as a browser on another machine would."""
    other = browser.browser_type.launch(executable_path=ensure_chromium(), headless=True,
                                        args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {LAN_NAME} 127.0.0.1"])
    try:
        yield other
    finally:
        other.close()


@pytest.fixture
def served(people_template, tmp_path):
    template, _ = people_template
    path = copy_db(template, tmp_path / "people.db")
    started = []

    def start(**settings):
        server = Server(path, workers=1, settings=settings, log_path=tmp_path / "serve.log").start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def sign_in_from_the_lan(lan, server, lang="vi-VN"):
    context = lan.new_context(locale=lang)
    page = context.new_page()
    page.goto(f"http://{LAN_NAME}:{server.port}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return context, page


def test_a_browser_on_another_machine_over_plain_http_is_told_why_it_cannot_sign_in(browser, served):
    server = served()
    with lan_browser(browser) as lan:
        context, page = sign_in_from_the_lan(lan, server)
        try:
            assert "/login" in page.url
            assert NOTICE_VI in page.text_content("#https-needed")
            text = page.text_content("main")
            assert "CSRF" not in text
        finally:
            context.close()


def test_the_insecure_http_trial_lets_that_browser_sign_in_and_says_so(browser, served):
    server = served(INSECURE_HTTP_TRIAL="true")
    with lan_browser(browser) as lan:
        context = lan.new_context(locale="en-GB")
        try:
            page = context.new_page()
            page.goto(f"http://{LAN_NAME}:{server.port}/login")
            assert "your password crosses the network unencrypted" in page.text_content("#insecure-trial")
            assert page.locator("#https-needed").count() == 0
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            assert page.url.endswith("/dashboard")
        finally:
            context.close()


def test_serve_says_at_start_that_sign_in_needs_https_and_warns_loudly_of_the_trial(served):
    normal = served()
    assert "Sign-in needs HTTPS" in normal.log_text() and "docs/admin.md" in normal.log_text()
    normal.stop()
    trial = served(INSECURE_HTTP_TRIAL="true")
    log = trial.log_text()
    assert "WARNING: INSECURE_HTTP_TRIAL is on" in log and "!" * 78 in log
    assert "Sign-in needs HTTPS" not in log
