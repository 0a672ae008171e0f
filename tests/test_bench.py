"""``make bench`` keeps working: every benchmark runs end to end, small, into a temporary folder.

Nothing else runs the benches between releases, and a server change that
breaks one (an import moved, a function renamed) should fail here, not in
the next measurement. The figures are not judged: the machine is shared.
"""

import json
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).parent.parent


def run_bench(script, *args):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def keys(data, depth=2):
    """The keys of a results file, nested ``depth`` levels (run lists by their first entry)."""
    if isinstance(data, list):
        data = data[0] if data else {}
    if not isinstance(data, dict) or depth == 0:
        return None
    return {key: keys(value, depth - 1) for key, value in data.items()}


def test_the_ingest_bench_runs_and_writes_the_keys_of_bench_results_json(tmp_path):
    results = tmp_path / "results.json"
    out = run_bench("ingest.py", "--preload", 2000, "--votes", 800, "--devices", 2, "--clients", 2,
                    "--work-dir", tmp_path / "work", "--results", results)
    data = json.loads(results.read_text(encoding="utf-8"))
    assert data["preload"]["votes"] == 2000
    assert data["database_check"]["ok"] is True, data["database_check"]
    assert data["runs"][0]["votes_sent"] == data["runs"][0]["votes_stored"] == 800
    assert "database check: OK" in out
    on_postgresql = data["postgresql"]  # the same run against a durable throwaway PostgreSQL
    assert on_postgresql["database_check"]["ok"] is True, on_postgresql["database_check"]
    assert on_postgresql["runs"][0]["votes_sent"] == on_postgresql["runs"][0]["votes_stored"] == 800
    assert on_postgresql["best"]["wal_bytes_per_vote"] > 0 and on_postgresql["storage_per_vote"]["votes"] >= 2800  # the profiled batches add some
    committed = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
    assert keys(data) == keys(committed)


def test_the_kiosk_bench_runs_and_writes_the_keys_of_bench_kiosk_results_json(tmp_path):
    results = tmp_path / "kiosk_results.json"
    run_bench("kiosk.py", "--taps", 5, "--warmup", 1, "--work-dir", tmp_path / "work", "--results", results)
    data = json.loads(results.read_text(encoding="utf-8"))
    assert data["taps"] == 5
    committed = json.loads((ROOT / "bench" / "kiosk_results.json").read_text(encoding="utf-8"))
    assert keys(data) == keys(committed)


def test_the_scores_bench_runs_and_writes_the_keys_of_bench_scores_json(tmp_path):
    results = tmp_path / "scores.json"
    out = run_bench("scores.py", "--votes", 3000, "--repeat", 1, "--page-requests", 2,
                    "--cache", tmp_path / "cache", "--results", results)
    data = json.loads(results.read_text(encoding="utf-8"))
    assert data["data"]["votes"] == 3000
    assert data["same_counts_both_ways"] is True, out
    committed = json.loads((ROOT / "bench" / "scores.json").read_text(encoding="utf-8"))
    assert keys(data) == keys(committed)


def test_the_export_bench_runs_and_writes_the_keys_of_bench_export_json(tmp_path):
    results = tmp_path / "export.json"
    out = run_bench("export.py", "--votes", 3000, "--signed-votes", 500, "--preload", 2000, "--ingest-votes", 400,
                    "--ingest-devices", 2, "--cache", tmp_path / "cache", "--work-dir", tmp_path / "work",
                    "--results", results)
    data = json.loads(results.read_text(encoding="utf-8"))
    assert data["csv_export"]["votes"] == data["sqlite3_cli"]["rows"] == data["merkle_append"]["tree_size"] == 3000
    assert data["verify"]["votes"] == 500 and data["verify"]["exit"] == 0, out
    assert data["ingest"]["database_check"]["ok"] is True, data["ingest"]["database_check"]
    assert data["ingest"]["tree_caught_up_s_after_run"] is not None, out
    assert data["ingest"]["jobs_errors"] == []
    assert not list((tmp_path / "work").glob("*.db"))  # the year's copy with its tree is not left behind
    committed = json.loads((ROOT / "bench" / "export.json").read_text(encoding="utf-8"))
    assert keys(data) == keys(committed)


def test_the_paired_ingest_comparison_runs_between_two_revisions():
    out = run_bench("compare_ingest.py", "--base", "HEAD", "--rounds", 1, "--preload", 500, "--batches", 1)
    summary = json.loads(out[out.index("{"):])
    assert summary["base"] == "HEAD" and summary["new"] == "working tree"
    assert summary["cpu"]["new_median"] > 0 and len(summary["cpu"]["ratios"]) == 1


def test_the_load_bench_runs_and_writes_the_keys_of_bench_load_json(tmp_path):
    results = tmp_path / "load.json"
    out = run_bench("load.py", "--votes", 3000, "--tablets", 6, "--duration", 6, "--vote-every", 1, "--hr", 1,
                    "--page-every", 1, "--config-every", 3, "--cache", tmp_path / "cache", "--work-dir",
                    tmp_path / "work", "--results", results)
    data = json.loads(results.read_text(encoding="utf-8"))
    assert data["tablets"] == 6 and data["errors"] == 0, out
    assert data["database_check"]["ok"] is True, data["database_check"]
    assert data["votes_sent"] == data["database_check"]["votes_stored"] > 0
    assert data["requests"]["config"] > 0 and data["requests"]["votes"] > 0, data["requests"]
    assert data["exports"][0]["status"] == 200 and data["exports"][0]["votes"] > 0, data["exports"]
    assert not list((tmp_path / "work").glob("*.db"))  # the year's copy is not left behind
    committed = json.loads((ROOT / "bench" / "load.json").read_text(encoding="utf-8"))
    assert keys(data) == keys(committed)


def test_the_vote_keys_bench_runs_and_writes_the_keys_of_bench_vote_keys_json(tmp_path):
    results = tmp_path / "vote_keys.json"
    out = run_bench("vote_keys.py", "--preload", 500, "--batches", 2, "--rounds", 1, "--months", 12,
                    "--work-dir", tmp_path / "work", "--results", results)
    data = json.loads(results.read_text(encoding="utf-8"))
    measured = next(iter(data["by_partitions"].values()))
    assert set(measured) == {"trigger", "explicit", "uniques"}, out
    assert all(variant["votes_per_s"] > 0 for variant in measured.values()), out
    committed = json.loads((ROOT / "bench" / "vote_keys.json").read_text(encoding="utf-8"))
    assert set(data) == set(committed)  # by_partitions is keyed by the partition counts asked for
    assert keys(measured) == keys(next(iter(committed["by_partitions"].values())))
