"""Alerts: the list of the visitor's subtree, one alert (the link in its mail), acknowledging it."""

from flask import Blueprint, redirect, render_template, request, url_for

from server.auth import current_actor, page_requires
from server.db import get_db
from server.manage import alerts
from server.web import page_errors

bp = Blueprint("web_alerts", __name__)


@bp.get("/alerts")
@page_requires("alerts.read")
def list_():
    actor = current_actor()
    open_only = request.args.get("open") == "1"
    rows = alerts.list_alerts(get_db(), actor, open_only=open_only, limit=200)
    return render_template("alerts.html", alerts=rows, open_only=open_only, can_ack=actor.can("alerts.write"))


@bp.get("/alerts/<int:alert_id>")
@page_requires("alerts.read")
def detail(alert_id):
    actor = current_actor()
    alert = alerts.get_alert(get_db(), actor, alert_id)
    return render_template("alerts.html", alerts=[alert], single=True, can_ack=actor.can("alerts.write"))


@bp.post("/alerts/<int:alert_id>/ack")
@page_requires("alerts.write")
def ack(alert_id):
    alerts.acknowledge(get_db(), current_actor(), alert_id)
    return redirect(url_for("web_alerts.detail", alert_id=alert_id))


page_errors(bp)
