"""analysis/levels.py, scores.py and grades.py, checked against numbers worked out by hand."""

import math

import numpy as np
import pytest
from scipy import stats

from analysis.grades import DEFAULT_GRADES, Grade, decide
from analysis.levels import Tally, describe_scale, tally
from analysis.scores import Params, evaluate, fit_prior, rollup, summarize, wilson

FOUR_LEVELS = [
    {"value": 4, "label_vi": "Rất hài lòng", "label_en": "Very satisfied", "satisfied": True, "weight": 100.0},
    {"value": 3, "label_vi": "Hài lòng", "label_en": "Satisfied", "satisfied": True, "weight": 200 / 3},
    {"value": 2, "label_vi": "Bình thường", "label_en": "Neutral", "satisfied": False, "weight": 100 / 3},
    {"value": 1, "label_vi": "Không hài lòng", "label_en": "Dissatisfied", "satisfied": False, "weight": 0.0},
]
# A later version: five levels, "neutral" now counts as satisfied and weighs 60.
FIVE_LEVELS = [
    {"value": 5, "label_vi": "Rất hài lòng", "label_en": "Very satisfied", "satisfied": True, "weight": 100},
    {"value": 4, "label_vi": "Hài lòng", "label_en": "Satisfied", "satisfied": True, "weight": 80},
    {"value": 3, "label_vi": "Bình thường", "label_en": "Neutral", "satisfied": True, "weight": 60},
    {"value": 2, "label_vi": "Chưa hài lòng", "label_en": "Unsatisfied", "satisfied": False, "weight": 20},
    {"value": 1, "label_vi": "Rất không hài lòng", "label_en": "Very unsatisfied", "satisfied": False, "weight": 0},
]
SCALES = {1: FOUR_LEVELS, 2: FIVE_LEVELS}


def test_the_wilson_interval_matches_newcombes_worked_example():
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 -> 0.2553 to 0.3662.
    low, high = wilson(81, 263)
    assert round(low, 4) == 0.2553 and round(high, 4) == 0.3662


def test_the_wilson_interval_of_94_of_100_by_hand():
    z = 1.959963984540054
    p, n = 0.94, 100
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert wilson(94, 100) == pytest.approx((centre - half, centre + half), abs=1e-12)
    assert wilson(94, 100) == pytest.approx((0.8752, 0.9722), abs=5e-5)


def test_the_wilson_interval_takes_arrays_and_is_0_to_1_without_votes():
    low, high = wilson(np.array([0, 10, 81]), np.array([0, 10, 263]))
    assert low[0] == 0.0 and high[0] == 1.0
    assert high[1] == 1.0 and low[1] == pytest.approx(0.7225, abs=1e-4)
    assert low[2] == pytest.approx(0.2553, abs=1e-4)


def test_a_scale_without_weights_spreads_them_evenly_as_the_migration_does():
    legacy = [{"value": v, "negative": v <= 2} for v in (4, 3, 2, 1)]
    info = describe_scale(legacy)
    assert [round(info[v].weight, 1) for v in (4, 3, 2, 1)] == [100.0, 66.7, 33.3, 0.0]
    assert [info[v].satisfied for v in (4, 3, 2, 1)] == [True, True, False, False]
    assert info[4].top and not info[3].top and info[1].rank == 0 and info[4].rank == 3


def test_two_scale_versions_are_each_read_by_their_own_definition():
    counts = {(1, 4): 10, (1, 3): 5, (1, 2): 3, (1, 1): 2, (2, 5): 6, (2, 3): 4, (2, 2): 1}
    t = tally(counts, SCALES)
    # version 1: satisfied 10 + 5; version 2: satisfied 6 + 4 (its neutral counts), not 2.
    assert t.n == 31 and t.satisfied == 25
    # weights: 10*100 + 5*66.67 + 3*33.33 + 0 + 6*100 + 4*60 + 1*20 = 2293.33
    assert t.weight_sum == pytest.approx(1000 + 1000 / 3 + 100 + 600 + 240 + 20)
    assert t.index == pytest.approx(2293.3333333 / 31)
    assert t.rate == pytest.approx(25 / 31)
    assert t.by_level[(2, 3)] == 4


def test_a_rating_no_version_defines_is_refused_not_guessed():
    with pytest.raises(ValueError):
        tally({(1, 5): 1}, SCALES)
    with pytest.raises(ValueError):
        tally({(3, 1): 1}, SCALES)


def test_tallies_add_and_a_rollup_is_not_an_average_of_averages():
    small = tally({(1, 4): 1}, SCALES)  # 1 of 1 satisfied
    large = tally({(1, 4): 60, (1, 1): 40}, SCALES)  # 60 of 100
    total = rollup([small, large])
    assert total == small + large == sum([small, large])
    assert (total.n, total.satisfied) == (101, 61)
    assert summarize(total)["rate"] == pytest.approx(61 / 101)  # 0.604, the share of all votes
    assert summarize(total)["rate"] != pytest.approx((1.0 + 0.6) / 2)  # 0.8 would be the average of averages
    assert total.by_level == {(1, 4): 61, (1, 1): 40}


def test_summarize_reports_n_rate_wilson_and_index():
    summary = summarize(Tally(100, 94, 9000.0))
    assert summary == {"n": 100, "satisfied": 94, "rate": 0.94, "rate_low": pytest.approx(0.87523, abs=1e-5),
                       "rate_high": pytest.approx(0.97221, abs=1e-5), "index": 90.0}
    assert summarize(Tally())["rate"] is None


