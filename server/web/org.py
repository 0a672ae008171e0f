"""Units (as a tree) and counters, each with what is under it."""

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from server.api.admin.schemas import (
    AssignmentEndSchema,
    AssignmentSchema,
    CounterSchema,
    CounterUpdateSchema,
    HoursSchema,
    UnitSchema,
    UnitUpdateSchema,
)
from server.auth import current_actor, page_requires
from server.db import get_db
from server.manage import calendar, devices, org, rosters, staff
from server.web import attempt, form_data, form_id, page_errors

bp = Blueprint("web_org", __name__, url_prefix="/admin")


@bp.route("/units", methods=["GET", "POST"])
@page_requires("units.read")
def units():
    db, actor = get_db(), current_actor()
    errors, message, status = {}, None, 200
    if request.method == "POST":
        data = form_data(["code", "name", "parent"])
        data["parent"] = data.get("parent") or None
        done, errors, message, status = attempt(
            lambda: org.create_unit(db, actor, UnitSchema().load(data)))
        if done:
            return redirect(url_for("web_org.units"))
    return render_template("units.html", units=org.list_units(db, actor), errors=errors,
                           message=message, can_write=actor.can("units.write")), status


@bp.route("/units/<code>", methods=["GET", "POST"])
@page_requires("units.read")
def unit(code):
    db, actor = get_db(), current_actor()
    row = org.get_unit(db, actor, code)
    errors, message, status = {}, None, 200
    if request.method == "POST" and request.form.get("action") == "hours":
        data = form_data(["hours"])
        done, errors, message, status = attempt(
            lambda: calendar.set_hours(db, actor, code, HoursSchema().load(data)["hours"]))
        if done:
            return redirect(url_for("web_org.unit", code=code) + "#opening-hours")
    elif request.method == "POST":
        data = form_data(["name", "parent"], booleans=["active"])
        data["parent"] = data.get("parent") or None
        done, errors, message, status = attempt(
            lambda: org.update_unit(db, actor, code, UnitUpdateSchema().load(data)))
        if done:
            return redirect(url_for("web_org.unit", code=code))
    units = org.list_units(db, actor)
    return render_template("unit.html", unit=row, units=units, errors=errors, message=message,
                           hours=calendar.hours(db, actor, code), can_set_hours=actor.can("calendar.write"),
                           parent=next((u for u in units if u["code"] == row["parent"]), None),
                           children=[u for u in units if u["parent"] == code],
                           under=_under(db, actor, [row["id"]]), can_write=actor.can("units.write"),
                           can_revoke=actor.can("devices.write")), status


def _under(db, actor, unit_ids, counter_id=None):
    """The counters, staff and tablets of these units as far as the actor's roles reach.

    None for what no role of theirs lets them see, so the page leaves it out.
    For a counter's page (``counter_id``): its tablets and its unit's staff.
    """
    def maybe(permission, listing):
        return listing() if actor.can(permission) else None

    return {
        "counters": None if counter_id else maybe(
            "counters.read", lambda: org.list_counters(db, actor, unit_ids=unit_ids)),
        "staff": maybe("staff.read", lambda: staff.list_staff(db, actor, unit_ids=unit_ids)),
        "devices": maybe("devices.read", lambda: devices.list_devices(
            db, actor, current_app.config, unit_ids=unit_ids, counter_id=counter_id)),
    }


def _unit_choices(db, actor, permission):
    scope = actor.scope(db, permission)
    return [u for u in org.list_units(db, actor) if scope is None or u["id"] in scope]


@bp.route("/counters", methods=["GET", "POST"])
@page_requires("counters.read")
def counters():
    db, actor = get_db(), current_actor()
    errors, message, status = {}, None, 200
    if request.method == "POST":
        data = form_data(["code", "name", "unit"])
        done, errors, message, status = attempt(
            lambda: org.create_counter(db, actor, CounterSchema().load(data)))
        if done:
            return redirect(url_for("web_org.counters"))
    return render_template("counters.html", counters=org.list_counters(db, actor), errors=errors,
                           message=message, can_write=actor.can("counters.write"),
                           units=_unit_choices(db, actor, "counters.write") if actor.can("counters.write") else []
                           ), status


@bp.route("/counters/<code>", methods=["GET", "POST"])
@page_requires("counters.read")
def counter(code):
    db, actor = get_db(), current_actor()
    row = org.get_counter(db, actor, code)
    errors, message, status = {}, None, 200
    if request.method == "POST":
        done, errors, message, status = attempt(lambda: _counter_action(db, actor, code))
        if done:
            return redirect(url_for("web_org.counter", code=code))
    unit = org.get_unit(db, actor, row["unit"])
    return render_template("counter.html", counter=row, unit=unit, errors=errors, message=message,
                           unit_history=org.counter_unit_history(db, actor, code),
                           under=_under(db, actor, [unit["id"]], counter_id=row["id"]),
                           roster=rosters.roster(db, actor, code),
                           can_assign=actor.can("counters.write") and actor.can("staff.write"),
                           can_write=actor.can("counters.write"), can_revoke=actor.can("devices.write"),
                           units=_unit_choices(db, actor, "counters.write") if actor.can("counters.write") else []
                           ), status


def _counter_action(db, actor, code):
    """The counter page's forms: edit the counter, or change its roster."""
    action = request.form.get("action", "save")
    if action == "assign":
        data = form_data(["staff", "valid_from", "valid_to"])
        data["valid_to"] = data.get("valid_to") or None
        return rosters.assign(db, actor, code, AssignmentSchema().load(data))
    if action == "end_assignment":
        data = AssignmentEndSchema().load({"valid_to": request.form.get("valid_to") or None})
        return rosters.end(db, actor, code, form_id("assignment_id"), data["valid_to"])
    if action == "delete_assignment":
        rosters.delete(db, actor, code, form_id("assignment_id"))
        return True
    data = form_data(["name", "unit"], booleans=["active"])
    return org.update_counter(db, actor, code, CounterUpdateSchema().load(data))


page_errors(bp)
