"""Scores from tallies: the raw rate with its Wilson interval, the 0–100
index, and the headline score, an empirical-Bayes estimate shrunk toward
the person's unit, with its credible interval and grade.

Why shrink: 5 satisfied of 5 is not better evidence than 480 of 500. The
staff of a unit are taken as a sample from the unit's spread of true rates,
Beta(alpha, beta), fitted by maximum likelihood on their votes (the
beta-binomial). A person's posterior is Beta(alpha + satisfied, beta + n -
satisfied): a few votes move the estimate a little away from the unit's
typical rate, many votes move it all the way to the person's own rate. The
prior's strength alpha + beta (how many votes' worth the unit's opinion
counts for) is capped at ``prior_max_strength``, so a large homogeneous unit
cannot drown a busy person's own record. docs/scoring.md says it all in words.
"""

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import optimize, special, stats

from analysis.grades import DEFAULT_GRADES, check_grades, decide_many, grade_by_code
from analysis.levels import Tally

_LOGIT_BOUND = 12.0  # a prior mean within 6e-6 of 0 or 1 is a degenerate fit, not a unit's typical rate
_MIN_STRENGTH = 0.1


@dataclass(frozen=True)
class Params:
    """Every knob of the scores; all documented in docs/scoring.md."""

    min_votes: int = 30  # below this many votes in the period: grade "insufficient"
    prior_max_strength: float = 200.0  # the unit's prior counts for at most this many votes
    credible: float = 0.95  # the posterior (credible) interval of the headline score
    confidence: float = 0.95  # the Wilson interval of the raw rate
    grades: tuple = field(default=DEFAULT_GRADES)
    grade_probability: float = 0.5  # P(true rate >= threshold) needed for a grade
    floor_probability: float = 0.9  # P(true rate < lowest pass threshold) needed for the floor grade
    min_group_staff: int = 5  # staff with votes needed to fit a unit's prior
    fallback_strength: float = 4.0  # strength of the weak prior when the fit is not possible
    strength_penalty: float = 1.5  # hyperprior strength^-1.5 against over-shrinking small units (0: plain ML)

    def __post_init__(self):
        check_grades(self.grades)
        if not 0.5 <= self.grade_probability < 1 or not 0.5 <= self.floor_probability < 1:
            raise ValueError("grade_probability and floor_probability lie in [0.5, 1)")
        if self.prior_max_strength <= _MIN_STRENGTH or self.fallback_strength <= 0:
            raise ValueError("prior strengths must be positive")

    def as_dict(self):
        """Plain data for snapshots and the pages (stored beside closed periods)."""
        data = asdict(self)
        data["grades"] = [asdict(g) for g in self.grades]
        return data


@dataclass(frozen=True)
class Prior:
    alpha: float
    beta: float
    mean: float
    strength: float
    capped: bool  # the fitted strength reached prior_max_strength
    method: str = "fit"  # "fit" (beta-binomial MLE), "fallback" (weak prior at the pooled rate)
    staff: int = 0  # subjects with votes the prior was fitted on

    def as_dict(self):
        # By hand: dataclasses.asdict deep-copies, and evaluate() calls this once per subject
        # (0.5 s of a province's month of 5,000 staff).
        return {"alpha": self.alpha, "beta": self.beta, "mean": self.mean, "strength": self.strength,
                "capped": self.capped, "method": self.method, "staff": self.staff}


