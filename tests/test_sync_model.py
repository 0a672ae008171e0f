"""A model checker for the offline vote path: Hypothesis drives tablets and a server through faults.

The rules are what happens to a province's tablets: a citizen taps, a tablet
syncs, the answer (or the request) is lost, the network delivers a batch
twice or late, the tablet dies (idle, mid-tap, after the tap's commit but
before the kiosk's "thank you", or mid-sync with the server's answer in hand)
and reopens its SQLite outbox, the kiosk page resubmits under its
idempotency key, the server dies (idle, inside the batch's transaction, or
between its commit and the answer) and reopens its database, an
administrator revokes a tablet (also while one of its batches is in flight)
and the counter gets a newly enrolled one (whose first enrollment answer may
be lost: the retry must make no second device), a new rating-scale version
is published. After every step the invariants hold:

- every vote the server stored is one a tablet recorded, with the same
  content (id, device, seq, digest, signature and every column), stored once
  (one id, one (device, seq));
- acknowledgements never run ahead of what the server stored: a vote the
  tablet marks delivered or acknowledged is on the server, the tablet's
  ``ack_seq`` is at most the server's, and the server's ``ack_seq`` is exactly
  the contiguous run of stored ``seq`` from 1;
- the tablet lost nothing it said "thank you" for, and kept nothing it did
  not (its outbox holds exactly the votes ``record_vote`` returned; a tap cut
  off by a crash before its commit was never recorded, and its resubmission
  is recorded once);
- the server's batch records count each stored vote once, and it has one
  device per enrollment;
- no conflict, rejection or gap incident: every vote here is valid, so any
  would be a bug; and nothing from a revoked tablet is stored after its
  revocation.

Once quiet (``drain``, a rule of its own and again at the end of every run)
one fault-free sync empties every live tablet's queue and the server's votes
equal the tablets' recorded votes, with one exception the protocol makes
(docs/protocol.md, errors table and "Revocation"): a revoked tablet gets 401,
stops sending and keeps its votes. Its votes delivered before the revocation
stay and count; the ones it had not delivered (or recorded later, offline)
are never counted, and the model checks they are still in its outbox, unsent,
not deleted. Re-enrolling makes a new tablet (``enroll`` refuses a data folder
that is enrolled already), at the same counter, with a new key and id.

Votes cast under an older scale version after a newer one is published (the
tablet picks the new one up at its next configuration fetch) must be
accepted: any rejection fails the model.

Why in-process (``tests/inprocess_server.py``): the real server app over a
real SQLite file, and the real ``device_client.Tablet`` over real outbox
files, but requests go through Flask's test client instead of a socket. A
run makes thousands of requests and a hundred or so server deaths; with a
``hailong serve`` process per death the model could not stay in ``make
test``. The test client also lets a fault strike at exact points (inside the
transaction, after the commit), which a process kill hits only by chance. A
death is modelled faithfully all the same: the database files are restored
to the bytes they had at that instant and the app and its cached
connection are thrown away, so SQLite's own crash recovery runs on reopen.
Real processes, sockets and SIGKILLs are the fault campaign's job
(``tests/test_fault_campaign.py``).

``HAILONG_MODEL_EXAMPLES`` and ``HAILONG_MODEL_STEPS`` make longer runs
(``HAILONG_MODEL_EXAMPLES=500 pytest -q -s tests/test_sync_model.py``); ``-s``
prints the totals of what happened.
"""

import json
import os
import shutil
import sys
import tempfile
import uuid
from unittest import mock

import pytest
from hypothesis import HealthCheck, event, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)

from device_client import protocol, store, sync, transport
from device_client.tablet import Revoked, Tablet, enroll
from server.manage import devices as device_actions
from server.manage import scales as scale_actions
from server.manage.actor import cli_actor
from server.settings import DEFAULTS
from server.storage import votes as vote_storage
from server.sync import pipeline
from tests.inprocess_server import (CRASH_POINTS, ENROLL_PATH, URL, VOTES_PATH, Crash, InProcessServer, disk_image,
                                    dying_at, restore_image)

