"""``hailong user create`` and ``hailong user token``, run as real processes."""

import pytest

from tests.live import hailong

pytestmark = pytest.mark.backends


def test_the_first_admin_is_created_from_stdin_and_can_get_a_token(db_path):
    created = hailong("--database", str(db_path), "user", "create", "--username", "admin", "--role", "admin",
                      "--password-stdin", input="a long enough password\n")
    assert created.stdout.strip() == "Created user admin (admin)."
    token = hailong("--database", str(db_path), "user", "token", "--username", "admin", "--name", "export",
                    "--days", "7")
    assert token.stdout.strip().startswith("hlu_") and "shown only once" in token.stderr


@pytest.mark.backends("sqlite")  # input checks or pages: no SQL of their own
def test_user_create_explains_what_is_wrong_readably(db_path):
    weak = hailong("--database", str(db_path), "user", "create", "--username", "admin", "--role", "admin",
                   "--password-stdin", input="short\n", check=False)
    assert weak.returncode == 1
    assert weak.stderr.strip() == "Error: The password is too weak. (password: At least 10 characters.)"
    no_unit = hailong("--database", str(db_path), "user", "create", "--username", "hr1", "--role", "hr",
                      "--password-stdin", input="a long enough password\n", check=False)
    assert no_unit.returncode == 1 and "needs an existing unit" in no_unit.stderr
    assert "Traceback" not in weak.stderr + no_unit.stderr


def test_user_token_for_an_unknown_user_is_a_clear_error(db_path):
    result = hailong("--database", str(db_path), "user", "token", "--username", "ghost", "--name", "x", check=False)
    assert result.returncode == 1 and result.stderr.strip() == "Error: No user with this username."
