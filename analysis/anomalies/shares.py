"""Tests of what a person's votes are against their colleagues': top
ratings, the mix of levels, votes off hours or while signed out, repeated
tickets; and tablets' clocks."""

import numpy as np
from scipy import stats

from analysis.anomalies.common import Finding, _finding, _groups, by_staff_map
from analysis.scores import fit_prior

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
