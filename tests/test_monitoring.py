"""/metrics, /readyz, /healthz and the JSON log of a real ``hailong serve`` with three gunicorn workers.

What the workers counted must add up across all of them on every scrape,
whichever worker answers it: that is prometheus_client's multi-process mode
as ``hailong serve`` sets it up (server/monitoring/multiprocess.py). The log,
at DEBUG so it holds every line the server can write, must carry no secret of
a run through sign-in, a token, enrollment, a PIN and syncing.
"""

import concurrent.futures
import json
import re
import os
import sqlite3
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from device_client import protocol
from device_client.tablet import enroll
from devtools.processes import Jobs, Server
from migrations import migrations
from server import storage
from tests.live import enroll_tablet, seed_org
from tests.people import create_user

TOKEN = "metrics-token-for-the-test"
PASSWORD = "a long sign-in passphrase 7"
BATCH = "/api/v1/votes/batch"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("metrics")
    path = folder / "hailong.db"
    db = storage.connect(path)
    migrations.apply(db)
    db.close()
    seed_org(path, folder)
    db = storage.connect(path)
    create_user(db, "admin", "admin", None, PASSWORD)
    db.close()
    # Behind one proxy (its request ids are kept); DEVELOPMENT: the session cookie over plain HTTP.
    settings = {"METRICS_TOKEN": TOKEN, "DEVICE_RATE_BURST": 1000, "TRUSTED_PROXIES": 1, "DEVELOPMENT": "true",
                "LOGGING_FORMAT": "json", "LOGGING_LEVEL": "DEBUG"}
    server = Server(path, workers=3, settings=settings,
                    log_path=folder / "serve.log").start()
    yield server
    server.stop()


