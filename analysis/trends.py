"""Trends of monthly series, control limits and funnel limits.

- Mann–Kendall: is there a monotone trend? Kendall's tau between the values
  and time, with its p-value (``scipy.stats.kendalltau``, ties handled).
- Theil–Sen: how steep? The median of all pairwise slopes, with its 95%
  interval (``scipy.stats.theilslopes``); robust to one odd month.
- p-chart: a unit's monthly rates against 3-sigma limits around its pooled
  rate, each month's limits from its own number of votes.
- Funnel: exact binomial limits around a target rate for every sample size,
  so a small counter's 100% or 60% is seen as what it is: small.
"""

import numpy as np
from scipy import stats


def _clean(y):
    y = np.asarray(y, dtype=float)
    t = np.arange(y.size, dtype=float)
    keep = np.isfinite(y)
    return t[keep], y[keep]


def mann_kendall(y):
    """(tau, two-sided p-value) of the series against time; months with no
    value (None/NaN) are left out. Fewer than 3 values: (nan, 1.0)."""
    t, y = _clean(y)
    if y.size < 3 or np.all(y == y[0]):
        return float("nan"), 1.0
    result = stats.kendalltau(t, y)
    return float(result.statistic), float(result.pvalue)


def theil_sen(y, confidence=0.95):
    """(slope per month, low, high); months without value left out."""
    t, y = _clean(y)
    if y.size < 2:
        return float("nan"), float("nan"), float("nan")
    result = stats.theilslopes(y, t, alpha=confidence)
    return float(result.slope), float(result.low_slope), float(result.high_slope)


def p_chart(satisfied, n, sigmas=3.0):
    """(centre, lower[], upper[]): the pooled rate and each period's limits
    centre ± sigmas * sqrt(centre (1 - centre) / n_i), clipped to [0, 1];
    a period without votes has nan limits."""
    s = np.asarray(satisfied, dtype=float)
    n = np.asarray(n, dtype=float)
    centre = float(s.sum() / n.sum()) if n.sum() > 0 else float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        half = sigmas * np.sqrt(centre * (1 - centre) / n)
    half = np.where(n > 0, half, np.nan)
    return centre, np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def funnel(p0, n_max, levels=(0.95, 0.998), points=200):
    """Exact binomial limits around a target ``p0`` for sample sizes 1..n_max.

    For each n and level c, lower = the largest k/n with P(K < k) <= (1 - c)/2
    and upper = the smallest k/n with P(K > k) <= (1 - c)/2, K ~ Binomial(n, p0)
    (the binomial quantiles, as the funnel plots of Spiegelhalter 2005).
    Returns {"n": [...], "lower95": [...], "upper95": [...], "lower998": [...],
    "upper998": [...]} on up to ``points`` sizes spread log-evenly.
    """
    if not 0 <= p0 <= 1 or n_max < 1:
        raise ValueError("p0 lies in [0, 1] and n_max >= 1")
    n = np.unique(np.round(np.geomspace(1, n_max, min(points, n_max))).astype(int))
    out = {"n": n.tolist()}
    for c in levels:
        tail = (1 - c) / 2
        name = f"{c * 100:g}".replace(".", "")
        lower = stats.binom.ppf(tail, n, p0) / n
        upper = stats.binom.ppf(1 - tail, n, p0) / n
        out[f"lower{name}"] = [float(x) for x in lower]
        out[f"upper{name}"] = [float(x) for x in upper]
    return out
