"""Docs are checked like code: every setting and every command is documented."""

import pathlib

import click

from device_client.cli import COMMANDS as DEVICE_COMMANDS
from server.cli import cli
from server.settings import SETTINGS

DOCS = pathlib.Path(__file__).parent.parent / "docs"


def server_command_paths(group, prefix="hailong"):
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from server_command_paths(command, path)
        else:
            yield path, command


def test_every_setting_is_documented_with_its_default():
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        line = next((l for l in text.splitlines() if l.startswith(f"| `{setting.name}` |")), None)
        assert line, f"{setting.name} is missing from docs/settings.md"
        if setting.default != "":
            assert str(setting.default) in line, f"{setting.name}'s default is not documented"


def test_every_server_command_is_documented_and_has_an_example():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for path, command in server_command_paths(cli):
        assert f"`{path}" in text, f"{path} is missing from docs/cli.md"
        assert "Example:" in (command.help or ""), f"{path} has no example in its docstring"


def test_every_device_command_is_documented():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for name in DEVICE_COMMANDS:
        assert f"`hailong-device {name}" in text, f"hailong-device {name} is missing from docs/cli.md"
