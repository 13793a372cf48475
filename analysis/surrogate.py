"""The LightGBM surrogate of a decision process: features, fitting, prediction and the row splits.

One definition, shared by the Drivers engine (:mod:`analysis.explain`) and the mitigations
(:mod:`analysis.mitigation`):

- :func:`feature_columns` chooses the columns a surrogate may use (never the protected
  attributes unless asked); :func:`prepare_features` learns from the training rows how they
  become model features (a :class:`FeaturePrep`: categories fixed, constant columns left out).
- :func:`fit_booster` fits a LightGBM classifier or regressor; :func:`fit_classifier` prepares
  the features and fits a classifier of the positive decision, as a :class:`Surrogate` whose
  :meth:`Surrogate.probability` predicts.
- :func:`stratified_split` holds out the same share of every stratum; :func:`holdout_split` is
  the Drivers engine's use of it (a quarter of each class held out, at least one row each, both
  parts capped). :func:`stratified_folds` and :func:`out_of_fold` score every row with a model
  that did not see it.

LightGBM and scikit-learn are imported only inside the functions that use them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.errors import SpecError
from analysis.spec import AuditSpec
from analysis.values import value_key

__all__ = [
    "FeaturePrep",
    "OutOfFold",
    "Surrogate",
    "as_float",
    "auc",
    "cap_rows",
    "feature_columns",
    "fit_booster",
    "fit_classifier",
    "holdout_split",
    "is_numeric",
    "out_of_fold",
    "prepare_features",
    "stratified_folds",
    "stratified_split",
]

TEST_SHARE = 0.25
MAX_TRAIN_ROWS = 200_000
MAX_TEST_ROWS = 50_000
MAX_CATEGORIES = 200
OTHER_CATEGORY = "(other)"
# Training synchronises its threads at every tree node; on a busy 2-core machine a second thread
# that must wait for a time slice at each barrier made fits 3-100x slower (200,000 rows: 1 thread
# 2.6-2.9 s every time; 2 threads 1.6-39 s). Training uses one thread; prediction (one parallel
# region per call) uses two.
THREADS = 2
SURROGATE_PARAMS = {
    "n_estimators": 100,
    "num_leaves": 31,
    "learning_rate": 0.1,
    "min_child_samples": 20,
    "deterministic": True,
    "force_row_wise": True,
    "n_jobs": 1,
    "verbose": -1,
}
# A small, fast model: for recovering a protected attribute, and for fits repeated many times.
RECOVER_PARAMS = {
    "n_estimators": 30,
    "num_leaves": 15,
    "learning_rate": 0.2,
    "min_child_samples": 20,
    "deterministic": True,
    "force_row_wise": True,
    "n_jobs": 1,
    "verbose": -1,
}

DROPPED_CONSTANT = "Feature '{column}' was left out: it has a single value ({value!r}), so it cannot explain anything."
DROPPED_MISSING = "Feature '{column}' was left out: every value is missing."
NO_FEATURES = (
    "Expected at least one feature column to model the decisions, got none{dropped}. List the columns that may "
    "explain the decisions in the spec's 'features' (protected attributes, IDs, PII, the decision, label and "
    "score are never features), or add a score column to the spec."
)
NOTE_CAPPED = "Each fold's model trained on a random {cap:,} of its {rows:,} training rows."


# --- features ------------------------------------------------------------------------------------


def as_float(series: pd.Series) -> pd.Series:
    """Numbers as floats (dates as days since 1970-01-01); anything else missing."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        days = (series - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
        return days.astype(float)
    return pd.to_numeric(series, errors="coerce").astype(float)


def is_numeric(series: pd.Series) -> bool:
    """Whether a column is numbers or dates (booleans count; categoricals do not)."""
    dtype = series.dtype
    return (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)) and not isinstance(
        dtype, pd.CategoricalDtype
    )


def _as_category(series: pd.Series, categories: Sequence[Any]) -> pd.Series:
    out = pd.Series(pd.Categorical(series, categories=list(categories)), index=series.index)
    if OTHER_CATEGORY in categories:
        out = out.where(out.notna() | series.isna(), OTHER_CATEGORY)
    return out


