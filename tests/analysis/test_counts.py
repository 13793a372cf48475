import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import AuditSpec, encode_groups
from analysis.counts import (
    Grouping,
    Outcomes,
    count_groups,
    count_scores,
    count_values,
    intersect,
    outcomes,
    scored_rows,
)


def grouping(series: pd.Series, **kwargs) -> Grouping:
    return Grouping.from_codes(encode_groups(series, **kwargs))


def frame(seed: int = 0, n: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "group": rng.choice(["a", "b", "c"], n),
            "sex": rng.choice(["F", "M"], n),
            "decision": rng.choice(["Y", "N"], n),
            "label": rng.choice(["good", "bad"], n),
            "score": rng.random(n).round(3),
        }
    )
    df.loc[rng.random(n) < 0.05, "decision"] = None
    df.loc[rng.random(n) < 0.05, "label"] = None
    df.loc[rng.random(n) < 0.03, "group"] = None
    return df


SPEC = AuditSpec(decision="decision", positive=["Y"], label="label", label_positive=["good"], protected=["group"])


def expected_counts(df: pd.DataFrame, spec: AuditSpec, key: pd.Series) -> pd.DataFrame:
    """The same counts by a pandas groupby, independently."""
    decided = df[spec.decision].notna()
    positive = df[spec.decision].isin(spec.positive)
    labeled = decided & df[spec.label].notna()
    y = df[spec.label].isin(spec.label_positive)
    parts = {
        "n": decided,
        "positives": decided & positive,
        "tp": labeled & positive & y,
        "fp": labeled & positive & ~y,
        "tn": labeled & ~positive & ~y,
        "fn": labeled & ~positive & y,
        "label_missing": decided & df[spec.label].isna(),
        "decision_missing": ~decided,
    }
    return pd.DataFrame(parts).groupby(key.fillna("(missing)").to_numpy()).sum()


def test_counts_equal_a_pandas_groupby_with_missing_decisions_labels_and_groups():
    df = frame()
    g = grouping(df["group"])
    counts = count_groups(g, outcomes(df, SPEC))
    expected = expected_counts(df, SPEC, df["group"]).loc[list(g.labels)]
    for name in expected.columns:
        assert getattr(counts, name).tolist() == expected[name].tolist(), name
    assert g.labels == ("a", "b", "c", "(missing)")
    assert counts.n.sum() + counts.decision_missing.sum() == len(df)
    assert (counts.labeled + counts.label_missing == counts.n).all()
    assert counts.left_out() == {
        "no decision: left out of the audit": int(df["decision"].isna().sum()),
        "no label: left out of the error-rate metrics (in the selection rates)": int(
            (df["decision"].notna() & df["label"].isna()).sum()
        ),
    }


def test_one_bincount_cell_layout_without_a_label():
    df = frame()
    spec = AuditSpec(decision="decision", positive=["Y"], protected=["group"])
    state = outcomes(df, spec)
    assert state.cells == 3 and not state.has_label
    counts = count_groups(grouping(df["group"]), state)
    assert counts.tp is None and not counts.has_label
    expected = df.assign(d=df["decision"].eq("Y")).groupby(df["group"].fillna("(missing)"))["d"].sum()
    assert counts.positives.tolist() == expected.loc[["a", "b", "c", "(missing)"]].tolist()
    assert set(counts.to_dict()) == {"n", "positives", "decision_missing"}


def test_score_and_threshold_make_the_decision_when_there_is_no_decision_column():
    df = pd.DataFrame({"score": [0.1, 0.5, 0.7, np.nan, 0.49], "g": ["a", "a", "b", "b", "b"]})
    spec = AuditSpec(score="score", threshold=0.5, protected=["g"])
    state = outcomes(df, spec)
    assert state.positive.tolist() == [False, True, True, False, False]
    assert state.decided.tolist() == [True, True, True, False, True]
    counts = count_groups(grouping(df["g"]), state)
    assert counts.n.tolist() == [2, 2] and counts.positives.tolist() == [1, 1]
    assert counts.decision_missing.tolist() == [0, 1]


def test_string_labels_and_numeric_positive_values_use_the_spec_values():
    df = pd.DataFrame({"d": ["Approved", "Denied", "Approved"], "y": [1.0, 0.0, 0.0], "g": ["x", "x", "y"]})
    spec = AuditSpec(decision="d", positive=["Approved"], label="y", label_positive=[1], protected=["g"])
    counts = count_groups(grouping(df["g"]), outcomes(df, spec))
    assert counts.tp.tolist() == [1, 0] and counts.tn.tolist() == [1, 0] and counts.fp.tolist() == [0, 1]


