"""analysis/trends.py against numbers worked out by hand."""

import math

import pytest
from scipy import stats

from analysis.trends import funnel, mann_kendall, p_chart, theil_sen


def test_a_steadily_rising_series_has_tau_1_and_the_exact_p_value():
    tau, p = mann_kendall([0.90, 0.91, 0.93, 0.94, 0.97])
    # all 10 pairs concordant; exact two-sided p = 2 / 5! = 1/60
    assert tau == pytest.approx(1.0) and p == pytest.approx(1 / 60)


def test_months_without_votes_are_left_out_and_flat_or_short_series_have_no_trend():
    assert mann_kendall([0.9, None, 0.95, 0.97])[0] == pytest.approx(1.0)
    assert mann_kendall([0.9, 0.9, 0.9])[1] == 1.0
    assert math.isnan(mann_kendall([0.9, 0.95])[0])


def test_theil_sen_takes_the_median_slope_and_ignores_one_odd_month():
    slope, low, high = theil_sen([0.0, 1.0, 2.0, 3.0, 10.0])
    # pairwise slopes: 1 (x6), 8, 4.5, 3.33, 2.67... median 1
    assert slope == pytest.approx(1.0) and low <= 1.0 <= high


def test_p_chart_limits_come_from_the_pooled_rate_and_each_months_votes():
    centre, lower, upper = p_chart([90, 45, 0], [100, 50, 0])
    assert centre == pytest.approx(135 / 150)
    assert lower[0] == pytest.approx(0.9 - 3 * math.sqrt(0.9 * 0.1 / 100))  # 0.81
    assert upper[1] == 1.0  # 0.9 + 0.127, clipped
    assert math.isnan(lower[2]) and math.isnan(upper[2])


def test_funnel_limits_are_binomial_quantiles_around_the_target():
    f = funnel(0.9, 1000)
    assert f["n"][0] == 1 and f["n"][-1] == 1000
    assert f["lower95"][-1] == stats.binom.ppf(0.025, 1000, 0.9) / 1000 == 0.881
    assert f["upper95"][-1] == 0.918
    assert f["lower998"][-1] < f["lower95"][-1] and f["upper998"][-1] > f["upper95"][-1]
    # the funnel narrows: at 10 votes 7/10 is inside the 95% limits, at 1,000 votes 0.87 is not
    i10 = f["n"].index(10)
    assert f["lower95"][i10] <= 0.7 and f["lower95"][-1] > 0.87
