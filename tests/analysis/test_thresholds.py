"""Tests of the threshold engine: curves against a direct recount, what-if against audit(), the optimiser
against brute force over every threshold pair, infeasibility, and fairlearn's ThresholdOptimizer."""

from __future__ import annotations

import itertools
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from analysis import AuditSpec, SpecError, load_table
from analysis.audit import audit
from analysis.optimizer import CONSTRAINTS, frontier, optimize
from analysis.options import FOUR_FIFTHS
from analysis.thresholds import baseline, threshold_curves, what_if
from analysis.validation import validate_spec

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "loan_approvals.csv"
TOL = 1e-12
LOAN_SPEC = AuditSpec.from_dict(
    {
        "decision": "approved",
        "positive": ["Y"],
        "label": "repaid",
        "label_positive": [1],
        "score": "model_score",
        "protected": ["ethnicity"],
    }
)


@pytest.fixture(scope="module")
def loans() -> pd.DataFrame:
    return load_table(SAMPLE).data


@pytest.fixture(scope="module")
def loan_curves(loans):
    return threshold_curves(loans, LOAN_SPEC)


def _small(seed: int, rows: int = 40, groups: int = 2) -> tuple[pd.DataFrame, AuditSpec]:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, groups, rows)
    score = np.round(rng.uniform(0, 1, rows) + 0.15 * group, 1)
    label = (rng.uniform(0, 1, rows) < np.clip(score, 0.05, 0.95)).astype(int)
    df = pd.DataFrame({"g": [f"g{x}" for x in group], "s": score, "y": label})
    df["d"] = np.where(df["s"] >= 0.5, "Y", "N")
    spec = AuditSpec(
        decision="d", positive=("Y",), label="y", label_positive=(1,), score="s", protected=("g",), min_group_size=1
    )
    return df, spec


def _recount(df: pd.DataFrame, thresholds: dict[str, float]) -> dict[str, dict[str, float]]:
    """Per group: selected, tp, fp, tn, fn by direct comparison (decision = score ≥ threshold)."""
    out = {}
    for g, part in df.groupby("g"):
        s, y = part["s"].to_numpy(), part["y"].to_numpy() == 1
        keep = np.isfinite(s)
        dec = s[keep] >= thresholds.get(g, math.inf)  # groups without a scored row are not in the curves
        y = y[keep]
        out[g] = {
            "n": int(keep.sum()),
            "selected": int(dec.sum()),
            "tp": int((dec & y).sum()),
            "fp": int((dec & ~y).sum()),
            "tn": int((~dec & ~y).sum()),
            "fn": int((~dec & y).sum()),
        }
    return out


# --- curves ----------------------------------------------------------------------------------


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    rows=st.integers(2, 80),
    groups=st.integers(2, 4),
    missing=st.floats(0, 0.3),
    queries=st.lists(st.floats(-0.2, 1.5, allow_nan=False), min_size=1, max_size=5),
)
def test_curves_equal_a_direct_recount(seed, rows, groups, missing, queries):
    df, spec = _small(seed, rows, groups)
    rng = np.random.default_rng(seed + 1)
    df.loc[rng.uniform(size=rows) < missing, "s"] = np.nan
    assume(df["s"].notna().any() and not validate_spec(df, spec).errors)
    curves = threshold_curves(df, spec)
    for q in queries:
        thresholds = dict.fromkeys(curves.labels, q)
        expected = _recount(df, thresholds)
        below = curves.below(np.full(curves.n_groups, q))
        for i, g in enumerate(curves.labels):
            got = curves.counts_at_below(i, below[i : i + 1])
            for name in ("n", "selected", "tp", "fp", "tn", "fn"):
                assert int(got[name][0]) == expected[g][name], (g, q, name)
    assert sum(r["rows"] for r in curves.left_out) == int(df["s"].isna().sum())


def test_curves_need_a_score():
    df, _ = _small(0)
    spec = AuditSpec(decision="d", positive=("Y",), protected=("g",))
    with pytest.raises(SpecError, match="need a score column"):
        threshold_curves(df, spec)


