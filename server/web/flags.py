"""Flag review: the list of flags, one flag with its votes and its reviews, and HR's written decision.

A review (``server.manage.flags.review_flag``, audited there) confirms misuse
(the flag's votes leave the scores) or dismisses it (they count again); a
reviewed flag may be reviewed again with a new reason, and every review stays
listed under the flag.
"""

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from server.auth import current_actor, page_requires
from server.db import get_db
from server.manage import flags as flag_service
from server.web import attempt, form_data, page_errors

bp = Blueprint("web_flags", __name__)

STATUSES = ("open", "confirmed", "dismissed", "all")


@bp.get("/flags")
@page_requires("flags.read")
def list_():
    db, actor = get_db(), current_actor()
    status = request.args.get("status", "open")
    status = status if status in STATUSES else "open"
    filters = {"status": None if status == "all" else status, "staff": request.args.get("staff") or None,
               "unit": request.args.get("unit") or None, "limit": 200}
    rows = flag_service.list_flags(db, actor, filters, current_app.config)
    return render_template("flags.html", flags=rows, status=status, filters=filters)


@bp.route("/flags/<int:flag_id>", methods=["GET", "POST"])
@page_requires("flags.read")
def flag(flag_id):
    db, actor = get_db(), current_actor()
    errors, message, status = {}, None, 200
    if request.method == "POST":
        data = form_data(["decision", "reason"])
        done, errors, message, status = attempt(lambda: flag_service.review_flag(
            db, actor, flag_id, data.get("decision", ""), data.get("reason", ""), current_app.config))
        if done:
            return redirect(url_for("web_flags.flag", flag_id=flag_id))
    row = flag_service.get_flag(db, actor, flag_id)
    return render_template("flag.html", flag=row, errors=errors, message=message,
                           can_review=actor.can("flags.review")), status


page_errors(bp)
