"""The real server app inside the test's process, reached by real tablets, and crashed by disk image.

For the sync model (``tests/test_sync_model.py``), which runs thousands of
steps: a request through Flask's test client costs a fraction of a
millisecond, a ``hailong serve`` restart about a second. The tablets are the
real ``device_client`` code; only ``device_client.transport.call`` is
replaced, by ``InProcessServer.call``, which maps the answers exactly as the
real transport does (2xx: the JSON; an error with the JSON shape:
``ServerError``; no answer: ``Unreachable``) and can lose a request or its
answer, deliver a request twice, or let the server die at a chosen point
of a votes batch.

A crash is what a SIGKILL leaves: the database files as they were on disk at
that instant (``disk_image``: the file, its WAL and its shared-memory index,
committed frames and all, never checkpointed), and nothing of the process's
memory (the app, the thread's cached connection in ``server/db.py``). The
restarted server opens that image, so SQLite's own recovery runs exactly as
after a real kill. ``Crash`` is a ``BaseException``, so no ``except
Exception`` in the code under test can swallow the death.
"""

import contextlib
import json
import os
from unittest import mock

from device_client import transport
from migrations import migrations
from server import create_app, orgimport, storage
from server import db as request_db
from server.storage import batches
from server.sync import pipeline
from tests.live import ORG_CSV

URL = "http://hailong.model"
VOTES_PATH = "/api/v1/votes/batch"
ENROLL_PATH = "/api/v1/enroll"
SQLITE_FILES = ("", "-wal", "-shm")

# Where a server can die while it handles a batch, and what the disk then holds.
CRASH_POINTS = {
    "in_transaction": (batches, "_advance_ack"),  # the votes inserted, the ack not moved, nothing committed
    "after_commit": (pipeline, "_fault_after_commit"),  # all committed, the answer never sent
}
FAULTS = ("request_lost", "answer_lost", "twice", *CRASH_POINTS)


class Crash(BaseException):
    """The process dies here: nothing after this point runs, no handler catches it."""


def disk_image(path):
    """The bytes of a SQLite database's files as a process killed now would leave them."""
    image = {}
    for suffix in SQLITE_FILES:
        try:
            with open(f"{path}{suffix}", "rb") as handle:
                image[suffix] = handle.read()
        except FileNotFoundError:
            image[suffix] = None
    return image


def restore_image(path, image):
    """Put the files of ``disk_image`` back (no connection to them may be open)."""
    for suffix, data in image.items():
        target = f"{path}{suffix}"
        if data is None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(target)
        else:
            with open(target, "wb") as handle:
                handle.write(data)


@contextlib.contextmanager
def dying_at(module, name, image_of):
    """Replace ``module.name`` by a death: take the disk image (``image_of()``), then raise ``Crash``.

    Yields a list that holds the image once the death happened.
    """
    taken = []

    def die(*args, **kwargs):
        taken.append(image_of())
        raise Crash(f"killed at {module.__name__}.{name}")

    with mock.patch.object(module, name, die):
        yield taken


class InProcessServer:
    """A migrated database with the small org of ``tests/live.py``, and the app serving it."""

    def __init__(self, folder, settings=None):
        self.folder = str(folder)
        os.makedirs(self.folder, exist_ok=True)
        self.database = os.path.join(self.folder, "hailong.db")
        db = storage.connect(self.database)
        try:
            migrations.apply(db)
            org_file = os.path.join(self.folder, "org.csv")
            with open(org_file, "w", encoding="utf-8") as handle:
                handle.write(ORG_CSV)
            orgimport.import_file(db, org_file)
        finally:
            db.close()
        self.settings = {"TESTING": True, "DATABASE": self.database, "INSTANCE": self.folder, **(settings or {})}
        self.armed = {}  # path -> one of FAULTS, for the next POST to that path (a batch, an enrollment)
        self.fired = None  # the fault that last struck
        self.batches = []  # every votes batch a tablet sent: (token, body), for late re-deliveries
        self.counts = dict.fromkeys(("requests", "crashes", "crashes_mid_request", "integrity_checks"), 0)
        self.boot()

    def boot(self):
        self.app = create_app(self.settings)
        self.client = self.app.test_client()

    @contextlib.contextmanager
    def connect(self):
        """A connection of its own (an administrator's command, or the test reading the database)."""
        db = storage.connect(self.database)
        try:
            yield db
        finally:
            db.close()

    def _forget_connection(self):
        """The thread's cached request connection (``server/db.py``) is process memory: a crash loses it."""
        stale = getattr(request_db._local, "db", None)
        if stale is not None:
            stale.close()
        for name in ("db", "key"):
            if hasattr(request_db._local, name):
                delattr(request_db._local, name)

    def crash(self, image=None):
        """Die (now, or as ``image`` recorded) and restart from the files on disk; check their integrity."""
        image = image if image is not None else disk_image(self.database)
        self._forget_connection()
        restore_image(self.database, image)
        self.counts["crashes"] += 1
        self.boot()
        with self.connect() as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        self.counts["integrity_checks"] += 1

    def close(self):
        self._forget_connection()

    # -- the tablets' transport --------------------------------------------------

    def call(self, method, url, body=None, token=None, timeout=15.0):
        """``device_client.transport.call`` against this server, with the fault armed for the path, if any."""
        assert url.startswith(URL), url
        path = url[len(URL):]
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        fault = self.armed.pop(path, None) if method == "POST" else None
        if fault:
            self.fired = fault
        if method == "POST" and path == VOTES_PATH:
            self.batches.append((token, data))
        if fault == "request_lost":
            raise transport.Unreachable("the request was lost on the way")
        if fault == "twice":  # the network delivers it twice; the tablet hears the second answer
            self.request(method, path, data, token)
        if fault in CRASH_POINTS:
            with dying_at(*CRASH_POINTS[fault], lambda: disk_image(self.database)) as image:
                try:
                    self.request(method, path, data, token)
                except Crash:
                    pass
            assert image, f"the batch never reached {fault}"
            self.counts["crashes_mid_request"] += 1
            self.crash(image[0])
            raise transport.Unreachable("the server died mid-request")
        response = self.request(method, path, data, token)
        if fault == "answer_lost":
            raise transport.Unreachable("the answer was lost on the way")
        return answer(response)

    def request(self, method, path, data, token):
        self.counts["requests"] += 1
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if data is not None:
            headers["Content-Type"] = "application/json"
        return self.client.open(path, method=method, data=data, headers=headers)


def answer(response):
    """What ``transport.call`` makes of a response: the JSON, ``ServerError`` or ``Unreachable``."""
    try:
        payload = json.loads(response.get_data())
    except ValueError:
        payload = None
    status = response.status_code
    if 200 <= status < 300:
        if payload is None:
            raise transport.Unreachable("an answer that is not JSON")
        return payload
    if status >= 500 and payload is None:
        raise transport.Unreachable(f"server answered {status}")
    retry_after = response.headers.get("Retry-After")
    raise transport.ServerError(status, payload, float(retry_after) if retry_after else None)
