"""Periods: a month (``2026-10``), a quarter (``2026-Q4``) or a year (``2026``) of local days, and
closed periods – scores frozen as revision 1, and a visible revision N+1 whenever late votes or a
flag review change what the period holds. Every revision stays readable.

How a later change is noticed without ever scanning the month again: the
rollup job, in the same transaction as each chunk of new votes it rolls,
counts the chunk's votes that fall in a closed period (``note_late_votes``:
``votes.id`` above the latest revision's ``last_vote_id``, ``counted_at`` in
the period, staff or counter in its subtree), and each recount of a
``(day, staff)`` pair counts the votes of closed periods whose standing
changed (``note_standing_changes``). Both add to a pending counter in
``rollup_state`` (``late:ID``, ``review:ID``, ``flagged:ID``); ``revise_pending`` then
freezes the next revision from the rollups, which by then hold those votes.
"""

import calendar
import collections
import dataclasses
import re
import types

from server import audit
from server.errors import N_, invalid
from server.scoring import scores
from server.scoring.days import day_bounds_utc, local_day
from server.storage import accounts, timestamp, write_transaction
from server.storage import periods as storage
from server.storage import rollups as rollup_storage
from server.version import __version__

PERIOD_RE = re.compile(r"^(\d{4})(?:-(\d{2})|-Q([1-4]))?\Z")
JOB_ACTOR = types.SimpleNamespace(kind="job", name="jobs", address=None)


@dataclasses.dataclass(frozen=True)
class Period:
    kind: str  # month | quarter | year
    key: str  # 2026-10 | 2026-Q4 | 2026
    first_day: str  # local dates, inclusive
    last_day: str

    def as_dict(self):
        return dataclasses.asdict(self)


def parse_period(text):
    """``"2026-10"``, ``"2026-Q4"`` or ``"2026"`` → ``Period``; ``Invalid`` on the field ``period`` otherwise."""
    match = PERIOD_RE.match((text or "").strip())
    if not match or not 2000 <= int(match.group(1)) <= 2100 or (match.group(2) and not 1 <= int(match.group(2)) <= 12):
        raise invalid("period", N_("A period is a month (2026-10), a quarter (2026-Q4) or a year (2026)."))
    year, month, quarter = int(match.group(1)), match.group(2), match.group(3)
    if month:
        first, last, kind, key = int(month), int(month), "month", f"{year}-{int(month):02d}"
    elif quarter:
        first, last, kind, key = 3 * int(quarter) - 2, 3 * int(quarter), "quarter", f"{year}-Q{quarter}"
    else:
        first, last, kind, key = 1, 12, "year", str(year)
    last_day = calendar.monthrange(year, last)[1]
    return Period(kind, key, f"{year}-{first:02d}-01", f"{year}-{last:02d}-{last_day:02d}")


def subtree(db, unit_id):
    """The unit ids a period for ``unit_id`` covers (None: the whole organisation)."""
    return None if unit_id is None else accounts.subtree_ids(db, [unit_id])


def covering(db, period, unit_id):
    """The closed period whose snapshot holds ``period`` for ``unit_id``'s subtree (None: everything):
    one closed for that unit or any unit above it, or for the whole organisation; the nearest wins."""
    candidates = storage.periods_with_key(db, period.kind, period.key)
    if not candidates:
        return None
    units = storage.units(db)
    chain, node = [], unit_id
    while node is not None and node not in chain:
        chain.append(node)
        node = units.get(node, {}).get("parent_id")
    chain.append(None)
    by_unit = {row["unit_id"]: row for row in candidates}
    return next((by_unit[u] for u in chain if u in by_unit), None)


def open_flags(db, period, timezone):
    start, end = day_bounds_utc(period.first_day, period.last_day, timezone)
    return storage.open_flags_by_staff(db, start, end)


def freeze(db, period_row, reason, by, params, timezone):
    """Write the next revision of a closed period from the rollups as they stand; returns its number.

    Runs inside the caller's write transaction, so the rollups and the
    watermark it records (``last_vote_id``) are one consistent moment: on
    SQLite by ``BEGIN IMMEDIATE``, on PostgreSQL (where each statement sees
    what has committed before it) by holding the rollup step's lock, so no
    step commits between its reads.
    """
    rollup_storage.lock_step(db)
    period = Period(period_row["kind"], period_row["key"], period_row["first_day"], period_row["last_day"])
    unit_ids = subtree(db, period_row["unit_id"])
    both = scores.compute_both(db, period, unit_ids, params, open_flags(db, period, timezone))
    latest = storage.latest_revision(db, period_row["id"])
    number = 1 if latest is None else latest["revision"] + 1
    counted, flagged = both["counted"], both["with_flagged"]
    revision_id = storage.insert_revision(
        db, period_row["id"], number, timestamp(), by, reason, __version__, params.as_dict(),
        rollup_storage.watermark(db), sum(counted["votes"].values()),
    )
    rows = []
    for subject, key in (("staff", "staff"), ("counter", "counters")):
        other = {row["id"]: row for row in flagged[key]}
        for row in counted[key]:
            rows.append((subject, row["id"], row["unit_id"], row["n"], row["grade"],
                         {"counted": row, "with_flagged": other[row["id"]]}))
    other = {row["unit_id"]: row for row in flagged["units"]}
    units = storage.units(db)
    for row in counted["units"]:
        rows.append(("unit", row["unit_id"], units[row["unit_id"]]["parent_id"], row["n"], None,
                     {"counted": row, "with_flagged": other[row["unit_id"]]}))
    # The view's total: subject_id 0.
    rows.append(("unit", 0, period_row["unit_id"], counted["total"]["n"], None,
                 {"counted": counted["total"], "with_flagged": flagged["total"],
                  "votes": counted["votes"]}))
    storage.insert_scores(db, revision_id, rows)
    return number


