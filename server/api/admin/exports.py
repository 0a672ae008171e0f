"""Verifiable exports for auditors as streamed downloads: raw votes, or the audit log (docs/verify.md).

The zip is written while it is sent (``Transfer-Encoding: chunked``), a
chunk of rows at a time: memory stays flat whatever the size. Filters are
checked first, so a bad one is the usual JSON error, not a broken file.
"""

from flask import Blueprint, Response, stream_with_context
from marshmallow import fields, validate

from server import db as request_db
from server.api.admin import config, db, doc, query_args
from server.auth import api_requires, current_actor
from server.errors import N_
from server.manage import exports as actions
from server.schemas import CODE_RE, BaseSchema, Day, Text

bp = Blueprint("admin_exports", __name__, url_prefix="/api/v1")
ZIP_TYPE = "application/zip"


class ExportQuerySchema(BaseSchema):
    """What an audit-log export takes: the period and the file format."""

    from_ = Day(data_key="from", metadata={"description": "first local day (TIMEZONE), included"})
    to = Day(metadata={"description": "last local day, included"})
    format = Text(load_default="csv", validate=validate.OneOf(actions.FORMATS, error=N_("One of csv, jsonl, xlsx.")))
    bom = fields.Boolean(load_default=False, metadata={"description": "CSV starts with a byte-order mark"})


class AuditExportQuerySchema(ExportQuerySchema):
    """What an audit-log export takes: the period, the audit page's filters, the file format."""

    actor = Text(validate=validate.Length(max=200, error=N_("At most 200 characters.")),
                 metadata={"description": "who: a username, or cli"})
    action = Text(validate=validate.Length(max=64, error=N_("At most 64 characters.")))
    object_type = Text(validate=validate.Length(max=64, error=N_("At most 64 characters.")))


class VoteExportQuerySchema(ExportQuerySchema):
    """What a votes export takes (docs/verify.md): period, unit subtree, staff, device, flagged, tickets."""

    unit = Text(validate=validate.Regexp(CODE_RE, error=N_("Letters, digits, . _ - (max 64).")),
                metadata={"description": "unit code: its subtree, by the vote's units at vote time"})
    staff = Text(validate=validate.Regexp(CODE_RE, error=N_("Letters, digits, . _ - (max 64).")))
    device = Text(validate=validate.Length(max=64, error=N_("At most 64 characters.")))
    flagged = Text(load_default="include",
                   validate=validate.OneOf(actions.FLAGGED, error=N_("One of include, exclude, only.")))
    hash_tickets = fields.Boolean(load_default=False, metadata={"description": "ticket numbers as HMAC-SHA256"})


def filters_of(args):
    """The loaded query as the action's filters (``from_`` back to ``from``)."""
    filters = dict(args)
    if "from_" in filters:
        filters["from"] = filters.pop("from_")
    return filters


def download(prepared):
    """The bundle as a streamed zip attachment."""
    actor, settings = current_actor(), config()
    body = request_db.for_stream(lambda database: actions.stream(database, actor, settings, prepared))
    return Response(stream_with_context(body), mimetype=ZIP_TYPE, headers={
        "Content-Disposition": f'attachment; filename="{prepared.file_name()}"',
        "X-Content-Type-Options": "nosniff",
    })


@bp.get("/exports/votes")
@api_requires("votes.export")
@doc("Raw votes in your scope as a verifiable bundle (a zip: rows, devices, incidents, sequence ranges, "
     "signed checkpoints, proofs, signed manifest), streamed", query=VoteExportQuerySchema, tag="audit",
     produces=ZIP_TYPE)
def export_votes():
    filters = filters_of(query_args(VoteExportQuerySchema))
    return download(actions.prepare_votes(db(), current_actor(), config(), filters))


@bp.get("/exports/audit")
@api_requires("audit.export")
@doc("The audit log in your scope as a verifiable bundle (a zip), streamed; filter by period, actor, action,"
     " object_type", query=AuditExportQuerySchema, tag="audit", produces=ZIP_TYPE)
def export_audit():
    filters = filters_of(query_args(AuditExportQuerySchema))
    return download(actions.prepare_audit(db(), current_actor(), config(), filters))
