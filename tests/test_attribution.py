"""Votes count for the units of their time, at their (clock-corrected) time: a real server, real tablets."""

import datetime as dt
import time
import zoneinfo

import pytest
import requests

from device_client import protocol
from server import storage
from server.manage import org as org_actions
from server.manage import staff as staff_actions
from server.manage import votes as vote_actions
from server.manage.actor import cli_actor
from tests.live import enroll_tablet, server_rows

pytestmark = pytest.mark.backends

ZONE = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def tablets(live_server, tmp_path):
    made = {}

    def at(counter):
        if counter not in made:
            made[counter] = enroll_tablet(live_server, tmp_path / counter, counter)
            made[counter].refresh_config()
        return made[counter]

    yield at
    for tablet in made.values():
        tablet.close()


def rows(server, sql, params=()):
    return server_rows(server.database, sql, params)


def attribution(server, uuid):
    return rows(
        server,
        "SELECT s.code, u.code, cu.code, v.time_corrected FROM votes v JOIN staff s ON s.id = v.staff_id"
        " JOIN units u ON u.id = v.unit_id JOIN units cu ON cu.id = v.counter_unit_id WHERE v.uuid = ?",
        [uuid],
    )[0]


def act(server, action, *args):
    db = storage.connect(server.database)
    try:
        return action(db, cli_actor(), *args)
    finally:
        db.close()


def sync(tablet):
    sent, answer = tablet.send("votes")
    assert sent and all(r["status"] == "accepted" for r in answer["results"]), answer
    return answer


def test_a_person_moved_to_another_unit_keeps_their_history_where_it_was_cast(live_server, tablets):
    centre, city = tablets("DN-TT-Q1"), tablets("DN-BH-Q1")
    before = centre.record_vote("NV001", 4)
    sync(centre)
    late = centre.record_vote("NV001", 3)  # cast before the move, kept offline until after it
    time.sleep(0.01)

    act(live_server, staff_actions.update_staff, "NV001", {"unit": "DN-BH"})
    city.refresh_config()
    after = city.record_vote("NV001", 2)
    sync(city)
    sync(centre)

    assert attribution(live_server, before["id"]) == ("NV001", "DN-TT", "DN-TT", 0)
    assert attribution(live_server, late["id"]) == ("NV001", "DN-TT", "DN-TT", 0)
    assert attribution(live_server, after["id"]) == ("NV001", "DN-BH", "DN-BH", 0)
    history = rows(
        live_server,
        "SELECT u.code, h.valid_from IS NULL, h.valid_to IS NULL FROM unit_history h JOIN units u ON u.id = h.unit_id"
        " WHERE h.subject = 'staff' AND h.subject_id = (SELECT id FROM staff WHERE code = 'NV001') ORDER BY h.id",
    )
    assert history == [("DN-TT", 1, 0), ("DN-BH", 0, 1)]
    moved_at = rows(live_server, "SELECT valid_to FROM unit_history WHERE subject = 'staff' AND valid_to IS NOT NULL")
    assert rows(live_server, "SELECT valid_from FROM unit_history WHERE valid_from IS NOT NULL") == moved_at


def test_a_vote_after_the_move_at_the_old_counter_is_off_the_roster(live_server, tablets):
    centre = tablets("DN-TT-Q1")
    act(live_server, staff_actions.update_staff, "NV002", {"unit": "DN-BH"})
    centre.record_vote("NV002", 4)  # the tablet's cached roster still has them
    sent, answer = centre.send("votes")
    assert answer["results"][0]["status"] == "rejected"
    assert answer["results"][0]["errors"]["staff"] == ["Not on the roster of counter DN-TT-Q1 on"
                                                       f" {dt.datetime.now(ZONE).date().isoformat()}."]


def test_a_counter_moved_to_another_unit_keeps_its_votes_where_they_were_cast(live_server, tablets):
    counter = tablets("DN-TT-Q2")
    before = counter.record_vote("NV003", 4)
    sync(counter)
    time.sleep(0.01)
    act(live_server, org_actions.update_counter, "DN-TT-Q2", {"unit": "DN-BH"})
    counter.refresh_config()
    after = counter.record_vote("NV004", 4)
    sync(counter)
    assert attribution(live_server, before["id"]) == ("NV003", "DN-TT", "DN-TT", 0)
    assert attribution(live_server, after["id"]) == ("NV004", "DN-BH", "DN-BH", 0)


def post(server, tablet, votes, device_time):
    return requests.post(server.url + "/api/v1/votes/batch", json={"device_time": device_time, "votes": votes},
                         headers={"Authorization": f"Bearer {tablet.identity['token']}"}, timeout=10)


def test_a_tablet_clock_off_by_more_than_the_setting_counts_at_the_corrected_time(live_server, tablets):
    tablet = tablets("DN-TT-Q1")
    slow = dt.datetime.now().astimezone() - dt.timedelta(minutes=10)  # the tablet's clock is 10 minutes behind
    vote = tablet.record_vote("NV001", 4, now=slow)
    answer = post(live_server, tablet, [vote], protocol.format_local_time(slow)).json()
    assert answer["results"][0]["status"] == "accepted"
    counted_at, corrected, offset = rows(
        live_server, "SELECT counted_at, time_corrected, clock_offset_ms FROM votes WHERE uuid = ?", [vote["id"]])[0]
    assert corrected == 1 and offset >= 600_000
    expected = protocol.parse_time(vote["local_time"]) + dt.timedelta(milliseconds=offset)
    assert counted_at == protocol.format_utc(expected)


def test_a_tablet_clock_off_by_a_few_seconds_keeps_its_own_time(live_server, tablets):
    tablet = tablets("DN-TT-Q1")
    vote = tablet.record_vote("NV001", 4)
    answer = post(live_server, tablet, [vote], protocol.format_local_time(
        dt.datetime.now().astimezone() - dt.timedelta(seconds=5))).json()
    assert answer["results"][0]["status"] == "accepted"
    counted_at, corrected = rows(live_server, "SELECT counted_at, time_corrected FROM votes WHERE uuid = ?",
                                 [vote["id"]])[0]
    assert corrected == 0
    assert counted_at == protocol.format_utc(protocol.parse_time(vote["local_time"]))


def test_auditors_see_the_vote_time_corrected_and_its_units(live_server, tablets):
    tablet = tablets("DN-TT-Q1")
    slow = dt.datetime.now().astimezone() - dt.timedelta(minutes=5)
    vote = tablet.record_vote("NV001", 4, now=slow)
    post(live_server, tablet, [vote], protocol.format_local_time(slow))
    listed = [row for row in act(live_server, vote_actions.list_votes, 0, 100) if row["uuid"] == vote["id"]]
    assert listed[0]["time_corrected"] is True
    assert (listed[0]["unit"], listed[0]["counter_unit"]) == ("DN-TT", "DN-TT")