def scrape(server, token=TOKEN):
    answer = requests.get(server.url + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")
    return answer.text


def value(text, name, **labels):
    """The sample ``name{labels}`` of a scrape (0 when absent, as Prometheus reads a missing counter)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0


def post(server, tablet, votes):
    """One batch on a fresh connection (``requests.post`` keeps none), so any worker may take it."""
    answer = requests.post(server.url + BATCH, json={"device_time": protocol.format_local_time(), "votes": votes},
                           headers={"Authorization": f"Bearer {tablet.identity['token']}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return [result["status"] for result in answer.json()["results"]]


def log_lines(server):
    """Every line the server wrote, each one JSON object."""
    return [json.loads(line) for line in server.log_text().splitlines()]


def batch_pids(server):
    """The worker pids that answered a batch, from the request lines of the log."""
    return {line["pid"] for line in log_lines(server) if line.get("route") == BATCH}


def test_every_scrape_adds_up_what_all_workers_counted(server, tmp_path):
    tablet = enroll_tablet(server, tmp_path / "tablet")
    tablet.refresh_config()
    votes = [tablet.record_vote("NV001", 4) for _ in range(3)]
    tablet.heartbeat()  # reports its queue: 3 unsent
    assert value(scrape(server), "hailong_tablet_queue_items") == 3
    accepted = [status for vote in votes for status in post(server, tablet, [vote])]
    # Batches sent at once, a few rounds, until at least two workers took some: the sums must span processes.
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        while len(batch_pids(server)) < 2 and len(accepted) < 120:
            more = [tablet.record_vote("NV002", 3) for _ in range(6)]
            accepted += [status for answer in pool.map(lambda vote: post(server, tablet, [vote]), more)
                         for status in answer]
    assert len(batch_pids(server)) >= 2
    duplicates = post(server, tablet, votes[:2]) + post(server, tablet, votes[2:])
    forged = dict(tablet.record_vote("NV001", 1), rating=4)  # signature no longer matches
    rejected = post(server, tablet, [forged])
    assert set(accepted) == {"accepted"} and duplicates == ["duplicate"] * 3 and rejected == ["rejected"]
    batches = len(accepted) + 3
    for _ in range(4):  # whichever worker answers
        text = scrape(server)
        assert value(text, "hailong_sync_items_total", stream="votes", outcome="accepted") == len(accepted)
        assert value(text, "hailong_sync_items_total", stream="votes", outcome="duplicate") == 3
        assert value(text, "hailong_sync_items_total", stream="votes", outcome="rejected") == 1
        assert value(text, "hailong_sync_items_total", stream="sessions", outcome="accepted") == 0
        assert value(text, "hailong_http_requests_total", method="POST", route=BATCH, status="200") == batches
        assert value(text, "hailong_http_request_duration_seconds_count", method="POST", route=BATCH) == batches
        assert value(text, "hailong_sync_incidents_total", stream="votes", kind="rejected") == 1
        assert value(text, "hailong_tablets", state="online") == 1
        assert value(text, "hailong_tablets", state="revoked") == 0
        assert value(text, "hailong_database_bytes") > 0 and value(text, "hailong_disk_free_bytes") > 0
    tablet.close()


def test_metrics_are_refused_without_the_token(server):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        answer = requests.get(server.url + "/metrics", headers=headers, timeout=10)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthorized"
        assert "hailong_" not in answer.text


def test_readyz_says_503_and_why_while_the_database_misses_a_migration(server):
    assert requests.get(server.url + "/readyz", timeout=10).json() == {"status": "ready", "version": "0.1.0"}
    conn = sqlite3.connect(server.database)
    last = conn.execute("SELECT id, migration_set, name, applied_at FROM _sqlite_migrations ORDER BY id DESC"
                        " LIMIT 1").fetchone()
    with conn:
        conn.execute("DELETE FROM _sqlite_migrations WHERE id = ?", [last[0]])
    try:
        answer = requests.get(server.url + "/readyz", timeout=10)
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "10"
        error = answer.json()["error"]
        assert error["code"] == "not_ready"
        assert error["fields"]["migrations"] == [f"1 migrations pending (first {last[2]}): run `hailong migrate`"]
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 200  # the process is up
    finally:
        with conn:
            conn.execute("INSERT INTO _sqlite_migrations (id, migration_set, name, applied_at) VALUES (?, ?, ?, ?)", last)
        conn.close()
    assert requests.get(server.url + "/readyz", timeout=10).status_code == 200


def test_the_log_is_json_with_request_ids_and_holds_no_secret(server, tmp_path):
    browser = requests.Session()  # closed at the end: an open keep-alive connection slows gunicorn's stop
    form = browser.get(server.url + "/login", timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    wrong = "not the passphrase 12345"
    assert browser.post(server.url + "/login", data={"username": "admin", "password": wrong, "csrf_token": csrf},
                        timeout=10).status_code == 401
    signed_in = browser.post(server.url + "/login", timeout=10,
                             data={"username": "admin", "password": PASSWORD, "csrf_token": csrf})
    assert signed_in.status_code == 200 and signed_in.url.endswith("/dashboard")
    cookie = browser.cookies["hailong_session"]
    csrf_now = re.search(r'name="csrf_token" value="([^"]+)"', signed_in.text).group(1)  # the session's new one
    made = browser.post(server.url + "/api/v1/me/tokens", json={"name": "ci", "password": PASSWORD},
                        headers={"X-CSRFToken": csrf_now}, timeout=10)
    assert made.status_code == 201, made.text
    api_token = made.json()["token"]
    as_script = {"Authorization": f"Bearer {api_token}", "X-Request-Id": "proxy-id-0001"}
    issued = requests.post(server.url + "/api/v1/enrollment-codes", json={"counter": "DN-TT-Q1"}, headers=as_script,
                           timeout=10)
    assert issued.status_code == 201 and issued.headers["X-Request-Id"] == "proxy-id-0001"
    code = issued.json()["code"]
    assert requests.get(f"{server.url}/enroll?code={code}", timeout=10).status_code == 200  # the link's page
    tablet = enroll(str(tmp_path / "tablet"), server.url, code)
    pin = "736194"
    assert requests.put(server.url + "/api/v1/staff/NV001/pin", json={"pin": pin}, headers=as_script,
                        timeout=10).status_code == 200
    tablet.refresh_config()
    tablet.record_vote("NV001", 4)
    assert tablet.send("votes")[0] == 1
    tablet.heartbeat()
    device_token = tablet.identity["token"]
    tablet.close()
    browser.close()
    # From elsewhere (the proxy says so), /metrics wants the token like anyone.
    assert requests.get(server.url + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"},
                        timeout=10).status_code == 401

    lines = log_lines(server)
    text = server.log_text()
    for name, secret in [("password", PASSWORD), ("wrong password", wrong), ("API token", api_token),
                         ("enrollment code", code), ("enrollment code, bare", code.replace("-", "")),
                         ("PIN", pin), ("device token", device_token), ("session cookie", cookie),
                         ("CSRF token", csrf), ("CSRF token after sign-in", csrf_now)]:
        assert secret not in text, f"the {name} is in the log"
    ids = [line for line in lines if line.get("request_id") == "proxy-id-0001"]
    assert ids and ids[0]["route"] == "/api/v1/enrollment-codes" and ids[0]["status"] == 201
    assert all({"ts", "level", "logger", "msg", "pid"} <= line.keys() for line in lines)
    by_route = {line.get("route"): line for line in lines if line["logger"] == "hailong.request"}
    assert by_route["/api/v1/staff/<code>/pin"]["user_id"] >= 1
    assert by_route[BATCH]["device_id"] == tablet.device_id
    assert any(line["logger"] == "gunicorn.error" for line in lines)


def test_hailong_jobs_records_every_run_and_metrics_show_them(server, tmp_path):
    # No log key in this instance: the checkpoint job fails every run, the others succeed.
    process = Jobs(server.database, env={"HAILONG_INSTANCE": str(tmp_path)}, log_path=tmp_path / "jobs.log")
    process.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not {"silent_devices", "log_checkpoint"} <= set(runs(server)):
            time.sleep(0.2)
    finally:
        process.stop()
    done = runs(server)
    assert done["silent_devices"][:2] == (1, 0) and done["log_checkpoint"][:2] == (1, 1)
    assert "log-key" in done["log_checkpoint"][2]
    text = scrape(server)
    assert 'hailong_job_runs_total{job_name="silent_devices"} 1.0' in text
    assert 'hailong_job_failures_total{job_name="log_checkpoint"} 1.0' in text
    assert 'hailong_job_last_run_failed{job_name="log_checkpoint"} 1.0' in text
    assert 'hailong_job_last_run_failed{job_name="silent_devices"} 0.0' in text
    lines = [json.loads(line) for line in process.log_text().splitlines()]
    assert any(line.get("job") == "log_checkpoint" and line["level"] == "ERROR" for line in lines)


def runs(server):
    """``{job: (runs, failures, last_error)}`` from the server's database."""
    conn = sqlite3.connect(server.database)
    try:
        return {job: (count, failures, error or "")
                for job, count, failures, error in conn.execute("SELECT job, runs, failures, last_error FROM job_runs")}
    finally:
        conn.close()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_on_postgresql_readyz_and_metrics_read_the_database_server(live_server, db_path):
    """The module's server above is SQLite's; these are the figures that differ on PostgreSQL."""
    text = requests.get(live_server.url + "/metrics", timeout=10).text  # from this machine: no token needed
    db = storage.connect(db_path)
    size = db.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    assert size / 2 < value(text, "hailong_database_bytes") < size * 2
    assert "hailong_disk_free_bytes" not in text and "hailong_disk_size_bytes" not in text  # the database server's
    assert requests.get(live_server.url + "/readyz", timeout=10).status_code == 200
    last = db.execute("SELECT id, migration_set, name, applied_at FROM _sqlite_migrations ORDER BY id DESC"
                      " LIMIT 1").fetchone()
    db.execute("DELETE FROM _sqlite_migrations WHERE id = ?", [last[0]])
    try:
        answer = requests.get(live_server.url + "/readyz", timeout=10)
        assert answer.status_code == 503
        assert answer.json()["error"]["fields"]["migrations"] == [
            f"1 migrations pending (first {last[2]}): run `hailong migrate`"]
    finally:
        db.execute("INSERT INTO _sqlite_migrations (id, migration_set, name, applied_at) VALUES (?, ?, ?, ?)", last)
        db.close()
    assert requests.get(live_server.url + "/readyz", timeout=10).status_code == 200


@pytest.mark.backends
def test_without_a_token_metrics_answer_this_machine_only(client):
    assert client.get("/metrics").status_code == 200
    elsewhere = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert elsewhere.status_code == 403 and elsewhere.json["error"]["code"] == "forbidden"
    # Through a proxy the server was not told of (TRUSTED_PROXIES=0): the client is elsewhere too.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403


def test_a_killed_servers_metrics_folder_is_removed_by_the_next_start(tmp_path):
    """A server killed with SIGKILL never runs ``on_exit``; the next start removes its folder, not a live one's."""
    import subprocess
    import sys

    from server.monitoring import multiprocess

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = tmp_path / f"{multiprocess.PREFIX}{gone.pid}-abc"
    alive = tmp_path / f"{multiprocess.PREFIX}{os.getpid()}-def"
    for folder in (dead, alive):
        folder.mkdir()
        (folder / "counter_1.db").write_bytes(b"x")
    multiprocess.remove_stale(str(tmp_path))
    assert not dead.exists() and alive.exists()
