"""The anomaly scan: tests that look for gaming in a window of votes.

Every test gives one p-value per subject (a staff member, or a tablet for
clock trouble) and the ids of the votes it concerns. ``run`` performs every
test, then corrects all their p-values together, across staff and tests,
with Benjamini–Hochberg; a finding is flagged when its q-value is at most
``fdr`` (default 0.05): among the flags of a run, at most 5% are expected to
be false alarms on honest staff. docs/scoring.md says what each test means
and does not mean; tests/test_analysis_anomalies.py measures it.

Time cells: ``floor(t / 3600)`` is one local clock hour because the
province's offset from UTC is a whole number of hours (Asia/Ho_Chi_Minh,
+07:00); ``weekday * 24 + local_hour`` is its hour of the week.
"""

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

from analysis.scores import fit_prior

KINDS = ("burst", "off_hours", "short_interval", "top_excess", "level_mix", "repeated_ticket", "clock", "absent")
HOURS_OF_WEEK = 168


@dataclass(frozen=True)
class ScanParams:
    """The scan's knobs, all documented in docs/scoring.md."""

    fdr: float = 0.05  # flag when the Benjamini–Hochberg q-value is at most this
    # burst: votes in one clock hour against the person's own rate for that hour of the week
    burst_prior_weeks: float = 2.0  # the unit's typical rate counts as this many weeks of history
    burst_floor_per_hour: float = 0.5  # expected votes per hour never below this (hours with no history)
    burst_cell_p: float = 0.001  # hours whose votes a burst finding lists
    # short_interval: consecutive votes of one person at one counter closer than this
    short_interval_s: float = 30.0
    interval_floor_per_hour: float = 3.0  # the honest rate behind the interval model is at least this
    # top_excess and level_mix: a person against the spread between the unit's staff
    mix_min_votes: int = 20  # fewer votes in the window: top_excess and level_mix are not run
    spread_penalty: float = 3.0  # strength penalty of the colleague-spread fits (see _against_colleagues)
    # allowances for honest causes of the count rules (share of votes)
    off_hours_floor: float = 0.01  # the last citizen served after closing, a clock a minute off
    absent_floor: float = 0.02  # a forgotten sign-in
    repeated_ticket_floor: float = 0.005  # a dossier served twice the same window
    clock_max_offset_s: float = 120.0  # a tablet clock off by more is in trouble
    clock_floor: float = 0.01
    # severity
    high_q: float = 0.001
    medium_q: float = 0.01
    high_votes: int = 10

    def as_dict(self):
        return asdict(self)


@dataclass
class Finding:
    kind: str
    test: str  # the statistical test, in words a reviewer can look up
    statistic: float
    p_value: float
    vote_ids: list
    staff: int = None
    counter: int = None
    device: str = None
    unit: int = None
    severity: str = "low"
    detail: dict = field(default_factory=dict)  # plain numbers for the explanation
    q_value: float = None
    flagged: bool = False

    def as_dict(self):
        return asdict(self)


@dataclass
class Report:
    """Everything one run tested: ``findings`` (all of them, with q-values),
    ``flagged`` (those with q <= fdr, what the scan stores), ``n_tests``."""

    findings: list
    flagged: list
    n_tests: int
    params: ScanParams


def _groups(keys):
    """(unique keys, list of index arrays) for an array of keys, stable."""
    keys = np.asarray(keys)
    if keys.size == 0:
        return [], []
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    cuts = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    return list(sorted_keys[np.r_[0, cuts]]), np.split(order, cuts)


def _staff_units(votes):
    """Each staff member's unit in the window (their most frequent one)."""
    units = {}
    for staff, idx in zip(*_groups(votes["staff"])):
        values, counts = np.unique(votes["unit"][idx], return_counts=True)
        units[int(staff)] = int(values[np.argmax(counts)])
    return units


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


def _finding(kind, test, statistic, p, ids, votes, idx, **extra):
    staff = int(votes["staff"][idx[0]]) if len(idx) else None
    unit = int(votes["unit"][idx[0]]) if len(idx) else None
    return Finding(kind, test, float(statistic), float(min(max(p, 0.0), 1.0)), [int(i) for i in ids],
                   staff=extra.pop("staff", staff), unit=extra.pop("unit", unit), **extra)


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


