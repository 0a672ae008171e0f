"""Every admin endpoint × every role × an object in and out of the caller's scope.

The users (tests/people.py) hold their roles on DN-TT; DN-BH is outside
their scope. The expected permissions are written out here, independently
of server/auth/actor.py, as the spec. Every refused request must change
nothing and reveal nothing about the object it asked for; every 403, and
nothing else, leaves one audit entry of the denial.

The evaluation pages (dashboard, ranking and its downloads, staff page, unit
comparison, flags, periods, objections, /me) have the same matrix for
signed-in browsers, page × role × in/out of scope, in tests/test_score_pages.py.
The auditor's log pages (checkpoints, publishing one, a vote's proof) have theirs in
tests/test_ledger_pages.py.
"""

import io

import pytest

from server import storage
from tests.people import NEW_PNG, app_for, snapshot

ROLES = ("anonymous", "nobody", "admin", "manager", "hr", "auditor", "staff")
# Which roles may use each kind of endpoint (admin: everywhere; others: in their subtree).
ALLOWED = {
    "me": {"nobody", "admin", "manager", "hr", "auditor", "staff"},
    "units.read": {"admin", "manager", "hr", "auditor"},
    "units.write": {"admin"},
    "counters.read": {"admin", "manager", "auditor"},
    "counters.write": {"admin", "manager"},
    "staff.read": {"admin", "manager", "hr", "auditor"},
    "staff.write": {"admin", "manager", "hr"},
    "staff.import": {"admin"},
    "devices.read": {"admin", "manager", "auditor"},
    "devices.write": {"admin", "manager"},
    "users": {"admin"},
    "audit.read": {"admin", "auditor"},
    "calendar.write": {"admin"},
    "scales.write": {"admin"},
    "alerts.read": {"admin", "manager", "hr"},
    "alerts.write": {"admin", "manager", "hr"},
    # Scores: a staff-role account reads its own (its own record, its own unit); closing is HR's.
    "scores": {"admin", "manager", "hr", "auditor", "staff"},
    "periods.close": {"admin", "hr"},
    # Issue 9. The staff role reads its own flags (NV001's, the "in" flag) and nobody else's.
    "flags.read": {"admin", "manager", "hr", "auditor", "staff"},
    "flags.review": {"admin", "hr"},
    "objections.read": {"admin", "manager", "hr", "auditor", "staff"},
    "objections.write": {"staff"},  # only a civil servant's own account objects
    "objections.answer": {"admin", "hr"},
    # Issue 10: the tamper-evident log. Checkpoints cover every unit; a vote's proof is scoped like votes.
    "log.read": {"admin", "auditor"},
    "log.checkpoint": {"admin", "auditor"},
}
# The permission a 403 is audited under, for the kinds of endpoint that group several.
DENIED_AS = {"scores": {"scores.read"}, "users": {"users.read", "users.write"}, "audit.read": {"audit.read", "votes.read", "incidents.read"}}
OUT_SECRETS = ("DN-BH", "NV004", "NV006", "Phạm Thị Thu Trang", "Bộ phận Một cửa")

# What a list must show to a caller whose roles are on DN-TT.
IN_MARKERS = {"list units": "DN-TT", "list counters": "DN-TT-Q1", "list staff": "NV001",
              "list devices": "DN-TT-Q1", "audit log": "NV001", "votes": "NV001", "incidents": "incidents",
              "default hours": "Mon-Fri 07:00-11:30,13:00-17:00", "list holidays": "2026-09-02",
              "list scales": "long_wait", "get scale": "long_wait",
              "list alerts": "DN-TT-Q1", "list flags": "NV001", "list scores": "DN-TT",
              "list periods": "last_vote_id", "list checkpoints": "hailong/votes", "get checkpoint": "hailong/votes",
              "consistency": '"consistent":true', "server key": "verifier_key"}
ORG_CSV = b"kind,code,name,parent,title,active\nstaff,NV020,New Person,DN-TT,Chuyen vien,\n"


