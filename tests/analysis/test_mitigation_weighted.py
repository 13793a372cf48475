"""Threshold curves, what-if, the starting point, the optimiser and mitigate() on counted rows.

A :class:`analysis.engine.CountedTable` from :func:`analysis.engine.compress` stands for the same rows as
the table it counts, so every answer on it equals the answer on the table: counts exactly, rates to 1e-12,
the same thresholds. A score counted on a grid gives grid-point thresholds whose counts are the raw score's.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from analysis.engine import EXACT_SCORES, CountedTable, ScoreResolution, compress, score_grid
from analysis.errors import SpecError
from analysis.groups import quantile_edges
from analysis.mitigate import mitigate
from analysis.mitigation import compare_mitigations, model_scores
from analysis.optimizer import CONSTRAINTS, LABEL_CONSTRAINTS, OBJECTIVES, frontier, optimize
from analysis.spec import AuditSpec, ProtectedAttribute
from analysis.thresholds import baseline, changed_decisions, reproducing_thresholds, threshold_curves, what_if

GROUPS = ("A", "B", "C", "D", "E")
SHARES = (0.5, 0.28, 0.14, 0.06, 0.02)  # E: about 14 of 700 rows, under min_group_size


def table(seed: int, *, rows: int = 700, decimals: int | None = 2) -> pd.DataFrame:
    """Groups of unequal size (one small), a score with ties, and missing scores, labels and decisions."""
    rng = np.random.default_rng(seed)
    group = rng.choice(GROUPS, rows, p=SHARES)
    score = np.clip(rng.normal(0.5, 0.2, rows) + np.where(group == "A", 0.08, 0.0), 0, 1)
    if decimals is not None:
        score = np.round(score, decimals)  # ties
    score[rng.random(rows) < 0.05] = np.nan
    label = np.where(rng.random(rows) < np.nan_to_num(score, nan=0.5), "good", "bad").astype(object)
    label[rng.random(rows) < 0.05] = None
    cut = np.nan_to_num(score, nan=0.0) >= 0.5
    decision = np.where(rng.random(rows) < 0.8, cut, rng.random(rows) < 0.5)  # not a cut of the score
    decision = np.where(decision, "Y", "N").astype(object)
    decision[rng.random(rows) < 0.04] = None
    age = np.round(18 + rng.gamma(2.0, 8.0, rows))  # skewed: counted rows alone would cut other quantiles
    return pd.DataFrame(
        {
            "decision": pd.array(decision, dtype="str"),
            "label": pd.array(label, dtype="str"),
            "score": score,
            "group": pd.array(group, dtype="str"),
            "age": age,
            "income": rng.normal(50, 10, rows),  # a feature: not counted
        }
    )


BASE = AuditSpec(
    decision="decision",
    positive=("Y",),
    label="label",
    label_positive=("good",),
    score="score",
    protected=(ProtectedAttribute("group"), ProtectedAttribute("age", quantiles=3)),
    features=("income",),
    min_group_size=20,
)
SPECS = {
    "decision": BASE,
    "harmful": replace(BASE, positive_is_favorable=False),
    "score_decision": replace(BASE, decision=None, positive=(), threshold=0.5),
    "no_label": replace(BASE, label=None, label_positive=()),
}


def same(a, b, path: str = "") -> None:
    """Equal JSON-like values: numbers to 1e-12 (relative for large ones), everything else exactly."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), path
        for key in a:
            same(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool) and isinstance(b, (int, float)):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b)), (path, a, b)
    else:
        assert a == b, (path, a, b)


def assert_same_curves(raw, counted) -> None:
    assert counted.weighted and not raw.weighted
    assert counted.labels == raw.labels and counted.left_out == raw.left_out
    assert np.array_equal(counted.sizes, raw.sizes)
    assert set(counted.current) == set(raw.current)
    for name, values in raw.current.items():
        assert np.array_equal(counted.current[name], values), name
    assert np.array_equal(counted.current_selected(), raw.current_selected())
    for g in range(raw.n_groups):
        thresholds, below = raw.candidates(g)
        got_thresholds, got_below = counted.candidates(g)
        assert np.array_equal(got_thresholds, thresholds) and np.array_equal(got_below, below)
        expected, got = raw.counts_at_below(g, below), counted.counts_at_below(g, got_below)
        assert set(got) == set(expected)
        for name in expected:
            assert np.array_equal(got[name], expected[name]), name
    probe = np.linspace(-0.1, 1.1, 37)
    for t in probe:
        assert np.array_equal(counted.below(np.full(raw.n_groups, t)), raw.below(np.full(raw.n_groups, t)))


