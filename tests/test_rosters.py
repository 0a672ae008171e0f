"""Votes and sign-ins only from where and when they may come: counter rosters, clocks, closed counters.

Against a real ``hailong serve`` with tablets enrolled over HTTP (tests/live.py's
organisation: DN-TT with NV001-NV003 and NV005, DN-BH with NV004), and the
admin API in-process over a copy of the people database (tests/people.py).
"""

import datetime as dt
import json
import zoneinfo

import pytest
import requests

from device_client import protocol
from device_client.tablet import VoteError
from server import storage
from server.manage import org as org_actions
from server.manage import rosters
from server.manage.actor import cli_actor
from tests.live import enroll_tablet, hailong
from tests.people import app_for

pytestmark = pytest.mark.backends

ZONE = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")


def day(offset=0):
    return (dt.datetime.now(ZONE).date() + dt.timedelta(days=offset)).isoformat()


@pytest.fixture
def tablet_at(shared_server, tmp_path):
    made = []

    def make(counter):
        tablet = enroll_tablet(shared_server, tmp_path / f"t{len(made)}", counter=counter)
        made.append(tablet)
        return tablet

    yield make
    for tablet in made:
        tablet.close()


def sign(tablet, staff, local_time=None, **changes):
    """A vote as a tablet would sign it, for any staff code (the tablet's own checks are bypassed)."""
    vote = {"id": protocol.uuid7(), "device": tablet.device_id, "seq": _next_seq(tablet),
            "counter": tablet.identity["counter"], "staff": staff, "rating": 4, "reasons": [], "ticket": None,
            "local_time": local_time or protocol.format_local_time(), "scale_version": 1, **changes}
    vote["signature"] = protocol.sign(tablet.key, protocol.canonical_vote_bytes(vote))
    return vote


def _next_seq(tablet):
    tablet.seqs = getattr(tablet, "seqs", 0) + 1
    return tablet.seqs


