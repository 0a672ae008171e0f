"""A period's export walks only the ids its votes can have (``storage.exports.period_window``), and finds the
same votes as a walk of every id: late votes (a high id, an early time) and early ids with late times included.

The window comes from the ``counted_at`` index, so it must hold whatever order the votes arrived in; here the
times of some votes are moved out of the ids' order on purpose, and the period's rows, device bounds and
withheld ranges are compared with the walk over every id.
"""

import pytest

from server import storage
from server.storage import exports as store
from tests.export_data import add_votes

pytestmark = pytest.mark.backends


@pytest.fixture
def shuffled_db(people):
    path, facts = people
    db = storage.connect(path)
    devices = {"DN-TT-Q1": facts["devices"]["in"], "DN-TT-Q2": facts["devices"]["in2"],
               "DN-BH-Q1": facts["devices"]["out"]}
    add_votes(db, devices, 240, first_day="2026-09-20", days=40, catch_up=False)
    with storage.write_transaction(db):
        top = db.execute("SELECT MAX(id) FROM votes").fetchone()[0]
        # The newest ids counted early in October (a tablet that was offline), the oldest late in it.
        db.execute("UPDATE votes SET counted_at = '2026-10-02T03:00:00.000Z' WHERE id > ? - 5", [top])
        db.execute("UPDATE votes SET counted_at = '2026-10-30T03:00:00.000Z'"
                   " WHERE id IN (SELECT id FROM votes ORDER BY id LIMIT 3)")
    from server.ledger import log

    log.catch_up(db, "votes")
    yield db
    db.close()


def every_id(monkeypatch):
    monkeypatch.setattr(store, "period_window", lambda db, criteria, after, up_to: (after, up_to))


CRITERIA = [
    {"start": "2026-10-01T00:00:00.000Z", "end": "2026-11-01T00:00:00.000Z"},
    {"start": "2026-10-01T00:00:00.000Z", "end": "2026-11-01T00:00:00.000Z", "staff_id": 1},
    {"start": "2026-12-01T00:00:00.000Z", "end": "2027-01-01T00:00:00.000Z"},
    {},
]


@pytest.mark.parametrize("criteria", CRITERIA, ids=["month", "month-staff", "empty-month", "all"])
def test_the_period_window_finds_what_a_walk_of_every_id_finds(shuffled_db, monkeypatch, criteria):
    db = shuffled_db
    criteria = {"scope": None, "units": None, "staff_id": None, "device_id": None, "flagged": "include",
                "start": None, "end": None, **criteria}
    up_to = db.execute("SELECT MAX(id) FROM votes").fetchone()[0]

    def read():
        rows = [row for chunk, _, _ in store.vote_chunks(db, criteria, up_to, chunk=7) for row in chunk]
        return rows, store.sequence_bounds(db, criteria, up_to), list(store.withheld_ranges(db, criteria, up_to)
                                                                      or ())

    windowed = read()
    every_id(monkeypatch)
    assert windowed == read()
    if criteria["start"] == "2026-10-01T00:00:00.000Z" and criteria["staff_id"] is None:
        ids = {row[1] for row in windowed[0]}
        assert up_to in ids and min(ids) <= 3  # the late votes and the early ids are in the month
