"""The tablet's own rules for who is at the counter, offline and on a chosen clock."""

import datetime as dt

import pytest

from device_client import protocol, staff, store
from device_client.tablet import VoteError
from tests.kiosk_live import offline_tablet

START = dt.datetime(2026, 11, 27, 8, 0).timestamp()  # tablet-local 08:00


@pytest.fixture
def tablet(tmp_path):
    device = offline_tablet(tmp_path)
    yield device
    device.close()


def events(tablet):
    return tablet.items("sessions")


def test_a_sign_in_is_a_signed_event_with_its_own_gapless_sequence(tablet):
    tablet.record_vote("NV003", 4)  # votes have their own sequence
    staff.sign_in(tablet, "nv001", "1234", now=START)
    staff.sign_out(tablet, "manual", now=START + 60)
    kinds = [(e["seq"], e["staff"], e["event"], e["reason"]) for e in events(tablet)]
    assert kinds == [(1, "NV001", "sign_in", None), (2, "NV001", "sign_out", "manual")]
    verifier = protocol.Verifier(protocol.public_key_b64(tablet.key))
    for event in events(tablet):
        assert verifier.verify(protocol.canonical_session_bytes(event), event["signature"])


def test_staff_are_signed_out_after_inactivity(tablet):
    staff.sign_in(tablet, "NV001", "1234", now=START)
    assert staff.current(tablet, now=START + 89 * 60)["staff"] == "NV001"
    staff.touch(tablet, now=START + 89 * 60)
    assert staff.current(tablet, now=START + 170 * 60)["staff"] == "NV001"
    assert staff.current(tablet, now=START + 180 * 60) is None
    assert [(e["event"], e["reason"]) for e in events(tablet)] == [("sign_in", None), ("sign_out", "idle")]


def test_staff_are_signed_out_at_the_end_of_the_day(tmp_path):
    tablet = offline_tablet(tmp_path, kiosk={"idle_sign_out_minutes": 24 * 60})
    staff.sign_in(tablet, "NV001", "1234", now=START)
    assert staff.current(tablet, now=START + 9 * 3600) is not None  # 17:00
    assert staff.current(tablet, now=START + 9.5 * 3600 + 1) is None  # 17:30
    assert events(tablet)[-1]["reason"] == "end_of_day"


def test_wrong_pins_lock_the_code_for_a_while_and_a_lockout_is_an_event(tablet):
    for attempt, left in ((1, 2), (2, 1)):
        with pytest.raises(staff.SignInError) as refused:
            staff.sign_in(tablet, "NV001", "9999", now=START + attempt)
        assert (refused.value.code, refused.value.attempts_left) == ("wrong_pin", left)
    with pytest.raises(staff.SignInError) as locked:
        staff.sign_in(tablet, "NV001", "9999", now=START + 3)
    assert locked.value.code == "locked"
    with pytest.raises(staff.SignInError) as still:
        staff.sign_in(tablet, "NV001", "1234", now=START + 9 * 60)
    assert still.value.code == "locked"
    assert staff.sign_in(tablet, "NV001", "1234", now=START + 11 * 60)["staff"] == "NV001"
    assert [(e["event"], e["reason"]) for e in events(tablet)] == [("lockout", "attempts"), ("sign_in", None)]
    assert store.pin_attempts(tablet.conn, "NV001") == (0, 0)


def test_a_person_without_a_pin_cannot_sign_in(tablet):
    with pytest.raises(staff.SignInError) as refused:
        staff.sign_in(tablet, "NV003", "1234", now=START)
    assert refused.value.code == "wrong_pin"
    assert staff.current(tablet, now=START) is None


def test_the_kiosk_vote_needs_a_signed_in_person_and_rates_them(tmp_path):
    from device_client.kiosk.service import Kiosk, KioskError

    offline_tablet(tmp_path).close()
    kiosk = Kiosk(str(tmp_path))
    try:
        with pytest.raises(KioskError) as closed:
            kiosk.vote("a-citizen-key", 4, [])
        assert closed.value.code == "closed"
        kiosk.sign_in("NV002", "5678")
        vote = kiosk.vote("a-citizen-key", 1, ["long_wait"])
        assert kiosk.vote("a-citizen-key", 1, ["long_wait"]) == vote
        (stored,) = kiosk.tablet.items("votes")
        assert (stored["staff"], stored["rating"], stored["reasons"]) == ("NV002", 1, ["long_wait"])
    finally:
        kiosk.close()


def test_a_staff_event_the_server_would_refuse_is_never_signed_or_queued(tablet):
    for kind, reason in (("log_in", None), ("sign_out", "lunch")):
        with pytest.raises(VoteError) as refused:
            tablet.record_session_event("NV001", kind, reason, START)
        assert set(refused.value.fields) == {"event" if kind == "log_in" else "reason"}
    assert events(tablet) == []
    assert tablet.record_session_event("NV001", "sign_in", None, START)["seq"] == 1


def test_signing_out_at_the_kiosk_takes_the_persons_pin_and_wrong_ones_lock_like_a_sign_in(tablet):
    staff.sign_in(tablet, "NV001", "1234", now=START)
    for attempt, left in ((1, 2), (2, 1)):
        with pytest.raises(staff.SignInError) as refused:
            staff.sign_out_with_pin(tablet, "5678", now=START + attempt)  # NV002's PIN is not NV001's
        assert (refused.value.code, refused.value.attempts_left) == ("wrong_pin", left)
    with pytest.raises(staff.SignInError) as locked:
        staff.sign_out_with_pin(tablet, "0000", now=START + 3)
    assert locked.value.code == "locked"
    assert staff.current(tablet, now=START + 4)["staff"] == "NV001"  # still at the counter
    assert staff.sign_out_with_pin(tablet, "1234", now=START + 11 * 60) == "NV001"
    assert [(e["event"], e["reason"]) for e in events(tablet)] == [
        ("sign_in", None), ("lockout", "attempts"), ("sign_out", "manual")]
    assert staff.sign_out_with_pin(tablet, "1234", now=START + 12 * 60) is None


def test_an_unknown_code_costs_an_argon2_check_of_the_rosters_own_parameters(tablet, monkeypatch):
    checked = []

    class Recording(type(staff.HASHER)):
        def verify(self, hash_, pin):
            checked.append(hash_)
            return super().verify(hash_, pin)

    monkeypatch.setattr(staff, "HASHER", Recording())
    for code in ("NV999", "NV003", "NV001"):  # unknown, no PIN, wrong PIN
        with pytest.raises(staff.SignInError):
            staff.sign_in(tablet, code, "1234" if code != "NV001" else "0000", now=START)
    roster_hash = staff.person(tablet, "NV001")["pin_hash"]
    assert len(checked) == 3
    assert {h.rsplit("$", 2)[0] for h in checked} == {roster_hash.rsplit("$", 2)[0]}
    assert checked[0] != checked[1] != roster_hash  # a fresh stand-in each time, never someone's hash
    assert store.pin_attempts(tablet.conn, "NV999")[0] == 1  # counted like a known code
