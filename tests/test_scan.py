"""The anomaly scan's plumbing on a simulated unit in a real SQLite file: votes in, flags stored once.

The statistics themselves are tested in tests/test_analysis_anomalies.py;
these tests check what the scan reads, what it stores and that a re-run
stores nothing twice.
"""

import datetime as dt
import os

import pytest

from server import settings, storage
from server.scoring import scan
from tests import scan_data
from tests.live import hailong

FIRST = dt.date(2026, 9, 28)  # a Monday; three weeks of history, then the week scanned
WINDOW = ("2026-10-19", "2026-10-23")


pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
def simulated(tmp_path_factory, backend, request):
    """The simulated unit built once per backend: a SQLite file, or a PostgreSQL template database."""
    folder = tmp_path_factory.mktemp("scan")
    if backend == "postgresql":
        from tests.postgres import PostgresTarget

        cluster = request.getfixturevalue("postgresql_cluster")
        name = f"scan_template_{os.getpid()}"
        path = PostgresTarget(cluster.create_database(name, template=request.getfixturevalue("postgresql_template")),
                              folder, name)
    else:
        path = folder / "template.db"
    facts = scan_data.build(path, folder, FIRST, 28, rapid_repeat={("SIM-1", 22)})
    yield path, facts
    if backend == "postgresql":
        cluster.drop_database(name)


@pytest.fixture
def sim(simulated, backend, request, tmp_path):
    """A fresh copy of the simulated unit for one test (``db_path``'s place in this module)."""
    import shutil

    template, facts = simulated
    if backend == "postgresql":
        from tests.postgres import new_database

        cluster = request.getfixturevalue("postgresql_cluster")
        path = new_database(cluster, template.name, tmp_path)
        yield path, facts
        cluster.drop_database(path.name)
        return
    path = tmp_path / "sim.db"
    shutil.copy(template, path)
    yield path, facts


def config(path):
    return settings.load({"DATABASE": str(path), "INSTANCE": str(path.parent)})


def flags_of(db):
    return db.execute("SELECT key, kind, staff_id, status, n_votes, scan_id FROM flags ORDER BY id").fetchall()


def test_a_self_voter_is_flagged_and_honest_staff_mostly_are_not(sim):
    path, facts = sim
    db = storage.connect(path)
    done = scan.scan_days(db, config(path), *WINDOW)
    flagged = {staff for _key, kind, staff, *_ in flags_of(db) if kind != "rapid_repeat"}
    assert facts["staff"]["SIM-CHEAT"] in flagged
    honest = flagged - {facts["staff"]["SIM-CHEAT"]}
    assert len(honest) <= 1, honest
    assert done["votes"] > 500 and done["n_tests"] > 0
    db.close()


def test_votes_in_the_lunch_break_are_outside_the_units_opening_hours(sim):
    path, facts = sim
    db = storage.connect(path)
    scan.scan_days(db, config(path), *WINDOW)
    off = db.execute("SELECT staff_id FROM flags WHERE kind = 'off_hours'").fetchall()
    assert (facts["staff"]["SIM-CHEAT"],) in off
    db.close()


def test_each_flag_keeps_its_votes_and_numbers_and_marks_their_days_for_recount(sim):
    path, facts = sim
    db = storage.connect(path)
    scan.scan_days(db, config(path), *WINDOW)
    cheat = facts["staff"]["SIM-CHEAT"]
    rows = db.execute("SELECT id, test, p_value, q_value, n_votes, first_at, last_at, unit_id, severity FROM flags"
                      " WHERE staff_id = ? AND kind != 'rapid_repeat'", [cheat]).fetchall()
    assert rows
    for flag_id, test, p, q, n, first_at, last_at, unit_id, severity in rows:
        assert test and 0 <= p <= 1 and q <= 0.05 and n > 0 and first_at <= last_at and unit_id is not None
        assert severity in ("low", "medium", "high")
        linked = db.execute("SELECT COUNT(*), MIN(v.staff_id), MAX(v.staff_id) FROM flag_votes fv"
                            " JOIN votes v ON v.id = fv.vote_id WHERE fv.flag_id = ?", [flag_id]).fetchone()
        assert linked == (n, cheat, cheat)
    dirty = {day for day, staff in db.execute("SELECT day, staff_id FROM rollup_dirty") if staff == cheat}
    assert dirty and dirty <= {"2026-10-19", "2026-10-20", "2026-10-21", "2026-10-22", "2026-10-23"}
    stored = db.execute("SELECT day_from, day_to, n_tests, n_flags, finished_at IS NOT NULL FROM scans").fetchall()
    assert stored[0][:2] == WINDOW and stored[0][2] > 0 and stored[0][4] == 1
    db.close()


