"""Flags raised by the anomaly scan and HR's review of them."""

from flask import Blueprint

from server.api.admin import body, config, db, doc, dump, query_args
from server.api.admin.schemas import FlagDetailSchema, FlagQuerySchema, FlagReviewSchema, FlagSchema
from server.auth import api_requires, current_actor
from server.manage import flags

bp = Blueprint("admin_flags", __name__, url_prefix="/api/v1")


@bp.get("/flags")
@api_requires(None)  # flags.read on the flag's unit, or the staff role for one's own (the action decides)
@doc("Flags in your scope (a civil servant: their own), newest first; filter by status, unit, staff, period;"
     " page with before_id", response=FlagSchema, many="flags", query=FlagQuerySchema, tag="flags")
def list_():
    rows = flags.list_flags(db(), current_actor(), query_args(FlagQuerySchema), config())
    return {"flags": dump(FlagSchema, rows, many=True)}


@bp.get("/flags/<int:flag_id>")
@api_requires(None)
@doc("One flag with the votes it concerns and every review of it", response=FlagDetailSchema, tag="flags")
def get(flag_id):
    return dump(FlagDetailSchema, flags.get_flag(db(), current_actor(), flag_id))


@bp.post("/flags/<int:flag_id>/review")
@api_requires("flags.review")
@doc("Confirm misuse (its votes leave the scores) or dismiss the flag (they count), with a reason;"
     " a reviewed flag may be reviewed again", body=FlagReviewSchema, response=FlagDetailSchema, tag="flags")
def review(flag_id):
    data = body(FlagReviewSchema)
    done = flags.review_flag(db(), current_actor(), flag_id, data["decision"], data["reason"], config())
    return dump(FlagDetailSchema, done)
