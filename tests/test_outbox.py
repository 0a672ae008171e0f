"""The tablet's outbox: durable, gapless, acknowledged only by the server's ack_seq."""

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from device_client import identity, protocol, store
from device_client.tablet import Tablet, VoteError
from migrations import DEFAULT_SCALE

CONFIG = {
    "device_id": "dev-test0001",
    "counter": {"code": "DN-TT-Q1", "name": "Quầy 1"},
    "unit": {"code": "DN-TT", "name": "Trung tâm", "path": []},
    "staff": [{"code": "NV001", "full_name": "Nguyễn Thị Hồng Nhung", "title": "Chuyên viên"}],
    "scale": {"version": 1, **DEFAULT_SCALE},
}


def make_offline_tablet(data_dir):
    identity.create_key(str(data_dir))
    identity.save_identity(
        str(data_dir),
        {"server": "http://127.0.0.1:9", "device_id": "dev-test0001", "token": "t", "counter": "DN-TT-Q1"},
    )
    tablet = Tablet(str(data_dir))
    with store.transaction(tablet.conn):
        store.set_meta(tablet.conn, "config", CONFIG)
    return tablet


@pytest.fixture
def tablet(tmp_path):
    tablet = make_offline_tablet(tmp_path / "tablet")
    yield tablet
    tablet.close()


def test_a_recorded_vote_is_committed_signed_and_numbered(tablet):
    vote = tablet.record_vote("NV001", 1, ["long_wait", "attitude"], "HS-1")
    assert vote["seq"] == 1
    assert vote["reasons"] == ["attitude", "long_wait"]
    other = sqlite3.connect(os.path.join(tablet.data_dir, "outbox.db"))
    (payload,) = other.execute("SELECT payload FROM outbox WHERE stream = 'votes' AND seq = 1").fetchone()
    stored = json.loads(payload)
    assert stored == vote
    verifier = protocol.Verifier(protocol.public_key_b64(tablet.key))
    assert verifier.verify(protocol.canonical_vote_bytes(stored), stored["signature"])


def test_the_store_runs_in_wal_with_full_sync(tablet):
    assert tablet.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert tablet.conn.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_votes_off_the_roster_or_scale_are_refused_and_not_stored(tablet):
    for staff, rating, reasons in [("NV999", 4, []), ("NV001", 7, []), ("NV001", 1, ["bribery"])]:
        with pytest.raises(VoteError):
            tablet.record_vote(staff, rating, reasons)
    assert store.queue_summary(tablet.conn, "votes")["queue_depth"] == 0
    assert store.last_seq(tablet.conn, "votes") == 0


def test_sequence_numbers_stay_gapless_across_processes(tablet):
    code = (
        "import sys; from device_client.tablet import Tablet\n"
        "t = Tablet(sys.argv[1])\n"
        "for _ in range(25): t.record_vote('NV001', 4)\n"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", code, tablet.data_dir]) for _ in range(4)
    ]
    for _ in range(25):
        tablet.record_vote("NV001", 3)
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0, 0, 0]
    seqs = [vote["seq"] for vote in tablet.items("votes")]
    assert seqs == list(range(1, 126))
    assert store.last_seq(tablet.conn, "votes") == 125


def answer(statuses, ack_seq):
    return [{"seq": seq, "status": status} for seq, status in statuses], ack_seq


def test_a_vote_leaves_the_queue_only_when_delivered_and_acknowledged(tablet):
    for _ in range(3):
        tablet.record_vote("NV001", 4)
    results, _ = answer([(1, "accepted"), (2, "duplicate"), (3, "accepted")], 0)
    store.apply_results(tablet.conn, "votes", results, ack_seq=2, now="t1")
    summary = store.queue_summary(tablet.conn, "votes")
    assert summary["queue_depth"] == 1  # seq 3 delivered, above ack_seq
    assert summary["awaiting_ack"] == 1
    assert store.unsent(tablet.conn, "votes", 10) == []  # delivered votes are not re-sent
    store.apply_results(tablet.conn, "votes", [], ack_seq=3, now="t2")
    assert store.queue_summary(tablet.conn, "votes")["queue_depth"] == 0


def test_an_ack_without_a_result_for_the_vote_keeps_it_queued(tablet):
    tablet.record_vote("NV001", 4)
    store.apply_results(tablet.conn, "votes", [], ack_seq=5, now="t")
    assert [vote["seq"] for vote in store.unsent(tablet.conn, "votes", 10)] == [1]


def test_rejected_and_conflicting_votes_move_to_dead_letters(tablet):
    for _ in range(3):
        tablet.record_vote("NV001", 4)
    results = [
        {"seq": 1, "status": "rejected", "errors": {"staff": ["No staff member has this code."]}},
        {"seq": 2, "status": "conflict", "errors": {"_vote": ["sequence number 2 is already used"]}},
        {"seq": 3, "status": "accepted"},
    ]
    store.apply_results(tablet.conn, "votes", results, ack_seq=3, now="t")
    letters = store.dead_letters(tablet.conn)
    assert [(letter["seq"], letter["status"]) for letter in letters] == [(1, "rejected"), (2, "conflict")]
    assert letters[0]["errors"] == {"staff": ["No staff member has this code."]}
    assert store.queue_summary(tablet.conn, "votes") == {
        "queue_depth": 0, "oldest_unsent_at": None, "awaiting_ack": 0, "dead_letters": 2,
    }


