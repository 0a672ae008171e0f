"""Units (a tree) and counters."""

from server import audit
from server.errors import N_
from server.manage import conflict, not_found, require, unknown_field
from server.storage import accounts, history, org, timestamp, write_transaction

UNIT_FIELDS = ("id", "code", "name", "parent", "active", "created_at", "updated_at")
COUNTER_FIELDS = ("id", "code", "name", "unit", "active", "created_at", "updated_at")


def _pick(row, names):
    return {name: (bool(row[name]) if name == "active" else row[name]) for name in names}


def list_units(db, actor):
    """Units in scope, in tree order, each with its ``depth`` below the nearest visible root."""
    require(actor, "units.read")
    rows = org.list_units(db, actor.scope(db, "units.read"))
    by_parent, ids = {}, {row["id"] for row in rows}
    for row in rows:
        parent = row["parent_id"] if row["parent_id"] in ids else None
        by_parent.setdefault(parent, []).append(row)
    ordered = []

    def walk(parent, depth):
        for row in by_parent.get(parent, []):
            ordered.append({**_pick(row, UNIT_FIELDS), "depth": depth})
            walk(row["id"], depth + 1)

    walk(None, 0)
    return ordered


def visible_unit(db, actor, permission, code, field=None):
    """The unit ``code`` if the actor reaches it with ``permission``.

    Otherwise 404 (or a 400 on ``field`` when it names a unit in a body):
    a unit outside the scope looks exactly like one that does not exist.
    """
    unit = org.unit_by_code(db, code) if code else None
    if unit is None or not actor.reaches(db, permission, unit["id"]):
        if field:
            raise unknown_field(field, N_("No unit with this code."))
        raise not_found(N_("No unit with this code."))
    return unit


def get_unit(db, actor, code):
    require(actor, "units.read")
    return _pick(visible_unit(db, actor, "units.read", code), UNIT_FIELDS)


def create_unit(db, actor, data):
    require(actor, "units.write")
    parent = visible_unit(db, actor, "units.write", data["parent"], "parent") if data.get("parent") else None
    if org.unit_by_code(db, data["code"]):
        raise conflict("code", N_("A unit with this code exists."))
    with write_transaction(db):
        unit_id = org.save_unit(db, None, data["code"], data["name"], parent and parent["id"],
                                int(data.get("active", True)), timestamp())
        after = _pick(org.unit_by_code(db, data["code"]), UNIT_FIELDS)
        audit.record(db, actor, "create", "unit", data["code"], unit_id, after=after)
    return after


def update_unit(db, actor, code, data):
    require(actor, "units.write")
    unit = visible_unit(db, actor, "units.write", code)
    before = _pick(unit, UNIT_FIELDS)
    parent_id = unit["parent_id"]
    if "parent" in data:
        parent_id = None
        if data["parent"]:
            parent = visible_unit(db, actor, "units.write", data["parent"], "parent")
            if parent["id"] in accounts.subtree_ids(db, [unit["id"]]):
                raise unknown_field("parent", N_("A unit cannot move under itself."))
            parent_id = parent["id"]
    with write_transaction(db):
        org.save_unit(db, unit["id"], code, data.get("name", unit["name"]), parent_id,
                      int(data.get("active", bool(unit["active"]))), timestamp())
        after = _pick(org.unit_by_code(db, code), UNIT_FIELDS)
        audit.record(db, actor, "update", "unit", code, unit["id"], before=before, after=after)
    return after


def list_counters(db, actor, unit_ids=None):
    """Counters in the actor's scope (and in ``unit_ids``, when given)."""
    require(actor, "counters.read")
    scope = actor.scope(db, "counters.read")
    if unit_ids is not None:
        scope = set(unit_ids) if scope is None else scope & set(unit_ids)
    return [_pick(r, COUNTER_FIELDS) for r in org.list_counters(db, scope)]


def visible_counter(db, actor, permission, code):
    row = org.counter_detail(db, code)
    if row is None or not actor.reaches(db, permission, row["unit_id"]):
        raise not_found(N_("No counter with this code."))
    return row


def get_counter(db, actor, code):
    require(actor, "counters.read")
    return _pick(visible_counter(db, actor, "counters.read", code), COUNTER_FIELDS)


def counter_unit_history(db, actor, code):
    """The units a counter belonged to and when (oldest first; ``valid_from`` None: since the record began,
    ``valid_to`` None: still): votes cast at it count for the unit of their time."""
    require(actor, "counters.read")
    row = visible_counter(db, actor, "counters.read", code)
    return [{k: r[k] for k in ("unit", "valid_from", "valid_to")} for r in history.history(db, "counter", row["id"])]


def create_counter(db, actor, data):
    require(actor, "counters.write")
    unit = visible_unit(db, actor, "counters.write", data["unit"], "unit")
    if org.counter_by_code(db, data["code"]):
        raise conflict("code", N_("A counter with this code exists."))
    with write_transaction(db):
        org.save_counter(db, None, data["code"], data["name"], unit["id"],
                         int(data.get("active", True)), timestamp())
        after = _pick(org.counter_detail(db, data["code"]), COUNTER_FIELDS)
        audit.record(db, actor, "create", "counter", data["code"], unit["id"], after=after)
    return after


def update_counter(db, actor, code, data):
    require(actor, "counters.write")
    row = visible_counter(db, actor, "counters.write", code)
    before = _pick(row, COUNTER_FIELDS)
    unit_id = row["unit_id"]
    if "unit" in data:
        unit_id = visible_unit(db, actor, "counters.write", data["unit"], "unit")["id"]
    with write_transaction(db):
        org.save_counter(db, row["id"], code, data.get("name", row["name"]), unit_id,
                         int(data.get("active", bool(row["active"]))), timestamp())
        after = _pick(org.counter_detail(db, code), COUNTER_FIELDS)
        audit.record(db, actor, "update", "counter", code, unit_id, before=before, after=after)
    return after
