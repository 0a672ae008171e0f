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
        folder = tempfile.mkdtemp(prefix="hailong-metrics-", dir=base)
        os.environ[_MADE_HERE] = folder
        os.environ[VARIABLE] = folder
    return folder


def child_exit(server, worker):
    """gunicorn's hook: a worker is gone, so its live gauges no longer count (its counters still do)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """gunicorn's hook: the master is stopping; remove the folder ``prepare`` made."""
    made = os.environ.get(_MADE_HERE)
    if made and made == os.environ.get(VARIABLE):
        shutil.rmtree(made, ignore_errors=True)
