"""Both console commands, run as real processes: results and readable errors."""

import json
import os
import subprocess
import sys
import tomllib

from device_client import store
from tests.live import BIN, enroll_tablet, hailong, issue_code

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def device(*args, env=None):
    return subprocess.run(
        [os.path.join(BIN, "hailong-device"), *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_migrate_twice_applies_nothing_the_second_time(tmp_path):
    path = str(tmp_path / "new.db")
    first = hailong("--database", path, "migrate").stdout
    assert first.startswith("Applied ") and "m001_organisation, m002_rating_scales" in first
    assert "none pending" in hailong("--database", path, "migrate").stdout


def test_commands_refuse_an_unmigrated_database_readably(tmp_path):
    result = hailong("--database", str(tmp_path / "new.db"), "device", "list", check=False)
    assert result.returncode == 1
    assert "is not up to date: run `hailong migrate`" in result.stderr
    assert "Traceback" not in result.stderr


def test_device_code_for_an_unknown_counter_is_a_clear_error(db_path):
    result = hailong("--database", str(db_path), "device-code", "--counter", "NOPE", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: No counter with this code."


def test_revoking_an_unknown_device_is_a_clear_error(db_path):
    result = hailong("--database", str(db_path), "device", "revoke", "dev-nobody", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: No device with this id."


def test_device_list_shows_enrolled_tablets(shared_server, tmp_path):
    tablet = enroll_tablet(shared_server, tmp_path / "t", counter="DN-BH-Q1")
    out = hailong("--database", shared_server.database, "device", "list").stdout
    line = next(l for l in out.splitlines() if l.startswith(tablet.device_id))
    assert "DN-BH-Q1" in line and "online" in line


def test_a_tablet_that_is_not_enrolled_says_how_to_enroll(tmp_path):
    result = device("--data-dir", str(tmp_path / "empty"), "status")
    assert result.returncode == 1
    assert "is not enrolled" in result.stderr and "hailong-device enroll" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_device_cli_enrolls_votes_syncs_and_reports(shared_server, tmp_path):
    data = str(tmp_path / "tablet")
    code = issue_code(shared_server.database, "DN-TT-Q2")
    enrolled = device("--data-dir", data, "enroll", "--server", shared_server.url, "--code", code)
    assert enrolled.returncode == 0, enrolled.stderr
    assert "Enrolled as dev-" in enrolled.stdout and "Quầy 2 – Hộ tịch" in enrolled.stdout
    again = device("--data-dir", str(tmp_path / "other"), "enroll", "--server", shared_server.url, "--code", code)
    assert again.returncode == 1
    assert "Error: the server refused: This enrollment code has already been used." in again.stderr
    voted = device("--data-dir", data, "vote", "--staff", "NV002", "--rating", "1", "--reason", "attitude")
    assert voted.returncode == 0 and "Recorded vote #1" in voted.stdout
    bad = device("--data-dir", data, "vote", "--staff", "NV002", "--rating", "9")
    assert bad.returncode == 1 and "Rating 9 is not on the scale" in bad.stderr
    status = device("--data-dir", data, "status").stdout
    assert "Queue depth:           1" in status
    synced = device("--data-dir", data, "sync", "-v")
    assert synced.returncode == 0, synced.stderr
    assert "sent 1: {'accepted': 1}, acknowledged up to 1" in synced.stdout
    status = device("--data-dir", data, "status").stdout
    assert "Queue depth:           0" in status and "Last successful sync:  2" in status


def test_sync_with_the_server_down_keeps_votes_and_says_so(shared_server, tmp_path):
    data = tmp_path / "tablet"
    enroll_tablet(shared_server, data).close()
    identity = data / "identity.json"
    identity.write_text(
        identity.read_text(encoding="utf-8").replace(shared_server.url, "http://127.0.0.1:9"),
        encoding="utf-8",
    )
    assert device("--data-dir", str(data), "vote", "--staff", "NV001", "--rating", "4").returncode == 0
    result = device("--data-dir", str(data), "sync")
    assert result.returncode == 1
    assert "the server is unreachable" in result.stderr and "queued votes stay queued" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Queue depth:           1" in device("--data-dir", str(data), "status").stdout


BLOCKER = """
import importlib.abc, sys
SERVER_ONLY = {"marshmallow", "sqlite_utils", "apscheduler", "gunicorn", "openpyxl", "scipy",
               "numpy", "server", "requests", "apispec", "flask_wtf", "segno"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in SERVER_ONLY:
            raise ImportError("tablet must not import " + name)
sys.meta_path.insert(0, Block())
from device_client.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_tablet_runs_without_any_server_dependency(shared_server, tmp_path):
    data = str(tmp_path / "tablet")
    code = issue_code(shared_server.database)
    for args in (["enroll", "--server", shared_server.url, "--code", code],
                 ["vote", "--staff", "NV001", "--rating", "4"], ["sync"], ["status"]):
        result = subprocess.run(
            [sys.executable, "-c", BLOCKER, "--data-dir", data, *args],
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr


def test_a_tablet_install_does_not_pull_server_packages():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as handle:
        project = tomllib.load(handle)["project"]
    base = " ".join(project["dependencies"]).lower()
    for package in ("scipy", "numpy", "marshmallow", "sqlite-utils", "gunicorn", "apscheduler"):
        assert package not in base
        assert any(package in dep.lower() for dep in project["optional-dependencies"]["server"])


def test_the_device_enrolls_from_the_link_in_the_qr_code(shared_server, tmp_path):
    data = str(tmp_path / "tablet")
    link = f"{shared_server.url}/enroll?code={issue_code(shared_server.database, 'DN-TT-Q2')}"
    enrolled = device("--data-dir", data, "enroll", "--link", link)
    assert enrolled.returncode == 0, enrolled.stderr
    assert "Enrolled as dev-" in enrolled.stdout and "Quầy 2 – Hộ tịch" in enrolled.stdout
    status = json.loads(device("--data-dir", data, "status", "--json").stdout)
    assert (status["server"], status["counter"]) == (shared_server.url, "DN-TT-Q2")


def test_a_malformed_enrollment_link_is_one_readable_error_and_enrolls_nothing(tmp_path):
    data = tmp_path / "tablet"
    for args in (["--link", "WJ6EP-ZYGHP"], ["--link", "http://10.0.0.5:8000/login?code=WJ6EP-ZYGHP"],
                 ["--link", "http://10.0.0.5:8000/enroll"], ["--server", "http://10.0.0.5:8000"],
                 ["--link", "http://10.0.0.5:8000/enroll?code=WJ6EP-ZYGHP", "--code", "WJ6EP-ZYGHP"]):
        result = device("--data-dir", str(data), "enroll", *args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (data / "identity.json").exists()


def test_sync_refreshes_the_configuration_so_new_pins_arrive(shared_server, tmp_path):
    from device_client.tablet import Tablet

    data = tmp_path / "tablet"
    enroll_tablet(shared_server, data).close()
    hailong("--database", shared_server.database, "staff", "set-pin", "NV003", "--pin", "246810")
    result = device("--data-dir", str(data), "sync")
    assert result.returncode == 0, result.stderr
    tablet = Tablet(str(data))
    try:
        people = {person["code"]: person for person in tablet.config["staff"]}
        assert people["NV003"]["pin_hash"].startswith("$argon2id$")
    finally:
        tablet.close()


def test_sync_still_sends_when_the_configuration_cannot_be_refreshed(tmp_path):
    from device_client import identity
    from tests.device_api import CONFIG, DeviceApi

    api = DeviceApi(config_fails=True)
    data = str(tmp_path / "tablet")
    try:
        identity.create_key(data)
        identity.save_identity(data, api.identity())
        conn = store.open_store(data)
        with store.transaction(conn):
            store.set_meta(conn, "config", CONFIG)
        conn.close()
        assert device("--data-dir", data, "vote", "--staff", "NV001", "--rating", "4").returncode == 0
        result = device("--data-dir", data, "sync")
    finally:
        api.close()
    assert result.returncode == 0, result.stderr
    assert "Sent 1 votes and 0 staff events; queue 0" in result.stdout
    assert result.stderr.startswith("Warning: the configuration was not refreshed (500 internal_error")
    assert [(path, [vote["seq"] for vote in votes]) for path, votes in api.batches] == [("/api/v1/votes/batch", [1])]
