"""The folder where gunicorn's workers keep their metrics, so /metrics sums every worker's counts.

prometheus_client's multi-process mode: each worker writes its counters and
histograms to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR``, and a
scrape (whichever worker answers it) adds them up. The variable must be set
before ``prometheus_client`` is first imported, so ``hailong serve`` calls
``prepare`` before gunicorn forks and this module imports the client only in
``child_exit``, after it is set.

The folder is on a memory file system (``/dev/shm`` when there is one), not
beside the database: a full disk must not reach the workers through a
memory-mapped file (a write to a mapped page of a full file system kills
the process with SIGBUS), and the counts start at zero with the server anyway.
"""

import glob
import os
import shutil
import sys
import tempfile

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_MADE_HERE = "HAILONG_METRICS_DIR_MADE"
# A private folder is named by the pid of the server that made it, so the next start can tell its own
# from those of servers that were killed (SIGKILL, a power cut) before ``on_exit`` could remove them.
PREFIX = "hailong-metrics-"


def prepare():
    """Make (or empty) the metrics folder and point ``PROMETHEUS_MULTIPROC_DIR`` at it; returns its path.

    A folder the operator names in ``PROMETHEUS_MULTIPROC_DIR`` is used and
    emptied of metric files; otherwise a private one (0700) is made, and
    ``on_exit`` removes it. Counts left by a previous run are dropped: a
    restarted server starts its counters at zero, which Prometheus's
    ``rate()`` and ``increase()`` expect.
    """
    if "prometheus_client.values" in sys.modules:
        raise RuntimeError("prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set:"
                           " /metrics would show one worker's counts only")
    folder = os.environ.get(VARIABLE)
    if folder:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        for path in glob.glob(os.path.join(folder, "*.db")):
            os.remove(path)
    else:
        shm = "/dev/shm"
        base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
        remove_stale(base or tempfile.gettempdir())
        folder = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base)
        os.environ[_MADE_HERE] = folder
        os.environ[VARIABLE] = folder
    return folder


def remove_stale(base):
    """Remove the private folders in ``base`` of servers that are no longer running."""
    for path in glob.glob(os.path.join(base, PREFIX + "*")):
        pid = os.path.basename(path)[len(PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or not _running(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def child_exit(server, worker):
    """gunicorn's hook: a worker is gone, so its live gauges no longer count (its counters still do)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """gunicorn's hook: the master is stopping; remove the folder ``prepare`` made."""
    made = os.environ.get(_MADE_HERE)
    if made and made == os.environ.get(VARIABLE):
        shutil.rmtree(made, ignore_errors=True)