@pytest.mark.parametrize("kind", list(SPECS))
@pytest.mark.parametrize("attribute", ["group", "age"])
def test_curves_what_if_baseline_and_start_on_counted_rows_equal_those_on_the_table(kind, attribute):
    spec = SPECS[kind]
    df = table(1)
    counted = compress(df, spec)
    assert len(counted.frame) < len(df) and int(counted.weights.sum()) == len(df)
    raw, curves = threshold_curves(df, spec, attribute=attribute), threshold_curves(counted, spec, attribute=attribute)
    assert_same_curves(raw, curves)
    rng = np.random.default_rng(2)
    for _ in range(5):
        thresholds = {g: float(rng.choice(raw.candidates(i)[0])) for i, g in enumerate(raw.labels)}
        same(what_if(curves, thresholds, cost_fp=2.0).to_dict(), what_if(raw, thresholds, cost_fp=2.0).to_dict())
    same(what_if(curves, 0.5).to_dict(), what_if(raw, 0.5).to_dict())
    same(baseline(curves).to_dict(), baseline(raw).to_dict())
    start, expected = reproducing_thresholds(curves), reproducing_thresholds(raw)
    same(start.to_dict(), expected.to_dict())
    same(start.what_if.to_dict(), expected.what_if.to_dict())
    result = what_if(curves, 0.6)
    assert changed_decisions(result, start) == changed_decisions(what_if(raw, 0.6), expected)


def combinations(spec):
    for constraint in CONSTRAINTS:
        for objective in OBJECTIVES:
            labelled = constraint not in LABEL_CONSTRAINTS and objective not in ("accuracy", "cost")
            if spec.label is not None or labelled:
                yield constraint, objective


@pytest.mark.parametrize("kind", list(SPECS))
def test_optimize_on_counted_rows_gives_the_answer_on_the_table(kind):
    spec = SPECS[kind]
    df = table(3)
    raw, curves = threshold_curves(df, spec), threshold_curves(compress(df, spec), spec)
    checked = 0
    for constraint, objective in combinations(spec):
        for tolerance in (0.0, 0.05):
            kwargs = {"constraint": constraint, "objective": objective, "tolerance": tolerance, "cost_fp": 1.5}
            got, expected = optimize(curves, **kwargs), optimize(raw, **kwargs)
            assert got.thresholds == expected.thresholds, (constraint, objective, tolerance)
            same(got.to_dict(), expected.to_dict())
            checked += 1
    assert checked == (40 if spec.label is not None else 8)


@pytest.mark.parametrize("kind", ["decision", "harmful", "no_label"])
def test_frontier_on_counted_rows_is_the_frontier_of_the_table(kind):
    spec = SPECS[kind]
    df = table(4)
    raw, curves = threshold_curves(df, spec), threshold_curves(compress(df, spec), spec)
    for constraint, objective in combinations(spec):
        if objective in ("accuracy", "selection_rate"):
            kwargs = {"constraint": constraint, "objective": objective, "points": 4}
            same(frontier(curves, **kwargs).to_dict(), frontier(raw, **kwargs).to_dict())


def test_the_weights_count_every_row_a_counted_row_stands_for():
    spec = replace(SPECS["decision"], features=None)  # the rows below hold only the counted columns
    counted = compress(table(5), spec)
    frame = counted.frame
    heavy = int(np.flatnonzero(frame["score"].notna() & frame["decision"].notna() & (frame["group"] == "D"))[0])
    weights = counted.weights.copy()
    weights[heavy] = 1000
    heavier = replace(counted, weights=weights, rows=int(weights.sum()))
    rows = frame.loc[frame.index.repeat(weights)].reset_index(drop=True)  # the rows it now stands for
    raw, curves = threshold_curves(rows, spec), threshold_curves(heavier, spec)
    assert_same_curves(raw, curves)
    group = raw.labels.index("D")
    assert curves.sizes[group] == threshold_curves(counted, spec).sizes[group] + 999
    kwargs = {"constraint": "four_fifths", "objective": "changes"}
    same(optimize(curves, **kwargs).to_dict(), optimize(raw, **kwargs).to_dict())
    same(
        mitigate(heavier, spec, goal="four_fifths_fewest").to_dict(),
        mitigate(rows, spec, goal="four_fifths_fewest").to_dict(),
    )


