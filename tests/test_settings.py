"""Settings come from one place, are checked at start, and a bad one stops the process readably."""

import os

import pytest

from server import create_app, settings
from tests.live import hailong


def test_an_unknown_variable_stops_with_the_name_it_probably_meant():
    with pytest.raises(settings.SettingsError) as caught:
        settings.load(environ={"HAILONG_SILENT_AFTER_MINUTE": "5"})
    assert str(caught.value) == ("HAILONG_SILENT_AFTER_MINUTE is not a setting; did you mean "
                                 "HAILONG_SILENT_AFTER_MINUTES? (see docs/settings.md).")


@pytest.mark.parametrize("name, text, message", [
    ("SILENT_AFTER_MINUTES", "abc", "HAILONG_SILENT_AFTER_MINUTES='abc' is not a whole number."),
    ("DEVELOPMENT", "maybe", "HAILONG_DEVELOPMENT='maybe' is not true or false."),
    ("MAX_BATCH_VOTES", "0", "MAX_BATCH_VOTES 0 must be 1 or more."),
    ("TIMEZONE", "Mars/Olympus", "TIMEZONE 'Mars/Olympus' is not a time zone name like Asia/Ho_Chi_Minh."),
    ("CLOCK_CORRECTION_SECONDS", "-1", "CLOCK_CORRECTION_SECONDS -1 must be 0 or more."),
    ("KIOSK_DAY_END", "25:00", "KIOSK_DAY_END '25:00' is not a time like 17:30."),
    ("PUBLIC_URL", "10.0.0.5:8000", "PUBLIC_URL '10.0.0.5:8000' is not an http:// or https:// address."),
])
def test_a_mistyped_or_impossible_value_is_refused_with_why(name, text, message):
    with pytest.raises(settings.SettingsError) as caught:
        settings.load(environ={f"HAILONG_{name}": text})
    assert str(caught.value) == message


def test_values_are_read_as_their_type():
    loaded = settings.load(environ={"HAILONG_MAX_BATCH_VOTES": "200", "HAILONG_DEVELOPMENT": "yes",
                                    "HAILONG_DEVICE_DIR": "/tablet/only"})
    assert loaded["MAX_BATCH_VOTES"] == 200 and loaded["DEVELOPMENT"] is True


def test_the_instance_folder_holds_config_and_database(tmp_path):
    (tmp_path / "config.py").write_text('SECRET_KEY = "from the file"\nSESSION_COOKIE_DOMAIN = "example.org"\n')
    loaded = settings.load(environ={"HAILONG_INSTANCE": str(tmp_path)})
    assert loaded["INSTANCE"] == str(tmp_path)
    assert loaded["DATABASE"] == str(tmp_path / "hailong.db")
    assert loaded["SECRET_KEY"] == "from the file"


def test_a_relative_instance_is_made_absolute_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loaded = settings.load(environ={"HAILONG_INSTANCE": "prov"})
    assert loaded["INSTANCE"] == str(tmp_path / "prov") and os.path.isabs(loaded["DATABASE"])


def test_a_name_in_config_py_that_is_not_a_setting_is_refused(tmp_path):
    (tmp_path / "config.py").write_text("SILENT_AFTER_MINUTE = 10\n")
    with pytest.raises(settings.SettingsError) as caught:
        settings.load(environ={"HAILONG_INSTANCE": str(tmp_path)})
    assert "sets SILENT_AFTER_MINUTE, which is not a setting; did you mean SILENT_AFTER_MINUTES?" in str(caught.value)


def test_an_old_config_naming_opening_hours_is_told_where_hours_live_now(tmp_path):
    (tmp_path / "config.py").write_text("OPENING_HOURS = 'Mon-Fri 07:30-17:00'\n")
    with pytest.raises(settings.SettingsError) as caught:
        settings.load(environ={"HAILONG_INSTANCE": str(tmp_path)})
    assert "sets OPENING_HOURS, which is no longer a setting: opening hours are now kept per unit" in str(caught.value)
    assert "hailong hours set" in str(caught.value) and "docs/admin.md" in str(caught.value)
    with pytest.raises(settings.SettingsError) as caught:
        settings.load(environ={"HAILONG_OPENING_HOURS": "Mon-Fri 07:30-17:00"})
    assert str(caught.value).startswith("HAILONG_OPENING_HOURS is no longer a setting: opening hours are now kept")


def test_a_value_of_the_wrong_type_in_config_py_is_refused(tmp_path):
    (tmp_path / "config.py").write_text("SILENT_AFTER_MINUTES = '15'\n")
    with pytest.raises(settings.SettingsError) as caught:
        settings.load(environ={"HAILONG_INSTANCE": str(tmp_path)})
    assert str(caught.value) == "SILENT_AFTER_MINUTES is '15', not a whole number."


def test_the_app_refuses_bad_settings_too():
    with pytest.raises(settings.SettingsError):
        create_app({"BUSY_TIMEOUT_MS": -1})


@pytest.mark.parametrize("command", [["device", "list"], ["jobs"], ["serve", "--port", "9"]])
def test_the_cli_jobs_and_serve_stop_with_one_line(db_path, command):
    result = hailong("--database", str(db_path), *command, env={"HAILONG_SILENT_AFTER_MINUTES": "soon"},
                     check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: HAILONG_SILENT_AFTER_MINUTES='soon' is not a whole number."


def test_hailong_instance_decides_where_the_database_goes(tmp_path):
    result = hailong("migrate", env={"HAILONG_INSTANCE": str(tmp_path / "province")})
    assert (tmp_path / "province" / "hailong.db").exists(), result.stdout
