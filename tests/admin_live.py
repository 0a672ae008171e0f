"""Page tests' setting: a real ``hailong serve`` over the people database, and a signed-in browser.

The people database (tests/people.py) has one user per role, three units,
devices, votes and audit entries. One server serves a whole test module, so
tests that write use codes of their own.
"""

import contextlib

import pytest

from devtools.processes import Server
from tests.people import PASSWORD, copy_db

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def people_server(people_template, tmp_path_factory):
    template, facts = people_template
    folder = tmp_path_factory.mktemp("people_server")
    path = copy_db(template, folder / "people.db")
    server = Server(path, settings={"DEVELOPMENT": "true"}, log_path=folder / "serve.log").start()
    server.facts = facts
    yield server
    server.stop()


@contextlib.contextmanager
def signed_in(browser, server, username="admin", viewport=LAPTOP, locale="vi-VN"):
    """A page signed in as ``username`` in a fresh browser context (its own cookies and language)."""
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, locale=locale, is_mobile=phone, has_touch=phone)
    try:
        page = context.new_page()
        page.goto(server.url + "/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "/login" not in page.url, f"{username} could not sign in"
        yield page
    finally:
        context.close()


def submit(page, form, **fields):
    """Fill the fields of ``form`` (a selector) by name as a person would, then press its button.

    Text is typed, a select picks the option with that value, True/False ticks a checkbox.
    """
    for name, value in fields.items():
        field = page.locator(f"{form} [name={name}]")
        if isinstance(value, bool):
            field.set_checked(value)
        elif field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    page.click(f"{form} button")
