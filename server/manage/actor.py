"""Who is asking (``Actor``), what each role may do, and where (unit subtrees)."""

import dataclasses
import getpass
import socket

from server.storage import accounts

ROLES = ("admin", "manager", "hr", "auditor", "staff")

# Which roles grant each permission. A permission reaches the subtrees of the
# units where the user holds a granting role; admin reaches everything.
PERMISSIONS = {
    "units.read": {"admin", "manager", "hr", "auditor"},
    "units.write": {"admin"},
    "counters.read": {"admin", "manager", "auditor"},
    "counters.write": {"admin", "manager"},
    "staff.read": {"admin", "manager", "hr", "auditor"},
    "staff.write": {"admin", "manager", "hr"},
    "staff.import": {"admin"},
    "devices.read": {"admin", "manager", "auditor"},
    "devices.write": {"admin", "manager"},
    "users.read": {"admin"},
    "users.write": {"admin"},
    "votes.read": {"admin", "auditor"},
    "incidents.read": {"admin", "auditor"},
    "audit.read": {"admin", "auditor"},
    # Evaluation (issue 9). HR and managers read scores of their subtree,
    # auditors read only; HR reviews flags, closes periods, answers
    # objections. The ``staff`` role is held without a unit and reaches only
    # the staff member linked to the account (``Actor.staff_id``): their own
    # scores, flags and objections.
    "scores.read": {"admin", "manager", "hr", "auditor"},
    "flags.read": {"admin", "manager", "hr", "auditor"},
    "flags.review": {"admin", "hr"},
    "periods.close": {"admin", "hr"},
    "objections.read": {"admin", "manager", "hr", "auditor"},
    "objections.answer": {"admin", "hr"},
    "alerts.read": {"admin", "manager", "hr"},
    "alerts.write": {"admin", "manager", "hr"},
    "calendar.write": {"admin"},
    "scales.write": {"admin"},
    "self.read": {"staff"},
    "objections.write": {"staff"},
    # The tamper-evident log and exports (issue 10). Auditors read checkpoints
    # and proofs, ask for a checkpoint now, and export raw votes and the audit
    # log of their subtree as verifiable bundles.
    "log.read": {"admin", "auditor"},
    "log.checkpoint": {"admin", "auditor"},
    "votes.export": {"admin", "auditor"},
    "audit.export": {"admin", "auditor"},
}


@dataclasses.dataclass
class Actor:
    """A signed-in person (``kind`` "user"), their API token ("token"), or the CLI ("cli")."""

    kind: str
    name: str
    address: str | None = None
    user_id: int | None = None
    roles: list = dataclasses.field(default_factory=list)
    session_id: int | None = None
    token_id: int | None = None
    staff_id: int | None = None  # the staff record a ``staff``-role account is linked to
    _scopes: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def is_admin(self):
        return self.kind == "cli" or any(r["role"] == "admin" for r in self.roles)

    def can(self, permission):
        if self.kind == "cli":
            return True
        granting = PERMISSIONS[permission]
        return any(r["role"] in granting for r in self.roles)

    def scope(self, db, permission):
        """Unit ids this actor may act on with ``permission``: None means all, a set otherwise."""
        if permission not in self._scopes:
            granting = PERMISSIONS[permission]
            held = [r for r in self.roles if r["role"] in granting]
            if self.kind == "cli" or any(r["role"] == "admin" for r in held):
                self._scopes[permission] = None
            else:
                self._scopes[permission] = accounts.subtree_ids(db, {r["unit_id"] for r in held})
        return self._scopes[permission]

    def reaches(self, db, permission, unit_id):
        scope = self.scope(db, permission)
        return scope is None or unit_id in scope


def cli_actor():
    """The ``hailong`` CLI: every permission, recorded as ``cli`` from this OS user and host."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "?"
    return Actor(kind="cli", name="cli", address=f"{who}@{socket.gethostname()}")