def snapshot(db, period_row, revision=None):
    """A closed period's revision (latest when None) as the tables ``scores.compute`` gives, both ways:
    ``{"revision": {...}, "counted": tables, "with_flagged": tables}``; None if there is no such revision."""
    revisions = storage.revisions(db, period_row["id"])
    chosen = revisions[-1] if revision is None else next((r for r in revisions if r["revision"] == revision), None)
    if chosen is None:
        return None
    out = {"revision": chosen, "revisions": [{k: r[k] for k in ("revision", "created_at", "created_by", "reason",
                                                                 "n_votes")} for r in revisions]}
    for variant in ("counted", "with_flagged"):
        out[variant] = {"staff": [], "counters": [], "units": [], "total": None, "votes": None}
    for subject, subject_id, _unit, score in storage.scores(db, chosen["id"]):
        for variant in ("counted", "with_flagged"):
            if subject == "unit" and subject_id == 0:
                out[variant]["total"] = score[variant]
                out[variant]["votes"] = score.get("votes")
            else:
                out[variant]["units" if subject == "unit" else "counters" if subject == "counter" else "staff"].append(
                    score[variant])
    for variant in ("counted", "with_flagged"):
        for key in ("staff", "counters", "units"):
            out[variant][key].sort(key=lambda row: row["code"] or "")
    return out


def note_late_votes(db, low, high, timezone):
    """Count, per closed period, the votes ``(low, high]`` it did not hold when last frozen."""
    first, last = storage.time_span(db, low, high)
    if first is None:
        return
    for period_row in storage.closed_overlapping(db, local_day(first, timezone), local_day(last, timezone)):
        latest = storage.latest_revision(db, period_row["id"])
        after = max(low, latest["last_vote_id"] if latest else 0)
        if after >= high:
            continue
        start, end = day_bounds_utc(period_row["first_day"], period_row["last_day"], timezone)
        late = storage.late_votes(db, after, high, start, end, subtree(db, period_row["unit_id"]))
        if late:
            storage.add_pending(db, f"late:{period_row['id']}", late)


def note_standing_changes(db, day, before, after):
    """Count, per closed period holding ``day``, the votes whose standing a recount changed.

    ``before``/``after``: ``{(unit, counter unit, counter, version, rating, standing): n}`` of one (day, staff).
    Votes that became ``flagged`` are noted as newly flagged (``flagged:ID``), any other change (confirmed,
    dismissed) as a review (``review:ID``), so the revision's reason says which.
    """
    gained = collections.Counter()
    for key, n in after.items():
        gained[key[-1]] += max(0, n - before.get(key, 0))
    flagged = gained.pop("flagged", 0)
    reviewed = sum(gained.values())
    if not flagged and not reviewed:
        return
    touched = {unit for key in set(before) | set(after) if before.get(key, 0) != after.get(key, 0)
               for unit in key[:2]}
    for period_row in storage.closed_overlapping(db, day, day):
        units = subtree(db, period_row["unit_id"])
        if units is None or touched & units:
            if reviewed:
                storage.add_pending(db, f"review:{period_row['id']}", reviewed)
            if flagged:
                storage.add_pending(db, f"flagged:{period_row['id']}", flagged)


def revise_pending(db, params, timezone):
    """Freeze a new revision of every closed period with late votes or changed standings noted.

    Returns ``[{"period", "unit", "revision", "reason"}]``. Each revision is
    its own write transaction with its audit entry (by ``jobs``).
    """
    by_period = {}
    for name, count in storage.pending(db):
        kind, period_id = name.split(":")
        by_period.setdefault(int(period_id), {})[kind] = (name, count)
    made = []
    for period_id, noted in sorted(by_period.items()):
        with write_transaction(db):
            period_row = next((p for p in storage.all_closed(db) if p["id"] == period_id), None)
            counted = list(noted.values())
            if period_row is None:
                storage.clear_pending(db, counted)
                continue
            parts = []
            if "late" in noted:
                parts.append(f"{noted['late'][1]} late vote{'s' if noted['late'][1] != 1 else ''}")
            if "review" in noted:
                k = noted["review"][1]
                parts.append(f"{k} vote{'s' if k != 1 else ''} changed standing after a flag review")
            if "flagged" in noted:
                k = noted["flagged"][1]
                parts.append(f"{k} vote{'s' if k != 1 else ''} newly flagged")
            reason = "; ".join(parts)
            number = freeze(db, period_row, reason, JOB_ACTOR.name, params, timezone)
            storage.clear_pending(db, counted)
            audit.record(db, JOB_ACTOR, "revise", "period", _object_id(period_row), period_row["unit_id"],
                         after={"revision": number, "reason": reason})
        made.append({"period": period_row["key"], "unit_id": period_row["unit_id"], "revision": number,
                     "reason": reason})
    return made


def _object_id(period_row):
    """How the audit log names a closed period: its key and unit code (``2026-10@DN-TT``, ``2026-10@all``)."""
    return f"{period_row['key']}@{period_row.get('unit_code') or 'all'}"
