"""The metrics module: the registry, evaluate() on hand-made counts, and metric_table() against fairlearn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.metrics import (
    COMPARISONS,
    FOUR_FIFTHS,
    METRICS,
    RATES,
    Counts,
    evaluate,
    group_counts,
    metric_table,
    rate_from_counts,
    title,
)

TOL = 1e-12


def counts(**groups: tuple[int, int, int, int]) -> Counts:
    """Counts from (tp, fp, tn, fn) per group; every row has a decision and a label."""
    labels = tuple(groups)
    tp, fp, tn, fn = (np.array([g[i] for g in groups.values()]) for i in range(4))
    return Counts.of(labels, tp + fp + tn + fn, tp + fp, tp=tp, fp=fp, tn=tn, fn=fn)


def test_every_rate_is_its_numerator_over_its_denominator():
    c = counts(a=(30, 10, 50, 10), b=(5, 5, 20, 10))
    table = evaluate(c, min_group_size=1)
    expected = {
        "selection_rate": (40 / 100, 10 / 40),
        "favorable_rate": (40 / 100, 10 / 40),
        "base_rate": (40 / 100, 15 / 40),
        "tpr": (30 / 40, 5 / 15),
        "fpr": (10 / 60, 5 / 25),
        "tnr": (50 / 60, 20 / 25),
        "fnr": (10 / 40, 10 / 15),
        "precision": (30 / 40, 5 / 10),
        "npv": (50 / 60, 20 / 30),
        "fdr": (10 / 40, 5 / 10),
        "for": (10 / 60, 10 / 30),
        "accuracy": (80 / 100, 25 / 40),
    }
    assert set(expected) == set(RATES)
    for name, values in expected.items():
        np.testing.assert_allclose(table.rates[name], values, rtol=0, atol=TOL, err_msg=name)
        recorded = {"n": 100, "positives": 40, "favorable": 40, "tp": 30, "fp": 10, "tn": 50, "fn": 10}
        assert rate_from_counts(name, recorded) == pytest.approx(values[0], abs=TOL)


def test_a_zero_denominator_is_undefined_with_its_reason_never_zero():
    c = counts(a=(30, 10, 50, 10), b=(0, 0, 20, 0))  # b: no positive label, nobody selected
    table = evaluate(c, min_group_size=1, label_positive="y = 1")
    b = table.metric("b", "tpr")
    assert b.value is None and b.reason == "undefined: no rows with a positive label (y = 1) in this group"
    assert table.metric("b", "precision").value is None
    assert table.metric("b", "equal_opportunity_difference").value is None
    assert table.metric("b", "fpr").value == 0.0  # a real 0: its denominator has rows


def test_the_rule_never_says_no_group_is_large_when_the_missing_group_is():
    table = evaluate(Counts.of(("a", "b", "(missing)"), [10, 12, 100], [5, 9, 90]), min_group_size=30)
    assert table.reference_group == "b"
    assert table.reference_rule == (
        "highest favourable rate among groups other than (missing) (none of them has at least 30 rows)"
    )
    hidden = evaluate(Counts.of(("a", "b", "c"), [40, 50, 60], [20, 30, 40]), shown=np.array([False, True, False]))
    assert hidden.reason == "not computable: only one group ('b'); there is nothing to compare it with"
    none = evaluate(Counts.of(("a", "b"), [4, 5], [2, 3]), shown=np.array([False, False]))
    assert none.reason == "not computable: no group to compare"
    cells = evaluate(Counts.of(("a", "b", "c"), [40, 50, 60], [20, 30, 40]), reference="a", shown=np.array([0, 1, 1]))
    assert cells.reference_group == "c"  # a reference that is not shown is not used


def test_the_reference_is_the_highest_rate_among_large_real_groups_and_the_rule_says_so():
    c = Counts.of(("low", "high", "tiny", "(missing)"), [100, 100, 5, 40], [40, 70, 5, 38])
    table = evaluate(c, min_group_size=30)
    assert table.reference_group == "high"
    assert (
        table.reference_rule
        == "highest favourable rate among groups with at least 30 rows, not counting the (missing) group"
    )
    assert table.compared.tolist() == [True, True, False, True]
    named = evaluate(c, min_group_size=30, reference="low")
    assert (named.reference_group, named.reference_rule) == ("low", "named in the spec")
    quiet = evaluate(Counts.of(("low", "high", "(missing)"), [100, 100, 40], [40, 70, 1]), min_group_size=30)
    assert quiet.reference_rule == "highest favourable rate among groups with at least 30 rows"


def test_two_ratios_two_names_and_the_verdict_reads_the_four_fifths_ratio():
    # Reference named "mid": the lowest group is 0.9x of it, but only 0.6x of the highest group.
    c = Counts.of(("low", "mid", "high"), [100, 100, 100], [45, 50, 75])
    table = evaluate(c, min_group_size=30, reference="mid")
    summary = table.summary.metrics
    assert summary["disparate_impact_min"].value == pytest.approx(0.9, abs=TOL)
    assert summary["disparate_impact_min"].group == "low"
    assert summary["favorable_rate_ratio"].value == pytest.approx(0.6, abs=TOL)
    assert table.summary.four_fifths_pass is False
    assert title("disparate_impact_min") != title("favorable_rate_ratio")


def test_fewer_than_two_groups_of_the_minimum_size_make_the_summary_not_computable():
    table = evaluate(Counts.of(("a", "b", "c"), [40, 12, 8], [20, 6, 1]), min_group_size=30)
    assert table.status == "ok" and table.reference_group == "a"  # comparisons are still made
    assert table.summary.status == "not computable"
    reason = "not computable: fewer than two groups have at least 30 rows"
    assert all(m.value is None and m.reason == reason for m in table.summary.metrics.values())
    assert table.summary.four_fifths_pass is None


def test_when_every_rate_is_zero_the_ratio_is_one_as_fairlearn_counts_it():
    table = evaluate(Counts.of(("a", "b"), [50, 50], [0, 0]), min_group_size=30)
    ratio = table.summary.metrics["favorable_rate_ratio"]
    assert ratio.value == 1.0 and "0 in every group" in ratio.reason
    assert table.metric("b", "disparate_impact").reason == "undefined: the reference group's favourable rate is 0"


def test_a_harmful_positive_decision_makes_the_negative_one_favourable():
    c = Counts.of(("a", "b"), [100, 100], [30, 60], positive_is_favorable=False)
    table = evaluate(c, min_group_size=30)
    np.testing.assert_allclose(table.rates["favorable_rate"], [0.7, 0.4], atol=TOL)
    assert table.reference_group == "a"
    assert table.summary.metrics["favorable_rate_ratio"].value == pytest.approx(0.4 / 0.7, abs=TOL)


def test_group_counts_leave_out_rows_without_a_decision_and_keep_a_missing_group():
    y_pred = [1, 0, None, 1, np.nan, 0]
    groups = ["a", "a", "a", None, "b", "b"]
    y_true = [1, np.nan, 1, 0, 1, 1]
    c = group_counts(y_pred, groups, y_true)
    assert c.labels == ("a", "b", "(missing)")
    assert c.n.tolist() == [2, 1, 1] and c.positives.tolist() == [1, 0, 1]
    assert (c.tp.tolist(), c.fp.tolist(), c.fn.tolist()) == ([1, 0, 0], [0, 0, 1], [0, 1, 0])
    assert c.missing.tolist() == [False, False, True]
    with pytest.raises(ValueError, match="one value per row in each array, got y_pred 2, groups 1"):
        group_counts([1, 0], ["a"])
    with pytest.raises(ValueError, match=r"\['z'\] are not among them"):
        group_counts([1, 0], ["a", "z"], labels=["a"])
    nullable = group_counts(
        pd.array([1, None, 0], dtype="Int64"), ["a", "a", "b"], pd.array([1, 1, None], dtype="Int64")
    )
    assert nullable.n.tolist() == [1, 1] and nullable.tp.tolist() == [1, 0] and nullable.fn.tolist() == [0, 0]


def test_metric_table_equals_fairlearn_and_aif360_on_the_same_arrays():
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    rng = np.random.default_rng(7)
    n = 6000
    groups = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    y_true = (rng.random(n) < 0.5).astype(int)
    y_pred = (rng.random(n) < np.where(groups == "a", 0.6, 0.4) * (0.5 + 0.5 * y_true)).astype(int)
    table = metric_table(y_pred, groups, y_true)
    frame = MetricFrame(
        metrics={"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=groups,
    )
    for name in ("selection_rate", "tpr", "fpr"):
        for i, g in enumerate(table.labels):
            assert table.rates[name][i] == pytest.approx(frame.by_group[name][g], abs=TOL), (name, g)
    summary = table.summary.metrics
    kwargs = {"y_true": y_true, "y_pred": y_pred, "sensitive_features": groups}
    assert summary["demographic_parity_difference"].value == pytest.approx(
        demographic_parity_difference(**kwargs), abs=TOL
    )
    assert summary["demographic_parity_ratio"].value == pytest.approx(demographic_parity_ratio(**kwargs), abs=TOL)
    assert summary["equalized_odds_difference"].value == pytest.approx(equalized_odds_difference(**kwargs), abs=TOL)
    assert summary["equalized_odds_ratio"].value == pytest.approx(equalized_odds_ratio(**kwargs), abs=TOL)

    # aif360: each group against the reference as the privileged group.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from aif360.datasets import BinaryLabelDataset
        from aif360.metrics import ClassificationMetric

    codes = {g: i for i, g in enumerate(table.labels)}
    frame = pd.DataFrame({"g": [codes[g] for g in groups], "y": y_true})
    truth = BinaryLabelDataset(df=frame, label_names=["y"], protected_attribute_names=["g"])
    predicted = truth.copy()
    predicted.labels = y_pred.reshape(-1, 1).astype(float)
    ref = codes[table.reference_group]
    for g, code in codes.items():
        if code == ref:
            continue
        m = ClassificationMetric(truth, predicted, [{"g": code}], [{"g": ref}])
        assert table.metric(g, "disparate_impact").value == pytest.approx(m.disparate_impact(), abs=TOL)
        assert table.metric(g, "statistical_parity_difference").value == pytest.approx(
            m.statistical_parity_difference(), abs=TOL
        )
        assert table.metric(g, "equal_opportunity_difference").value == pytest.approx(
            m.equal_opportunity_difference(), abs=TOL
        )
        assert table.metric(g, "average_odds_difference").value == pytest.approx(m.average_odds_difference(), abs=TOL)


def test_the_registry_describes_every_metric_it_names():
    assert FOUR_FIFTHS == 0.8
    for name in (*RATES, *COMPARISONS):
        info = METRICS[name]
        assert (info.title and info.meaning and info.better is not None) or info.kind == "rate", name
    assert {METRICS[n].against for n in COMPARISONS} == {"reference"}
    assert METRICS["tpr"].needs_label and not METRICS["selection_rate"].needs_label
    assert METRICS["equalized_odds_difference"].fairlearn == "fairlearn.metrics.equalized_odds_difference"
    assert METRICS["disparate_impact"].aif360 == "ClassificationMetric.disparate_impact"
    assert METRICS["favorable_rate_ratio"].label == "four-fifths ratio"


def test_the_four_fifths_ratio_of_a_harmful_decision_equals_fairlearns_ratio_of_the_negative_decision():
    from fairlearn.metrics import demographic_parity_ratio

    rng = np.random.default_rng(11)
    groups = rng.choice(["a", "b", "c"], 3000)
    y_pred = (rng.random(3000) < np.where(groups == "b", 0.3, 0.5)).astype(int)
    table = metric_table(y_pred, groups, positive_is_favorable=False)
    expected = demographic_parity_ratio(np.zeros(3000), 1 - y_pred, sensitive_features=groups)
    assert table.summary.metrics["favorable_rate_ratio"].value == pytest.approx(expected, abs=TOL)
    assert METRICS["tpr"].to_dict()["denominator"] == ["tp", "fn"]


def test_a_named_reference_without_rows_is_not_used_and_the_rule_says_so():
    table = evaluate(Counts.of(("a", "b", "c"), [0, 50, 60], [0, 30, 40]), reference="a")
    assert table.reference_group == "c"
    assert table.reference_rule.endswith("; the reference named in the spec, 'a', has no rows with a decision here")
