"""The background loop: right after a tap when online, backoff with jitter otherwise."""

import os
import random
import signal
import sqlite3
import subprocess
import time

from device_client.sync import Backoff
from tests.live import BIN, enroll_tablet


def test_backoff_is_full_jitter_capped_and_honours_retry_after():
    backoff = Backoff(base=1.0, cap=8.0, rng=random.Random(7))
    ceilings = []
    for _ in range(6):
        ceiling = min(8.0, 2 ** backoff.failures)
        delay = backoff.next_delay()
        assert 0 <= delay <= ceiling
        ceilings.append(ceiling)
    assert ceilings == [1, 2, 4, 8, 8, 8]
    assert backoff.next_delay(retry_after=30) >= 30
    backoff.reset()
    assert backoff.failures == 0


def test_full_jitter_spreads_retries_out():
    delays = [Backoff(base=1.0, cap=60.0, rng=random.Random(seed)).next_delay() for seed in range(200)]
    assert min(delays) < 0.1 and max(delays) > 0.9


def count_votes(database, device_id):
    conn = sqlite3.connect(database)
    try:
        return conn.execute("SELECT COUNT(*) FROM votes WHERE device_id = ?", [device_id]).fetchone()[0]
    finally:
        conn.close()


def test_the_run_loop_sends_a_vote_right_after_the_tap(shared_server, tmp_path):
    tablet = enroll_tablet(shared_server, tmp_path / "t")
    loop = subprocess.Popen(
        [os.path.join(BIN, "hailong-device"), "--data-dir", tablet.data_dir, "run", "--interval", "600"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert "syncing to" in loop.stdout.readline()
        time.sleep(1.0)  # let the first (empty) round finish; the next send must be tap-driven
        tablet.record_vote("NV003", 4)
        deadline = time.monotonic() + 10
        while count_votes(shared_server.database, tablet.device_id) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert count_votes(shared_server.database, tablet.device_id) == 1
    finally:
        loop.send_signal(signal.SIGTERM)
        output = loop.communicate(timeout=20)[0]
    assert loop.returncode == 0, output
    assert "Stopped; queued votes stay queued." in output
    assert tablet.status()["queue_depth"] == 0