def test_a_counted_table_without_weights_is_the_table():
    spec = SPECS["decision"]
    df = table(6)
    own = CountedTable(df, None, len(df), tuple(df.columns))
    curves = threshold_curves(own, spec)
    assert not curves.weighted
    same(
        optimize(curves, constraint="demographic_parity").to_dict(),
        optimize(threshold_curves(df, spec), constraint="demographic_parity").to_dict(),
    )


MITIGATIONS = [
    {},
    {"goal": "nothing"},
    {"goal": "keep_count"},
    {"thresholds": 0.55},
    {"constraint": "equal_opportunity", "objective": "cost", "cost_fp": 2.0},
]


@pytest.mark.parametrize("kwargs", MITIGATIONS)
def test_mitigate_on_counted_rows_writes_the_json_of_the_table(kwargs):
    spec = SPECS["decision"]
    df = table(7)
    got, expected = mitigate(compress(df, spec), spec, **kwargs).to_dict(), mitigate(df, spec, **kwargs).to_dict()
    same(got, expected)
    assert got["scores"]["exact"] is True and got["dataset"]["rows"] == len(df)
    assert got["scores"]["distinct"] == df["score"].nunique()


@pytest.mark.parametrize(
    "kind, kwargs",
    [
        ("harmful", {"goal": "four_fifths_fewest"}),
        ("score_decision", {"goal": "keep_count", "attribute": "age"}),  # new decision column; quantile bins
        ("no_label", {"constraint": "demographic_parity", "objective": "changes", "attribute": "age"}),
    ],
)
def test_mitigate_on_counted_rows_for_every_kind_of_decision(kind, kwargs):
    spec = SPECS[kind]
    df = table(12)
    same(mitigate(compress(df, spec), spec, **kwargs).to_dict(), mitigate(df, spec, **kwargs).to_dict())


def grid_counts(df: pd.DataFrame, spec: AuditSpec, thresholds: dict[str, float]) -> dict[str, dict[str, int]]:
    """Per group, the counts of decisions taken on the raw score with the given thresholds."""
    raw = df["score"].to_numpy(dtype=float)
    out = {}
    for group, t in thresholds.items():
        rows = (df["group"] == group).to_numpy() & np.isfinite(raw)
        chosen = raw[rows] >= t
        good = (df["label"] == "good").to_numpy()[rows]
        known = df["label"].notna().to_numpy()[rows]
        out[group] = {
            "n": int(rows.sum()),
            "positives": int(chosen.sum()),
            "tp": int((chosen & good & known).sum()),
            "fp": int((chosen & ~good & known).sum()),
            "fn": int((~chosen & good & known).sum()),
            "tn": int((~chosen & ~good & known).sum()),
        }
    return out


def on_grid(t: float, resolution: ScoreResolution) -> bool:
    k = (t - resolution.anchor) / resolution.step
    return abs(k - round(k)) < 1e-6