def endpoints(facts):
    """(name, permission, method, path in scope, path out of scope, json/files in, out, ok status, out status).

    Lists have no out-of-scope path: their check is that out-of-scope rows are absent.
    """
    dev_in, dev_out = facts["devices"]["in"], facts["devices"]["out"]
    role, flags, objections = facts["hr_role_id"], facts["flags"], facts["objections"]
    alert_in, alert_out = facts["alerts"]["in"], facts["alerts"]["out"]
    month, last = facts["month"], facts["last_month"]
    first, second = facts["checkpoints"]
    return [
        ("list checkpoints", "log.read", "GET", "/api/v1/log/votes/checkpoints", None, None, None, 200, None),
        ("get checkpoint", "log.read", "GET", f"/api/v1/log/votes/checkpoints/{first}", None, None, None, 200, None),
        ("consistency", "log.read", "GET", f"/api/v1/log/votes/consistency?first={first}&second={second}", None,
         None, None, 200, None),
        ("server key", "log.read", "GET", "/api/v1/log/key", None, None, None, 200, None),
        ("publish checkpoint", "log.checkpoint", "POST", "/api/v1/log/votes/checkpoints", None, None, None, 201,
         None),
        ("vote proof", "log.read", "GET", "/api/v1/votes/00000000-0000-7000-8000-00000000000a/proof",
         "/api/v1/votes/00000000-0000-7000-8000-00000000000b/proof", None, None, 200, 404),
        ("list scores", "scores", "GET", f"/api/v1/scores?period={month}", None, None, None, 200, None),
        ("unit scores", "scores", "GET", f"/api/v1/scores?period={month}&unit=DN-TT",
         f"/api/v1/scores?period={month}&unit=DN-BH", None, None, 200, 404),
        ("staff scores", "scores", "GET", f"/api/v1/staff/NV001/scores?period={month}",
         f"/api/v1/staff/NV004/scores?period={month}", None, None, 200, 404),
        ("list periods", "scores", "GET", "/api/v1/periods", None, None, None, 200, None),
        ("get revision", "scores", "GET", f"/api/v1/periods/{last}/revisions/1",
         f"/api/v1/periods/{last}/revisions/1?unit=DN-BH", None, None, 200, 404),
        ("close period", "periods.close", "POST", "/api/v1/periods", "/api/v1/periods",
         {"period": last, "unit": "DN-TT"}, {"period": last, "unit": "DN-BH"}, 201, 404),
        ("me", "me", "GET", "/api/v1/me", None, None, None, 200, None),
        ("my tokens", "me", "GET", "/api/v1/me/tokens", None, None, None, 200, None),
        ("list units", "units.read", "GET", "/api/v1/units", None, None, None, 200, None),
        ("get unit", "units.read", "GET", "/api/v1/units/DN-TT", "/api/v1/units/DN-BH", None, None, 200, 404),
        ("create unit", "units.write", "POST", "/api/v1/units", "/api/v1/units",
         {"code": "NEW", "name": "New", "parent": "DN-TT"}, {"code": "NEW", "name": "New", "parent": "DN-BH"}, 201, 201),
        ("update unit", "units.write", "PATCH", "/api/v1/units/DN-TT", "/api/v1/units/DN-BH",
         {"name": "Renamed"}, {"name": "Renamed"}, 200, 200),
        ("list counters", "counters.read", "GET", "/api/v1/counters", None, None, None, 200, None),
        ("get counter", "counters.read", "GET", "/api/v1/counters/DN-TT-Q1", "/api/v1/counters/DN-BH-Q1",
         None, None, 200, 404),
        ("create counter", "counters.write", "POST", "/api/v1/counters", "/api/v1/counters",
         {"code": "NEW-Q", "name": "Q", "unit": "DN-TT"}, {"code": "NEW-Q", "name": "Q", "unit": "DN-BH"}, 201, 400),
        ("update counter", "counters.write", "PATCH", "/api/v1/counters/DN-TT-Q1", "/api/v1/counters/DN-BH-Q1",
         {"name": "Renamed", "active": False}, {"name": "Renamed", "active": False}, 200, 404),
        ("list staff", "staff.read", "GET", "/api/v1/staff", None, None, None, 200, None),
        ("get staff", "staff.read", "GET", "/api/v1/staff/NV001", "/api/v1/staff/NV004", None, None, 200, 404),
        ("get photo", "staff.read", "GET", "/api/v1/staff/NV001/photo", "/api/v1/staff/NV004/photo",
         None, None, 200, 404),
        ("create staff", "staff.write", "POST", "/api/v1/staff", "/api/v1/staff",
         {"code": "NV100", "full_name": "A B", "unit": "DN-TT"},
         {"code": "NV100", "full_name": "A B", "unit": "DN-BH"}, 201, 400),
        ("update staff", "staff.write", "PATCH", "/api/v1/staff/NV001", "/api/v1/staff/NV004",
         {"title": "Trưởng bộ phận", "active": False}, {"title": "Trưởng bộ phận", "active": False}, 200, 404),
        ("delete staff", "staff.write", "DELETE", "/api/v1/staff/NV003", "/api/v1/staff/NV006", None, None, 204, 404),
        ("upload photo", "staff.write", "PUT", "/api/v1/staff/NV001/photo", "/api/v1/staff/NV004/photo",
         "photo", "photo", 200, 404),
        ("set pin", "staff.write", "PUT", "/api/v1/staff/NV001/pin", "/api/v1/staff/NV004/pin",
         {"pin": "246810"}, {"pin": "246810"}, 200, 404),
        ("import", "staff.import", "POST", "/api/v1/staff/import?apply=1", "/api/v1/staff/import?apply=1",
         "file", "file", 200, 200),
        ("list devices", "devices.read", "GET", "/api/v1/devices", None, None, None, 200, None),
        ("get device", "devices.read", "GET", f"/api/v1/devices/{dev_in}", f"/api/v1/devices/{dev_out}",
         None, None, 200, 404),
        ("revoke device", "devices.write", "POST", f"/api/v1/devices/{dev_in}/revoke",
         f"/api/v1/devices/{dev_out}/revoke", None, None, 200, 404),
        ("issue code", "devices.write", "POST", "/api/v1/enrollment-codes", "/api/v1/enrollment-codes",
         {"counter": "DN-TT-Q1"}, {"counter": "DN-BH-Q1"}, 201, 404),
        ("list users", "users", "GET", "/api/v1/users", None, None, None, 200, None),
        ("get user", "users", "GET", "/api/v1/users/hr", None, None, None, 200, None),
        ("create user", "users", "POST", "/api/v1/users", None,
         {"username": "newbie", "password": "long enough password", "roles": [{"role": "hr", "unit": "DN-TT"}]},
         None, 201, None),
        ("update user", "users", "PATCH", "/api/v1/users/hr", None, {"full_name": "H R"}, None, 200, None),
        ("grant role", "users", "POST", "/api/v1/users/hr/roles", None, {"role": "auditor", "unit": "DN-BH"},
         None, 201, None),
        ("remove role", "users", "DELETE", f"/api/v1/users/hr/roles/{role}", None, None, None, 200, None),
        ("user tokens", "users", "GET", "/api/v1/users/hr/tokens", None, None, None, 200, None),
        ("revoke user token", "users", "DELETE", f"/api/v1/users/hr/tokens/{facts['token_ids']['hr']}", None, None,
         None, 200, None),
        ("audit log", "audit.read", "GET", "/api/v1/audit", None, None, None, 200, None),
        ("votes", "audit.read", "GET", "/api/v1/votes", None, None, None, 200, None),
        ("incidents", "audit.read", "GET", "/api/v1/incidents", None, None, None, 200, None),
        ("default hours", "units.read", "GET", "/api/v1/opening-hours", None, None, None, 200, None),
        ("set default hours", "calendar.write", "PUT", "/api/v1/opening-hours", None,
         {"hours": "Mon-Sat 07:00-11:30"}, None, 200, None),
        ("unit hours", "units.read", "GET", "/api/v1/units/DN-TT/opening-hours", "/api/v1/units/DN-BH/opening-hours",
         None, None, 200, 404),
        ("set unit hours", "calendar.write", "PUT", "/api/v1/units/DN-TT/opening-hours",
         "/api/v1/units/DN-BH/opening-hours", {"hours": "Mon-Sat 07:00-11:30"}, {"hours": "Mon-Sat 07:00-11:30"},
         200, 200),
        ("list holidays", "units.read", "GET", "/api/v1/holidays", None, None, None, 200, None),
        ("add holiday", "calendar.write", "POST", "/api/v1/holidays", None,
         {"day": "2026-12-31", "name_vi": "Nghỉ"}, None, 201, None),
        ("remove holiday", "calendar.write", "DELETE", "/api/v1/holidays/2026-09-02", None, None, None, 204, None),
        ("import holidays", "calendar.write", "POST", "/api/v1/holidays/import", None, None, None, 200, None),
        ("list scales", "units.read", "GET", "/api/v1/scales", None, None, None, 200, None),
        ("get scale", "units.read", "GET", "/api/v1/scales/1", None, None, None, 200, None),
        ("publish scale", "scales.write", "POST", "/api/v1/scales", None,
         {"levels": [{"value": 2, "label_vi": "Có", "label_en": "Yes", "satisfied": True},
                     {"value": 1, "label_vi": "Không", "label_en": "No", "satisfied": False}]}, None, 201, None),
        ("list alerts", "alerts.read", "GET", "/api/v1/alerts", None, None, None, 200, None),
        ("get alert", "alerts.read", "GET", f"/api/v1/alerts/{alert_in}", f"/api/v1/alerts/{alert_out}",
         None, None, 200, 404),
        ("ack alert", "alerts.write", "POST", f"/api/v1/alerts/{alert_in}/ack", f"/api/v1/alerts/{alert_out}/ack",
         None, None, 200, 404),
        ("list flags", "flags.read", "GET", "/api/v1/flags", None, None, None, 200, None),
        ("get flag", "flags.read", "GET", f"/api/v1/flags/{flags['in']}", f"/api/v1/flags/{flags['out']}",
         None, None, 200, 404),
        ("review flag", "flags.review", "POST", f"/api/v1/flags/{flags['in']}/review",
         f"/api/v1/flags/{flags['out']}/review", {"decision": "confirm", "reason": "r"},
         {"decision": "confirm", "reason": "r"}, 200, 404),
        ("list objections", "objections.read", "GET", "/api/v1/objections", None, None, None, 200, None),
        ("get objection", "objections.read", "GET", f"/api/v1/objections/{objections['in']}",
         f"/api/v1/objections/{objections['out']}", None, None, 200, 404),
        ("file objection", "objections.write", "POST", "/api/v1/objections", None,
         {"flag": flags["in2"], "text": "Giờ nghỉ trưa tôi vẫn phục vụ."}, None, 201, None),
        ("answer objection", "objections.answer", "POST", f"/api/v1/objections/{objections['in']}/answer",
         f"/api/v1/objections/{objections['out']}/answer", {"decision": "rejected", "answer": "a"},
         {"decision": "rejected", "answer": "a"}, 200, 404),
    ]


