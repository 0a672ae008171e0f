"""The fault campaign, small: every vote reaches the server exactly once, whatever fails.

The same code as ``make chaos`` (``devtools/chaos.py``), at a size that fits
in ``make test``: a dozen tablets (one a real ``hailong-device run`` kiosk
tapped over HTTP, one sent only by real ``hailong-device sync`` processes)
sync through the fault proxy (resets, dropped and cut answers, latency), while
the server is SIGKILLed (twice between a batch's commit and its answer),
``hailong jobs`` is SIGKILLed, the kiosk tablet is SIGKILLed during a tap and
during a sync, and a ``hailong-device sync`` with its request on the wire.
Then the network heals and the stores must agree: nothing lost, nothing
twice, every thanked tap in its outbox, the votes tree holding every vote once.

It runs on both backends (``[sqlite]``, ``[postgresql]``: a throwaway
PostgreSQL server of its own, which the campaign may kill, not the session's).
The two-server form, PostgreSQL itself killed too, is
``tests/test_fault_two_servers.py``.

Run it alone with ``pytest -q -s tests/test_fault_campaign.py`` to see the
figures; set HAILONG_FAULT_SEED to replay a run's random choices (thread
timing still varies).
"""


import pytest

from devtools import chaos

from tests.postgres import ensure_installed

pytestmark = [pytest.mark.slow, pytest.mark.backends]

PLAN = dict(tablets=12, votes=300, kiosks=1, cli_tablets=1, recording_seconds=10.0,
            server_kills=4, hook_kills=2, jobs_kills=1, kiosk_kills=2, cli_kills=2)


def test_every_vote_arrives_exactly_once_through_drops_cuts_and_kills(tmp_path, backend):
    if backend == "postgresql":
        ensure_installed()
    figures, problems, context = chaos.run_reported(tmp_path / "chaos", **PLAN, backend=backend)

    assert problems == [], context
    assert figures["recorded"] == figures["acknowledged"] == figures["on_server"] == 12 * 300, context
    assert (figures["lost"], figures["duplicated"]) == (0, 0), context
    assert figures["committed_unacked"] > 0 and figures["batch_answers_lost"] > 0, context
    assert (figures["server_kills"], figures["hook_kills"], figures["jobs_kills"]) == (4, 2, 1), context
    assert figures["kiosk_kills_during_tap"] >= 1 and figures["kiosk_kills_during_sync"] >= 1, context
    assert figures["cli_syncs_killed_mid_request"] >= 1, context
    assert figures["taps_thanked"] == 300 and figures["taps_thanked_missing"] == 0, context
    assert figures["faulted_share"] >= 0.30, context
    assert figures["integrity_failures"] == [] and figures["integrity_checks"] >= 4 + 1 + 2 + 1, context
    assert figures["tree"]["size"] == figures["on_server"] and figures["tree"]["root_matches"], context