SPREAD_FALLBACK_STRENGTH = 50.0  # colleagues assumed to differ as much as in a typical unit
# Honest colleagues' shares differ, but not without bound: a spread fitted on a few people with rare
# events (1 vote after closing each) can come out as "anything goes" (strength 0.4), which would let
# 30 of 100 pass; 20 votes' worth still allows shares of 0-14% around a 4.5% unit.
SPREAD_MIN_STRENGTH = 20.0
LEAVE_ONE_OUT_BELOW = 0.1


def _spread(k, n, keep, penalty):
    return fit_prior(k[keep], n[keep], max_strength=1000.0, fallback_strength=SPREAD_FALLBACK_STRENGTH,
                     strength_penalty=penalty, min_strength=SPREAD_MIN_STRENGTH)


def _against_colleagues(k, n, i, keep, prior_all, penalty, floor=0.0):
    """P(K >= k_i) for person i of a unit, K beta-binomial with the spread of
    shares between the unit's staff (its mean raised to ``floor``). The fit
    on the whole unit includes the person, whose excess would widen the
    spread and hide itself, so whenever that p-value is in doubt (below 0.1)
    it is recomputed from a fit on the others only (leave-one-out). A spread
    fitted on a handful of colleagues looks tighter than it is; the fits use
    a stronger strength penalty (``spread_penalty``) than the scores: with 10
    honest colleagues the most extreme one got p < 0.001 in 3.3% of units
    with the scores' 1.5 and 0.3% with 3."""

    def tail(prior):
        mean = max(prior.mean, floor)
        a, b = mean * prior.strength, (1 - mean) * prior.strength
        return float(stats.betabinom.sf(k[i] - 1, n[i], a, b)), mean, prior

    p, mean, prior = tail(prior_all)
    if p < LEAVE_ONE_OUT_BELOW:
        others = keep.copy()
        others[i] = False
        p, mean, prior = tail(_spread(k, n, others, penalty))
    return p, mean, prior


def _top_excess(votes, params, by_staff, staff_units):
    """More top ratings than the unit's staff give, allowing for the normal
    spread between colleagues: the beta-binomial fitted on the unit's staff
    (a plain binomial would flag every genuinely excellent busy person); the
    plain binomial p-value is kept in the detail."""
    out = []
    per_staff = dict(by_staff_map(by_staff))
    stats_by_staff = {s: (int(np.count_nonzero(votes["top"][idx])), idx.size) for s, idx in per_staff.items()}
    unit_staff = {}
    for s, u in staff_units.items():
        unit_staff.setdefault(u, []).append(s)
    for unit, members in unit_staff.items():
        k = np.array([stats_by_staff[s][0] for s in members])
        n = np.array([stats_by_staff[s][1] for s in members])
        keep = n >= params.mix_min_votes
        prior_all = _spread(k, n, keep, params.spread_penalty)
        for i, (s, ks, ns) in enumerate(zip(members, k.tolist(), n.tolist())):
            if ns < params.mix_min_votes:
                continue
            p, _, prior = _against_colleagues(k, n, i, keep, prior_all, params.spread_penalty)
            # The reference for the plain binomial: the others of the unit (the person's own
            # votes would hide their excess); the whole unit if alone.
            others_n, others_k = n.sum() - ns, k.sum() - ks
            p_ref = (others_k + 0.5) / (others_n + 1.0) if others_n > 0 else prior.mean
            p_plain = stats.binomtest(int(ks), int(ns), p_ref, alternative="greater").pvalue
            idx = per_staff[s]
            ids = votes["id"][idx[votes["top"][idx]]]
            out.append(_finding("top_excess", "beta-binomial upper tail of top ratings against the spread between "
                                "the unit's staff", ks, p, ids, votes, idx, unit=unit,
                                detail={"top": int(ks), "votes": int(ns), "share": ks / ns, "unit_share": float(p_ref),
                                        "binomial_p": float(p_plain), "spread_strength": prior.strength}))
    return out


