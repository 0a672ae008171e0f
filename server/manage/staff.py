"""Staff records: create, edit, deactivate, delete (only without votes), photos, bulk import."""

import hashlib
import os
import secrets
import time

from server import audit, orgimport
from server.errors import ApiError
from server.manage import conflict, not_found, require
from server.manage.org import visible_unit
from server.storage import org, timestamp, write_transaction

FIELDS = ("id", "code", "full_name", "title", "unit", "active", "has_photo", "created_at", "updated_at")
# Magic bytes of the photo formats a tablet can show.
PHOTO_TYPES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def _pick(row):
    return {n: (bool(row[n]) if n in ("active", "has_photo") else row[n]) for n in FIELDS}


def list_staff(db, actor):
    require(actor, "staff.read")
    return [_pick(r) for r in org.list_staff(db, actor.scope(db, "staff.read"))]


def _visible(db, actor, permission, code):
    row = org.staff_detail(db, code)
    if row is None or not actor.reaches(db, permission, row["unit_id"]):
        raise not_found("staff member")
    return row


def get_staff(db, actor, code):
    require(actor, "staff.read")
    return _pick(_visible(db, actor, "staff.read", code))


def create_staff(db, actor, data):
    require(actor, "staff.write")
    unit = visible_unit(db, actor, "staff.write", data["unit"], "unit")
    if org.staff_detail(db, data["code"]):
        raise conflict("code", "A staff member with this code exists.")
    with write_transaction(db):
        org.save_staff(db, None, data["code"], data["full_name"], data.get("title", ""), unit["id"],
                       int(data.get("active", True)), timestamp())
        after = _pick(org.staff_detail(db, data["code"]))
        audit.record(db, actor, "create", "staff", data["code"], unit["id"], after=after)
    return after


def update_staff(db, actor, code, data):
    """Edit a record; ``active: false`` deactivates (the way people leave)."""
    require(actor, "staff.write")
    row = _visible(db, actor, "staff.write", code)
    before = _pick(row)
    unit_id = row["unit_id"]
    if "unit" in data:
        unit_id = visible_unit(db, actor, "staff.write", data["unit"], "unit")["id"]
    with write_transaction(db):
        org.save_staff(db, row["id"], code, data.get("full_name", row["full_name"]),
                       data.get("title", row["title"]), unit_id,
                       int(data.get("active", bool(row["active"]))), timestamp())
        after = _pick(org.staff_detail(db, code))
        audit.record(db, actor, "update", "staff", code, unit_id, before=before, after=after)
    return after


def delete_staff(db, actor, code):
    """Delete a record entered by mistake; someone with votes is only ever deactivated (409)."""
    require(actor, "staff.write")
    row = _visible(db, actor, "staff.write", code)
    with write_transaction(db):
        if org.staff_vote_count(db, row["id"]):
            raise ApiError(409, "has_votes",
                           "This person has votes and cannot be deleted; deactivate them instead.")
        org.delete_staff(db, row["id"])
        audit.record(db, actor, "delete", "staff", code, row["unit_id"], before=_pick(row))


def photo_type(data):
    """The content type from the magic bytes, or None for anything else."""
    for magic, content_type in PHOTO_TYPES:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def set_photo(db, actor, code, data, max_bytes):
    require(actor, "staff.write")
    row = _visible(db, actor, "staff.write", code)
    if not data:
        raise ApiError(400, "validation_error", "Choose a photo.", {"photo": ["Empty file."]})
    if len(data) > max_bytes:
        raise ApiError(413, "photo_too_large", f"The photo is larger than {max_bytes} bytes.",
                       {"photo": [f"At most {max_bytes} bytes."]})
    content_type = photo_type(data)
    if content_type is None:
        raise ApiError(415, "unsupported_media_type", "The photo must be a JPEG, PNG or WebP image.",
                       {"photo": ["Not a JPEG, PNG or WebP image."]})
    digest = hashlib.sha256(data).hexdigest()
    old = org.staff_photo(db, row["id"])
    with write_transaction(db):
        org.save_staff_photo(db, row["id"], content_type, data, digest, timestamp())
        audit.record(db, actor, "photo", "staff", code, row["unit_id"],
                     before={"sha256": old["sha256"]} if old else None,
                     after={"sha256": digest, "content_type": content_type, "bytes": len(data)})
    return {"sha256": digest, "content_type": content_type, "bytes": len(data)}


def get_photo(db, actor, code):
    require(actor, "staff.read")
    row = _visible(db, actor, "staff.read", code)
    photo = org.staff_photo(db, row["id"])
    if photo is None:
        raise ApiError(404, "not_found", "This staff member has no photo.")
    return photo


# --- Bulk import through the existing importer ------------------------------


STALE_UPLOAD_SECONDS = 24 * 3600


def import_folder(data_folder):
    path = os.path.join(data_folder, "imports")
    os.makedirs(path, exist_ok=True)
    return path


def _drop_stale_uploads(folder):
    """Previews nobody applied are kept a day, then removed on the next upload."""
    cutoff = time.time() - STALE_UPLOAD_SECONDS
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.getmtime(path) < cutoff:
            os.remove(path)


def stage_import(db, actor, filename, data, data_folder):
    """Keep an uploaded file server-side and dry-run it; returns a preview with an ``upload`` id."""
    require(actor, "staff.import")
    ext = os.path.splitext(filename or "")[1].lower()
    if ext not in (".csv", ".xlsx"):
        raise ApiError(400, "validation_error", "Upload a .csv or .xlsx file.", {"file": ["Not CSV or XLSX."]})
    upload = secrets.token_hex(12) + ext
    folder = import_folder(data_folder)
    _drop_stale_uploads(folder)
    path = os.path.join(folder, upload)
    with open(path, "wb") as handle:
        handle.write(data)
    preview = run_import(db, actor, upload, data_folder, dry_run=True)
    return {**preview, "upload": upload}


def run_import(db, actor, upload, data_folder, dry_run):
    """Dry-run or apply a staged file: ``{applied, summary, problems}``."""
    require(actor, "staff.import")
    if not upload or "/" in upload or "\\" in upload or upload.startswith("."):
        raise ApiError(400, "validation_error", "Unknown upload.", {"upload": ["Unknown upload."]})
    path = os.path.join(import_folder(data_folder), upload)
    if not os.path.exists(path):
        raise ApiError(404, "not_found", "This upload does not exist any more; upload the file again.")
    try:
        summary = orgimport.import_file(db, path, dry_run=dry_run)
    except orgimport.ImportRejected as exc:
        return {"applied": False, "summary": None, "problems": exc.problems}
    if not dry_run:
        with write_transaction(db):
            audit.record(db, actor, "import", "org", upload, after=summary.as_dict())
        os.remove(path)
    return {"applied": not dry_run, "summary": summary.as_dict(), "problems": []}


def discard_upload(upload, data_folder):
    path = os.path.join(import_folder(data_folder), upload)
    if os.path.exists(path):
        os.remove(path)
