"""Long-running hailong processes for tests, benches and the demo: start, wait until ready, stop.

``hailong serve``, ``hailong jobs`` and ``hailong-device run`` are started
the same way everywhere:

- in a session (process group) of their own, so one signal to the group
  reaches gunicorn's workers with their master, and Ctrl-C typed at whoever
  started them reaches only that program, which stops them in its own order;
- on a free port of 127.0.0.1 (serve, and a tablet's kiosk page);
- with stdout and stderr in one log file (a temporary one if none is given),
  unbuffered, so readiness lines and error messages are there when needed;
- ready only when they answer: serve ``GET /healthz``, a tablet's kiosk page
  ``GET /api/state``; ``hailong jobs`` has no port, so its "hailong jobs
  running" line. A process that exits first, or does not answer in time,
  raises ``StartError`` with the end of its log.

``stop()`` sends SIGTERM to the group and SIGKILL to whatever is left after
a grace period; ``kill()`` is the power cut (SIGKILL at once). Both return
only when no process of the group is left, so the port is free for the next
``start()``, which restarts the same command on the same port.

Standard library only: the demo runs it from a bare install.

Example::

    from devtools import processes

    server = processes.Server("instance/hailong.db", log_path="serve.log").start()
    jobs = processes.Jobs("instance/hailong.db", log_path="jobs.log").start()
    tablet = processes.DeviceRun("tablet-1", log_path="tablet.log").start()
    print(server.url, tablet.url)
    for process in (tablet, jobs, server):
        process.stop()
"""

import http.client
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN = os.path.dirname(sys.executable)
HOST = "127.0.0.1"
JOBS_READY_LINE = "hailong jobs running"
# gunicorn's graceful_timeout is 10 s; a tablet finishes its sync round in less.
STOP_GRACE = 15.0
# Polling, not sleeping on a guess: a start is over as soon as the process answers.
POLL = 0.1


class StartError(RuntimeError):
    """The process exited, or did not answer in time, while starting; the message ends with its log."""


def free_port():
    """A port nobody uses now, for the next start, picked at random below the kernel's ephemeral range.

    Not the kernel's own choice (binding port 0): that comes from the ephemeral range, where every
    outgoing connection takes its local port too, and between this call and the server's bind a
    client socket of a busy machine (two test workers, the fault proxy's connections) could take it:
    gunicorn then failed with "Address already in use". No outgoing connection uses a port below
    the range; two callers picking the same one of its ~20,000 ports at the same moment is what is left.
    """
    low = _ephemeral_range()[0]
    for _ in range(200):
        port = _random.randrange(10000, low)
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port found in 10000-{low - 1}")


_random = random.SystemRandom()