def by_staff_map(by_staff):
    return ((int(s), idx) for s, idx in by_staff)


def _merge_sparse(observed, expected, min_expected=5.0):
    """Merge neighbouring levels until each cell expects at least 5 votes."""
    obs, exp = [], []
    o_acc = e_acc = 0.0
    for o, e in zip(observed, expected):
        o_acc += o
        e_acc += e
        if e_acc >= min_expected:
            obs.append(o_acc)
            exp.append(e_acc)
            o_acc = e_acc = 0.0
    if e_acc > 0 and exp:
        obs[-1] += o_acc
        exp[-1] += e_acc
    elif e_acc > 0:
        obs.append(o_acc)
        exp.append(e_acc)
    return np.array(obs), np.array(exp)


def _level_mix(votes, params, by_staff, staff_units):
    """A person's mix of levels unlike their unit's: Pearson chi-square with
    sparse levels merged, divided by the dispersion the ordinary differences
    between colleagues cause (Dirichlet-multinomial: 1 + (n - 1) rho, rho
    fitted on the unit's staff), so that a busy person's genuinely different
    mix is not an anomaly by its size alone."""
    out = []
    key = votes["n_levels"].astype(np.int64) * 100 + votes["level"].astype(np.int64)
    categories = np.unique(key)
    col = np.searchsorted(categories, key)
    per_staff = {}
    for s, idx in by_staff_map(by_staff):
        per_staff[s] = (np.bincount(col[idx], minlength=categories.size), idx)
    unit_staff = {}
    for s, u in staff_units.items():
        unit_staff.setdefault(u, []).append(s)
    for unit, members in unit_staff.items():
        total = np.sum([per_staff[s][0] for s in members], axis=0)
        rows = []
        for s in members:
            counts, idx = per_staff[s]
            n = counts.sum()
            if n < params.mix_min_votes:
                continue
            reference = total - counts  # the others of the unit
            if reference.sum() < params.mix_min_votes:
                continue
            share = (reference + 0.5) / (reference.sum() + 0.5 * reference.size)
            obs, exp = _merge_sparse(counts, n * share / share.sum())
            if obs.size < 2:
                continue
            chi2 = float(np.sum((obs - exp) ** 2 / exp))
            rows.append((s, idx, chi2, obs.size - 1, n))
        if not rows:
            continue
        # Dirichlet-multinomial dispersion: chi-square inflated by 1 + (n - 1) rho, one rho for the unit,
        # from sum chi2 = sum df (1 + (n - 1) rho); at least 0 (no correction).
        rho = 0.0
        if len(rows) >= 3:
            excess = sum(r[2] - r[3] for r in rows)
            rho = max(0.0, excess / sum(r[3] * (r[4] - 1) for r in rows))
        df_unit = sum(r[3] for r in rows)
        for s, idx, chi2, df, n in rows:
            dispersion = 1.0 + (n - 1) * rho
            # The dispersion is itself estimated from a handful of colleagues: an F test (the
            # quasi-likelihood one) rather than chi-square, with the unit's other degrees of freedom.
            if rho > 0 and df_unit > df:
                p = float(stats.f.sf(chi2 / dispersion / df, df, df_unit - df))
            else:
                p = float(stats.chi2.sf(chi2 / dispersion, df))
            out.append(_finding("level_mix", "Pearson chi-square of the person's levels against the rest of the "
                                "unit, sparse levels merged, divided by the unit's dispersion (F test)", chi2 / dispersion,
                                p, votes["id"][idx], votes, idx, unit=unit,
                                detail={"chi_square": chi2, "df": int(df), "dispersion": dispersion, "rho": rho,
                                        "votes": int(n)}))
    return out


