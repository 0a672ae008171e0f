"""Alerts as people see them: listed in the actor's subtree, acknowledged with an audit entry.

The thresholds that raise them run in ``hailong jobs`` (``server/notify/alerts.py``).
An alert without a unit (a flag about no unit) is seen by admins only.
"""

from server import audit
from server.errors import N_
from server.manage import not_found, require
from server.storage import alerts, timestamp, write_transaction

FIELDS = ("id", "kind", "severity", "unit", "unit_name", "counter", "counter_name", "staff", "staff_name",
          "device_id", "flag_id", "detail", "created_at", "acknowledged_at", "acknowledged_by")


def _public(row):
    return {key: row.get(key) for key in FIELDS}


def list_alerts(db, actor, open_only=False, before_id=None, limit=100):
    """Alerts in the actor's subtree, newest first (``open_only``: not acknowledged yet)."""
    require(actor, "alerts.read")
    rows = alerts.list_in(db, actor.scope(db, "alerts.read"), open_only, before_id, limit)
    return [_public(row) for row in rows]


def count_open(db, actor):
    """How many alerts in the actor's subtree nobody has acknowledged (for the dashboard)."""
    require(actor, "alerts.read")
    return alerts.count_open(db, actor.scope(db, "alerts.read"))


def get_alert(db, actor, alert_id, permission="alerts.read"):
    require(actor, permission)
    row = alerts.get(db, alert_id, actor.scope(db, permission))
    if row is None:
        raise not_found(N_("No alert with this number."))
    return _public(row)


def acknowledge(db, actor, alert_id):
    """Say the alert has been seen; the first acknowledgement is kept and audited, a second changes nothing."""
    with write_transaction(db):
        row = get_alert(db, actor, alert_id, "alerts.write")
        if alerts.acknowledge(db, alert_id, actor.name, timestamp()):
            fresh = alerts.get(db, alert_id)
            audit.record(db, actor, "acknowledge", "alert", alert_id, fresh["unit_id"],
                         before={"acknowledged_at": None},
                         after={"acknowledged_at": fresh["acknowledged_at"], "acknowledged_by": fresh["acknowledged_by"]})
            row = _public(fresh)
    return row
