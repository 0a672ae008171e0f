"""Public holidays and the organisation's default opening hours (a unit's own hours are on its page)."""

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for

from server.api.admin.schemas import HolidaySchema, HoursSchema
from server.auth import current_actor, page_requires
from server.db import get_db
from server.manage import calendar
from server.web import attempt, form_data, page_errors

bp = Blueprint("web_calendar", __name__, url_prefix="/admin")


def _year():
    text = request.args.get("year", "")
    return int(text) if text.isdigit() and len(text) == 4 else dt.date.today().year


@bp.route("/holidays", methods=["GET", "POST"])
@page_requires("units.read")
def holidays():
    db, actor = get_db(), current_actor()
    year = _year()
    errors, message, status = {}, None, 200
    if request.method == "POST":
        action = request.form.get("action")
        if action == "hours":
            work = lambda: calendar.set_hours(db, actor, None, HoursSchema().load(form_data(["hours"]))["hours"])  # noqa: E731
        elif action == "remove":
            work = lambda: calendar.remove_holiday(db, actor, request.form.get("day", ""))  # noqa: E731
        elif action == "import":
            work = lambda: calendar.import_holidays(db, actor)  # noqa: E731
        else:
            work = lambda: calendar.add_holiday(  # noqa: E731
                db, actor, HolidaySchema().load(form_data(["day", "name_vi", "name_en"])))
        done, errors, message, status = attempt(lambda: work() or True)
        if done:
            return redirect(url_for("web_calendar.holidays", year=year))
    return render_template("holidays.html", year=year, holidays=calendar.list_holidays(db, actor, year),
                           hours=calendar.hours(db, actor), errors=errors, message=message,
                           can_write=actor.can("calendar.write")), status


page_errors(bp)
