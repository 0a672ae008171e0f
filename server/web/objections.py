"""Objections: HR's list of what civil servants object to (a flag, a closed period's grade), and the answer.

The answer (upheld or rejected, with a text the person reads) is
``server.manage.objections.answer_objection``, audited there; the person
files an objection from their own page (``server/web/me.py``).
"""

from flask import Blueprint, redirect, render_template, request, url_for

from server.auth import current_actor, page_requires
from server.db import get_db
from server.manage import objections as objection_service
from server.web import attempt, form_data, page_errors

bp = Blueprint("web_objections", __name__)

STATUSES = ("open", "upheld", "rejected", "all")


@bp.get("/objections")
@page_requires("objections.read")
def list_():
    status = request.args.get("status", "open")
    status = status if status in STATUSES else "open"
    rows = objection_service.list_objections(get_db(), current_actor(),
                                             {"status": None if status == "all" else status, "limit": 200})
    return render_template("objections.html", objections=rows, status=status)


@bp.route("/objections/<int:objection_id>", methods=["GET", "POST"])
@page_requires("objections.read")
def objection(objection_id):
    db, actor = get_db(), current_actor()
    errors, message, status = {}, None, 200
    if request.method == "POST":
        data = form_data(["decision", "answer"])
        done, errors, message, status = attempt(lambda: objection_service.answer_objection(
            db, actor, objection_id, data.get("decision", ""), data.get("answer", "")))
        if done:
            return redirect(url_for("web_objections.objection", objection_id=objection_id))
    row = objection_service.get_objection(db, actor, objection_id)
    return render_template("objection.html", objection=row, errors=errors, message=message,
                           can_answer=actor.can("objections.answer")), status


page_errors(bp)
