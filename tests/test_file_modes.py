"""Files at rest are their owner's alone: folders 0700, files 0600, on the server and on the tablet (POSIX).

Made so on creation, whatever the umask lets through, and fixed when an
older version left them readable by every account on the machine.
"""

import os
import sqlite3
import stat
import subprocess
import sys

import pytest

from device_client import identity, staff, store
from device_client.tablet import Tablet
from server import storage
from tests.live import enroll_tablet, hailong

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes; Windows relies on the user profile")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def usual_umask():
    """The umask most systems have (022): left alone, SQLite and open() would make files 0644."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def writing(path):
    """A connection in the middle of a write, so the -wal and -shm files exist."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    return conn


def test_hailong_migrate_makes_the_instance_folder_0700_and_the_database_0600(tmp_path):
    instance = tmp_path / "instance"
    hailong("--instance", str(instance), "migrate")
    assert mode(instance) == 0o700
    assert mode(instance / "hailong.db") == 0o600
    db = storage.connect(instance / "hailong.db")
    try:
        db.execute("CREATE TABLE probe (x)")  # the connection now has its -wal and -shm
        assert mode(f"{instance}/hailong.db-wal") == mode(f"{instance}/hailong.db-shm") == 0o600
    finally:
        db.close()


def test_an_older_servers_readable_instance_and_database_are_fixed(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    path = instance / "hailong.db"
    older = writing(path)  # an older server, still running, made these with the umask's 0644
    try:
        for name in (path, f"{path}-wal", f"{path}-shm"):
            os.chmod(name, 0o644)
        hailong("--instance", str(instance), "migrate")
        assert mode(instance) == 0o700
        assert {mode(name) for name in (path, f"{path}-wal", f"{path}-shm")} == {0o600}
    finally:
        older.close()


def test_every_server_process_makes_a_database_it_opens_0600_and_leaves_its_folder_alone(tmp_path):
    folder = tmp_path / "shared"  # DATABASE outside the instance folder: the folder is the operator's
    folder.mkdir(mode=0o755)
    path = folder / "hailong.db"
    storage.connect(path).close()
    assert mode(path) == 0o600
    os.chmod(path, 0o644)
    storage.connect(path).close()
    assert (mode(path), mode(folder)) == (0o600, 0o755)


def test_the_tablets_folder_key_identity_and_outbox_are_its_own(tmp_path):
    data = tmp_path / "tablet"
    identity.create_key(str(data))
    identity.save_identity(str(data), {"server": "http://127.0.0.1:1", "device_id": "dev-x", "token": "t"})
    conn = store.open_store(str(data))
    try:
        conn.execute("BEGIN IMMEDIATE")
        store.set_meta(conn, "probe", 1)
        conn.execute("COMMIT")
        assert mode(data) == 0o700
        files = ["device.key", "identity.json", "outbox.db", "outbox.db-wal", "outbox.db-shm"]
        assert {name: mode(data / name) for name in files} == dict.fromkeys(files, 0o600)
    finally:
        conn.close()


def test_an_older_tablets_readable_folder_and_outbox_are_fixed(tmp_path):
    data = tmp_path / "tablet"
    store.open_store(str(data)).close()
    os.chmod(data, 0o755)
    os.chmod(data / "outbox.db", 0o644)
    store.open_store(str(data)).close()
    assert (mode(data), mode(data / "outbox.db")) == (0o700, 0o600)


def test_cached_staff_photos_are_the_tablets_own(kiosk_server, tmp_path):
    enroll_tablet(kiosk_server, tmp_path / "tablet").close()
    tablet = Tablet(str(tmp_path / "tablet"))
    try:
        tablet.refresh_config()
        staff.cache_photos(tablet)
        photos = tmp_path / "tablet" / "photos"
        cached = list(photos.iterdir())
        assert cached and mode(photos) == 0o700
        assert {mode(path) for path in cached} == {0o600}
        os.chmod(photos, 0o755)
        os.chmod(cached[0], 0o644)  # as an older tablet left them
        staff.cache_photos(tablet)
        assert (mode(photos), mode(cached[0])) == (0o700, 0o600)
    finally:
        tablet.close()


def test_opening_a_database_again_keeps_the_locks_of_the_connection_already_open(tmp_path):
    """Closing any descriptor of an SQLite file drops the process's POSIX locks on it. Had making the file
    private opened it, another process's last close would think no one else had the database open and
    delete the WAL under the connection that still uses it: its commits gone, then disk I/O errors."""
    path = tmp_path / "hailong.db"
    first = storage.connect(path)
    try:
        first.execute("CREATE TABLE t (x)")
        first.execute("INSERT INTO t VALUES (1)")
        storage.connect(path).close()  # another thread's connection coming and going
        reader = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT * FROM t'); c.close()"
        subprocess.run([sys.executable, "-c", reader, str(path)], check=True, timeout=60)
        assert os.path.exists(f"{path}-wal")
        first.execute("INSERT INTO t VALUES (2)")
        check = sqlite3.connect(path)
        assert check.execute("SELECT COUNT(*) FROM t").fetchone() == (2,)
        check.close()
    finally:
        first.close()
