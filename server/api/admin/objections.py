"""Objections: a civil servant's to their flag or a closed period's grade, and HR's answer."""

from flask import Blueprint

from server.api.admin import body, db, doc, dump, query_args
from server.api.admin.schemas import ObjectionAnswerSchema, ObjectionQuerySchema, ObjectionSchema
from server.auth import api_requires, current_actor
from server.manage import objections

bp = Blueprint("admin_objections", __name__, url_prefix="/api/v1")


@bp.get("/objections")
@api_requires(None)  # objections.read on the unit, or the staff role for one's own (the action decides)
@doc("Objections in your scope (a civil servant: their own), newest first; filter by status, staff;"
     " page with before_id", response=ObjectionSchema, many="objections", query=ObjectionQuerySchema,
     tag="flags")
def list_():
    rows = objections.list_objections(db(), current_actor(), query_args(ObjectionQuerySchema))
    return {"objections": dump(ObjectionSchema, rows, many=True)}


@bp.post("/objections")
@api_requires("objections.write")
@doc("Object to one of your flags ({flag, text}) or to a closed period's grade ({period, text}):"
     " a civil servant's own account only", body=ObjectionSchema, response=ObjectionSchema, status=201, tag="flags")
def create():
    return dump(ObjectionSchema, objections.file_objection(db(), current_actor(), body(ObjectionSchema))), 201


@bp.get("/objections/<int:objection_id>")
@api_requires(None)
@doc("One objection", response=ObjectionSchema, tag="flags")
def get(objection_id):
    return dump(ObjectionSchema, objections.get_objection(db(), current_actor(), objection_id))


@bp.post("/objections/<int:objection_id>/answer")
@api_requires("objections.answer")
@doc("Answer an objection once: {decision: upheld|rejected, answer}", body=ObjectionAnswerSchema,
     response=ObjectionSchema, tag="flags")
def answer(objection_id):
    data = body(ObjectionAnswerSchema)
    return dump(ObjectionSchema, objections.answer_objection(db(), current_actor(), objection_id, data["decision"],
                                                             data["answer"]))
