"""New passwords: long enough, not one of the most common, not containing the username – everywhere."""

import pathlib
import subprocess
import sys
import tomllib

import pytest

from server.manage import passwords
from tests.live import hailong
from tests.people import PASSWORD, app_for, csrf_token, sign_in, signed_in

REPO = pathlib.Path(__file__).parent.parent
COMMON = "Password123"  # "password123", the 36th most common: long enough, refused all the same


def test_common_passwords_and_ones_holding_the_username_are_refused_with_reasons():
    assert passwords.check_strength("iloveyou12", 10) == [
        "This is one of the most common passwords; choose another."]
    assert passwords.check_strength("  Basketball", 10) == [
        "No spaces at the start or end.", "This is one of the most common passwords; choose another."]
    assert passwords.check_strength("my-Nguyen.van.an-2026", 10, "nguyen.van.an") == [
        "A password must not contain the username."]
    assert passwords.check_strength("banana split forever", 10, "an") == []  # too short a name to mean much
    assert passwords.check_strength(PASSWORD, 10, "hr") == []


def test_the_shipped_list_is_the_documented_one_and_installed_with_the_package():
    listed = passwords.common_passwords()
    assert len(listed) == 19_640 and {"123456", "password", "qwertyuiop", "#1bitch"} <= listed
    assert all(entry == entry.lower().strip() for entry in listed)
    licence = (REPO / "server" / "manage" / "common-passwords.LICENSE.txt").read_text(encoding="utf-8")
    assert "Django Software Foundation" in licence and "Royce Williams" in licence
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "common-passwords.txt" in data["server.manage"]


def test_the_list_is_read_when_a_password_is_checked_not_when_the_server_starts():
    code = ("from server import create_app; from server.manage import passwords;"
            " create_app({'TESTING': True});"
            " print(passwords.common_passwords.cache_info().currsize)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.stdout.strip() == "0", done.stderr


def test_the_api_refuses_a_common_password_for_a_new_user_and_a_reset(people):
    path, facts = people
    client = app_for(path).test_client()
    admin = {"Authorization": f"Bearer {facts['tokens']['admin']}"}
    created = client.post("/api/v1/users", json={"username": "newbie", "password": COMMON, "roles": []},
                          headers=admin)
    assert created.status_code == 400
    assert created.json["error"]["fields"] == {"password": ["This is one of the most common passwords; choose another."]}
    reset = client.patch("/api/v1/users/auditor", json={"password": "auditor-password-2026"}, headers=admin)
    assert reset.json["error"]["fields"] == {"password": ["A password must not contain the username."]}


def test_your_own_new_password_must_not_be_common_nor_hold_your_name(people):
    path, _ = people
    client, csrf = signed_in(path, "manager")
    for new, reason in ((COMMON, "This is one of the most common passwords; choose another."),
                        ("the manager of counters", "A password must not contain the username.")):
        response = client.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": new},
                               headers=csrf)
        assert response.status_code == 400 and response.json["error"]["fields"] == {"new_password": [reason]}


def test_hailong_user_create_says_why_a_password_is_refused(db_path):
    result = hailong("--database", str(db_path), "user", "create", "--username", "admin", "--role", "admin",
                     "--password-stdin", input="administrator\n", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == ("Error: The password is too weak. (password: This is one of the most common"
                                     " passwords; choose another. A password must not contain the username.)")


def test_hailong_user_create_refuses_a_username_that_could_never_sign_in(db_path):
    result = hailong("--database", str(db_path), "user", "create", "--username", "Big Boss", "--role", "admin",
                     "--password-stdin", input="a long enough password\n", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: Lowercase letters, digits, . _ - (2 to 64)."


@pytest.mark.parametrize("lang, reason", [
    ("vi", "Đây là một trong những mật khẩu phổ biến nhất; hãy chọn mật khẩu khác."),
    ("en", "This is one of the most common passwords; choose another."),
])
def test_the_account_page_gives_the_reason_in_the_visitors_language(people, lang, reason):
    path, _ = people
    client = app_for(path).test_client()
    sign_in(client, "auditor")
    client.get(f"/lang/{lang}")
    page = client.post("/account", data={"action": "password", "current_password": PASSWORD, "new_password": COMMON,
                                         "confirm_password": COMMON, "csrf_token": csrf_token(client, "/account")})
    assert page.status_code == 400 and reason in page.get_data(as_text=True)