def _categories(series: pd.Series) -> tuple[Any, ...]:
    counts = series.value_counts(dropna=True)
    if len(counts) <= MAX_CATEGORIES:
        return tuple(sorted(counts.index, key=str))
    kept = sorted(counts.index[: MAX_CATEGORIES - 1], key=str)
    return (*kept, OTHER_CATEGORY)


@dataclass(frozen=True, eq=False)
class FeaturePrep:
    """How table columns become surrogate features: categories fixed at training time."""

    features: tuple[str, ...]
    categories: dict[str, tuple[Any, ...]]
    numeric: tuple[str, ...]

    def frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """The model's feature frame for ``df``: columns ``f0, f1, ...`` in the order of ``features``.

        Positional names, because LightGBM refuses some characters in feature names. Categories
        unseen in training become missing (or '(other)' when the column has that category).
        """
        out = {}
        for i, column in enumerate(self.features):
            if column in self.categories:
                out[f"f{i}"] = _as_category(df[column], self.categories[column])
            else:
                out[f"f{i}"] = as_float(df[column])
        return pd.DataFrame(out, index=df.index)

    def names(self, columns: Sequence[str]) -> list[str]:
        """The model's names (``f0, f1, ...``) of table ``columns``."""
        return [f"f{self.features.index(c)}" for c in columns]


def feature_columns(df: pd.DataFrame, spec: AuditSpec, include_protected: bool = False) -> list[str]:
    """The spec's feature columns of ``df``, without the protected attributes unless ``include_protected``.

    Parameters
    ----------
    df, spec
        The table and its spec.
    include_protected
        Append the protected attributes (those in the table) after the other features.

    Returns
    -------
    list of str
    """
    protected = spec.protected_columns
    columns = [c for c in spec.feature_columns(df.columns) if c not in protected]
    if include_protected:
        columns += [c for c in protected if c in df.columns]
    return columns


def prepare_features(
    train: pd.DataFrame, columns: Sequence[str], *, required: bool = False
) -> tuple[FeaturePrep, tuple[str, ...]]:
    """Feature preparation learnt from the training rows, and notes on columns left out.

    Parameters
    ----------
    train
        The training rows.
    columns
        Candidate feature columns; those with one value or none are left out, with a note each.
    required
        Refuse when every column is left out.

    Returns
    -------
    tuple
        The :class:`FeaturePrep` and the notes.

    Raises
    ------
    SpecError
        When ``required`` and no feature is left.
    """
    kept, categories, numeric, notes = [], {}, [], []
    for column in columns:
        series = train[column]
        values = series.dropna()
        if values.empty:
            notes.append(DROPPED_MISSING.format(column=column))
            continue
        if values.nunique() < 2:
            notes.append(DROPPED_CONSTANT.format(column=column, value=value_key(values.iloc[0])))
            continue
        kept.append(column)
        if is_numeric(series) and not pd.api.types.is_bool_dtype(series.dtype):
            numeric.append(column)
        else:
            categories[column] = _categories(series.astype(object) if series.dtype == bool else series)
    if required and not kept:
        raise SpecError(NO_FEATURES.format(dropped=" after leaving out: " + " ".join(notes)))
    return FeaturePrep(tuple(kept), categories, tuple(numeric)), tuple(notes)


