"""Flags read in scope, reviewed with a reason by HR, audited, and the votes' standing marked for recounting."""

import pytest
import requests

from devtools.processes import Server
from server import storage
from server.scoring.days import local_day
from tests.flagged import flag_both
from tests.live import hailong
from tests.people import app_for, copy_db

pytestmark = pytest.mark.backends


def api(path, facts, role):
    return app_for(path).test_client(), {"Authorization": f"Bearer {facts['tokens'][role]}"}


@pytest.fixture
def flagged(people):
    path, facts = people
    return path, facts, flag_both(path)


def audit_of_flags(path):
    db = storage.connect(path)
    try:
        return db.execute("SELECT actor, action, object_id, before, after FROM audit_log WHERE object_type = 'flag'"
                          " ORDER BY id").fetchall()
    finally:
        db.close()


@pytest.mark.parametrize("role,seen", [("admin", {"in", "in2", "out"}), ("hr", {"in", "in2"}),
                                       ("manager", {"in", "in2"}), ("auditor", {"in", "in2"}),
                                       ("staff", {"in", "in2"})])
def test_each_role_lists_the_flags_in_its_reach(flagged, role, seen):
    path, facts, ids = flagged
    client, headers = api(path, facts, role)
    listed = client.get("/api/v1/flags", headers=headers)
    assert listed.status_code == 200
    assert {f["id"] for f in listed.json["flags"]} == {ids[name] for name in seen}
    out = client.get(f"/api/v1/flags/{ids['out']}", headers=headers)
    assert out.status_code == (200 if "out" in seen else 404)


def test_someone_without_a_flag_role_is_refused(flagged):
    path, facts, _ids = flagged
    client, headers = api(path, facts, "nobody")
    assert client.get("/api/v1/flags", headers=headers).status_code == 403


def test_a_flag_shows_its_votes_and_numbers(flagged):
    path, facts, ids = flagged
    client, headers = api(path, facts, "hr")
    flag = client.get(f"/api/v1/flags/{ids['in']}", headers=headers).json
    assert (flag["staff"], flag["unit"], flag["kind"], flag["status"], flag["n_votes"]) == \
        ("NV001", "DN-TT", "burst", "open", 1)
    assert flag["detail"] == {"expected": 0.4, "observed": 12}
    assert [v["uuid"] for v in flag["votes"]] == ["00000000-0000-7000-8000-00000000000a"]
    assert flag["reviews"] == []


def test_filters_narrow_the_list(flagged):
    path, facts, ids = flagged
    client, headers = api(path, facts, "admin")
    assert [f["id"] for f in client.get("/api/v1/flags?unit=DN-BH", headers=headers).json["flags"]] == [ids["out"]]
    assert [f["id"] for f in client.get("/api/v1/flags?staff=NV001", headers=headers).json["flags"]] == \
        [ids["in2"], ids["in"]]
    assert client.get("/api/v1/flags?status=confirmed", headers=headers).json["flags"] == []
    assert client.get("/api/v1/flags?status=nonsense", headers=headers).status_code == 400
    assert client.get("/api/v1/flags?unit=NOWHERE", headers=headers).json["flags"] == []


def test_hr_confirms_with_a_reason_and_the_days_votes_are_marked_for_recount(flagged):
    path, facts, ids = flagged
    client, headers = api(path, facts, "hr")
    done = client.post(f"/api/v1/flags/{ids['in']}/review", headers=headers,
                       json={"decision": "confirm", "reason": "Tự bấm đánh giá cho mình, xem camera."})
    assert done.status_code == 200, done.json
    assert (done.json["status"], done.json["reviewed_by"]) == ("confirmed", "hr")
    db = storage.connect(path)
    counted_at, staff_id = db.execute("SELECT counted_at, staff_id FROM votes WHERE uuid LIKE '%00a'").fetchone()
    dirty = db.execute("SELECT day, staff_id FROM rollup_dirty").fetchall()
    db.close()
    assert dirty == [(local_day(counted_at, "Asia/Ho_Chi_Minh"), staff_id)]
    assert [(a, act, oid) for a, act, oid, _b, _a in audit_of_flags(path)] == [("hr", "review", str(ids["in"]))]


def test_a_review_needs_a_reason_and_a_known_decision(flagged):
    path, facts, ids = flagged
    client, headers = api(path, facts, "hr")
    for payload in ({"decision": "confirm", "reason": ""}, {"decision": "confirm", "reason": "   "},
                    {"decision": "maybe", "reason": "x"}, {"decision": "confirm"}):
        refused = client.post(f"/api/v1/flags/{ids['in']}/review", headers=headers, json=payload)
        assert refused.status_code == 400, payload
    assert audit_of_flags(path) == []


