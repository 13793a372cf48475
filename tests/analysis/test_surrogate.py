"""Tests of the surrogate model: feature columns and their preparation, the fit, the splits and the folds."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import analysis.surrogate as surrogate
from analysis import AuditSpec, SpecError
from analysis.surrogate import (
    MAX_CATEGORIES,
    OTHER_CATEGORY,
    RECOVER_PARAMS,
    auc,
    cap_rows,
    feature_columns,
    fit_booster,
    fit_classifier,
    holdout_split,
    out_of_fold,
    prepare_features,
    stratified_folds,
    stratified_split,
)


def _table(rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Two informative features, one noise feature, a protected column; y depends on x1 and region."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "g": rng.choice(["a", "b"], rows),
            "x1": rng.normal(size=rows),
            "region": rng.choice(["N", "S", "E"], rows),
            "noise": rng.normal(size=rows),
        }
    )
    y = (df["x1"] + (df["region"] == "N") * 1.5 + rng.normal(scale=0.5, size=rows)).to_numpy() > 0.5
    return df, y


# --- feature columns and their preparation ---------------------------------------------------------


def test_feature_columns_leave_out_protected_attributes_unless_asked():
    df = pd.DataFrame({"g": ["a"], "h": ["x"], "x1": [1.0], "x2": [2.0], "d": ["Y"], "id": [1]})
    listed = AuditSpec(decision="d", positive=("Y",), protected=("g", "h"), features=("x2", "g", "x1", "absent"))
    assert feature_columns(df, listed) == ["x2", "x1"]
    assert feature_columns(df, listed, include_protected=True) == ["x2", "x1", "g", "h"]
    unlisted = AuditSpec(decision="d", positive=("Y",), protected=("g", "h"), id_columns=("id",))
    assert feature_columns(df, unlisted) == ["x1", "x2"]
    assert feature_columns(df, unlisted, include_protected=True) == ["x1", "x2", "g", "h"]


def test_prepare_features_leaves_out_constant_and_empty_columns_with_a_note():
    train = pd.DataFrame(
        {
            "num": [1.0, 2.0, 3.0, np.nan],
            "same": ["k", "k", "k", None],
            "empty": [np.nan] * 4,
            "flag": [True, False, True, True],
            "cat": ["b", "a", "b", "c"],
        }
    )
    prep, notes = prepare_features(train, ["num", "same", "empty", "flag", "cat"])
    assert prep.features == ("num", "flag", "cat")
    assert prep.numeric == ("num",)
    assert prep.categories == {"flag": (False, True), "cat": ("a", "b", "c")}
    assert notes == (
        "Feature 'same' was left out: it has a single value ('k'), so it cannot explain anything.",
        "Feature 'empty' was left out: every value is missing.",
    )
    with pytest.raises(SpecError, match="after leaving out: Feature 'same'"):
        prepare_features(train, ["same", "empty"], required=True)
    prep, _ = prepare_features(train, ["same"])  # not required: an empty preparation
    assert prep.features == ()


def test_feature_frame_uses_training_categories_and_numbers():
    train = pd.DataFrame({"cat": ["a", "b", "a"], "when": pd.to_datetime(["1970-01-02", "1970-01-11", "1970-01-01"])})
    prep, _ = prepare_features(train, ["cat", "when"])
    frame = prep.frame(pd.DataFrame({"cat": ["b", "z", None], "when": pd.to_datetime(["1970-01-03", None, None])}))
    assert list(frame.columns) == ["f0", "f1"]
    assert list(frame["f0"].cat.categories) == ["a", "b"]
    assert frame["f0"].iloc[0] == "b" and frame["f0"].iloc[1:].isna().all()  # unseen 'z' becomes missing
    assert frame["f1"].iloc[0] == 2.0 and frame["f1"].iloc[1:].isna().all()  # days since 1970-01-01
    assert prep.names(["when", "cat"]) == ["f1", "f0"]


def test_many_categories_keep_the_most_common_and_the_rest_are_other():
    values = [f"c{i:03d}" for i in range(MAX_CATEGORIES + 50)]
    train = pd.DataFrame({"cat": values + ["c000"] * 5})
    prep, _ = prepare_features(train, ["cat"])
    kept = prep.categories["cat"]
    assert len(kept) == MAX_CATEGORIES and kept[-1] == OTHER_CATEGORY and "c000" in kept
    unseen = next(v for v in values if v not in kept)
    frame = prep.frame(pd.DataFrame({"cat": [unseen, "c000", None]}))
    assert frame["f0"].tolist()[:2] == [OTHER_CATEGORY, "c000"] and pd.isna(frame["f0"].iloc[2])


# --- the model -----------------------------------------------------------------------------------------


def test_fit_classifier_predicts_probabilities_consistent_with_its_raw_output():
    df, y = _table()
    model = fit_classifier(df.assign(constant=1.0), y, ["x1", "region", "noise", "constant"], seed=0)
    assert model.target == "decision" and model.threshold == 0.0
    assert model.prep.features == ("x1", "region", "noise")
    assert model.notes == (
        "Feature 'constant' was left out: it has a single value ('1'), so it cannot explain anything.",
    )
    p = model.probability(df)
    raw = model.raw(df)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-raw)), rtol=1e-12)
    assert (model.decide(raw) == (p >= 0.5)).all()
    contrib = model.contributions(df)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, atol=1e-9)
    assert auc(y, p) > 0.9  # it learnt x1 and region
    with pytest.raises(SpecError, match="Expected at least one feature column to model the decisions"):
        fit_classifier(df.assign(constant=1.0), y, ["constant"], seed=0)


def test_fit_booster_fits_a_regressor_for_a_score_and_a_multiclass_model():
    df, _ = _table()
    prep, _ = prepare_features(df, ["x1", "region"])
    score = 2 * df["x1"].to_numpy()
    regressor = fit_booster(prep.frame(df), score, "score", 0, RECOVER_PARAMS)
    assert np.corrcoef(regressor.predict(prep.frame(df)), score)[0, 1] > 0.95
    classes = np.searchsorted(["E", "N", "S"], df["region"].to_numpy())
    multi = fit_booster(prep.frame(df), classes, "multiclass", 0, RECOVER_PARAMS)
    assert (multi.predict(prep.frame(df)).argmax(axis=1) == classes).mean() > 0.95


def test_the_same_seed_fits_the_same_model():
    df, y = _table()
    first = fit_classifier(df, y, ["x1", "region", "noise"], seed=3).probability(df)
    again = fit_classifier(df, y, ["x1", "region", "noise"], seed=3).probability(df)
    assert np.array_equal(first, again)


def test_auc_values_and_undefined_for_one_class():
    assert auc(np.array([False, False, True, True]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert auc(np.array([True, False]), np.array([0.2, 0.9])) == 0.0
    assert auc(np.array([True, True, True]), np.array([0.1, 0.2, 0.3])) is None


# --- rows: caps, splits, folds -------------------------------------------------------------------------


def test_cap_rows_samples_only_above_the_cap():
    rows = np.arange(10, 20)
    rng = np.random.default_rng(0)
    assert cap_rows(rows, rng, cap=10) is rows
    assert rng.bit_generator.state == np.random.default_rng(0).bit_generator.state  # nothing drawn
    capped = cap_rows(rows, rng, cap=4)
    assert capped.size == 4 and np.array_equal(capped, np.sort(capped)) and set(capped) <= set(rows)
    assert np.unique(capped).size == 4


def test_stratified_split_holds_out_the_rounded_share_of_every_stratum():
    counts = {0: 41, 3: 7, 5: 120, 9: 2, 12: 1}
    strata = np.repeat(list(counts), list(counts.values()))
    strata = np.random.default_rng(1).permutation(strata)
    train, test = stratified_split(strata, 0.3, np.random.default_rng(0))
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(strata.size))
    assert np.array_equal(train, np.sort(train)) and np.array_equal(test, np.sort(test))
    for stratum, count in counts.items():
        held = int((strata[test] == stratum).sum())
        assert held == round(count * 0.3), stratum
    # 41 × 0.3 = 12.3 → 12; 7 × 0.3 = 2.1 → 2; 120 → 36; 2 × 0.3 = 0.6 → 1; 1 × 0.3 → 0
    assert test.size == 12 + 2 + 36 + 1 + 0
    _, test_min = stratified_split(strata, 0.3, np.random.default_rng(0), min_test=1)
    assert int((strata[test_min] == 12).sum()) == 1  # the one-row stratum is held out whole


def test_stratified_split_is_seeded():
    strata = np.repeat([0, 1, 2], [50, 30, 20])
    first = stratified_split(strata, 0.25, np.random.default_rng(7))
    again = stratified_split(strata, 0.25, np.random.default_rng(7))
    other = stratified_split(strata, 0.25, np.random.default_rng(8))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[1], other[1])


def test_stratified_split_caps_each_part():
    strata = np.repeat([0, 1], [600, 400])
    train, test = stratified_split(strata, 0.5, np.random.default_rng(0), max_train=100, max_test=50)
    assert train.size == 100 and test.size == 50
    assert not set(train) & set(test)


def test_holdout_split_is_a_quarter_of_each_class_at_least_one():
    y = np.array([True] * 10 + [False] * 3)
    train, test = holdout_split(y, True, np.random.default_rng(0))
    assert int(y[test].sum()) == round(10 * 0.25) == 2 and int((~y[test]).sum()) == 1
    assert train.size == 10
    rare = np.array([True] * 20 + [False])
    _, test = holdout_split(rare, True, np.random.default_rng(0))
    assert int((~rare[test]).sum()) == 1  # round(0.25) is 0; the rare class still has a held-out row
    _, test = holdout_split(y, False, np.random.default_rng(0))
    assert test.size == round(13 * 0.25) == 3


def test_stratified_folds_deal_each_class_evenly():
    y = np.array([True] * 23 + [False] * 9)
    fold = stratified_folds(y, 4, np.random.default_rng(0))
    assert set(fold) == {0, 1, 2, 3}
    assert sorted(np.bincount(fold[y], minlength=4)) == [5, 6, 6, 6]
    assert sorted(np.bincount(fold[~y], minlength=4)) == [2, 2, 2, 3]


def test_out_of_fold_predicts_every_row_with_a_model_that_did_not_see_it(monkeypatch):
    df, y = _table(300)
    columns = ["x1", "region", "noise"]
    seen: list[pd.Index] = []
    fit = surrogate.fit_classifier

    def spy(table, *args, **kwargs):
        seen.append(table.index)
        return fit(table, *args, **kwargs)

    monkeypatch.setattr(surrogate, "fit_classifier", spy)
    result = out_of_fold(df, y, columns, 3, seed=5)
    monkeypatch.undo()
    assert np.array_equal(result.fold, stratified_folds(y, 3, np.random.default_rng(5)))
    assert len(seen) == 3
    for f, trained_on in enumerate(seen):
        assert np.array_equal(trained_on, df.index[result.fold != f])
        held = result.fold == f
        expected = fit_classifier(df[~held], y[~held], columns, 5).probability(df[held])
        assert np.array_equal(result.probability[held], expected)
    assert np.isfinite(result.probability).all() and result.notes == ()


def test_out_of_fold_is_seeded_and_notes_columns_left_out():
    df, y = _table(300)
    df["constant"] = "k"
    first = out_of_fold(df, y, ["x1", "region", "constant"], 4, seed=1)
    again = out_of_fold(df, y, ["x1", "region", "constant"], 4, seed=1)
    other = out_of_fold(df, y, ["x1", "region", "constant"], 4, seed=2)
    assert np.array_equal(first.probability, again.probability) and np.array_equal(first.fold, again.fold)
    assert not np.array_equal(first.fold, other.fold)
    assert first.notes == (
        "Feature 'constant' was left out: it has a single value ('k'), so it cannot explain anything.",
    )


def test_importing_the_module_loads_no_model_library():
    code = (
        "import sys, analysis.surrogate; "
        "print(','.join(m for m in ('lightgbm', 'sklearn', 'shap', 'fairlearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
