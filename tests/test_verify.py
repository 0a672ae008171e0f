"""The auditor's verifier (tools/verify.py): its proofs, its reports, and that it runs alone.

Bundles here are built from docs/verify.md alone (``tests/contract_bundles.py``,
with its own recursive RFC 6962 code); the tamper campaign on real exports is
``tests/test_verify_tamper.py``.
"""

import base64
import json
import os
import shutil
import subprocess
import sys

import pytest

from server.ledger import merkle as server_merkle
from tests import contract_bundles as contract
from tests.live import BIN
from tools import verify

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def leaves(n):
    return [verify.leaf_hash(f"leaf {i}".encode()) for i in range(n)]


def fails(report):
    return [line for line in report.lines if line.startswith(("FAIL", "ERROR"))]


@pytest.fixture(scope="module")
def log():
    log = contract.Log(seed=3)
    log.add_votes(12)
    log.checkpoint()
    log.add_votes(30, skip_seq=("dev-0000", 5))
    log.checkpoint()
    return log


def test_inclusion_and_consistency_agree_with_rfc_6962_written_recursively_and_with_the_server():
    for n in range(1, 34):
        hashes = leaves(n)
        root = contract.mth(hashes)
        for m in range(n):
            path = [contract.mth(hashes[s:e]) for s, e in contract.path_ranges(m, 0, n)]
            assert verify.audit_path_ranges(m, n) == contract.path_ranges(m, 0, n)
            assert verify.root_from_inclusion(hashes[m], m, n, path) == root
            if path:
                assert verify.root_from_inclusion(hashes[m], m, n, path[:-1]) is None
                bad = path[:-1] + [verify.leaf_hash(b"other")]
                assert verify.root_from_inclusion(hashes[m], m, n, bad) != root
        for m in range(0, n + 1):
            proof = contract.consistency(m, hashes)
            old = contract.mth(hashes[:m])
            assert verify.verify_consistency(m, n, old, root, proof)
            assert server_merkle.verify_consistency(m, n, old, root, proof)
            if 0 < m < n:
                assert not verify.verify_consistency(m, n, verify.leaf_hash(b"x"), root, proof)
                assert not verify.verify_consistency(m, n, old, root, proof[:-1])
                assert not verify.verify_consistency(m, n, old, verify.leaf_hash(b"x"), proof)
        assert verify.fold_root([contract.mth(hashes[s:e]) for s, e in verify.decomposition(n)]) == root


def test_clean_bundles_of_every_format_and_shape_pass(log, tmp_path):
    key = contract.verifier_key(log.key)
    shapes = [{"fmt": "csv"}, {"fmt": "jsonl"}, {"fmt": "xlsx"}, {"fmt": "csv", "bom": True},
              {"fmt": "csv", "zip_it": True}, {"fmt": "xlsx", "zip_it": True, "device": "dev-0001"},
              {"fmt": "jsonl", "device": "dev-0002"}]
    for number, options in enumerate(shapes):
        path = tmp_path / (f"b{number}.zip" if options.get("zip_it") else f"b{number}")
        log.export(path, **options)
        status, report = verify.verify(str(path), key=key)
        assert status == 0 and not fails(report), (options, report.lines)
        assert report.lines[-1] == "Result: OK: everything holds"
        assert not [line for line in report.lines if line.startswith("WARN")]


def test_bundles_of_no_row_and_one_row_pass(tmp_path):
    empty = contract.Log(seed=4)
    empty.checkpoint()
    empty.export(tmp_path / "empty")
    status, report = verify.verify(str(tmp_path / "empty"), key=contract.verifier_key(empty.key))
    assert status == 0, report.lines
    assert "Bundle: votes, 0 rows (csv), covering checkpoint size 0" in report.lines
    one = contract.Log(seed=5)
    one.add_votes(1)
    one.checkpoint()
    one.export(tmp_path / "one", fmt="xlsx")
    status, report = verify.verify(str(tmp_path / "one"), key=contract.verifier_key(one.key))
    assert status == 0, report.lines
    assert "Inclusion: 1 rows shown in the tree, 0 failed; order findings 0; proof findings 0" in report.lines


def test_hashed_tickets_are_counted_as_not_checkable_and_the_rest_still_checked(log, tmp_path):
    log.export(tmp_path / "hashed", hash_tickets=True)
    status, report = verify.verify(str(tmp_path / "hashed"), key=contract.verifier_key(log.key))
    hashed = sum(1 for v in log.votes if v["ticket"] is not None)
    assert status == 0, report.lines
    assert any(line.startswith("NOTE votes.csv: ") and f"{hashed} rows have their ticket replaced" in line
               for line in report.lines)
    assert (f"Signatures: {len(log.votes) - hashed} checked, 0 failed, {hashed} not checkable "
            "(ticket replaced by a keyed hash)") in report.lines
    assert f"Inclusion: {len(log.votes) - hashed} rows shown in the tree, 0 failed; order findings 0; proof findings 0" \
        in report.lines


def test_without_a_key_the_bundle_is_checked_against_its_own_key_with_a_warning(log, tmp_path):
    log.export(tmp_path / "b")
    status, report = verify.verify(str(tmp_path / "b"))
    assert status == 0
    assert any(line.startswith("WARN manifest.json: checked against the server key the bundle names itself")
               for line in report.lines)


