"""Periods: the months, quarters and years HR has closed, closing one, and each revision's frozen scores.

Closing (``server.manage.periods.close_period``) freezes the period's scores
as revision 1 with the software version and parameters; a vote that arrives
later makes a new revision, and every revision stays readable here.
"""

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from server.auth import current_actor, page_requires
from server.db import get_db
from server.manage import periods as period_service
from server.web import attempt, form_data, page_errors
from server.web.scores import _grades, _units, grade_name

bp = Blueprint("web_periods", __name__)


@bp.route("/periods", methods=["GET", "POST"])
@page_requires("scores.read")
def list_():
    db, actor = get_db(), current_actor()
    errors, message, status = {}, None, 200
    if request.method == "POST":
        data = form_data(["period", "unit"])
        done, errors, message, status = attempt(
            lambda: period_service.close_period(db, actor, data.get("period", ""), data.get("unit") or None,
                                                settings=current_app.config))
        if done:
            return redirect(url_for("web_periods.list_"))
    can_close = actor.can("periods.close")
    return render_template("periods.html", periods=period_service.list_periods(db, actor), errors=errors,
                           message=message, can_close=can_close,
                           units=_units(db, actor) if can_close else []), status


@bp.get("/periods/<key>/<int:revision>")
@page_requires("scores.read")
def revision(key, revision):
    db, actor = get_db(), current_actor()
    unit = request.args.get("unit") or None
    result = period_service.period_revision(db, actor, key, revision, unit_code=unit,
                                            settings=current_app.config)
    grades = _grades(result.get("parameters"))
    return render_template("period_revision.html", result=result, key=key, revision=revision, unit=unit,
                           grade_name=lambda code: grade_name(code, grades))


page_errors(bp)
