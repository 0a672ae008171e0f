"""Scores of a period from the daily rollups (never the raw votes), through ``analysis``.

One query reads the period's rollup rows (summed over days); everything
else is grouping in memory over those rows, a few per person:

- **staff**: one row per person in the view. Their votes are those cast
  while they belonged to a unit of the view (``vote_rollups.unit_id``, the
  unit at vote time), so a unit's HR scores what happened in their unit.
  The prior group is the unit with most of those votes: a person moved in
  mid-period is scored against the unit they spent most of it in, and the
  row says which other units their votes came from (``other_units``).
- **counters**: the same by the counter's unit at vote time.
- **units**: every unit of the view pooled over its whole subtree (a centre
  is the sum of its units, the province of everything): sums of tallies,
  never an average of rates.

The headline uses ``counted`` votes only; ``include_flagged`` adds the
``flagged`` ones. Every row carries how many of its votes are flagged and
excluded, whichever is scored.
"""

import collections
import json
import pickle
import threading

from analysis.levels import Tally, describe_scale
from analysis.scores import Params, evaluate, rollup, summarize
from server.storage import periods as period_storage
from server.storage import rollups as rollup_storage

STANDINGS = ("counted", "flagged", "excluded")


def scales(db):
    """``{version: levels}`` of every scale version, as stored."""
    return {version: json.loads(levels) for version, levels in rollup_storage.scales(db).items()}


def compute(db, period, unit_ids=None, params=None, include_flagged=False, open_flags=None, cache=True):
    """Scores of ``period`` (``server.scoring.periods.Period``) for the units ``unit_ids`` (None: all).

    Returns ``{"staff": [...], "counters": [...], "units": [...], "total": {...}, "votes": {standing: n}}``
    (rows described in ``docs/hr.md``). ``open_flags``: ``{staff_id: count}`` to show on staff rows.
    The answer is remembered (``cache``) until the rollups, flags, names or scales change: a province's
    month takes about a second to compute and a ranking page is opened many times between two runs
    of the rollup job. Each call gets its own copy.
    """
    params = params or Params()
    key = None
    if cache:
        key = (rollup_storage.fingerprint(db, period.first_day, period.last_day), period, None if unit_ids is None else frozenset(unit_ids), params,
               include_flagged, frozenset((open_flags or {}).items()))
        with _lock:
            hit = _cache.get(key)
            if hit is not None:
                _cache.move_to_end(key)
        if hit is not None:
            return pickle.loads(hit)
    rows = rollup_storage.period_rows(db, period.first_day, period.last_day, unit_ids)
    answer = score_rows(db, rows, unit_ids, params, include_flagged, open_flags or {})
    if cache:
        with _lock:
            _cache[key] = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return answer


CACHE_SIZE = 16
_cache = collections.OrderedDict()
_lock = threading.Lock()


def clear_cache():
    """Forget every remembered answer (for a test or tool that writes ``vote_rollups`` by hand: writes
    through ``server.storage.rollups`` count a new generation themselves)."""
    with _lock:
        _cache.clear()


def compute_both(db, period, unit_ids=None, params=None, open_flags=None):
    """``{"counted": compute(...), "with_flagged": compute(..., include_flagged=True)}`` from one read."""
    rows = rollup_storage.period_rows(db, period.first_day, period.last_day, unit_ids)
    params = params or Params()
    return {"counted": score_rows(db, rows, unit_ids, params, False, open_flags or {}),
            "with_flagged": score_rows(db, rows, unit_ids, params, True, open_flags or {})}


def recompute_month(db, key, params=None):
    """Everyone's scores of one month (``"2026-10"``) from the rollups: what ``bench/scores.py`` times."""
    from server.scoring.periods import parse_period

    return compute(db, parse_period(key), None, params, cache=False)


