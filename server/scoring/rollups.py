"""Keep ``vote_rollups`` equal to a full recount of the votes, in short steps.

A step (``roll_up``) first adds the votes above the watermark, a chunk at a
time, each chunk its own short write transaction (the ingest waits at most
one chunk for the write lock), then recounts the ``(day, staff)`` pairs in
``rollup_dirty`` from the raw votes up to the watermark. After every step
the rollups equal a recount of the votes up to the watermark.

Days are local dates of ``votes.counted_at`` in ``TIMEZONE`` (``days.py``).
Each chunk also notes, in the same transaction, how many of its votes fall
in an already closed period (``periods.note_late_votes``), and each recount
how many votes of a closed period changed standing
(``periods.note_standing_changes``), so the revisions those call for are
never lost between two steps.
"""

import collections
import time

from server.scoring import periods
from server.scoring.days import day_bounds_utc, fixed_offset_minutes, local_day
from server.storage import rollups as storage
from server.storage import order, write_transaction


def roll_up(db, timezone, chunk=20_000, dirty_chunk=200, max_seconds=None):
    """One step: roll the new votes, then recount the dirty pairs. Returns what it did.

    ``{"votes": rolled, "pairs": recounted, "watermark": id, "waiting_at": id or None}``.
    ``max_seconds`` stops early between chunks (the next step carries on).
    A vote without attribution stops the rolling just before it
    (``waiting_at``) rather than be skipped: nothing is silently left out.
    """
    offset = fixed_offset_minutes(timezone)
    started = time.monotonic()
    rolled = pairs = 0
    waiting_at = None
    # Votes up to this id are settled: none with a smaller id can still commit later (on PostgreSQL
    # another server's transaction may hold one; storage/order.py). Newer votes wait for the next step.
    settled = order.settled_max_id(db, "votes")
    while max_seconds is None or time.monotonic() - started < max_seconds:
        with write_transaction(db):
            storage.lock_step(db)
            low = storage.watermark(db)
            high = storage.chunk_end(db, low, chunk, settled)
            if high is None:
                break
            missing = storage.first_unattributed(db, low, high)
            if missing is not None:
                waiting_at, high = missing, missing - 1
            if high > low:
                _add(db, low, high, offset, timezone)
                periods.note_late_votes(db, low, high, timezone)
                storage.set_watermark(db, high)
                rolled += storage.count_votes(db, low, high)
        if waiting_at is not None:
            break
    while max_seconds is None or time.monotonic() - started < max_seconds:
        with write_transaction(db):
            storage.lock_step(db)
            batch = storage.dirty_pairs(db, dirty_chunk)
            if not batch:
                break
            up_to = storage.watermark(db)
            for day, staff_id in batch:
                recount_pair(db, day, staff_id, up_to, timezone, offset)
            pairs += len(batch)
    return {"votes": rolled, "pairs": pairs, "watermark": storage.watermark(db), "waiting_at": waiting_at}


def _add(db, low, high, offset, timezone):
    if offset is not None:
        storage.add_votes_sql(db, low, high, offset)
        return
    counts = collections.Counter()
    for counted_at, *rest in storage.votes_for_python_days(db, low, high):
        counts[(local_day(counted_at, timezone), *rest)] += 1
    storage.add_counts(db, counts)


def recount_pair(db, day, staff_id, up_to, timezone, offset=None):
    """Replace one (day, staff) pair's rows by a recount of its votes up to ``up_to``; clears it from dirty."""
    start, end = day_bounds_utc(day, day, timezone)
    before = storage.pair_rows(db, day, staff_id)
    storage.clear_pair(db, day, staff_id)
    if offset is not None:
        storage.recount_pair_sql(db, day, staff_id, start, end, up_to, offset)
    else:
        counts = collections.Counter()
        for counted_at, *rest in storage.votes_of_pair(db, staff_id, start, end, up_to):
            counts[(local_day(counted_at, timezone), *rest)] += 1
        storage.add_counts(db, counts)
    after = storage.pair_rows(db, day, staff_id)
    if after != before:
        periods.note_standing_changes(db, day, before, after)


def full_recount(db, timezone, up_to=None):
    """``{key: n}`` counted from every vote up to ``up_to`` (default: the watermark), in Python.

    Independent of the SQL the step uses (days by ``zoneinfo``); tests and an
    operator's check compare it with ``storage.all_rows``.
    """
    up_to = storage.watermark(db) if up_to is None else up_to
    statuses = collections.defaultdict(set)
    for vote_id, status in storage.flag_statuses_of_votes(db):
        statuses[vote_id].add(status)
    counts = collections.Counter()
    for vote_id, counted_at, flags, *rest in storage.votes_for_recount(db, up_to):
        counts[(local_day(counted_at, timezone), *rest, standing(statuses[vote_id], flags))] += 1
    return dict(counts)


def standing(flag_statuses, ingest_flags):
    """A vote's standing from its flags' statuses and its ingest flags (the contract, in Python)."""
    if "confirmed" in flag_statuses:
        return "excluded"
    if "open" in flag_statuses:
        return "flagged"
    if "rapid_repeat" in (ingest_flags or "") and "dismissed" not in flag_statuses:
        return "flagged"
    return "counted"