def test_unknown_attribute_is_refused():
    df, spec = _small(0)
    with pytest.raises(SpecError, match="not a protected attribute"):
        threshold_curves(df, spec, attribute="s")


# --- what-if ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_what_if_equals_audit_on_the_replaced_decisions(loans, seed):
    rng = np.random.default_rng(seed)
    df = loans.copy()
    df.loc[rng.uniform(size=len(df)) < 0.05, "model_score"] = np.nan
    curves = threshold_curves(df, LOAN_SPEC)
    thresholds = {g: float(rng.uniform(0.3, 0.7)) for g in curves.labels}
    result = what_if(curves, thresholds)
    t = df["ethnicity"].map(thresholds).to_numpy(dtype=float)
    score = df["model_score"].to_numpy(dtype=float)
    df["new"] = np.where(np.isnan(score), None, np.where(score >= t, "Y", "N"))
    spec = AuditSpec.from_dict(LOAN_SPEC.to_dict() | {"decision": "new", "score": None})
    expected = audit(df, spec).attributes["ethnicity"]
    assert result.reference_group == expected.reference_group
    for g in curves.labels:
        for name in ("selection_rate", "tpr", "fpr", "precision", "accuracy", "disparate_impact"):
            want, got = expected.groups[g].metrics[name].value, result.metric(g, name)
            assert (want is None and got is None) or abs(got - want) <= TOL, (g, name, got, want)
    summary = expected.summary.metrics
    for name in ("demographic_parity_difference", "equalized_odds_difference", "favorable_rate_ratio"):
        assert abs(result.summary[name].value - summary[name].value) <= TOL


def test_flips_equal_a_direct_comparison(loans):
    rng = np.random.default_rng(5)
    curves = threshold_curves(loans, LOAN_SPEC)
    thresholds = {g: float(rng.uniform(0.3, 0.7)) for g in curves.labels}
    result = what_if(curves, thresholds)
    old = loans["approved"].eq("Y").to_numpy()
    new = loans["model_score"].to_numpy() >= loans["ethnicity"].map(thresholds).to_numpy()
    for g in curves.labels:
        mask = loans["ethnicity"].eq(g).to_numpy()
        assert result.flips[g] == {
            "to_positive": int((mask & ~old & new).sum()),
            "to_negative": int((mask & old & ~new).sum()),
        }
    assert sum(f["to_positive"] + f["to_negative"] for f in result.flips.values()) > 0


def test_what_if_at_current_threshold_flips_nobody_and_is_json_safe(loan_curves):
    result = what_if(loan_curves, 0.5, cost_fp=2.0, benefit_tp=1.0)
    assert all(f == {"to_positive": 0, "to_negative": 0} for f in result.flips.values())
    counts = [rec.counts for rec in result.groups.values()]
    assert result.summary["utility"].value == sum(c["tp"] for c in counts) - 2 * sum(c["fp"] for c in counts)
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert json.loads(text) == result.to_dict()


def test_baseline_equals_audit_of_the_current_decisions(loans, loan_curves):
    expected = audit(loans, LOAN_SPEC).attributes["ethnicity"]
    result = baseline(loan_curves)
    assert result.reference_group == expected.reference_group
    for g in loan_curves.labels:
        for name in ("selection_rate", "tpr", "fpr", "disparate_impact"):
            want, got = expected.groups[g].metrics[name].value, result.metric(g, name)
            assert (want is None and got is None) or abs(got - want) <= TOL, (g, name)


def test_what_if_undefined_rates_are_null_with_reason():
    df = pd.DataFrame({"g": ["a", "a", "b", "b"], "s": [0.1, 0.9, 0.2, 0.8], "y": [1, 1, 0, 1]})
    spec = AuditSpec(score="s", threshold=0.5, label="y", label_positive=(1,), protected=("g",), min_group_size=1)
    result = what_if(threshold_curves(df, spec), 0.5)
    fpr = result.groups["a"].metrics["fpr"]
    assert fpr.value is None and "negative label" in fpr.reason


