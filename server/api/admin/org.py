"""Units and counters."""

from flask import Blueprint

from server.api.admin import body, db, doc, dump
from server.api.admin.schemas import (
    AssignmentEndSchema,
    AssignmentSchema,
    CounterSchema,
    CounterUpdateSchema,
    RosterSchema,
    UnitSchema,
    UnitUpdateSchema,
)
from server.auth import api_requires, current_actor
from server.manage import org, rosters

bp = Blueprint("admin_org", __name__, url_prefix="/api/v1")


@bp.get("/units")
@api_requires("units.read")
@doc("Units in your scope, in tree order", response=UnitSchema, many="units", tag="units")
def units():
    return {"units": org.list_units(db(), current_actor())}


@bp.post("/units")
@api_requires("units.write")
@doc("Create a unit", body=UnitSchema, response=UnitSchema, status=201, tag="units")
def create_unit():
    return org.create_unit(db(), current_actor(), body(UnitSchema)), 201


@bp.get("/units/<code>")
@api_requires("units.read")
@doc("One unit", response=UnitSchema, tag="units")
def unit(code):
    return org.get_unit(db(), current_actor(), code)


@bp.patch("/units/<code>")
@api_requires("units.write")
@doc("Rename, move or (de)activate a unit", body=UnitUpdateSchema, response=UnitSchema, tag="units")
def update_unit(code):
    return org.update_unit(db(), current_actor(), code, body(UnitUpdateSchema))


@bp.get("/counters")
@api_requires("counters.read")
@doc("Counters in your scope", response=CounterSchema, many="counters", tag="counters")
def counters():
    return {"counters": org.list_counters(db(), current_actor())}


@bp.post("/counters")
@api_requires("counters.write")
@doc("Create a counter", body=CounterSchema, response=CounterSchema, status=201, tag="counters")
def create_counter():
    return org.create_counter(db(), current_actor(), body(CounterSchema)), 201


@bp.get("/counters/<code>")
@api_requires("counters.read")
@doc("One counter, with the units it belonged to and when (`unit_history`)", response=CounterSchema,
     tag="counters")
def counter(code):
    actor = current_actor()
    return {**org.get_counter(db(), actor, code), "unit_history": org.counter_unit_history(db(), actor, code)}


@bp.patch("/counters/<code>")
@api_requires("counters.write")
@doc("Rename, move or (de)activate a counter", body=CounterUpdateSchema, response=CounterSchema,
     tag="counters")
def update_counter(code):
    return org.update_counter(db(), current_actor(), code, body(CounterUpdateSchema))


@bp.get("/counters/<code>/roster")
@api_requires("counters.read")
@doc("Who may serve at the counter: its unit's staff (any day) and staff seconded to it, with their days",
     response=RosterSchema, tag="counters")
def roster(code):
    return dump(RosterSchema, rosters.roster(db(), current_actor(), code))


@bp.post("/counters/<code>/assignments")
@api_requires("counters.write")
@doc("Second a staff member of another unit to the counter from valid_from to valid_to (none: until further "
     "notice); needs write access to the counter's unit and the person's unit", body=AssignmentSchema,
     response=AssignmentSchema, status=201, tag="counters")
def assign(code):
    return dump(AssignmentSchema, rosters.assign(db(), current_actor(), code, body(AssignmentSchema))), 201


@bp.patch("/counters/<code>/assignments/<int:assignment_id>")
@api_requires("counters.write")
@doc("End (or extend) an assignment: its last day", body=AssignmentEndSchema, response=AssignmentSchema,
     tag="counters")
def end_assignment(code, assignment_id):
    data = body(AssignmentEndSchema)
    return dump(AssignmentSchema, rosters.end(db(), current_actor(), code, assignment_id, data["valid_to"]))


@bp.delete("/counters/<code>/assignments/<int:assignment_id>")
@api_requires("counters.write")
@doc("Delete an assignment entered by mistake; 409 has_votes once votes were cast under it", status=204,
     tag="counters")
def delete_assignment(code, assignment_id):
    rosters.delete(db(), current_actor(), code, assignment_id)
    return "", 204
