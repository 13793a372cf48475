"""Continuous outcomes by group, cross-checked against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from analysis.continuous import adjust, continuous_by_group, median_interval
from analysis.errors import OptionError


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    n = 900
    codes = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    # Waiting hours: group 2 waits about 30 % longer (a planted gap); a few missing.
    values = rng.gamma(2.0, 3.0, n) * np.where(codes == 2, 1.3, 1.0)
    values[rng.random(n) < 0.02] = np.nan
    return values, codes, ("A", "B", "C")


@pytest.mark.parametrize("n", [1, 5, 6, 10, 31, 200])
def test_median_interval_is_scipys_order_statistic_interval(n):
    x = np.sort(np.random.default_rng(n).normal(size=n))
    low, high = median_interval(x)
    ci = stats.quantile_test(x, q=0.0, p=0.5).confidence_interval(0.95)
    expected = (None if math.isnan(ci.low) or math.isinf(ci.low) else ci.low,
                None if math.isnan(ci.high) or math.isinf(ci.high) else ci.high)  # fmt: skip
    if expected[0] is None or expected[1] is None:
        assert (low, high) == (None, None)
    else:
        assert (low, high) == pytest.approx(expected)


def test_groups_and_comparisons_match_scipy():
    values, codes, labels = _data()
    result = continuous_by_group(values, codes, labels, attribute="language", outcome="hours", higher_is_better=False)
    assert result.missing == int(np.isnan(values).sum())
    known = ~np.isnan(values)
    by = {label: values[known & (codes == i)] for i, label in enumerate(labels)}
    # Lower is better: the reference is the group with the lowest mean among large groups.
    assert result.reference == min(by, key=lambda k: by[k].mean())
    assert result.threshold == pytest.approx(np.median(values[known]))
    for g in result.groups:
        x = by[g.group]
        assert g.n == x.size and g.mean == pytest.approx(x.mean())
        ci = stats.t.interval(0.95, x.size - 1, loc=x.mean(), scale=stats.sem(x))
        assert (g.mean_low, g.mean_high) == pytest.approx(ci)
        assert g.median == pytest.approx(np.median(x))
        assert g.quantiles["p90"] == pytest.approx(np.quantile(x, 0.9))
        assert g.above == int((x > result.threshold).sum())
    ref = by[result.reference]
    for c in result.comparisons:
        x = by[c.group]
        welch = stats.ttest_ind(x, ref, equal_var=False)
        ci = welch.confidence_interval(0.95)
        assert c.mean_difference == pytest.approx(x.mean() - ref.mean())
        assert (c.mean_difference_low, c.mean_difference_high) == pytest.approx((ci.low, ci.high))
        assert c.p_values["welch"] == pytest.approx(welch.pvalue)
        assert c.p_values["mann_whitney"] == pytest.approx(stats.mannwhitneyu(x, ref).pvalue)
        ks = stats.ks_2samp(x, ref)
        assert (c.ks_distance, c.p_values["ks"]) == pytest.approx((ks.statistic, ks.pvalue))
        assert c.quantile_gaps["p50"] == pytest.approx(np.median(x) - np.median(ref))
        assert c.impact_ratio == pytest.approx(((x > result.threshold).mean()) / ((ref > result.threshold).mean()))
    planted = next(c for c in result.comparisons if c.group == "C")
    # The planted 30 % longer wait: the true ratio of means lies in the interval, and the tests see it.
    assert planted.mean_ratio_low < 1.3 < planted.mean_ratio_high
    assert planted.p_values["welch"] < 0.01 and planted.p_values["mann_whitney"] < 0.01


def test_adjust_is_benjamini_hochberg_over_every_test_of_every_attribute():
    values, codes, labels = _data(1)
    a = continuous_by_group(values, codes, labels, attribute="a")
    b = continuous_by_group(values, (codes + 1) % 3, labels, attribute="b", threshold=5.0)
    adjusted = adjust([a, b])
    p = [c.p_values[t] for x in (a, b) for c in x.comparisons for t in ("welch", "mann_whitney", "ks", "scoring_rate")]
    q = stats.false_discovery_control(p, method="bh")
    got = [
        c.q_values[t] for x in adjusted for c in x.comparisons for t in ("welch", "mann_whitney", "ks", "scoring_rate")
    ]
    assert got == pytest.approx(list(q))
    assert adjusted[1].threshold == 5.0 and adjusted[1].threshold_source == "given"


def test_a_named_reference_and_tiny_groups():
    values = np.array([1.0, 2.0, 3.0, 10.0, 11.0])
    codes = np.array([0, 0, 0, 1, 1])
    result = continuous_by_group(values, codes, ("x", "y"), reference="x", min_group_size=30)
    assert result.reference == "x" and result.reference_rule == "named in the spec"
    (c,) = result.comparisons
    assert c.mean_difference == pytest.approx(10.5 - 2.0)
    # Five rows cannot give a 95 % distribution-free interval for a median.
    assert result.groups[1].median_low is None


def test_infinities_are_refused_with_the_count():
    with pytest.raises(OptionError, match="2 values that are not finite"):
        continuous_by_group(np.array([1.0, np.inf, -np.inf]), np.array([0, 0, 1]), ("a", "b"))


def test_audit_outcome_on_the_tickets_sample():
    from pathlib import Path

    from analysis import load_table, suggest_spec
    from analysis.continuous import audit_outcome

    df = load_table(Path(__file__).resolve().parents[2] / "sample_data" / "support_tickets.csv").data
    spec = suggest_spec(df)
    result = audit_outcome(df, spec, "first_response_hours", higher_is_better=False, duration=True)
    language = result.attributes["customer_language"]
    assert language.reference == "English"  # the shortest mean wait
    known = df["first_response_hours"].notna()
    for c in language.comparisons:
        rows = known & (df["customer_language"] == c.group)
        ref = known & (df["customer_language"] == "English")
        x, y = df.loc[rows, "first_response_hours"], df.loc[ref, "first_response_hours"]
        assert c.mean_difference == pytest.approx(x.mean() - y.mean())
        assert c.mean_difference > 0 and c.q_values["mann_whitney"] < 0.05
    assert set(result.intersections) == {" × ".join(t) for t in spec.intersection_sets()}
    assert result.to_dict()["outcome"] == "first_response_hours"


def test_outcome_values_refuse_text_and_negative_durations():
    import pandas as pd

    from analysis.continuous import outcome_values

    df = pd.DataFrame({"wait": ["1.5", "n/a?", "3", None], "amount": [1.0, -2.0, 3.0, None]})
    with pytest.raises(OptionError, match=r"1 cell that is not a number \(e.g. 'n/a\?'\)"):
        outcome_values(df, "wait")
    with pytest.raises(OptionError, match=r"1 negative duration \(e.g. -2\)"):
        outcome_values(df, "amount", duration=True)
    assert np.isnan(outcome_values(df, "amount")[3])
    with pytest.raises(OptionError, match="'missing_col' is not in the table"):
        outcome_values(df, "missing_col")


@pytest.mark.parametrize(
    "n1, n2, rounding", [(5, 40, None), (9, 12, 0), (300, 500, None), (2000, 3000, 0), (50, 60, -3)]
)
def test_mann_whitney_from_sorted_values_is_scipys(n1, n2, rounding):
    """The sorted-sample U test equals scipy's, with and without ties (rounded values), small and large."""
    from analysis.continuous import mann_whitney_sorted

    rng = np.random.default_rng(n1 + n2)
    x, y = rng.exponential(5, n1), rng.exponential(6, n2)
    if rounding is not None:
        x, y = np.round(x, rounding), np.round(y, rounding)
    expected = stats.mannwhitneyu(x, y, alternative="two-sided").pvalue
    assert mann_whitney_sorted(np.sort(x), np.sort(y)) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_mann_whitney_of_identical_constant_samples_is_one():
    from analysis.continuous import mann_whitney_sorted

    assert (
        mann_whitney_sorted(np.full(20, 3.0), np.full(30, 3.0))
        == stats.mannwhitneyu(np.full(20, 3.0), np.full(30, 3.0)).pvalue
    )
