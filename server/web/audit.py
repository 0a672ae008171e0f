"""The audit log, filterable (admins: everything; auditors: their units), with readable changes.

Each entry keeps its object before and after as JSON; the page shows what
changed (field: old → new), or the fields of what was created or deleted,
with times in local time and yes/no in words.
"""

import re

from flask import Blueprint, render_template, request
from flask_babel import gettext

from server import audit as audit_service
from server.api.admin.schemas import AuditQuerySchema
from server.auth import current_actor, page_requires
from server.db import get_db
from server.errors import N_
from server.web import page_errors
from server.web.formats import NO_VALUE, local

bp = Blueprint("web_audit", __name__, url_prefix="/admin")

FILTERS = ("actor", "action", "object_type")
ACTIONS = {
    "create": N_("created"), "update": N_("changed"), "delete": N_("deleted"),
    "login": N_("signed in"), "logout": N_("signed out"), "login_failed": N_("failed sign-in"),
    "login_throttled": N_("sign-in refused: too many failures"), "password_changed": N_("changed their password"),
    "token_created": N_("created an API token"), "token_revoked": N_("revoked an API token"),
    "issue_code": N_("issued an enrollment code"), "revoke": N_("revoked"), "set_pin": N_("set the kiosk PIN"),
    "photo": N_("uploaded a photo"), "grant_role": N_("granted a role"), "revoke_role": N_("removed a role"),
    "import": N_("imported a file"),
    "password_change_failed": N_("entered a wrong password to change it"),
    "token_create_failed": N_("entered a wrong password to create an API token"),
    "denied": N_("was refused: no permission"),
    # Issue 10: the log and the exports.
    "checkpoint": N_("published a checkpoint"), "export": N_("exported"),
}
OBJECTS = {
    "unit": N_("unit"), "counter": N_("counter"), "staff": N_("staff member"), "user": N_("user"),
    "device": N_("device"), "api_token": N_("API token"), "org": N_("organisation"), "permission": N_("permission"),
    "address": N_("address"), "log": N_("log"), "votes": N_("votes"), "audit": N_("audit log"),
}
FIELDS = {
    "code": N_("Code"), "name": N_("Name"), "full_name": N_("Full name"), "title": N_("Title"), "unit": N_("Unit"),
    "parent": N_("Parent unit"), "active": N_("Active"), "roles": N_("Roles"), "role": N_("Role"),
    "username": N_("Username"), "expires_at": N_("Expires"), "revoked_at": N_("Revoked"),
    "created_at": N_("Created"), "updated_at": N_("Last changed"), "status": N_("State"),
    "password_changed": N_("Password changed"), "has_photo": N_("Photo"), "prefix": N_("Starts with"),
    "bytes": N_("Size (bytes)"), "content_type": N_("Type"),
    "tokens_revoked": N_("API tokens revoked"), "attempts": N_("Attempts"), "first_at": N_("First"),
    "limit": N_("Limit reached for"), "user": N_("User"),
    # A refused request: the first one's method and address, how often in its hour, the last time.
    "method": N_("Request"), "path": N_("Address"), "times": N_("Times"), "last_at": N_("Last time"),
    # A checkpoint (its tree, size and root hash); an export (filters, format, counts, the checkpoint it proves against).
    "tree": N_("Tree"), "size": N_("Leaves"), "root": N_("Root hash"), "filters": N_("Filters"),
    "format": N_("Format"), "tickets": N_("Tickets"), "counts": N_("Counts"), "checkpoint": N_("Checkpoint"),
    "complete": N_("Complete"),
}
ACTOR_KINDS = {"user": N_("on the pages"), "token": N_("with an API token"), "cli": N_("on the command line"),
               "anonymous": N_("not signed in")}
UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\Z")


@bp.get("/audit")
@page_requires("audit.read")
def audit_log():
    args = {k: v for k, v in request.args.items() if v and k in (*FILTERS, "before_id")}
    query = AuditQuerySchema().load(args)
    entries = audit_service.entries_for(get_db(), current_actor(), query)
    filters = {k: v for k, v in args.items() if k in FILTERS}
    older = {**filters, "before_id": entries[-1]["id"]} if len(entries) >= query["limit"] else None
    return render_template("audit.html", entries=entries, filters=filters, paged="before_id" in args,
                           older=older)


def changes(before, after):
    """``[(field, old, new)]``: the fields that differ, or every field of a created (deleted) object.

    ``old`` is None for a created object's fields and ``new`` None for a
    deleted one's; empty values of those are left out, and so is the
    database ``id`` (the object column names the object).
    """
    before, after = before or {}, after or {}
    if before and after:
        names = [*after, *(name for name in before if name not in after)]
        return [(name, before.get(name), after.get(name)) for name in names
                if before.get(name) != after.get(name) and name != "id"]
    return [(name, before.get(name), after.get(name)) for name in (after or before)
            if (after or before)[name] not in (None, "", [], {}) and name != "id"]


@bp.app_template_filter("audit_value")
def shown(value):
    """One value of an entry, as people read it: local times, yes/no, roles as 'manager @ DN-TT'."""
    if value is None or value == "":
        return NO_VALUE
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, str) and UTC_TIME.match(value):
        return local(value, seconds=True)
    if isinstance(value, list):
        return ", ".join(shown(item) for item in value) or NO_VALUE
    if isinstance(value, dict):
        if "role" in value:
            return value["role"] + (f" @ {value['unit']}" if value.get("unit") else "")
        return "; ".join(f"{label(k)}: {shown(v)}" for k, v in value.items() if k != "id")
    return str(value)


@bp.app_template_filter("audit_label")
def label(name, kind="field"):
    """A field, action, object type or actor kind in the page's language (its own name when we have no words for it)."""
    words = {"field": FIELDS, "action": ACTIONS, "object": OBJECTS, "actor": ACTOR_KINDS}[kind].get(name)
    return gettext(words) if words else name


@bp.app_template_global("audit_changes")
def audit_changes(entry):
    return changes(entry["before"], entry["after"])


page_errors(bp)