EXAMPLES = int(os.environ.get("HAILONG_MODEL_EXAMPLES", "15"))  # about 8 s of CPU in make test
STEPS = int(os.environ.get("HAILONG_MODEL_STEPS", "40"))
COUNTERS = ("DN-TT-Q1", "DN-TT-Q2", "DN-BH-Q1")
MAX_TABLETS = 5
MAX_SCALES = 4
BATCH = 3  # small batches: one sync is several requests, and a fault can strike between them
# 429s have tests of their own; here they would only stand between the model and its faults.
SERVER_SETTINGS = {"DEVICE_RATE_PER_MINUTE": 1_000_000, "DEVICE_RATE_BURST": 1_000_000}
TABLET = st.integers(min_value=0, max_value=MAX_TABLETS - 1)  # an index, taken modulo the tablets there are
TOTALS = {}  # what happened over a whole test run: printed, and checked to be more than nothing


def count(what, n=1):
    TOTALS[what] = TOTALS.get(what, 0) + n
    event(what)


class Device:
    """One tablet as the model knows it: the real ``Tablet``, and every vote it said "thank you" for."""

    def __init__(self, tablet, counter):
        self.data_dir, self.counter, self.device_id = tablet.data_dir, counter, tablet.device_id
        self.tablet = tablet
        self.tablet.batch_size = BATCH
        self.recorded = {}  # id -> the signed vote record_vote returned
        self.revoked = False

    @property
    def outbox(self):
        return os.path.join(self.data_dir, "outbox.db")

    def crash(self, image=None):
        """Die (now, or as ``image`` recorded) and reopen the outbox from disk; the batch size is memory."""
        image = image if image is not None else disk_image(self.outbox)
        self.tablet.close()
        restore_image(self.outbox, image)
        self.tablet = Tablet(self.data_dir)
        self.tablet.batch_size = BATCH
        assert self.tablet.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def rows(self):
        """``{id: (seq, vote, delivered, acked)}`` of the outbox's votes."""
        found = {}
        for seq, uuid, payload, delivered, acked in self.tablet.conn.execute(
            "SELECT seq, uuid, payload, delivered_at, acked_at FROM outbox WHERE stream = 'votes'"
        ).fetchall():
            found[uuid] = (seq, json.loads(payload), delivered is not None, acked is not None)
        return found