# --- the model ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Surrogate:
    """The fitted LightGBM model and its feature preparation; picklable.

    ``notes`` say which columns were left out when the features were prepared.
    """

    model: Any
    prep: FeaturePrep
    target: Literal["decision", "score"]
    threshold: float
    notes: tuple[str, ...] = ()

    def raw(self, df: pd.DataFrame) -> np.ndarray:
        """Raw output (log-odds or score) for every row of ``df``."""
        frame = self.prep.frame(df)
        return np.asarray(self.model.predict(frame, raw_score=True, num_threads=THREADS), dtype=float)

    def probability(self, df: pd.DataFrame) -> np.ndarray:
        """Predicted probability of the positive decision for every row of ``df`` (decision target)."""
        frame = self.prep.frame(df)
        return np.asarray(self.model.predict(frame, num_threads=THREADS), dtype=float)

    def contributions(self, df: pd.DataFrame) -> np.ndarray:
        """SHAP values plus the base value as the last column (LightGBM ``pred_contrib``)."""
        frame = self.prep.frame(df)
        return np.asarray(self.model.predict(frame, pred_contrib=True, num_threads=THREADS), dtype=float)

    def decide(self, raw: np.ndarray) -> np.ndarray:
        """The surrogate's decisions: probability ≥ 0.5 (raw ≥ 0), or score ≥ threshold."""
        return raw >= self.threshold


