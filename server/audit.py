"""The audit log: who changed what, when, from where, before and after.

``record`` is called inside the write transaction of the change it
describes, so a change and its entry commit (or roll back) together. The
table refuses UPDATE and DELETE (triggers in migrations/accounts.py).
"""

import datetime as dt

from server.storage import audit as audit_storage
from server.storage import now_utc, timestamp, write_transaction

# A request refused for lack of a permission (403) is audited once per actor
# and permission per hour (record_repeated), so a script probing every
# endpoint thousands of times leaves one line per permission an hour, with its count.
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


def record_repeated(db, actor, action, object_type, object_id, key, window, unit_id=None, after=None, now=None):
    """Audit something that may repeat without end (a refusal, a throttled sign-in) without flooding the log.

    The first occurrence of ``key`` in ``window`` is an entry, written at
    once; the ones after it only count on that entry (``audit_counts``; the
    log itself is append-only), and readers see ``times`` and ``last_at`` in
    its ``after``. Returns the id of the entry it was counted on.
    """
    now = now or now_utc()
    at = timestamp(now)
    with write_transaction(db):
        audit_storage.lock_count(db, key)  # PostgreSQL: one writer per key, as BEGIN IMMEDIATE makes it on SQLite
        open_id = audit_storage.open_count(db, key, timestamp(now - window))
        if open_id:
            audit_storage.add_count(db, open_id, at)
            return open_id
        entry_id = audit_storage.append(db, {
            "at": at, "actor_kind": actor.kind, "actor": actor.name, "address": actor.address,
            "action": action, "object_type": object_type, "object_id": object_id, "unit_id": unit_id,
            "before": None, "after": after,
        })
        audit_storage.start_count(db, entry_id, key, at)
        return entry_id


def record_denial(db, actor, permission, method, path, now=None):
    """Audit that ``actor`` was refused ``permission`` (``method`` ``path``), counted per hour.

    The entry's unit is the one unit the actor holds roles on, if there is
    exactly one, so that unit's auditors see it; otherwise only admins do.
    """
    units = {role["unit_id"] for role in actor.roles if role.get("unit_id") is not None}
    return record_repeated(db, actor, "denied", "permission", permission,
                           f"denied|{actor.kind}|{actor.name}|{permission}", DENIAL_WINDOW,
                           unit_id=units.pop() if len(units) == 1 else None,
                           after={"method": method, "path": path[:DENIAL_PATH_CHARS]}, now=now)


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