class SyncModel(RuleBasedStateMachine):
    def __init__(self, root):
        super().__init__()
        self.folder = tempfile.mkdtemp(dir=root)
        self.server = InProcessServer(os.path.join(self.folder, "server"), SERVER_SETTINGS)
        self.transport = mock.patch.object(transport, "call", self.server.call)
        self.transport.start()
        self.devices = []
        self.scale_version = 1

    # -- helpers -----------------------------------------------------------------

    def enroll(self, counter, answer_lost=False):
        """A tablet enrolls at ``counter``; if its first answer is lost, it retries with the same code and key
        (docs/protocol.md, "Enrollment is safe to retry"), and the server must not make a second device."""
        with self.server.connect() as db:
            code = device_actions.issue_code(db, cli_actor(), {"counter": counter}, DEFAULTS)["code"]
        data_dir = os.path.join(self.folder, f"tablet-{len(self.devices)}")
        if answer_lost:
            self.server.armed = {ENROLL_PATH: "answer_lost"}
            with pytest.raises(transport.Unreachable):
                enroll(data_dir, URL, code)
            count("enrollment answer lost, retried")
        device = Device(enroll(data_dir, URL, code), counter)
        assert device.tablet.config["scale"]["version"] == self.scale_version
        self.devices.append(device)
        return device

    def pick(self, which, live=False):
        devices = [device for device in self.devices if not (live and device.revoked)]
        return devices[which % len(devices)]

    def sending(self):
        """Live tablets with votes to send: a fault armed for their next batch strikes it."""
        return [device for device in self.devices
                if not device.revoked and store.unsent(device.tablet.conn, "votes", 1)]

    def one_sending(self, which):
        devices = self.sending()
        return devices[which % len(devices)]

    def sync(self, device, fault=None):
        """``hailong-device sync`` with ``fault`` armed for the next votes batch; True when it went through."""
        self.server.armed, self.server.fired = ({VOTES_PATH: fault} if fault else {}), None
        try:
            sync.sync_now(device.tablet)
        except Revoked:
            assert device.revoked, f"{device.device_id} got 401 but was never revoked"
            count("401 for a revoked tablet")
            return False
        except transport.Unreachable:
            assert self.server.fired, "unreachable, but no fault struck"
            count(f"batch fault: {self.server.fired}")
            return False
        finally:
            self.server.armed = {}
        assert not device.revoked, f"revoked {device.device_id} could still sync"
        # Every successful sync fetches the configuration first: the newest scale from then on.
        assert device.tablet.config["scale"]["version"] == self.scale_version
        if self.server.fired:
            count(f"batch fault: {self.server.fired}")
        return True

    # -- rules ---------------------------------------------------------------------

    @initialize(counters=st.lists(st.sampled_from(COUNTERS), min_size=1, max_size=3),
                backlog=st.integers(0, 2 * BATCH + 1))
    def enroll_tablets(self, counters, backlog):
        """Tablets enroll, and each records a backlog while still offline (so every run has votes to move)."""
        for counter in counters:
            device = self.enroll(counter)
            for n in range(backlog):
                vote = device.tablet.record_vote(*self.tap_fields(device, n, n, ()))
                device.recorded[vote["id"]] = vote
                count("vote recorded")

    @rule(which=TABLET, citizens=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 10)), min_size=1, max_size=4),
          reasons=st.sets(st.integers(0, 9), max_size=3),
          ticket=st.one_of(st.none(), st.sampled_from(["HS-1", "Hồ sơ số 7/Đ", "𝟘" * 64])),
          kiosk=st.booleans())
    def tap(self, which, citizens, reasons, ticket, kiosk):
        """Citizens rate people on the tablet's cached roster and scale (revoked tablets too: offline, a
        tablet does not know yet). At the kiosk, quick repeats get the signed mark ``rapid_repeat``."""
        device = self.pick(which)
        for staff, rating in citizens:
            vote = device.tablet.record_vote(*self.tap_fields(device, staff, rating, reasons),
                                             ticket=ticket, min_interval=5.0 if kiosk else 0.0)
            device.recorded[vote["id"]] = vote
            count("vote recorded")
            if "marks" in vote:
                count("vote marked rapid_repeat")

    def tap_fields(self, device, staff, rating, reasons):
        config = device.tablet.config
        roster, scale = config["staff"], config["scale"]
        choices = [reason["code"] for reason in scale["reasons"]]
        codes = sorted({choices[i % len(choices)] for i in reasons}) if choices else []
        return (roster[staff % len(roster)]["code"], scale["levels"][rating % len(scale["levels"])]["value"], codes)

    @rule(which=TABLET)
    def sync_tablet(self, which):
        self.sync(self.pick(which))

    @precondition(lambda self: self.sending())
    @rule(which=TABLET, lost=st.sampled_from(["request_lost", "answer_lost"]))
    def sync_losing_the_batch(self, which, lost):
        """The network loses the request (nothing stored) or the answer (stored, the tablet never hears)."""
        self.sync(self.one_sending(which), lost)

    @precondition(lambda self: self.sending())
    @rule(which=TABLET)
    def sync_delivering_the_batch_twice(self, which):
        self.sync(self.one_sending(which), "twice")

    @precondition(lambda self: self.server.batches)
    @rule(index=st.integers(min_value=0))
    def deliver_an_old_batch_again(self, index):
        """A batch sent earlier (answered, lost or never arrived) reaches the server again, late: its votes
        are stored now (it never arrived before) or answered duplicate, never stored twice, never a conflict."""
        token, data = self.server.batches[index % len(self.server.batches)]
        response = self.server.request("POST", "/api/v1/votes/batch", data, token)
        if response.status_code == 401:
            count("late batch of a revoked tablet refused")
            return
        assert response.status_code == 200, response.get_json()
        statuses = {result["status"] for result in response.get_json()["results"]}
        assert statuses <= {"accepted", "duplicate"}, response.get_json()
        count("late batch stored its votes now" if "accepted" in statuses else "late batch answered duplicate")

    @rule(which=TABLET, when=st.sampled_from(["between_requests", *sorted(CRASH_POINTS)]))
    def kill_the_server(self, which, when):
        """The server is killed between requests, or handling a batch: inside its transaction, or after
        the commit (between requests too when no tablet has a batch to send)."""
        if when == "between_requests" or not self.sending():
            self.server.crash()
            count("server killed between requests")
        else:
            self.sync(self.one_sending(which), when)

    @rule(which=TABLET, when=st.sampled_from(["idle", "mid_tap", "before_thanks"]),
          staff=st.integers(0, 9), rating=st.integers(0, 10))
    def kill_the_tablet(self, which, when, staff, rating):
        """The tablet dies idle; mid-tap, before the vote's commit (the citizen never saw "thank you", the vote
        was never recorded, its ``seq`` not used); or after the commit, before the page said "thank you".
        Restarted, the kiosk page submits the interaction again under its idempotency key: a new vote when
        the first never committed, the same one when it did, never two (docs/kiosk.md)."""
        device = self.pick(which)
        if when == "idle":
            device.crash()
            count("tablet killed idle")
            return
        key = str(uuid.uuid4())  # the page's key for this citizen
        fields = self.tap_fields(device, staff, rating, ())
        if when == "before_thanks":
            first = device.tablet.record_vote(*fields, key=key)
            device.recorded[first["id"]] = first
            device.crash()
            assert device.tablet.record_vote(*fields, key=key) == first
            count("tablet killed before the thanks, resubmission is the same vote")
            return
        # ``set_meta`` first runs inside the vote's transaction (numbering it), before its commit.
        with dying_at(store, "set_meta", lambda: disk_image(device.outbox)) as image:
            with pytest.raises(Crash):
                device.tablet.record_vote(*fields, key=key)
        device.crash(image[0])
        vote = device.tablet.record_vote(*fields, key=key)
        assert vote["id"] not in device.recorded
        device.recorded[vote["id"]] = vote
        count("tablet killed mid-tap, resubmission recorded")

    @precondition(lambda self: self.sending())
    @rule(which=TABLET)
    def kill_the_tablet_mid_sync(self, which):
        """The tablet dies with the server's answer in hand, before it records it (the server committed)."""
        device = self.one_sending(which)
        with dying_at(store, "apply_results", lambda: disk_image(device.outbox)) as image:
            with pytest.raises(Crash):
                self.sync(device)
        device.crash(image[0])
        count("tablet killed mid-sync")

    @precondition(lambda self: len(self.devices) < MAX_TABLETS)
    @rule(which=TABLET, in_flight=st.booleans(), answer_lost=st.booleans())
    def revoke_and_enroll_anew(self, which, in_flight, answer_lost):
        """An administrator revokes the tablet; the counter gets a new one (a new key, a new id), whose
        first enrollment answer may be lost.

        ``in_flight``: the revocation commits while a batch of the tablet is between its authentication
        and its transaction. That batch was sent before the revocation; it is stored and answered, and
        the tablet hears 401 at its next call (the sync's heartbeat).
        """
        if in_flight and self.sending():
            device = self.one_sending(which)
            check_items = pipeline.check_items

            def revoke_then_check(*args, **kwargs):
                self.revoke(device)
                return check_items(*args, **kwargs)

            with mock.patch.object(pipeline, "check_items", revoke_then_check):
                assert not self.sync(device)
            count("tablet revoked with a batch in flight")
        else:
            device = self.pick(which, live=True)
            self.revoke(device)
        self.enroll(device.counter, answer_lost)
        count("tablet revoked and replaced")

    def revoke(self, device):
        with self.server.connect() as db:
            device_actions.revoke(db, cli_actor(), device.device_id, DEFAULTS)
        device.revoked = True

    @precondition(lambda self: self.scale_version < MAX_SCALES)
    @rule(levels=st.integers(2, 6), new_reason=st.booleans())
    def publish_a_scale(self, levels, new_reason):
        """A new scale version; tablets get it with their next configuration, votes keep theirs."""
        reasons = [{"code": "long_wait", "label_vi": "Chờ lâu", "label_en": "Long wait"}]
        if new_reason:
            reasons.append({"code": f"v{self.scale_version + 1}", "label_vi": "Mới", "label_en": "New"})
        data = {"levels": [{"value": value, "label_vi": f"Mức {value}", "label_en": f"Level {value}",
                            "satisfied": value > levels // 2} for value in range(1, levels + 1)],
                "reasons": reasons, "note": "model"}
        with self.server.connect() as db:
            self.scale_version = scale_actions.publish(db, cli_actor(), data)["version"]
        count("scale published")

    @rule()
    def drain(self):
        self.quiet()

    # -- invariants ----------------------------------------------------------------

    def stored(self):
        """The server's votes, devices and incidents, read from its database file."""
        with self.server.connect() as db:
            votes = db.execute(
                "SELECT v.uuid, v.device_id, v.seq, v.digest, v.signature, c.code, s.code, v.rating, v.reasons,"
                " v.ticket, v.local_time, v.scale_version, v.flags, v.received_at"
                " FROM votes v JOIN counters c ON c.id = v.counter_id JOIN staff s ON s.id = v.staff_id"
            ).fetchall()
            devices = {row[0]: row[1:] for row in db.execute("SELECT id, ack_seq, status, revoked_at FROM devices")}
            incidents = db.execute("SELECT kind, device_id, seq, detail FROM sync_incidents").fetchall()
            accepted = db.execute("SELECT COALESCE(SUM(n_accepted), 0) FROM sync_batches WHERE stream = 'votes'")
            # A batch record counts each vote it stored: a batch that died in its transaction left no record.
            assert accepted.fetchone()[0] == len(votes)
        return votes, devices, incidents

    @invariant()
    def the_server_holds_only_recorded_votes_once_and_acks_nothing_it_lacks(self):
        votes, devices, incidents = self.stored()
        assert not incidents, f"every vote here is valid: {incidents}"
        recorded = {uuid: vote for device in self.devices for uuid, vote in device.recorded.items()}
        by_device = {}
        for (uuid, device_id, seq, digest, signature, counter, staff, rating, reasons, ticket, local_time,
             scale_version, flags, received_at) in votes:
            assert uuid in recorded, f"the server has vote {uuid}, which no tablet recorded"
            vote = recorded[uuid]
            stored = {"id": uuid, "device": device_id, "seq": seq, "counter": counter, "staff": staff,
                      "rating": rating, "reasons": json.loads(reasons), "ticket": ticket,
                      "local_time": local_time, "scale_version": scale_version, "signature": signature}
            marks = protocol.marks_from_flags(vote_storage.stored_flags(flags))
            if marks:
                stored["marks"] = marks
            assert stored == vote, f"stored {stored} but the tablet recorded {vote}"
            assert digest == protocol.vote_digest(protocol.canonical_vote_bytes(vote))
            by_device.setdefault(device_id, []).append((seq, received_at))
        assert len({row[0] for row in votes}) == len(votes), "a vote id stored twice"
        assert sorted(devices) == sorted(device.device_id for device in self.devices), "a device made twice"
        for device in self.devices:
            stored = by_device.get(device.device_id, [])
            seqs = sorted(seq for seq, _ in stored)
            assert len(set(seqs)) == len(seqs), f"a seq of {device.device_id} stored twice"
            ack_seq, status, revoked_at = devices[device.device_id]
            # The contiguous run of stored seq from 1, exactly (no rejections here count towards it).
            assert seqs[:ack_seq] == list(range(1, ack_seq + 1)), f"{device.device_id} acked {ack_seq}: {seqs}"
            assert seqs[ack_seq:ack_seq + 1] != [ack_seq + 1], f"{device.device_id} acks too little: {ack_seq}"
            if device.revoked:
                assert status == "revoked"
                late = [seq for seq, received in stored if received > revoked_at]
                assert not late, f"stored from revoked {device.device_id} after {revoked_at}: {late}"
            self.tablet_agrees(device, set(seqs), {uuid for uuid, d, *_ in votes if d == device.device_id}, ack_seq)

    def tablet_agrees(self, device, stored_seqs, stored_ids, server_ack):
        """The outbox holds exactly the recorded votes; what it calls delivered or acked is on the server."""
        rows = device.rows()
        assert {uuid: vote for uuid, (_, vote, _, _) in rows.items()} == device.recorded, \
            f"{device.device_id}'s outbox is not what it recorded"
        assert store.dead_letter_count(device.tablet.conn) == 0
        tablet_ack = store.ack_seq(device.tablet.conn, "votes")
        assert tablet_ack <= server_ack, f"{device.device_id} believes ack {tablet_ack}, the server {server_ack}"
        for uuid, (seq, _, delivered, acked) in rows.items():
            if delivered or acked:
                assert uuid in stored_ids, f"{device.device_id} marked #{seq} delivered; the server lacks it"
            if acked:
                assert seq <= tablet_ack
            if seq <= tablet_ack:
                assert seq in stored_seqs

    def quiet(self, final=False):
        """No faults: one sync of each live tablet empties its queue; then the server's votes are theirs."""
        for device in self.devices:
            if device.revoked:
                continue
            assert self.sync(device)
            status = device.tablet.status()
            assert (status["queue_depth"], status["awaiting_ack"]) == (0, 0), status
            assert status["ack_seq"] == status["last_seq"] == len(device.recorded), status
        votes, devices, _ = self.stored()
        on_server = {}
        for row in votes:
            on_server.setdefault(row[1], set()).add(row[0])
        for device in self.devices:
            stored = on_server.get(device.device_id, set())
            if not device.revoked:
                assert stored == set(device.recorded), f"{device.device_id}: server and tablet differ"
                assert devices[device.device_id][0] == len(device.recorded)
                continue
            # The protocol's one exception: a revoked tablet keeps what it never delivered, unsent.
            stranded = set(device.recorded) - stored
            rows = device.rows()
            assert all(not rows[uuid][2] and not rows[uuid][3] for uuid in stranded)
            if stranded and final:
                count("votes kept on a revoked tablet, never counted", len(stranded))
        count("quiet: server equals tablets")
        if any(row[11] < self.scale_version for row in votes):
            count("quiet: votes of an older scale version stored")

    def teardown(self):
        try:
            if sys.exc_info()[0] is None:  # a run that failed already reports its own failure
                self.quiet(final=True)
                stored, _, _ = self.stored()
                count("votes stored", len(stored))
        finally:
            self.transport.stop()
            for device in self.devices:
                device.tablet.close()
            self.server.close()
            for key, n in self.server.counts.items():
                TOTALS[f"server {key}"] = TOTALS.get(f"server {key}", 0) + n
            shutil.rmtree(self.folder, ignore_errors=True)


def test_no_vote_is_lost_or_stored_twice_whatever_the_faults(tmp_path):
    TOTALS.clear()
    # Real files on a RAM disk where there is one: a process crash (what is modelled) leaves the OS's
    # page cache as it was, so fsync changes nothing here but the time (6 ms a commit on this machine's
    # disk, 0.1 ms on /dev/shm; a run makes thousands).
    root = tempfile.mkdtemp(dir="/dev/shm") if os.path.isdir("/dev/shm") else str(tmp_path)
    try:
        run_state_machine_as_test(
            lambda: SyncModel(root),
            settings=settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
        )
    finally:
        if root != str(tmp_path):
            shutil.rmtree(root, ignore_errors=True)
    print("\nsync model:", ", ".join(f"{key}: {n}" for key, n in sorted(TOTALS.items())))
    # Not vacuous: faults struck, the server died mid-request, and it still ended with the tablets' votes.
    assert TOTALS.get("votes stored", 0) > 0 and TOTALS.get("quiet: server equals tablets", 0) > 0, TOTALS
    assert sum(n for what, n in TOTALS.items() if what.startswith("batch fault:")) > 0, TOTALS
    assert TOTALS.get("server crashes_mid_request", 0) > 0, TOTALS
