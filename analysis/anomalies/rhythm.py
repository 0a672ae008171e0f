"""Tests of when votes come: bursts in an hour against the person's own
rhythm, and gaps between votes too short for a real service."""

import numpy as np
from scipy import stats

from analysis.anomalies.common import HOURS_OF_WEEK, _finding, _groups

def _history(entry):
    """(counts, weeks, squares or None) from a baseline entry of 2 or 3 items."""
    counts, weeks = np.asarray(entry[0], dtype=float), float(entry[1])
    squares = np.asarray(entry[2], dtype=float) if len(entry) > 2 and entry[2] is not None else None
    return counts, weeks, squares


def _expected_hourly(votes, baseline, staff_units, params):
    """``{staff: expected votes per hour for each of the 168 hours of the week}``:
    the person's own history, shrunk toward their unit's typical person for
    people with little history, never below the floor."""
    hourly = (baseline or {}).get("hourly", {})
    by_unit = {}
    for staff, entry in hourly.items():
        counts, weeks, _ = _history(entry)
        unit = staff_units.get(int(staff))
        if unit is not None and weeks > 0:
            by_unit.setdefault(unit, []).append(counts / weeks)
    unit_mean = {u: np.mean(rates, axis=0) for u, rates in by_unit.items()}
    k = params.burst_prior_weeks
    out = {}
    for staff, unit in staff_units.items():
        counts, weeks, _ = _history(hourly.get(staff, (np.zeros(HOURS_OF_WEEK), 0)))
        typical = unit_mean.get(unit, np.zeros(HOURS_OF_WEEK))
        rate = (counts + k * typical) / (weeks + k)
        out[staff] = np.maximum(rate, params.burst_floor_per_hour)
    return out


def _history_dispersion(baseline, staff_units):
    """``{unit: dispersion for each hour of the week}`` from the previous
    weeks, when the baseline carries each person's sum of squared weekly
    counts: the unit's staff's variance over their mean, per hour of the week
    (at least 1; the unit's all-hours figure for hours nobody had votes in).
    The history, unlike the window, holds no burst of the window to widen its
    own allowance. None for units without squares."""
    sums = {}
    for staff, entry in (baseline or {}).get("hourly", {}).items():
        counts, weeks, squares = _history(entry)
        unit = staff_units.get(int(staff))
        if unit is None or squares is None or weeks < 2:
            continue
        mean = counts / weeks
        variance = np.maximum(0.0, (squares - weeks * mean ** 2) / (weeks - 1))
        v, m = sums.setdefault(unit, (np.zeros(HOURS_OF_WEEK), np.zeros(HOURS_OF_WEEK)))
        v += variance
        m += mean
    out = {}
    for unit, (v, m) in sums.items():
        overall = max(1.0, v.sum() / m.sum()) if m.sum() > 0 else 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            phi = np.where(m > 0, v / m, overall)
        out[unit] = np.maximum(phi, 1.0)
    return out