def test_a_flag_is_reviewed_again_with_a_new_reason_and_both_stay_in_the_audit_log(flagged):
    path, facts, ids = flagged
    client, headers = api(path, facts, "hr")
    client.post(f"/api/v1/flags/{ids['in']}/review", headers=headers, json={"decision": "confirm", "reason": "first"})
    again = client.post(f"/api/v1/flags/{ids['in']}/review", headers=headers,
                        json={"decision": "dismiss", "reason": "the ticket log shows real citizens"})
    assert again.json["status"] == "dismissed"
    assert [(r["status"], r["reason"]) for r in again.json["reviews"]] == \
        [("confirmed", "first"), ("dismissed", "the ticket log shows real citizens")]
    assert len(audit_of_flags(path)) == 2


def test_reviewing_is_hrs_in_their_subtree_never_the_person_flagged(flagged):
    path, facts, ids = flagged
    for role, flag, status in (("hr", "out", 404), ("auditor", "in", 403), ("manager", "in", 403),
                               ("staff", "in", 403)):
        client, headers = api(path, facts, role)
        response = client.post(f"/api/v1/flags/{ids[flag]}/review", headers=headers,
                               json={"decision": "dismiss", "reason": "not me"})
        assert response.status_code == status, role
    db = storage.connect(path)
    db.execute("UPDATE users SET staff_id = NULL WHERE username = 'staff'")
    db.execute("UPDATE users SET staff_id = (SELECT id FROM staff WHERE code = 'NV001') WHERE username = 'admin'")
    db.close()
    client, headers = api(path, facts, "admin")
    own = client.post(f"/api/v1/flags/{ids['in']}/review", headers=headers, json={"decision": "dismiss", "reason": "x"})
    assert own.status_code == 403
    assert audit_of_flags(path) == []


@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_the_cli_lists_shows_and_reviews(flagged):
    path, _facts, ids = flagged
    listed = hailong("--database", str(path), "flags", "list", "--status", "open")
    assert len(listed.stdout.strip().splitlines()) == 3 and "NV001" in listed.stdout
    shown = hailong("--database", str(path), "flags", "show", str(ids["in"]))
    assert "poisson" in shown.stdout and "vote " in shown.stdout
    done = hailong("--database", str(path), "flags", "review", str(ids["in"]), "--dismiss", "--reason", "checked")
    assert done.stdout.strip() == f"Flag {ids['in']} dismissed."
    assert audit_of_flags(path)[0][:2] == ("cli", "review")
    missing = hailong("--database", str(path), "flags", "review", "999", "--confirm", "--reason", "x", check=False)
    assert missing.returncode == 1 and missing.stderr.strip() == "Error: No such flag."


def test_over_http_a_manager_reads_and_hr_reviews(people_template, tmp_path):
    template, facts = people_template
    path = copy_db(template, tmp_path / "people.db")
    ids = flag_both(path)
    with Server(path, log_path=tmp_path / "serve.log") as server:
        def call(method, url, role, **kw):
            return requests.request(method, server.url + url, timeout=10,
                                    headers={"Authorization": f"Bearer {facts['tokens'][role]}"}, **kw)

        assert [f["id"] for f in call("GET", "/api/v1/flags?status=open", "manager").json()["flags"]] == \
            [ids["in2"], ids["in"]]
        done = call("POST", f"/api/v1/flags/{ids['in']}/review", "hr",
                    json={"decision": "confirm", "reason": "camera shows nobody at the counter"})
        assert done.status_code == 200 and done.json()["status"] == "confirmed"
        assert call("GET", "/api/v1/flags?status=confirmed", "staff").json()["flags"][0]["id"] == ids["in"]


def test_a_review_changes_the_votes_standing_in_the_rollups(flagged):
    from server.scoring.rollups import roll_up

    path, facts, ids = flagged
    client, headers = api(path, facts, "hr")
    client.post(f"/api/v1/flags/{ids['in2']}/review", headers=headers, json={"decision": "dismiss", "reason": "r"})
    db = storage.connect(path)
    roll_up(db, "Asia/Ho_Chi_Minh")
    standing = "SELECT standing, n FROM vote_rollups WHERE staff_id = (SELECT id FROM staff WHERE code = 'NV001')"
    assert db.execute(standing).fetchall() == [("flagged", 1)]
    for decision, expected in (("confirm", "excluded"), ("dismiss", "counted")):
        client.post(f"/api/v1/flags/{ids['in']}/review", headers=headers, json={"decision": decision, "reason": "r"})
        roll_up(db, "Asia/Ho_Chi_Minh")
        assert db.execute(standing).fetchall() == [(expected, 1)]
    db.close()


def test_the_period_filter_keeps_flags_whose_votes_fall_in_it(flagged):
    path, facts, ids = flagged
    db = storage.connect(path)
    month = local_day(db.execute("SELECT counted_at FROM votes WHERE uuid LIKE '%00a'").fetchone()[0],
                      "Asia/Ho_Chi_Minh")[:7]
    db.close()
    client, headers = api(path, facts, "admin")
    assert {f["id"] for f in client.get(f"/api/v1/flags?period={month}", headers=headers).json["flags"]} >= {ids["in"]}
    assert client.get("/api/v1/flags?period=2019", headers=headers).json["flags"] == []
    assert client.get("/api/v1/flags?period=2026-13", headers=headers).status_code == 400