def _ephemeral_range():
    """The kernel's range of local ports for outgoing connections (Linux), else the usual default."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as handle:
            low, high = map(int, handle.read().split())
    except (OSError, ValueError):
        return 32768, 60999
    return (low, high) if low > 11000 else (32768, 60999)


PORT_RELEASE_SECONDS = 10.0  # how long a stopped process's port may stay taken by the kernel


def port_free(port):
    """Whether ``port`` can be bound on 127.0.0.1 the way gunicorn binds it (SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def answers(path):
    """Readiness: ``GET path`` on the process's port answers 200."""

    def check(process):
        conn = http.client.HTTPConnection(HOST, process.port, timeout=1)
        try:
            conn.request("GET", path)
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    check.waiting_for = f"answer GET {path}"
    return check


def says(line):
    """Readiness: ``line`` appears in what this start of the process wrote to its log."""

    def check(process):
        return line in process.log_text()

    check.waiting_for = f"write {line!r} to its log"
    return check


class Process:
    """One long-running command in its own process group, with a log and a readiness check.

    ``argv`` is run in ``cwd`` with ``env`` added to ``base_env`` (default:
    this process's environment); ``port`` (if any) gives ``url``;
    ``ready(process)`` says when it answers (``None``: as soon as it runs).
    """

    def __init__(self, name, argv, *, log_path=None, env=None, port=None, ready=None, cwd=None, base_env=None):
        self.name = name
        self.argv = [str(arg) for arg in argv]
        self.base_env = base_env
        self.env = {"PYTHONUNBUFFERED": "1", **{k: str(v) for k, v in (env or {}).items()}}
        self.port = port
        self.ready = ready
        self.cwd = cwd
        self.log_path = str(log_path) if log_path else None
        self._temporary_log = log_path is None
        self._log_offset = 0
        self.process = None  # the subprocess.Popen of the latest start
        self.starts = 0

    def __repr__(self):
        return f"<{self.name} pid {self.pid} {'running' if self.alive() else 'stopped'}>"

    @property
    def url(self):
        return f"http://{HOST}:{self.port}" if self.port else None

    @property
    def pid(self):
        """The group leader's pid, which is also the group id."""
        return self.process.pid if self.process else None

    @property
    def returncode(self):
        return self.process.poll() if self.process else None

    def alive(self):
        return self.process is not None and self.process.poll() is None

    # -- starting ------------------------------------------------------------------

    def start(self, timeout=30.0, abort=None):
        """``launch()`` then ``wait_ready()``; returns self. Also restarts a stopped or killed process."""
        self.launch()
        self.wait_ready(timeout, abort)
        return self

    def launch(self):
        """Start the command without waiting for it to answer (to start several side by side)."""
        if self.alive():
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        if self.log_path is None:
            handle, self.log_path = tempfile.mkstemp(prefix=f"{self.name.replace(' ', '-')}-", suffix=".log")
            os.close(handle)
        self._log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**(os.environ if self.base_env is None else self.base_env), **self.env}, cwd=self.cwd,
                start_new_session=True,
            )
        self.starts += 1
        return self

    def wait_ready(self, timeout=30.0, abort=None):
        """Wait until the readiness check passes; returns True, or False if ``abort`` (an Event) was set.

        Raises ``StartError`` (after stopping what is left of the group) if
        the process exits first or ``timeout`` seconds pass.
        """
        deadline = time.monotonic() + timeout
        while True:
            if abort is not None and abort.is_set():
                return False
            if self.process.poll() is not None:
                self._end_group()
                raise StartError(f"{self.name} exited with {self.process.returncode} before it was ready"
                                 + self._log_excerpt())
            if self.ready is None or self.ready(self):
                return True
            if time.monotonic() >= deadline:
                self.kill()
                waiting_for = getattr(self.ready, "waiting_for", "become ready")
                raise StartError(f"{self.name} did not {waiting_for} within {timeout:g} s" + self._log_excerpt())
            time.sleep(POLL)

    # -- stopping ------------------------------------------------------------------

    def signal(self, sig):
        """Send ``sig`` to the whole group (gunicorn's workers must not outlive their master)."""
        if self.process is None:
            return
        if self.process.poll() is not None and not group_members(self.process.pid):
            return  # all gone: the group id may one day be someone else's
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def terminate(self):
        """SIGTERM to the group, without waiting (``wait_gone`` waits)."""
        self.signal(signal.SIGTERM)

    def stop(self, grace=STOP_GRACE):
        """SIGTERM, then SIGKILL after ``grace`` s; returns True if it ended without SIGKILL."""
        if self.process is None:
            return True
        self.terminate()
        clean = self.wait_gone(grace)
        if self._temporary_log and clean:
            os.remove(self.log_path)
            self.log_path = None
        return clean

    def kill(self):
        """SIGKILL the whole group at once, as a power cut would; returns when none of it is left."""
        self.signal(signal.SIGKILL)
        self.wait_gone(5.0)

    def wait_gone(self, timeout=STOP_GRACE):
        """Wait for the leader and every other process of its group to end; SIGKILL them at ``timeout``.

        Returns True if they ended by themselves. A master that was killed
        leaves its workers behind for a moment: they hold the port until they
        are gone, so this waits for the group, not only the leader.
        """
        if self.process is None:
            return True
        deadline = time.monotonic() + timeout
        clean = True
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            clean = False
            self.signal(signal.SIGKILL)
            self.process.wait()
        while group_members(self.process.pid):
            if time.monotonic() >= deadline:
                clean = False
                self._end_group()
                break
            time.sleep(0.05)
        # The kernel may still hold the port a moment after the last process
        # is gone (a connection it closed half-way, FIN_WAIT, which
        # SO_REUSEADDR does not step over): a restart on the same port waits
        # for it, as a supervisor restarting gunicorn would have to.
        released = time.monotonic() + PORT_RELEASE_SECONDS
        while self.port and not port_free(int(self.port)) and time.monotonic() < released:
            time.sleep(0.05)
        return clean

    def _end_group(self):
        """SIGKILL stragglers of the group and wait (briefly) until they are gone."""
        self.signal(signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while group_members(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    # -- the log -------------------------------------------------------------------

    def log_text(self):
        """What this start of the process wrote to its log so far."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset)
                return log.read().decode("utf-8", errors="replace")
        except (OSError, TypeError):
            return ""

    def log_tail(self, lines=12):
        return "\n".join(self.log_text().rstrip().splitlines()[-lines:])

    def _log_excerpt(self):
        tail = self.log_tail()
        return f"; the end of {self.log_path}:\n{tail}" if tail else f"; {self.log_path} is empty."

    # -- with ... as process ---------------------------------------------------------

    def __enter__(self):
        return self if self.alive() else self.start()

    def __exit__(self, *exc):
        self.stop()


def group_members(pgid):
    """Pids of the live (not zombie) processes in group ``pgid``.

    Zombies do not count: they hold no port, and when the reaper of
    orphans is slow (PID 1 in some containers) they can linger.
    """
    if not os.path.isdir("/proc"):
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    return [pid for pid, fields in group_stats(pgid).items() if fields[0] != "Z"]


def group_stats(pgid):
    """``{pid: fields of /proc/PID/stat after the command}`` for each process in group ``pgid`` (Linux).

    ``fields[0]`` is the state, ``[11]`` and ``[12]`` user and system CPU in clock ticks.
    """
    return {pid: fields for pid, fields in proc_stats().items() if int(fields[2]) == pgid}


def proc_stats():
    """``{pid: fields of /proc/PID/stat after the command}`` for every process now (Linux).

    ``fields[1]`` is the parent, ``[2]`` the process group, ``[11]`` and ``[12]`` user and system CPU in
    clock ticks, ``[13]`` and ``[14]`` those of reaped children. A process that ends meanwhile is left out.
    """
    stats = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                stats[int(entry)] = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
    return stats


def _settings_env(settings, env):
    """``settings`` as HAILONG_* variables, under ``env`` (variables as they are)."""
    return {**{f"HAILONG_{key}": value for key, value in (settings or {}).items()}, **(env or {})}


class Server(Process):
    """``hailong serve`` over ``database`` on a free port (or ``port``); ready when /healthz answers.

    ``hailong serve`` refuses the default SECRET_KEY, and the databases of
    tests and benches are made without ``hailong migrate`` writing one, so
    each Server gets a random key of its own (kept across restarts) unless
    ``settings`` or ``env`` give one.
    """

    def __init__(self, database, *, port=None, workers=2, threads=None, settings=None, env=None, log_path=None,
                 name="hailong serve", bin_dir=BIN):
        self.database = str(database)
        port = port or free_port()
        argv = [os.path.join(bin_dir, "hailong"), "--database", self.database, "serve", "--port", port,
                "--workers", workers, *(("--threads", threads) if threads else ())]
        env = _settings_env(settings, env)
        env.setdefault("HAILONG_SECRET_KEY", secrets.token_urlsafe(32))
        super().__init__(name, argv, log_path=log_path, env=env, port=port, ready=answers("/healthz"))


class Jobs(Process):
    """``hailong jobs`` over ``database``; ready when it says it is running (it has no port)."""

    def __init__(self, database, *, settings=None, env=None, log_path=None, name="hailong jobs", bin_dir=BIN):
        self.database = str(database)
        argv = [os.path.join(bin_dir, "hailong"), "--database", self.database, "jobs"]
        super().__init__(name, argv, log_path=log_path, env=_settings_env(settings, env),
                         ready=says(JOBS_READY_LINE))


class DeviceRun(Process):
    """``hailong-device run`` of the tablet in ``data_dir``; ready when its kiosk page answers.

    The kiosk page gets a free port unless ``kiosk_port`` is given;
    ``kiosk_port=False`` runs without it (ready once the sync loop says it
    started). ``args`` go after ``run`` (``--interval``, ``--max-backoff``, ...).
    """

    def __init__(self, data_dir, *, kiosk_port=None, args=(), env=None, log_path=None, name="hailong-device run",
                 bin_dir=BIN):
        self.data_dir = str(data_dir)
        if kiosk_port is False:
            port, kiosk, ready = None, ("--no-kiosk",), says(" syncing to ")
        else:
            port = kiosk_port or free_port()
            kiosk, ready = ("--kiosk-port", port), answers("/api/state")
        argv = [os.path.join(bin_dir, "hailong-device"), "--data-dir", self.data_dir, "run", *args, *kiosk]
        super().__init__(name, argv, log_path=log_path, env=env, port=port, ready=ready)