def _burst(votes, expected, params, by_staff, staff_units, history_phi=None):
    """Votes in one clock hour (in opening hours) against the person's own
    rate for that hour of the week. Hours vary more than a Poisson count says (a long queue
    spills past closing on a busy day), so the count is tested with a
    negative binomial whose variance is the Poisson's times the dispersion
    of the person's unit: the widest of the unit's figure over all hours of
    the window (the mean of (x - e)^2 / e) and that hour of the week's, from
    the previous weeks when the baseline carries squared weekly counts
    (``_history_dispersion``), else from the colleagues' same hours in the
    window; never less than 1. The worst hour is corrected for the number of
    hours looked at (Bonferroni)."""
    hour_cell = np.floor(votes["t"] / 3600).astype(np.int64)
    how = votes["weekday"].astype(int) * 24 + votes["local_hour"].astype(int)
    cells_by_staff = []
    pearson = {}
    for staff, idx in by_staff:
        # Votes in opening hours only: what falls outside is the off_hours test's, and honest
        # votes there come in clumps (the queue served after closing) no hourly rate describes.
        idx = idx[votes["open"][idx]]
        if idx.size == 0:
            continue
        cells, members = _groups(hour_cell[idx])
        x = np.array([len(m) for m in members])
        h = np.array([how[idx[m[0]]] for m in members])
        lam = expected[int(staff)][h]
        own = np.zeros(HOURS_OF_WEEK), np.zeros(HOURS_OF_WEEK)
        np.add.at(own[0], h, (x - lam) ** 2 / lam)
        np.add.at(own[1], h, 1)
        cells_by_staff.append((staff, idx, cells, members, x, h, lam, own))
        total, count = pearson.setdefault(staff_units[int(staff)], (np.zeros(HOURS_OF_WEEK), np.zeros(HOURS_OF_WEEK)))
        total += own[0]
        count += own[1]
    out = []
    for staff, idx, cells, members, x, h, lam, own in cells_by_staff:
        unit = staff_units[int(staff)]
        total, count = pearson[unit]
        # The widest of: the window's dispersion over all the unit's hours (one odd hour is diluted
        # in it), and that hour of the week's – from the previous weeks when the baseline has
        # squares, else from the colleagues' same hours in the window (never the person's own,
        # whose burst would widen its own allowance).
        window_overall = total.sum() / max(count.sum(), 1)
        if history_phi and unit in history_phi:
            hour_phi = history_phi[unit][h]
        else:
            others = count[h] - own[1][h]
            hour_phi = np.where(others > 0, (total[h] - own[0][h]) / np.maximum(others, 1), 1.0)
        phi = np.maximum(1.0, np.maximum(hour_phi, window_overall))
        over = phi > 1.0 + 1e-9
        p_cells = stats.poisson.sf(x - 1, lam)
        if over.any():
            r = lam[over] / (phi[over] - 1)
            p_cells[over] = stats.nbinom.sf(x[over] - 1, r, 1 / phi[over])
        worst = int(np.argmin(p_cells))
        p = min(1.0, p_cells[worst] * len(cells))
        listed = [m for m, pc in zip(members, p_cells) if pc <= params.burst_cell_p] or [members[worst]]
        ids = votes["id"][idx[np.concatenate(listed)]]
        out.append(_finding("burst", "negative binomial upper tail of votes in one hour against the person's own "
                            "rate for that hour of the week (Bonferroni over the person's hours)",
                            x[worst], p, ids, votes, idx,
                            detail={"votes_in_hour": int(x[worst]), "expected": float(lam[worst]),
                                    "dispersion": float(phi[worst]), "hour_start": float(cells[worst] * 3600),
                                    "hours_tested": len(cells), "hours_listed": len(listed)}))
    return out


def _short_interval(votes, expected, params, by_staff):
    """Gaps between a person's consecutive votes at one counter shorter than
    ``short_interval_s``, against what an honest stream at the person's own
    rate would give. Honest gaps are modelled as exponential (votes arriving
    at random at the expected hourly rate, never below the floor), the shape
    with the most short gaps: real services take minutes, so the model errs
    toward fewer flags."""
    out = []
    how = votes["weekday"].astype(int) * 24 + votes["local_hour"].astype(int)
    g = params.short_interval_s
    repeat = votes.get("rapid_repeat")
    for staff, idx in by_staff:
        lam_hour = np.maximum(expected[int(staff)][how[idx]], params.interval_floor_per_hour)
        short_ends = []
        pairs = k = 0
        mean_short = 0.0
        for counter, cidx in zip(*_groups(votes["counter"][idx])):
            sub = idx[cidx]  # sorted by t, since votes are
            if repeat is not None:
                sub = sub[~np.asarray(repeat)[sub]]  # a tap the kiosk already marked is its own flag
            if sub.size < 2:
                continue
            gaps = np.diff(votes["t"][sub])
            same_day = np.floor(votes["t"][sub][1:] / 86400) == np.floor(votes["t"][sub][:-1] / 86400)
            gaps, later = gaps[same_day], sub[1:][same_day]
            lam = np.maximum(expected[int(staff)][how[later]], params.interval_floor_per_hour) / 3600
            pairs += gaps.size
            mean_short += float(np.sum(-np.expm1(-g * lam)))
            short = gaps < g
            k += int(np.count_nonzero(short))
            if short.any():
                earlier = sub[:-1][same_day][short]
                short_ends.append(np.union1d(earlier, later[short]))
        if pairs == 0:
            continue
        p = float(stats.poisson.sf(k - 1, mean_short)) if k > 0 else 1.0
        ids = votes["id"][np.concatenate(short_ends)] if short_ends else []
        counters = np.unique(votes["counter"][idx])
        out.append(_finding("short_interval", f"Poisson upper tail of gaps under {g:g} s between consecutive "
                            "votes at a counter, against exponential gaps at the person's own rate",
                            k, p, ids, votes, idx, counter=int(counters[0]) if counters.size == 1 else None,
                            detail={"short_gaps": k, "expected": mean_short, "gaps": pairs,
                                    "threshold_s": g, "honest_rate_per_hour": float(np.median(lam_hour))}))
    return out