def _share_test(kind, test, votes, by_staff, mask, floor, detail_name, staff_units, params, eligible=None):
    """A count rule with a p-value: the person's votes in ``mask`` against
    their unit's staff. Shares differ between honest colleagues (a longer
    queue spills more votes past closing), so the reference is the spread
    of shares between the unit's staff, a beta-binomial fitted on them
    (``fit_prior``), its mean raised to ``floor`` (the allowance for honest
    causes) if lower; the plain binomial against the others' pooled share is
    kept in the detail."""
    out = []
    eligible = np.ones(mask.size, dtype=bool) if eligible is None else eligible
    per_staff = dict(by_staff_map(by_staff))
    counts = {s: (int(np.count_nonzero(mask[idx[eligible[idx]]])), int(np.count_nonzero(eligible[idx])))
              for s, idx in per_staff.items()}
    unit_staff = {}
    for s, u in staff_units.items():
        unit_staff.setdefault(u, []).append(s)
    for unit, members in unit_staff.items():
        k_all = np.array([counts[s][0] for s in members])
        n_all = np.array([counts[s][1] for s in members])
        keep = n_all > 0
        prior_all = _spread(k_all, n_all, keep, params.spread_penalty)
        for i, (s, k, n) in enumerate(zip(members, k_all.tolist(), n_all.tolist())):
            if k == 0:
                continue  # nothing to test: a person with no such vote is not a test performed
            p, mean, prior = _against_colleagues(k_all, n_all, i, keep, prior_all, params.spread_penalty, floor)
            others_k, others_n = k_all.sum() - k, n_all.sum() - n
            others = others_k / others_n if others_n > 0 else 0.0
            p_plain = float(stats.binomtest(k, n, min(max(others, floor), 1.0), alternative="greater").pvalue)
            idx = per_staff[s]
            e = idx[eligible[idx]]
            out.append(_finding(kind, test, k, p, votes["id"][e[mask[e]]], votes, idx, unit=unit,
                                detail={detail_name: k, "votes": n, "share": k / n, "unit_share": float(others),
                                        "reference_share": float(mean), "spread_strength": prior.strength,
                                        "binomial_p": p_plain}))
    return out


def _repeated_ticket(votes, params, by_staff, staff_units):
    """The same ticket rated more than once by the same person. A dossier
    may come back (submitted, then collected), so a repeat is tested like the
    other count rules, against the unit's staff with an allowance
    (``repeated_ticket_floor``); the count is the ratings beyond the first,
    and every rating of a repeated ticket is listed."""
    ticket = votes["ticket"].astype(str)
    has = ticket != ""
    repeat = np.zeros(ticket.size, dtype=bool)
    extra = np.zeros(ticket.size, dtype=bool)
    if has.any():
        rows = np.flatnonzero(has)
        _, ticket_code = np.unique(ticket[rows], return_inverse=True)
        _, staff_code = np.unique(votes["staff"][rows], return_inverse=True)
        key = staff_code.astype(np.int64) * (int(ticket_code.max()) + 1) + ticket_code
        _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        repeat[rows] = counts[inverse] > 1
        first = np.zeros(rows.size, dtype=bool)
        first[np.unique(inverse, return_index=True)[1]] = True
        extra[rows] = repeat[rows] & ~first
    per_staff = dict(by_staff_map(by_staff))
    out = []
    for f in _share_test("repeated_ticket", "beta-binomial: ratings of a ticket already rated by the same person, "
                         "against the unit's staff and an allowance", votes, by_staff, extra,
                         params.repeated_ticket_floor, "repeats", staff_units, params, eligible=has):
        idx = per_staff[f.staff]
        f.vote_ids = [int(i) for i in votes["id"][idx[repeat[idx]]]]
        out.append(f)
    return out