def test_what_if_refuses_bad_thresholds(loan_curves):
    with pytest.raises(SpecError, match="unknown group"):
        what_if(loan_curves, {"Z": 0.5})
    with pytest.raises(SpecError, match="No threshold given"):
        what_if(loan_curves, {"A": 0.5})
    with pytest.raises(SpecError, match="finite number"):
        what_if(loan_curves, math.inf)


# --- optimiser -------------------------------------------------------------------------------


def _measure(counts: dict[str, dict[str, float]], constraint: str) -> float:
    def rate(num, den):
        return [c[num] / c[den] if c[den] else math.nan for c in counts.values()]

    for c in counts.values():
        c["pos"], c["neg"], c["sel"] = c["tp"] + c["fn"], c["fp"] + c["tn"], c["tp"] + c["fp"]
    if constraint == "four_fifths":
        r = rate("selected", "n")
        return 1.0 if max(r) == 0 else min(r) / max(r)
    name = {"demographic_parity": ("selected", "n"), "equal_opportunity": ("tp", "pos")}
    name |= {"predictive_parity": ("tp", "sel"), "equalized_odds": ("tp", "pos")}
    r = rate(*name[constraint])
    out = max(r) - min(r)
    if constraint == "equalized_odds":
        f = rate("fp", "neg")
        out = max(out, max(f) - min(f))
    return out


def _objective(counts, objective):
    if objective == "accuracy":
        return sum(c["tp"] + c["tn"] for c in counts.values())
    return sum(c["tp"] - 2.0 * c["fp"] for c in counts.values())


def _satisfies(value: float, constraint: str, tolerance: float) -> bool:
    if math.isnan(value):
        return False
    if constraint == "four_fifths":
        return value >= 0.8 - tolerance - 1e-9
    return value <= tolerance + 1e-9


@pytest.mark.slow
@pytest.mark.parametrize("constraint", CONSTRAINTS)
@pytest.mark.parametrize("objective", ["accuracy", "cost"])
@pytest.mark.parametrize(("seed", "tolerance"), [(3, 0.05), (11, 0.05), (7, 0.0)])
def test_optimizer_matches_brute_force_over_all_threshold_pairs(constraint, objective, seed, tolerance):
    df, spec = _small(seed)
    curves = threshold_curves(df, spec)
    result = optimize(curves, constraint=constraint, tolerance=tolerance, objective=objective, cost_fp=2.0)
    options = [np.append(np.unique(df.loc[df.g == g, "s"]), np.inf) for g in curves.labels]
    best = -math.inf
    for pair in itertools.product(*options):
        counts = _recount(df, dict(zip(curves.labels, pair, strict=True)))
        if _satisfies(_measure(counts, constraint), constraint, tolerance):
            best = max(best, _objective(counts, objective))
    got = _recount(df, result.thresholds)
    assert result.feasible == (best > -math.inf)
    assert result.feasible  # every case here has a solution (all-negative at worst, except predictive parity)
    if result.feasible:
        assert _satisfies(_measure(got, constraint), constraint, tolerance)
        assert _objective(got, objective) >= best - 1e-9
        assert abs(result.achieved - _measure(got, constraint)) <= TOL


def _distinct(seed: int, rows: int, groups: int, *, threshold_decisions: bool) -> tuple[pd.DataFrame, AuditSpec]:
    """Distinct scores (every count reachable); today's decisions a threshold of the score, or random."""
    rng = np.random.default_rng(seed)
    group = np.arange(rows) % groups
    score = rng.uniform(0, 1, rows) + 0.15 * group
    label = (rng.uniform(0, 1, rows) < np.clip(score, 0.05, 0.95)).astype(int)
    positive = score >= 0.5 if threshold_decisions else rng.uniform(0, 1, rows) < 0.6
    df = pd.DataFrame({"g": [f"g{x}" for x in group], "s": score, "y": label, "d": np.where(positive, "Y", "N")})
    spec = AuditSpec(
        decision="d", positive=("Y",), label="y", label_positive=(1,), score="s", protected=("g",), min_group_size=1
    )
    return df, spec


def _keep_rate_key(df: pd.DataFrame, thresholds: dict[str, float], target: int) -> tuple[int, int]:
    new = df["s"].to_numpy() >= df["g"].map(thresholds).to_numpy()
    return abs(int(new.sum()) - target), int((new != df["d"].eq("Y").to_numpy()).sum())