def test_unsent_votes_come_oldest_first_and_in_batches(tablet):
    for _ in range(7):
        tablet.record_vote("NV001", 4)
    assert [vote["seq"] for vote in store.unsent(tablet.conn, "votes", 5)] == [1, 2, 3, 4, 5]


def test_the_identity_files_are_readable_by_the_owner_only(tablet):
    for name in ("device.key", "identity.json"):
        mode = os.stat(os.path.join(tablet.data_dir, name)).st_mode & 0o777
        assert mode == 0o600, name


@pytest.mark.parametrize(
    "change, field",
    [
        ({"ticket": "HS-1\n"}, "ticket"),
        ({"ticket": "HS\x001"}, "ticket"),
        ({"ticket": "x" * 65}, "ticket"),
        ({"ticket": ""}, "ticket"),
        ({"rating": True}, "rating"),
        ({"rating": 4.0}, "rating"),
        ({"rating": "4"}, "rating"),
        ({"reasons": "long_wait"}, "reasons"),
        ({"reasons": ["long_wait", 7]}, "reasons"),
        ({"staff": "NV001\n"}, "staff"),
    ],
)
def test_a_tap_the_server_would_refuse_is_refused_before_it_is_signed_or_queued(tablet, monkeypatch, change, field):
    signed = []
    monkeypatch.setattr(protocol, "sign", lambda *args: signed.append(args))
    with pytest.raises(VoteError) as refused:
        tablet.record_vote(**{"staff": "NV001", "rating": 1, "reasons": [], "ticket": None, **change})
    assert field in refused.value.fields
    assert str(refused.value).startswith("Not recorded, the server would refuse it: " + field)
    assert signed == []
    status = tablet.status()
    assert (status["last_seq"], status["queue_depth"], status["dead_letters"]) == (0, 0, 0)


def test_a_refused_tap_does_not_use_up_a_sequence_number(tablet):
    with pytest.raises(VoteError):
        tablet.record_vote("NV001", 1, ticket="a\tb")
    assert tablet.record_vote("NV001", 1, ticket="a b")["seq"] == 1


def tap(seconds):
    """A tap ``seconds`` after 09:15:00 tablet-local time on the demo's day."""
    start = dt.datetime(2026, 11, 27, 9, 15, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    return start + dt.timedelta(seconds=seconds)


def test_rapid_taps_are_all_recorded_and_those_within_the_interval_are_marked(tablet):
    # The demo: eight ratings in quick succession with a 5 s interval; every one is kept.
    moments = [0, 1, 2.5, 4.9, 10, 14.99, 20, 20]
    votes = [tablet.record_vote("NV001", 4, now=tap(t), min_interval=5) for t in moments]
    assert [vote["seq"] for vote in votes] == list(range(1, 9))
    assert [vote.get("marks") for vote in votes] == [
        None, ["rapid_repeat"], ["rapid_repeat"], ["rapid_repeat"], None, ["rapid_repeat"], None, ["rapid_repeat"]]
    verifier = protocol.Verifier(protocol.public_key_b64(tablet.key))
    for vote in tablet.items("votes"):
        assert protocol.vote_errors(vote) == {}
        assert verifier.verify(protocol.canonical_vote_bytes(vote), vote["signature"])


def test_the_same_interaction_sent_again_is_the_same_vote_not_a_rapid_repeat(tablet):
    first = tablet.record_vote("NV001", 4, now=tap(0), key="citizen-1", min_interval=5)
    again = tablet.record_vote("NV001", 4, now=tap(0.2), key="citizen-1", min_interval=5)
    assert again == first and "marks" not in first
    assert len(tablet.items("votes")) == 1


def test_no_interval_or_a_clock_set_back_marks_nothing(tablet):
    assert "marks" not in tablet.record_vote("NV001", 4, now=tap(0))
    assert "marks" not in tablet.record_vote("NV001", 4, now=tap(0.1))  # no min_interval: the CLI's votes
    assert "marks" not in tablet.record_vote("NV001", 4, now=tap(100), min_interval=5)
    assert "marks" not in tablet.record_vote("NV001", 4, now=tap(40), min_interval=5)  # clock went back 60 s
    assert tablet.record_vote("NV001", 4, now=tap(41), min_interval=5)["marks"] == ["rapid_repeat"]


def test_a_refused_tap_does_not_count_as_the_previous_vote(tablet):
    tablet.record_vote("NV001", 4, now=tap(0), min_interval=5)
    with pytest.raises(VoteError):
        tablet.record_vote("NV999", 4, now=tap(10), min_interval=5)
    assert "marks" not in tablet.record_vote("NV001", 4, now=tap(12), min_interval=5)
