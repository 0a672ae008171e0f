"""Two ``hailong serve`` on one PostgreSQL, both behind the fault proxy: every vote still arrives exactly once.

The fault campaign (``devtools/chaos.py``) in its two-server form, small:
eight tablets sync through the fault proxy, which hands each connection to the
next server in turn, so a batch and its retry land on different servers;
during the run one server is SIGKILLed, one kills itself between a batch's
commit and its answer, and PostgreSQL itself is SIGKILLed (postmaster and
backends, the servers' pooled connections with them) and started again,
which is crash recovery. ``hailong jobs`` appends the votes to the Merkle
tree throughout (SIGKILLed once too). Then the network heals and the stores
must agree: the votes on the server are the votes on the tablets, byte for
byte (each signature checked again), none twice, no gap (each device
acknowledged up to its tablet's last seq, every seq below it present), the
votes tree holding each vote once.

``make chaos`` runs the same at full size (50 tablets x 2,000 votes); set
HAILONG_FAULT_SEED to replay a run's random choices (thread timing still
varies).
"""


import pytest

from devtools import chaos
from tests.postgres import ensure_installed

pytestmark = pytest.mark.slow

PLAN = dict(backend="postgresql", servers=2, tablets=8, votes=250, kiosks=0, cli_tablets=0,
            recording_seconds=10.0, server_kills=2, hook_kills=1, database_kills=1, jobs_kills=1,
            kiosk_kills=0, cli_kills=0)


def test_two_servers_and_a_killed_postgresql_lose_and_double_nothing(tmp_path):
    ensure_installed()
    figures, problems, context = chaos.run_reported(tmp_path / "chaos", **PLAN)

    assert problems == [], context
    assert figures["recorded"] == figures["acknowledged"] == figures["on_server"] == 8 * 250, context
    assert (figures["lost"], figures["duplicated"], figures["votes_unknown_to_tablets"]) == (0, 0, 0), context
    assert figures["bad_signatures"] == 0, context
    assert figures["committed_unacked"] > 0, context
    assert (figures["server_kills"], figures["hook_kills"], figures["database_kills"], figures["jobs_kills"]) \
        == (2, 1, 1, 1), context
    assert len(figures["connections_per_server"]) == 2 and min(figures["connections_per_server"]) > 0, context
    assert figures["integrity_failures"] == [] and figures["integrity_checks"] >= 2 + 1 + 1 + 1, context
    assert figures["tree"]["size"] == figures["on_server"] and figures["tree"]["root_matches"], context
