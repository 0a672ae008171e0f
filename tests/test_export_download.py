"""Many votes downloaded through the export page from a real server, in flat memory.

The votes go in through the storage layer's own inserts (tests/export_data.py,
like the bench's preload) and the log is caught up; then an auditor... here the
admin, signed in over HTTP like a browser, downloads the bundle while this test
samples the resident memory of the server's processes. The zip is written
while it is sent, so the server never holds more than a chunk of rows: the
bound (+100 MB over the idle server) is below the size of the bundle.

``make test`` downloads 400,000 votes: a 160 MB bundle, so a server that held
it would still break the bound (the test checks that the size says so), in
about 40% of the million's time (19 s alone). ``make chaos`` downloads the million
(``EXPORT_DOWNLOAD_VOTES``, a 400 MB bundle) through the same code.
"""

import hashlib
import json
import os
import re
import tempfile
import threading
import time
import zipfile

import requests

from devtools.processes import Server
from server import storage
from server.ledger import keys
from tests.export_data import add_votes
from tests.people import PASSWORD

VOTES = int(os.environ.get("EXPORT_DOWNLOAD_VOTES", 400_000))
MEMORY_BOUND_MB = 100


def group_rss_mb(pgid):
    """Resident memory of every process in the process group ``pgid`` (gunicorn's master and workers)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # field 5 of stat: the process group
                continue
            with open(f"/proc/{pid}/status") as handle:
                total += next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))
        except (OSError, StopIteration, ValueError, IndexError):
            continue
    return total / 1024


def sign_in(session, url, username="admin"):
    page = session.get(url + "/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = session.post(url + "/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                          allow_redirects=False)
    assert answer.status_code == 302, f"{username} could not sign in"


def test_many_votes_download_through_the_page_in_flat_memory(people, tmp_path):
    path, facts = people
    keys.ensure_key(str(path.parent))
    db = storage.connect(path)
    devices = {"DN-TT-Q1": facts["devices"]["in"], "DN-TT-Q2": facts["devices"]["in2"],
               "DN-BH-Q1": facts["devices"]["out"]}
    add_votes(db, devices, VOTES)
    db.close()
    server = Server(path, workers=1, settings={"DEVELOPMENT": "true", "INSTANCE": str(path.parent)},
                    log_path=tmp_path / "serve.log").start()
    try:
        session = requests.Session()
        sign_in(session, server.url)
        assert session.get(server.url + "/admin/exports").status_code == 200  # the worker has drawn a page
        idle = group_rss_mb(server.pid)
        peak, done = [idle], threading.Event()

        def sample():
            while not done.is_set():
                peak.append(group_rss_mb(server.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        sha, size = hashlib.sha256(), 0
        with tempfile.TemporaryFile(dir=tmp_path) as kept:
            with session.get(server.url + "/admin/exports/votes.zip?format=csv", stream=True, timeout=120) as answer:
                assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/zip"
                for block in answer.iter_content(1 << 20):
                    sha.update(block)
                    size += len(block)
                    kept.write(block)
            done.set()
            sampler.join()
            kept.seek(0)
            bundle = zipfile.ZipFile(kept)
            manifest = json.loads(bundle.read("manifest.json"))
            assert manifest["counts"]["votes"] == VOTES + 2  # and the people database's two
            assert bundle.getinfo("votes.csv").file_size == manifest["files"]["votes.csv"]["bytes"]
        growth = max(peak) - idle
        print(f"{VOTES:,} votes: a bundle of {size / 1e6:.0f} MB, the server grew by {growth:.0f} MB")
        assert size / 1e6 > MEMORY_BOUND_MB, "too few votes to tell a server that streams from one that holds the bundle"
        assert growth < MEMORY_BOUND_MB, f"the server grew by {growth:.0f} MB sending {size / 1e6:.0f} MB"
    finally:
        server.stop()
