"""The background loop: right after a tap when online, backoff with jitter otherwise."""

import random
import time

from device_client import identity
from device_client.sync import Backoff
from device_client.tablet import Tablet
from tests.device_api import DeviceApi
from devtools.processes import DeviceRun
from tests.live import enroll_tablet, server_rows


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
    return server_rows(database, "SELECT COUNT(*) FROM votes WHERE device_id = ?", [device_id])[0][0]


def test_the_run_loop_sends_a_vote_right_after_the_tap(shared_server, tmp_path):
    tablet = enroll_tablet(shared_server, tmp_path / "t")
    loop = DeviceRun(tablet.data_dir, kiosk_port=False, args=("--interval", "600"), log_path=tmp_path / "run.log")
    loop.start()
    try:
        time.sleep(1.0)  # let the first (empty) round finish; the next send must be tap-driven
        tablet.record_vote("NV003", 4)
        deadline = time.monotonic() + 10
        while count_votes(shared_server.database, tablet.device_id) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert count_votes(shared_server.database, tablet.device_id) == 1
    finally:
        stopped = loop.stop(grace=20)
    assert stopped and loop.returncode == 0, loop.log_text()
    assert "Stopped; queued votes stay queued." in loop.log_text()
    assert tablet.status()["queue_depth"] == 0


def run_tablet_for(api, folder, seconds, *args):
    """``hailong-device run`` against ``api`` for a while, with nothing to send; returns its output."""
    data_dir = str(folder)
    identity.create_key(data_dir)
    identity.save_identity(data_dir, api.identity())
    loop = DeviceRun(data_dir, kiosk_port=False, args=("--interval", "600", *args), log_path=folder / "run.log")
    loop.start()
    try:
        time.sleep(seconds)
    finally:
        stopped = loop.stop(grace=20)
    assert stopped and loop.returncode == 0, loop.log_text()
    return loop.log_text()


def test_the_run_loop_heartbeats_at_the_interval_the_configuration_asks_for(tmp_path):
    api = DeviceApi(heartbeat_seconds=1)
    try:
        run_tablet_for(api, tmp_path / "t", 3.6)
    finally:
        api.close()
    # Every second although the sync interval is 600 s: at 0, 1, 2 and 3 s.
    assert 3 <= len(api.heartbeats) <= 5, api.heartbeats
    gaps = [later - earlier for earlier, later in zip(api.heartbeats, api.heartbeats[1:])]
    assert all(0.8 < gap < 1.6 for gap in gaps), gaps


def test_the_heartbeat_option_overrides_the_configuration(tmp_path):
    api = DeviceApi(heartbeat_seconds=1)
    try:
        run_tablet_for(api, tmp_path / "t", 2.5, "--heartbeat", "600")
    finally:
        api.close()
    assert len(api.heartbeats) == 1


def test_without_a_heartbeat_interval_in_the_configuration_the_tablet_beats_every_minute(tmp_path):
    api = DeviceApi()
    try:
        data_dir = tmp_path / "t"
        run_tablet_for(api, data_dir, 1.5)
        tablet = Tablet(str(data_dir))
        assert tablet.config["config_version"] == "stub" and tablet.heartbeat_seconds == 60
        tablet.close()
    finally:
        api.close()
    assert len(api.heartbeats) == 1
