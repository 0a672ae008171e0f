"""Counter rosters: who may serve at a counter besides its unit's staff, and on which days.

A counter's unit's staff may serve there any day. Staff seconded from other
units (the usual case at a provincial service centre, whose counters are
staffed by officials of many departments) are assigned for a span of local
dates. Assigning someone takes both sides: ``counters.write`` reaching the
counter's unit and ``staff.write`` reaching the person's unit (an admin, or
a manager whose subtree holds both). So a manager cannot put another
department's staff on their own counter's roster – and votes for someone not
on the roster at the time are refused (server/sync/pipeline.py).
"""

from server import audit
from server.errors import N_, Conflict, invalid
from server.manage import not_found, require
from server.manage.org import visible_counter
from server.storage import org, rosters, timestamp, write_transaction
from server.storage import staff as staff_storage

FIELDS = ("id", "counter", "staff", "full_name", "unit", "valid_from", "valid_to", "created_at", "updated_at")


def _public(row):
    return {name: row[name] for name in FIELDS}


def roster(db, actor, counter_code):
    """The counter's roster: its unit's active staff (any day) and its assignments, past ones included."""
    require(actor, "counters.read")
    counter = visible_counter(db, actor, "counters.read", counter_code)
    unit_staff = [{"staff": row["code"], "full_name": row["full_name"], "unit": row["unit"]}
                  for row in staff_storage.list_staff(db, {counter["unit_id"]}) if row["active"]]
    return {"counter": counter["code"], "unit": counter["unit"], "unit_staff": unit_staff,
            "assignments": [_public(row) for row in rosters.assignments(db, counter["id"])]}


def _may_assign(db, actor, counter_code, staff_code):
    """The counter and the person, if the actor reaches both sides; field errors otherwise."""
    require(actor, "counters.write")
    require(actor, "staff.write")
    counter = visible_counter(db, actor, "counters.write", counter_code)
    person = staff_storage.detail(db, staff_code or "")
    if person is None or not actor.reaches(db, "staff.write", person["unit_id"]):
        raise invalid("staff", N_("No staff member with this code in your units."))
    return counter, person


def _check_days(valid_from, valid_to):
    if valid_to is not None and valid_to < valid_from:
        raise invalid("valid_to", N_("The last day comes before the first."))


def assign(db, actor, counter_code, data):
    """Second a person to the counter from ``valid_from`` to ``valid_to`` (None: until further notice)."""
    counter, person = _may_assign(db, actor, counter_code, data.get("staff"))
    valid_from, valid_to = data["valid_from"], data.get("valid_to")
    _check_days(valid_from, valid_to)
    if person["unit_id"] == counter["unit_id"]:
        raise invalid("staff", N_("This person is staff of the counter's unit and may serve there any day."))
    with write_transaction(db):
        rosters.lock_counter(db, counter["id"])  # PostgreSQL: one roster change per counter at a time
        if rosters.overlapping(db, counter["id"], person["id"], valid_from, valid_to):
            raise Conflict(N_("This person is already assigned to this counter on some of these days."),
                           {"valid_from": [N_("Overlaps another assignment.")]})
        assignment_id = rosters.insert_assignment(db, counter["id"], person["id"], valid_from, valid_to, timestamp())
        after = _public(rosters.assignment(db, assignment_id))
        audit.record(db, actor, "assign", "counter", counter["code"], counter["unit_id"], after=after)
    return after


def _visible_assignment(db, actor, counter_code, assignment_id):
    row = rosters.assignment(db, assignment_id)
    if row is None or row["counter"] != counter_code:
        raise not_found(N_("No such assignment at this counter."))
    _may_assign(db, actor, counter_code, row["staff"])
    return row


def end(db, actor, counter_code, assignment_id, valid_to):
    """Change the last day of an assignment (end it, or extend it)."""
    row = _visible_assignment(db, actor, counter_code, assignment_id)
    _check_days(row["valid_from"], valid_to)
    with write_transaction(db):
        rosters.lock_counter(db, row["counter_id"])
        if rosters.overlapping(db, row["counter_id"], row["staff_id"], row["valid_from"], valid_to, row["id"]):
            raise Conflict(N_("This person is already assigned to this counter on some of these days."),
                           {"valid_to": [N_("Overlaps another assignment.")]})
        rosters.set_valid_to(db, row["id"], valid_to, timestamp())
        after = _public(rosters.assignment(db, row["id"]))
        audit.record(db, actor, "update_assignment", "counter", counter_code,
                     org.counter_detail(db, counter_code)["unit_id"], before=_public(row), after=after)
    return after


def delete(db, actor, counter_code, assignment_id):
    """Remove an assignment entered by mistake; one that votes were cast under can only be ended."""
    row = _visible_assignment(db, actor, counter_code, assignment_id)
    with write_transaction(db):
        if rosters.votes_under(db, row):
            raise Conflict(N_("Votes were cast under this assignment; end it instead of deleting it."),
                           code="has_votes")
        rosters.delete_assignment(db, row["id"])
        audit.record(db, actor, "unassign", "counter", counter_code,
                     org.counter_detail(db, counter_code)["unit_id"], before=_public(row))
