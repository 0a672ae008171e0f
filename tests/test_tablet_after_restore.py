"""A tablet whose server was restored from an older backup sends again what the server no longer holds."""

import json

from device_client import store


def queue(conn, count):
    with store.transaction(conn):
        for _ in range(count):
            store.enqueue(conn, "votes", lambda seq: {"id": f"vote-{seq}", "seq": seq}, "2026-11-30T00:00:00.000Z")


def stored(*seqs):
    return [{"seq": seq, "status": "accepted"} for seq in seqs]


def test_a_lower_acknowledgement_queues_again_every_vote_above_it_but_those_just_stored(tmp_path):
    conn = store.open_store(str(tmp_path))
    queue(conn, 5)
    store.apply_results(conn, "votes", stored(1, 2, 3, 4, 5), 5, "t1")
    assert store.unsent(conn, "votes", 10) == [] and store.ack_seq(conn, "votes") == 5
    queue(conn, 1)  # seq 6, tapped after the server was restored from a backup holding votes 1 and 2
    store.apply_results(conn, "votes", stored(6), 2, "t2")
    assert [vote["seq"] for vote in store.unsent(conn, "votes", 10)] == [3, 4, 5]
    assert store.ack_seq(conn, "votes") == 2
    store.apply_results(conn, "votes", stored(3, 4, 5), 6, "t3")
    assert store.unsent(conn, "votes", 10) == [] and store.ack_seq(conn, "votes") == 6
    assert store.queue_summary(conn)["queue_depth"] == 0
    assert [json.loads(row[0])["seq"] for row in conn.execute("SELECT payload FROM outbox ORDER BY seq")] == [
        1, 2, 3, 4, 5, 6]  # acknowledged votes stay on the tablet
    conn.close()


def test_an_unchanged_acknowledgement_with_a_gap_queues_nothing_again(tmp_path):
    conn = store.open_store(str(tmp_path))
    queue(conn, 4)
    store.apply_results(conn, "votes", stored(1, 2), 2, "t1")
    store.apply_results(conn, "votes", stored(4), 2, "t2")  # 3 missing on the server: a gap, not a restore
    assert [vote["seq"] for vote in store.unsent(conn, "votes", 10)] == [3]
    conn.close()
