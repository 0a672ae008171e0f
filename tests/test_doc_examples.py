"""Every ``hailong`` and ``hailong-device`` command shown in README.md and docs/ runs as written.

Each file's commands run in order, as real processes, in a fresh instance
whose organisation is docs/examples/org.csv (the file the examples name).
Only what a running system prints is filled in: the server's address
(``http://SERVER:8000``, ``http://10.0.0.5:8000``), an enrollment code
(``XXXXX-XXXXX``, ``WJ6EP-ZYGHP``) and a device id (``dev-7k2m9q4x``).
Long-running commands (``serve``, ``jobs``, ``run``) must come up; they are
then stopped. Each ``hailong-device enroll`` is a new tablet.
"""

import json
import os
import pathlib
import re
import shlex
import subprocess
import time

import pytest

from devtools import processes
from tests.images import image_bytes
from tests.live import BIN

REPO = pathlib.Path(__file__).parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SERVERS = ("http://SERVER:8000", "http://10.0.0.5:8000")
CODES = ("XXXXX-XXXXX", "WJ6EP-ZYGHP")
DEVICE = "dev-7k2m9q4x"
COUNTER = "HCM-TTHCC-Q1"  # the example file's first counter
PASSWORD, PIN = "a long enough password", "246810"
# Long-running commands, and what each prints once it is up (a port that answers says more).
READY = {("hailong", "serve"): "hailong serving on", ("hailong", "jobs"): "hailong jobs running",
         ("hailong-device", "run"): "syncing to"}
LONG_RUNNING = set(READY)


def examples(path):
    """``(line number, argv)`` of every command in the file's fenced code blocks."""
    found, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced and re.match(r"(hailong|hailong-device) ", line):
            argv = shlex.split(line, comments=True)
            found.append((number, [word for word in argv if word != "&"]))
    return found


FILES = [path for path in DOCS if examples(path)]


class Run:
    """One file's commands against one instance, one server, and as many tablets as it enrolls."""

    def __init__(self, work):
        self.work = work
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HAILONG_")}
        self.env["HAILONG_INSTANCE"] = str(work / "instance")
        self.tablets = 0
        self.device_id = None
        self.server = None

    def command(self, argv, stdin=None, check=True):
        program = os.path.join(BIN, argv[0])
        result = subprocess.run([program, *argv[1:]], cwd=self.work, env=self.env, input=stdin, text=True,
                                capture_output=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
        return result

    def start(self):
        """The instance with the example organisation, and a server the tablets' commands talk to."""
        self.command(["hailong", "migrate"])
        self.command(["hailong", "org", "import", "docs/examples/org.csv"])
        self.server = processes.Server(self.work / "instance" / "hailong.db", log_path=self.work / "serve.log").start()

    def new_tablet(self):
        self.tablets += 1
        self.env["HAILONG_DEVICE_DIR"] = str(self.work / f"tablet-{self.tablets}")
        self.device_id = None

    def code(self):
        return json.loads(self.command(["hailong", "device-code", "--counter", COUNTER, "--json"]).stdout)["code"]

    def enrolled(self):
        """The current tablet, enrolled at COUNTER if it is not yet."""
        if self.device_id is None:
            if "HAILONG_DEVICE_DIR" not in self.env:
                self.new_tablet()
            self.command(["hailong-device", "enroll", "--server", self.server.url, "--code", self.code()])
            self.device_id = json.loads(self.command(["hailong-device", "status", "--json"]).stdout)["device_id"]
        return self.device_id

    def fill_in(self, argv):
        """Replace the example values that stand for what only a running system knows."""
        if argv[:2] == ["hailong-device", "enroll"]:
            self.new_tablet()
        elif argv[0] == "hailong-device":
            self.enrolled()
        filled = []
        for word in argv:
            for server in SERVERS:
                word = word.replace(server, self.server.url)
            for code in CODES:
                if code in word:
                    word = word.replace(code, self.code())
            if word == DEVICE:
                word = self.enrolled()
            filled.append(word)
        return filled

    def stdin(self, argv):
        if argv[:3] == ["hailong", "user", "create"]:
            return f"{PASSWORD}\n" * (1 if "--password-stdin" in argv else 2)
        if argv[:3] == ["hailong", "staff", "set-pin"] and "--pin" not in argv:
            return f"{PIN}\n{PIN}\n"
        return None

    def run(self, argv):
        argv = self.fill_in(argv)
        if tuple(argv[:2]) in LONG_RUNNING:
            self.comes_up(argv)
            return
        self.command(argv, self.stdin(argv))
        if argv[:2] == ["hailong-device", "enroll"]:
            self.device_id = json.loads(self.command(["hailong-device", "status", "--json"]).stdout)["device_id"]

    def comes_up(self, argv):
        """Start a long-running command, wait until it is up, see it stay up a moment, then stop it."""
        argv = [("127.0.0.1" if word == "0.0.0.0" else word) for word in argv]
        port = None
        for option in ("--port", "--kiosk-port"):
            if option in argv:  # the documented port may be taken here; any free one shows the same
                port = processes.free_port()
                argv[argv.index(option) + 1] = str(port)
        if argv[:2] == ["hailong", "serve"]:
            ready = processes.answers("/healthz")
        elif port is not None:
            ready = processes.answers("/api/state")
        else:
            ready = processes.says(READY[tuple(argv[:2])])
        process = processes.Process(" ".join(argv[:2]), [os.path.join(BIN, argv[0]), *argv[1:]], port=port,
                                    base_env=self.env, cwd=self.work, ready=ready,
                                    log_path=self.work / f"{argv[0]}-{argv[1]}.log")
        try:
            process.start(timeout=30)
            time.sleep(0.5)
            assert process.alive(), f"{' '.join(argv)} exited:\n{process.log_tail()}"
        finally:
            process.stop(grace=20)

    def stop(self):
        if self.server:
            self.server.stop()


def workdir(tmp_path):
    """A folder with the example file under the names the docs use, and a photo to upload."""
    import openpyxl

    (tmp_path / "docs").symlink_to(REPO / "docs")
    rows = (REPO / "docs" / "examples" / "org.csv").read_text(encoding="utf-8")
    (tmp_path / "org.csv").write_text(rows, encoding="utf-8")
    book = openpyxl.Workbook()
    for row in rows.splitlines():
        book.active.append(row.split(","))
    book.save(tmp_path / "org.xlsx")
    (tmp_path / "nhung.jpg").write_bytes(image_bytes("JPEG", (120, 150)))
    return tmp_path


@pytest.mark.parametrize("path", FILES, ids=[str(path.relative_to(REPO)) for path in FILES])
def test_every_command_in_the_docs_runs_as_written(tmp_path, path):
    run = Run(workdir(tmp_path))
    run.start()
    try:
        for number, argv in examples(path):
            try:
                run.run(argv)
            except AssertionError as exc:
                raise AssertionError(f"{path.name}:{number}: {shlex.join(argv)}\n{exc}") from None
    finally:
        run.stop()


def test_the_examples_are_found():
    commands = {shlex.join(argv) for path in FILES for _, argv in examples(path)}
    assert "hailong org import docs/examples/org.csv" in commands
    assert any(command.startswith("hailong-device enroll") for command in commands)
