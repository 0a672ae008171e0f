"""Opening hours per unit and public holidays."""

from flask import Blueprint, request

from server.api.admin import body, db, doc, dump, missing_body_file
from server.api.admin.schemas import HolidayImportSchema, HolidaySchema, HoursSchema
from server.auth import api_requires, current_actor
from server.errors import N_, invalid
from server.manage import calendar

bp = Blueprint("admin_calendar", __name__, url_prefix="/api/v1")


@bp.get("/opening-hours")
@api_requires("units.read")
@doc("The organisation's default opening hours", response=HoursSchema, tag="calendar")
def default_hours():
    return dump(HoursSchema, calendar.hours(db(), current_actor()))


@bp.put("/opening-hours")
@api_requires("calendar.write")
@doc("Set the organisation's default opening hours", body=HoursSchema, response=HoursSchema, tag="calendar")
def set_default_hours():
    return dump(HoursSchema, calendar.set_hours(db(), current_actor(), None, body(HoursSchema)["hours"]))


@bp.get("/units/<code>/opening-hours")
@api_requires("units.read")
@doc("The opening hours that apply to a unit, and where they come from", response=HoursSchema, tag="calendar")
def unit_hours(code):
    return dump(HoursSchema, calendar.hours(db(), current_actor(), code))


@bp.put("/units/<code>/opening-hours")
@api_requires("calendar.write")
@doc("Give a unit its own opening hours (an empty `hours` makes it inherit again)", body=HoursSchema,
     response=HoursSchema, tag="calendar")
def set_unit_hours(code):
    return dump(HoursSchema, calendar.set_hours(db(), current_actor(), code, body(HoursSchema)["hours"]))


@bp.get("/holidays")
@api_requires("units.read")
@doc("Public holidays (local dates; `?year=2026` for one year)", response=HolidaySchema, many="holidays",
     tag="calendar")
def holidays():
    year = request.args.get("year")
    if year is not None and not (year.isdigit() and len(year) == 4):
        raise invalid("year", N_("Not a year like 2026."))
    return {"holidays": dump(HolidaySchema, calendar.list_holidays(db(), current_actor(), year and int(year)),
                             many=True)}


@bp.post("/holidays")
@api_requires("calendar.write")
@doc("Add (or rename) a public holiday", body=HolidaySchema, response=HolidaySchema, status=201, tag="calendar")
def add_holiday():
    return dump(HolidaySchema, calendar.add_holiday(db(), current_actor(), body(HolidaySchema))), 201


@bp.delete("/holidays/<date:day>")
@api_requires("calendar.write")
@doc("Remove a public holiday", status=204, tag="calendar")
def remove_holiday(day):
    calendar.remove_holiday(db(), current_actor(), day)
    return "", 204


@bp.post("/holidays/import")
@api_requires("calendar.write")
@doc("Add the holidays of a CSV file (multipart field `file`: day,name_vi,name_en), or without a file the "
     "Vietnamese public holidays of 2026 and 2027 shipped with the server", response=HolidayImportSchema,
     tag="calendar", files={"file": False})
def import_holidays():
    upload = request.files.get("file")
    text = None
    if upload is None and request.content_length:
        # A body that carries no `file` (a broken upload, a field misnamed) is not "no file": importing the
        # shipped holidays instead would answer 200 to a request that did not do what it asked.
        missing_body_file("file")
    if upload is not None:
        try:
            text = upload.read(256 * 1024).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise invalid("file", N_("The file is not UTF-8 text.")) from None
    return dump(HolidayImportSchema, calendar.import_holidays(db(), current_actor(), text))
