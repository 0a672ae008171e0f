"""A civil servant's own page (``/me``, the ``staff`` role): their scores, votes' distribution, flags and grade.

It is the staff page HR sees, for the one staff record the account is
linked to (``Actor.staff_id``; the actions refuse anyone else's), with a
form to object to a flag or to a closed period's grade, and their
objections with HR's answers.
"""

from flask import Blueprint, redirect, render_template, request, url_for

from server.auth import current_actor, page_requires
from server.db import get_db
from server.manage import objections as objection_service
from server.manage import users
from server.web import attempt, form_data, page_errors
from server.web.scores import period_arg, render_staff

bp = Blueprint("web_me", __name__)


@bp.route("/me", methods=["GET", "POST"])
@page_requires("self.read")
def me():
    db, actor = get_db(), current_actor()
    errors, message, status = {}, None, 200
    if request.method == "POST":
        data = form_data(["text", "period"])
        about = request.form.get("about", "")
        if about.startswith("flag:"):
            data = {"flag_id": int(about[5:]) if about[5:].isdigit() else 0, "text": data.get("text", "")}
        else:
            data = {"period": about[7:] if about.startswith("period:") else "", "text": data.get("text", "")}
        done, errors, message, status = attempt(lambda: objection_service.file_objection(db, actor, data))
        if done:
            return redirect(url_for("web_me.me", period=request.args.get("period") or None))
    code = users.own_staff(db, actor)["code"]
    return render_staff(db, actor, code, period_arg(), own=True, errors=errors, message=message,
                        objections=objection_service.list_objections(db, actor)), status


page_errors(bp)
