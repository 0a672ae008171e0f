"""Scores and periods: ranking tables, one person's page, closing a period, reading its revisions.

Read by HR, managers and auditors (their subtree) and admin; a ``staff``-role
account reads its own scores only (the actions check, so these views ask for
no one permission). Closing needs ``periods.close``.
"""

from flask import Blueprint

from server.api.admin import body, config, db, doc, dump, query_args
from server.api.admin.score_schemas import (
    ClosedPeriodSchema, PeriodCloseSchema, RevisionQuerySchema, ScoresQuerySchema, ScoresSchema, StaffDetailSchema,
    StaffScoresQuerySchema,
)
from server.auth import api_requires, current_actor
from server.manage import periods, scores

bp = Blueprint("admin_scores", __name__, url_prefix="/api/v1")


@bp.get("/scores")
@api_requires(None)
@doc("Scores of a period (2026-10, 2026-Q4, 2026) for your subtree or a unit's: staff, counters, units, total;"
     " a closed period from its latest revision", response=ScoresSchema, query=ScoresQuerySchema, tag="scores")
def list_():
    args = query_args(ScoresQuerySchema)
    answer = scores.period_scores(db(), current_actor(), args["period"], args["unit"], args["include_flagged"],
                                  settings=config())
    return dump(ScoresSchema, answer)


@bp.get("/staff/<code>/scores")
@api_requires(None)
@doc("One staff member's period: score with and without flagged votes, levels, monthly series, reasons,"
     " weekday x hour counts, flags, grade history", response=StaffDetailSchema, query=StaffScoresQuerySchema,
     tag="scores")
def staff(code):
    args = query_args(StaffScoresQuerySchema)
    return dump(StaffDetailSchema, scores.staff_detail(db(), current_actor(), code, args["period"], settings=config()))


@bp.get("/periods")
@api_requires(None)
@doc("Closed periods you may read, newest first, with their revisions", response=ClosedPeriodSchema,
     many="periods", tag="scores")
def list_periods():
    return {"periods": dump(ClosedPeriodSchema, periods.list_periods(db(), current_actor()), many=True)}


@bp.post("/periods")
@api_requires("periods.close")
@doc("Close a period for a unit's subtree (unit left out: the whole organisation, admin only): its scores are"
     " frozen as revision 1", body=PeriodCloseSchema, response=ClosedPeriodSchema, status=201, tag="scores")
def close():
    data = body(PeriodCloseSchema)
    closed = periods.close_period(db(), current_actor(), data["period"], data["unit"], settings=config())
    return dump(ClosedPeriodSchema, closed), 201


@bp.get("/periods/<key>/revisions/<int:revision>")
@api_requires(None)
@doc("One revision of a closed period, in the shape of GET /scores", response=ScoresSchema,
     query=RevisionQuerySchema, tag="scores")
def revision(key, revision):
    args = query_args(RevisionQuerySchema)
    answer = periods.period_revision(db(), current_actor(), key, revision, args["unit"], args["include_flagged"],
                                     settings=config())
    return dump(ScoresSchema, answer)
