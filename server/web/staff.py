"""Staff: list, create, edit, deactivate, delete (only without votes), photo, bulk import."""

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

from server.api.admin.schemas import StaffSchema, StaffUpdateSchema
from server.auth import current_actor, page_requires
from server.db import data_folder, get_db
from server.manage import imports, staff
from server.web import attempt, form_data, page_errors
from server.web.org import _unit_choices

bp = Blueprint("web_staff", __name__, url_prefix="/admin")


@bp.route("/staff", methods=["GET", "POST"])
@page_requires("staff.read")
def list_():
    db, actor = get_db(), current_actor()
    errors, message, status = {}, None, 200
    if request.method == "POST":
        data = form_data(["code", "full_name", "title", "unit"])
        done, errors, message, status = attempt(
            lambda: staff.create_staff(db, actor, StaffSchema().load(data)))
        if done:
            return redirect(url_for("web_staff.list_"))
    can_write = actor.can("staff.write")
    return render_template("staff_list.html", staff=staff.list_staff(db, actor), errors=errors,
                           message=message, can_write=can_write, can_import=actor.can("staff.import"),
                           units=_unit_choices(db, actor, "staff.write") if can_write else []), status


@bp.route("/staff/<code>", methods=["GET", "POST"])
@page_requires("staff.read")
def edit(code):
    db, actor = get_db(), current_actor()
    row = staff.get_staff(db, actor, code)
    errors, message, status = {}, None, 200
    action = request.form.get("action")
    if action == "save":
        data = form_data(["full_name", "title", "unit"], booleans=["active"])
        done, errors, message, status = attempt(
            lambda: staff.update_staff(db, actor, code, StaffUpdateSchema().load(data)))
        if done:
            return redirect(url_for("web_staff.edit", code=code))
    elif action == "delete":
        done, errors, message, status = attempt(lambda: staff.delete_staff(db, actor, code) or True)
        if done:
            return redirect(url_for("web_staff.list_"))
    elif action == "pin":
        if request.form.get("pin") != request.form.get("confirm_pin"):
            errors, status = {"confirm_pin": [_("The two PINs differ.")]}, 400
        else:
            done, errors, message, status = attempt(
                lambda: staff.set_pin(db, actor, code, request.form.get("pin", "")))
            if done:
                return redirect(url_for("web_staff.edit", code=code))
    elif action == "photo":
        upload = request.files.get("photo")
        max_bytes = current_app.config["PHOTO_MAX_BYTES"]
        data = upload.read(max_bytes + 1) if upload else b""
        done, errors, message, status = attempt(lambda: staff.set_photo(db, actor, code, data, max_bytes))
        if done:
            return redirect(url_for("web_staff.edit", code=code))
    can_write = actor.can("staff.write")
    return render_template("staff_edit.html", person=staff.get_staff(db, actor, code) if row else row,
                           unit_history=staff.unit_history(db, actor, code),
                           errors=errors, message=message, can_write=can_write,
                           units=_unit_choices(db, actor, "staff.write") if can_write else []), status


@bp.get("/staff/<code>/photo")
@page_requires("staff.read")
def photo(code):
    row = staff.get_photo(get_db(), current_actor(), code)
    return Response(row["data"], mimetype=row["content_type"], headers={"Cache-Control": "private, max-age=60"})


@bp.route("/staff/import", methods=["GET", "POST"])
@page_requires("staff.import")
def import_():
    """Upload → dry-run preview (problems or the changes) → confirm applies the kept file."""
    db, actor = get_db(), current_actor()
    result, errors, message, status = None, {}, None, 200
    if request.form.get("action") == "preview":
        upload = request.files.get("file")
        result, errors, message, status = attempt(lambda: imports.stage_upload(
            db, actor, upload.filename if upload else "", upload.read() if upload else b"",
            data_folder()))
        if result and result["problems"]:
            imports.discard_upload(result["upload"], data_folder())
            status = 400
    elif request.form.get("action") == "apply":
        result, errors, message, status = attempt(lambda: imports.apply_upload(
            db, actor, request.form.get("upload", ""), data_folder(), dry_run=False))
    return render_template("staff_import.html", result=result, errors=errors, message=message), status


page_errors(bp)
