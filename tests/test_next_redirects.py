"""``next=`` after sign-in and after the language switch only ever leads to a path on this site."""

import pytest

from server.web import local_path
from tests.people import PASSWORD, app_for, csrf_token

# Each of these reaches another host in some browser (tabs and newlines are
# dropped inside URLs, a backslash is read as a slash), or is not a path.
OUTSIDE = [
    "//evil.com",
    "///evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "/\\/evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    "/\r/evil.com",
    "/\x00/evil.com",
    "/\x7f/evil.com",
    "/ /evil.com",
    "/\u00a0/evil.com",
    "/\u3000/evil.com",
    "/\u202e/evil.com",
    "/\ufeff/evil.com",
    "https://evil.com",
    "http:evil.com",
    "javascript:alert(1)",
    "evil.com",
    "%2F%2Fevil.com",
    "",
]
# Percent-escapes the browser sends as they are, and ordinary page addresses.
INSIDE = ["/", "/admin/units", "/admin/staff/NV001?tab=photo", "/admin/audit?actor=admin&action=update",
          "/%2F/evil.com", "/admin/units/%C4%90N", "/admin/units/ĐN"]


@pytest.mark.parametrize("target", OUTSIDE)
def test_anything_but_a_local_path_becomes_the_home_page(target):
    assert local_path(target) == "/"


@pytest.mark.parametrize("target", INSIDE)
def test_a_local_path_is_kept_as_it_is(target):
    assert local_path(target) == target


def test_a_missing_next_is_the_home_page():
    assert local_path(None) == "/"


@pytest.mark.parametrize("query", ["next=/%09/evil.com", "next=%2F%2Fevil.com", "next=/%5Cevil.com",
                                   "next=%5C%5Cevil.com", "next=https://evil.com", "next=/%0d%0a/evil.com",
                                   "next=/%E2%80%AE/evil.com"])
def test_the_language_switch_never_sends_the_browser_to_another_host(people, query):
    path, _ = people
    response = app_for(path).test_client().get(f"/lang/en?{query}")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_language_switch_returns_to_the_page_it_came_from(people):
    path, _ = people
    response = app_for(path).test_client().get("/lang/en?next=/admin/units%3Fx%3D1")
    assert response.headers["Location"] == "/admin/units?x=1"


@pytest.mark.parametrize("query, location", [("next=/%09/evil.com", "/"), ("next=%2F%2Fevil.com", "/"),
                                             ("next=/%5C/evil.com", "/"), ("next=javascript:alert(1)", "/"),
                                             ("next=/admin/staff", "/admin/staff")])
def test_signing_in_follows_next_only_to_a_local_path(people, query, location):
    path, _ = people
    client = app_for(path).test_client()
    token = csrf_token(client)
    response = client.post(f"/login?{query}", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == location
