"""Mitigation beyond thresholds: a model score when the table has none, and retraining compared on held-out rows.

- :func:`model_scores`: the out-of-fold probability of the positive decision from a LightGBM
  surrogate (:mod:`analysis.surrogate`, the model the Drivers engine explains), on the spec's
  features (never the protected attributes). Every row's score comes from a model that did not see it.
  It is "a model of your decisions", not the model that made them, and is labelled so everywhere
  (:data:`MODEL_SCORE_LABEL`).
- :func:`compare_mitigations`: one table comparing, on a held-out split, the current decisions,
  our per-group thresholds (:func:`analysis.optimizer.optimize`), fairlearn's randomised
  ``ThresholdOptimizer``, aif360-style reweighing then retraining, and fairlearn's
  ``ExponentiatedGradient`` (demographic parity and equalized odds).

Group metrics of every method come from :func:`analysis.audit.audit` on the held-out rows with
the decision replaced by the method's, so disparate impact and the reference group are the
audit's. The surrogate model, its features and the row splits and folds are :mod:`analysis.surrogate`'s.
LightGBM, scikit-learn and fairlearn are imported only inside the functions that use them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from analysis.counts import outcomes
from analysis.engine import CountedTable
from analysis.errors import ParityLabError, SpecError
from analysis.groups import encode_groups
from analysis.metrics import metric_table
from analysis.optimizer import CONSTRAINTS, LABEL_CONSTRAINTS, NEEDS_LABEL, NEEDS_LABEL_OBJECTIVE, OBJECTIVES, optimize
from analysis.options import (
    SEED,
    TEST_SIZE,
    check_choice,
    check_costs,
    check_fraction,
    check_number,
    check_whole,
    default_tolerance,
)
from analysis.progress import Clock, ProgressCallback
from analysis.spec import AuditSpec, ProtectedAttribute
from analysis.surrogate import (
    NO_FEATURES,
    RECOVER_PARAMS,
    cap_rows,
    feature_columns,
    fit_classifier,
    out_of_fold,
    prepare_features,
    stratified_split,
)
from analysis.surrogate import auc as surrogate_auc
from analysis.thresholds import attribute_of, curves_from_arrays
from analysis.validation import checked_table
from analysis.values import matches_any
from analysis.variants import merge_variants
from analysis.wording import Remedy

__all__ = [
    "MODEL_SCORE_COLUMN",
    "MODEL_SCORE_LABEL",
    "SUMMARY_FIGURES",
    "MitigationComparison",
    "MitigationRow",
    "ModelScores",
    "apply_thresholds",
    "compare_mitigations",
    "flip_columns",
    "model_scores",
]

MODEL_SCORE_COLUMN = "paritylab_model_score"
DECISION_COLUMN = "paritylab_decision"
MODEL_SCORE_LABEL = "model score (a model of your decisions)"
DEFAULT_FOLDS = 5
# ExponentiatedGradient refits its estimator at every iteration: keep each fit small.
EG_MAX_ROWS = 20_000
EG_MAX_ITER = 20
EG_MIN_EPS = 0.01
# Beyond this many groups a comparison table's per-group flips share one column, so it stays readable.
MAX_FLIP_COLUMNS = 6
EG_PARAMS = RECOVER_PARAMS  # the small, fast LightGBM of analysis.surrogate; ExponentiatedGradient fits it ~20 times
FAIRLEARN_CONSTRAINT = {
    "demographic_parity": "demographic_parity",
    "four_fifths": "demographic_parity",
    "equal_opportunity": "true_positive_rate_parity",
    "equalized_odds": "equalized_odds",
}
METHODS = (
    "baseline",
    "thresholds",
    "threshold_optimizer",
    "retrained",
    "reweighing",
    "exponentiated_gradient_dp",
    "exponentiated_gradient_eo",
)
METHOD_LABELS = {
    "baseline": "current decisions",
    "thresholds": "our per-group thresholds (exact optimiser)",
    "threshold_optimizer": "fairlearn ThresholdOptimizer (randomised thresholds)",
    "retrained": "retrained model, no mitigation",
    "reweighing": "reweighing, then retrained model",
    "exponentiated_gradient_dp": "fairlearn ExponentiatedGradient, demographic parity",
    "exponentiated_gradient_eo": "fairlearn ExponentiatedGradient, equalized odds",
}
OK = "ok"
NOT_AVAILABLE = "not available"

ONE_CLASS = (
    "Expected decisions of both kinds to model them, got only {kind} decisions in {rows:,} rows. "
    "Check the spec's positive values."
)
TOO_FEW = (
    "Expected at least 2 rows of each decision to model them out of fold, got {positive} positive and "
    "{negative} negative. Use a larger table."
)
COLUMN_TAKEN = (
    "The table already has a column '{column}', where the model score would go. Rename that column, "
    "or put its name in the spec's 'score' if it is a score."
)
WRONG_LENGTH = "These model scores are for a table of {expected:,} rows; got a table of {got:,}. Pass the same table."
TOO_FEW_SPLIT = (
    "Expected at least {minimum} usable rows to split into training and held-out rows, got {rows:,} "
    "(rows need a decision{label}{score})."
)
MIN_SPLIT_ROWS = 20
NEEDS_ROWS = (
    "{where} cannot {what} on counted rows ({rows:,} source rows counted by the {engine} engine): models "
    "train on the rows themselves. Run it on a sample of the rows read into a DataFrame (the engines' "
    "sample_duckdb / sample_spark give a stratified one)."
)
NEEDS_SCORE = (
    "Applying thresholds needs a score column; the spec names none. Use model_scores(df, spec).apply(df, spec) "
    "for a {label}, or set 'score'."
)
MISSING_THRESHOLDS = "No threshold for group(s) {groups} of '{column}'; give one per group (the groups are {known})."
DECISION_TAKEN = (
    "The table already has a column '{column}', where the new decisions would go. Rename that column, or give "
    "the spec a decision column."
)

NOTE_FOLDS = (
    "Each row's {label} comes from a LightGBM model trained on the other {k_minus} of {k} folds "
    "(out of fold), on the features {features}; it is not the model that made the decisions."
)
NOTE_FOLDS_REDUCED = "Only {k} folds: the rarer decision has {rows} rows."
NOTE_NO_DECISION = "{rows:,} rows without a decision have no model score."
NOTE_SPLIT = (
    "Rows split at random into {train:,} training and {test:,} held-out rows, stratified by {attr} × decision{label}; "
    "every figure in the table is measured on the held-out rows unless it says 'in sample'."
)
NOTE_TARGET_LABEL = "Accuracy and the retrained models use the true outcome '{label}'."
NOTE_TARGET_DECISION = (
    "The spec has no label, so accuracy means agreement with the current decisions, and the retrained models "
    "learn to reproduce the current decisions."
)
NOTE_SCORE_SPEC = "Scores: the spec's score column '{score}'."
NOTE_SCORE_MODEL = (
    "Scores: the {label}. Training rows are scored out of fold on the training rows only; held-out rows by a "
    "model trained on all training rows, so no held-out row influenced its own score."
)
NOTE_LEFT_OUT = "{rows:,} rows left out: {reason}."
NOTE_THRESHOLDS = (
    "Our thresholds were chosen on the training rows' scores ({constraint}, tolerance {tolerance:g}, objective "
    "{objective}) and applied to the held-out rows."
)
NOTE_INFEASIBLE = "On the training rows the constraint could not be met: {reason}"
NOTE_NO_THRESHOLD = "Groups without a threshold (no scored training row) keep their current decisions: {groups}."
NOTE_TO = (
    "ThresholdOptimizer: constraint '{fl}', objective accuracy_score, tol {tol}; randomised predictions "
    "(random_state {seed})."
)
# Relative cost of each stage of compare_mitigations, in fits of the retrained model, measured on the loan
# sample (20,000 rows); the time left extrapolates the seconds the stages done took on the data at hand.
STAGE_ORDER = (
    "retrained",
    "reweighing",
    "threshold_optimizer",
    "exponentiated_gradient_dp",
    "exponentiated_gradient_eo",
)
STAGE_COSTS = {
    "model_score": 6.0,
    "thresholds": 0.0,  # milliseconds: too short to time the rest by
    "retrained": 1.0,
    "reweighing": 1.0,
    "threshold_optimizer": 2.0,
    "exponentiated_gradient_dp": 16.0,  # 13–25 fits on the loan sample's attributes: more with small groups
    "exponentiated_gradient_eo": 17.0,
}
NOTE_TO_OBJECTIVE = "ThresholdOptimizer maximises accuracy whatever the objective chosen here ('{objective}')."
NOTE_REWEIGHING = (
    "Reweighing: each training row weighted by P(group) × P(target) / P(group, target) (Kamiran & Calders, as "
    "aif360's Reweighing; one weight per group here, not privileged vs unprivileged), then the LightGBM model "
    "retrained on the features; decision = predicted probability ≥ 0.5. 'retrained' is the same model without weights."
)
NOTE_EG = (
    "ExponentiatedGradient: LightGBM ({trees} trees, {leaves} leaves) on {rows:,} of the {train:,} training rows, "
    "eps {eps:g}, at most {iters} iterations; randomised predictions (random_state {seed})."
)
NOTE_NO_PROTECTED = "The retrained models never see the protected attributes; the thresholds methods use them."
REASON_PREDICTIVE_PARITY = "fairlearn's ThresholdOptimizer has no predictive-parity constraint"
REASON_EO_NO_LABEL = "equalized odds needs the true outcome; the spec has no label"
REASON_NO_FEATURES = "no feature columns to train a model on"
REASON_NO_LABEL = "undefined: needs the true outcome; the spec has no label"


def _num(value: object) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _rows(where: str, what: str, source: Any) -> pd.DataFrame:
    """The rows of ``source``: a DataFrame, or a counted table's frame when each of its rows is one source row."""
    if not isinstance(source, CountedTable):
        return source
    if source.weights is None:
        return source.frame
    raise SpecError(NEEDS_ROWS.format(where=where, rows=source.rows, engine=source.engine, what=what))


