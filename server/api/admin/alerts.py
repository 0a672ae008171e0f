"""Alerts: the list in your subtree, one alert, acknowledging it."""

from flask import Blueprint
from marshmallow import fields, validate

from server.api.admin import db, doc, dump, query_args
from server.auth import api_requires, current_actor
from server.errors import N_
from server.manage import alerts
from server.schemas import BaseSchema, Integer

bp = Blueprint("admin_alerts", __name__, url_prefix="/api/v1")


class AlertSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(dump_only=True, metadata={"description": "negative_share, silent_tablet or high_flag"})
    severity = fields.String(dump_only=True)
    unit = fields.String(dump_only=True, allow_none=True)
    unit_name = fields.String(dump_only=True, allow_none=True)
    counter = fields.String(dump_only=True, allow_none=True)
    counter_name = fields.String(dump_only=True, allow_none=True)
    staff = fields.String(dump_only=True, allow_none=True)
    staff_name = fields.String(dump_only=True, allow_none=True)
    device_id = fields.String(dump_only=True, allow_none=True)
    flag_id = fields.Integer(dump_only=True, allow_none=True)
    detail = fields.Dict(dump_only=True, metadata={"description": "the figures behind the alert"})
    created_at = fields.String(dump_only=True)
    acknowledged_at = fields.String(dump_only=True, allow_none=True)
    acknowledged_by = fields.String(dump_only=True, allow_none=True)


class AlertQuerySchema(BaseSchema):
    open = fields.Boolean(load_default=False, metadata={"description": "only alerts nobody has acknowledged"})
    before_id = Integer()
    limit = Integer(load_default=100, validate=validate.Range(min=1, max=500, error=N_("From 1 to 500.")))


@bp.get("/alerts")
@api_requires("alerts.read")
@doc("Alerts in your subtree, newest first; page with before_id", response=AlertSchema, many="alerts",
     query=AlertQuerySchema, tag="alerts")
def list_():
    args = query_args(AlertQuerySchema)
    rows = alerts.list_alerts(db(), current_actor(), args["open"], args.get("before_id"), args["limit"])
    return {"alerts": dump(AlertSchema, rows, many=True)}


@bp.get("/alerts/<int:alert_id>")
@api_requires("alerts.read")
@doc("One alert", response=AlertSchema, tag="alerts")
def get(alert_id):
    return dump(AlertSchema, alerts.get_alert(db(), current_actor(), alert_id))


@bp.post("/alerts/<int:alert_id>/ack")
@api_requires("alerts.write")
@doc("Acknowledge an alert (audited; acknowledging it again changes nothing)", response=AlertSchema, tag="alerts")
def ack(alert_id):
    return dump(AlertSchema, alerts.acknowledge(db(), current_actor(), alert_id))
