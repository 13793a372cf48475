"""The weighted audit core: a table's distinct combinations with their counts audit exactly like its rows.

The key property: ``audit(compress(df, spec), spec)`` gives the JSON of ``audit(df, spec)`` (apart from
``created_at``): every count equal, every float within 1e-12, every sentence the same. Then the weighted
building blocks against their expanded definitions: quantile edges against ``np.quantile`` of the repeated
values, AUC against the expanded rows and scikit-learn, calibration deciles against the expanded scores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import AuditSpec, SpecError, load_table
from analysis import stats as stats_module
from analysis.audit import AuditResult, audit
from analysis.counts import Grouping, count_groups, count_values, outcomes, scored_rows
from analysis.engine import CountedTable, ScoreResolution, compress
from analysis.groups import encode_groups, quantile_edges
from analysis.stats import auc_by_group, rank_scores, repeated_quantile
from analysis.validation import run_checks, validate_spec
from tests.helpers_json import assert_same_json, json_differences, without

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"
HASH = "0" * 64


def generated(seed: int, rows: int = 6000) -> pd.DataFrame:
    """Rows with missing values in every role, a literal '(missing)', spelling variants, tied scores, a rare group."""
    rng = np.random.default_rng(seed)

    def text(values, p, missing):
        out = rng.choice(np.array(values, dtype=object), size=rows, p=p)
        out[rng.random(rows) < missing] = None
        return pd.array(out, dtype="str")

    def number(values, missing):
        out = rng.choice(np.array(values, dtype=float), size=rows)
        out[rng.random(rows) < missing] = np.nan
        return out

    group = text(["A", "B", "C", "c", "(missing)", "D"], [0.4, 0.3, 0.15, 0.095, 0.05, 0.005], 0.05)
    bias = np.where(pd.Series(group).isin(["B", "C"]).to_numpy(), -0.15, 0.0)
    score = np.clip(np.round((rng.random(rows) * 0.8 + 0.1 + bias) * 10) / 10, 0, 1)  # few values: many ties
    score[rng.random(rows) < 0.05] = np.nan
    outcome = (rng.random(rows) < 0.3 + score / 3).astype(float)
    outcome[rng.random(rows) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "group": group,
            "gender": text(["F", "M", "X"], [0.48, 0.48, 0.04], 0.03),
            "age": number(range(20, 70, 5), 0.04),
            "income": number([15, 25, 40, 55, 70, 90], 0.04),
            "level": text(["Low", "Medium", "High", "high"], [0.5, 0.3, 0.15, 0.05], 0.04),
            "approved": text(["Y", "N", "y"], [0.5, 0.45, 0.05], 0.04),
            "outcome": outcome,
            "score": score,
            "note": pd.array(rng.choice(np.array(["x", "y", "z"], dtype=object), rows), dtype="str"),
        }
    )


SPECS = {
    "ordered levels, score, intersection": {
        "decision": "level",
        "positive": ["High"],
        "decision_order": ["Low", "Medium", "High", "high"],
        "label": "outcome",
        "label_positive": [1],
        "score": "score",
        "protected": ["group", "gender"],
        "intersections": [["group", "gender"]],
        "min_group_size": 100,
    },
    "merged variants, bins and quantiles": {
        "decision": "approved",
        "positive": ["Y"],
        "merge_variants": True,
        "label": "outcome",
        "label_positive": [1],
        "score": "score",
        "protected": [
            {"column": "group", "reference": "C"},
            {"column": "age", "quantiles": 4},
            {"column": "income", "bins": [30, 60]},
        ],
        "intersections": [["group", "age"]],
    },
    "decisions by a threshold on the score": {
        "score": "score",
        "threshold": 0.5,
        "label": "outcome",
        "label_positive": [1],
        "protected": [{"column": "group", "reference": "A"}, {"column": "age", "quantiles": 3}, "gender"],
    },
    "variants unmerged, no label, a feature not counted": {
        "decision": "approved",
        "positive": ["Y"],
        "protected": ["group", "gender", {"column": "income", "quantiles": 5}],
        "features": ["note", "age"],
    },
}


def same_audit(df: pd.DataFrame, spec: AuditSpec) -> tuple[dict, dict]:
    expanded = audit(df, spec, dataset_sha256=HASH).to_dict()
    counted = audit(compress(df, spec), spec, dataset_sha256=HASH).to_dict()
    return without(expanded, ["created_at"]), without(counted, ["created_at"])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", list(SPECS))
def test_a_counted_table_audits_exactly_like_its_rows(seed, name):
    df, spec = generated(seed), AuditSpec.from_dict(SPECS[name])
    table = compress(df, spec)
    assert len(table.frame) < len(df) and table.weights.sum() == len(df)  # the rows really are counted
    expanded, counted = same_audit(df, spec)
    assert_same_json(expanded, counted)
    assert counted["engine"] == "pandas" and counted["dataset"]["rows"] == len(df)


def test_the_comparison_sees_weights_that_are_ignored():
    df, spec = generated(0), AuditSpec.from_dict(SPECS["ordered levels, score, intersection"])
    table = compress(df, spec)
    unweighted = CountedTable(table.frame, None, len(table.frame), table.columns)
    expanded = audit(df, spec, dataset_sha256=HASH).to_dict()
    wrong = audit(unweighted, spec, dataset_sha256=HASH).to_dict()
    differences = json_differences(without(expanded, ["created_at"]), without(wrong, ["created_at"]))
    assert any(".groups.A.n:" in d for d in differences)
    assert wrong["dataset"]["rows_audited"] < expanded["dataset"]["rows_audited"]


def test_the_sorted_auc_path_gives_the_same_audit(monkeypatch):
    df, spec = generated(3), AuditSpec.from_dict(SPECS["ordered levels, score, intersection"])
    dense = same_audit(df, spec)[1]
    monkeypatch.setattr(stats_module, "DENSE_AUC_CELLS", 0)
    expanded, counted = same_audit(df, spec)
    assert_same_json(expanded, counted)
    assert_same_json(dense, counted)


def test_the_counts_are_int64_and_the_messages_state_source_rows():
    df, spec = generated(4), AuditSpec.from_dict(SPECS["ordered levels, score, intersection"])
    table = compress(df, spec)
    state = outcomes(table.frame, spec, weights=table.weights)
    groups = Grouping.from_codes(encode_groups(table.frame["group"], weights=table.weights))
    counts = count_groups(groups, state)
    assert counts.n.dtype == np.int64 and counts.tp.dtype == np.int64
    decided = df["level"].notna()
    sizes = dict(zip(groups.labels, counts.n.tolist(), strict=True))
    assert sizes["A"] == (decided & (df["group"] == "A")).sum()
    assert sizes["(missing)"] == (decided & df["group"].isna()).sum()
    assert sizes["(missing) [value]"] == (decided & (df["group"] == "(missing)")).sum()
    result = audit(table, spec)
    missing = int(df["level"].isna().sum())
    assert f"Column 'level' has {missing:,} missing values ({missing / len(df):.1%} of rows)" in " ".join(
        map(str, result.warnings)
    )
    assert result.left_out[0]["rows"] == missing


# --- validation -------------------------------------------------------------------------------

BAD_SPECS = {
    "too many levels (a numeric remedy)": {
        "decision": "approved",
        "positive": ["Y"],
        "protected": ["age"],
        "max_levels": 5,
    },
    "a positive spelled otherwise, a missing reference": {
        "decision": "approved",
        "positive": ["yes"],
        "protected": [{"column": "group", "reference": "E"}],
    },
    "no positive values: the example is the most frequent": {"decision": "approved", "protected": ["gender"]},
    "an incomplete order, an unknown feature": {
        "decision": "level",
        "positive": ["High"],
        "decision_order": ["Low", "High"],
        "protected": ["group"],
        "features": ["note", "nope"],
        "id_columns": ["note"],
    },
    "a threshold outside the scores": {
        "score": "score",
        "threshold": 2.0,
        "protected": ["group", {"column": "income", "quantiles": 4}],
    },
}


@pytest.mark.parametrize("name", [*SPECS, *BAD_SPECS])
def test_validation_of_a_counted_table_equals_the_rows(name):
    df, spec = generated(5), AuditSpec.from_dict({**SPECS, **BAD_SPECS}[name])
    table = compress(df, spec)
    expanded = validate_spec(df, spec, dataset_sha256=HASH)
    counted = validate_spec(table.frame, spec, dataset_sha256=HASH, weights=table.weights, columns=table.columns)
    assert_same_json(expanded.to_dict(), counted.to_dict())
    assert expanded.problems, "each case is there for its problems"


def test_a_counted_table_is_validated_with_its_weights_columns_and_edges():
    df, spec = generated(5), AuditSpec.from_dict(BAD_SPECS["an incomplete order, an unknown feature"])
    table = compress(df, spec)
    assert_same_json(validate_spec(table, spec).to_dict(), validate_spec(df, spec).to_dict())
    binned = AuditSpec(decision="approved", positive=["Y"], protected=[{"column": "income", "quantiles": 3}])
    table = compress(df, binned)
    table = CountedTable(table.frame, table.weights, table.rows, table.columns, edges={"income": (20.0, 50.0)})
    assert list(validate_spec(table, binned).group_sizes["income"]) == ["<20", "20–50", "≥50", "(missing)"]


def test_the_too_many_levels_remedy_has_the_weighted_quartiles():
    df, spec = generated(6), AuditSpec.from_dict(BAD_SPECS["too many levels (a numeric remedy)"])
    table = compress(df, spec)
    counted = validate_spec(table.frame, spec, weights=table.weights, columns=table.columns)
    (problem,) = [p for p in counted.errors if p.remedy is not None and p.remedy.option == "bins"]
    assert list(problem.remedy.value) == [int(e) for e in np.unique(np.quantile(df["age"].dropna(), [0.25, 0.5, 0.75]))]


def test_a_feature_not_counted_is_checked_for_existence_only():
    df = generated(7)
    df["constant"] = pd.array(["k"] * len(df), dtype="str")
    spec = AuditSpec(decision="approved", positive=["Y"], protected=["group"], features=["constant", "absent"])
    table = compress(df, spec)
    expanded = {(p.field, p.column) for p in validate_spec(df, spec).problems}
    counted = {
        (p.field, p.column)
        for p in validate_spec(table.frame, spec, weights=table.weights, columns=table.columns).problems
    }
    assert ("features", "constant") in expanded  # its single value is read from the rows
    assert counted == expanded - {("features", "constant")}
    assert ("features", "absent") in counted


def test_engine_edges_replace_the_quantiles_of_the_frame():
    df = generated(8)
    spec = AuditSpec(decision="approved", positive=["Y"], protected=[{"column": "income", "quantiles": 3}])
    table = compress(df, spec)
    checked = run_checks(table.frame, spec, weights=table.weights, edges={"income": (30.0, 60.0)})
    assert checked.encoded["income"].edges == (30.0, 60.0)
    assert checked.encoded["income"].labels == ("<30", "30–60", "≥60", "(missing)")
    plain = encode_groups(table.frame["income"], quantiles=3, weights=table.weights)
    assert plain.edges == quantile_edges(df["income"], 3)


def test_weights_must_match_the_rows():
    df = generated(9, rows=50)
    spec = AuditSpec(decision="approved", positive=["Y"], protected=["group"])
    with pytest.raises(ValueError, match="one weight per row of the table \\(50\\), got 3"):
        validate_spec(df, spec, weights=np.array([1, 2, 3]))


# --- the building blocks ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_weighted_quantile_edges_equal_numpy_on_the_repeated_values(seed):
    rng = np.random.default_rng(seed)
    values = np.round(rng.normal(50, 20, rng.integers(1, 40)), int(rng.integers(0, 3)))
    weights = rng.integers(1, 50, values.size)
    q = np.r_[np.linspace(0, 1, 11), rng.random(20)]
    expected = np.quantile(np.repeat(values, weights), q)
    np.testing.assert_allclose(repeated_quantile(values, weights, q), expected, rtol=1e-12, atol=0)
    assert np.array_equal(repeated_quantile(values, weights, q), expected)  # numpy's formula, step for step
    for k in (2, 3, 4, 5, 10):
        series = pd.Series(np.r_[values, np.nan])
        with_missing = np.r_[weights, 7]
        assert quantile_edges(series, k, with_missing) == quantile_edges(pd.Series(np.repeat(values, weights)), k)


def test_a_zero_weight_stands_for_no_row():
    assert repeated_quantile(np.array([1.0, 5.0, 9.0]), np.array([2, 0, 2]), np.array([0.5])).tolist() == [5.0]
    assert quantile_edges(pd.Series([1.0, 5.0, 9.0]), 2, np.array([2, 0, 2])) == (5.0,)
    assert quantile_edges(pd.Series([1.0, 5.0, 9.0]), 2, np.array([1, 9, 0])) == (5.0,)


def expanded_scores(seed: int, groups: int = 4):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 300))
    scores = np.round(rng.random(n), 1)  # ties
    positive = rng.random(n) < 0.3 + scores / 2
    codes = rng.integers(0, groups, n)
    weights = rng.integers(1, 6, n)
    return codes, scores, positive, weights


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_weighted_auc_equals_the_expanded_rows_and_scikit_learn(seed, dense, monkeypatch):
    from sklearn.metrics import roc_auc_score

    if not dense:
        monkeypatch.setattr(stats_module, "DENSE_AUC_CELLS", 0)
    codes, scores, positive, weights = expanded_scores(seed)
    weighted = auc_by_group(codes, scores, positive, 4, weights=weights)
    repeat = [np.repeat(a, weights) for a in (codes, scores, positive)]
    expanded = auc_by_group(*repeat, 4)
    for got, want in zip(weighted, expanded, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert weighted[1].dtype == np.int64 and weighted[2].dtype == np.int64
    for g in range(4):
        in_group = codes == g
        truth = roc_auc_score(positive[in_group], scores[in_group], sample_weight=weights[in_group])
        assert abs(weighted[0][g] - truth) < 1e-12
    ranks = rank_scores(scores, positive, weights)
    assert np.array_equal(auc_by_group(codes, None, None, 4, ranks=ranks)[0], weighted[0], equal_nan=True)


@pytest.mark.parametrize("seed", range(6))
def test_weighted_deciles_equal_the_expanded_scores(seed):
    _, scores, positive, weights = expanded_scores(seed)
    scores = np.where(
        np.random.default_rng(seed).random(scores.size) < 0.1, np.nan, scores + np.arange(scores.size) % 3 / 100
    )
    state = outcomes_of(positive)
    weighted = scored_rows(scores, state, weights=weights)
    expanded = scored_rows(np.repeat(scores, weights), outcomes_of(np.repeat(positive, weights)))
    assert weighted.edges == expanded.edges
    assert weighted.total == expanded.size and weighted.size < expanded.size
    # each score falls in the bin its repeated copies fall in
    assert dict(zip(weighted.scores.tolist(), weighted.bins.tolist(), strict=True)) == dict(
        zip(expanded.scores.tolist(), expanded.bins.tolist(), strict=True)
    )
    by_bin = np.bincount(weighted.bins, weights=weighted.weights, minlength=weighted.n_bins)
    assert by_bin.tolist() == np.bincount(expanded.bins, minlength=expanded.n_bins).tolist()


def outcomes_of(positive: np.ndarray):
    from analysis.counts import Outcomes

    return Outcomes.from_masks(positive.copy(), label_positive=positive.copy())


def test_count_values_sums_weights():
    grouping = Grouping.from_codes(encode_groups(pd.Series(["a", "b", "a", "b"], name="g")))
    table = count_values(grouping, np.array([0, 1, -1, 1]), 2, np.array([3, 4, 5, 6]))
    assert table.dtype == np.int64 and table.tolist() == [[3, 0], [0, 10]]


# --- the result records -------------------------------------------------------------------------


def test_a_counted_table_records_its_engine_name_hash_and_resolution():
    df, spec = generated(10), AuditSpec.from_dict(SPECS["decisions by a threshold on the score"])
    base = compress(df, spec)
    resolution = ScoreResolution(123_456, 0.001, 0.5)
    table = CountedTable(
        base.frame, base.weights, base.rows, base.columns, engine="duckdb", sha256="ab" * 32, name="t.parquet",
        scores=resolution,
    )  # fmt: skip
    result = audit(table, spec)
    data = result.to_dict()
    assert data["engine"] == "duckdb" and list(data)[:4] == ["schema_version", "created_at", "versions", "engine"]
    assert data["dataset"]["name"] == "t.parquet" and data["dataset"]["sha256"] == "ab" * 32
    assert data["dataset"]["score_resolution"] == {"distinct": 123_456, "step": 0.001, "anchor": 0.5, "exact": False}
    assert AuditResult.from_json(result.to_json()).to_dict() == data
    named = audit(table, spec, dataset_name="other", dataset_sha256="cd" * 32).to_dict()["dataset"]
    assert named["name"] == "other" and named["sha256"] == "cd" * 32
    exact = CountedTable(base.frame, base.weights, base.rows, base.columns, scores=ScoreResolution(11))
    assert audit(exact, spec).to_dict()["dataset"]["score_resolution"] is None


def test_an_old_result_without_engine_or_resolution_reads_as_pandas_and_exact():
    df, spec = generated(11, rows=400), AuditSpec.from_dict(SPECS["variants unmerged, no label, a feature not counted"])
    data = audit(df, spec).to_dict()
    del data["engine"], data["dataset"]["score_resolution"]
    old = AuditResult.from_dict(data)
    assert old.engine == "pandas" and old.dataset.score_resolution is None
    assert AuditResult.from_dict(old.to_dict()).to_dict() == old.to_dict()


def test_a_damaged_resolution_is_named():
    df, spec = generated(12, rows=400), AuditSpec.from_dict(SPECS["variants unmerged, no label, a feature not counted"])
    data = audit(df, spec).to_dict()
    data["dataset"]["score_resolution"] = {"distinct": -1}
    with pytest.raises(Exception, match=r"dataset\.score_resolution\.distinct"):
        AuditResult.from_dict(data)


# --- the bundled samples --------------------------------------------------------------------------

LOAN_SPEC = {
    "decision": "approved",
    "positive": ["Y"],
    "label": "repaid",
    "label_positive": [1],
    "score": "model_score",
    "protected": ["ethnicity", {"column": "gender", "reference": "Male"}, {"column": "age", "bins": [25, 40, 60]}],
}
TICKET_SPEC = {
    "decision": "ai_priority",
    "positive": ["P1", "P2"],
    "label": "true_urgency",
    "label_positive": ["P1", "P2"],
    "score": "priority_score",
    "protected": [{"column": "customer_language", "reference": "English"}, "gender", "age_band"],
}


@pytest.mark.parametrize(
    ("file", "spec"),
    [
        ("loan_approvals.csv", LOAN_SPEC),
        (
            "loan_approvals.csv",
            {**LOAN_SPEC, "protected": ["ethnicity", {"column": "income", "quantiles": 4}, "region"]},
        ),
        ("support_tickets.csv", TICKET_SPEC),
    ],
)
def test_the_samples_counted_give_the_same_audit(file, spec):
    loaded = load_table(SAMPLE_DIR / file)
    spec = AuditSpec.from_dict(spec)
    df = loaded.data
    expanded = audit(df, spec, dataset_name=file, dataset_sha256=loaded.report.sha256, load_report=loaded.report)
    table = compress(df, spec)
    counted = audit(table, spec, dataset_name=file, dataset_sha256=loaded.report.sha256, load_report=loaded.report)
    assert_same_json(without(expanded.to_dict(), ["created_at"]), without(counted.to_dict(), ["created_at"]))
    assert len(table.frame) < len(df)


# --- small tables, every corner ----------------------------------------------------------------------

ROW = st.tuples(
    st.sampled_from(["Y", "N", "y", None]),
    st.sampled_from([0.0, 1.0, None]),
    st.sampled_from([0.1, 0.5, 0.9, None]),
    st.sampled_from(["a", "b", "A", "(missing)", None]),
    st.sampled_from([21.0, 35.0, 50.0, None]),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(ROW, min_size=1, max_size=40),
    merge=st.booleans(),
    by_score=st.booleans(),
    quantiles=st.sampled_from([None, 2, 3]),
)
def test_small_tables_audit_alike_or_fail_alike(rows, merge, by_score, quantiles):
    df = pd.DataFrame(
        {
            "decision": pd.array([r[0] for r in rows], dtype="str"),
            "label": np.array([np.nan if r[1] is None else r[1] for r in rows]),
            "score": np.array([np.nan if r[2] is None else r[2] for r in rows]),
            "group": pd.array([r[3] for r in rows], dtype="str"),
            "age": np.array([np.nan if r[4] is None else r[4] for r in rows]),
        }
    )
    decision = {"score": "score", "threshold": 0.5} if by_score else {"decision": "decision", "positive": ["Y"]}
    age = {"column": "age", "quantiles": quantiles} if quantiles else {"column": "age", "bins": [30]}
    spec = AuditSpec.from_dict(
        {
            **decision,
            "label": "label",
            "label_positive": [1],
            **({} if by_score else {"score": "score"}),
            "protected": ["group", age],
            "merge_variants": merge,
            "min_group_size": 2,
        }
    )
    outcomes_ = []
    for source in (df, compress(df, spec)):
        try:
            outcomes_.append(without(audit(source, spec, dataset_sha256=HASH).to_dict(), ["created_at"]))
        except SpecError as exc:
            outcomes_.append(str(exc))
    assert_same_json(*outcomes_)
