"""The auditors' export page: filters, then the bundle as a streamed download (docs/verify.md).

The form is a GET, so a download is a link an auditor can keep and run again.
A filter the action refuses (a date, an unknown code) comes back to the
form with its message; a unit outside the auditor's units is a 403, audited.
"""

from flask import Blueprint, current_app, render_template, request

from server.api.admin.exports import AuditExportQuerySchema, VoteExportQuerySchema, download, filters_of
from server.auth import current_actor, page_requires
from server.db import get_db
from server.manage import exports as actions
from server.web import attempt, page_errors

bp = Blueprint("web_exports", __name__, url_prefix="/admin")

FIELDS = ("from", "to", "unit", "staff", "device", "flagged", "format", "actor", "action", "object_type")
CHECKBOXES = ("hash_tickets", "bom")


def _form():
    """The query as the form shows it again: text fields as typed, checkboxes ticked or not."""
    form = {name: request.args.get(name, "").strip() for name in FIELDS}
    form.update({name: request.args.get(name) in ("1", "on", "true") for name in CHECKBOXES})
    return form


def _page(form, errors=None, message=None, status=200):
    db, actor = get_db(), current_actor()
    return render_template("exports.html", form=form, errors=errors or {}, message=message,
                           units=actions.units_for(db, actor), formats=actions.FORMATS, flagged=actions.FLAGGED,
                           can_audit=actor.can("audit.export")), status


@bp.get("/exports")
@page_requires("votes.export")
def exports():
    return _page(_form())


@bp.get("/exports/votes.zip")
@page_requires("votes.export")
def votes_zip():
    return _download(VoteExportQuerySchema, actions.prepare_votes)


@bp.get("/exports/audit.zip")
@page_requires("audit.export")
def audit_zip():
    return _download(AuditExportQuerySchema, actions.prepare_audit)


def _download(schema, prepare):
    form = _form()
    args = {name: value for name, value in form.items() if value not in ("", False)}
    if schema is AuditExportQuerySchema:
        args = {name: value for name, value in args.items()
                if name in ("from", "to", "format", "bom", *actions.AUDIT_FILTERS)}
    prepared, errors, message, status = attempt(
        lambda: prepare(get_db(), current_actor(), current_app.config, filters_of(schema().load(args))))
    if prepared is None:
        return _page(form, errors, message, status)
    return download(prepared)


page_errors(bp)