def test_a_bundle_re_signed_by_another_key_fails_against_the_servers_key(log, tmp_path):
    forger = contract.Log(seed=99)
    log.export(tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_bytes())
    manifest["server_public_key"] = contract.b64(bytes(forger.key.verify_key))
    body = json.dumps(manifest, indent=1).encode()
    (tmp_path / "b" / "manifest.json").write_bytes(body)
    (tmp_path / "b" / "manifest.sig").write_text(
        contract.b64(forger.key.sign(b"hailong-manifest-v1\n" + body).signature) + "\n")
    status, report = verify.verify(str(tmp_path / "b"), key=contract.verifier_key(log.key))
    assert status == 1
    assert "FAIL manifest.json: server_public_key is not the key given with --key" in report.lines
    assert any(line.startswith("FAIL manifest.sig: the manifest's signature does not verify") for line in report.lines)


def test_a_kept_checkpoint_catches_a_history_rebuilt_without_a_vote(tmp_path):
    log = contract.Log(seed=6)
    log.add_votes(25)
    kept = log.checkpoint()
    (tmp_path / "kept.txt").write_text(kept["note"], encoding="utf-8")
    log.add_votes(10)
    log.checkpoint()
    log.export(tmp_path / "honest")
    key = contract.verifier_key(log.key)
    status, report = verify.verify(str(tmp_path / "honest"), [str(tmp_path / "kept.txt")], key)
    assert status == 0, report.lines
    assert "Checkpoints: 2 listed and consistent, 1 of 1 kept consistent, 0 findings" in report.lines
    # The operator deletes vote 7, rebuilds the log from what is left and re-signs fresh checkpoints.
    del log.votes[7]
    for index, vote in enumerate(log.votes):
        vote["leaf_index"] = index
    log.checkpoints = []
    log.checkpoint()
    log.export(tmp_path / "rewritten")
    status, report = verify.verify(str(tmp_path / "rewritten"), [str(tmp_path / "kept.txt")], key)
    assert status == 1
    where = f"FAIL --checkpoint {tmp_path / 'kept.txt'} (size 25, time {kept['note'].split('time ')[1][:20]}): "
    assert [line for line in fails(report) if not line.startswith("FAIL sequence.json")] == [
        where + "not among the bundle's checkpoints, and the tree rebuilt from this bundle's rows has another root "
        "at this size: the log was rewritten since you kept yours"]


def test_rows_are_checked_the_same_over_a_pool_of_processes(log, tmp_path, monkeypatch):
    monkeypatch.setattr(verify, "POOL_MIN_ROWS", 1)
    monkeypatch.setattr(verify.Signatures, "BATCH", 5)
    files = log.export(tmp_path / "b")
    text = files["votes.csv"].decode().split("\r\n")
    cells = text[9].split(",")
    cells[8] = str(int(cells[8]) + 7)  # rating
    text[9] = ",".join(cells)
    (tmp_path / "b" / "votes.csv").write_bytes("\r\n".join(text).encode())
    status, report = verify.verify(str(tmp_path / "b"), key=contract.verifier_key(log.key), jobs=2)
    assert status == 1
    signature = [line for line in fails(report) if "device signature does not verify" in line]
    assert len(signature) == 1 and signature[0].startswith("FAIL votes.csv line 10 (leaf_index 8, ")


def test_the_standalone_script_runs_alone_and_hailong_verify_agrees(log, tmp_path):
    log.export(tmp_path / "b")
    alone = tmp_path / "elsewhere"
    alone.mkdir()
    shutil.copy(os.path.join(REPO, "tools", "verify.py"), alone / "verify.py")
    key = contract.verifier_key(log.key)
    # -I: no current folder, no PYTHONPATH, no user site: only the standard library and what is installed.
    result = subprocess.run([sys.executable, "-I", str(alone / "verify.py"), str(tmp_path / "b"), "--key", key],
                            capture_output=True, text=True, cwd=alone, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "Result: OK: everything holds"
    cli = subprocess.run([os.path.join(BIN, "hailong"), "--instance", str(tmp_path / "instance"), "verify",
                          str(tmp_path / "b"), "--key", key], capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0 and cli.stdout == result.stdout
    (tmp_path / "b" / "votes.csv").write_bytes((tmp_path / "b" / "votes.csv").read_bytes().replace(b",3,", b",1,", 1))
    cli = subprocess.run([os.path.join(BIN, "hailong"), "verify", str(tmp_path / "b"), "--key", key],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 1 and "FAIL votes.csv line" in cli.stdout
    (tmp_path / "junk.zip").write_bytes(b"PK not really")
    cli = subprocess.run([os.path.join(BIN, "hailong"), "verify", str(tmp_path / "junk.zip")], capture_output=True,
                         text=True, timeout=60)
    assert cli.returncode == 2
    assert cli.stdout.startswith("ERROR the bundle cannot be read: ") and "Traceback" not in cli.stderr


def test_a_kept_checkpoint_from_the_api_as_json_is_read_too(log, tmp_path):
    log.export(tmp_path / "b")
    first = log.checkpoints[0]
    (tmp_path / "kept.json").write_text(json.dumps({"id": first["id"], "note": first["note"]}))
    status, report = verify.verify(str(tmp_path / "b"), [str(tmp_path / "kept.json")], contract.verifier_key(log.key))
    assert status == 0, report.lines
    assert "Checkpoints: 2 listed and consistent, 1 of 1 kept consistent, 0 findings" in report.lines


def test_keys_are_read_as_verifier_keys_plain_base64_or_files(log, tmp_path):
    public = bytes(log.key.verify_key)
    assert verify.parse_key(contract.verifier_key(log.key)) == (contract.LOG_NAME, public)
    assert verify.parse_key(base64.b64encode(public).decode()) == (None, public)
    (tmp_path / "key.txt").write_text(contract.verifier_key(log.key) + "\n")
    assert verify.parse_key(str(tmp_path / "key.txt")) == (contract.LOG_NAME, public)
    with pytest.raises(ValueError):
        verify.parse_key(contract.verifier_key(log.key).replace("hailong.test", "other"))
