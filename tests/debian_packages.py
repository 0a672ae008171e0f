"""Programs the tests install from Debian's packages when they are missing (Chromium, nginx, Caddy).

A fresh machine or CI needs nothing by hand. Several test runs may ask at
once (on a shared machine, several checkouts' suites side by side, and the two
pytest-xdist workers of one ``make test``), and apt refuses to run while
another apt holds dpkg's lock: so installs queue on a lock file of their own
(held exclusively), each looks again once it holds it (the one before may have
installed the program meanwhile), and apt itself waits for dpkg's lock
(``DPkg::Lock::Timeout``) should something outside the tests hold it. Even the
first look holds the lock, shared: the program's file appears while dpkg
unpacks, before its libraries are configured, and a worker that saw it then
would start a half-installed browser or database.
"""

import glob

import fcntl
import os
import shutil
import subprocess

import pytest

LOCK = "/tmp/hailong-tests-apt.lock"
APT_WAIT_SECONDS = 600  # apt-get update and a browser's install take minutes on a slow mirror


def ensure(program, package, paths=(), service=None):
    """The path of ``program``, after installing Debian's ``package`` if it is missing.

    ``paths`` are places to look besides ``PATH`` (``/usr/sbin`` is not on
    every user's), glob patterns allowed (``/usr/lib/postgresql/*/bin/initdb``). A package that brings a ``service`` (nginx, Caddy) has
    Debian start it on ports 80 and 443 where systemd runs: the tests run
    their own copy, so the one this install started is stopped and disabled.
    Fails the test, saying what to install, when it cannot.
    """
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)  # waits only while another test run installs
        found = _find(program, paths)
        if found:
            return found
        if os.geteuid() != 0:
            pytest.fail(f"{program} is missing and the tests are not root: apt-get install {package}")
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        found = _find(program, paths)
        if found:
            return found
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        wait = ["-o", f"DPkg::Lock::Timeout={APT_WAIT_SECONDS}"]
        for argv in (["apt-get", *wait, "update", "-qq"], ["apt-get", *wait, "install", "-y", "-qq", package]):
            result = subprocess.run(argv, env=env, capture_output=True, text=True)
            if result.returncode != 0:
                pytest.fail(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
        if service and os.path.isdir("/run/systemd/system"):
            subprocess.run(["systemctl", "disable", "--now", service], capture_output=True)
    found = _find(program, paths)
    if not found:
        pytest.fail(f"apt-get installed {package} but {program} is still missing")
    return found


def _find(program, paths):
    found = (path for pattern in paths for path in sorted(glob.glob(pattern)) if os.access(path, os.X_OK))
    return shutil.which(program) or next(found, None)