def fit_booster(
    x: pd.DataFrame,
    y: np.ndarray,
    kind: str,
    seed: int,
    params: Mapping[str, Any],
    weight: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """A fitted LightGBM booster.

    Parameters
    ----------
    x
        The feature frame (:meth:`FeaturePrep.frame`).
    y
        The target per row.
    kind
        ``"score"`` fits a regressor; anything else (``"decision"``, ``"multiclass"``) a classifier.
    seed
        LightGBM's ``random_state``.
    params
        LightGBM parameters, e.g. :data:`SURROGATE_PARAMS`.
    weight
        Optional weight per row.
    progress
        Called as ``progress(trees_done, trees)`` after each boosting round.

    Returns
    -------
    lightgbm.Booster
    """
    import lightgbm

    model_class = lightgbm.LGBMRegressor if kind == "score" else lightgbm.LGBMClassifier
    model = model_class(random_state=seed, **params)
    callbacks = None
    if progress is not None:

        def report(env: Any) -> None:
            progress(env.iteration - env.begin_iteration + 1, env.end_iteration - env.begin_iteration)

        callbacks = [report]
    model.fit(x, y, sample_weight=weight, callbacks=callbacks)
    return model.booster_


def fit_classifier(
    table: pd.DataFrame,
    y: np.ndarray,
    columns: Sequence[str],
    seed: int,
    params: Mapping[str, Any] = SURROGATE_PARAMS,
    weight: np.ndarray | None = None,
) -> Surrogate:
    """Feature preparation learnt from ``table`` and a LightGBM classifier of ``y`` fitted on it.

    Parameters
    ----------
    table
        The training rows.
    y
        Whether each row's decision (or outcome) is positive.
    columns
        Candidate feature columns (:func:`feature_columns`).
    seed, params, weight
        As :func:`fit_booster`.

    Returns
    -------
    Surrogate
        A decision surrogate; its ``notes`` name the columns left out.

    Raises
    ------
    SpecError
        When every column is left out (one value, or none, in ``table``).
    """
    prep, notes = prepare_features(table, columns, required=True)
    booster = fit_booster(prep.frame(table), y, "decision", seed, params, weight=weight)
    return Surrogate(booster, prep, "decision", 0.0, notes)


def auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """Area under the ROC curve of scores ``p`` for the boolean ``y``; None when ``y`` has one class."""
    from sklearn.metrics import roc_auc_score

    if not 0 < y.mean() < 1:
        return None
    value = float(roc_auc_score(y, p))
    return value if np.isfinite(value) else None


# --- rows: caps, splits, folds --------------------------------------------------------------------


def cap_rows(rows: np.ndarray, rng: np.random.Generator, cap: int = MAX_TRAIN_ROWS) -> np.ndarray:
    """``rows``, or a sorted random ``cap`` of them when there are more (``rng`` is drawn from only then)."""
    return np.sort(rng.choice(rows, cap, replace=False)) if rows.size > cap else rows


def stratified_split(
    strata: np.ndarray,
    test_size: float,
    rng: np.random.Generator,
    *,
    min_test: int = 0,
    max_train: int | None = None,
    max_test: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out positions into ``strata``, the same share of every stratum held out.

    Parameters
    ----------
    strata
        An integer stratum per row (e.g. group × decision × label codes).
    test_size
        Each stratum holds out ``max(min_test, round(count × test_size))`` of its rows, chosen at random.
    rng
        Draws one permutation of the rows, then the caps' samples if any.
    min_test
        The fewest rows a stratum holds out (all of them when it has fewer).
    max_train, max_test
        When set, a part with more rows is cut to a random sample of that many (no longer stratified exactly).

    Returns
    -------
    tuple
        The sorted training and held-out positions.
    """
    order = rng.permutation(strata.size)
    ranked = order[np.argsort(strata[order], kind="stable")]
    _, counts = np.unique(strata, return_counts=True)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    within = np.arange(strata.size) - starts
    n_test = np.maximum(min_test, np.round(counts * test_size)).astype(np.int64)
    is_test = within < np.repeat(n_test, counts)
    train, test = np.sort(ranked[~is_test]), np.sort(ranked[is_test])
    if max_train is not None:
        train = cap_rows(train, rng, max_train)
    if max_test is not None:
        test = cap_rows(test, rng, max_test)
    return train, test


def holdout_split(y: np.ndarray, stratify: bool, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The Drivers engine's split: a quarter of each class held out (at least one row), parts capped.

    Parameters
    ----------
    y
        The target (a class per row when ``stratify``).
    stratify
        Hold out a quarter of each class; otherwise a quarter of all rows.
    rng
        As :func:`stratified_split`.

    Returns
    -------
    tuple
        Sorted training (at most :data:`MAX_TRAIN_ROWS`) and held-out (at most :data:`MAX_TEST_ROWS`) positions.
    """
    strata = y.astype(np.int64) if stratify else np.zeros(y.size, dtype=np.int64)
    return stratified_split(strata, TEST_SHARE, rng, min_test=1, max_train=MAX_TRAIN_ROWS, max_test=MAX_TEST_ROWS)


def stratified_folds(y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Fold number (0 to k − 1) per row, each class of the boolean ``y`` dealt round the folds at random."""
    fold = np.empty(y.size, dtype=np.int64)
    for cls in (False, True):
        members = rng.permutation(np.flatnonzero(y == cls))
        fold[members] = np.arange(members.size) % k
    return fold


@dataclass(frozen=True, eq=False)
class OutOfFold:
    """Out-of-fold probabilities: each row's from the model trained on the other folds.

    Attributes
    ----------
    probability
        One per row of the table.
    fold
        Each row's fold (:func:`stratified_folds`); the model of fold ``f`` trained on rows of other folds only.
    notes
        Columns left out by any fold's model, and whether training rows were capped.
    """

    probability: np.ndarray
    fold: np.ndarray
    notes: tuple[str, ...]


def out_of_fold(table: pd.DataFrame, y: np.ndarray, columns: Sequence[str], k: int, seed: int) -> OutOfFold:
    """Each row's probability of the positive decision from a classifier trained on the other ``k − 1`` folds.

    Parameters
    ----------
    table
        The rows to score.
    y
        Whether each row's decision is positive (both kinds present, at least ``k`` of each).
    columns
        Candidate feature columns.
    k
        Number of folds, stratified by ``y``.
    seed
        Seeds the folds, the training caps (at most :data:`MAX_TRAIN_ROWS` per model) and the models.

    Returns
    -------
    OutOfFold

    Raises
    ------
    SpecError
        When a fold's training rows leave every column out.
    """
    rng = np.random.default_rng(seed)
    fold = stratified_folds(y, k, rng)
    out = np.full(y.size, np.nan)
    notes: list[str] = []
    for f in range(k):
        train = cap_rows(np.flatnonzero(fold != f), rng)
        model = fit_classifier(table.iloc[train], y[train], columns, seed)
        notes += [n for n in model.notes if n not in notes]
        held = np.flatnonzero(fold == f)
        out[held] = model.probability(table.iloc[held])
    if (fold != 0).sum() > MAX_TRAIN_ROWS:
        notes.append(NOTE_CAPPED.format(cap=MAX_TRAIN_ROWS, rows=int((fold != 0).sum())))
    return OutOfFold(out, fold, tuple(notes))