def test_the_beta_binomial_fit_recovers_the_parameters_of_a_large_sample():
    rng = np.random.default_rng(7)
    n = rng.integers(100, 400, size=3000)
    s = rng.binomial(n, rng.beta(45.0, 5.0, size=n.size))  # mean 0.9, strength 50
    prior = fit_prior(s, n, max_strength=1000.0)
    assert prior.method == "fit" and not prior.capped
    assert prior.mean == pytest.approx(0.9, abs=0.005)
    assert prior.strength == pytest.approx(50.0, rel=0.12)


def test_the_fit_is_capped_when_the_unit_is_homogeneous():
    rng = np.random.default_rng(8)
    n = rng.integers(100, 400, size=200)
    s = rng.binomial(n, 0.9)  # everyone the same true rate: infinite strength
    prior = fit_prior(s, n, max_strength=200.0)
    assert prior.capped and prior.strength == 200.0
    assert prior.mean == pytest.approx(s.sum() / n.sum(), abs=0.01)


def test_too_few_staff_or_an_all_satisfied_unit_fall_back_to_a_weak_prior_at_the_pooled_rate():
    lone = fit_prior([45], [50])
    assert lone.method == "fallback" and lone.strength == 4.0
    assert lone.mean == pytest.approx(45.5 / 51)
    perfect = fit_prior([10, 20, 30, 40, 50], [10, 20, 30, 40, 50])
    assert perfect.method == "fallback" and 0 < perfect.mean < 1
    assert perfect.mean == pytest.approx(150.5 / 151)
    empty = fit_prior([], [])
    assert empty.method == "fallback" and empty.mean == 0.5


def test_a_person_without_votes_gets_the_units_prior_and_no_grade():
    subjects = [{"id": i, "group": "u", "tally": Tally(100, 90 + i, 0.0)} for i in range(6)]
    subjects.append({"id": "new", "group": "u", "tally": Tally()})
    out = evaluate(subjects)
    new = out[-1]
    assert new["n"] == 0 and new["rate"] is None and new["index"] is None
    assert new["grade"] == "insufficient"
    assert new["score"] == pytest.approx(new["prior"]["mean"])
    assert (new["rate_low"], new["rate_high"]) == (0.0, 1.0)


def test_the_score_is_the_posterior_mean_with_its_credible_interval():
    subjects = [{"id": i, "group": "u", "tally": Tally(200, 170 + 5 * i, 0.0)} for i in range(6)]
    out = evaluate(subjects)
    row, prior = out[0], out[0]["prior"]
    a, b = prior["alpha"] + 170, prior["beta"] + 30
    assert row["score"] == pytest.approx(a / (a + b))
    assert row["score_low"] == pytest.approx(stats.beta.ppf(0.025, a, b))
    assert row["score_high"] == pytest.approx(stats.beta.ppf(0.975, a, b))
    assert row["grade_probabilities"]["good"] == pytest.approx(stats.beta.sf(0.85, a, b))
    # Shrinkage: the lowest is pulled up toward the unit, the highest down.
    assert out[0]["score"] > out[0]["rate"] and out[-1]["score"] < out[-1]["rate"]


def test_nobody_is_graded_below_the_minimum_number_of_votes():
    subjects = [{"id": i, "group": "u", "tally": Tally(29, 29, 0.0)} for i in range(6)]
    subjects.append({"id": "thirty", "group": "u", "tally": Tally(30, 30, 0.0)})
    out = evaluate(subjects)
    assert [r["grade"] for r in out[:-1]] == ["insufficient"] * 6
    assert out[-1]["grade"] != "insufficient"
    assert evaluate(subjects, Params(min_votes=10))[0]["grade"] != "insufficient"


def test_the_grade_is_the_best_one_the_true_rate_more_likely_than_not_reaches():
    code, probs = decide(950.0, 30.0, 980)  # posterior mean 0.969: P(>= 0.95) ~ 1
    assert code == "excellent" and probs["excellent"] > 0.99
    code, _ = decide(90.0, 10.0, 100)  # mean 0.9: P(>= 0.95) small, P(>= 0.85) large
    assert code == "good"


def test_not_completed_takes_strong_evidence():
    # Beta(20, 9): P(rate >= 0.70) = 0.472, P(below) = 0.528 < 0.9: benefit of the doubt.
    assert decide(20.0, 9.0, 30) == ("completed", pytest.approx({"excellent": stats.beta.sf(0.95, 20, 9),
                                                                   "good": stats.beta.sf(0.85, 20, 9),
                                                                   "completed": 0.47248, "not_completed": 1.0},
                                                                  abs=1e-5))
    # Beta(60, 60): P(rate >= 0.70) ~ 0: not completed.
    assert decide(60.0, 60.0, 118)[0] == "not_completed"


def test_grades_are_configurable():
    grades = (Grade("a", 0.9, "A", "A"), Grade("b", 0.0, "B", "B"))
    out = evaluate([{"id": 1, "group": "g", "tally": Tally(100, 99, 0.0)}], Params(grades=grades))
    assert out[0]["grade"] == "a" and set(out[0]["grade_probabilities"]) == {"a", "b"}
    with pytest.raises(ValueError):
        Params(grades=(Grade("a", 0.5, "A", "A"), Grade("b", 0.6, "B", "B")))
    assert Params().as_dict()["grades"][0] == {"code": "excellent", "threshold": 0.95,
                                              "name_vi": DEFAULT_GRADES[0].name_vi, "name_en": "Excellent"}


def test_a_prior_as_plain_data_has_every_field_of_the_prior():
    import dataclasses

    from analysis.scores import Prior

    prior = Prior(alpha=18.0, beta=2.0, mean=0.9, strength=20.0, capped=False, method="fit", staff=12)
    assert prior.as_dict() == dataclasses.asdict(prior)
