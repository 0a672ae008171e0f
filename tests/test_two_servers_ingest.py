"""Two ``hailong serve`` on one PostgreSQL, every batch sent to both at once: each vote is stored once.

A tablet whose answer was lost retries, and behind a load balancer the
retry may land on another server while the first is still working on the
batch. Here that is done on purpose: every batch of several tablets (each
in a thread of its own) goes to both servers at the same moment, then once
more to one of them. The device's row lock (``storage.devices.lock``)
makes the servers take one device's batches one after the other, so one
answer accepts the batch and every other one says duplicate, and the ack
is the tablet's last seq with no gap below it. The rate bucket, read and
spent under the same lock, lets exactly its burst through when a tablet's
requests hit both servers at once. Two tablets racing with the same vote id
(a cloned tablet) get one accepted and one conflict, never an error; the
last test makes that race happen for certain (a 500 without the batch's
second run in ``server/sync/pipeline.py``).

No fault proxy and no kills: ``tests/test_fault_two_servers.py`` does those.
"""

import concurrent.futures
import time

import pytest
import requests

from device_client import protocol
from devtools.processes import Server
from server import storage
from server.storage import batches, org, votes as vote_storage
from tests.live import enroll_tablet, seed_org, server_rows

TABLETS, BATCHES, VOTES_PER_BATCH, CLONE_ROUNDS = 4, 3, 20, 3
BURST = 16  # a tablet makes BATCHES * 3 + CLONE_ROUNDS write requests; the bucket test 2 * BURST at once
SETTINGS = {"DEVICE_RATE_BURST": BURST, "DEVICE_RATE_PER_MINUTE": 1}


@pytest.fixture(scope="module")
def servers(postgresql_cluster, postgresql_template, tmp_path_factory):
    """Two servers on one fresh PostgreSQL database with the small org; tests keep to their own tablets."""
    from tests.postgres import new_database

    tmp_path = tmp_path_factory.mktemp("two_servers")
    database = new_database(postgresql_cluster, postgresql_template, tmp_path)
    seed_org(database, tmp_path)
    pair = [Server(database, settings=SETTINGS, log_path=tmp_path / f"serve{n}.log") for n in (1, 2)]
    try:
        for server in pair:
            server.start()
        yield pair
    finally:
        for server in pair:
            server.stop()
        postgresql_cluster.drop_database(database.name)


def post(server, tablet, votes):
    return requests.post(
        server.url + "/api/v1/votes/batch",
        json={"device_time": protocol.format_local_time(), "votes": votes},
        headers={"Authorization": f"Bearer {tablet.identity['token']}"},
        timeout=60,
    )


def answered(response):
    assert response.status_code == 200, response.text
    body = response.json()
    return body["ack_seq"], " ".join(sorted({result["status"] for result in body["results"]}))


def deliver(servers, tablet):
    """Each batch to both servers at once, then once more to one of them; returns what each answer said."""
    seen = []
    with concurrent.futures.ThreadPoolExecutor(2) as both:
        for number in range(BATCHES):
            votes = [tablet.record_vote("NV001", 4) for _ in range(VOTES_PER_BATCH)]
            at_once = [both.submit(post, server, tablet, votes) for server in servers]
            pair = sorted(answered(future.result()) for future in at_once)
            retry = answered(post(servers[number % 2], tablet, votes))
            seen.append((votes[-1]["seq"], pair, retry))
    return seen


def signed_as(tablet, vote):
    """``vote`` sent by ``tablet``: its device and next seq, signed with its key (a cloned tablet's vote)."""
    own = tablet.record_vote("NV001", 4)
    clone = {**vote, "device": tablet.device_id, "seq": own["seq"]}
    clone["signature"] = protocol.sign(tablet.key, protocol.canonical_vote_bytes(clone))
    return clone