def _clock(votes, params):
    """Tablets whose votes needed a corrected time or whose clock was off by
    more than ``clock_max_offset_s``: exact binomial against an allowance
    (a sync after a reboot). Technical, not misuse: severity stays low."""
    offset = np.abs(np.asarray(votes["clock_offset_ms"], dtype=float)) / 1000
    trouble = np.asarray(votes["time_corrected"], dtype=bool) | (np.nan_to_num(offset) > params.clock_max_offset_s)
    out = []
    for device, idx in zip(*_groups(np.asarray(votes["device"]).astype(str))):
        k = int(np.count_nonzero(trouble[idx]))
        if k == 0:
            continue
        p = float(stats.binomtest(k, idx.size, params.clock_floor, alternative="greater").pvalue)
        known = offset[idx][np.isfinite(offset[idx])]
        counters = np.unique(votes["counter"][idx])
        out.append(Finding("clock", "exact binomial: votes with a corrected time or a clock off by more than "
                           f"{params.clock_max_offset_s:g} s, against an allowance", float(k), p,
                           [int(i) for i in votes["id"][idx[trouble[idx]]]], staff=None,
                           counter=int(counters[0]) if counters.size == 1 else None, device=str(device),
                           unit=int(votes["unit"][idx[0]]),
                           detail={"troubled": k, "votes": int(idx.size),
                                   "max_offset_s": float(known.max()) if known.size else None,
                                   "corrected": int(np.count_nonzero(np.asarray(votes["time_corrected"])[idx]))}))
    return out


def adjust(findings, fdr=0.05):
    """Benjamini–Hochberg q-values over all findings of a run (in place), and
    ``flagged`` = q <= fdr. Returns the findings."""
    if not findings:
        return findings
    q = stats.false_discovery_control(np.array([f.p_value for f in findings]), method="bh")
    for f, qv in zip(findings, q):
        f.q_value = float(qv)
        f.flagged = bool(qv <= fdr)
    return findings


def severity(finding, params=ScanParams()):
    """high: q <= 0.001 and at least 10 votes concerned; medium: q <= 0.01;
    low otherwise. Clock trouble is technical, always low."""
    if finding.kind == "clock" or finding.q_value is None:
        return "low"
    if finding.q_value <= params.high_q and len(finding.vote_ids) >= params.high_votes:
        return "high"
    if finding.q_value <= params.medium_q:
        return "medium"
    return "low"


def run(votes, baseline=None, params=None):
    """Every test on one window of votes; a ``Report`` (see ``scan``)."""
    params = params or ScanParams()
    votes = {k: np.asarray(v) for k, v in votes.items()}
    for name in ("open", "top", "satisfied", "time_corrected", "rapid_repeat"):
        if name in votes:
            votes[name] = votes[name].astype(bool)
    if votes["id"].size == 0:
        return Report([], [], 0, params)
    staff_units = _staff_units(votes)
    expected = _expected_hourly(votes, baseline, staff_units, params)
    by_staff = list(zip(*_groups(votes["staff"])))
    findings = []
    findings += _burst(votes, expected, params, by_staff, staff_units, _history_dispersion(baseline, staff_units))
    findings += _short_interval(votes, expected, params, by_staff)
    findings += _top_excess(votes, params, by_staff, staff_units)
    findings += _level_mix(votes, params, by_staff, staff_units)
    findings += _share_test("off_hours", "beta-binomial: votes outside the unit's opening hours against the "
                            "spread between the unit's staff", votes, by_staff, ~votes["open"].astype(bool), params.off_hours_floor,
                            "off_hours", staff_units, params)
    present = votes["present"].astype(int)
    findings += _share_test("absent", "beta-binomial: votes while the person's sign-in says nobody was at the "
                            "counter, against the spread between the unit's staff", votes, by_staff, present == 0,
                            params.absent_floor, "absent", staff_units, params, eligible=present >= 0)
    findings += _repeated_ticket(votes, params, by_staff, staff_units)
    findings += _clock(votes, params)
    adjust(findings, params.fdr)
    for f in findings:
        f.severity = severity(f, params)
    flagged = sorted((f for f in findings if f.flagged), key=lambda f: f.q_value)
    return Report(findings, flagged, len(findings), params)


def scan(votes, baseline=None, params=None):
    """The flagged findings of one window (q <= fdr), most certain first.

    ``votes``: dict of equal-length arrays sorted by ``t`` (see the contract
    in docs/scoring.md), optionally ``rapid_repeat`` (bool): taps the kiosk
    already marked are left out of the interval test. ``baseline``:
    ``{"hourly": {staff: (counts[168], weeks_observed)}}``. For the number of
    tests performed (``scans.n_tests``) and the unflagged findings, call
    ``run``.
    """
    return run(votes, baseline, params).flagged
