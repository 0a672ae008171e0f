"""Votes for the evaluation pages' tests, through the real paths: enrolled tablets sign votes, send
them to a real ``hailong serve`` over HTTP, and the rollup job step adds them to the daily rollups.

The people database (tests/people.py) has NV001–NV003 in DN-TT and NV004 in
DN-BH. Each gets votes over three months before the current one (and a few
in the current month), at office hours in Hà Nội time, so the ranking, the
funnel plot, the staff page's trend and heat map all have something to show.
A burst of NV002's votes gets a flag, as the nightly scan would store it, so
the flag pages have one to review.
"""

import datetime as dt
import random
import zoneinfo

from server import jobs, storage
from server.settings import DEFAULTS
from tests.live import enroll_tablet

ZONE = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
# staff → (counter, votes a month, share satisfied)
PEOPLE = {"NV001": ("DN-TT-Q1", 36, 0.92), "NV002": ("DN-TT-Q1", 6, 0.5), "NV003": ("DN-TT-Q2", 50, 0.8),
          "NV004": ("DN-BH-Q1", 24, 0.88)}
REASONS = ["long_wait", "attitude", "unclear_guidance"]


def months_back(today, count):
    """The first days of the ``count`` months before ``today``'s month, oldest first."""
    first = today.replace(day=1)
    out = []
    for _ in range(count):
        first = (first - dt.timedelta(days=1)).replace(day=1)
        out.append(first)
    return list(reversed(out))


def office_moment(rng, month_first, days):
    """A weekday moment within the usual opening hours of a month, in Hà Nội time."""
    while True:
        day = month_first + dt.timedelta(days=rng.randrange(days))
        if day.weekday() < 5:
            break
    hour = rng.choice([7, 8, 9, 10, 13, 14, 15, 16])
    return dt.datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=ZONE)


def seed(server, tmp_path, months=3, seed=9):
    """Votes for ``months`` whole months before this one and the current month so far; returns facts."""
    rng = random.Random(seed)
    today = dt.datetime.now(ZONE).date()
    periods = [m.strftime("%Y-%m") for m in months_back(today, months)]
    tablets = {}
    for staff, (counter, per_month, share) in PEOPLE.items():
        tablet = tablets.get(counter) or _enrolled_long_ago(server, tmp_path / counter, counter)
        tablets[counter] = tablet
        firsts = months_back(today, months)
        for first in firsts:
            last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
            for _ in range(per_month):
                _vote(tablet, staff, share, rng, office_moment(rng, first, last.day))
        # This month: a few votes today, so the dashboard has "today" and "this month".
        now = dt.datetime.now(ZONE)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(3):  # within today, also just after midnight
            _vote(tablet, staff, share, rng, max(midnight, now - dt.timedelta(minutes=rng.randrange(1, 30))))
    for tablet in tablets.values():
        while tablet.send("votes")[0]:
            pass
        tablet.close()
    db = storage.connect(server.database)
    try:
        jobs.roll_up_votes(db, dict(DEFAULTS), None)
        flag_id = _flag_a_burst(db, "NV002", periods[-1])
        jobs.roll_up_votes(db, dict(DEFAULTS), None)
    finally:
        db.close()
    return {"periods": periods, "last_month": periods[-1], "flag_id": flag_id}


def _enrolled_long_ago(server, folder, counter):
    """A tablet enrolled now, its enrollment dated a year back: the server refuses votes older than the
    tablet's enrollment, and these tests need months of them."""
    tablet = enroll_tablet(server, folder, counter)
    db = storage.connect(server.database)
    try:
        db.execute("UPDATE devices SET enrolled_at = ? WHERE id = ?",
                   [storage.timestamp(storage.now_utc() - dt.timedelta(days=365)), tablet.device_id])
    finally:
        db.close()
    return tablet


def _vote(tablet, staff, share, rng, moment):
    satisfied = rng.random() < share
    rating = rng.choice([3, 4, 4]) if satisfied else rng.choice([1, 2])
    reasons = [] if satisfied else rng.sample(REASONS, rng.choice([0, 1, 1, 2]))
    tablet.record_vote(staff, rating, reasons=reasons, now=moment)


def _flag_a_burst(db, staff_code, month):
    """A high-severity ``burst`` flag over the person's votes of ``month``'s first week, stored as the scan
    stores one (its votes in ``flag_votes``, their (day, staff) pairs marked for the rollup to recount)."""
    from server.manage.flags import dirty_pairs
    from server.storage import flags as flag_storage
    from server.storage import rollups as rollup_storage
    from server.storage import timestamp, write_transaction

    staff_id, unit_id = db.execute("SELECT id, unit_id FROM staff WHERE code = ?", [staff_code]).fetchone()
    votes = [row[0] for row in db.execute(
        "SELECT id FROM votes WHERE staff_id = ? AND counted_at >= ? ORDER BY counted_at LIMIT 4",
        [staff_id, f"{month}-01"])]
    first, last = db.execute(
        f"SELECT MIN(counted_at), MAX(counted_at) FROM votes WHERE id IN ({','.join('?' * len(votes))})", votes
    ).fetchone()
    with write_transaction(db):
        flag_id, _ = flag_storage.insert_flag(db, {
            "key": f"pages|burst|{staff_code}|{month}", "kind": "burst", "severity": "high", "staff_id": staff_id,
            "unit_id": unit_id, "counter_id": None, "device_id": None, "first_at": first, "last_at": last,
            "test": "poisson", "statistic": 9.5, "p_value": 1e-5, "q_value": 3e-4, "n_votes": len(votes),
            "detail": {"expected": 0.4, "observed": 4}, "created_at": timestamp(),
        })
        flag_storage.add_flag_votes(db, flag_id, votes)
        rollup_storage.mark_dirty(db, dirty_pairs(db, flag_id, DEFAULTS["TIMEZONE"]))
    return flag_id
