import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, false_discovery_control, fisher_exact, norm
from sklearn.metrics import roc_auc_score
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from analysis import stats
from analysis.stats import (
    auc_by_group,
    benjamini_hochberg,
    hanley_mcneil_interval,
    katz_interval,
    minimum_detectable_difference,
    mover_average_interval,
    newcombe_interval,
    rank_scores,
    two_proportion_test,
    wilson_interval,
    z_value,
)

TOL = 1e-12


def test_z_value_is_the_two_sided_normal_quantile():
    assert z_value(0.95) == pytest.approx(1.959963984540054, abs=TOL)
    assert z_value(0.9) == pytest.approx(norm.ppf(0.95), abs=TOL)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, True, "0.95"])
def test_z_value_refuses_a_confidence_outside_0_1(bad):
    with pytest.raises(ValueError, match="confidence must be a number strictly between 0 and 1"):
        z_value(bad)


# --- Wilson ------------------------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
def test_wilson_equals_statsmodels(confidence):
    n = np.array([1, 2, 5, 10, 10, 10, 37, 100, 1000, 123457])
    x = np.array([0, 1, 5, 0, 3, 10, 20, 99, 1, 61728])
    low, high = wilson_interval(x, n, confidence=confidence)
    ref_low, ref_high = proportion_confint(x, n, alpha=1 - confidence, method="wilson")
    np.testing.assert_allclose(low, ref_low, rtol=0, atol=TOL)
    np.testing.assert_allclose(high, ref_high, rtol=0, atol=TOL)


def test_wilson_is_exactly_0_and_1_at_the_edges_and_undefined_without_rows():
    low, high = wilson_interval([0, 7, 0], [7, 7, 0])
    assert low[0] == 0.0 and high[1] == 1.0
    assert np.isnan(low[2]) and np.isnan(high[2])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_the_estimate(xn):
    x, n = xn
    low, high = wilson_interval(x, n)
    assert 0 <= low <= x / n <= high <= 1


# --- Newcombe ----------------------------------------------------------------------------

# Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score).
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), 0.0524, 0.3339),
    ((9, 10, 3, 10), 0.1705, 0.8090),
    ((6, 7, 2, 7), 0.0582, 0.8062),
    ((5, 56, 0, 29), -0.0381, 0.1926),
    ((0, 10, 0, 20), -0.1611, 0.2775),
    ((0, 10, 0, 10), -0.2775, 0.2775),
    ((10, 10, 0, 20), 0.6791, 1.0000),
    ((10, 10, 0, 10), 0.6075, 1.0000),
]


@pytest.mark.parametrize(("counts", "low", "high"), NEWCOMBE_TABLE_II)
def test_newcombe_reproduces_the_published_worked_examples(counts, low, high):
    x1, n1, x2, n2 = counts
    d, lo, hi = newcombe_interval(x1, n1, x2, n2)
    assert d == pytest.approx(x1 / n1 - x2 / n2, abs=TOL)
    assert round(float(lo), 4) == low
    assert round(float(hi), 4) == high


def test_newcombe_equals_statsmodels_on_a_grid():
    rng = np.random.default_rng(3)
    n1, n2 = rng.integers(1, 500, 200), rng.integers(1, 500, 200)
    x1, x2 = rng.integers(0, n1 + 1), rng.integers(0, n2 + 1)
    _, low, high = newcombe_interval(x1, n1, x2, n2, confidence=0.9)
    for i in range(200):
        ref = confint_proportions_2indep(x1[i], n1[i], x2[i], n2[i], method="newcomb", compare="diff", alpha=0.1)
        assert low[i] == pytest.approx(ref[0], abs=TOL)
        assert high[i] == pytest.approx(ref[1], abs=TOL)


def test_mover_average_combines_two_independent_intervals_in_quadrature():
    mean, low, high = mover_average_interval(-0.2, -0.3, -0.12, 0.1, 0.04, 0.2)
    assert mean == pytest.approx(-0.05)
    assert low == pytest.approx(-0.05 - math.hypot(0.1, 0.06) / 2)
    assert high == pytest.approx(-0.05 + math.hypot(0.08, 0.1) / 2)


# --- Katz --------------------------------------------------------------------------------


