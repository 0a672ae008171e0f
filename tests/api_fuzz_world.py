"""The world tests/test_api_fuzz.py fuzzes: a real server over the people database, and its callers.

The people database (tests/people.py) has one user per role with a personal
API token, three units, counters, staff with photos, devices, votes, flags,
objections, alerts and checkpoints, so generated requests reach the code
behind a real object and not only the 404 of an unknown one. A real tablet
is enrolled for the device API.

Fuzzing writes as it goes: it can revoke the tokens it calls with, take a
user's role or deactivate them, revoke the tablet. ``repair()`` puts the
callers back after every successful write, so each role is still the role
it says for the rest of the run (the objects it made or changed stay, as
they would in production).
"""

from server import storage
from server.manage import account, users
from server.manage.actor import cli_actor
from server.storage import accounts
from server.storage import staff as staff_storage
from tests.people import CONFIG, PEOPLE, STAFF_LINKS, token_for

ROLES = ("admin", "manager", "hr", "auditor", "staff")


class Callers:
    """Each role's bearer token, made again when fuzzing ended it."""

    def __init__(self, database, tokens):
        self.database = str(database)
        self.tokens = dict(tokens)

    def headers(self, role):
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def repair(self):
        """Every role's user active, holding its role, with a live token; returns the roles repaired."""
        db = storage.connect(self.database)
        try:
            return [role for role in self.tokens if self._repair(db, role)]
        finally:
            db.close()

    def _repair(self, db, username):
        if username not in PEOPLE:
            return False  # the tablet: nothing the fuzzer sends revokes it (see test_api_fuzz.py)
        role, unit = PEOPLE[username]
        user = accounts.user_by_username(db, username)
        repaired = False
        if not user["active"]:
            users.update_user(db, cli_actor(), username, {"active": True}, CONFIG)
            repaired = True
        if STAFF_LINKS.get(username) and user["staff_id"] != staff_id(db, STAFF_LINKS[username]):
            users.update_user(db, cli_actor(), username, {"staff": STAFF_LINKS[username]}, CONFIG)
            repaired = True
        held = accounts.roles_of(db, user["id"])
        for extra in [r for r in held if (r["role"], r["unit_code"]) != (role, unit)]:
            users.remove_role(db, cli_actor(), username, extra["id"])
            repaired = True
        if role and not any((r["role"], r["unit_code"]) == (role, unit) for r in held):
            users.add_role(db, cli_actor(), username, {"role": role, "unit": unit})
            repaired = True
        if repaired or account.actor_for_token(db, self.tokens[username], "127.0.0.1") is None:
            self.tokens[username] = token_for(db, username)
            repaired = True
        return repaired


def staff_id(db, code):
    return staff_storage.by_codes(db, [code])[code]["id"]


def enroll_tablet(url, database, counter="DN-TT-Q1"):
    """A tablet enrolled at ``counter`` through the device API with a real Ed25519 key; its token."""
    import requests

    from device_client import protocol
    from server.manage import devices as device_actions
    from server.settings import DEFAULTS

    db = storage.connect(database)
    try:
        code = device_actions.issue_code(db, cli_actor(), {"counter": counter}, DEFAULTS)["code"]
    finally:
        db.close()
    key = protocol.new_signing_key()
    public = protocol.public_key_b64(key)
    answer = requests.post(url + "/api/v1/enroll", timeout=30, json={
        "code": code, "public_key": public, "app_version": "fuzz",
        "proof": protocol.sign(key, protocol.enroll_proof_bytes(code, public)),
    })
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]
