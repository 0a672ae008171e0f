"""The audit log: who changed what, when, from where, before and after.

``record`` is called inside the write transaction of the change it
describes, so a change and its entry commit (or roll back) together. The
table refuses UPDATE and DELETE (triggers in migrations/accounts.py).
"""

from server.storage import audit as audit_storage
from server.storage import timestamp


def record(db, actor, action, object_type, object_id=None, unit_id=None, before=None, after=None):
    audit_storage.append(
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