def test_katz_equals_the_formula_and_statsmodels_log_method():
    ratio, low, high = katz_interval(56, 70, 48, 80)
    se = math.sqrt(1 / 56 - 1 / 70 + 1 / 48 - 1 / 80)
    assert ratio == pytest.approx((56 / 70) / (48 / 80), abs=TOL)
    assert low == pytest.approx(ratio * math.exp(-1.959963984540054 * se), abs=TOL)
    assert high == pytest.approx(ratio * math.exp(1.959963984540054 * se), abs=TOL)
    rng = np.random.default_rng(4)
    n1, n2 = rng.integers(2, 800, 100), rng.integers(2, 800, 100)
    x1, x2 = rng.integers(1, n1 + 1), rng.integers(1, n2 + 1)
    ratio, low, high = katz_interval(x1, n1, x2, n2)
    for i in range(100):
        ref = confint_proportions_2indep(x1[i], n1[i], x2[i], n2[i], method="log", compare="ratio")
        assert low[i] == pytest.approx(ref[0], rel=1e-12)
        assert high[i] == pytest.approx(ref[1], rel=1e-12)


def test_katz_with_zero_counts_is_undefined_never_infinite():
    ratio, low, high = katz_interval([0, 5, 0, 5], [10, 10, 10, 0], [5, 0, 0, 5], [10, 10, 10, 10])
    assert ratio[0] == 0.0 and np.isnan(low[0]) and np.isnan(high[0])  # ratio 0, no log interval
    assert np.isnan(ratio[1:]).all()  # reference rate 0, 0/0, no rows
    assert not np.isinf(np.r_[ratio, low, high]).any()


# --- tests and q-values --------------------------------------------------------------------


def test_chi_square_without_correction_when_every_expected_cell_is_at_least_5():
    p, methods = two_proportion_test([40, 300], [100, 1000], [60, 280], [100, 900])
    for i, (x1, n1, x2, n2) in enumerate([(40, 100, 60, 100), (300, 1000, 280, 900)]):
        table = [[x1, n1 - x1], [x2, n2 - x2]]
        assert p[i] == pytest.approx(chi2_contingency(table, correction=False).pvalue, rel=1e-10)
    assert list(methods) == ["chi-square", "chi-square"]


def test_fisher_exact_when_an_expected_cell_is_under_5():
    cases = [(1, 10, 6, 10), (0, 12, 5, 9), (3, 4, 1, 4), (2, 200, 6, 100), (9, 10, 2, 3)]
    p, methods = two_proportion_test(*np.array(cases).T)
    for i, (x1, n1, x2, n2) in enumerate(cases):
        assert methods[i] == "fisher"
        assert p[i] == pytest.approx(fisher_exact([[x1, n1 - x1], [x2, n2 - x2]]).pvalue, rel=1e-9)


def test_fisher_matches_scipy_on_many_small_tables():
    rng = np.random.default_rng(5)
    a, b, c, d = rng.integers(0, 25, (4, 400))
    for i in range(400):
        ours = stats._fisher_p(a[i], b[i], c[i], d[i])
        assert ours == pytest.approx(fisher_exact([[a[i], b[i]], [c[i], d[i]]]).pvalue, rel=1e-9, abs=1e-15)


def test_test_of_identical_outcomes_is_1_and_without_rows_undefined():
    p, methods = two_proportion_test([0, 10, 3], [10, 10, 0], [0, 20, 3], [20, 20, 10])
    assert p[0] == 1.0 and p[1] == 1.0
    assert np.isnan(p[2]) and methods[2] == ""


def test_benjamini_hochberg_equals_scipy():
    rng = np.random.default_rng(6)
    p = np.r_[rng.random(50) ** 3, 0.0, 1.0, 0.02, 0.02]
    np.testing.assert_allclose(benjamini_hochberg(p), false_discovery_control(p, method="bh"), rtol=0, atol=TOL)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 1), st.just(float("nan"))), min_size=0, max_size=40))
def test_benjamini_hochberg_leaves_nan_out_of_the_family(values):
    p = np.array(values, dtype=float)
    q = benjamini_hochberg(p)
    finite = np.isfinite(p)
    assert np.array_equal(np.isnan(q), ~finite)
    if finite.any():
        np.testing.assert_allclose(q[finite], false_discovery_control(p[finite], method="bh"), rtol=0, atol=TOL)
        assert (q[finite] >= p[finite] - TOL).all()


