"""The walls of docs/architecture.md hold: the import-linter contracts in pyproject.toml are kept."""

import os
import pathlib
import subprocess
import sys
import tomllib

REPO = pathlib.Path(__file__).parent.parent


def test_the_import_contracts_are_kept():
    lint = os.path.join(os.path.dirname(sys.executable), "lint-imports")
    result = subprocess.run([lint, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_map_names_every_layer_of_the_contract():
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    for layer in layers:
        assert f"`{layer.replace('|', chr(92) + '|')}`" in text or f"`{layer}`" in text, f"{layer} is not on the map"