def wilson(satisfied, n, confidence=0.95):
    """Wilson score interval of satisfied/n; arrays or scalars. n = 0 gives (0, 1)."""
    s = np.asarray(satisfied, dtype=float)
    n = np.asarray(n, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    safe_n = np.where(n > 0, n, 1.0)
    p = s / safe_n
    denom = 1 + z * z / safe_n
    centre = (p + z * z / (2 * safe_n)) / denom
    half = z * np.sqrt(p * (1 - p) / safe_n + z * z / (4 * safe_n * safe_n)) / denom
    # Exactly 0 and 1 at the ends (rounding would give 0.9999999999999999).
    low = np.where((n > 0) & (s > 0), np.clip(centre - half, 0.0, 1.0), 0.0)
    high = np.where((n > 0) & (s < n), np.clip(centre + half, 0.0, 1.0), 1.0)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def _negative_loglik(x, s, f, penalty=0.0):
    mean = special.expit(x[0])
    strength = np.exp(x[1])
    a, b = mean * strength, (1 - mean) * strength
    value = -np.sum(special.betaln(s + a, f + b) - special.betaln(a, b))
    common = special.digamma(a + b) - special.digamma(s + f + a + b)
    d_a = np.sum(special.digamma(s + a) - special.digamma(a) + common)
    d_b = np.sum(special.digamma(f + b) - special.digamma(b) + common)
    grad = np.array([(d_a - d_b) * strength * mean * (1 - mean), (d_a * mean + d_b * (1 - mean)) * strength])
    # The penalty is the hyperprior p(mean, strength) ∝ strength^(-penalty)
    # (1.5: Gelman et al., BDA3 §5.3, p(a, b) ∝ (a + b)^(-5/2)).
    return value + penalty * x[1], -grad + np.array([0.0, penalty])


def _fallback(s_total, n_total, strength, staff):
    # The pooled rate, kept off 0 and 1 (Jeffreys: +0.5 each side) so that
    # an all-satisfied unit still gives a proper prior.
    mean = (s_total + 0.5) / (n_total + 1.0)
    return Prior(mean * strength, (1 - mean) * strength, mean, strength, False, "fallback", staff)


def fit_prior(satisfied, n, max_strength=200.0, min_staff=5, fallback_strength=4.0, strength_penalty=1.5,
              min_strength=_MIN_STRENGTH):
    """The unit's Beta prior, fitted by maximum likelihood on its staff's votes.

    Maximises the beta-binomial likelihood sum_i [ln B(s_i + a, n_i - s_i + b)
    - ln B(a, b)] over the mean a/(a+b) and the strength a+b, the strength
    bounded to [0.1, max_strength]. Staff without votes carry no information
    and are left out.

    ``strength_penalty`` (default 1.5) multiplies the likelihood by
    strength^(-1.5), the hyperprior of Gelman et al. (BDA3 §5.3): with a
    handful of staff the plain maximum-likelihood strength is often far too
    large (it runs to the cap when five people happen to score alike), which
    over-shrinks and made 95% intervals cover only 92% in simulation; with the
    penalty they cover 94-95% (tests/test_analysis_simulation.py). 0 gives the
    plain maximum-likelihood fit. Falls back to a weak prior (``fallback_strength`` votes'
    worth) around the pooled rate when there are fewer than ``min_staff``
    staff with votes, when every vote is satisfied (or none is), or when the
    fit runs to a mean of 0 or 1.
    """
    s = np.asarray(satisfied, dtype=float)
    n = np.asarray(n, dtype=float)
    keep = n > 0
    s, n = s[keep], n[keep]
    staff = int(keep.sum())
    s_total, n_total = float(s.sum()), float(n.sum())
    weak = min(fallback_strength, max_strength)
    if staff < max(min_staff, 2) or s_total in (0.0, n_total):
        return _fallback(s_total, n_total, weak, staff)
    f = n - s
    pooled = s_total / n_total
    # Start from the method of moments where it is defined, else a middling strength.
    rates = s / n
    variance = rates.var()
    start = 10.0
    if variance > 0:
        start = pooled * (1 - pooled) / variance - 1
    start = float(np.clip(start, max(1.0, min_strength), max_strength))
    x0 = np.array([special.logit(pooled), np.log(start)])
    bounds = [(-_LOGIT_BOUND, _LOGIT_BOUND), (np.log(min_strength), np.log(max_strength))]
    # SLSQP, not L-BFGS-B: the latter calls into BLAS and was 30x slower on a
    # busy two-core machine (23 ms against 0.8 ms per unit).
    result = optimize.minimize(_negative_loglik, x0, args=(s, f, strength_penalty), jac=True, method="SLSQP",
                               bounds=bounds)
    logit_mean, log_strength = result.x
    if not np.all(np.isfinite(result.x)) or abs(logit_mean) >= _LOGIT_BOUND - 1e-3:
        return _fallback(s_total, n_total, weak, staff)
    mean = float(special.expit(logit_mean))
    strength = float(np.exp(log_strength))
    capped = log_strength >= np.log(max_strength) - 1e-6
    if capped:
        strength = float(max_strength)
    return Prior(mean * strength, (1 - mean) * strength, mean, strength, bool(capped), "fit", staff)


def rollup(tallies):
    """The pooled tally of many: counts add up (never an average of rates)."""
    total = Tally()
    for t in tallies:
        total = total + t
    return total


def _float_or_none(x):
    return None if x is None else float(x)


def summarize(tally, confidence=0.95):
    """n, satisfied, raw rate with its Wilson interval, and the index, for a
    unit, a centre or the province (no shrinkage: a rollup is reported as
    counted)."""
    low, high = wilson(tally.satisfied, tally.n, confidence)
    return {
        "n": int(tally.n),
        "satisfied": int(tally.satisfied),
        "rate": _float_or_none(tally.rate),
        "rate_low": low,
        "rate_high": high,
        "index": _float_or_none(tally.index),
    }


def evaluate(subjects, params=None):
    """Scores for a list of ``{"id", "group", "tally"}``, in the same order.

    Each group's prior is fitted on the subjects of that group (the unit's
    staff in the period); a subject with no votes gets its unit's prior as
    its score, a wide interval and grade ``insufficient``.
    """
    params = params or Params()
    subjects = list(subjects)
    if not subjects:
        return []
    n = np.array([int(x["tally"].n) for x in subjects])
    s = np.array([int(x["tally"].satisfied) for x in subjects])
    if np.any(s > n) or np.any(s < 0):
        raise ValueError("satisfied must lie between 0 and n")
    groups = {}
    for i, x in enumerate(subjects):
        groups.setdefault(x["group"], []).append(i)
    alpha = np.empty(len(subjects))
    beta = np.empty(len(subjects))
    priors = [None] * len(subjects)
    for members in groups.values():
        prior = fit_prior(s[members], n[members], params.prior_max_strength, params.min_group_staff,
                          params.fallback_strength, params.strength_penalty)
        for i in members:
            priors[i] = prior
        alpha[members] = prior.alpha
        beta[members] = prior.beta
    a_post = alpha + s
    b_post = beta + (n - s)
    tail = (1 - params.credible) / 2
    score = a_post / (a_post + b_post)
    score_low = stats.beta.ppf(tail, a_post, b_post)
    score_high = stats.beta.ppf(1 - tail, a_post, b_post)
    rate_low, rate_high = wilson(s, n, params.confidence)
    codes, probs = decide_many(a_post, b_post, n, params.grades, params.min_votes, params.grade_probability,
                               params.floor_probability)
    out = []
    for i, x in enumerate(subjects):
        t = x["tally"]
        grade = grade_by_code(codes[i], params.grades)
        out.append({
            "id": x["id"],
            "group": x["group"],
            "n": int(n[i]),
            "satisfied": int(s[i]),
            "rate": _float_or_none(t.rate),
            "rate_low": float(rate_low[i]),
            "rate_high": float(rate_high[i]),
            "index": _float_or_none(t.index),
            "score": float(score[i]),
            "score_low": float(score_low[i]),
            "score_high": float(score_high[i]),
            "grade": grade.code,
            "grade_name_vi": grade.name_vi,
            "grade_name_en": grade.name_en,
            "grade_probabilities": {code: float(p[i]) for code, p in probs.items()},
            "prior": priors[i].as_dict(),
        })
    return out