# --- minimum detectable difference --------------------------------------------------------


@pytest.mark.parametrize(("n1", "n2", "rate"), [(100, 100, 0.5), (200, 5000, 0.3), (5000, 60, 0.9), (50, 50, 1.0)])
def test_minimum_detectable_difference_solves_the_power_equation(n1, n2, rate):
    delta = float(minimum_detectable_difference(n1, n2, rate))
    r = max(rate, 1 - rate)
    other = r - delta
    sigma = math.sqrt(r * (1 - r) / n2 + other * (1 - other) / n1)
    assert delta == pytest.approx((norm.ppf(0.975) + norm.ppf(0.8)) * sigma, rel=1e-12)
    assert 0 < delta <= 1


def test_minimum_detectable_difference_has_80_percent_power_by_simulation():
    n, rate = 2000, 0.3
    delta = float(minimum_detectable_difference(n, n, rate))
    rng = np.random.default_rng(7)
    x_ref = rng.binomial(n, rate, 4000)
    x_other = rng.binomial(n, rate + delta, 4000)  # the gap in the direction measured (toward 0.5)
    p, _ = two_proportion_test(x_other, n, x_ref, n)
    assert (p < 0.05).mean() == pytest.approx(0.8, abs=0.025)


def test_minimum_detectable_difference_shrinks_with_sample_size_and_is_undefined_without_rows():
    mdd = minimum_detectable_difference([50, 500, 5000, 0], [5000, 5000, 5000, 5000], 0.6)
    assert mdd[0] > mdd[1] > mdd[2] > 0
    assert np.isnan(mdd[3])
    with pytest.raises(ValueError, match="power must be a number strictly between 0 and 1"):
        minimum_detectable_difference(10, 10, 0.5, power=80)


# --- AUC -----------------------------------------------------------------------------------


def _random_scores(seed: int, n: int, decimals: int | None):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 5, n)
    scores = rng.random(n)
    scores = scores.round(decimals) if decimals is not None else scores
    positive = rng.random(n) < scores * (0.5 + codes / 10)
    return codes, scores, positive


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("decimals", [1, 2, None])
def test_auc_by_group_equals_sklearn_with_ties(monkeypatch, dense, decimals):
    if not dense:
        monkeypatch.setattr(stats, "DENSE_AUC_CELLS", 0)
    codes, scores, positive = _random_scores(8, 5000, decimals)
    auc, n_pos, n_neg, constant = auc_by_group(codes, scores, positive, 6)
    for g in range(5):
        mask = codes == g
        assert auc[g] == pytest.approx(roc_auc_score(positive[mask], scores[mask]), abs=TOL)
        assert n_pos[g] == positive[mask].sum() and n_neg[g] == (~positive[mask]).sum()
    assert np.isnan(auc[5]) and n_pos[5] == 0 and not constant.any()


@pytest.mark.parametrize("dense", [True, False])
def test_auc_is_undefined_for_a_constant_score_or_a_single_class(monkeypatch, dense):
    if not dense:
        monkeypatch.setattr(stats, "DENSE_AUC_CELLS", 0)
    codes = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    scores = np.array([0.5, 0.5, 0.5, 0.5, 0.1, 0.2, 0.3, 0.3, 0.6, 0.9])
    positive = np.array([1, 0, 1, 0, 1, 1, 1, 0, 1, 1], dtype=bool)
    ranks = rank_scores(scores, positive)
    auc, _, n_neg, constant = auc_by_group(codes, scores, positive, 3, ranks=ranks)
    assert np.isnan(auc[0]) and constant[0]  # constant score: not 0.5
    assert np.isnan(auc[1]) and n_neg[1] == 0  # one class only
    assert auc[2] == 1.0


def test_hanley_mcneil_interval_contains_the_auc_and_narrows_with_size():
    low, high = hanley_mcneil_interval([0.8, 0.8, np.nan], [20, 2000, 10], [30, 3000, 10])
    assert low[0] < low[1] < 0.8 < high[1] < high[0] <= 1
    assert np.isnan(low[2])
