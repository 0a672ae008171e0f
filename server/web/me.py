"""A civil servant's own page (``/me``, the ``staff`` role): their scores, votes' distribution, flags and grade.

It is the staff page HR sees, for the one staff record the account is
linked to (``Actor.staff_id``; the actions refuse anyone else's), with a
form to object to one of their flags or to a closed period's grade
(``server.manage.objections.file_objection``), and their objections with
HR's answers.
"""

from flask import Blueprint, redirect, render_template, request, url_for

from server.auth import current_actor, page_requires
from server.db import get_db
from server.manage import objections as objection_service
from server.manage import users
from server.web import attempt, page_errors
from server.web.scores import period_arg, render_staff

bp = Blueprint("web_me", __name__)


@bp.route("/me", methods=["GET", "POST"])
@page_requires("self.read")
def me():
    db, actor = get_db(), current_actor()
    errors, message, status = {}, None, 200
    if request.method == "POST":
        done, errors, message, status = attempt(lambda: objection_service.file_objection(db, actor, _objection()))
        if done:
            return redirect(url_for("web_me.me", period=request.args.get("period") or None) + "#my-objections")
    own = objection_service.list_objections(db, actor, {"limit": 50})
    return render_staff(db, actor, users.own_staff(db, actor)["code"], period_arg(), own=True, errors=errors,
                        message=message, objections=own), status


def _objection():
    """The objection form: ``about`` is ``flag:ID`` or ``period:KEY``, and the text."""
    about = request.form.get("about", "")
    kind, _, value = about.partition(":")
    data = {"text": request.form.get("text", "")}
    if kind == "flag":
        data["flag"] = int(value) if value.isascii() and value.isdigit() and len(value) < 19 else 0
    elif kind == "period":
        data["period"] = value
    return data


page_errors(bp)
