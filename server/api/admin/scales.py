"""Rating-scale versions."""

from flask import Blueprint

from server.api.admin import body, db, doc, dump
from server.api.admin.schemas import ScaleSchema
from server.auth import api_requires, current_actor
from server.manage import scales

bp = Blueprint("admin_scales", __name__, url_prefix="/api/v1")


@bp.get("/scales")
@api_requires("units.read")
@doc("Every rating-scale version, newest (current) first", response=ScaleSchema, many="scales", tag="scales")
def list_():
    return {"scales": dump(ScaleSchema, scales.list_scales(db(), current_actor()), many=True)}


@bp.get("/scales/<int:version>")
@api_requires("units.read")
@doc("One rating-scale version", response=ScaleSchema, tag="scales")
def get(version):
    return dump(ScaleSchema, scales.get_scale(db(), current_actor(), version))


@bp.post("/scales")
@api_requires("scales.write")
@doc("Publish the next rating-scale version (levels with values, labels vi/en, satisfied, weights; reason "
     "codes); tablets get it with their next configuration, votes keep the version they were cast with",
     body=ScaleSchema, response=ScaleSchema, status=201, tag="scales")
def publish():
    return dump(ScaleSchema, {**scales.publish(db(), current_actor(), body(ScaleSchema)), "current": True}), 201
