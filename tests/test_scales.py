"""Rating-scale versions: published, given to tablets, and votes kept under the version they were cast with."""

import json

import pytest

from device_client.tablet import VoteError
from server.errors import Invalid
from server.manage import scales
from server.manage.actor import cli_actor
from tests.kiosk_live import kiosk_test_client
from tests.live import enroll_tablet, hailong, server_rows

pytestmark = pytest.mark.backends

FIVE = {
    "levels": [
        {"value": 5, "label_vi": "Rất hài lòng", "label_en": "Very satisfied", "satisfied": True},
        {"value": 4, "label_vi": "Hài lòng", "label_en": "Satisfied", "satisfied": True},
        {"value": 3, "label_vi": "Tạm được", "label_en": "Fair", "satisfied": False},
        {"value": 2, "label_vi": "Không hài lòng", "label_en": "Dissatisfied", "satisfied": False},
        {"value": 1, "label_vi": "Rất không hài lòng", "label_en": "Very dissatisfied", "satisfied": False,
         "weight": 0},
    ],
    "reasons": [{"code": "long_wait", "label_vi": "Chờ lâu", "label_en": "Long wait"},
                {"code": "fees", "label_vi": "Phí, lệ phí", "label_en": "Fees"}],
    "note": "Five levels from 2027",
}


def stored_votes(server, device_id):
    return server_rows(server.database, "SELECT rating, scale_version, reasons FROM votes WHERE device_id = ?"
                                        " ORDER BY id", [device_id])


def test_a_published_version_reaches_tablets_and_an_offline_one_keeps_voting_under_the_old(live_server, tmp_path):
    old = enroll_tablet(live_server, tmp_path / "old", "DN-TT-Q1")
    new = enroll_tablet(live_server, tmp_path / "new", "DN-TT-Q2")
    try:
        old.refresh_config()
        assert old.config["scale"]["version"] == 1
        (tmp_path / "five.json").write_text(json.dumps(FIVE, ensure_ascii=False), encoding="utf-8")
        done = hailong("--database", str(live_server.database), "scale", "publish", str(tmp_path / "five.json"))
        assert "Published version 2" in done.stdout

        new.refresh_config()
        scale = new.config["scale"]
        assert scale["version"] == 2
        assert [(level["value"], level["label_vi"], level["satisfied"], level["negative"]) for level in scale["levels"]][:2] \
            == [(5, "Rất hài lòng", True, False), (4, "Hài lòng", True, False)]
        assert [level["weight"] for level in scale["levels"]] == [100.0, 75.0, 50.0, 25.0, 0.0]
        new.record_vote("NV002", 5)
        new.record_vote("NV002", 2, ["fees"])
        assert new.send("votes")[1]["ack_seq"] == 2

        # Still on version 1 (offline when it was published): its taps are signed and accepted under 1.
        old.record_vote("NV001", 4)
        old.record_vote("NV001", 1, ["attitude"])
        with pytest.raises(VoteError):
            old.record_vote("NV001", 5)  # not a level of the scale it holds
        answer = old.send("votes")[1]
        assert [r["status"] for r in answer["results"]] == ["accepted", "accepted"]

        assert stored_votes(live_server, new.device_id) == [(5, 2, "[]"), (2, 2, '["fees"]')]
        assert stored_votes(live_server, old.device_id) == [(4, 1, "[]"), (1, 1, '["attitude"]')]
        old.refresh_config()
        assert old.config["scale"]["version"] == 2
    finally:
        old.close()
        new.close()


@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_the_kiosk_shows_the_labels_of_the_scale_in_its_configuration(live_server, tmp_path):
    tablet = enroll_tablet(live_server, tmp_path / "kiosk", "DN-TT-Q1")
    try:
        (tmp_path / "five.json").write_text(json.dumps(FIVE, ensure_ascii=False), encoding="utf-8")
        hailong("--database", str(live_server.database), "scale", "publish", str(tmp_path / "five.json"))
        tablet.refresh_config()
    finally:
        tablet.close()
    with kiosk_test_client(tmp_path / "kiosk") as client:
        page = client.get("/?lang=vi").get_data(as_text=True)
        assert 'data-scale-version="2"' in page
        assert page.count('class="level ') == 5
        assert "Rất không hài lòng" in page and "Phí, lệ phí" in page
        assert 'data-value="1"' in page and 'data-negative="true"' in page
        english = client.get("/?lang=en").get_data(as_text=True)
        assert "Very dissatisfied" in english and "Fees" in english


@pytest.mark.parametrize("change, field", [
    (lambda s: s["levels"].__setitem__(slice(1, None), []), "levels"),
    (lambda s: s["levels"][1].__setitem__("value", 5), "levels.1.value"),
    (lambda s: [level.__setitem__("satisfied", True) for level in s["levels"]], "levels"),
    (lambda s: s["levels"][0].__setitem__("label_en", "  "), "levels.0.label_en"),
    (lambda s: s["levels"][2].__setitem__("weight", 101), "levels.2.weight"),
    (lambda s: s["reasons"][1].__setitem__("code", "long_wait"), "reasons.1.code"),
    (lambda s: s["reasons"][0].__setitem__("label_vi", ""), "reasons.0.label_vi"),
])
@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_a_scale_that_cannot_be_scored_is_refused_with_the_field_that_is_wrong(db, change, field):
    scale = json.loads(json.dumps(FIVE))
    change(scale)
    with pytest.raises(Invalid) as caught:
        scales.publish(db, cli_actor(), scale)
    assert field in caught.value.fields, caught.value.fields
    assert [s["version"] for s in scales.list_scales(db, cli_actor())] == [1]


def test_versions_are_listed_newest_first_with_their_votes_and_the_current_one(db):
    scales.publish(db, cli_actor(), FIVE)
    listed = scales.list_scales(db, cli_actor())
    assert [(s["version"], s["current"], s["published_by"], s["note"]) for s in listed] == [
        (2, True, "cli", "Five levels from 2027"), (1, False, None, "")]
    assert [level["satisfied"] for level in listed[1]["levels"]] == [True, True, False, False]
    entry = db.execute("SELECT actor, action, object_type, object_id FROM audit_log").fetchall()
    assert entry == [("cli", "publish_scale", "rating_scale", "2")]
