"""A real tablet for kiosk tests: ``hailong-device run`` with its kiosk page on a free port.

The server gets PINs and a photo through the real ``hailong staff`` commands,
and short kiosk timings through its settings, so a test runs in seconds.
"""

import contextlib
import os
import struct
import time
import zlib

import requests

from devtools.processes import DeviceRun, Server
from tests.live import enroll_tablet, seed_org

FAST = {
    "KIOSK_VOTE_INTERVAL_SECONDS": 1,
    "KIOSK_REASONS_TIMEOUT_SECONDS": 2,
    "KIOSK_THANKS_SECONDS": 1,
    "KIOSK_PIN_MAX_ATTEMPTS": 3,
    "KIOSK_PIN_LOCKOUT_MINUTES": 10,
}
PINS = {"NV001": "1234", "NV002": "5678"}


def portrait_png(width=90, height=110):
    """A small drawn portrait (head and shoulders), made here so the tests carry no binary file."""

    def pixel(x, y):
        head = (x - width / 2) ** 2 + (y - 42) ** 2 < 22 ** 2
        body = (x - width / 2) ** 2 / 40 ** 2 + (y - 118) ** 2 / 46 ** 2 < 1
        return (60, 90, 140) if head or body else (215, 222, 234)

    raw = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def set_pins_and_photo(database, folder):
    """PINs and a photo, through the staff actions in-process (``hailong staff`` has its own CLI tests)."""
    from server import storage
    from server.manage.actor import cli_actor
    from server.manage import staff

    db = storage.connect(database)
    try:
        for code, pin in PINS.items():
            staff.set_pin(db, cli_actor(), code, pin)
        staff.set_photo(db, cli_actor(), "NV001", portrait_png(), 512 * 1024)
    finally:
        db.close()


def start_server(database, folder, settings=None):
    seed_org(database, folder)
    set_pins_and_photo(database, folder)
    return Server(database, settings={**FAST, **(settings or {})}, log_path=folder / "serve.log").start()


def migrated_database(folder):
    from migrations import migrations
    from server import storage

    path = folder / "hailong.db"
    database = storage.connect(path)
    migrations.apply(database)
    database.close()
    return path


class KioskTablet:
    """An enrolled tablet running ``hailong-device run`` with the kiosk page."""

    def __init__(self, server, data_dir, port=None):
        self.tablet = enroll_tablet(server, data_dir)
        self.data_dir = str(data_dir)
        self.process = DeviceRun(self.data_dir, kiosk_port=port, log_path=os.path.join(self.data_dir, "run.log"),
                             args=("--interval", "1", "--heartbeat", "5", "--max-backoff", "1"))
        self.port, self.url = self.process.port, self.process.url
        self.baseline = 0

    def start(self, timeout=20):
        self.process.start(timeout)
        return self

    def stop(self):
        self.process.stop(grace=20)

    def kill(self):
        self.process.kill()

    def sign_in(self, staff="NV001"):
        answer = requests.post(self.url + "/api/staff/sign-in", json={"staff": staff, "pin": PINS[staff]}, timeout=5)
        assert answer.ok, answer.text

    def sign_out(self):
        """Sign out whoever is signed in, with their PIN, as they would at the counter."""
        state = requests.get(self.url + "/api/state", timeout=5).json()
        if state["open"]:
            pin = PINS[state["staff"]["code"]]
            answer = requests.post(self.url + "/api/staff/sign-out", json={"pin": pin}, timeout=5)
            assert answer.ok, answer.text

    def fresh(self, staff="NV001"):
        """Start a test on a shared tablet: staff signed in, interval passed, old votes ignored."""
        self.sign_in(staff)
        self.baseline = len(self.outbox())
        wait_for(lambda: requests.get(self.url + "/api/state", timeout=5).json()["next_vote_in"] == 0)
        return self

    def outbox(self):
        """Votes recorded on the tablet, oldest first (a fresh connection each time)."""
        from device_client import store

        conn = store.open_store(self.data_dir)
        try:
            return store.items(conn, "votes")
        finally:
            conn.close()

    def votes(self):
        """Votes recorded since ``fresh``."""
        return self.outbox()[self.baseline:]

    def server_votes(self, database):
        """``(staff, rating, reasons)`` of this tablet's votes on the server, since ``fresh``."""
        return [row[1:] for row in server_votes(database, self.tablet.device_id) if row[0] > self.baseline]

    def server_flags(self, database):
        """``(rating, ingest flags)`` of this tablet's votes on the server, since ``fresh``."""
        import sqlite3

        from server.storage.votes import stored_flags

        conn = sqlite3.connect(database)
        try:
            rows = conn.execute("SELECT rating, flags FROM votes WHERE device_id = ? AND seq > ? ORDER BY seq",
                                [self.tablet.device_id, self.baseline]).fetchall()
            return [(rating, stored_flags(flags)) for rating, flags in rows]
        finally:
            conn.close()


def server_votes(database, device_id):
    import sqlite3

    conn = sqlite3.connect(database)
    try:
        return conn.execute(
            "SELECT v.seq, s.code, v.rating, v.reasons FROM votes v JOIN staff s ON s.id = v.staff_id"
            " WHERE v.device_id = ? ORDER BY v.seq",
            [device_id],
        ).fetchall()
    finally:
        conn.close()


def wait_for(predicate, timeout=15, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def offline_tablet(folder, kiosk=None):
    """A tablet that has never reached a server: key, identity and a cached configuration."""
    from device_client import identity, store
    from device_client.tablet import Tablet
    from migrations import DEFAULT_SCALE
    from server.manage.staff import PIN_HASHER as HASHER

    data_dir = str(folder)
    identity.create_key(data_dir)
    identity.save_identity(data_dir, {"server": "http://127.0.0.1:9", "device_id": "dev-offline1",
                                      "token": "unused", "counter": "DN-TT-Q1"})
    config = {
        "device_id": "dev-offline1",
        "counter": {"code": "DN-TT-Q1", "name": "Quầy 1 – Đất đai"},
        "unit": {"code": "DN-TT", "name": "Trung tâm Phục vụ hành chính công tỉnh", "path": []},
        "staff": [
            {"code": code, "full_name": name, "title": "Chuyên viên", "photo_sha256": None,
             "pin_hash": HASHER.hash(PINS[code]) if code in PINS else None}
            for code, name in (("NV001", "Nguyễn Thị Hồng Nhung"), ("NV002", "Trần Văn Bình"),
                               ("NV003", "Lê Hoàng Phúc"))
        ],
        "scale": {"version": 1, **DEFAULT_SCALE},
        "kiosk": {**{key.lower()[6:]: value for key, value in FAST.items()}, **(kiosk or {})},
        "config_version": "offline",
    }
    conn = store.open_store(data_dir)
    with store.transaction(conn):
        store.set_meta(conn, "config", config)
    conn.close()
    return Tablet(data_dir)


@contextlib.contextmanager
def kiosk_test_client(folder):
    """Flask's test client on the kiosk's local service over the tablet in ``folder``."""
    from device_client.kiosk import create_app

    app = create_app(str(folder), {"TESTING": True})
    try:
        with app.test_client() as client:
            yield client
    finally:
        app.extensions["kiosk"].close()
