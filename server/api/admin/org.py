"""Units and counters."""

from flask import Blueprint

from server.api.admin import body, db, doc
from server.api.admin.schemas import CounterSchema, CounterUpdateSchema, UnitSchema, UnitUpdateSchema
from server.auth import api_requires, current_actor
from server.manage import org

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
@doc("One counter", response=CounterSchema, tag="counters")
def counter(code):
    return org.get_counter(db(), current_actor(), code)


@bp.patch("/counters/<code>")
@api_requires("counters.write")
@doc("Rename, move or (de)activate a counter", body=CounterUpdateSchema, response=CounterSchema,
     tag="counters")
def update_counter(code):
    return org.update_counter(db(), current_actor(), code, body(CounterUpdateSchema))