def test_running_the_same_window_again_finds_its_flags_instead_of_making_new_ones(sim):
    path, _facts = sim
    db = storage.connect(path)
    first = scan.scan_days(db, config(path), *WINDOW)
    before = [row[:5] for row in flags_of(db)]
    second = scan.scan_days(db, config(path), *WINDOW)
    assert [row[:5] for row in flags_of(db)] == before
    assert second["new_flags"] == 0 and second["flags"] == first["flags"] == first["new_flags"]
    assert db.execute("SELECT COUNT(*) FROM scans").fetchone()[0] == 2
    db.close()


def test_a_reviewed_flag_stays_as_reviewed_when_the_window_is_scanned_again(sim):
    from server.manage import flags
    from server.manage.actor import cli_actor

    path, facts = sim
    db = storage.connect(path)
    scan.scan_days(db, config(path), *WINDOW)
    flag_id = db.execute("SELECT id FROM flags WHERE staff_id = ? ORDER BY id LIMIT 1",
                         [facts["staff"]["SIM-CHEAT"]]).fetchone()[0]
    flags.review_flag(db, cli_actor(), flag_id, "confirm", "burst of top votes at lunch", config(path))
    scan.scan_days(db, config(path), *WINDOW)
    assert db.execute("SELECT status FROM flags WHERE id = ?", [flag_id]).fetchone()[0] == "confirmed"
    db.close()


def test_rapid_repeat_marks_become_one_flag_per_person_and_day(sim):
    path, facts = sim
    db = storage.connect(path)
    scan.scan_days(db, config(path), *WINDOW)
    marked = db.execute("SELECT key, staff_id, severity, n_votes, p_value FROM flags WHERE kind = 'rapid_repeat'"
                        ).fetchall()
    assert marked == [(f"rapid_repeat|staff:{facts['staff']['SIM-1']}|2026-10-20", facts["staff"]["SIM-1"],
                       "low", 1, None)]
    db.close()


def test_the_nightly_step_scans_yesterday_once_and_catches_up_after_a_pause(sim):
    path, _facts = sim
    db = storage.connect(path)
    night = dt.datetime(2026, 10, 20, 19, 15, tzinfo=dt.timezone.utc)  # 02:15 on the 21st, local
    done = scan.nightly(db, config(path), night)
    assert [d["days"] for d in done] == [["2026-10-20", "2026-10-20"]]
    assert scan.nightly(db, config(path), night) == []
    later = scan.nightly(db, config(path), night + dt.timedelta(days=3))
    assert [d["days"][0] for d in later] == ["2026-10-21", "2026-10-22", "2026-10-23"]
    db.close()


@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_the_cli_scans_a_window_and_audits_it_once(sim):
    path, _facts = sim
    result = hailong("--database", str(path), "scan", "--from", WINDOW[0], "--to", WINDOW[1])
    assert result.stdout.startswith(f"Scanned {WINDOW[0]}..{WINDOW[1]}: ")
    db = storage.connect(path)
    assert db.execute("SELECT actor_kind, action, object_type FROM audit_log WHERE action = 'scan'").fetchall() == \
        [("cli", "scan", "scan")]
    db.close()
    bad = hailong("--database", str(path), "scan", "--day", "yesterday", check=False)
    assert bad.returncode == 2 and "Not a day" in bad.stderr


def test_presence_comes_from_the_persons_own_sign_ins_at_that_counter(sim):
    path, facts = sim
    db = storage.connect(path)
    honest = facts["staff"]["SIM-2"]
    day = "2026-10-21"
    # No sign-in data that day for SIM-2; a PIN lockout alone is none either.
    db.execute("DELETE FROM staff_sessions WHERE staff_id = ? AND substr(local_time, 1, 10) = ?", [honest, day])
    device, counter = db.execute("SELECT device_id, counter_id FROM votes WHERE staff_id = ? LIMIT 1",
                                 [honest]).fetchone()
    db.execute("INSERT INTO staff_sessions (uuid, device_id, seq, counter_id, staff_id, event, local_time, signature,"
               " digest, received_at) VALUES ('00000000-0000-7000-a000-000000000001', ?, 9999, ?, ?, 'lockout',"
               " ?, 's', 'd', ?)", [device, counter, honest, f"{day}T09:00:00.000+07:00", storage.timestamp()])
    votes, _baseline, rows = scan.build_input(db, config(path), *WINDOW)
    on_day = [i for i, row in enumerate(rows) if row[3] == honest and row[2][:10] == day]
    assert on_day and {int(votes["present"][i]) for i in on_day} == {-1}
    others = [i for i, row in enumerate(rows) if not (row[3] == honest and row[2][:10] == day)]
    assert {int(votes["present"][i]) for i in others} == {1}  # every simulated vote is within its sign-in
    db.close()
