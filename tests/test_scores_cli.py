"""`hailong scores` and `hailong period` as real processes: a table, CSV and JSON; closing, listing
and showing revisions; a bad period or an unknown unit is one readable line, never a traceback."""

import csv
import io
import json

import pytest

from server import jobs
from server.settings import DEFAULTS
from tests.live import hailong
from tests.scoring_data import make_org, random_votes, seeded

pytestmark = pytest.mark.backends


def scored(db, db_path):
    ids = make_org(db)
    random_votes(db, ids, seeded(2), 400)
    jobs.roll_up_votes(db, dict(DEFAULTS), None)
    return str(db_path)


def test_scores_are_a_table_a_csv_and_json(db, db_path):
    path = scored(db, db_path)
    table = hailong("--database", path, "scores", "--period", "2026-10").stdout
    assert table.startswith("Period 2026-10 (2026-10-01 to 2026-10-31, open); counted votes only.")
    assert "Wilson 95%" in table and "Nhân viên SA1" in table and "Total: n " in table
    rows = list(csv.DictReader(io.StringIO(hailong("--database", path, "scores", "--period", "2026-10",
                                                   "--unit", "A", "--format", "csv").stdout)))
    assert {row["unit_code"] for row in rows} == {"A", "A1"} and all(row["grade"] for row in rows)
    answer = json.loads(hailong("--database", path, "scores", "--period", "2026-Q4", "--format", "json",
                                "--include-flagged").stdout)
    assert answer["include_flagged"] is True and answer["period"]["kind"] == "quarter"
    assert answer["total"]["n"] == answer["votes"]["counted"] + answer["votes"]["flagged"]


@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_a_bad_period_or_unknown_unit_is_one_error_line(db, db_path):
    path = scored(db, db_path)
    bad = hailong("--database", path, "scores", "--period", "2026-13", check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == "Error: A period is a month (2026-10), a quarter (2026-Q4) or a year (2026)."
    unknown = hailong("--database", path, "scores", "--period", "2026-10", "--unit", "NOPE", check=False)
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "Error: No unit with this code.")


@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_a_period_is_closed_listed_and_shown_by_revision(db, db_path):
    path = scored(db, db_path)
    closed = hailong("--database", path, "period", "close", "2026-10", "--unit", "A").stdout
    assert closed.startswith("Closed 2026-10 for A: revision 1,")
    again = hailong("--database", path, "period", "close", "2026-10", "--unit", "A", check=False)
    assert again.returncode == 1 and "already closed" in again.stderr
    listing = hailong("--database", path, "period", "list").stdout
    assert listing.splitlines()[0].startswith("2026-10 A: closed ") and "revision 1" in listing and "closed (" in listing
    shown = hailong("--database", path, "period", "show", "2026-10", "--revision", "1", "--unit", "A").stdout
    assert "closed, revision 1" in shown and "SB1" not in shown
    missing = hailong("--database", path, "period", "show", "2026-10", "--revision", "2", "--unit", "A", check=False)
    assert (missing.returncode, missing.stderr.strip()) == (1, "Error: No such revision of a closed period.")
