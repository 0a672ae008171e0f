"""Real bundles for the verifier's tests: tablets sign votes and send them to a real server over HTTP,
the log is checkpointed, and the real export (``server/manage/exports.py``) writes the bundles.

One ``RealLog`` per test module: the server runs only while the votes are
sent, then every export and tampering works on the database file.
"""

import io
import random
import shutil
import sqlite3
import zipfile

from devtools.processes import Server
from device_client import sync
from migrations import migrations
from server import storage
from server.exports import bundle as bundles
from server.ledger import keys, log
from server.manage import exports
from server.manage.actor import cli_actor
from server.settings import DEFAULTS
from tests.live import enroll_tablet, seed_org

# Texts a spreadsheet would run, an apostrophe already there, Vietnamese, a comma and quotes.
TICKETS = [None, None, "A017", "=1+1", "+84 912", "-5", "@SUM(A1)", "'quoted", "Số 5, \"quầy\" hai"]
SEATS = {"DN-TT-Q1": ["NV001", "NV003"], "DN-TT-Q2": ["NV002"], "DN-BH-Q1": ["NV004"]}


class RealLog:
    """A database of real signed votes from three tablets (one with a gap), with several checkpoints."""

    def __init__(self, folder, votes=60, seed=1):
        self.folder = folder
        self.path = folder / "hailong.db"
        db = storage.connect(self.path)
        migrations.apply(db)
        db.close()
        seed_org(self.path, folder)
        keys.ensure_key(str(folder))
        self.settings = {**DEFAULTS, "INSTANCE": str(folder), "DATABASE": str(self.path)}
        self.verifier_key = keys.verifier_key(self.settings["LOG_NAME"], keys.load_key(str(folder)))
        self.kept = []
        rng = random.Random(seed)
        server = Server(self.path, log_path=folder / "serve.log").start()
        try:
            tablets = {counter: enroll_tablet(server, folder / counter, counter) for counter in SEATS}
            self.devices = {counter: tablet.device_id for counter, tablet in tablets.items()}
            # A fourth tablet with one vote: a device filter gives a bundle of exactly one row.
            solo = enroll_tablet(server, folder / "solo", "DN-BH-Q1")
            self._vote(solo, rng, "DN-BH-Q1")
            sync.sync_once(solo)
            self.devices["solo"] = solo.device_id
            solo.close()
            rounds = (votes // 3, votes - votes // 3)
            for number, count in enumerate(rounds):
                for _ in range(count):
                    counter = rng.choice(sorted(SEATS))
                    self._vote(tablets[counter], rng, counter)
                if number == 0:
                    # The second tablet loses its latest vote before sending: a gap the server records.
                    lost = tablets["DN-TT-Q2"]
                    self._vote(lost, rng, "DN-TT-Q2")
                    lost.conn.execute("DELETE FROM outbox WHERE stream = 'votes' AND seq = (SELECT MAX(seq) FROM"
                                      " outbox WHERE stream = 'votes')")
                    lost.conn.commit()
                    self._vote(lost, rng, "DN-TT-Q2")
                for tablet in tablets.values():
                    sync.sync_once(tablet)
                self.kept.append(self.checkpoint())
            for tablet in tablets.values():
                tablet.close()
        finally:
            server.stop()

    @staticmethod
    def _vote(tablet, rng, counter):
        scale = tablet.config["scale"]
        reasons = [reason["code"] for reason in scale["reasons"]]
        tablet.record_vote(rng.choice(SEATS[counter]), rng.choice([level["value"] for level in scale["levels"]]),
                           rng.sample(reasons, rng.randint(0, min(2, len(reasons)))), rng.choice(TICKETS),
                           min_interval=0.05 if rng.random() < 0.3 else 0.0)

    def copy(self, folder):
        """This database and key in ``folder``, to rewrite history in without touching the module's."""
        clone = object.__new__(RealLog)
        clone.__dict__.update(self.__dict__, folder=folder, path=folder / "hailong.db")
        clone.settings = {**self.settings, "INSTANCE": str(folder), "DATABASE": str(clone.path)}
        source, copy = sqlite3.connect(self.path), sqlite3.connect(clone.path)
        with copy:
            source.backup(copy)  # the WAL's pages too, which a file copy would miss
        source.close()
        copy.close()
        shutil.copy(keys.key_path(str(self.folder)), keys.key_path(str(folder)))
        return clone

    def checkpoint(self):
        """Publish a checkpoint now; returns its note (what an auditor keeps)."""
        db = storage.connect(self.path)
        try:
            return log.publish(db, self.settings, "votes", "manual")["note"]
        finally:
            db.close()

    def export(self, **filters):
        """A bundle of the votes (``filters`` as the page takes them) as ``{file name: bytes}``."""
        db = storage.connect(self.path)
        try:
            out = io.BytesIO()
            exports.export_votes(db, cli_actor(), self.settings, filters, out)
        finally:
            db.close()
        with zipfile.ZipFile(io.BytesIO(out.getvalue())) as bundle:
            return {name: bundle.read(name) for name in bundle.namelist()}

    def export_to(self, target, **filters):
        """Write a bundle to ``target``: a path ending in .zip, or a folder."""
        db = storage.connect(self.path)
        try:
            if str(target).endswith(".zip"):
                with open(target, "wb") as out:
                    exports.export_votes(db, cli_actor(), self.settings, filters, out)
            else:
                exports.export_votes(db, cli_actor(), self.settings, filters, bundles.FolderTarget(str(target)))
        finally:
            db.close()
        return target


def write(folder, files):
    """A bundle's files into a new folder."""
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder
