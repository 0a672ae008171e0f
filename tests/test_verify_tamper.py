"""1,000 random tamperings of exported bundles: each is caught, and the report names what was touched.

The bundles are exported once per module; each tampering is applied to a
copy of their files (``tests/tamper.py``) and checked in this process with
``tools.verify.verify`` (the same code ``hailong verify`` and the standalone
script run), so a thousand checks take seconds, not minutes.
"""

import random

import pytest

from tests import tamper
from tests.contract_bundles import Log, verifier_key
from tools import verify

TAMPERINGS = 1000


def _write(folder, files):
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Clean bundles as ``(label, files, key)``: several sizes and formats, one filtered."""
    log = Log(seed=10)
    log.add_votes(20)
    log.checkpoint()
    log.add_votes(45, skip_seq=("dev-0001", 9))
    log.checkpoint()
    log.add_votes(8)
    log.checkpoint()
    folder = tmp_path_factory.mktemp("bundles")
    out = []
    for label, options in (("csv", {}), ("jsonl", {"fmt": "jsonl"}), ("xlsx", {"fmt": "xlsx"}),
                           ("one device", {"device": "dev-0002"}), ("bom", {"bom": True})):
        files = log.export(folder / label.replace(" ", "-"), **options)
        out.append((label, files, verifier_key(log.key)))
    return out


def test_clean_bundles_pass(exported, tmp_path):
    for number, (label, files, key) in enumerate(exported):
        status, report = verify.verify(str(_write(tmp_path / str(number), files)), key=key)
        assert status == 0, (label, report.lines)
        assert not [line for line in report.lines if line.startswith(("FAIL", "WARN", "ERROR"))]


def test_a_thousand_tamperings_are_caught_and_named(exported, tmp_path):
    rng = random.Random(20261128)
    done, kinds = 0, {}
    while done < TAMPERINGS:
        label, files, key = rng.choice(exported)
        tampering = rng.choice(tamper.TAMPERINGS)
        result = tampering(files, rng)
        if result is None:
            continue
        kind, changed, expected = result
        if changed == files:
            continue
        status, report = verify.verify(str(_write(tmp_path / str(done), changed)), key=key)
        assert status in (1, 2), (label, kind, report.lines)
        assert tamper.named(report.lines, expected), (label, kind, expected, report.lines)
        kinds[kind] = kinds.get(kind, 0) + 1
        done += 1
    assert set(kinds) == {t.__name__.replace("_", " ") for t in tamper.TAMPERINGS}
