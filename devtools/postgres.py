"""A throwaway PostgreSQL server in a folder of its own, for tests, benches and the fault campaigns.

Debian's PostgreSQL binaries (``/usr/lib/postgresql/<version>/bin``) make a
cluster with ``initdb`` and run it with ``pg_ctl``, listening only on a Unix
socket inside the folder, so nothing else on the machine sees it and several
can run side by side. ``initdb`` refuses to run as root: as root the cluster
is made and run as Debian's ``postgres`` user (``runuser``), the folder
handed to it.

``Cluster(folder, durable=False)`` is for tests: ``fsync`` off, which loses
nothing when a process is killed (the kernel still holds what was written),
only when the machine itself stops. Benches pass ``durable=True`` for the
figures a real server would give.

Example::

    cluster = Cluster("/tmp/pg").start()
    url = cluster.create_database("hailong")
    ...
    cluster.kill()     # SIGKILL to the postmaster: the power cut
    cluster.start()    # crash recovery, same socket, same data
    cluster.stop()

Standard library only, but for psycopg when it is there (a kept admin connection).
"""

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

SUPERUSER = "postgres"


class ClusterError(RuntimeError):
    """initdb or pg_ctl failed; the message ends with its output."""


def bin_dir():
    """The newest installed ``/usr/lib/postgresql/<version>/bin``, or None when PostgreSQL is missing."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(found[-1]) if found else None


def free_port():
    from devtools.processes import free_port as port

    return port()


class Cluster:
    def __init__(self, folder=None, durable=False, port=None, settings=None):
        self.folder = os.path.abspath(folder or tempfile.mkdtemp(prefix="hailong-pg-"))
        self.data = os.path.join(self.folder, "data")
        self.log = os.path.join(self.folder, "postgres.log")
        self.port = port or free_port()
        self.durable = durable
        self.settings = dict(settings or {})
        self.bin = bin_dir()
        if self.bin is None:
            raise ClusterError("PostgreSQL is not installed: apt-get install postgresql")
        self._as_user = os.geteuid() == 0

    # -- running commands as the owner of the cluster

    def _run(self, argv, check=True):
        if self._as_user:
            argv = ["runuser", "-u", SUPERUSER, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise ClusterError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
                               f"\n{self.tail()}")
        return result

    def tail(self, lines=30):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    # -- life cycle

    def start(self, timeout=60):
        if not os.path.isdir(self.data):
            self._init()
        options = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.folder}'",
            "port": str(self.port),
            "max_connections": "200",
            "shared_buffers": "128MB",
            "fsync": "on" if self.durable else "off",
            "synchronous_commit": "on" if self.durable else "off",
            "full_page_writes": "on" if self.durable else "off",
            **{k: str(v) for k, v in self.settings.items()},
        }
        opts = " ".join(f"-c {k}={v}" for k, v in options.items())
        self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.log, "-o", opts,
                   "-w", "-t", str(timeout), "start"])
        return self

    def _init(self):
        os.makedirs(self.folder, exist_ok=True)
        if self._as_user:
            user = pwd.getpwnam(SUPERUSER)
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        os.chmod(self.folder, 0o700)
        self._run([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", SUPERUSER, "-A", "trust",
                   "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        if self._as_user:
            # The log file sits beside the data, written by the server's user.
            open(self.log, "a").close()
            os.chown(self.log, pwd.getpwnam(SUPERUSER).pw_uid, pwd.getpwnam(SUPERUSER).pw_gid)

    def pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def kill(self):
        """SIGKILL the postmaster and its backends at once, as a power cut would (the data stays)."""
        pid = self.pid()
        if pid:
            # The backends are its children; kill them all so none outlives it holding the socket.
            children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
            for each in [pid, *map(int, children)]:
                try:
                    os.kill(each, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)

    def stop(self):
        if getattr(self, "_admin", None) is not None:
            self._admin.close()
            self._admin = None
        if self.pid():
            self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"],
                      check=False)

    def remove(self):
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- databases

    def url(self, database="postgres"):
        return f"postgresql://{SUPERUSER}@/{database}?host={self.folder}&port={self.port}"

    def psql(self, sql, database="postgres"):
        argv = [os.path.join(self.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.folder,
                "-p", str(self.port), "-U", SUPERUSER, "-d", database, "-Atc", sql]
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            raise ClusterError(f"psql failed: {result.stderr}")
        return result.stdout

    def admin(self, sql):
        """Run one statement on the ``postgres`` database over a kept connection (psycopg), else psql."""
        try:
            import psycopg
        except ImportError:
            return self.psql(sql)
        if getattr(self, "_admin", None) is None or self._admin.closed:
            self._admin = psycopg.connect(self.url(), autocommit=True)
        try:
            self._admin.execute(sql)
        except psycopg.OperationalError:
            self._admin = None  # the server was restarted (kill/start): reconnect once
            self._admin = psycopg.connect(self.url(), autocommit=True)
            self._admin.execute(sql)

    def create_database(self, name, template=None):
        """A new database (copied from ``template`` when given: a migrated one is a quick copy, ~40 ms)."""
        source = f' TEMPLATE "{template}"' if template else ""
        self.admin(f'CREATE DATABASE "{name}"{source}')
        return self.url(name)

    def drop_database(self, name):
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
