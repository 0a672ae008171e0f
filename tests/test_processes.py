"""devtools.processes: long-running processes start, answer, and leave nothing behind when stopped."""

import os
import sys

import pytest
import requests

from devtools.processes import DeviceRun, Process, Server, StartError, answers, free_port, group_members, port_free
from tests.kiosk_live import offline_tablet
from tests.live import seed_org

# A leader whose child ignores SIGTERM, as a stuck worker would.
STUBBORN = """
import signal, subprocess, sys, time
subprocess.Popen([sys.executable, "-c",
                  "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('child', flush=True); time.sleep(60)"])
time.sleep(60)
"""


def test_a_killed_server_leaves_no_worker_on_its_port_and_restarts_there(db_path, tmp_path):
    seed_org(db_path, tmp_path)
    server = Server(db_path, log_path=tmp_path / "serve.log").start()
    try:
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
        pgid, port = server.pid, server.port
        assert len(group_members(pgid)) == 3  # the master and its two workers
        server.kill()
        assert group_members(pgid) == []
        assert port_free(port)
        server.start()
        assert (server.port, server.starts) == (port, 2)
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
    finally:
        assert server.stop() is True  # SIGTERM was enough
    assert group_members(server.pid) == [] and port_free(server.port)


def test_a_server_that_exits_while_starting_says_why(tmp_path):
    server = Server(tmp_path / "never-migrated.db", log_path=tmp_path / "serve.log")
    with pytest.raises(StartError, match=r"(?s)hailong serve exited with \d+ before it was ready.*migrate"):
        server.start()
    assert group_members(server.pid) == []


def test_a_process_that_never_answers_is_stopped_when_the_wait_gives_up(tmp_path):
    port = free_port()
    silent = Process("sleeper", [sys.executable, "-c", "print('up'); import time; time.sleep(60)"], port=port,
                     ready=answers("/healthz"), log_path=tmp_path / "sleeper.log")
    with pytest.raises(StartError, match=r"(?s)sleeper did not answer GET /healthz within 1 s.*\nup"):
        silent.start(timeout=1)
    assert not silent.alive() and group_members(silent.pid) == []


def test_what_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    stubborn = Process("stubborn", [sys.executable, "-c", STUBBORN], log_path=tmp_path / "stubborn.log",
                       ready=lambda process: "child" in process.log_text()).start()
    assert len(group_members(stubborn.pid)) == 2
    assert stubborn.stop(grace=1) is False
    assert group_members(stubborn.pid) == []


def test_without_a_log_path_the_log_is_temporary_and_removed_after_a_clean_stop():
    process = Process("echo", [sys.executable, "-c", "print('ready', flush=True); import time; time.sleep(60)"],
                      ready=lambda p: "ready" in p.log_text()).start()
    path = process.log_path
    assert process.log_text() == "ready\n"
    assert process.stop() is True
    assert not os.path.exists(path)


def test_a_tablet_without_its_kiosk_page_is_ready_once_its_sync_loop_runs(tmp_path):
    offline_tablet(tmp_path / "tablet").close()
    run = DeviceRun(tmp_path / "tablet", kiosk_port=False, args=("--interval", "600"),
                    log_path=tmp_path / "run.log").start()
    assert run.url is None and "--no-kiosk" in run.argv
    assert run.stop() is True and run.returncode == 0
    assert "Stopped; queued votes stay queued." in run.log_text()
