"""The audit log: who changed what, when, from where, before and after.

``record`` is called inside the write transaction of the change it
describes, so a change and its entry commit (or roll back) together. The
table refuses UPDATE and DELETE (triggers in migrations/accounts.py).
"""

import datetime as dt

from server.storage import audit as audit_storage
from server.storage import now_utc, timestamp, write_transaction

# A request refused for lack of a permission (403) is audited once per actor
# and permission per hour: the first makes an entry, the rest of the hour
# only count on it (audit_denials), so a script probing every endpoint
# thousands of times leaves one line per permission an hour, with its count.
DENIAL_WINDOW = dt.timedelta(hours=1)
# Long enough for any page or API address; a crafted one is cut, not stored whole.
DENIAL_PATH_CHARS = 200


def record(db, actor, action, object_type, object_id=None, unit_id=None, before=None, after=None):
    return audit_storage.append(
        db,
        {
            "at": timestamp(),
            "actor_kind": actor.kind,
            "actor": actor.name,
            "address": actor.address,
            "action": action,
            "object_type": object_type,
            "object_id": None if object_id is None else str(object_id),
            "unit_id": unit_id,
            "before": before,
            "after": after,
        },
    )


def record_denial(db, actor, permission, method, path, now=None):
    """Audit that ``actor`` was refused ``permission`` (``method`` ``path``), aggregated per hour.

    The entry's unit is the one unit the actor holds roles on, if there is
    exactly one, so that unit's auditors see it; otherwise only admins do.
    Returns the id of the entry the denial was counted on.
    """
    now = now or now_utc()
    at = timestamp(now)
    with write_transaction(db):
        open_id = audit_storage.open_denial(db, actor.kind, actor.name, permission, timestamp(now - DENIAL_WINDOW))
        if open_id:
            audit_storage.count_denial(db, open_id, at)
            return open_id
        units = {role["unit_id"] for role in actor.roles if role.get("unit_id") is not None}
        entry_id = audit_storage.append(db, {
            "at": at, "actor_kind": actor.kind, "actor": actor.name, "address": actor.address,
            "action": "denied", "object_type": "permission", "object_id": permission,
            "unit_id": units.pop() if len(units) == 1 else None,
            "before": None, "after": {"method": method, "path": path[:DENIAL_PATH_CHARS]},
        })
        audit_storage.start_denials(db, entry_id, actor.kind, actor.name, permission, at)
        return entry_id


def entries_for(db, actor, filters):
    """Entries the actor may read: everything for admins, their units' entries for auditors."""
    return audit_storage.entries(
        db,
        unit_ids=actor.scope(db, "audit.read"),
        actor=filters.get("actor"),
        action=filters.get("action"),
        object_type=filters.get("object_type"),
        before_id=filters.get("before_id"),
        limit=filters.get("limit", 100),
    )
