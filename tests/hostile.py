"""A world to throw bad input at: the people database, a really enrolled tablet, and the whole database as data.

``world(people_template, folder)`` copies the people template (tests/people.py: an org, one
user per role with API tokens) and enrolls a tablet at DN-TT-Q1 through the
device API with a real Ed25519 key, so batches reach signature checks.
``database(path)`` is every row of every table, minus per-request
bookkeeping, to compare before and after a refused request.
"""

import dataclasses
import json
import pathlib
import shutil
import sqlite3

from device_client import protocol
from server import storage
from server.manage import devices as device_actions
from server.manage.actor import cli_actor
from server.settings import DEFAULTS
from tests.people import app_for

# Written by a request that is refused too, on purpose: when a token was last
# (or, a device's, first) used, who signed in from where, failed sign-ins, and
# the audit entries of refusals auditors must see (a permission denied, a
# wrong password, throttled sign-ins, counted per hour in audit_counts), and
# so the AUTOINCREMENT counters (any other row the tables themselves show).
SKIPPED_TABLES = {"user_sessions", "login_failures", "audit_counts", "sqlite_sequence"}
SKIPPED_COLUMNS = {"api_tokens": {"last_used_at"}, "devices": {"token_used_at"}}
SKIPPED_ROWS = {"audit_log": "action NOT IN ('denied', 'login_throttled') AND action NOT LIKE '%\\_failed' ESCAPE '\\'"}


@dataclasses.dataclass
class World:
    path: pathlib.Path
    app: object
    client: object
    facts: dict
    key: object  # the tablet's signing key
    device_id: str
    device_token: str

    def admin(self):
        return {"Authorization": f"Bearer {self.facts['tokens']['admin']}"}

    def device(self):
        return {"Authorization": f"Bearer {self.device_token}"}

    def snapshot(self):
        return database(self.path)


def world(people_template, folder, **settings):
    """A fresh copy of the people database in ``folder`` with a tablet enrolled through the API."""
    template, facts = people_template
    path = pathlib.Path(folder) / "hailong.db"
    shutil.copy(template, path)
    db = storage.connect(path)
    code = device_actions.issue_code(db, cli_actor(), {"counter": "DN-TT-Q1"}, DEFAULTS)["code"]
    db.close()
    app = app_for(path, **settings)
    client = app.test_client()
    key = protocol.new_signing_key()
    public = protocol.public_key_b64(key)
    answer = client.post("/api/v1/enroll", json={
        "code": code, "public_key": public, "app_version": "test",
        "proof": protocol.sign(key, protocol.enroll_proof_bytes(code, public)),
    })
    assert answer.status_code == 201, answer.json
    return World(path, app, client, facts, key, answer.json["device_id"], answer.json["token"])


def database(path):
    """Every table's rows as JSON text, bookkeeping columns left out."""
    conn = sqlite3.connect(path)
    try:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out = {}
        for table in tables:
            if table in SKIPPED_TABLES:
                continue
            skip = SKIPPED_COLUMNS.get(table, set())
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})") if row[1] not in skip]
            where = f" WHERE {SKIPPED_ROWS[table]}" if table in SKIPPED_ROWS else ""
            # Every column, not rowid: the evaluation tables are WITHOUT ROWID.
            order = ", ".join(str(i + 1) for i in range(len(columns)))
            out[table] = conn.execute(f"SELECT {', '.join(columns)} FROM {table}{where} ORDER BY {order}").fetchall()
        return json.dumps(out, default=repr)
    finally:
        conn.close()


def signed_vote(world, seq=1, **changes):
    """A vote the server accepts, from the world's tablet, with ``changes`` applied and signed."""
    vote = {"id": protocol.uuid7(), "device": world.device_id, "seq": seq, "counter": "DN-TT-Q1",
            "staff": "NV001", "rating": 4, "reasons": [], "ticket": None,
            "local_time": protocol.format_local_time(), "scale_version": 1, **changes}
    vote["signature"] = protocol.sign(world.key, protocol.canonical_vote_bytes(vote))
    return vote