def test_intersect_combines_codes_arithmetically_and_drops_empty_cells():
    df = pd.DataFrame({"a": ["x", "x", "y", "y", "z"], "b": ["1", "2", "1", "1", "2"]})
    crossed = intersect([grouping(df["a"]), grouping(df["b"])])
    assert crossed.name == "a × b" and crossed.columns == ("a", "b")
    assert crossed.labels == ("x × 1", "x × 2", "y × 1", "z × 2")  # y × 2 and z × 1 have no rows
    assert crossed.values[3] == ("z", "2")
    assert crossed.codes.tolist() == [0, 1, 2, 2, 3]


def test_intersect_of_three_attributes_matches_groupby_ngroup():
    df = frame(1)
    parts = [grouping(df["group"]), grouping(df["sex"]), grouping(df["decision"])]
    crossed = intersect(parts)
    keys = [df[c].fillna("(missing)") for c in ("group", "sex", "decision")]
    expected = pd.Series(0, index=df.index).groupby(keys).ngroup()
    # Both number the non-empty cells in sorted order of their parts' codes.
    labels = sorted(set(zip(*[k.tolist() for k in keys], strict=True)), key=lambda t: tuple(t))
    assert len(crossed.labels) == len(labels)
    by_label = {label: i for i, label in enumerate(crossed.labels)}
    ours = [by_label[" × ".join(t)] for t in zip(*[k.tolist() for k in keys], strict=True)]
    # A bijection between our cells and pandas' groups.
    assert pd.Series(ours).groupby(expected.to_numpy()).nunique().eq(1).all()
    assert pd.Series(expected.to_numpy()).groupby(np.array(ours)).nunique().eq(1).all()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["p", "q", "r", None]),
            st.sampled_from(["Y", "N", None]),
            st.sampled_from(["good", "bad", None]),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_counts_equal_groupby_on_generated_tables(rows):
    df = pd.DataFrame(rows, columns=["group", "decision", "label"], dtype=object)
    g = grouping(df["group"])
    counts = count_groups(g, outcomes(df, SPEC))
    expected = expected_counts(df, SPEC, df["group"]).reindex(list(g.labels))
    for name in expected.columns:
        assert getattr(counts, name).tolist() == expected[name].tolist(), name


def test_count_values_is_a_crosstab():
    df = frame(2)
    g = grouping(df["group"])
    values = encode_groups(df["label"])
    codes = np.where(values.codes < 2, values.codes, -1)  # leave out the missing label
    table = count_values(g, codes, 2)
    expected = pd.crosstab(df["group"].fillna("(missing)"), df["label"]).loc[list(g.labels), ["bad", "good"]]
    assert table.tolist() == expected.to_numpy().tolist()


def test_outcomes_reject_masks_of_the_wrong_shape():
    with pytest.raises(ValueError, match="Expected a boolean mask with one value per row"):
        Outcomes.from_masks(np.ones(3, bool), decided=np.ones(4, bool))


def test_scored_rows_deciles_equal_numpy_quantile_and_score_sums_equal_groupby():
    df = frame(3)
    spec = AuditSpec(
        decision="decision", positive=["Y"], label="label", label_positive=["good"], score="score", protected=["group"]
    )
    state = outcomes(df, spec)
    scored = scored_rows(df["score"].to_numpy(dtype=float), state)
    kept = df[state.labeled]
    assert scored.size == len(kept)
    np.testing.assert_allclose(scored.edges, np.unique(np.quantile(kept["score"], np.linspace(0, 1, 11))), atol=1e-15)
    g = grouping(df["group"])
    sums = count_scores(g, scored)
    y = kept["label"].eq("good").astype(float)
    key = kept["group"].fillna("(missing)")
    expected = pd.DataFrame({"n": 1, "y": y, "se": (kept["score"] - y) ** 2}).groupby(key).sum().loc[list(g.labels)]
    assert sums.n.tolist() == expected["n"].tolist()
    assert sums.positives.tolist() == expected["y"].tolist()
    np.testing.assert_allclose(sums.squared_error, expected["se"], rtol=1e-12)
    bins = np.clip(np.searchsorted(scored.edges, kept["score"], side="right") - 1, 0, len(scored.edges) - 2)
    by_bin = pd.crosstab(key, bins).loc[list(g.labels)]
    assert sums.bin_n.tolist() == by_bin.to_numpy().tolist()
    assert sums.bin_n.sum() == scored.size and scored.is_probability


def test_a_constant_score_makes_one_calibration_bin():
    df = pd.DataFrame({"d": ["Y", "N"] * 5, "y": [1, 0, 0, 1, 1] * 2, "s": 0.3, "g": ["a"] * 10})
    spec = AuditSpec(decision="d", positive=["Y"], label="y", label_positive=[1], score="s", protected=["g"])
    scored = scored_rows(df["s"].to_numpy(), outcomes(df, spec))
    assert scored.edges == (0.3,) and scored.n_bins == 1 and scored.bins.tolist() == [0] * 10