@pytest.mark.slow
@pytest.mark.parametrize("constraint", ["demographic_parity", "four_fifths", "equal_opportunity", "equalized_odds"])
@pytest.mark.parametrize(("groups", "tolerance"), [(2, 0.0), (2, 0.05), (2, 0.2), (3, 0.05), (3, 0.2)])
@pytest.mark.parametrize("threshold_decisions", [True, False])
def test_keep_selection_rate_matches_brute_force(constraint, groups, tolerance, threshold_decisions):
    """Objective selection_rate: today's overall count kept as closely as the constraint allows, then as few
    decisions changed as possible. With distinct scores the count is exact; the fewest changes are exact when
    today's decisions are a threshold of the score (else they are near: checked for the count only)."""
    rows = 16 if groups == 2 else 12
    checked = 0
    for seed in range(6):
        df, spec = _distinct(seed, rows, groups, threshold_decisions=threshold_decisions)
        curves = threshold_curves(df, spec)
        target = int(df["d"].eq("Y").sum())
        try:
            result = optimize(curves, constraint=constraint, tolerance=tolerance, objective="selection_rate")
        except SpecError:  # a group without negative (or positive) labels: nothing to compare
            continue
        if result.notes or not result.feasible:
            continue
        options = [np.append(np.unique(df.loc[df.g == g, "s"]), np.inf) for g in curves.labels]
        best = None
        for combo in itertools.product(*options):
            thresholds = dict(zip(curves.labels, combo, strict=True))
            if _satisfies(_measure(_recount(df, thresholds), constraint), constraint, tolerance):
                key = _keep_rate_key(df, thresholds, target)
                best = key if best is None or key < best else best
        got = _keep_rate_key(df, result.thresholds, target)
        assert _satisfies(_measure(_recount(df, result.thresholds), constraint), constraint, tolerance)
        assert got[0] == best[0], (seed, got, best)
        if threshold_decisions:
            assert got == best, (seed, got, best)
        checked += 1
    assert checked >= 3


def test_keep_selection_rate_uses_the_constraints_slack(loans, loan_curves):
    """Four-fifths while keeping today's approvals: the rule passes, the overall count stays, and fewer decisions
    change than when every group is pushed to (nearly) the same rate (demographic parity within 0.01)."""
    today = int(loan_curves.current["selected"].sum())
    fifths = optimize(loan_curves, constraint="four_fifths", objective="selection_rate")
    parity = optimize(loan_curves, constraint="demographic_parity", tolerance=0.01, objective="selection_rate")
    decisions = loans["model_score"] >= loans["ethnicity"].map(fifths.thresholds)
    rates = decisions.groupby(loans["ethnicity"]).mean()
    assert rates.min() / rates.max() >= 0.8
    for result in (fifths, parity):
        assert result.feasible
        selected = sum(int(c["selected"]) for c in _recount_loans(loans, result.thresholds).values())
        assert abs(selected - today) <= 2
        assert result.objective_value == pytest.approx(today / len(loans), abs=1e-4)

    def changed(r):
        return sum(f["to_positive"] + f["to_negative"] for f in r.what_if.flips.values())

    assert changed(fifths) < changed(parity)
    assert fifths.thresholds != parity.thresholds


def _recount_loans(loans: pd.DataFrame, thresholds: dict[str, float]) -> dict[str, dict[str, int]]:
    decided = loans["model_score"] >= loans["ethnicity"].map(thresholds)
    return {g: {"selected": int(part.sum())} for g, part in decided.groupby(loans["ethnicity"])}


def test_infeasible_constraint_is_reported_with_the_best_achievable():
    # Group a's labels are all positive (precision 1), group b's all negative (precision 0).
    df = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 5, "s": np.linspace(0.1, 0.9, 10), "y": [1] * 5 + [0] * 5})
    spec = AuditSpec(score="s", threshold=0.5, label="y", label_positive=(1,), protected=("g",), min_group_size=1)
    result = optimize(threshold_curves(df, spec), constraint="predictive_parity", tolerance=0.1)
    assert result.feasible is False
    assert "cannot be met" in result.reason and "smallest achievable range is 1" in result.reason
    assert result.achieved == pytest.approx(1.0)


