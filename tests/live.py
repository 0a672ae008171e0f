"""A real ``hailong serve`` process for integration tests, and a small org to serve.

Tests talk to it over HTTP on 127.0.0.1, exactly as tablets do.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import requests

BIN = os.path.dirname(sys.executable)

ORG_CSV = """kind,code,name,parent,title,active
unit,DN,Tỉnh Đồng Nai,,,
unit,DN-TT,Trung tâm Phục vụ hành chính công tỉnh,DN,,
unit,DN-BH,Bộ phận Một cửa thành phố Biên Hòa,DN,,
counter,DN-TT-Q1,Quầy 1 – Đất đai,DN-TT,,
counter,DN-TT-Q2,Quầy 2 – Hộ tịch,DN-TT,,
counter,DN-BH-Q1,Quầy 1 – Tổng hợp,DN-BH,,
staff,NV001,Nguyễn Thị Hồng Nhung,DN-TT,Chuyên viên,
staff,NV002,Trần Văn Bình,DN-TT,Cán bộ một cửa,
staff,NV003,Lê Hoàng Phúc,DN-TT,Chuyên viên,
staff,NV004,Phạm Thị Thu Trang,DN-BH,Cán bộ một cửa,
staff,NV005,Võ Minh Đức,DN-TT,Chuyên viên,no
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hailong(*args, env=None, check=True, input=None):
    """Run the real ``hailong`` console script; returns the CompletedProcess."""
    result = subprocess.run(
        [os.path.join(BIN, "hailong"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=input,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"hailong {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def seed_org(database, tmp_path):
    path = tmp_path / "org.csv"
    path.write_text(ORG_CSV, encoding="utf-8")
    hailong("--database", str(database), "org", "import", str(path))


class LiveServer:
    """``hailong serve`` in its own process group, so a test can SIGKILL all of it."""

    def __init__(self, database, port=None, workers=2, settings=None, log_path=None):
        self.database = str(database)
        self.port = port or free_port()
        self.workers = workers
        self.settings = settings or {}
        self.log_path = log_path
        self.process = None
        self.starts = 0

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=30):
        env = {**os.environ, **{f"HAILONG_{k}": str(v) for k, v in self.settings.items()}}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [os.path.join(BIN, "hailong"), "--database", self.database, "serve",
             "--port", str(self.port), "--workers", str(self.workers)],
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        if log is not subprocess.DEVNULL:
            log.close()  # the child holds its own copy
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hailong serve exited with {self.process.returncode}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("hailong serve did not answer /healthz in time")

    def kill(self, sig=signal.SIGKILL):
        """Kill the whole process group (master and workers), as a power cut would."""
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
        self.wait_dead()

    def wait_dead(self, timeout=15):
        if self.process:
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
            # Workers of a SIGKILLed master may linger a moment; wait for the port.
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    os.killpg(self.process.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)

    def stop(self):
        self.kill(signal.SIGTERM)


def issue_code(database, counter="DN-TT-Q1"):
    """An enrollment code, issued in-process (the CLI has its own tests)."""
    from server import storage
    from server.manage.actor import cli_actor
    from server.manage import devices
    from server.settings import DEFAULTS

    db = storage.connect(database)
    try:
        return devices.issue_code(db, cli_actor(), {"counter": counter}, DEFAULTS)["code"]
    finally:
        db.close()


def enroll_tablet(server, data_dir, counter="DN-TT-Q1"):
    """A real device-client tablet enrolled at ``counter`` of ``server``."""
    from device_client.tablet import enroll

    return enroll(str(data_dir), server.url, issue_code(server.database, counter))
