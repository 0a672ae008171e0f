"""Every way of changing something – CLI command, API endpoint, page form – writes exactly one
audit entry, by the right actor, in the same transaction as the change.

The lists below are checked against the app's URL map and the CLI's commands,
so a new writing endpoint, form or command without a case here fails.
"""

import io
import json

import click
import pytest

from server import storage
from server.cli import cli
from tests.live import hailong
from tests.people import NEW_PNG, app_for, sign_in, signed_in

ORG_CSV = b"kind,code,name,parent,title,active\nstaff,NV020,New Person,DN-TT,Chuyen vien,\n"
PASSWORD = "correct horse battery staple"
SCALE = {"levels": [{"value": 2, "label_vi": "Hài lòng", "label_en": "Satisfied", "satisfied": True},
                    {"value": 1, "label_vi": "Không hài lòng", "label_en": "Dissatisfied", "satisfied": False}],
         "reasons": []}


def audit_rows(path):
    db = storage.connect(path)
    try:
        return db.execute("SELECT actor_kind, actor, action FROM audit_log ORDER BY id").fetchall()
    finally:
        db.close()


# --- The API: (endpoint, method, path, body, action) as the admin's token ------------

def api_cases(facts):
    dev, role = facts["devices"]["in"], facts["hr_role_id"]
    return [
        ("admin_account.change_password", "POST", "/api/v1/me/password",
         {"current_password": PASSWORD, "new_password": "another long password"}, "password_changed"),
        ("admin_account.create_token", "POST", "/api/v1/me/tokens", {"name": "script", "password": PASSWORD},
         "token_created"),
        ("admin_account.revoke_token", "DELETE", "/api/v1/me/tokens/{own_token}", None, "token_revoked"),
        ("admin_org.create_unit", "POST", "/api/v1/units", {"code": "NEW", "name": "New", "parent": "DN"}, "create"),
        ("admin_org.update_unit", "PATCH", "/api/v1/units/DN-TT", {"name": "Renamed"}, "update"),
        ("admin_org.create_counter", "POST", "/api/v1/counters", {"code": "NEW-Q", "name": "Q", "unit": "DN-TT"},
         "create"),
        ("admin_org.update_counter", "PATCH", "/api/v1/counters/DN-TT-Q1", {"name": "Renamed"}, "update"),
        ("admin_org.assign", "POST", "/api/v1/counters/DN-TT-Q1/assignments",
         {"staff": "NV004", "valid_from": "2026-12-01"}, "assign"),
        ("admin_org.end_assignment", "PATCH", "/api/v1/counters/DN-TT-Q1/assignments/{assignment}",
         {"valid_to": "2027-12-31"}, "update_assignment"),
        ("admin_org.delete_assignment", "DELETE", "/api/v1/counters/DN-TT-Q1/assignments/{assignment}", None,
         "unassign"),
        ("admin_staff.create", "POST", "/api/v1/staff", {"code": "NV100", "full_name": "A B", "unit": "DN-TT"},
         "create"),
        ("admin_staff.update", "PATCH", "/api/v1/staff/NV001", {"title": "Trưởng bộ phận"}, "update"),
        ("admin_staff.delete", "DELETE", "/api/v1/staff/NV003", None, "delete"),
        ("admin_staff.put_photo", "PUT", "/api/v1/staff/NV001/photo", "photo", "photo"),
        ("admin_staff.put_pin", "PUT", "/api/v1/staff/NV001/pin", {"pin": "246810"}, "set_pin"),
        ("admin_staff.import_", "POST", "/api/v1/staff/import?apply=1", "file", "import"),
        ("admin_devices.revoke", "POST", f"/api/v1/devices/{dev}/revoke", None, "revoke"),
        ("admin_devices.issue_code", "POST", "/api/v1/enrollment-codes", {"counter": "DN-TT-Q1"}, "issue_code"),
        ("admin_users.create", "POST", "/api/v1/users",
         {"username": "newbie", "password": "long enough password", "roles": []}, "create"),
        ("admin_users.update", "PATCH", "/api/v1/users/hr", {"full_name": "H R"}, "update"),
        ("admin_users.grant", "POST", "/api/v1/users/hr/roles", {"role": "auditor", "unit": "DN-TT"}, "grant_role"),
        ("admin_users.revoke", "DELETE", f"/api/v1/users/hr/roles/{role}", None, "revoke_role"),
        ("admin_users.revoke_token", "DELETE", "/api/v1/users/hr/tokens/{hr_token}", None, "token_revoked"),
        ("admin_calendar.set_default_hours", "PUT", "/api/v1/opening-hours", {"hours": "Mon-Sat 07:00-11:30"},
         "set_hours"),
        ("admin_calendar.set_unit_hours", "PUT", "/api/v1/units/DN-TT/opening-hours",
         {"hours": "Mon-Fri 07:00-11:30,13:00-17:00; Sat 07:00-11:30"}, "set_hours"),
        ("admin_calendar.add_holiday", "POST", "/api/v1/holidays", {"day": "2026-12-31", "name_vi": "Nghỉ"},
         "add_holiday"),
        ("admin_calendar.remove_holiday", "DELETE", "/api/v1/holidays/2026-09-02", None, "remove_holiday"),
        ("admin_calendar.import_holidays", "POST", "/api/v1/holidays/import", None, "import_holidays"),
        ("admin_scales.publish", "POST", "/api/v1/scales", SCALE, "publish_scale"),
        ("admin_alerts.ack", "POST", f"/api/v1/alerts/{facts['alerts']['in']}/ack", None, "acknowledge"),
        ("admin_scores.close", "POST", "/api/v1/periods", {"period": facts.get("last_month"), "unit": "DN-TT"},
         "close"),
        ("admin_flags.review", "POST", "/api/v1/flags/{flag}/review", {"decision": "dismiss", "reason": "checked"},
         "review"),
        ("admin_objections.answer", "POST", "/api/v1/objections/{objection}/answer",
         {"decision": "rejected", "answer": "the camera shows nobody"}, "answer"),
        # The tamper-evident log (issue 10): a checkpoint signed on request.
        ("admin_ledger.publish", "POST", "/api/v1/log/votes/checkpoints", None, "checkpoint"),
        ("admin_objections.create", "POST", "/api/v1/objections", {"flag": "{flag2}", "text": "I served them"},
         "create"),
    ]