def test_optimizer_refuses_unknown_options(loan_curves):
    with pytest.raises(SpecError, match="constraint must be one of"):
        optimize(loan_curves, constraint="parity")
    with pytest.raises(SpecError, match="objective must be one of"):
        optimize(loan_curves, constraint="four_fifths", objective="profit")
    with pytest.raises(SpecError, match="tolerance must be"):
        optimize(loan_curves, constraint="four_fifths", tolerance=-0.1)


def test_optimizer_is_deterministic(loan_curves):
    runs = [optimize(loan_curves, constraint="equal_opportunity", tolerance=0.01).to_dict() for _ in range(2)]
    assert runs[0] == runs[1]
    assert json.loads(json.dumps(runs[0], allow_nan=False)) == runs[0]


def test_optimizer_refuses_error_rate_constraints_without_a_label(loans):
    spec = AuditSpec.from_dict(LOAN_SPEC.to_dict() | {"label": None, "label_positive": []})
    curves = threshold_curves(loans, spec)
    with pytest.raises(SpecError, match="need the true outcome"):
        optimize(curves, constraint="equal_opportunity", objective="selection_rate")
    result = optimize(curves, constraint="demographic_parity", tolerance=0.02, objective="selection_rate")
    assert result.feasible and result.achieved <= 0.02 + TOL


def test_loan_four_fifths_passes_on_the_data(loans, loan_curves):
    result = optimize(loan_curves, constraint="four_fifths", objective="accuracy")
    assert result.feasible
    decisions = loans["model_score"] >= loans["ethnicity"].map(result.thresholds)
    rates = decisions.groupby(loans["ethnicity"]).mean()
    assert rates.min() / rates.max() >= 0.8
    accuracy = (decisions == loans["repaid"].eq(1)).mean()
    assert result.objective_value == pytest.approx(accuracy, abs=TOL)
    assert result.what_if.four_fifths_pass is True
    before = baseline(loan_curves)
    assert before.four_fifths_pass is False and before.summary["favorable_rate_ratio"].value < 0.8


def test_not_worse_than_fairlearn_threshold_optimizer(loans, loan_curves):
    """About 1.5 s, so not marked slow. Margin: 0.005 accuracy, with our tolerance 0.005 on the
    selection-rate range (fairlearn's randomised solution meets parity only in expectation)."""
    from fairlearn.postprocessing import ThresholdOptimizer
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Score(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.fitted_ = True
            return self

        def predict(self, X):
            return np.asarray(X)[:, 0]

    X, y, A = loans[["model_score"]].to_numpy(), loans["repaid"].to_numpy(), loans["ethnicity"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = ThresholdOptimizer(
            estimator=Score().fit(X, y), constraints="demographic_parity", prefit=True, predict_method="predict"
        ).fit(X, y, sensitive_features=A)
        p = fitted._pmf_predict(X, sensitive_features=A)[:, 1]
    theirs = float(np.mean(p * y + (1 - p) * (1 - y)))
    ours = optimize(loan_curves, constraint="demographic_parity", tolerance=0.005, objective="accuracy")
    assert ours.feasible and ours.achieved <= 0.005 + TOL
    assert ours.objective_value >= theirs - 0.005


# --- frontier --------------------------------------------------------------------------------


def test_frontier_is_a_pareto_front(loan_curves):
    front = frontier(loan_curves, constraint="demographic_parity", points=6)
    disparities = [p.disparity for p in front.points]
    values = [p.objective_value for p in front.points]
    assert disparities == sorted(disparities) and values == sorted(values)
    assert len(set(values)) == len(values)
    assert front.baseline.disparity == pytest.approx(
        what_if(loan_curves, 0.5).summary["demographic_parity_difference"].value
    )
    assert (
        front.single_threshold.objective_value >= values[-1] - TOL or front.single_threshold.disparity > disparities[-1]
    )
    assert json.loads(json.dumps(front.to_dict(), allow_nan=False)) == front.to_dict()


def test_four_fifths_frontier_runs_from_the_free_optimum_to_parity(loan_curves):
    front = frontier(loan_curves, constraint="four_fifths", points=6)
    ratios = [p.disparity for p in front.points]
    values = [p.objective_value for p in front.points]
    # A higher ratio is fairer: along the front the ratio falls as the objective rises.
    assert len(front.points) >= 3
    assert ratios == sorted(ratios, reverse=True) and values == sorted(values)
    assert ratios[0] >= 0.95 and ratios[-1] <= ratios[0]
    strict = [p for p in front.points if p.tolerance is not None and p.tolerance < 0]
    assert strict and all(p.disparity >= FOUR_FIFTHS - p.tolerance - TOL for p in strict)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.integers(-3, 3), min_size=1, max_size=40), data=st.data())