def _decision_target(df: pd.DataFrame, spec: AuditSpec, columns) -> tuple[np.ndarray, np.ndarray]:
    """Rows with a decision and whether each is positive; refuses tables the surrogate cannot learn."""
    if not columns:
        raise SpecError(NO_FEATURES.format(dropped=""))
    state = outcomes(df, spec)
    y = state.positive[state.decided]
    if y.all() or not y.any():
        raise SpecError(ONE_CLASS.format(kind="positive" if y.all() else "negative", rows=int(y.size)))
    return state.decided, y


@dataclass(frozen=True, eq=False)
class ModelScores:
    """Out-of-fold probabilities of the positive decision, one per row of the table.

    Attributes
    ----------
    scores
        ``len(df)`` probabilities; NaN for rows without a decision.
    auc
        Out-of-fold AUC against the current decisions (None when undefined).
    folds, random_state
        How the rows were split and seeded.
    features
        The feature columns the models used.
    rows_scored
        Rows with a score.
    notes
        How the score was made, and columns left out.
    """

    scores: np.ndarray
    auc: float | None
    folds: int
    random_state: int
    features: tuple[str, ...]
    rows_scored: int
    notes: tuple[str, ...] = ()
    label: str = MODEL_SCORE_LABEL
    column: str = MODEL_SCORE_COLUMN

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (not the scores themselves)."""
        return {
            "label": self.label,
            "column": self.column,
            "kind": "lightgbm",
            "target": "decision",
            "auc": _num(self.auc),
            "folds": self.folds,
            "random_state": self.random_state,
            "features": list(self.features),
            "rows": int(self.scores.size),
            "rows_scored": self.rows_scored,
            "notes": list(self.notes),
        }

    def apply(self, df: pd.DataFrame, spec: AuditSpec) -> tuple[pd.DataFrame, AuditSpec]:
        """A copy of ``df`` with the scores in :data:`MODEL_SCORE_COLUMN`, and ``spec`` with that score.

        Raises
        ------
        SpecError
            When the table already has that column, or has a different number of rows.
        """
        if len(df) != self.scores.size:
            raise SpecError(WRONG_LENGTH.format(expected=self.scores.size, got=len(df)))
        if self.column in df.columns:
            raise SpecError(COLUMN_TAKEN.format(column=self.column))
        out = df.copy()
        out[self.column] = self.scores
        return out, replace(spec, score=self.column)


def model_scores(
    df: pd.DataFrame, spec: AuditSpec, *, folds: int = DEFAULT_FOLDS, random_state: int = SEED
) -> ModelScores:
    """A score for tables without one: each row's out-of-fold probability of the positive decision.

    Parameters
    ----------
    df, spec
        The table and its spec (a decision, or a score with a threshold, and feature columns).
    folds
        Rows are split into this many folds, stratified by decision; each fold is scored by a
        LightGBM model (:func:`analysis.surrogate.out_of_fold`, one training thread, at most
        200,000 training rows) trained on the other folds.
    random_state
        Seed of the folds and the models.

    Raises
    ------
    SpecError
        When the spec does not fit the table, there are no feature columns, or only one kind of decision.
    """
    df = _rows("model_scores()", "train a model score", df)
    check_whole("model_scores()", "folds", folds, 2, f"Use e.g. folds={DEFAULT_FOLDS}.")
    check_whole("model_scores()", "random_state", random_state, 0, f"Use e.g. random_state={SEED}.")
    df, spec = checked_table(df, spec)  # spelling variants merged if the spec asks
    columns = feature_columns(df, spec, include_protected=False)
    decided, y = _decision_target(df, spec, columns)
    rarest = int(min(y.sum(), (~y).sum()))
    if rarest < 2:
        raise SpecError(TOO_FEW.format(positive=int(y.sum()), negative=int((~y).sum())))
    k = min(int(folds), rarest)
    table = df.iloc[np.flatnonzero(decided)]
    oof = out_of_fold(table, y, columns, k, int(random_state))
    notes = list(oof.notes)
    scores = np.full(len(df), np.nan)
    scores[decided] = oof.probability
    used = tuple(c for c in columns if not any(n.startswith(f"Feature '{c}' ") for n in notes))
    head = [NOTE_FOLDS.format(label=MODEL_SCORE_LABEL, k_minus=k - 1, k=k, features=", ".join(used))]
    if k < folds:
        head.append(NOTE_FOLDS_REDUCED.format(k=k, rows=rarest))
    if (~decided).sum():
        head.append(NOTE_NO_DECISION.format(rows=int((~decided).sum())))
    return ModelScores(
        scores=scores,
        auc=surrogate_auc(y, oof.probability),
        folds=k,
        random_state=int(random_state),
        features=used,
        rows_scored=int(decided.sum()),
        notes=tuple(head + notes),
    )


# --- thresholds applied to the table ---------------------------------------------------------


def apply_thresholds(
    df: pd.DataFrame, spec: AuditSpec, thresholds: dict[str, float], *, attribute: str | None = None
) -> tuple[pd.DataFrame, AuditSpec]:
    """The table with its decisions re-made by per-group thresholds, and the spec to audit it with.

    A row with a score gets the positive decision when its score is at least its group's threshold
    (written as the spec's first positive value; a negative decision as the column's most common other
    value); a row without a score keeps its decision. Without a decision column, the new decisions go
    to a new column ``paritylab_decision`` (1/0) and the spec names it. So
    ``audit(*apply_thresholds(...))`` describes the same decisions as
    :func:`analysis.thresholds.what_if` at those thresholds.

    Raises
    ------
    SpecError
        Without a score column, with a threshold missing for a group, or for an unknown attribute.
    """
    if spec.score is None:
        raise SpecError(NEEDS_SCORE.format(label=MODEL_SCORE_LABEL))
    merged = merge_variants(df, spec)  # groups and decisions spelled as the audit and what_if spell them
    df, spec = merged.df, merged.spec
    attr = attribute_of(spec, attribute)
    encoded = encode_groups(df[attr.column], bins=attr.bins, quantiles=attr.quantiles)
    score = df[spec.score].to_numpy(dtype=float, na_value=np.nan)
    scored = np.isfinite(score)
    present = [encoded.labels[g] for g in np.unique(encoded.codes[scored])]
    missing = [g for g in present if g not in thresholds]
    if missing:
        raise SpecError(MISSING_THRESHOLDS.format(groups=missing, column=attr.column, known=present))
    cut = np.array([float(thresholds.get(g, np.inf)) for g in encoded.labels])[encoded.codes]
    new = score >= cut
    out = df.copy()
    # A categorical column with both decisions as categories: thresholds may well decide every row alike,
    # and the spec check refuses a decision column whose values are all positive or all negative.
    if spec.decision is None:
        if DECISION_COLUMN in df.columns:
            raise SpecError(DECISION_TAKEN.format(column=DECISION_COLUMN))
        values = pd.Series(np.where(scored, new.astype(np.int64), -1), index=df.index)
        out[DECISION_COLUMN] = pd.Categorical.from_codes(values.where(scored, -1), categories=[0, 1])
        return out, replace(spec, decision=DECISION_COLUMN, positive=(1,))
    column = df[spec.decision]
    before = column.astype(object)
    others = before[column.notna().to_numpy() & ~matches_any(column, spec.positive)]
    negative = others.mode().iloc[0] if not others.empty else f"not {spec.positive[0]}"
    kept = before.where(~scored, np.where(new, spec.positive[0], negative))
    categories = list(dict.fromkeys([negative, spec.positive[0], *before.dropna().unique()]))
    out[spec.decision] = pd.Categorical(kept, categories=categories)
    return out, spec


# --- the comparison -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MitigationRow:
    """One method evaluated on the held-out rows.

    Attributes
    ----------
    method, label
        Machine name (see :data:`METHODS`) and plain words.
    status
        ``"ok"``, ``"not available"`` or ``"failed: <reason>"``; ``reason`` says why when not ok.
    randomized
        Whether decisions are drawn at random (fairlearn's methods); figures are for one draw.
    accuracy
        Share of held-out rows whose decision equals the target (the label, else the current decision).
    disparate_impact_min, favorable_rate_ratio, four_fifths_pass, demographic_parity_difference,
    equalized_odds_difference
        The audit's summary of the held-out rows (:mod:`analysis.metrics`): the lowest impact ratio
        vs the reference group, the four-fifths ratio (lowest ÷ highest favourable rate) and its
        verdict, largest − smallest selection rate, the worse of the TPR and FPR ranges (None
        without a label).
    selection_rate
        Group → share of positive decisions (None for an empty group).
    flips
        Group → ``{"to_positive", "to_negative"}`` against the current decisions.
    rows
        Held-out rows evaluated.
    reasons
        Metric name → why it is None.
    in_sample
        For ``thresholds`` and ``threshold_optimizer``: the same figures on the training rows they were fitted on
        (optimistic; the held-out figures are the honest ones).
    decisions
        The method's decision per held-out row (aligned with ``MitigationComparison.test_positions``;
        not in ``to_dict``).
    """

    method: str
    label: str
    status: str
    randomized: bool = False
    accuracy: float | None = None
    disparate_impact_min: float | None = None
    favorable_rate_ratio: float | None = None
    four_fifths_pass: bool | None = None
    demographic_parity_difference: float | None = None
    equalized_odds_difference: float | None = None
    utility: float | None = None
    reference_group: str | None = None
    selection_rate: dict[str, float | None] = field(default_factory=dict)
    flips: dict[str, dict[str, int]] = field(default_factory=dict)
    rows: int = 0
    reason: str | None = None
    reasons: dict[str, str] = field(default_factory=dict)
    in_sample: dict[str, Any] | None = None
    decisions: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "method": self.method,
            "label": self.label,
            "status": self.status,
            "reason": self.reason,
            "randomized": self.randomized,
            "accuracy": _num(self.accuracy),
            "disparate_impact_min": _num(self.disparate_impact_min),
            "favorable_rate_ratio": _num(self.favorable_rate_ratio),
            "four_fifths_pass": self.four_fifths_pass,
            "demographic_parity_difference": _num(self.demographic_parity_difference),
            "equalized_odds_difference": _num(self.equalized_odds_difference),
            "utility": _num(self.utility),
            "reference_group": self.reference_group,
            "selection_rate": {g: _num(v) for g, v in self.selection_rate.items()},
            "flips": {g: dict(f) for g, f in self.flips.items()},
            "rows": self.rows,
            "reasons": dict(self.reasons),
            "in_sample": None if self.in_sample is None else dict(self.in_sample),
        }


@dataclass(frozen=True, eq=False)
class MitigationComparison:
    """Every method's accuracy, disparities and flips on the same held-out rows.

    Attributes
    ----------
    rows
        One :class:`MitigationRow` per method, in :data:`METHODS` order.
    attribute, constraint, tolerance, objective, cost_fp, benefit_tp
        What was asked.
    target
        ``"label"`` (accuracy against the true outcome) or ``"decision"`` (agreement with the current decisions).
    score_source
        ``"spec"`` (the spec's score column) or ``"model"`` (:data:`MODEL_SCORE_LABEL`).
    train_rows, test_rows
        How many rows each part has; ``train_positions``/``test_positions`` are their positions in the table.
    thresholds, thresholds_feasible, thresholds_reason
        Our optimiser's per-group thresholds on the training rows, and whether they met the constraint there.
    notes
        How everything was done, in plain words.
    """

    rows: tuple[MitigationRow, ...]
    attribute: str
    constraint: str
    tolerance: float
    objective: str
    target: str
    score_source: str
    train_rows: int
    test_rows: int
    random_state: int
    thresholds: dict[str, float]
    thresholds_feasible: bool
    thresholds_reason: str | None
    cost_fp: float = 1.0
    benefit_tp: float = 1.0
    notes: tuple[str, ...] = ()
    train_positions: np.ndarray | None = field(default=None, repr=False)
    test_positions: np.ndarray | None = field(default=None, repr=False)

    def row(self, method: str) -> MitigationRow:
        """The row of one method."""
        return next(r for r in self.rows if r.method == method)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "attribute": self.attribute,
            "constraint": self.constraint,
            "tolerance": self.tolerance,
            "objective": self.objective,
            "cost_fp": self.cost_fp,
            "benefit_tp": self.benefit_tp,
            "target": self.target,
            "score_source": self.score_source,
            "score_label": MODEL_SCORE_LABEL if self.score_source == "model" else None,
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "random_state": self.random_state,
            "thresholds": {g: _num(t) for g, t in self.thresholds.items()},
            "thresholds_feasible": self.thresholds_feasible,
            "thresholds_reason": self.thresholds_reason,
            "rows": [r.to_dict() for r in self.rows],
            "notes": list(self.notes),
        }


@dataclass(frozen=True, eq=False)
class _Part:
    """The training or held-out rows, with everything the methods need."""

    positions: np.ndarray
    table: pd.DataFrame
    groups: np.ndarray
    current: np.ndarray
    target: np.ndarray
    score: np.ndarray


@dataclass(frozen=True, eq=False)
class _Setting:
    spec: AuditSpec
    attr: ProtectedAttribute
    has_label: bool
    columns: list[str]
    labels: tuple[str, ...]
    constraint: str
    tolerance: float
    objective: str
    cost_fp: float
    benefit_tp: float
    seed: int


def _check_options(constraint, tolerance, objective, test_size, random_state, has_label) -> None:
    where = "compare_mitigations()"
    check_choice(where, "constraint", constraint, CONSTRAINTS)
    check_choice(where, "objective", objective, OBJECTIVES)
    check_number(where, "tolerance", tolerance, low=0, fix=f"Use e.g. tolerance={default_tolerance(constraint):g}.")
    check_fraction(where, "test_size", test_size, f"Use e.g. test_size={TEST_SIZE:g}.")
    check_whole(where, "random_state", random_state, 0, f"Use e.g. random_state={SEED}.")
    if not has_label and constraint in LABEL_CONSTRAINTS:
        raise SpecError(NEEDS_LABEL.format(constraint=constraint), remedy=Remedy("label"))
    if not has_label and objective == "cost":
        raise SpecError(NEEDS_LABEL_OBJECTIVE.format(objective=objective), remedy=Remedy("objective", "selection_rate"))


SUMMARY_FIGURES = (
    "disparate_impact_min",
    "favorable_rate_ratio",
    "demographic_parity_difference",
    "equalized_odds_difference",
)


def _evaluate(s: _Setting, part: _Part, decisions: np.ndarray) -> dict[str, Any]:
    """Accuracy, the audit's summary (:func:`analysis.metrics.metric_table`), selection rates and flips on ``part``."""
    table = metric_table(
        decisions,
        part.groups,
        part.target if s.has_label else None,
        positive_is_favorable=s.spec.positive_is_favorable,
        min_group_size=s.spec.min_group_size,
        reference=s.attr.reference,
        labels=[g for g in s.labels if (part.groups == g).any()],
    )
    summary = table.summary.metrics
    out: dict[str, Any] = {"reasons": {}, "rows": int(decisions.size), "reference_group": table.reference_group}
    for name in SUMMARY_FIGURES:
        metric = summary.get(name)
        out[name] = None if metric is None else metric.value
        if out[name] is None:
            out["reasons"][name] = REASON_NO_LABEL if metric is None else (metric.reason or "undefined")
    out["four_fifths_pass"] = table.summary.four_fifths_pass
    out["accuracy"] = float((decisions == part.target).mean()) if decisions.size else None
    if s.has_label:
        tp = int((decisions & part.target).sum())
        fp = int((decisions & ~part.target).sum())
        out["utility"] = s.benefit_tp * tp - s.cost_fp * fp
    else:
        out["utility"] = None
        out["reasons"]["utility"] = REASON_NO_LABEL
    out["selection_rate"] = {g: table.metric(g, "selection_rate").value for g in table.labels}
    flips = {}
    for g in s.labels:
        member = part.groups == g
        flips[g] = {
            "to_positive": int((member & ~part.current & decisions).sum()),
            "to_negative": int((member & part.current & ~decisions).sum()),
        }
    out["flips"] = flips
    return out


def _row(method: str, status: str, figures: dict[str, Any] | None = None, **extra: Any) -> MitigationRow:
    return MitigationRow(method=method, label=METHOD_LABELS[method], status=status, **(figures or {}), **extra)


def _expected_errors() -> tuple[type[BaseException], ...]:
    from lightgbm.basic import LightGBMError

    return (ValueError, ArithmeticError, np.linalg.LinAlgError, LightGBMError, ParityLabError)


def _attempt(s: _Setting, parts: list[_Part], method: str, randomized: bool, fn: Callable[[], Any]) -> MitigationRow:
    """Run one method; an expected failure becomes the row's status instead of ending the comparison.

    ``fn`` returns the held-out decisions, or (held-out, training) decisions for in-sample figures too.
    """
    try:
        out = fn()
    except _expected_errors() as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return _row(method, f"failed: {reason}", reason=reason, randomized=randomized)
    decisions, in_sample = (out, None) if not isinstance(out, tuple) else out
    decisions = np.asarray(decisions).astype(bool)
    if in_sample is not None:
        in_sample = _evaluate(s, parts[0], np.asarray(in_sample).astype(bool))
        in_sample.pop("reasons")
    figures = _evaluate(s, parts[1], decisions)
    return _row(method, OK, figures, randomized=randomized, decisions=decisions, in_sample=in_sample)


def _part(df, positions, groups, current, target, score) -> _Part:
    return _Part(
        positions, df.iloc[positions], groups[positions], current[positions], target[positions], score[positions]
    )


def _scores(df, spec, usable, columns, train, test, seed) -> tuple[np.ndarray, str, list[str]]:
    """Scores of every usable row: the spec's, or the model score without leakage from held-out rows."""
    if spec.score is not None:
        return df[spec.score].to_numpy(dtype=float, na_value=np.nan), "spec", [NOTE_SCORE_SPEC.format(score=spec.score)]
    _decision_target(df, spec, columns)  # refuses tables without features or with one kind of decision
    current = outcomes(df, spec).positive
    score = np.full(len(df), np.nan)
    rows_train, rows_test = usable[train], usable[test]
    y = current[rows_train]
    k = min(DEFAULT_FOLDS, int(min(y.sum(), (~y).sum())))
    if k < 2:
        raise SpecError(TOO_FEW.format(positive=int(y.sum()), negative=int((~y).sum())))
    oof = out_of_fold(df.iloc[rows_train], y, columns, k, seed)
    score[rows_train] = oof.probability
    fitted_on = cap_rows(np.arange(rows_train.size), np.random.default_rng(seed))
    model = fit_classifier(df.iloc[rows_train[fitted_on]], y[fitted_on], columns, seed)
    score[rows_test] = model.probability(df.iloc[rows_test])
    return score, "model", [NOTE_SCORE_MODEL.format(label=MODEL_SCORE_LABEL), *oof.notes]


def _thresholds_row(s: _Setting, train: _Part, test: _Part):
    """Optimise on the training rows' curves, apply to the held-out scores; in-sample figures too."""
    index = {g: i for i, g in enumerate(s.labels)}
    curves = curves_from_arrays(
        train.score,
        np.array([index[g] for g in train.groups], dtype=np.int64),
        s.labels,
        decided=np.ones(train.current.size, dtype=bool),
        positive=train.current,
        label_known=np.ones(train.target.size, dtype=bool),
        label_positive=train.target,
        attribute=s.attr.column,
        positive_is_favorable=s.spec.positive_is_favorable,
        reference=s.attr.reference,
        min_group_size=s.spec.min_group_size,
    )
    # Without a label the target is the current decision, so "accuracy" is agreement with it.
    result = optimize(
        curves,
        constraint=s.constraint,
        tolerance=s.tolerance,
        objective=s.objective,
        cost_fp=s.cost_fp,
        benefit_tp=s.benefit_tp,
    )

    def decide(part: _Part) -> np.ndarray:
        cut = np.array([result.thresholds.get(g, np.nan) for g in part.groups])
        return np.where(np.isnan(cut), part.current, part.score >= np.nan_to_num(cut, nan=np.inf))

    in_sample = _evaluate(s, train, decide(train))
    in_sample.pop("reasons")
    row = _row("thresholds", OK, _evaluate(s, test, decide(test)), in_sample=in_sample, decisions=decide(test))
    missing = [g for g in s.labels if g not in result.thresholds]
    return row, result, missing


def _load_libraries() -> None:
    """Import the modelling libraries (seconds, once per process), so that no stage's time includes it."""
    import fairlearn.postprocessing
    import fairlearn.reductions  # noqa: F401
    import lightgbm  # noqa: F401
    import sklearn.base  # noqa: F401


def _passthrough():
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Score(ClassifierMixin, BaseEstimator):
        """Returns the score in the first column as its prediction (for a prefit ThresholdOptimizer)."""

        def fit(self, X, y):
            self.fitted_ = True
            return self

        def predict(self, X):
            return np.asarray(X, dtype=float)[:, 0]

    return Score()


def _threshold_optimizer(s: _Setting, train: _Part, test: _Part) -> tuple[np.ndarray, np.ndarray]:
    from fairlearn.postprocessing import ThresholdOptimizer

    x = train.score[:, None]
    tol = s.tolerance if s.constraint in ("demographic_parity", "equal_opportunity") and s.tolerance > 0 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = ThresholdOptimizer(
            estimator=_passthrough().fit(x, train.target),
            constraints=FAIRLEARN_CONSTRAINT[s.constraint],
            objective="accuracy_score",
            prefit=True,
            predict_method="predict",
            tol=tol,
        ).fit(x, train.target.astype(int), sensitive_features=train.groups)
        held_out = fitted.predict(test.score[:, None], sensitive_features=test.groups, random_state=s.seed)
        in_sample = fitted.predict(x, sensitive_features=train.groups, random_state=s.seed)
    return held_out, in_sample


def _reweighing_weights(groups: np.ndarray, target: np.ndarray) -> np.ndarray:
    """P(group) × P(target) / P(group, target) per row: groups and outcomes independent after weighting."""
    codes, _ = pd.factorize(groups)
    cell = codes * 2 + target.astype(np.int64)
    n_cell = np.bincount(cell, minlength=2 * (codes.max() + 1))
    n_group = np.bincount(codes)
    n_target = np.bincount(target.astype(np.int64), minlength=2)
    return n_group[codes] * n_target[target.astype(np.int64)] / (target.size * n_cell[cell])


def _retrained(s: _Setting, train: _Part, test: _Part, weighted: bool) -> np.ndarray:
    rows = cap_rows(np.arange(train.target.size), np.random.default_rng(s.seed))
    weight = _reweighing_weights(train.groups, train.target)[rows] if weighted else None
    model = fit_classifier(train.table.iloc[rows], train.target[rows], s.columns, s.seed, weight=weight)
    return model.probability(test.table) >= 0.5


def _eg_rows(s: _Setting, train: _Part) -> np.ndarray:
    return cap_rows(np.arange(train.target.size), np.random.default_rng(s.seed), EG_MAX_ROWS)


def _exponentiated_gradient(s: _Setting, train: _Part, test: _Part, kind: str) -> np.ndarray:
    import lightgbm
    from fairlearn.reductions import DemographicParity, EqualizedOdds, ExponentiatedGradient

    rows = _eg_rows(s, train)
    prep, _ = prepare_features(train.table.iloc[rows], s.columns, required=True)
    estimator = lightgbm.LGBMClassifier(random_state=s.seed, **EG_PARAMS)
    moment = DemographicParity() if kind == "dp" else EqualizedOdds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = ExponentiatedGradient(estimator, moment, eps=max(s.tolerance, EG_MIN_EPS), max_iter=EG_MAX_ITER)
        fitted.fit(
            prep.frame(train.table.iloc[rows]), train.target[rows].astype(int), sensitive_features=train.groups[rows]
        )
        return fitted.predict(prep.frame(test.table), random_state=s.seed)


def compare_mitigations(
    df: pd.DataFrame,
    spec: AuditSpec,
    *,
    attribute: str | None = None,
    constraint: str = "demographic_parity",
    tolerance: float | None = None,
    objective: str = "accuracy",
    cost_fp: float = 1.0,
    benefit_tp: float = 1.0,
    test_size: float = TEST_SIZE,
    random_state: int = SEED,
    progress: ProgressCallback | None = None,
) -> MitigationComparison:
    """Compare post-processing and retraining mitigations on the same held-out rows.

    Parameters
    ----------
    df, spec
        The table and its spec. Without a score column, the :data:`MODEL_SCORE_LABEL` is used.
    attribute
        The protected column to mitigate for; default the spec's first.
    constraint, tolerance, objective, cost_fp, benefit_tp
        As :func:`analysis.optimizer.optimize` (``tolerance`` defaults to
        :func:`analysis.options.default_tolerance` of the constraint). Without a label, only demographic_parity and
        four_fifths, and the objectives accuracy (agreement with the current decisions) and selection_rate.
    test_size
        Share of rows held out, stratified by group × decision (× label).
    random_state
        Seed of the split, the models and the randomised predictions.
    progress
        Called with an :class:`analysis.progress.Step` after each stage (libraries loaded, rows scored, our
        thresholds, each retrained model, each fairlearn method), with the time left estimated from the
        stages done so far on these data (:data:`STAGE_COSTS`).

    Returns
    -------
    MitigationComparison
        One row per method of :data:`METHODS`; a method that fails has a ``"failed: ..."`` status.

    Raises
    ------
    SpecError
        When the spec does not fit the table, an option is invalid, or too few rows remain.
    """
    df = _rows("compare_mitigations()", "retrain models on held-out rows", df)
    has_label = spec.label is not None
    if tolerance is None:
        tolerance = default_tolerance(constraint) if constraint in CONSTRAINTS else 0.0
    _check_options(constraint, tolerance, objective, test_size, random_state, has_label)
    check_costs("compare_mitigations()", cost_fp, benefit_tp)  # before any model is trained
    df, spec = checked_table(df, spec)  # spelling variants merged if the spec asks
    attr = attribute_of(spec, attribute)
    seed = int(random_state)
    rng = np.random.default_rng(seed)
    state = outcomes(df, spec)
    current = state.positive & state.decided
    target = matches_any(df[spec.label], spec.label_positive) if has_label else current
    usable = state.decided & (df[spec.label].notna().to_numpy() if has_label else True)
    if spec.score is not None:
        usable &= np.isfinite(df[spec.score].to_numpy(dtype=float, na_value=np.nan))
    left_out = int(len(df) - usable.sum())
    usable = np.flatnonzero(usable)
    if usable.size < MIN_SPLIT_ROWS:
        label = " and a label" if has_label else ""
        score = f" and a score in '{spec.score}'" if spec.score else ""
        raise SpecError(TOO_FEW_SPLIT.format(minimum=MIN_SPLIT_ROWS, rows=int(usable.size), label=label, score=score))
    encoded = encode_groups(df[attr.column], bins=attr.bins, quantiles=attr.quantiles)
    if attr.quantiles is not None:
        # Quantile edges of the whole table, so that training and held-out rows are binned alike.
        attr = replace(attr, bins=encoded.edges, quantiles=None)
    groups = np.asarray(encoded.labels, dtype=object)[encoded.codes]
    strata = encoded.codes[usable] * 4 + current[usable] * 2 + target[usable]
    train, test = stratified_split(strata, float(test_size), rng)
    columns = feature_columns(df, spec, include_protected=False)
    runs = {
        "retrained": bool(columns),
        "reweighing": bool(columns),
        "threshold_optimizer": constraint != "predictive_parity",
        "exponentiated_gradient_dp": bool(columns),
        "exponentiated_gradient_eo": bool(columns) and has_label,
    }
    costs = [0.0, STAGE_COSTS["model_score"] if spec.score is None else 0.0, STAGE_COSTS["thresholds"]]
    costs += [STAGE_COSTS[m] if runs[m] else 0.0 for m in STAGE_ORDER]
    clock = Clock(costs, progress)
    _load_libraries()
    clock.stage("Loaded the modelling libraries")
    score, source, score_notes = _scores(df, spec, usable, columns, train, test, seed)
    clock.stage("Scored the rows" + (f" ({MODEL_SCORE_LABEL}, out of fold)" if spec.score is None else ""))
    parts = [_part(df, usable[p], groups, current, target, score) for p in (train, test)]
    train_part, test_part = parts
    s = _Setting(spec, attr, has_label, columns, encoded.labels, constraint, float(tolerance), objective,
                 float(cost_fp), float(benefit_tp), seed)  # fmt: skip
    found = {"baseline": _row("baseline", OK, _evaluate(s, test_part, test_part.current), decisions=test_part.current)}
    found["thresholds"], chosen, missing = _thresholds_row(s, train_part, test_part)
    clock.stage("Chose our thresholds on the training rows")
    # The cheap retrained models first: the time they take on these rows sets the estimate for the rest.
    for method in STAGE_ORDER:
        if method == "threshold_optimizer":
            if runs[method]:
                found[method] = _attempt(s, parts, method, True, lambda: _threshold_optimizer(s, *parts))
            else:
                found[method] = _row(method, NOT_AVAILABLE, reason=REASON_PREDICTIVE_PARITY, randomized=True)
        elif method in ("retrained", "reweighing"):
            if runs[method]:
                weighted = method == "reweighing"
                found[method] = _attempt(s, parts, method, False, lambda w=weighted: _retrained(s, *parts, w))
            else:
                found[method] = _row(method, NOT_AVAILABLE, reason=REASON_NO_FEATURES)
        else:
            kind = method.rsplit("_", 1)[1]
            if not columns:
                found[method] = _row(method, NOT_AVAILABLE, reason=REASON_NO_FEATURES, randomized=True)
            elif not runs[method]:
                found[method] = _row(method, NOT_AVAILABLE, reason=REASON_EO_NO_LABEL, randomized=True)
            else:
                found[method] = _attempt(s, parts, method, True, lambda k=kind: _exponentiated_gradient(s, *parts, k))
        done = found[method].status if found[method].status != OK else "done"
        clock.stage(f"{METHOD_LABELS[method][0].upper()}{METHOD_LABELS[method][1:]}: {done}")
    rows = [found[m] for m in METHODS]
    notes = [
        NOTE_SPLIT.format(train=train.size, test=test.size, attr=attr.column, label=" × label" if has_label else ""),
        NOTE_TARGET_LABEL.format(label=spec.label) if has_label else NOTE_TARGET_DECISION,
        *score_notes,
    ]
    if left_out:
        reason = "no decision" + (", label" if has_label else "") + (", or score" if spec.score else "")
        notes.append(NOTE_LEFT_OUT.format(rows=left_out, reason=reason))
    notes.append(NOTE_THRESHOLDS.format(constraint=constraint, tolerance=tolerance, objective=objective))
    if not chosen.feasible:
        notes.append(NOTE_INFEASIBLE.format(reason=chosen.reason))
    if missing:
        notes.append(NOTE_NO_THRESHOLD.format(groups=", ".join(missing)))
    if constraint != "predictive_parity":
        tol = tolerance if constraint in ("demographic_parity", "equal_opportunity") and tolerance > 0 else None
        notes.append(NOTE_TO.format(fl=FAIRLEARN_CONSTRAINT[constraint], tol=tol, seed=seed))
        if objective != "accuracy":
            notes.append(NOTE_TO_OBJECTIVE.format(objective=objective))
    if columns:
        notes.append(NOTE_REWEIGHING)
        eps = max(float(tolerance), EG_MIN_EPS)
        notes.append(
            NOTE_EG.format(trees=EG_PARAMS["n_estimators"], leaves=EG_PARAMS["num_leaves"],
                           rows=min(train.size, EG_MAX_ROWS), train=train.size, eps=eps, iters=EG_MAX_ITER, seed=seed)
        )  # fmt: skip
        notes.append(NOTE_NO_PROTECTED)
    return MitigationComparison(
        rows=tuple(rows),
        attribute=attr.column,
        constraint=constraint,
        tolerance=float(tolerance),
        objective=objective,
        target="label" if has_label else "decision",
        score_source=source,
        train_rows=int(train.size),
        test_rows=int(test.size),
        random_state=seed,
        thresholds=dict(chosen.thresholds),
        thresholds_feasible=bool(chosen.feasible),
        thresholds_reason=chosen.reason,
        cost_fp=float(cost_fp),
        benefit_tp=float(benefit_tp),
        notes=tuple(notes),
        train_positions=train_part.positions,
        test_positions=test_part.positions,
    )


def flip_columns(flips: Sequence[Any]) -> tuple[list[str], list[list[str | None]]]:
    """The per-group flip columns of a comparison table: their headers and, per method, its cells.

    Parameters
    ----------
    flips
        Per method, ``{group: {"to_positive": n, "to_negative": n}}`` (empty or None when it did not run),
        e.g. ``MitigationRow.flips`` or its ``to_dict()`` form.

    Returns
    -------
    tuple
        Up to ``MAX_FLIP_COLUMNS`` groups: a ``"flips: <group>"`` column each with cells like ``"+12 / −3"``
        (to positive / to negative); more groups: one ``"flips by group"`` column (``"A +12/−3 · B +0/−5"``).
        A method without flips for a group has a None cell.
    """

    def text(f: Mapping[str, Any], sep: str) -> str:
        return f"+{int(f.get('to_positive', 0) or 0):,}{sep}−{int(f.get('to_negative', 0) or 0):,}"

    per_method = [
        {str(g): f for g, f in m.items() if isinstance(f, Mapping)} if isinstance(m, Mapping) else {} for m in flips
    ]
    groups = sorted({g for m in per_method for g in m})
    if len(groups) <= MAX_FLIP_COLUMNS:
        cells = [[text(m[g], " / ") if g in m else None for g in groups] for m in per_method]
        return [f"flips: {g}" for g in groups], cells
    joined = [" · ".join(f"{g} {text(m[g], '/')}" for g in groups if g in m) or None for m in per_method]
    return ["flips by group"], [[cell] for cell in joined]
