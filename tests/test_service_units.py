"""The systemd units in docs/examples/ are ones systemd accepts, starting commands that exist.

This machine has no systemd running, so the units are checked as far as it
allows: ``systemd-analyze verify`` (every key known, ExecStart executable;
it says what it dislikes on stderr and still exits 0, so any word there
fails) and ``systemd-analyze security --offline`` (the hardening keeps the
exposure at "OK"), with the documented /opt/hailong/venv replaced by this
checkout's. Without systemd-analyze, the files are parsed and their
ExecStart must name a real ``hailong`` command.
"""

import configparser
import os
import pathlib
import shlex
import shutil
import subprocess

import click
import pytest

from devtools.processes import BIN
from server.cli import cli

EXAMPLES = pathlib.Path(__file__).parent.parent / "docs" / "examples"
UNITS = sorted(EXAMPLES.glob("*.service"))
DOCUMENTED_BIN = "/opt/hailong/venv/bin"
EXPOSURE_AT_MOST = 20  # systemd's scale is 0-100 here (2.0 of 10 shows as "OK"); the units score 17


def installed(unit, folder):
    """The unit as this checkout would install it: its ExecStart pointing at this venv's ``hailong``."""
    path = folder / unit.name
    path.write_text(unit.read_text(encoding="utf-8").replace(DOCUMENTED_BIN, BIN), encoding="utf-8")
    return path


def test_there_is_a_unit_for_the_server_and_one_for_the_jobs():
    assert [unit.name for unit in UNITS] == ["hailong-jobs.service", "hailong-serve.service"]


@pytest.mark.parametrize("unit", UNITS, ids=[unit.name for unit in UNITS])
def test_each_unit_starts_a_real_hailong_command_as_its_own_user(unit):
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    parser.read_string(unit.read_text(encoding="utf-8"))
    service = parser["Service"]
    assert service["User"] == "hailong" and service["ProtectSystem"] == "strict"
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == f"{DOCUMENTED_BIN}/hailong"
    words, command = argv[1:], cli
    while isinstance(command, click.Group):
        command = command.commands[words.pop(0)]
    command.make_context(command.name, words)  # its options, as written, parse

@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed here")
def test_systemd_accepts_the_units_as_written(tmp_path):
    paths = [str(installed(unit, tmp_path)) for unit in UNITS]
    result = subprocess.run(["systemd-analyze", "verify", *paths], capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    for path in paths:
        security = subprocess.run(["systemd-analyze", "security", "--offline=true",
                                   f"--threshold={EXPOSURE_AT_MOST}", path], capture_output=True, text=True)
        if "--offline" in security.stderr:
            pytest.skip("systemd-analyze is older than 250: no offline security check")
        assert security.returncode == 0, f"{os.path.basename(path)}: {security.stdout[-1500:]}{security.stderr}"