def test_range_argmax_equals_a_scan(values, data):
    from analysis.optimizer import _RangeArgmax

    arr = np.array(values, dtype=float)
    lo = data.draw(st.integers(0, arr.size))
    hi = data.draw(st.integers(0, arr.size))
    got = int(_RangeArgmax(arr).query(np.array([lo]), np.array([hi]))[0])
    assert got == (lo + int(np.argmax(arr[lo:hi])) if hi > lo else -1)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(0, 6), max_size=20),
    bounds=st.lists(st.integers(-1, 7), min_size=1, max_size=20),
    strict=st.booleans(),
)
def test_count_below_equals_searchsorted(values, bounds, strict):
    from analysis.optimizer import _count_below

    v, b = np.sort(np.array(values, dtype=float)), np.sort(np.array(bounds, dtype=float))
    expected = np.searchsorted(v, b, side="left" if strict else "right")
    assert _count_below(v, b, strict=strict).tolist() == expected.tolist()


def _no_positives_in_c() -> tuple[pd.DataFrame, AuditSpec]:
    n = 600
    g = np.array(["a", "b", "c"])[np.arange(n) % 3]
    s = np.linspace(0, 1, n)
    y = np.where(g == "c", 0, np.arange(n) % 2)
    df = pd.DataFrame({"g": g, "s": s, "d": (s >= 0.5).astype(int), "y": y})
    spec = AuditSpec(decision="d", positive=(1,), label="y", label_positive=(1,), score="s", protected=("g",))
    return df, spec


@pytest.mark.parametrize("constraint", ["equal_opportunity", "equalized_odds"])
def test_a_group_without_positive_labels_is_left_out_of_tpr_constraints_and_said_so(constraint):
    df, spec = _no_positives_in_c()
    curves = threshold_curves(df, spec)
    result = optimize(curves, constraint=constraint, tolerance=0.05)
    assert result.feasible and result.constrained_groups == ("a", "b")
    assert result.notes and "['c']" in result.notes[0] and "undefined at every threshold" in result.notes[0]
    w = result.what_if
    assert abs(w.metric("a", "tpr") - w.metric("b", "tpr")) <= 0.05 + TOL
    assert w.metric("c", "tpr") is None
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))["notes"] == list(result.notes)


def test_a_tpr_constraint_defined_for_one_group_only_is_a_clear_error():
    df, spec = _no_positives_in_c()
    df = df[df["g"] != "b"]
    with pytest.raises(SpecError, match=r"defined for fewer than two groups \(\['a'\]\).*\['c'\]"):
        optimize(threshold_curves(df, spec), constraint="equal_opportunity", tolerance=0.05)


@pytest.mark.parametrize(("name", "value"), [("cost_fp", math.nan), ("benefit_tp", math.inf), ("cost_fp", -1.0)])
def test_costs_must_be_finite_and_not_negative(loan_curves, name, value):
    expected = f"{name} must be a finite number ≥ 0"
    with pytest.raises(SpecError, match=expected):
        what_if(loan_curves, 0.5, **{name: value})
    with pytest.raises(SpecError, match=expected):
        optimize(loan_curves, constraint="four_fifths", objective="cost", **{name: value})
    with pytest.raises(SpecError, match=expected):
        frontier(loan_curves, constraint="four_fifths", objective="cost", points=2, **{name: value})