# Only a signed-in session may do these (never a token): they run as the signed-in admin.
SESSION_ONLY = {"admin_account.change_password", "admin_account.create_token"}
# Only a civil servant's own account does these: they run as the staff user's token.
STAFF_ONLY = {"admin_objections.create"}


API_ENDPOINTS = [case[0] for case in api_cases({"devices": {"in": "d"}, "hr_role_id": 1, "alerts": {"in": 1}})]


def _api_request(client, method, path, payload, token):
    headers = {"Authorization": f"Bearer {token}"}
    if payload in ("photo", "file"):
        data = {"photo": (io.BytesIO(NEW_PNG), "p.png")} if payload == "photo" else \
            {"file": (io.BytesIO(ORG_CSV), "org.csv")}
        return client.open(path, method=method, headers=headers, data=data, content_type="multipart/form-data")
    return client.open(path, method=method, headers=headers, json=payload)


# On PostgreSQL too: every action of server/manage/ with its audit entry, through the API. The page forms and
# the CLI call the same actions (their SQL is the same), so they stay on SQLite.
@pytest.mark.backends
@pytest.mark.parametrize("endpoint", API_ENDPOINTS)
def test_each_api_write_leaves_one_entry_by_the_token(people, endpoint):
    path, facts = people
    _, method, url, payload, action = next(c for c in api_cases(facts) if c[0] == endpoint)
    client = app_for(path).test_client()
    token = facts["tokens"]["admin"]
    if "{assignment}" in url:
        url = url.replace("{assignment}", str(_assignment(path)))
    url = url.replace("{own_token}", str(facts["token_ids"]["admin"])).replace("{hr_token}", str(facts["token_ids"]["hr"]))
    url = url.replace("{flag}", str(facts["flags"]["in"]))
    url = url.replace("{objection}", str(facts["objections"]["in"]))
    if endpoint in STAFF_ONLY:  # only a civil servant's own account objects: as the staff user's token
        token = facts["tokens"]["staff"]
        payload = {**payload, "flag": facts["flags"]["in2"]}
        before = audit_rows(path)
        response = _api_request(client, method, url, payload, token)
        assert response.status_code < 300, response.get_data(as_text=True)
        assert audit_rows(path)[len(before):] == [("token", "staff", action)]
        return
    before = audit_rows(path)
    if endpoint in SESSION_ONLY:
        client, csrf = signed_in(path, "admin")
        before = audit_rows(path)
        response = client.open(url, method=method, json=payload, headers=csrf)
        assert response.status_code < 300, response.get_data(as_text=True)
        assert audit_rows(path)[len(before):] == [("user", "admin", action)]
        return
    response = _api_request(client, method, url, payload, token)
    assert response.status_code < 300, response.get_data(as_text=True)
    assert audit_rows(path)[len(before):] == [("token", "admin", action)]


