"""``make demo`` end to end: the real processes, a fast pace, a short run."""

import os
import re
import subprocess
import sys

import pytest

from devtools.processes import free_port, port_free

pytestmark = pytest.mark.slow

TABLETS = ("tthcc-q1", "bienhoa-q2", "tanhiep-q1")


# Only a guard against a demo that hangs, not a speed check: the 18-second run with its months of history
# took 34 s alone and 38 s beside another pytest-xdist worker, and a loaded CI machine may take longer.
HANG_SECONDS = 300


def run_demo(cwd, *args, timeout=HANG_SECONDS):
    return subprocess.run(
        [sys.executable, "-m", "devtools.demo", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def processes_mentioning(text):
    """Pids whose command line mentions ``text`` (Linux /proc), the demo's orphans if any."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if text.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("demo")
    port = free_port()
    result = run_demo(cwd, "--duration", "18", "--pace", "fast", "--port", str(port))
    return cwd, port, result


def test_the_demo_runs_and_exits_0(demo_run):
    _, _, result = demo_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_the_demo_says_where_to_look(demo_run):
    _, port, result = demo_run
    out = result.stdout
    assert f"http://127.0.0.1:{port}/healthz" in out
    assert "--database instance/hailong.db device list" in out
    for name in TABLETS:
        assert f"--data-dir instance/tablets/{name} status" in out
    assert "instance/logs/" in out


def test_the_demo_builds_a_fresh_instance_in_the_working_directory(demo_run):
    cwd, _, _ = demo_run
    instance = cwd / "instance"
    assert (instance / ".demo").is_file()
    assert (instance / "hailong.db").is_file()
    for name in TABLETS:
        assert (instance / "tablets" / name / "outbox.db").is_file()
    for log in ("server.log", "jobs.log", "votes.log", *(f"tablet-{name}.log" for name in TABLETS)):
        assert (instance / "logs" / log).stat().st_size > 0, log


def test_tablets_go_offline_and_come_back(demo_run):
    out = demo_run[2].stdout
    assert re.search(r"Tablet \S+ goes OFFLINE", out)
    assert re.search(r"Tablet \S+ is back ONLINE", out)
    assert re.search(r"OFFLINE queue \d+", out), "a summary line shows a tablet offline"


def test_every_vote_recorded_on_the_tablets_reaches_the_server(demo_run):
    out = demo_run[2].stdout
    match = re.search(r"Final counts: (\d+) recorded on tablets, (\d+) on the server", out)
    assert match, out
    recorded, on_server = map(int, match.groups())
    assert recorded > 10
    assert on_server == recorded
    assert f"Final: all {recorded} votes recorded on the tablets are on the server." in out


def test_no_process_outlives_the_demo(demo_run):
    cwd, port, result = demo_run
    pids = [int(pid) for pid in re.findall(r"\bpids? (\d+)", result.stdout)]
    assert len(pids) >= 5, result.stdout  # server, jobs, three tablets
    assert [pid for pid in pids if pid_alive(pid)] == []
    if os.path.isdir("/proc"):
        assert processes_mentioning(str(cwd)) == []
    assert port_free(port)


def test_the_demo_refuses_to_replace_an_instance_it_did_not_make(tmp_path):
    real = tmp_path / "instance" / "hailong.db"
    real.parent.mkdir()
    real.write_bytes(b"real data")
    result = run_demo(tmp_path, "--duration", "1", "--port", str(free_port()))
    assert result.returncode == 1
    assert "was not made by the demo" in result.stdout
    assert real.read_bytes() == b"real data"
    assert sorted(p.name for p in real.parent.iterdir()) == ["hailong.db"]
