"""The audit log, filterable (admins: everything; auditors: their units)."""

from flask import Blueprint, render_template, request

from server import audit as audit_service
from server.api.admin.schemas import AuditQuerySchema
from server.auth import current_actor, page_requires
from server.db import get_db
from server.web import page_errors

bp = Blueprint("web_audit", __name__, url_prefix="/admin")


@bp.get("/audit")
@page_requires("audit.read")
def audit_log():
    args = {k: v for k, v in request.args.items() if v and k in ("actor", "action", "object_type", "before_id")}
    filters = AuditQuerySchema().load(args)
    entries = audit_service.entries_for(get_db(), current_actor(), filters)
    return render_template("audit.html", entries=entries, filters=args)


page_errors(bp)