def _assignment(path):
    """NV004 (of DN-BH) seconded to DN-TT-Q1, made before the write under test."""
    from server.manage import rosters
    from server.manage.actor import cli_actor

    db = storage.connect(path)
    try:
        return rosters.assign(db, cli_actor(), "DN-TT-Q1", {"staff": "NV004", "valid_from": "2027-01-01"})["id"]
    finally:
        db.close()


def test_every_writing_api_endpoint_has_a_case(people):
    app = app_for(people[0])
    writing = {
        rule.endpoint for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
        and not rule.endpoint.startswith("devices.")  # the device API: tablets, not people
    }
    assert writing == set(API_ENDPOINTS)


# --- The pages: (endpoint, url, form, action) as the signed-in admin -------------------

def page_cases(facts):
    dev, role = facts["devices"]["in"], facts["hr_role_id"]
    return [
        ("web_auth.login", "/login", None, "login"),
        ("web_auth.logout", "/logout", {}, "logout"),
        ("web_auth.account:password", "/account",
         {"action": "password", "current_password": PASSWORD, "new_password": "another long password",
          "confirm_password": "another long password"}, "password_changed"),
        ("web_auth.account:token", "/account", {"action": "token", "name": "script", "password": PASSWORD},
         "token_created"),
        ("web_auth.account:revoke", "/account", {"action": "revoke", "token_id": "{own_token}"}, "token_revoked"),
        ("web_org.units", "/admin/units", {"code": "NEW", "name": "New", "parent": "DN"}, "create"),
        ("web_org.unit", "/admin/units/DN-TT", {"name": "Renamed", "parent": "DN", "active": "on"}, "update"),
        ("web_org.counters", "/admin/counters", {"code": "NEW-Q", "name": "Q", "unit": "DN-TT"}, "create"),
        ("web_org.counter", "/admin/counters/DN-TT-Q1", {"name": "Renamed", "unit": "DN-TT", "active": "on"},
         "update"),
        ("web_org.counter:assign", "/admin/counters/DN-TT-Q1",
         {"action": "assign", "staff": "NV004", "valid_from": "2026-12-01", "valid_to": ""}, "assign"),
        ("web_org.counter:end_assignment", "/admin/counters/DN-TT-Q1",
         {"action": "end_assignment", "assignment_id": "{assignment}", "valid_to": "2027-02-01"},
         "update_assignment"),
        ("web_org.counter:delete_assignment", "/admin/counters/DN-TT-Q1",
         {"action": "delete_assignment", "assignment_id": "{assignment}"}, "unassign"),
        ("web_staff.list_", "/admin/staff", {"code": "NV100", "full_name": "A B", "title": "", "unit": "DN-TT"},
         "create"),
        ("web_staff.edit:save", "/admin/staff/NV001",
         {"action": "save", "full_name": "Nhung", "title": "T", "unit": "DN-TT", "active": "on"}, "update"),
        ("web_staff.edit:delete", "/admin/staff/NV003", {"action": "delete"}, "delete"),
        ("web_staff.edit:pin", "/admin/staff/NV001", {"action": "pin", "pin": "246810", "confirm_pin": "246810"},
         "set_pin"),
        ("web_staff.edit:photo", "/admin/staff/NV001", {"action": "photo", "photo": "photo"}, "photo"),
        ("web_staff.import_:apply", "/admin/staff/import", {"action": "apply", "upload": "{upload}"}, "import"),
        ("web_devices.issue_code", "/admin/devices/code", {"counter": "DN-TT-Q1"}, "issue_code"),
        ("web_devices.revoke", f"/admin/devices/{dev}/revoke", {}, "revoke"),
        ("web_users.list_", "/admin/users",
         {"username": "newbie", "full_name": "N", "password": "long enough password", "role": ""}, "create"),
        ("web_users.edit:save", "/admin/users/hr", {"action": "save", "full_name": "H R", "active": "on"}, "update"),
        ("web_users.edit:grant", "/admin/users/hr", {"action": "grant", "role": "auditor", "unit": "DN-TT"},
         "grant_role"),
        ("web_users.edit:revoke", "/admin/users/hr", {"action": "revoke", "role_id": str(role)}, "revoke_role"),
        ("web_users.edit:revoke_token", "/admin/users/hr", {"action": "revoke_token", "token_id": "{hr_token}"},
         "token_revoked"),
        ("web_org.unit:hours", "/admin/units/DN-TT", {"action": "hours", "hours": "Mon-Sat 07:00-11:30"}, "set_hours"),
        ("web_calendar.holidays:hours", "/admin/holidays", {"action": "hours", "hours": "Mon-Sat 07:00-11:30"},
         "set_hours"),
        ("web_calendar.holidays:add", "/admin/holidays",
         {"action": "add", "day": "2026-12-31", "name_vi": "Nghỉ", "name_en": ""}, "add_holiday"),
        ("web_calendar.holidays:remove", "/admin/holidays", {"action": "remove", "day": "2026-09-02"},
         "remove_holiday"),
        ("web_calendar.holidays:import", "/admin/holidays", {"action": "import"}, "import_holidays"),
        ("web_scales.list_", "/admin/scales", {"scale": json.dumps(SCALE), "note": "two levels"}, "publish_scale"),
        ("web_alerts.ack", f"/alerts/{facts['alerts']['in']}/ack", {}, "acknowledge"),
        # The evaluation pages (issue 9): a flag's review, closing a period.
        ("web_flags.flag", f"/flags/{facts['flags']['in']}", {"decision": "confirm", "reason": "misuse"}, "review"),
        ("web_periods.list_", "/periods", {"period": "2025-06", "unit": ""}, "close"),
        ("web_objections.objection", f"/objections/{facts['objections']['in']}",
         {"decision": "rejected", "answer": "the camera shows nobody"}, "answer"),
        ("web_ledger.publish", "/log/votes/checkpoints", {}, "checkpoint"),
        # As the civil servant themselves (STAFF_PAGES): an objection to their second flag.
        ("web_me.me", "/me", {"about": f"flag:{facts['flags']['in2']}", "text": "Tôi đã phục vụ họ"}, "create"),
    ]


