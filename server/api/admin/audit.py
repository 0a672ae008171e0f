"""Read-only views for auditors: the audit log, raw votes, sync incidents."""

from flask import Blueprint

from server import audit as audit_service
from server.api.admin import db, doc, dump, query_args
from server.api.admin.schemas import AuditEntrySchema, AuditQuerySchema, IncidentSchema, PageQuerySchema, VoteRowSchema
from server.auth import api_requires, current_actor
from server.manage import votes as vote_actions

bp = Blueprint("admin_audit", __name__, url_prefix="/api/v1")


@bp.get("/audit")
@api_requires("audit.read")
@doc("Audit log entries in your scope, newest first; filter by actor, action, object_type; "
     "page with before_id", response=AuditEntrySchema, many="entries", query=AuditQuerySchema, tag="audit")
def audit_log():
    rows = audit_service.entries_for(db(), current_actor(), query_args(AuditQuerySchema))
    return {"entries": dump(AuditEntrySchema, rows, many=True)}


@bp.get("/votes")
@api_requires("votes.read")
@doc("Raw votes in your scope, oldest first; page with after_id", response=VoteRowSchema, many="votes",
     query=PageQuerySchema, tag="audit")
def votes():
    args = query_args(PageQuerySchema)
    rows = vote_actions.list_votes(db(), current_actor(), args["after_id"], args["limit"])
    return {"votes": dump(VoteRowSchema, rows, many=True)}


@bp.get("/incidents")
@api_requires("incidents.read")
@doc("Sync incidents (conflicts, rejections) in your scope; page with after_id", response=IncidentSchema,
     many="incidents", query=PageQuerySchema, tag="audit")
def incidents():
    args = query_args(PageQuerySchema)
    rows = vote_actions.list_incidents(db(), current_actor(), args["after_id"], args["limit"])
    return {"incidents": dump(IncidentSchema, rows, many=True)}