def test_equalized_odds_leaves_out_a_group_without_negative_labels():
    """A group whose labels are all positive has no FPR at any threshold: it cannot take part (it was a crash)."""
    df = pd.DataFrame(
        {
            "g": ["a"] * 6 + ["b"] * 6 + ["c"] * 6,
            "s": np.tile(np.linspace(0.1, 0.9, 6), 3),
            "y": [0, 1, 0, 1, 1, 1] + [1] * 6 + [0, 0, 1, 0, 1, 1],
        }
    )
    spec = AuditSpec(score="s", threshold=0.5, label="y", label_positive=(1,), protected=("g",), min_group_size=1)
    result = optimize(threshold_curves(df, spec), constraint="equalized_odds", tolerance=0.0)
    assert result.constrained_groups == ("a", "c")
    assert "['b'] left out" in result.notes[0]
    assert result.feasible


@pytest.mark.parametrize("tolerance", [0.0, 0.02, 0.1])
def test_equalized_odds_pruned_floor_pairs_give_the_full_grids_optimum(monkeypatch, tolerance):
    """Only (TPR floor, FPR floor) pairs an optimum can have are searched; every TPR × FPR gives the same."""
    import analysis.optimizer as optimizer

    rng = np.random.default_rng(5)
    rows = 3000
    group = rng.choice(["a", "b", "c"], rows, p=[0.5, 0.3, 0.2])
    score = np.round(np.clip(rng.beta(2, 2, rows) + np.where(group == "a", 0.05, 0.0), 0, 1), 2)
    label = (rng.uniform(size=rows) < score).astype(int)
    df = pd.DataFrame({"g": group, "s": score, "y": label})
    spec = AuditSpec(score="s", threshold=0.5, label="y", label_positive=(1,), protected=("g",))
    curves = threshold_curves(df, spec)
    pruned = optimize(curves, constraint="equalized_odds", tolerance=tolerance)

    def every_pair(groups, tprs, fprs, tol):
        l1, l2 = (a.ravel() for a in np.meshgrid(tprs, fprs, indexing="ij"))
        return l1, l2, l1.size

    monkeypatch.setattr(optimizer, "_floor_pairs", every_pair)
    full = optimize(curves, constraint="equalized_odds", tolerance=tolerance)
    assert pruned.exact and full.exact and pruned.feasible == full.feasible
    assert pruned.objective_value == pytest.approx(full.objective_value, abs=1e-12)
    assert pruned.achieved <= tolerance + TOL


def test_exact_equalized_odds_is_searched_exactly_on_the_loan_sample(loan_curves):
    result = optimize(loan_curves, constraint="equalized_odds", tolerance=0.0)
    assert result.exact and result.feasible and result.reason is None
    assert result.achieved == pytest.approx(0.0, abs=1e-12)


def test_merged_spelling_variants_give_the_curves_of_the_table_fixed_by_hand(loans):
    from dataclasses import replace

    messy = loans.copy()
    ethnicity = messy["ethnicity"].astype(object).to_numpy(copy=True)
    ethnicity[::7] = np.char.lower(ethnicity[::7].astype(str)).astype(object)  # 'a', 'b', ... a seventh of rows
    messy["ethnicity"] = ethnicity
    approved = messy["approved"].astype(object).to_numpy(copy=True)
    approved[1::9] = [f"{v}\u200b" for v in approved[1::9]]
    messy["approved"] = approved
    clean = threshold_curves(loans, LOAN_SPEC)
    apart = threshold_curves(messy, LOAN_SPEC)
    assert set(apart.labels) == {"A", "B", "C", "D", "a", "b", "c", "d"}
    merged = threshold_curves(messy, replace(LOAN_SPEC, merge_variants=True))
    assert merged.labels == clean.labels
    for name in ("scores", "offsets", "cum_label_pos", "cum_label_neg", "cum_current_pos", "cum_current_neg"):
        assert np.array_equal(getattr(merged, name), getattr(clean, name)), name
    thresholds = {"A": 0.55, "B": 0.42, "C": 0.45, "D": 0.5}
    assert what_if(merged, thresholds).to_dict() == what_if(clean, thresholds).to_dict()