def post(server, tablet, votes, device_time=None, path="/api/v1/votes/batch", key="votes"):
    answer = requests.post(server.url + path, timeout=10,
                           json={"device_time": device_time or protocol.format_local_time(), key: votes},
                           headers={"Authorization": f"Bearer {tablet.identity['token']}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def incidents(server, device_id):
    db = storage.connect(server.database)
    try:
        return [tuple(row) for row in db.execute(
            "SELECT i.kind, s.code, i.detail FROM sync_incidents i LEFT JOIN staff s"
            " ON s.id = i.staff_id WHERE i.device_id = ? ORDER BY i.id", [device_id]).fetchall()]
    finally:
        db.close()


def assign(server, counter, staff, valid_from, valid_to=None):
    db = storage.connect(server.database)
    try:
        return rosters.assign(db, cli_actor(), counter, {"staff": staff, "valid_from": valid_from,
                                                         "valid_to": valid_to})
    finally:
        db.close()


def test_a_vote_for_someone_of_another_unit_is_refused_kept_and_shown_to_their_unit(shared_server, tablet_at,
                                                                                   tmp_path):
    tablet = tablet_at("DN-BH-Q1")
    answer = post(shared_server, tablet, [sign(tablet, "NV004"), sign(tablet, "NV002")])
    assert [r["status"] for r in answer["results"]] == ["accepted", "rejected"]
    assert answer["results"][1]["errors"] == {"staff": [f"Not on the roster of counter DN-BH-Q1 on {day()}."]}
    assert [(kind, staff) for kind, staff, _ in incidents(shared_server, tablet.device_id)] == [("rejected", "NV002")]
    # NV002's own unit (DN-TT) sees the refused vote about them, though it was cast at DN-BH.
    database = shared_server.database
    hailong("--database", database, "user", "create", "--username", "audit-tt", "--role", "auditor",
            "--unit", "DN-TT", "--password-stdin", input="a long enough password\n")
    token = hailong("--database", database, "user", "token", "--username", "audit-tt", "--name", "t").stdout.strip()
    seen = requests.get(shared_server.url + "/api/v1/incidents?limit=1000", timeout=10,
                        headers={"Authorization": f"Bearer {token}"}).json()["incidents"]
    assert any(i["device_id"] == tablet.device_id and i["staff"] == "NV002" for i in seen)


def test_a_seconded_person_is_rated_on_their_days_only_on_the_tablet_and_the_server(shared_server, tablet_at):
    tablet = tablet_at("DN-TT-Q1")
    assign(shared_server, "DN-TT-Q1", "NV004", day(1))  # from tomorrow
    tablet.refresh_config()
    person = next(p for p in tablet.config["staff"] if p["code"] == "NV004")
    assert person["assignments"] == [{"from": day(1), "to": None}]
    with pytest.raises(VoteError, match="not on this counter's roster"):
        tablet.record_vote("NV004", 4)
    refused = post(shared_server, tablet, [sign(tablet, "NV004")])["results"][0]
    assert refused["status"] == "rejected" and "staff" in refused["errors"]

    assign(shared_server, "DN-TT-Q1", "NV004", day(-1), day(0))  # yesterday and today as well
    tablet.refresh_config()
    vote = tablet.record_vote("NV004", 3)
    assert post(shared_server, tablet, [vote])["results"][0]["status"] == "accepted"


def test_a_sign_in_for_someone_not_on_the_roster_is_refused(shared_server, tablet_at):
    tablet = tablet_at("DN-BH-Q1")
    event = {"id": protocol.uuid7(), "device": tablet.device_id, "seq": 1, "counter": "DN-BH-Q1",
             "staff": "NV003", "event": "sign_in", "reason": None, "local_time": protocol.format_local_time()}
    event["signature"] = protocol.sign(tablet.key, protocol.canonical_session_bytes(event))
    answer = post(shared_server, tablet, [event], path="/api/v1/device/sessions/batch", key="events")
    assert answer["results"][0]["status"] == "rejected"
    assert answer["results"][0]["errors"]["staff"] == [f"Not on the roster of counter DN-BH-Q1 on {day()}."]


def test_votes_that_cannot_be_true_are_refused_and_a_clock_that_jumped_is_forgiven(shared_server, tablet_at):
    tablet = tablet_at("DN-TT-Q1")
    now = dt.datetime.now().astimezone()
    local = lambda delta: protocol.format_local_time(now + delta)  # noqa: E731
    votes = [
        sign(tablet, "NV001", local(dt.timedelta(days=1))),  # tomorrow, by a clock that is right now
        sign(tablet, "NV001", "2020-01-01T08:00:00.000+07:00"),  # years before the tablet was enrolled
        sign(tablet, "NV001", local(dt.timedelta(days=2))),  # a clock two days ahead, and still so when it syncs
    ]
    ahead = post(shared_server, tablet, votes[2:], device_time=local(dt.timedelta(days=2)))
    assert ahead["results"][0]["status"] == "accepted"
    answer = post(shared_server, tablet, votes[:2])
    assert [r["status"] for r in answer["results"]] == ["rejected", "rejected"]
    assert answer["results"][0]["errors"]["local_time"][0].startswith("In the future:")
    assert answer["results"][1]["errors"]["local_time"][0].startswith("Before this device was enrolled")
    # Cast a minute ago by a right clock that was reset to 2020 before the sync: the tablet's own time counts.
    reset = post(shared_server, tablet, [sign(tablet, "NV001", local(-dt.timedelta(minutes=1)))],
                 device_time="2020-01-01T08:00:00.000+07:00")
    assert reset["results"][0]["status"] == "accepted"


def test_votes_after_their_counter_was_deactivated_are_refused_and_those_before_count(shared_server, tablet_at):
    tablet = tablet_at("DN-TT-Q2")
    before = sign(tablet, "NV001", protocol.format_local_time(dt.datetime.now().astimezone()
                                                              - dt.timedelta(seconds=5)))
    db = storage.connect(shared_server.database)
    try:
        org_actions.update_counter(db, cli_actor(), "DN-TT-Q2", {"active": False})
    finally:
        db.close()
    after = sign(tablet, "NV001", protocol.format_local_time(dt.datetime.now().astimezone()
                                                             + dt.timedelta(seconds=1)))
    answer = post(shared_server, tablet, [before, after])
    assert [r["status"] for r in answer["results"]] == ["accepted", "rejected"]
    assert answer["results"][1]["errors"]["counter"][0].startswith("Counter DN-TT-Q2 was deactivated at ")


def test_an_entry_that_is_not_an_object_is_one_rejected_result_among_the_others(shared_server, tablet_at):
    tablet = tablet_at("DN-TT-Q1")
    answer = post(shared_server, tablet, [sign(tablet, "NV001"), "hello", 5, None, ["x"]])
    assert [r["status"] for r in answer["results"]] == ["accepted"] + ["rejected"] * 4
    assert answer["results"][1]["errors"] == {"_schema": ["Invalid input type."]}
    assert answer["ack_seq"] == 1


def test_what_a_device_makes_the_server_keep_of_refusals_is_cut_short_and_capped(people):
    path, facts = people
    client = app_for(path, INCIDENTS_PER_DEVICE_PER_DAY=3, INCIDENT_PAYLOAD_MAX_BYTES=200).test_client()
    db = storage.connect(path)
    token = "tok-" + facts["devices"]["in"]
    key = protocol.public_key_b64(protocol.new_signing_key())
    db.execute("UPDATE devices SET token_hash = ?, public_key = ? WHERE id = ?",
               [storage.devices.hash_secret(token), key, facts["devices"]["in"]])
    entries = [{"junk": f"{n}" + "x" * 5000} for n in range(5)]
    answer = client.post("/api/v1/votes/batch", headers={"Authorization": f"Bearer {token}"},
                         json={"device_time": protocol.format_local_time(), "votes": entries}).json
    assert [r["status"] for r in answer["results"]] == ["rejected"] * 5
    rows = db.execute("SELECT kind, payload, detail FROM sync_incidents WHERE device_id = ? ORDER BY id",
                      [facts["devices"]["in"]]).fetchall()
    db.close()
    assert [kind for kind, _, _ in rows] == ["rejected"] * 3 + ["suppressed"]
    assert all(json.loads(payload)["truncated"] and len(payload) < 400 for _, payload, _ in rows[:3])
    assert json.loads(rows[3][2])["count"] == 2


def test_only_someone_who_reaches_both_sides_may_second_a_person(people):
    path, facts = people
    client = app_for(path).test_client()
    db = storage.connect(path)
    from server.manage import users

    users.create_user(db, cli_actor(), {"username": "province", "password": "a long enough password",
                                        "roles": [{"role": "manager", "unit": "DN"}]}, {"PASSWORD_MIN_LENGTH": 10})
    from tests.people import token_for

    province = token_for(db, "province")
    db.close()

    def assign_as(token, body, counter="DN-TT-Q1"):
        return client.post(f"/api/v1/counters/{counter}/assignments", json=body,
                           headers={"Authorization": f"Bearer {token}"})

    seconding = {"staff": "NV004", "valid_from": "2026-12-01"}
    manager = assign_as(facts["tokens"]["manager"], seconding)
    assert manager.status_code == 400 and manager.json["error"]["fields"] == {
        "staff": ["No staff member with this code in your units."]}
    assert assign_as(facts["tokens"]["hr"], seconding).status_code == 403
    made = assign_as(province, seconding)
    assert made.status_code == 201 and made.json["valid_to"] is None and made.json["unit"] == "DN-BH"
    assert assign_as(province, {"staff": "NV004", "valid_from": "2027-01-01"}).status_code == 409  # overlaps
    same_unit = assign_as(province, {"staff": "NV001", "valid_from": "2026-12-01"})
    assert same_unit.status_code == 400 and "staff" in same_unit.json["error"]["fields"]
    roster = client.get("/api/v1/counters/DN-TT-Q1/roster",
                        headers={"Authorization": f"Bearer {facts['tokens']['auditor']}"}).json
    assert [a["staff"] for a in roster["assignments"]] == ["NV004"]
    assert "NV001" in [p["staff"] for p in roster["unit_staff"]]


def test_an_assignment_with_votes_under_it_can_be_ended_but_not_deleted(people):
    path, facts = people
    client = app_for(path).test_client()
    headers = {"Authorization": f"Bearer {facts['tokens']['admin']}"}
    made = client.post("/api/v1/counters/DN-BH-Q1/assignments", headers=headers,
                       json={"staff": "NV001", "valid_from": "2020-01-01"}).json
    # tests/people.py stored a vote for NV001 at DN-TT-Q1 only; one at DN-BH-Q1 falls under this assignment:
    from tests.people import insert_vote

    db = storage.connect(path)
    insert_vote(db, facts["devices"]["out"], "DN-BH-Q1", "NV001", "00000000-0000-7000-8000-0000000000c1", seq=2)
    db.close()
    url = f"/api/v1/counters/DN-BH-Q1/assignments/{made['id']}"
    assert client.delete(url, headers=headers).json["error"]["code"] == "has_votes"
    ended = client.patch(url, headers=headers, json={"valid_to": "2026-12-31"})
    assert ended.status_code == 200 and ended.json["valid_to"] == "2026-12-31"


def test_votes_about_a_units_staff_are_shown_to_it_wherever_cast(people):
    path, facts = people
    from tests.people import insert_vote, token_for
    from server.manage import users

    db = storage.connect(path)
    insert_vote(db, facts["devices"]["in"], "DN-TT-Q1", "NV004", "00000000-0000-7000-8000-0000000000c2", seq=2)
    users.create_user(db, cli_actor(), {"username": "audit-bh", "password": "a long enough password",
                                        "roles": [{"role": "auditor", "unit": "DN-BH"}]}, {"PASSWORD_MIN_LENGTH": 10})
    token = token_for(db, "audit-bh")
    db.close()
    client = app_for(path).test_client()
    seen = client.get("/api/v1/votes", headers={"Authorization": f"Bearer {token}"}).json["votes"]
    assert {(v["counter"], v["staff"]) for v in seen} == {("DN-BH-Q1", "NV004"), ("DN-TT-Q1", "NV004")}
    theirs = client.get("/api/v1/votes", headers={"Authorization": f"Bearer {facts['tokens']['auditor']}"}).json
    assert ("DN-TT-Q1", "NV004") in {(v["counter"], v["staff"]) for v in theirs["votes"]}


ORG_WITH_ASSIGNMENTS = """kind,code,name,parent,title,active,valid_from,valid_to
unit,P,Province,,,,,
unit,P-C,Centre,P,,,,
unit,P-J,Justice department,P,,,,
counter,P-C-Q1,Counter 1,P-C,,,,
staff,J1,Seconded official,P-J,Chuyên viên,,,
staff,C1,Centre official,P-C,Chuyên viên,,,
assignment,J1,,P-C-Q1,,,2026-12-01,
"""


def test_the_org_import_loads_assignments_and_refuses_impossible_ones(db, tmp_path):
    from server import orgimport

    path = tmp_path / "org.csv"
    path.write_text(ORG_WITH_ASSIGNMENTS, encoding="utf-8")
    summary = orgimport.import_file(db, str(path))
    assert summary.as_dict()["assignments"] == {"created": 1, "updated": 0, "unchanged": 0}
    assert "assignments 1 created" in summary.describe()
    assert orgimport.import_file(db, str(path)).as_dict()["assignments"]["unchanged"] == 1
    path.write_text(ORG_WITH_ASSIGNMENTS.replace("2026-12-01,", "2026-12-01,2027-06-30"), encoding="utf-8")
    assert orgimport.import_file(db, str(path)).as_dict()["assignments"]["updated"] == 1
    bad = ORG_WITH_ASSIGNMENTS + ("assignment,C1,,P-C-Q1,,,2026-12-01,\n"
                                  "assignment,J1,,P-C-Q1,,,2027-01-01,\n"
                                  "assignment,J1,,NOPE,,,2027-01-01,\n"
                                  "staff,C2,Someone,P-C,,,2026-12-01,\n")
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(orgimport.ImportRejected) as caught:
        orgimport.import_file(db, str(path))
    assert caught.value.problems == [
        "line 9, column code: 'C1' is staff of the counter's unit and may serve there any day",
        "line 10, column valid_from: overlaps another assignment of this person at this counter",
        "line 11, column parent: counter 'NOPE' is not in the file or the database",
        "line 12, column valid_from: only assignment rows have days; leave it blank",
    ]


def test_the_counter_page_seconds_and_ends_an_assignment(people):
    from tests.people import sign_in

    path, _ = people
    client = app_for(path, WTF_CSRF_ENABLED=False).test_client()
    sign_in(client, "admin")
    page = client.post("/admin/counters/DN-TT-Q1", headers={"Accept-Language": "vi"},
                       data={"action": "assign", "staff": "NV004", "valid_from": "2026-12-01", "valid_to": ""},
                       follow_redirects=True).get_data(as_text=True)
    assert "Biệt phái đến quầy này" in page and "NV004" in page and "cho đến khi có thông báo khác" in page
    refused = client.post("/admin/counters/DN-TT-Q1", headers={"Accept-Language": "vi"},
                          data={"action": "assign", "staff": "NV001", "valid_from": "2026-12-01"})
    assert refused.status_code == 400
    assert "được phục vụ ở đó mọi ngày" in refused.get_data(as_text=True)


def test_someone_with_a_roster_but_no_votes_is_refused_deletion_with_a_reason_not_a_500(people):
    """Found by the API fuzzer: a staff record named by a roster (or sign-ins, flags, objections) was
    deleted into a foreign-key error. It is history: refused with 409 has_history, kept to deactivate."""
    path, facts = people
    client = app_for(path).test_client()
    headers = {"Authorization": f"Bearer {facts['tokens']['admin']}"}
    created = client.post("/api/v1/staff", headers=headers,
                          json={"code": "NV071", "full_name": "Lê Văn Mới", "unit": "DN-TT"})
    assert created.status_code == 201, created.json
    made = client.post("/api/v1/counters/DN-BH-Q1/assignments", headers=headers,
                       json={"staff": "NV071", "valid_from": "2026-12-01"})
    assert made.status_code == 201
    refused = client.delete("/api/v1/staff/NV071", headers=headers)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "has_history"
    assert client.get("/api/v1/staff/NV071", headers=headers).status_code == 200


def test_overlapping_assignments_made_at_once_are_one_assignment_and_conflicts(people):
    """The overlap check and the insert are one transaction, queued (on PostgreSQL by the counter's row lock)."""
    import concurrent.futures
    import threading

    from server.errors import Conflict

    path, _ = people
    start = threading.Barrier(8)

    def second(valid_from):
        db = storage.connect(path)
        try:
            start.wait(timeout=30)
            rosters.assign(db, cli_actor(), "DN-TT-Q1", {"staff": "NV004", "valid_from": valid_from})
            return "done"
        except Conflict:
            return "refused"
        finally:
            db.close()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:  # open-ended from 8 different months: all overlap
        assert sorted(pool.map(second, [f"2026-0{month}-01" for month in range(1, 9)])) == ["done"] + ["refused"] * 7
