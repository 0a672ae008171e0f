"""Staff records, photos and the bulk import."""

from flask import Blueprint, Response, request

from server.api.admin import body, config, db, doc, missing_body_file
from server.api.admin.schemas import ImportResultSchema, PinSchema, StaffSchema, StaffUpdateSchema
from server.db import data_folder
from server.auth import api_requires, current_actor
from server.errors import N_, Invalid
from server.manage import imports, staff

bp = Blueprint("admin_staff", __name__, url_prefix="/api/v1")


@bp.get("/staff")
@api_requires("staff.read")
@doc("Staff in your scope", response=StaffSchema, many="staff", tag="staff")
def list_():
    return {"staff": staff.list_staff(db(), current_actor())}


@bp.post("/staff")
@api_requires("staff.write")
@doc("Create a staff record", body=StaffSchema, response=StaffSchema, status=201, tag="staff")
def create():
    return staff.create_staff(db(), current_actor(), body(StaffSchema)), 201


@bp.get("/staff/<code>")
@api_requires("staff.read")
@doc("One staff record, with the units they belonged to and when (`unit_history`)", response=StaffSchema,
     tag="staff")
def get(code):
    actor = current_actor()
    return {**staff.get_staff(db(), actor, code), "unit_history": staff.unit_history(db(), actor, code)}


@bp.patch("/staff/<code>")
@api_requires("staff.write")
@doc("Edit or deactivate (active: false) a staff record", body=StaffUpdateSchema, response=StaffSchema,
     tag="staff")
def update(code):
    return staff.update_staff(db(), current_actor(), code, body(StaffUpdateSchema))


@bp.delete("/staff/<code>")
@api_requires("staff.write")
@doc("Delete a record entered by mistake; 409 has_votes for anyone with votes", status=204, tag="staff")
def delete(code):
    staff.delete_staff(db(), current_actor(), code)
    return "", 204


@bp.get("/staff/<code>/photo")
@api_requires("staff.read")
@doc("The staff member's photo (a JPEG: uploads are re-encoded)", tag="staff", produces="image/jpeg")
def photo(code):
    row = staff.get_photo(db(), current_actor(), code)
    return Response(row["data"], mimetype=row["content_type"], headers={"ETag": row["sha256"]})


@bp.put("/staff/<code>/photo")
@api_requires("staff.write")
@doc("Upload a photo (multipart field `photo`, JPEG/PNG/WebP, at most PHOTO_MAX_BYTES)", tag="staff",
     files={"photo": True})
def put_photo(code):
    upload = request.files.get("photo")
    if upload is None:
        missing_body_file("photo")
    data = upload.read(config()["PHOTO_MAX_BYTES"] + 1)
    return staff.set_photo(db(), current_actor(), code, data, config()["PHOTO_MAX_BYTES"])


@bp.put("/staff/<code>/pin")
@api_requires("staff.write")
@doc("Set the kiosk PIN (4 to 8 digits); tablets get its hash with their next configuration",
     body=PinSchema, response=PinSchema, tag="staff")
def put_pin(code):
    return staff.set_pin(db(), current_actor(), code, body(PinSchema)["pin"])


@bp.post("/staff/import")
@api_requires("staff.import")
@doc("Bulk import (multipart field `file`, CSV/XLSX, docs/org-import.md); `?apply=1` applies, "
     "otherwise a dry run", response=ImportResultSchema, tag="staff", files={"file": True})
def import_():
    upload = request.files.get("file")
    if upload is None:
        missing_body_file("file")
    actor = current_actor()
    preview = imports.stage_upload(db(), actor, upload.filename, upload.read(), data_folder())
    if preview["problems"]:
        imports.discard_upload(preview["upload"], data_folder())
        raise Invalid(N_("The file was not imported; nothing was changed."), {"file": preview["problems"]},
                      code="import_rejected")
    if request.args.get("apply") in ("1", "true"):
        return imports.apply_upload(db(), actor, preview["upload"], data_folder(), dry_run=False)
    imports.discard_upload(preview["upload"], data_folder())
    return {k: preview[k] for k in ("applied", "summary", "problems")}