def test_a_batch_sent_to_two_servers_at_once_is_stored_once_and_acknowledged_without_gaps(servers, tmp_path):
    for server in servers:  # `hailong serve` over a postgresql:// URL is ready for work
        assert requests.get(server.url + "/readyz", timeout=10).json()["status"] == "ready"
    tablets = [enroll_tablet(servers[n % 2], tmp_path / f"tablet{n}") for n in range(TABLETS)]
    with concurrent.futures.ThreadPoolExecutor(TABLETS) as pool:
        delivered = list(pool.map(lambda tablet: deliver(servers, tablet), tablets))

    total = BATCHES * VOTES_PER_BATCH
    for tablet, seen in zip(tablets, delivered):
        for last_seq, pair, retry in seen:
            # One server stored the batch, the other waited for the device's lock and found it stored.
            assert pair == [(last_seq, "accepted"), (last_seq, "duplicate")]
            assert retry == (last_seq, "duplicate")
        assert server_rows(
            servers[0].database,
            "SELECT COUNT(*), COUNT(DISTINCT uuid), MIN(seq), MAX(seq) FROM votes WHERE device_id = ?",
            [tablet.device_id]) == [(total, total, 1, total)]
        assert server_rows(servers[0].database, "SELECT ack_seq FROM devices WHERE id = ?",
                           [tablet.device_id]) == [(total,)]
        assert server_rows(
            servers[0].database,
            "SELECT SUM(n_accepted), SUM(n_duplicate), SUM(n_conflict + n_rejected) FROM sync_batches"
            " WHERE device_id = ?", [tablet.device_id]) == [(total, 2 * total, 0)]
        assert server_rows(servers[0].database, "SELECT kind FROM sync_incidents WHERE device_id = ?",
                           [tablet.device_id]) == []
        assert server_rows(servers[0].database, "SELECT COUNT(*), COUNT(DISTINCT uuid) FROM vote_keys"
                           " WHERE device_id = ?", [tablet.device_id]) == [(total, total)]

    # A cloned tablet: the same vote id from two devices at the same moment, one to each server.
    first, second = tablets[:2]
    with concurrent.futures.ThreadPoolExecutor(2) as both:
        for _ in range(CLONE_ROUNDS):
            vote = first.record_vote("NV001", 4)
            clone = signed_as(second, vote)
            answers = [both.submit(post, server, tablet, [item])
                       for server, tablet, item in zip(servers, (first, second), (vote, clone))]
            statuses = sorted(answered(future.result())[1] for future in answers)
            assert statuses == ["accepted", "conflict"]
    for tablet in (first, second):  # a conflict is a final answer: the ack moves past it
        assert server_rows(servers[0].database, "SELECT ack_seq FROM devices WHERE id = ?",
                           [tablet.device_id]) == [(total + CLONE_ROUNDS,)]
    assert server_rows(servers[0].database, "SELECT COUNT(*) FROM sync_incidents WHERE kind = 'conflict'"
                       " AND device_id IN (?, ?)", [first.device_id, second.device_id]) == [(CLONE_ROUNDS,)]


def test_a_tablets_requests_to_two_servers_at_once_spend_its_bucket_exactly(servers, tmp_path):
    tablet = enroll_tablet(servers[0], tmp_path / "flooding")
    votes = [tablet.record_vote("NV001", 4) for _ in range(2 * BURST)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda n: post(servers[n % 2], tablet, [votes[n]]).status_code,
                                 range(2 * BURST)))
    assert sorted(statuses) == [200] * BURST + [429] * BURST
    assert server_rows(servers[0].database, "SELECT COUNT(*) FROM sync_batches WHERE device_id = ?",
                       [tablet.device_id]) == [(BURST,)]


def test_a_vote_id_another_device_commits_while_a_batch_waits_for_it_is_answered_as_a_conflict(servers, tmp_path):
    """The race the cloned tablets above may or may not hit, made to happen: the batch has looked its ids
    up and is inserting when another device's transaction with the same id commits. PostgreSQL refuses
    the insert (vote_keys' unique uuid); the server runs the batch again and answers a conflict."""
    first, second = (enroll_tablet(servers[n], tmp_path / f"tablet{n}") for n in (0, 1))
    vote = first.record_vote("NV001", 4)
    clone = signed_as(second, vote)
    db, watcher = storage.connect(servers[0].database), storage.connect(servers[0].database)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            with storage.write_transaction(db):
                store_by_hand(db, first, vote)  # first's vote, not committed yet
                answer = thread.submit(post, servers[1], second, [clone])
                while not watcher.execute("SELECT COUNT(*) FROM pg_locks WHERE NOT granted").fetchone()[0]:
                    assert not answer.done(), answer.result().text  # it must wait for this transaction
                    time.sleep(0.05)
            ack_seq, status = answered(answer.result())
    finally:
        db.close()
        watcher.close()
    assert (ack_seq, status) == (clone["seq"], "conflict")
    assert server_rows(servers[0].database, "SELECT device_id FROM votes WHERE uuid = ?", [vote["id"]]) \
        == [(first.device_id,)]


def store_by_hand(db, tablet, vote):
    """``vote`` stored as its batch would store it, inside the caller's transaction."""
    now = storage.timestamp()
    counter = org.counter_by_code(db, vote["counter"])
    staff_id = db.execute("SELECT id FROM staff WHERE code = ?", [vote["staff"]]).fetchone()[0]
    batch_id = batches.insert_batch(db, "votes", tablet.device_id, now, now, 0, dict.fromkeys(batches.OUTCOMES, 0))
    vote_storage.insert_votes(db, [{
        "uuid": vote["id"], "device_id": tablet.device_id, "seq": vote["seq"], "counter_id": counter["id"],
        "staff_id": staff_id, "rating": vote["rating"], "reasons": vote["reasons"], "ticket": vote["ticket"],
        "local_time": vote["local_time"], "scale_version": vote["scale_version"], "signature": vote["signature"],
        "digest": protocol.vote_digest(protocol.canonical_vote_bytes(vote)), "received_at": now,
        "clock_offset_ms": 0, "batch_id": batch_id, "flags": [], "unit_id": counter["unit_id"],
        "counter_unit_id": counter["unit_id"], "counted_at": now, "time_corrected": 0,
    }])