# Only a civil servant's own account files an objection: signed in as the staff user.
STAFF_PAGES = {"web_me.me"}


PAGE_CASES = [case[0] for case in page_cases({"devices": {"in": "d"}, "hr_role_id": 1, "alerts": {"in": 1},
                                              "flags": {"in": 1, "in2": 2}, "objections": {"in": 1}})]


@pytest.mark.parametrize("case", PAGE_CASES)
def test_each_page_form_leaves_one_entry_by_the_signed_in_user(people, case):
    path, facts = people
    _, url, form, action = next(c for c in page_cases(facts) if c[0] == case)
    client = app_for(path, WTF_CSRF_ENABLED=False).test_client()
    if form is None:  # signing in is the form
        before = audit_rows(path)
        assert sign_in(client, "admin").status_code == 302
        assert audit_rows(path)[len(before):] == [("user", "admin", action)]
        return
    user = "staff" if case in STAFF_PAGES else "admin"
    sign_in(client, user)
    form = dict(form)
    if form.get("token_id") in ("{own_token}", "{hr_token}"):
        form["token_id"] = str(facts["token_ids"]["admin" if form["token_id"] == "{own_token}" else "hr"])
    if form.get("assignment_id") == "{assignment}":
        form["assignment_id"] = str(_assignment(path))
    if form.get("upload") == "{upload}":
        preview = client.post("/admin/staff/import", data={"action": "preview", "file": (io.BytesIO(ORG_CSV), "o.csv")},
                              content_type="multipart/form-data")
        form["upload"] = _hidden(preview.get_data(as_text=True), "upload")
    if form.get("photo") == "photo":
        form["photo"] = (io.BytesIO(NEW_PNG), "p.png")
    before = audit_rows(path)
    response = client.post(url, data=form, content_type="multipart/form-data")
    assert response.status_code in (200, 302), response.get_data(as_text=True)[:500]
    assert audit_rows(path)[len(before):] == [("user", user, action)]


def _hidden(page, name):
    import re

    return re.search(rf'name="{name}" value="([^"]+)"', page).group(1)


def test_every_page_that_takes_a_post_has_a_case(people):
    app = app_for(people[0])
    posting = {rule.endpoint for rule in app.url_map.iter_rules()
               if rule.endpoint.startswith("web_") and "POST" in rule.methods}
    assert posting == {case.split(":")[0] for case in PAGE_CASES}


# --- The CLI: each command that writes, as `cli` ----------------------------------------