@pytest.mark.parametrize(
    "kind, resolution",
    [
        ("score_decision", ScoreResolution(700, 0.05, 0.5)),
        ("decision", ScoreResolution(700, 0.03, 0.0)),
        ("score_decision", score_grid(EXACT_SCORES + 1, 0.0, 1.0, 0.5)),
    ],
)
def test_on_a_score_grid_thresholds_are_grid_points_whose_counts_are_the_raw_scores(kind, resolution):
    spec = SPECS[kind]
    df = table(8, decimals=None)  # every score distinct
    counted = compress(df, spec, scores=resolution)
    curves = threshold_curves(counted, spec)
    assert curves.grid and (len(counted.frame) < len(df) or resolution.step < 1e-4)
    answers = [optimize(curves, constraint=c, objective=o) for c, o in combinations(spec)]
    start = reproducing_thresholds(curves)
    for found, result in [(a.thresholds, a.what_if) for a in answers] + [(start.thresholds, start.what_if)]:
        assert all(on_grid(t, resolution) for t in found.values()), found
        expected = grid_counts(df, spec, found)
        for group, counts in expected.items():
            assert {k: result.groups[group].counts[k] for k in counts} == counts, group
    if kind == "score_decision":  # decisions taken by the spec's threshold are exact on the grid
        same(baseline(curves).to_dict(), baseline(threshold_curves(df, spec)).to_dict())
    record = mitigate(counted, spec, goal="four_fifths_fewest").to_dict()
    assert record["scores"] == resolution.to_dict() | {"note": record["scores"]["note"]}
    assert record["scores"]["exact"] is False and "grid point" in record["scores"]["note"]
    assert all(on_grid(t, resolution) for t in record["thresholds"]["group"].values())


def test_the_top_candidate_on_a_grid_is_the_next_grid_point():
    spec = SPECS["score_decision"]
    resolution = ScoreResolution(700, 0.05, 0.5)
    curves = threshold_curves(compress(table(9, decimals=None), spec, scores=resolution), spec)
    for g in range(curves.n_groups):
        thresholds, below = curves.candidates(g)
        top = curves.scores[curves.offsets[g + 1] - 1]
        assert thresholds[-1] == pytest.approx(top + 0.05, abs=1e-12) and below[-1] == curves.sizes[g]


def test_counted_rows_without_a_score_or_for_retraining_need_a_sample():
    spec = replace(SPECS["decision"], score=None)
    df = table(10)
    counted = compress(df, spec)
    with pytest.raises(SpecError, match=r"mitigate\(\) on counted rows \(700 source rows .*sample"):
        mitigate(counted, spec)
    with pytest.raises(SpecError, match=r"model_scores\(\) cannot train a model score on counted rows"):
        model_scores(counted, spec)
    with pytest.raises(SpecError, match=r"compare_mitigations\(\) cannot retrain models .*sample"):
        compare_mitigations(compress(df, SPECS["decision"]), SPECS["decision"])


@pytest.mark.slow
def test_a_model_score_for_counted_rows_is_trained_on_the_sample_given():
    spec = replace(SPECS["decision"], score=None)
    df = table(11, rows=400)
    counted = replace(compress(df, spec), name="loans.parquet")
    sample = df.iloc[::2].reset_index(drop=True)
    got = mitigate(counted, spec, sample=sample, goal="four_fifths_fewest").to_dict()
    expected = mitigate(sample, spec, goal="four_fifths_fewest", dataset_name="loans.parquet").to_dict()
    note = got["model_score"]["notes"][0]
    assert note == (
        "The model score was trained on a stratified sample of 200 rows (of 400 source rows); the thresholds "
        "were found and measured on that sample."
    )
    assert got["model_score"]["notes"][1:] == expected["model_score"]["notes"]
    got["model_score"]["notes"] = expected["model_score"]["notes"]
    same(got, expected)
    assert got["dataset"] == {"name": "loans.parquet", "rows": 200, "sha256": None}


def test_quantile_bins_of_counted_rows_are_cut_where_the_source_rows_cut_them():
    spec = replace(SPECS["decision"], features=None)
    df = table(13, rows=2000, decimals=1)
    rng = np.random.default_rng(13)
    df["age"] = rng.choice([20.0, 30.0, 40.0, 50.0, 60.0], len(df), p=[0.6, 0.25, 0.1, 0.04, 0.01])
    counted = compress(df, spec)
    assert quantile_edges(counted.frame["age"], 3) != quantile_edges(df["age"], 3)  # the frame alone cuts elsewhere
    raw, curves = threshold_curves(df, spec, attribute="age"), threshold_curves(counted, spec, attribute="age")
    assert_same_curves(raw, curves)
    kwargs = {"goal": "four_fifths_fewest", "attribute": "age"}
    same(mitigate(counted, spec, **kwargs).to_dict(), mitigate(df, spec, **kwargs).to_dict())