# Endpoints that name an object (or a unit in the body) get an out-of-scope variant.
SCOPED = {
    "get unit", "create unit", "update unit", "get counter", "create counter", "update counter", "get staff",
    "get photo", "create staff", "update staff", "delete staff", "upload photo", "set pin", "get device",
    "revoke device", "issue code", "import", "get alert", "ack alert", "get flag", "review flag", "unit hours",
    "set unit hours", "unit scores", "staff scores", "get revision", "close period", "vote proof",
}
NAMES = [
    "me", "my tokens", "list units", "get unit", "create unit", "update unit", "list counters", "get counter",
    "create counter", "update counter", "list staff", "get staff", "get photo", "create staff", "update staff",
    "delete staff", "upload photo", "set pin", "import", "list devices", "get device", "revoke device", "issue code",
    "list users", "get user", "create user", "update user", "grant role", "remove role", "user tokens",
    "revoke user token", "audit log", "votes",
    "incidents", "list alerts", "get alert", "ack alert", "list flags", "get flag", "review flag",
    "default hours", "set default hours", "unit hours", "set unit hours", "list holidays",
    "add holiday", "remove holiday", "import holidays", "list scales", "get scale", "publish scale",
    "list scores", "unit scores", "staff scores", "list periods", "get revision", "close period",
    "list checkpoints", "get checkpoint", "consistency", "server key", "publish checkpoint", "vote proof",
]
CASES = [
    (name, role, scope)
    for name in NAMES
    for role in ROLES
    for scope in (("in", "out") if name in SCOPED else ("in",))
]


