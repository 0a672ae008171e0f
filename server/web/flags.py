"""Flag review and objections: the list of flags, one flag with its votes and its review, HR's answers.

A review is HR's written decision on a flag (confirm misuse → its votes are
excluded; dismiss → they count), taken by ``server.manage.flags.review_flag``
with its audit entry; an objection is a staff member's written disagreement,
answered by ``server.manage.objections.answer_objection``.
"""

from flask import Blueprint, redirect, render_template, request, url_for

from server.auth import current_actor, page_requires
from server.db import get_db
from server.manage import flags as flag_service
from server.manage import objections as objection_service
from server.web import attempt, form_data, page_errors

bp = Blueprint("web_flags", __name__)

STATUSES = ("open", "confirmed", "dismissed")


@bp.get("/flags")
@page_requires("flags.read")
def list_():
    db, actor = get_db(), current_actor()
    status = request.args.get("status", "open")
    status = status if status in STATUSES or status == "all" else "open"
    filters = {"status": None if status == "all" else status,
               "staff": request.args.get("staff") or None, "unit": request.args.get("unit") or None}
    rows = flag_service.list_flags(db, actor, **filters)
    return render_template("flags.html", flags=rows, status=status, filters=filters)


@bp.route("/flags/<int:flag_id>", methods=["GET", "POST"])
@page_requires("flags.read")
def flag(flag_id):
    db, actor = get_db(), current_actor()
    errors, message, status = {}, None, 200
    if request.method == "POST":
        data = form_data(["decision", "reason"])
        done, errors, message, status = attempt(
            lambda: flag_service.review_flag(db, actor, flag_id, data.get("decision", ""), data.get("reason", "")))
        if done:
            return redirect(url_for("web_flags.flag", flag_id=flag_id))
    row = flag_service.get_flag(db, actor, flag_id)
    return render_template("flag.html", flag=row, errors=errors, message=message,
                           can_review=actor.can("flags.review")), status


@bp.get("/objections")
@page_requires("objections.read")
def objections():
    db, actor = get_db(), current_actor()
    status = request.args.get("status", "open")
    rows = objection_service.list_objections(db, actor, status=None if status == "all" else status)
    return render_template("objections.html", objections=rows, status=status)


@bp.route("/objections/<int:objection_id>", methods=["GET", "POST"])
@page_requires("objections.read")
def objection(objection_id):
    db, actor = get_db(), current_actor()
    errors, message, status = {}, None, 200
    if request.method == "POST":
        data = form_data(["status", "answer"])
        done, errors, message, status = attempt(
            lambda: objection_service.answer_objection(db, actor, objection_id, data))
        if done:
            return redirect(url_for("web_flags.objection", objection_id=objection_id))
    row = objection_service.get_objection(db, actor, objection_id)
    return render_template("objection.html", objection=row, errors=errors, message=message,
                           can_answer=actor.can("objections.answer")), status


page_errors(bp)
