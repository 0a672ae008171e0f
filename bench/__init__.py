"""The benchmarks behind ``make bench``: ``ingest.py`` and ``kiosk.py`` are the programs.

The other modules are ``ingest.py``'s parts, in the order it uses them:
``preload`` (a million historical votes through the storage layer),
``tablets`` (the org, bench tablets enrolled over HTTP, their pre-signed
batches), ``timed_run`` (client processes against a real ``hailong serve``,
and the check of what it stored), ``ceilings`` (what the parts of the path
carry on their own) and ``report`` (the table and bench/results.json).
"""

import os
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "bench", "work")  # the default; --work-dir moves it
# Subprocesses run the code of this tree (a private copy benchmarks its own edits).
PYTHONPATH = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
# The bench must measure ingest, not the flood guard.
RATE_SETTINGS = {"DEVICE_RATE_PER_MINUTE": 10_000_000, "DEVICE_RATE_BURST": 1_000_000}
MARKER = ".bench-work"


def fresh_work_dir(path):
    """Empty ``path`` for a run, but only if a bench made it (or it is under bench/work/):
    ``--work-dir`` pointed at a folder of real files must not lose them."""
    path = os.path.abspath(path)
    if os.path.isdir(path) and os.listdir(path):
        ours = os.path.exists(os.path.join(path, MARKER)) or (path + os.sep).startswith(WORK + os.sep)
        if not ours:
            raise SystemExit(f"{path} is not empty and was not made by a bench (no {MARKER} in it); "
                             "give an empty or new folder.")
        shutil.rmtree(path)
    os.makedirs(path, exist_ok=True)
    open(os.path.join(path, MARKER), "w").close()
    return path
