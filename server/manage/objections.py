"""A civil servant's objection to one of their flags or to a closed period's grade, and HR's answer.

Only the person themselves files one (the ``staff`` role, ``objections.write``:
their own flags, a closed period covering their unit), with a text; one open
objection per flag or period. HR answers (``objections.answer`` on the
flag's unit, or the person's): upheld or rejected, with a text, once. Both
are audited. Upholding an objection to a flag changes nothing by itself: the
flag is reviewed (dismissed) as any other, with its own reason, so the
scores change in one place only.
"""

from server import audit
from server.errors import N_, Conflict, Forbidden, NotFound, invalid
from server.manage import forbid, require
from server.scoring.periods import covering, parse_period
from server.storage import accounts, timestamp, write_transaction
from server.storage import flags as storage
from server.storage import staff as staff_storage

DECISIONS = ("upheld", "rejected")
TEXT_MAX = 4000


def _text(value, field):
    value = (value or "").strip()
    if not value:
        raise invalid(field, N_("Write the text: it stays in the audit log."))
    if len(value) > TEXT_MAX:
        raise invalid(field, N_("At most 4000 characters."))
    return value


def _reach(db, actor):
    units = actor.scope(db, "objections.read") if actor.can("objections.read") else set()
    own = actor.staff_id if actor.can("objections.write") or actor.can("self.read") else None
    if units == set() and own is None:
        raise forbid("objections.read")
    return units, own


def _may_read(db, actor, row):
    units, own = _reach(db, actor)
    return units is None or row["unit_id"] in units or (own is not None and row["staff_id"] == own)


def _public(row):
    return {**row, "flag": row["flag_id"]}


def list_objections(db, actor, filters):
    """Objections the actor may read, newest first; ``filters``: status (open|upheld|rejected), staff (a code),
    before_id, limit."""
    units, own = _reach(db, actor)
    status = filters.get("status")
    if status and status not in ("open", *DECISIONS):
        raise invalid("status", N_("One of open, upheld, rejected."))
    staff_id = None
    if filters.get("staff"):
        found = staff_storage.by_codes(db, [filters["staff"]]).get(filters["staff"])
        if found is None:
            return []
        staff_id = found["id"]
    rows = storage.list_objections(db, units, own, status, staff_id, filters.get("before_id"),
                                   filters.get("limit", 100))
    return [_public(row) for row in rows]


def get_objection(db, actor, objection_id):
    row = storage.objection_by_id(db, objection_id)
    if row is None or not _may_read(db, actor, row):
        raise NotFound(N_("No such objection."))
    return _public(row)


def file_objection(db, actor, data):
    """The signed-in civil servant objects to one of their flags (``data["flag"]``, an id) or to the grade of
    a closed period (``data["period"]``, ``2026-10``), with ``data["text"]``.

    Raises ``Forbidden`` (not a civil servant's own account), ``NotFound``
    (no such flag of theirs), ``Invalid`` (neither or both targets, no text,
    a period not closed for their unit), ``Conflict`` (an open objection to
    the same thing). Returns the objection.
    """
    require(actor, "objections.write")
    if actor.staff_id is None or actor.user_id is None:
        error = Forbidden(N_("Only a civil servant's own account files an objection."))
        error.permission = "objections.write"
        raise error
    text = _text(data.get("text"), "text")
    if bool(data.get("flag")) == bool(data.get("period")):
        raise invalid("flag", N_("Object to one flag or to one closed period's grade."))
    flag_id = period_id = None
    if data.get("flag"):
        flag = storage.flag_by_id(db, data["flag"])
        if flag is None or flag["staff_id"] != actor.staff_id:
            raise NotFound(N_("No such flag."))
        flag_id, unit_id = flag["id"], flag["unit_id"]
    else:
        period = parse_period(data["period"])
        person = accounts.linked_staff(db, actor.staff_id)
        closed = covering(db, period, person["unit_id"])
        if closed is None:
            raise invalid("period", N_("Only the grade of a closed period can be objected to."))
        period_id, unit_id = closed["id"], person["unit_id"]
    with write_transaction(db):
        # Checked inside the transaction, one filing at a time (a double submit files once).
        storage.lock_objections(db)
        if storage.open_objection_on(db, actor.staff_id, flag_id, period_id):
            raise Conflict(N_("You already have an open objection to this."),
                           {"text": [N_("You already have an open objection to this.")]})
        objection_id = storage.insert_objection(db, actor.staff_id, flag_id, period_id, text, timestamp(),
                                                actor.user_id)
        row = _public(storage.objection_by_id(db, objection_id))
        audit.record(db, actor, "create", "objection", objection_id, unit_id,
                     after={"staff": row["staff"], "flag": flag_id, "period": row["period"], "text": text})
    return row


def answer_objection(db, actor, objection_id, decision, answer):
    """HR's answer to an open objection: ``decision`` upheld or rejected, with a text; audited.

    Raises ``NotFound`` (no such objection in reach), ``Forbidden``,
    ``Invalid``, ``Conflict`` (already answered).
    """
    require(actor, "objections.answer")
    row = storage.objection_by_id(db, objection_id)
    if row is None or not actor.reaches(db, "objections.answer", row["unit_id"]):
        if row is not None and _may_read(db, actor, row):
            raise forbid("objections.answer")
        raise NotFound(N_("No such objection."))
    user = accounts.user_by_id(db, actor.user_id) if actor.user_id is not None else None
    if user is not None and user["staff_id"] == row["staff_id"]:
        error = Forbidden(N_("Nobody answers their own objection."))
        error.permission = "objections.answer"
        raise error
    if decision not in DECISIONS:
        raise invalid("decision", N_("Either upheld or rejected."))
    answer = _text(answer, "answer")
    if row["status"] != "open":
        raise Conflict(N_("This objection has been answered."), {"decision": [N_("This objection has been answered.")]})
    with write_transaction(db):
        if not storage.set_answer(db, objection_id, decision, answer, timestamp(), actor.name):
            raise Conflict(N_("This objection has been answered."))
        after = _public(storage.objection_by_id(db, objection_id))
        audit.record(db, actor, "answer", "objection", objection_id, row["unit_id"],
                     before={"status": row["status"]}, after={"status": decision, "answer": answer,
                                                               "staff": row["staff"]})
    return after