CLI_WRITES = {
    "hailong org import": (["org", "import", "{csv}"], None, "import"),
    "hailong device-code": (["device-code", "--counter", "DN-TT-Q1"], None, "issue_code"),
    "hailong device revoke": (["device", "revoke", "{device}"], None, "revoke"),
    "hailong staff set-pin": (["staff", "set-pin", "NV001", "--pin", "246810"], None, "set_pin"),
    "hailong staff photo": (["staff", "photo", "NV001", "{png}"], None, "photo"),
    "hailong user create": (["user", "create", "--username", "root", "--role", "admin", "--password-stdin"],
                            "a long enough password\n", "create"),
    "hailong user token": (["user", "token", "--username", "admin", "--name", "nightly"], None, "token_created"),
    "hailong hours set": (["hours", "set", "DN-TT", "Mon-Fri 07:00-11:30,13:00-17:00; Sat 07:00-11:30"], None,
                          "set_hours"),
    "hailong hours set-default": (["hours", "set-default", "Mon-Sat 07:00-11:30"], None, "set_hours"),
    "hailong hours clear": (["hours", "clear", "DN-BH"], None, "set_hours"),
    "hailong holidays add": (["holidays", "add", "2026-12-31", "Nghỉ"], None, "add_holiday"),
    "hailong holidays remove": (["holidays", "remove", "2026-09-02"], None, "remove_holiday"),
    "hailong holidays import": (["holidays", "import"], None, "import_holidays"),
    "hailong scale publish": (["scale", "publish", "{scale}"], None, "publish_scale"),
    "hailong user update": (["user", "update", "--username", "nobody", "--staff", "NV002"], None, "update"),
    "hailong period close": (["period", "close", "{last_month}", "--unit", "DN-TT"], None, "close"),
    "hailong flags review": (["flags", "review", "{flag}", "--confirm", "--reason", "misuse"], None, "review"),
    "hailong scan": (["scan", "--day", "2026-10-20"], None, "scan"),
    # The tamper-evident log and exports (issue 10): a checkpoint signed now; an export is recorded.
    "hailong checkpoint": (["checkpoint", "--tree", "votes"], None, "checkpoint"),
    "hailong export": (["export", "--from", "2026-10-01", "--to", "2026-10-31", "-o", "{zip}"], None, "export"),
}
# Commands that change no organisation, device or person (migrate changes the schema only).
CLI_READ_ONLY = {"hailong migrate", "hailong serve", "hailong jobs", "hailong device list",
                 "hailong flags list", "hailong flags show",
                 "hailong hours show", "hailong holidays list", "hailong scale list"}
# Sending a test mail changes nothing stored (it bypasses the outbox); a report is read only.
CLI_READ_ONLY |= {"hailong email test", "hailong report"}
# Scores and closed periods read (a closing is audited as `hailong period close`).
CLI_READ_ONLY |= {"hailong scores", "hailong period list", "hailong period show"}
# The log's key shown, a bundle verified: nothing stored changes.
CLI_READ_ONLY |= {"hailong keys show", "hailong verify"}
# A backup copies the database and lists files; nothing stored changes. A restore replaces the database
# file itself, only with the server stopped: its record is its output and the old file kept beside it
# (hailong.db.before-restore-...), not an entry in the database it replaces (docs/operations.md).
CLI_READ_ONLY |= {"hailong backup list", "hailong restore"}
# Moving to PostgreSQL copies every row, audit log included, into an empty database and leaves the SQLite
# one as it was: a copy, not a change to audit (its record is its output, docs/operations.md).
CLI_READ_ONLY |= {"hailong copy-database"}


def _command_paths(group, prefix="hailong"):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _command_paths(command, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}"


def test_every_command_is_known_to_write_or_not():
    assert set(_command_paths(cli)) == set(CLI_WRITES) | CLI_READ_ONLY


@pytest.mark.parametrize("command", sorted(CLI_WRITES))
def test_each_writing_command_leaves_one_entry_by_the_cli(people, tmp_path, command):
    path, facts = people
    argv, stdin, action = CLI_WRITES[command]
    (tmp_path / "org.csv").write_bytes(ORG_CSV)
    (tmp_path / "p.png").write_bytes(NEW_PNG)
    (tmp_path / "scale.json").write_text(json.dumps(SCALE), encoding="utf-8")
    values = {"{csv}": str(tmp_path / "org.csv"), "{png}": str(tmp_path / "p.png"), "{device}": facts["devices"]["in"],
              "{last_month}": facts["last_month"], "{flag}": str(facts["flags"]["in"]),
              "{scale}": str(tmp_path / "scale.json"), "{zip}": str(tmp_path / "export.zip")}
    argv = [values.get(arg, arg) for arg in argv]
    before = audit_rows(path)
    # The instance folder beside the database holds the log's key (tests/people.py made it there).
    hailong("--database", str(path), *argv, input=stdin, env={"HAILONG_INSTANCE": str(path.parent)})
    assert audit_rows(path)[len(before):] == [("cli", "cli", action)]
