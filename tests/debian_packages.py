"""Programs the tests install from Debian's packages when they are missing (Chromium, nginx, Caddy).

A fresh machine or CI needs nothing by hand. Several test runs may ask at
once (on a shared machine, several checkouts' suites side by side), and apt
refuses to run while another apt holds dpkg's lock: so installs queue on a
lock file of their own, each looks again once it holds it (the one before
may have installed the program meanwhile), and apt itself waits for dpkg's
lock (``DPkg::Lock::Timeout``) should something outside the tests hold it.
"""

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
    every user's). A package that brings a ``service`` (nginx, Caddy) has
    Debian start it on ports 80 and 443 where systemd runs: the tests run
    their own copy, so the one this install started is stopped and disabled.
    Fails the test, saying what to install, when it cannot.
    """
    found = _find(program, paths)
    if found:
        return found
    if os.geteuid() != 0:
        pytest.fail(f"{program} is missing and the tests are not root: apt-get install {package}")
    with open(LOCK, "a") as lock:
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
    return shutil.which(program) or next((path for path in paths if os.access(path, os.X_OK)), None)