def score_rows(db, rows, unit_ids, params, include_flagged, open_flags):
    """The score tables from rollup rows ``(staff, unit, counter, counter unit, version, rating, standing, n)``."""
    used = {"counted", "flagged"} if include_flagged else {"counted"}
    all_scales = _Levels(scales(db))
    in_view = (lambda unit: True) if unit_ids is None else (lambda unit: unit in unit_ids)

    staff_counts = collections.defaultdict(collections.Counter)  # staff -> {(version, rating): n}
    staff_units = collections.defaultdict(collections.Counter)  # staff -> {unit: n (all standings)}
    staff_standing = collections.defaultdict(collections.Counter)
    counter_counts = collections.defaultdict(collections.Counter)
    counter_units = collections.defaultdict(collections.Counter)
    counter_standing = collections.defaultdict(collections.Counter)
    unit_counts = collections.defaultdict(collections.Counter)
    unit_standing = collections.defaultdict(collections.Counter)
    unit_staff = collections.defaultdict(set)
    for staff_id, unit_id, counter_id, counter_unit_id, version, rating, standing, n in rows:
        if in_view(unit_id):
            staff_units[staff_id][unit_id] += n
            staff_standing[staff_id][standing] += n
            unit_standing[unit_id][standing] += n
            unit_staff[unit_id].add(staff_id)
            if standing in used:
                staff_counts[staff_id][(version, rating)] += n
                unit_counts[unit_id][(version, rating)] += n
        if in_view(counter_unit_id):
            counter_units[counter_id][counter_unit_id] += n
            counter_standing[counter_id][standing] += n
            if standing in used:
                counter_counts[counter_id][(version, rating)] += n

    units = period_storage.units(db)
    staff_rows = _subjects(staff_counts, staff_units, staff_standing, all_scales, params)
    names = period_storage.staff_names(db, staff_counts.keys() | staff_units.keys())
    for row in staff_rows:
        code, name = names.get(row["id"], ("?", "?"))
        unit = units.get(row["group"], {})
        row.update(staff_id=row["id"], code=code, name=name, unit_id=row["group"], unit_code=unit.get("code"),
                   unit_name=unit.get("name"), open_flags=open_flags.get(row["id"], 0))
        row["other_units"] = [{"code": units.get(u, {}).get("code"), "n": k}
                              for u, k in sorted(staff_units[row["id"]].items()) if u != row["group"]]
    counter_rows = _subjects(counter_counts, counter_units, counter_standing, all_scales, params)
    counter_names = period_storage.counter_names(db, counter_units.keys())
    for row in counter_rows:
        code, name = counter_names.get(row["id"], ("?", "?"))
        unit = units.get(row["group"], {})
        row.update(counter_id=row["id"], code=code, name=name, unit_id=row["group"], unit_code=unit.get("code"),
                   unit_name=unit.get("name"))

    unit_rows, total = _units(units, unit_ids, unit_counts, unit_standing, unit_staff, all_scales, params)
    votes = collections.Counter()
    for counts in staff_standing.values():
        votes.update(counts)
    staff_rows.sort(key=lambda row: row["code"])
    counter_rows.sort(key=lambda row: row["code"])
    return {"staff": staff_rows, "counters": counter_rows, "units": unit_rows, "total": total,
            "votes": {standing: votes.get(standing, 0) for standing in STANDINGS}}


class _Levels:
    """``analysis.levels.tally`` for many subjects: each scale version described once
    (``describe_scale``, its own definitions), then every subject's counts read through it."""

    def __init__(self, scale_levels):
        self.scales = scale_levels
        self.described = {}

    def tally(self, counts):
        n = satisfied = 0
        weight_sum = 0.0
        for (version, rating), count in counts.items():
            if version not in self.described:
                if version not in self.scales:
                    raise ValueError(f"unknown scale version {version}")
                self.described[version] = describe_scale(self.scales[version])
            info = self.described[version].get(rating)
            if info is None:
                raise ValueError(f"rating {rating} is not a level of scale version {version}")
            n += count
            satisfied += count if info.satisfied else 0
            weight_sum += count * info.weight
        return Tally(n, satisfied, weight_sum, dict(counts))


def _standing_counts(counter):
    return {"flagged": counter.get("flagged", 0), "excluded": counter.get("excluded", 0),
            "counted": counter.get("counted", 0)}


def _subjects(counts, units_of, standing_of, all_scales, params):
    """``evaluate`` rows for subjects, each grouped with the unit that holds most of its votes."""
    subjects = []
    for subject_id, by_unit in units_of.items():
        group = max(by_unit.items(), key=lambda item: (item[1], -item[0]))[0]
        subjects.append({"id": subject_id, "group": group, "tally": all_scales.tally(counts.get(subject_id, {}))})
    rows = evaluate(subjects, params)
    for row in rows:
        row.update(_standing_counts(standing_of[row["id"]]))
    return rows


def _units(units, unit_ids, unit_counts, unit_standing, unit_staff, all_scales, params):
    """Each unit of the view pooled over its subtree, and the view's total."""
    view = set(units) if unit_ids is None else set(unit_ids) & set(units)
    own = {unit: all_scales.tally(counts) for unit, counts in unit_counts.items()}
    pooled = collections.defaultdict(list)
    standing = collections.defaultdict(collections.Counter)
    staff = collections.defaultdict(set)
    for unit in set(own) | set(unit_standing):
        seen = set()
        node = unit
        while node is not None and node not in seen:  # ancestors in the view, the unit itself first
            seen.add(node)
            if node in view:
                if unit in own:
                    pooled[node].append(own[unit])
                standing[node].update(unit_standing.get(unit, {}))
                staff[node] |= unit_staff.get(unit, set())
            node = units.get(node, {}).get("parent_id")
    depth = {}
    for unit in view:
        d, node = 0, units[unit]["parent_id"]
        while node is not None and node in units and d < 100:
            d, node = d + 1, units[node]["parent_id"]
        depth[unit] = d
    rows = []
    for unit in sorted(view, key=lambda u: units[u]["code"]):
        info = units[unit]
        parent = units.get(info["parent_id"]) if info["parent_id"] else None
        row = summarize(rollup(pooled.get(unit, [])), params.confidence)
        row.update(unit_id=unit, code=info["code"], name=info["name"], parent_code=parent and parent["code"],
                   depth=depth[unit], staff=len(staff[unit]), **_standing_counts(standing[unit]))
        rows.append(row)
    all_standing = collections.Counter()
    for unit in set(own) | set(unit_standing):
        if unit in view:
            all_standing.update(unit_standing.get(unit, {}))
    total = summarize(rollup(tally for unit, tally in own.items() if unit in view), params.confidence)
    total.update(staff=len(set().union(*(unit_staff[u] for u in unit_staff if u in view))) if unit_staff else 0,
                 **_standing_counts(all_standing))
    return rows, total
