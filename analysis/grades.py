"""Grades decided by how sure we are that the true rate clears a threshold.

A grade is not read off the raw rate: 29 satisfied of 30 (96.7%) and 967 of
1,000 (96.7%) are not the same evidence. From the posterior Beta(a, b) of a
person's true satisfaction rate we compute, for each grade's threshold t,
P(true rate >= t), and award the best grade whose probability reaches
``grade_probability`` (default 0.5: the grade the true rate more likely than
not reaches, i.e. the grade of the posterior median).

The lowest grade ("not completed") has consequences in a civil servant's
yearly classification, so it takes strong evidence: it is given only when
P(true rate < the next threshold) >= ``floor_probability`` (default 0.9);
short of that the person keeps the next grade up, and the probabilities say
how close it was. Below ``min_votes`` there is no grade at all:
``insufficient``.
"""

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Grade:
    code: str
    threshold: float  # the lowest true satisfaction rate the grade stands for
    name_vi: str
    name_en: str


# In the spirit of the yearly classification of civil servants (Nghị định
# 90/2020/NĐ-CP): xuất sắc / tốt / hoàn thành / không hoàn thành.
DEFAULT_GRADES = (
    Grade("excellent", 0.95, "Hoàn thành xuất sắc", "Excellent"),
    Grade("good", 0.85, "Hoàn thành tốt", "Good"),
    Grade("completed", 0.70, "Hoàn thành", "Completed"),
    Grade("not_completed", 0.0, "Không hoàn thành", "Not completed"),
)

INSUFFICIENT = Grade("insufficient", float("nan"), "Chưa đủ dữ liệu", "Insufficient data")


def check_grades(grades):
    """Grades must be best-first with strictly falling thresholds ending at 0."""
    grades = tuple(grades)
    if len(grades) < 2:
        raise ValueError("at least two grades are needed")
    thresholds = [g.threshold for g in grades]
    if any(not 0.0 <= t < 1.0 for t in thresholds):
        raise ValueError("thresholds must lie in [0, 1)")
    if any(a <= b for a, b in zip(thresholds, thresholds[1:])):
        raise ValueError("grades must be best-first with strictly falling thresholds")
    if thresholds[-1] != 0.0:
        raise ValueError("the last grade is the floor: its threshold must be 0")
    if len({g.code for g in grades}) != len(grades) or INSUFFICIENT.code in {g.code for g in grades}:
        raise ValueError("grade codes must be unique and not 'insufficient'")
    return grades


def grade_by_code(code, grades=DEFAULT_GRADES):
    if code == INSUFFICIENT.code:
        return INSUFFICIENT
    return next(g for g in grades if g.code == code)


def probabilities(alpha_post, beta_post, grades=DEFAULT_GRADES):
    """``{code: P(true rate >= threshold)}`` under Beta(alpha_post, beta_post)."""
    return {g.code: float(stats.beta.sf(g.threshold, alpha_post, beta_post)) if g.threshold > 0 else 1.0
            for g in grades}


def decide(alpha_post, beta_post, n, grades=DEFAULT_GRADES, min_votes=30, grade_probability=0.5,
           floor_probability=0.9):
    """``(code, {code: P(true rate >= threshold)})`` for one posterior.

    ``n`` is the number of votes behind the posterior; below ``min_votes``
    the code is ``insufficient`` (the probabilities are still returned, for
    the person's own page, but decide nothing).
    """
    grades = check_grades(grades)
    probs = probabilities(alpha_post, beta_post, grades)
    if n < min_votes:
        return INSUFFICIENT.code, probs
    for grade in grades[:-2]:
        if probs[grade.code] >= grade_probability:
            return grade.code, probs
    lowest_pass, floor = grades[-2], grades[-1]
    if probs[lowest_pass.code] >= grade_probability:
        return lowest_pass.code, probs
    # Below the lowest passing threshold more likely than not: the floor only
    # on strong evidence, otherwise the benefit of the doubt.
    if 1.0 - probs[lowest_pass.code] >= floor_probability:
        return floor.code, probs
    return lowest_pass.code, probs


def decide_many(alpha_post, beta_post, n, grades=DEFAULT_GRADES, min_votes=30, grade_probability=0.5,
                floor_probability=0.9):
    """Vectorised ``decide``: arrays in, (codes list, {code: probability array}) out."""
    grades = check_grades(grades)
    a = np.asarray(alpha_post, dtype=float)
    b = np.asarray(beta_post, dtype=float)
    n = np.asarray(n)
    probs = {g.code: (stats.beta.sf(g.threshold, a, b) if g.threshold > 0 else np.ones_like(a)) for g in grades}
    lowest_pass, floor = grades[-2], grades[-1]
    codes = np.full(a.shape, lowest_pass.code, dtype=object)
    decided = np.zeros(a.shape, dtype=bool)
    for grade in grades[:-1]:
        hit = ~decided & (probs[grade.code] >= grade_probability)
        codes[hit] = grade.code
        decided |= hit
    fail = ~decided & (1.0 - probs[lowest_pass.code] >= floor_probability)
    codes[fail] = floor.code
    codes[n < min_votes] = INSUFFICIENT.code
    return list(codes), probs
