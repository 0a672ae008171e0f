"""The kiosk's settings are data, defined once in device_client/settings.py for tablet and server."""

import subprocess
import sys

from device_client import staff
from device_client.settings import KIOSK_DEFAULTS, KIOSK_SETTINGS, TABLET_DEFAULTS, TAP_GUARD
from tests.kiosk_live import offline_tablet


def test_each_kiosk_setting_has_a_key_a_type_a_default_of_that_type_and_help():
    keys = [setting.key for setting in KIOSK_SETTINGS]
    assert keys == ["vote_interval_seconds", "reasons_timeout_seconds", "thanks_seconds", "idle_sign_out_minutes",
                    "day_end", "pin_max_attempts", "pin_lockout_minutes"]
    for setting in (*KIOSK_SETTINGS, TAP_GUARD):
        assert isinstance(setting.default, setting.type), setting.key
        assert setting.help.endswith("."), setting.key
    assert KIOSK_SETTINGS[0].server_name == "KIOSK_VOTE_INTERVAL_SECONDS"
    assert TABLET_DEFAULTS == {**KIOSK_DEFAULTS, "tap_guard_ms": 400}


def test_the_server_settings_carry_the_same_kiosk_defaults():
    from server.settings import DEFAULTS

    assert {setting.server_name: DEFAULTS[setting.server_name] for setting in KIOSK_SETTINGS} == {
        setting.server_name: setting.default for setting in KIOSK_SETTINGS
    }


def test_the_settings_import_without_flask_the_kiosk_or_the_server():
    code = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in {'flask', 'flask_babel', 'server', 'marshmallow'}"
        " or name.startswith('device_client.kiosk'):\n"
        "            raise ImportError('settings must not import ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from device_client.settings import KIOSK_SETTINGS\n"
        "print(len(KIOSK_SETTINGS))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (0, "7"), result.stderr


def test_a_tablet_uses_the_shared_defaults_until_its_configuration_says_otherwise(tmp_path):
    tablet = offline_tablet(tmp_path / "a", kiosk={"thanks_seconds": 9})
    try:
        limits = staff.settings(tablet)
        assert limits["thanks_seconds"] == 9
        assert (limits["day_end"], limits["idle_sign_out_minutes"], limits["tap_guard_ms"]) == ("17:30", 90, 400)
    finally:
        tablet.close()