def _request(client, method, path, payload, token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if payload == "photo":
        return client.open(path, method=method, headers=headers,
                           data={"photo": (io.BytesIO(NEW_PNG), "p.png")}, content_type="multipart/form-data")
    if payload == "file":
        return client.open(path, method=method, headers=headers,
                           data={"file": (io.BytesIO(ORG_CSV), "org.csv")}, content_type="multipart/form-data")
    return client.open(path, method=method, headers=headers, json=payload)


@pytest.mark.parametrize("name,role,scope", CASES)
def test_role_matrix(people, name, role, scope):
    path_db, facts = people
    endpoint = next(e for e in endpoints(facts) if e[0] == name)
    _, permission, method, path_in, path_out, body_in, body_out, ok, out_status = endpoint
    path, payload = (path_out, body_out) if scope == "out" and path_out else (path_in, body_in)
    client = app_for(path_db).test_client()
    db = storage.connect(path_db)
    before = snapshot(db)
    response = _request(client, method, path, payload, facts["tokens"].get(role))
    after = snapshot(db)
    denied = db.execute("SELECT actor_kind, actor, object_id FROM audit_log WHERE action = 'denied'").fetchall()
    db.close()
    text = response.get_data().decode("utf-8", "replace")

    if role == "anonymous":
        expected = 401
    elif role not in ALLOWED[permission]:
        expected = 403
    elif scope == "out" and path_out and role != "admin":
        expected = out_status
    else:
        expected = ok
    assert response.status_code == expected, text

    if expected == 403:
        assert [(kind, actor) for kind, actor, _ in denied] == [("token", role)], denied
        assert denied[0][2] in DENIED_AS.get(permission, {permission})
    else:
        assert denied == [], "only a 403 is a denial"
    if expected >= 400:
        assert before == after, "a refused request changed something"
        assert set(response.json) == {"error"}
        assert not any(secret in text for secret in OUT_SECRETS), text
    elif method == "GET" and path_out is None and role != "admin" and name not in ("me", "my tokens"):
        # A list: rows of the caller's units only.
        assert not any(secret in text for secret in OUT_SECRETS), text
        assert facts["devices"]["out"] not in text
        assert IN_MARKERS[name] in text
    if expected < 400 and method != "GET":
        assert before != after or name == "import", "an accepted write changed nothing"
