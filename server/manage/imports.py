"""Bulk import of units, counters and staff (docs/org-import.md), as one audited action.

The CLI imports a file it is given; the pages and the API first stage an
upload beside the database and dry-run it, then apply the kept file on
confirmation. Both end in ``import_file``.
"""

import os
import secrets
import time

from server import audit, orgimport
from server.errors import N_, NotFound, invalid
from server.manage import require
from server.storage import write_transaction

STALE_UPLOAD_SECONDS = 24 * 3600


def import_file(db, actor, path, dry_run=False, name=None):
    """Check and (unless ``dry_run``) apply a file; the import and its audit entry are one transaction.

    Returns the ``orgimport.Summary``; raises ``orgimport.ImportRejected``
    (every problem, nothing changed) for a bad file.
    """
    require(actor, "staff.import")
    if dry_run:
        return orgimport.import_file(db, path, dry_run=True)
    with write_transaction(db):
        summary = orgimport.import_file(db, path)
        audit.record(db, actor, "import", "org", name or os.path.basename(str(path)), after=summary.as_dict())
    return summary


def upload_folder(data_folder):
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


def stage_upload(db, actor, filename, data, data_folder):
    """Keep an uploaded file server-side and dry-run it; returns a preview with an ``upload`` id."""
    require(actor, "staff.import")
    ext = os.path.splitext(filename or "")[1].lower()
    if ext not in (".csv", ".xlsx"):
        raise invalid("file", N_("Not CSV or XLSX."), N_("Upload a .csv or .xlsx file."))
    upload = secrets.token_hex(12) + ext
    folder = upload_folder(data_folder)
    _drop_stale_uploads(folder)
    with open(os.path.join(folder, upload), "wb") as handle:
        handle.write(data)
    return {**apply_upload(db, actor, upload, data_folder, dry_run=True), "upload": upload}


def apply_upload(db, actor, upload, data_folder, dry_run):
    """Dry-run or apply a staged file: ``{applied, summary, problems}``."""
    require(actor, "staff.import")
    if not upload or "/" in upload or "\\" in upload or upload.startswith("."):
        raise invalid("upload", N_("Unknown upload."))
    path = os.path.join(upload_folder(data_folder), upload)
    if not os.path.exists(path):
        raise NotFound(N_("This upload does not exist any more; upload the file again."))
    try:
        summary = import_file(db, actor, path, dry_run=dry_run, name=upload)
    except orgimport.ImportRejected as exc:
        return {"applied": False, "summary": None, "problems": exc.problems}
    if not dry_run:
        os.remove(path)
    return {"applied": not dry_run, "summary": summary.as_dict(), "problems": []}


def discard_upload(upload, data_folder):
    path = os.path.join(upload_folder(data_folder), upload)
    if os.path.exists(path):
        os.remove(path)
