"""What drives the decisions: a surrogate model, its SHAP values, by group, the gap decomposed, proxies.

``explain(df, spec)`` trains a LightGBM surrogate of the decision process (a classifier of the
positive decision, or a regressor of the score when the spec has one) on the spec's features,
measures how faithfully it reproduces the real process on held-out rows, and explains it with
exact tree SHAP values on a sample stratified by protected group. Layout::

    Explanation
    ├── model              ModelInfo: kind, target, units, features, rows used
    ├── fidelity           Fidelity: accuracy + AUC, or R²; low when below 0.8, with a sentence
    ├── global_importance  mean |SHAP| per feature over the uniform part of the sample, descending
    ├── by_group           attr → group → feature → mean signed SHAP
    ├── gap                attr → group → GapDecomposition against the audit's reference group
    ├── proxies            attr → ProxyScore per feature (normalised mutual information), descending
    ├── recoverability     attr → Recoverability (balanced accuracy of all features vs chance)
    ├── flip_test          attr → group → share of surrogate decisions that change (include_protected)
    ├── sample             ExplanationSample: rows, SHAP matrix, values, raw outputs (not in to_dict)
    └── surrogate          the fitted model and its feature preparation (not in to_dict)

The surrogate itself (feature columns and their preparation, the LightGBM fit, the held-out
split) is :mod:`analysis.surrogate`'s, shared with :mod:`analysis.mitigation`. SHAP values come
from LightGBM's own ``pred_contrib`` output: the same path-dependent tree SHAP values as
``shap.TreeExplainer`` (the tests check they agree), without importing shap. LightGBM,
scikit-learn and shap are imported only inside the functions that use them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.counts import Grouping, count_groups, outcomes
from analysis.errors import ExplainError
from analysis.groups import MISSING_GROUP, encode_groups
from analysis.metrics import evaluate
from analysis.options import MIN_GROUP_SIZE, SAMPLE_SIZE, SEED, check_flag, check_whole
from analysis.spec import AuditSpec
from analysis.stratified import StratifiedSample
from analysis.surrogate import (
    MAX_TRAIN_ROWS,
    RECOVER_PARAMS,
    SURROGATE_PARAMS,
    TEST_SHARE,
    Surrogate,
    as_float,
    feature_columns,
    fit_booster,
    holdout_split,
    is_numeric,
    prepare_features,
)
from analysis.surrogate import auc as surrogate_auc
from analysis.validation import checked_table
from analysis.values import condition, matches_any, value_key
from analysis.words import decision_words

__all__ = [
    "Explanation",
    "ExplanationSample",
    "FeatureImportance",
    "Fidelity",
    "GapDecomposition",
    "LocalExplanation",
    "ModelInfo",
    "ProxyScore",
    "ProxyStage",
    "Recoverability",
    "ShapStage",
    "Surrogate",
    "SurrogateStage",
    "estimate_seconds",
    "explain",
    "explain_flips",
    "explain_proxies",
    "explain_row",
    "explain_shap",
    "explain_slice",
    "explain_surrogate",
    "explanation_from",
    "proxy_units",
]

EXPLAIN_SCHEMA_VERSION = 1
MIN_ROWS = 50
MIN_SAMPLE_PER_GROUP = 100
FIDELITY_THRESHOLD = 0.8
PROXY_THRESHOLD = 0.05
PROXY_BINS = 10
RECOVERABLE_MARGIN = 0.10
MAX_RECOVER_ROWS = 20_000
MAX_PROXY_ROWS = 100_000
MAX_FLIP_ROWS = 200_000
# SHAP values are computed in chunks when progress is reported: a small first one gives an early estimate.
FIRST_CHUNK = 250
CHUNK = 1_000
GAP_CHECK = 1e-9
NO_FEATURES = (
    "Expected at least one feature column to explain the decisions, got none{dropped}. "
    "List the columns that may explain the decisions in the spec's 'features' (protected attributes, "
    "IDs, PII, the decision, label and score are never features unless include_protected is set)."
)
ONE_CLASS = (
    "Expected decisions of both kinds to train the surrogate, got only {kind} decisions "
    "({condition}) in {rows:,} rows. Check the spec's positive values, or explain a table with both outcomes."
)
CONSTANT_SCORE = (
    "Expected a score that varies to train the surrogate, got the constant {value:g} in column '{column}'. "
    "Choose a score column that varies, or remove the score from the spec to explain the decision."
)
TOO_FEW_ROWS = (
    "Expected at least {minimum} rows with a {what} to train and test the surrogate, got {rows:,}. "
    "Explain a larger table."
)
BAD_ROW = "explain_row() expects a row position between 0 and {last}, got {got!r}. Pick a row of the table."
MISSING_COLUMNS = (
    "explain_row() expects the table the explanation was made from; it lacks the feature column(s) {columns}. "
    "Pass the same table to explain() and explain_row()."
)
SLICE_MASK_SIZE = (
    "The slice's row mask has {got:,} entries, but the table explained has {rows:,} rows. Compute the mask on the "
    "table the surrogate was trained on."
)
SLICE_EMPTY = (
    "No row with a decision is {where} the slice {name}: there is nothing to compare. Pick a slice with rows on "
    "both sides."
)
GAP_NOT_ADDITIVE = "Internal check failed: the gap parts sum to {parts!r}, not the gap {total!r} ({attr} = {group})."

FIDELITY_SENTENCE = {
    "decision": (
        "The surrogate model reproduces the real decisions on {n_test:,} held-out rows with accuracy {accuracy} "
        "(AUC {auc})."
    ),
    "score": "The surrogate model reproduces the score '{score}' on {n_test:,} held-out rows with R² {r2}.",
}
FIDELITY_CAVEAT = (
    " That is below {threshold:g}: these explanations describe the surrogate model, not the real decision "
    "process, and may be misleading about it."
)
RECOVERABLE_SENTENCE = (
    "{attr} can be recovered from the other columns (balanced accuracy {score:.2f} vs {chance:.2f} by chance): "
    "leaving it out does not remove the bias."
)
NOT_RECOVERABLE_SENTENCE = (
    "{attr} is hard to recover from the other columns (balanced accuracy {score:.2f} vs {chance:.2f} by chance)."
)


def _num(value: object) -> float | None:
    """A finite float, or None (JSON null)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# --- result records -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    """The surrogate model.

    Attributes
    ----------
    kind
        ``"lightgbm"``.
    target
        ``"decision"`` (a classifier of the positive decision) or ``"score"`` (a regressor).
    units
        Units of the raw output and of SHAP values: ``"log-odds"`` or ``"score"``.
    features
        Feature columns the surrogate uses, in order.
    n_rows, n_train, n_test
        Rows with a decision (or score); rows trained on; held-out rows tested on.
    max_train_rows
        Training rows are a seeded random sample of at most this many.
    threshold
        The score threshold that makes a decision (score target only), and how it was chosen.
    notes
        Columns left out, and why.
    """

    kind: str
    target: Literal["decision", "score"]
    units: str
    features: tuple[str, ...]
    n_rows: int
    n_train: int
    n_test: int
    max_train_rows: int = MAX_TRAIN_ROWS
    threshold: float | None = None
    threshold_rule: str | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "kind": self.kind,
            "target": self.target,
            "units": self.units,
            "features": list(self.features),
            "n_rows": self.n_rows,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "max_train_rows": self.max_train_rows,
            "threshold": _num(self.threshold),
            "threshold_rule": self.threshold_rule,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Fidelity:
    """How faithfully the surrogate reproduces the real process on held-out rows.

    ``low`` is True when accuracy or AUC (or R² for a score) is below 0.8; ``message`` then
    says plainly that the explanations describe the surrogate, not the real process.
    """

    accuracy: float | None
    auc: float | None
    r2: float | None
    low: bool
    message: str
    baseline_accuracy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "accuracy": _num(self.accuracy),
            "auc": _num(self.auc),
            "r2": _num(self.r2),
            "baseline_accuracy": _num(self.baseline_accuracy),
            "threshold": FIDELITY_THRESHOLD,
            "low": self.low,
            "message": self.message,
        }


@dataclass(frozen=True)
class FeatureImportance:
    """A feature's mean absolute SHAP value."""

    feature: str
    mean_abs_shap: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"feature": self.feature, "mean_abs_shap": _num(self.mean_abs_shap)}


@dataclass(frozen=True)
class GapDecomposition:
    """A group's gap in mean surrogate output against the reference, split by feature.

    Attributes
    ----------
    reference
        The reference group (the audit's rule: highest favourable rate among groups of at
        least ``min_group_size`` rows, unless the spec names one).
    total
        Mean raw output of the group minus that of the reference (log-odds, or score units).
    total_probability
        Difference of mean predicted probabilities (decision target; None for a score).
    contributions
        ``(feature, part)`` pairs summing to ``total``, largest ``|part|`` first.
    sentence
        ``"Of the -0.90 log-odds gap between ethnicity = B and A, -0.60 comes from region."``
    """

    reference: str
    total: float
    total_probability: float | None
    contributions: tuple[tuple[str, float], ...]
    sentence: str
    n_group: int = 0
    n_reference: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "reference": self.reference,
            "total": _num(self.total),
            "total_probability": _num(self.total_probability),
            "contributions": [{"feature": f, "value": _num(v)} for f, v in self.contributions],
            "sentence": self.sentence,
            "n_group": self.n_group,
            "n_reference": self.n_reference,
        }


@dataclass(frozen=True)
class ProxyScore:
    """How well one feature alone predicts a protected attribute (normalised mutual information)."""

    feature: str
    score: float
    flag: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"feature": self.feature, "score": _num(self.score), "flag": self.flag}


@dataclass(frozen=True)
class Recoverability:
    """How well all features together predict a protected attribute, on held-out rows.

    ``score`` is the balanced accuracy of a small LightGBM model; ``chance`` that of guessing
    (1 / number of groups); ``flag`` is True when the score beats chance by at least 0.10.
    """

    score: float | None
    metric: str
    chance: float | None
    flag: bool
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "score": _num(self.score),
            "metric": self.metric,
            "chance": _num(self.chance),
            "flag": self.flag,
            "sentence": self.sentence,
        }


@dataclass(frozen=True, eq=False)
class ExplanationSample:
    """The rows SHAP values were computed for (not part of ``to_dict``).

    Attributes
    ----------
    rows
        Positional indices into the table, ascending.
    shap
        SHAP values, ``len(rows)`` × number of features.
    values
        The features' original values for those rows (index: the row positions).
    expected_value
        The surrogate's base value (raw units).
    raw_output
        The surrogate's raw output per row: ``shap.sum(axis=1) + expected_value``.
    groups
        Per protected attribute, the group label of every sampled row.
    uniform
        True for rows of the uniform random part (False for the top-ups of small groups).
    """

    rows: np.ndarray
    shap: np.ndarray
    values: pd.DataFrame
    expected_value: float
    raw_output: np.ndarray
    groups: dict[str, tuple[str, ...]]
    uniform: np.ndarray


@dataclass(frozen=True, eq=False)
class Explanation:
    """What drives the decisions, according to a surrogate model. See the module docstring."""

    model: ModelInfo
    fidelity: Fidelity
    sample_size: int
    random_state: int
    global_importance: tuple[FeatureImportance, ...]
    by_group: dict[str, dict[str, dict[str, float]]]
    gap: dict[str, dict[str, GapDecomposition]]
    proxies: dict[str, tuple[ProxyScore, ...]]
    recoverability: dict[str, Recoverability]
    flip_test: dict[str, dict[str, float]] | None
    sample: ExplanationSample = field(repr=False)
    surrogate: Any = field(repr=False)
    include_protected: bool = False
    reference: dict[str, str | None] = field(default_factory=dict)
    mean_output: float = 0.0
    mean_probability: float | None = None
    decision_words: str = "the positive decision"
    group_sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    min_group_size: int = MIN_GROUP_SIZE
    # Set when the table explained is a stratified sample an engine drew from a larger source.
    training_sample: StratifiedSample | None = None

    def too_small(self, attribute: str, group: str) -> bool:
        """Whether ``group`` of ``attribute`` has fewer rows with a decision than the spec's ``min_group_size``
        (the audit calls it too small to conclude)."""
        return self.group_sizes.get(attribute, {}).get(group, 0) < self.min_group_size

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (the public contract; every number finite or null)."""
        flip = None
        if self.flip_test is not None:
            flip = {a: {g: _num(s) for g, s in groups.items()} for a, groups in self.flip_test.items()}
        return {
            "schema_version": EXPLAIN_SCHEMA_VERSION,
            "model": self.model.to_dict(),
            "fidelity": self.fidelity.to_dict(),
            "sample_size": self.sample_size,
            "sampled_rows": int(self.sample.rows.size),
            "random_state": self.random_state,
            "include_protected": self.include_protected,
            "reference": dict(self.reference),
            "mean_output": _num(self.mean_output),
            "mean_probability": _num(self.mean_probability),
            "global_importance": [f.to_dict() for f in self.global_importance],
            "by_group": {
                a: {g: {f: _num(v) for f, v in feats.items()} for g, feats in groups.items()}
                for a, groups in self.by_group.items()
            },
            "gap": {a: {g: d.to_dict() for g, d in groups.items()} for a, groups in self.gap.items()},
            "proxies": {a: [p.to_dict() for p in scores] for a, scores in self.proxies.items()},
            "recoverability": {a: r.to_dict() for a, r in self.recoverability.items()},
            "flip_test": flip,
            "group_sizes": {a: dict(sizes) for a, sizes in self.group_sizes.items()},
            "min_group_size": self.min_group_size,
            "training_sample": None if self.training_sample is None else self.training_sample.to_dict(),
        }


@dataclass(frozen=True)
class LocalExplanation:
    """One row's surrogate output and its drivers.

    Attributes
    ----------
    row
        Positional index into the table.
    output
        Raw surrogate output (log-odds, or the predicted score).
    probability
        Predicted probability of the positive decision (None for a score).
    base_value
        The surrogate's base value; ``base_value + sum of shap == output``.
    contributions
        ``(feature, the row's value as text, shap)``, largest ``|shap|`` first.
    sentence
        The row's top drivers in plain words.
    """

    row: int
    output: float
    probability: float | None
    base_value: float
    contributions: tuple[tuple[str, object, float], ...]
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "row": self.row,
            "output": _num(self.output),
            "probability": _num(self.probability),
            "base_value": _num(self.base_value),
            "contributions": [{"feature": f, "value": v, "shap": _num(s)} for f, v, s in self.contributions],
            "sentence": self.sentence,
        }


# --- rows: the SHAP sample ------------------------------------------------------------------------------


def _stratified_sample(
    n: int, codes: Sequence[np.ndarray], size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A uniform sample of ``size`` positions, topped up so every group keeps min(its size, 100) rows.

    Returns the sorted positions and, aligned, whether each came from the uniform part.
    """
    if n <= size:
        return np.arange(n), np.ones(n, dtype=bool)
    chosen = np.zeros(n, dtype=bool)
    chosen[rng.choice(n, size, replace=False)] = True
    uniform = chosen.copy()
    for group_codes in codes:
        for g in range(int(group_codes.max()) + 1):
            members = group_codes == g
            need = min(int(members.sum()), MIN_SAMPLE_PER_GROUP) - int((members & chosen).sum())
            if need > 0:
                chosen[rng.choice(np.flatnonzero(members & ~chosen), need, replace=False)] = True
    rows = np.flatnonzero(chosen)
    return rows, uniform[rows]


# --- target, threshold, fidelity ---------------------------------------------------------------------


def _target(df: pd.DataFrame, spec: AuditSpec) -> tuple[str, np.ndarray, np.ndarray]:
    """Target kind, per-row target (bool decision or float score), and which rows have one."""
    if spec.score is not None:
        score = df[spec.score].to_numpy(dtype=float, na_value=np.nan)
        return "score", score, np.isfinite(score)
    positive = matches_any(df[spec.decision], spec.positive)
    return "decision", positive, df[spec.decision].notna().to_numpy()


def _check_target(kind: str, y: np.ndarray, spec: AuditSpec) -> None:
    if y.size < MIN_ROWS:
        what = "score" if kind == "score" else "decision"
        raise ExplainError(TOO_FEW_ROWS.format(minimum=MIN_ROWS, what=what, rows=y.size))
    if kind == "decision" and (y.all() or not y.any()):
        which = "positive" if y.all() else "negative"
        cond = condition(spec.decision, spec.positive)
        raise ExplainError(ONE_CLASS.format(kind=which, condition=cond, rows=y.size))
    if kind == "score" and np.ptp(y) == 0:
        raise ExplainError(CONSTANT_SCORE.format(value=float(y[0]), column=spec.score))


def _threshold(spec: AuditSpec, y: np.ndarray, positive: np.ndarray | None, kind: str) -> tuple[float, str | None]:
    """Raw-output threshold of a surrogate decision, and how it was chosen (score target)."""
    if kind == "decision":
        return 0.0, None
    if spec.threshold is not None:
        return float(spec.threshold), "the spec's threshold"
    share = float(positive.mean())
    value = float(np.quantile(y, 1 - share)) if 0 < share < 1 else float(np.median(y))
    return value, f"the score above which {share:.1%} of rows fall, the share of positive decisions"


def _fidelity(kind: str, y_test: np.ndarray, raw: np.ndarray, spec: AuditSpec) -> Fidelity:
    from sklearn.metrics import r2_score

    n_test = int(y_test.size)
    if kind == "score":
        r2 = float(r2_score(y_test, raw)) if np.ptp(y_test) > 0 else math.nan
        low = not (r2 >= FIDELITY_THRESHOLD)
        message = FIDELITY_SENTENCE["score"].format(score=spec.score, n_test=n_test, r2=_fmt(r2))
        return Fidelity(None, None, r2, low, message + (FIDELITY_CAVEAT.format(threshold=FIDELITY_THRESHOLD) * low))
    accuracy = float(((raw >= 0) == y_test).mean())
    auc = surrogate_auc(y_test, raw)
    auc = math.nan if auc is None else auc
    baseline = float(max(y_test.mean(), 1 - y_test.mean()))
    low = not (accuracy >= FIDELITY_THRESHOLD and (math.isnan(auc) or auc >= FIDELITY_THRESHOLD))
    message = FIDELITY_SENTENCE["decision"].format(n_test=n_test, accuracy=_fmt(accuracy), auc=_fmt(auc))
    message += f" Always predicting the more common decision would score {baseline:.2f}."
    if low:
        message += FIDELITY_CAVEAT.format(threshold=FIDELITY_THRESHOLD)
    return Fidelity(accuracy, auc, None, low, message, baseline_accuracy=baseline)


def _fmt(value: float) -> str:
    return "undefined" if value is None or not math.isfinite(value) else f"{value:.2f}"


# --- SHAP summaries -------------------------------------------------------------------------------------


def _global_importance(shap: np.ndarray, uniform: np.ndarray, features: Sequence[str]) -> tuple:
    mean_abs = np.abs(shap[uniform]).mean(axis=0)
    order = np.argsort(-mean_abs, kind="stable")
    return tuple(FeatureImportance(features[i], float(mean_abs[i])) for i in order)


def _group_means(values: np.ndarray, codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-group sums divided by counts: (n_groups × columns) means, and counts."""
    counts = np.bincount(codes, minlength=n_groups)
    sums = np.zeros((n_groups, values.shape[1]))
    np.add.at(sums, codes, values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None], counts


def _gap_sentence(attr: str, group: str, ref: str, total: float, top: tuple[str, float] | None, units: str) -> str:
    what = "log-odds gap" if units == "log-odds" else "gap in predicted score"
    text = f"Of the {_signed(total, units)} {what} between {attr} = {group} and {ref}"
    if top is None:
        return text + ", no feature contributes."
    return text + f", {_signed(top[1], units)} comes from {top[0]}."


def _signed(value: float, units: str) -> str:
    """``+0.90`` for log-odds; three significant digits for a score (``-0.0123``)."""
    return f"{value:+.2f}" if units == "log-odds" else f"{value:+.3g}"


def _attribute_summaries(
    name: str,
    labels: tuple[str, ...],
    codes: np.ndarray,
    ref: int | None,
    shap: np.ndarray,
    raw: np.ndarray,
    features: Sequence[str],
    units: str,
) -> tuple[dict[str, dict[str, float]], dict[str, GapDecomposition]]:
    """By-group mean SHAP and the gap decomposition of every group against the reference."""
    k = len(labels)
    prob = 1 / (1 + np.exp(-raw)) if units == "log-odds" else None
    stacked = np.column_stack([shap, raw] + ([prob] if prob is not None else []))
    means, counts = _group_means(stacked, codes, k)
    f = len(features)
    by_group = {labels[g]: {features[j]: float(means[g, j]) for j in range(f)} for g in range(k) if counts[g] > 0}
    gaps: dict[str, GapDecomposition] = {}
    if ref is None or counts[ref] == 0:
        return by_group, gaps
    for g in range(k):
        if g == ref or counts[g] == 0:
            continue
        parts = means[g, :f] - means[ref, :f]
        total = float(means[g, f] - means[ref, f])
        if abs(parts.sum() - total) > GAP_CHECK * max(1.0, abs(total)):
            raise ExplainError(GAP_NOT_ADDITIVE.format(parts=float(parts.sum()), total=total, attr=name, group=g))
        order = np.argsort(-np.abs(parts), kind="stable")
        contributions = tuple((features[j], float(parts[j])) for j in order)
        top = contributions[0] if contributions and contributions[0][1] != 0 else None
        gaps[labels[g]] = GapDecomposition(
            reference=labels[ref],
            total=total,
            total_probability=None if prob is None else float(means[g, f + 1] - means[ref, f + 1]),
            contributions=contributions,
            sentence=_gap_sentence(name, labels[g], labels[ref], total, top, units),
            n_group=int(counts[g]),
            n_reference=int(counts[ref]),
        )
    return by_group, gaps


# --- proxies ------------------------------------------------------------------------------------------------


def _binned(series: pd.Series) -> np.ndarray:
    """Codes for mutual information: quantile bins for numbers, categories for text; missing is a bin."""
    if is_numeric(series) and not pd.api.types.is_bool_dtype(series.dtype):
        numbers = as_float(series).to_numpy()
        known = numbers[np.isfinite(numbers)]
        if known.size == 0:
            return np.zeros(series.size, dtype=np.int64)
        edges = np.unique(np.quantile(known, np.linspace(0, 1, PROXY_BINS + 1)[1:-1]))
        codes = np.searchsorted(edges, numbers, side="right")
        return np.where(np.isfinite(numbers), codes, edges.size + 1).astype(np.int64)
    codes, _ = pd.factorize(series, use_na_sentinel=True)
    return np.where(codes < 0, codes.max() + 1, codes).astype(np.int64)


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def _nmi(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised mutual information (arithmetic mean of the entropies), as scikit-learn's default."""
    kb = int(b.max()) + 1
    joint = np.bincount(a * kb + b, minlength=(int(a.max()) + 1) * kb).reshape(-1, kb)
    ha, hb = _entropy(joint.sum(axis=1)), _entropy(joint.sum(axis=0))
    if ha == 0 or hb == 0:
        return 1.0 if ha == hb else 0.0
    mutual = ha + hb - _entropy(joint.ravel())
    return float(min(1.0, max(0.0, mutual / ((ha + hb) / 2))))


def _proxies(binned: Mapping[str, np.ndarray], codes: np.ndarray, features: Sequence[str]) -> tuple[ProxyScore, ...]:
    scores = [(c, _nmi(codes, binned[c])) for c in features]
    scores.sort(key=lambda item: -item[1])
    return tuple(ProxyScore(c, s, s >= PROXY_THRESHOLD) for c, s in scores)


def _recoverability(name: str, x: pd.DataFrame, codes: np.ndarray, labels: Sequence[str], seed: int) -> Recoverability:
    from sklearn.metrics import balanced_accuracy_score

    present = np.unique(codes)
    chance = 1 / present.size
    if present.size < 2 or x.shape[1] == 0:
        sentence = f"{name} cannot be predicted: it has one group, or there are no other columns."
        return Recoverability(None, "balanced_accuracy", chance, False, sentence)
    rng = np.random.default_rng(seed)
    train, test = holdout_split(codes, True, rng)
    train = train[:MAX_RECOVER_ROWS] if train.size > MAX_RECOVER_ROWS else train
    y = np.searchsorted(present, codes)
    weights = (1 / np.bincount(y[train], minlength=present.size))[y[train]]
    kind = "decision" if present.size == 2 else "multiclass"
    booster = fit_booster(x.iloc[train], y[train], kind, seed, RECOVER_PARAMS, weight=weights)
    predicted = booster.predict(x.iloc[test])
    guess = (predicted >= 0.5).astype(int) if present.size == 2 else predicted.argmax(axis=1)
    score = float(balanced_accuracy_score(y[test], guess))
    flag = score - chance >= RECOVERABLE_MARGIN
    template = RECOVERABLE_SENTENCE if flag else NOT_RECOVERABLE_SENTENCE
    return Recoverability(
        score, "balanced_accuracy", chance, flag, template.format(attr=name, score=score, chance=chance)
    )


# --- flip test -------------------------------------------------------------------------------------------------


def _reference_value(series: pd.Series, codes: np.ndarray, ref: int, binned: bool) -> Any:
    """A value of the column that puts a row in the reference group (the median for a binned number)."""
    members = series.iloc[np.flatnonzero(codes == ref)]
    if binned:
        return float(np.nanmedian(as_float(members).to_numpy()))
    return members.iloc[0]


def _flip_shares(
    surrogate: Surrogate, table: pd.DataFrame, column: str, value: Any, codes: np.ndarray, labels: Sequence[str]
) -> dict[str, float]:
    """Per group, the share of surrogate decisions that change when ``column`` is set to ``value``."""
    before = surrogate.decide(surrogate.raw(table))
    if column not in surrogate.prep.features:
        changed = np.zeros(len(table), dtype=bool)
    else:
        flipped = table.copy()
        flipped[column] = pd.Series([value] * len(table), index=table.index, dtype=table[column].dtype)
        changed = surrogate.decide(surrogate.raw(flipped)) != before
    counts = np.bincount(codes, minlength=len(labels))
    hits = np.bincount(codes, weights=changed.astype(float), minlength=len(labels))
    return {labels[g]: float(hits[g] / counts[g]) for g in range(len(labels)) if counts[g] > 0}


# --- the entry points ------------------------------------------------------------------------------------------


def _check_options(sample_size: object, include_protected: object, random_state: object) -> None:
    check_whole("explain()", "sample_size", sample_size, 1, f"Use e.g. sample_size={SAMPLE_SIZE}.")
    check_flag("explain()", "include_protected", include_protected)
    check_whole("explain()", "random_state", random_state, 0, f"Use e.g. random_state={SEED}.")


def _groupings(df: pd.DataFrame, spec: AuditSpec) -> list[Grouping]:
    return [
        Grouping.from_codes(encode_groups(df[a.column], bins=a.bins, quantiles=a.quantiles)) for a in spec.protected
    ]


def _references(
    df: pd.DataFrame, spec: AuditSpec, groupings: Sequence[Grouping]
) -> tuple[list[int | None], list[np.ndarray]]:
    """Each attribute's reference group, chosen exactly as the audit chooses it, and its groups' sizes (rows
    with a decision, as the audit counts them)."""
    state = outcomes(df, spec)
    out, sizes = [], []
    for attr, grouping in zip(spec.protected, groupings, strict=True):
        counts = count_groups(grouping, state).for_metrics(spec.positive_is_favorable)
        ref = evaluate(counts, min_group_size=spec.min_group_size, reference=attr.reference).reference
        out.append(ref)
        sizes.append(np.asarray(counts.n, dtype=np.int64))
    return out, sizes


def _decision_words(spec: AuditSpec) -> str:
    """What the surrogate's probability is the chance of: ``"being approved"``, ``"being flagged (…)"``."""
    words = decision_words(spec)
    return f"being {words.verb}" if words.named else f"being {words.verb} ({words.condition})"


# --- the stages -------------------------------------------------------------------------------------------------
# explain() runs four stages; the Drivers page runs them one by one (showing each as it completes and drawing the
# first views before the proxies are computed). Each stage hands the random generator's state on to the next, so
# the stages run one by one give exactly explain()'s result.


def _rng(state: Mapping[str, Any]) -> np.random.Generator:
    """A generator continuing from ``state`` (the stage's own copy: a cached stage is never advanced)."""
    generator = np.random.default_rng()
    generator.bit_generator.state = dict(state)
    return generator


@dataclass(frozen=True, eq=False)
class SurrogateStage:
    """Stage 1 of :func:`explain`: the surrogate fitted and tested, the groups and their references.

    ``seconds`` is how long the fit took and ``fit_units`` its size (training rows × features × trees),
    so later stages can be estimated from this data's measured speed (:func:`estimate_seconds`).
    """

    df: pd.DataFrame = field(repr=False)
    spec: AuditSpec
    kind: Literal["decision", "score"]
    positions: np.ndarray = field(repr=False)
    train: np.ndarray = field(repr=False)
    test: np.ndarray = field(repr=False)
    surrogate: Surrogate = field(repr=False)
    model: ModelInfo
    fidelity: Fidelity
    groupings: tuple[Grouping, ...] = field(repr=False)
    references: tuple[int | None, ...]
    group_sizes: dict[str, dict[str, int]]
    codes: tuple[np.ndarray, ...] = field(repr=False)
    include_protected: bool
    random_state: int
    rng_state: Mapping[str, Any] = field(repr=False)
    seconds: float = 0.0
    predict_seconds_per_row: float = 0.0

    @property
    def fit_units(self) -> float:
        """Training rows × features × trees of the surrogate's fit."""
        return float(self.train.size * len(self.model.features) * SURROGATE_PARAMS["n_estimators"])

    def table(self) -> pd.DataFrame:
        """The rows with a decision (or score)."""
        return self.df.iloc[self.positions]


@dataclass(frozen=True, eq=False)
class ShapStage:
    """Stage 2 of :func:`explain`: SHAP values of the stratified sample, their summaries by group and the gaps."""

    sample_size: int
    rows: np.ndarray = field(repr=False)
    uniform: np.ndarray = field(repr=False)
    shap: np.ndarray = field(repr=False)
    expected_value: float
    raw_output: np.ndarray = field(repr=False)
    by_group: dict[str, dict[str, dict[str, float]]]
    gap: dict[str, dict[str, GapDecomposition]]
    rng_state: Mapping[str, Any] = field(repr=False)
    seconds: float = 0.0


@dataclass(frozen=True, eq=False)
class ProxyStage:
    """Stage 3 of :func:`explain`: per protected attribute, its proxies and how well the features recover it."""

    proxies: dict[str, tuple[ProxyScore, ...]]
    recoverability: dict[str, Recoverability]
    seconds: float = 0.0


def explain_surrogate(
    df: pd.DataFrame,
    spec: AuditSpec,
    *,
    include_protected: bool = False,
    random_state: int = SEED,
    progress: Callable[[int, int], None] | None = None,
) -> SurrogateStage:
    """Stage 1 of :func:`explain`: fit the surrogate and measure its fidelity on held-out rows.

    Parameters
    ----------
    df, spec, include_protected, random_state
        As :func:`explain`.
    progress
        Called as ``progress(trees_done, trees)`` while the surrogate trains.

    Returns
    -------
    SurrogateStage
    """
    check_flag("explain()", "include_protected", include_protected)
    check_whole("explain()", "random_state", random_state, 0, f"Use e.g. random_state={SEED}.")
    started = time.perf_counter()
    df, spec = checked_table(df, spec)  # spelling variants merged if the spec asks
    kind, target, known = _target(df, spec)
    positions = np.flatnonzero(known)
    table = df.iloc[positions]
    y = target[known]
    _check_target(kind, y, spec)
    columns = feature_columns(df, spec, include_protected)
    if not columns:
        raise ExplainError(NO_FEATURES.format(dropped=""))
    rng = np.random.default_rng(random_state)
    train, test = holdout_split(y, kind == "decision", rng)
    prep, notes = prepare_features(table.iloc[train], columns)
    if not prep.features:
        raise ExplainError(NO_FEATURES.format(dropped=" after leaving out: " + " ".join(notes)))
    booster = fit_booster(
        prep.frame(table.iloc[train]), y[train], kind, random_state, SURROGATE_PARAMS, progress=progress
    )
    fitted = time.perf_counter()
    positive = matches_any(df[spec.decision], spec.positive)[known] if spec.decision else None
    threshold, rule = _threshold(spec, y, positive, kind)
    surrogate = Surrogate(booster, prep, kind, threshold)
    raw_test = surrogate.raw(table.iloc[test])
    per_row = (time.perf_counter() - fitted) / max(1, test.size)
    fidelity = _fidelity(kind, y[test], raw_test, spec)
    groupings = _groupings(df, spec)
    references, sizes = _references(df, spec, groupings)
    model = ModelInfo(
        kind="lightgbm",
        target=kind,
        units="log-odds" if kind == "decision" else "score",
        features=prep.features,
        n_rows=len(table),
        n_train=int(train.size),
        n_test=int(test.size),
        threshold=threshold if kind == "score" else None,
        threshold_rule=rule,
        notes=notes,
    )
    return SurrogateStage(
        df=df,
        spec=spec,
        kind=kind,
        positions=positions,
        train=train,
        test=test,
        surrogate=surrogate,
        model=model,
        fidelity=fidelity,
        groupings=tuple(groupings),
        references=tuple(references),
        group_sizes={
            g.name: {g.labels[i]: int(n[i]) for i in range(len(g.labels))}
            for g, n in zip(groupings, sizes, strict=True)
        },
        codes=tuple(g.codes[known] for g in groupings),
        include_protected=include_protected,
        random_state=random_state,
        rng_state=rng.bit_generator.state,
        seconds=fitted - started,
        predict_seconds_per_row=per_row,
    )


def explain_shap(
    stage: SurrogateStage, *, sample_size: int = SAMPLE_SIZE, progress: Callable[[int, int], None] | None = None
) -> ShapStage:
    """Stage 2 of :func:`explain`: SHAP values of a stratified sample, by group, and the gaps decomposed.

    Parameters
    ----------
    stage
        From :func:`explain_surrogate`.
    sample_size
        As :func:`explain`.
    progress
        Called as ``progress(rows_done, rows)`` after each chunk of rows (the first chunk is small, so that
        the time the rest will take can be estimated early).

    Returns
    -------
    ShapStage
    """
    check_whole("explain()", "sample_size", sample_size, 1, f"Use e.g. sample_size={SAMPLE_SIZE}.")
    started = time.perf_counter()
    rng = _rng(stage.rng_state)
    rows, uniform = _stratified_sample(stage.positions.size, stage.codes, sample_size, rng)
    contrib = _contributions(stage.surrogate, stage.table().iloc[rows], progress)
    shap_values, expected = contrib[:, :-1], float(contrib[0, -1])
    raw = shap_values.sum(axis=1) + expected
    by_group, gap = {}, {}
    for grouping, ref, attr_codes in zip(stage.groupings, stage.references, stage.codes, strict=True):
        by_group[grouping.name], gap[grouping.name] = _attribute_summaries(
            grouping.name, grouping.labels, attr_codes[rows], ref, shap_values, raw, stage.model.features,
            stage.model.units,
        )  # fmt: skip
    return ShapStage(
        sample_size=sample_size,
        rows=rows,
        uniform=uniform,
        shap=shap_values,
        expected_value=expected,
        raw_output=raw,
        by_group=by_group,
        gap=gap,
        rng_state=rng.bit_generator.state,
        seconds=time.perf_counter() - started,
    )


def _contributions(surrogate: Surrogate, rows: pd.DataFrame, progress: Callable[[int, int], None] | None) -> np.ndarray:
    """SHAP values (and the base value) of ``rows``, in chunks when someone is told of the progress."""
    if progress is None:
        return surrogate.contributions(rows)
    parts, done = [], 0
    for size in _chunks(len(rows)):
        parts.append(surrogate.contributions(rows.iloc[done : done + size]))
        done += size
        progress(done, len(rows))
    return np.concatenate(parts)


def _chunks(n: int) -> list[int]:
    """Chunk sizes for ``n`` rows: a small first chunk (an early estimate of the rest), then larger ones."""
    sizes, done = [], 0
    while done < n:
        size = min(n - done, FIRST_CHUNK if not sizes else CHUNK)
        sizes.append(size)
        done += size
    return sizes


def _pool(stage: SurrogateStage, shap: ShapStage, rng: np.random.Generator) -> np.ndarray:
    """The rows the recoverability models learn from: the SHAP sample, or a random 20,000 of a larger table."""
    n = stage.positions.size
    return shap.rows if n <= MAX_RECOVER_ROWS else np.sort(rng.choice(n, MAX_RECOVER_ROWS, replace=False))


def proxy_units(stage: SurrogateStage) -> float:
    """Size of stage 3's model fits (rows × features × trees, times the classes of a multiclass attribute)."""
    rows = min(stage.positions.size, MAX_RECOVER_ROWS) * (1 - TEST_SHARE)
    features = max(1, len(stage.model.features) - 1)
    units = 0.0
    for grouping in stage.groupings:
        classes = len(grouping.labels)
        units += rows * features * RECOVER_PARAMS["n_estimators"] * (1 if classes <= 2 else classes)
    return units


def estimate_seconds(stage: SurrogateStage, what: Literal["proxies", "flip"]) -> float:
    """Seconds stage 3 (``"proxies"``) or 4 (``"flip"``) should take, from the speed measured in stage 1.

    Model fits are assumed to cost the same per row × feature × tree as the surrogate's fit; the flip test the
    same per row predicted as the fidelity check.
    """
    if what == "proxies":
        return stage.seconds / max(1.0, stage.fit_units) * proxy_units(stage)
    rows = stage.positions.size if stage.positions.size <= MAX_FLIP_ROWS else stage.train.size
    return 2 * rows * len(stage.groupings) * stage.predict_seconds_per_row


def explain_proxies(
    stage: SurrogateStage, shap: ShapStage, *, progress: Callable[[int, int], None] | None = None
) -> ProxyStage:
    """Stage 3 of :func:`explain`: each protected attribute's proxies and its recoverability.

    Parameters
    ----------
    stage, shap
        From :func:`explain_surrogate` and :func:`explain_shap`.
    progress
        Called as ``progress(attributes_done, attributes)``.

    Returns
    -------
    ProxyStage
    """
    started = time.perf_counter()
    rng = _rng(shap.rng_state)
    table, features, prep = stage.table(), stage.model.features, stage.surrogate.prep
    pool = _pool(stage, shap, rng)
    train = stage.train
    proxy_rows = train[:MAX_PROXY_ROWS] if train.size > MAX_PROXY_ROWS else train
    binned = {c: _binned(table[c].iloc[proxy_rows]) for c in features}
    pool_frame = prep.frame(table.iloc[pool])
    proxies, recover = {}, {}
    for i, (grouping, attr_codes) in enumerate(zip(stage.groupings, stage.codes, strict=True)):
        name = grouping.name
        others = [c for c in features if c != name]
        proxies[name] = _proxies(binned, attr_codes[proxy_rows], others)
        recover[name] = _recoverability(
            name, pool_frame[prep.names(others)], attr_codes[pool], grouping.labels, stage.random_state
        )
        if progress is not None:
            progress(i + 1, len(stage.groupings))
    return ProxyStage(proxies, recover, time.perf_counter() - started)


def explain_flips(
    stage: SurrogateStage, *, progress: Callable[[int, int], None] | None = None
) -> dict[str, dict[str, float]] | None:
    """Stage 4 of :func:`explain`: the flip test (None unless the surrogate sees the protected attributes).

    Parameters
    ----------
    stage
        From :func:`explain_surrogate`.
    progress
        Called as ``progress(attributes_done, attributes)``.

    Returns
    -------
    dict or None
        attribute → group → share of surrogate decisions that change.
    """
    if not stage.include_protected:
        return None
    table = stage.table()
    flip_rows = np.arange(len(table)) if len(table) <= MAX_FLIP_ROWS else stage.train
    flip = {}
    items = list(zip(stage.spec.protected, stage.groupings, stage.references, stage.codes, strict=True))
    for i, (attr, grouping, ref, attr_codes) in enumerate(items):
        if ref is not None:
            value = _reference_value(stage.df[grouping.name], grouping.codes, ref, attr.binned)
            flip[grouping.name] = _flip_shares(
                stage.surrogate, table.iloc[flip_rows], grouping.name, value, attr_codes[flip_rows], grouping.labels
            )
        if progress is not None:
            progress(i + 1, len(items))
    return flip


def explanation_from(
    stage: SurrogateStage,
    shap: ShapStage,
    proxies: ProxyStage | None = None,
    flips: dict[str, dict[str, float]] | None = None,
) -> Explanation:
    """The :class:`Explanation` of the stages run so far (without stage 3, no proxies or recoverability yet).

    Parameters
    ----------
    stage, shap, proxies, flips
        From :func:`explain_surrogate`, :func:`explain_shap`, :func:`explain_proxies`, :func:`explain_flips`.

    Returns
    -------
    Explanation
    """
    positions, rows, features = stage.positions, shap.rows, stage.model.features
    groupings, raw, uniform = stage.groupings, shap.raw_output, shap.uniform
    sample = ExplanationSample(
        rows=positions[rows],
        shap=shap.shap,
        values=stage.df.iloc[positions[rows]][list(features)].set_axis(positions[rows]),
        expected_value=shap.expected_value,
        raw_output=raw,
        groups={g.name: tuple(g.labels[c] for c in c_[rows]) for g, c_ in zip(groupings, stage.codes, strict=True)},
        uniform=uniform,
    )
    return Explanation(
        model=stage.model,
        fidelity=stage.fidelity,
        sample_size=shap.sample_size,
        random_state=stage.random_state,
        global_importance=_global_importance(shap.shap, uniform, features),
        by_group=shap.by_group,
        gap=shap.gap,
        proxies={} if proxies is None else proxies.proxies,
        recoverability={} if proxies is None else proxies.recoverability,
        flip_test=flips if stage.include_protected else None,
        sample=sample,
        surrogate=stage.surrogate,
        include_protected=stage.include_protected,
        reference={
            g.name: None if r is None else g.labels[r] for g, r in zip(groupings, stage.references, strict=True)
        },
        mean_output=float(raw[uniform].mean()),
        mean_probability=float((1 / (1 + np.exp(-raw[uniform]))).mean()) if stage.kind == "decision" else None,
        decision_words=_decision_words(stage.spec),
        group_sizes=stage.group_sizes,
        min_group_size=stage.spec.min_group_size,
    )


def explain(
    df: pd.DataFrame,
    spec: AuditSpec,
    *,
    sample_size: int = SAMPLE_SIZE,
    include_protected: bool = False,
    random_state: int = SEED,
) -> Explanation:
    """Explain what drives the decisions with a LightGBM surrogate and its SHAP values.

    Runs :func:`explain_surrogate`, :func:`explain_shap`, :func:`explain_proxies` and :func:`explain_flips`
    and combines them (:func:`explanation_from`).

    Parameters
    ----------
    df
        The table (as :func:`analysis.load_table` returns it).
    spec
        Decision (or score), protected attributes and features.
    sample_size
        Rows to compute SHAP values for (uniform, topped up so every group keeps
        min(its size, 100) rows).
    include_protected
        Give the surrogate the protected attributes too, and run the flip test.
    random_state
        Seed of the split, the samples and the models.

    Returns
    -------
    Explanation

    Raises
    ------
    OptionError
        When an option is out of range (also a SpecError).
    SpecError
        When the spec does not fit the table.
    ExplainError
        When the data cannot train a surrogate (no features, one class, too few rows).
    """
    _check_options(sample_size, include_protected, random_state)
    stage = explain_surrogate(df, spec, include_protected=include_protected, random_state=random_state)
    shap = explain_shap(stage, sample_size=sample_size)
    return explanation_from(stage, shap, explain_proxies(stage, shap), explain_flips(stage))


def _value_text(value: object) -> str:
    key = value_key(value)
    return MISSING_GROUP if key is None else key


def _local_sentence(e: Explanation, output: float, probability: float | None, top: Sequence[tuple]) -> str:
    units = e.model.units
    if probability is not None:
        text = (
            f"This row's predicted chance of {e.decision_words} is {probability:.2f} (average {e.mean_probability:.2f})"
        )
    else:
        text = f"This row's predicted score is {output:.3g} (average {e.mean_output:.3g})"
    down = [c for c in top if c[2] < 0]
    up = [c for c in top if c[2] > 0]
    parts = []
    if down:
        parts.append(
            f"the largest push down came from {down[0][0]} = {down[0][1]} ({_signed(down[0][2], units)} {units})"
        )
    if up:
        parts.append(f"the largest push up from {up[0][0]} = {up[0][1]} ({_signed(up[0][2], units)} {units})")
    return text + ("; " + " and ".join(parts) if parts else "") + "."


def explain_row(explanation: Explanation, df: pd.DataFrame, row: int) -> LocalExplanation:
    """One row's surrogate output and its drivers.

    Parameters
    ----------
    explanation
        From :func:`explain` on ``df``.
    df
        The same table.
    row
        Positional index into ``df``.

    Returns
    -------
    LocalExplanation
    """
    if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not 0 <= row < len(df):
        raise ExplainError(BAD_ROW.format(last=len(df) - 1, got=row))
    surrogate: Surrogate = explanation.surrogate
    missing = [c for c in surrogate.prep.features if c not in df.columns]
    if missing:
        raise ExplainError(MISSING_COLUMNS.format(columns=", ".join(repr(c) for c in missing)))
    one = df.iloc[[int(row)]]
    contrib = surrogate.contributions(one)[0]
    shap_values, base = contrib[:-1], float(contrib[-1])
    output = float(shap_values.sum() + base)
    probability = 1 / (1 + math.exp(-output)) if surrogate.target == "decision" else None
    order = np.argsort(-np.abs(shap_values), kind="stable")
    features = surrogate.prep.features
    contributions = tuple((features[j], _value_text(one[features[j]].iloc[0]), float(shap_values[j])) for j in order)
    return LocalExplanation(
        row=int(row),
        output=output,
        probability=probability,
        base_value=base,
        contributions=contributions,
        sentence=_local_sentence(explanation, output, probability, contributions),
    )


# --- a slice against the rest -------------------------------------------------------------------------------


def explain_slice(
    stage: SurrogateStage,
    mask: np.ndarray,
    *,
    name: str,
    sample_size: int = SAMPLE_SIZE,
    random_state: int = SEED,
) -> GapDecomposition:
    """Why decisions in a slice differ from the rest: the gap in mean surrogate output, split by feature.

    SHAP values are computed for a uniform random sample of the slice's rows and, apart, of the rest's (each at
    most half of ``sample_size``), so a small slice is explained from as many of its rows as the budget allows
    and neither side is weighted by the protected groups' top-ups of the SHAP sample.

    Parameters
    ----------
    stage
        From :func:`explain_surrogate`.
    mask
        One bool per row of the table explained (:func:`analysis.slices.slice_mask` on it).
    name
        The slice's name, for the sentence (``"region = South and income = <40100"``).
    sample_size, random_state
        Rows explained in all, and the seed of their draw.

    Returns
    -------
    GapDecomposition
        Against ``reference="the rest"``; ``n_group`` and ``n_reference`` are the rows explained on each side.

    Raises
    ------
    ExplainError
        When the mask does not fit the table, or one side has no row with a decision.
    """
    check_whole("explain_slice()", "sample_size", sample_size, 2, f"Use e.g. sample_size={SAMPLE_SIZE}.")
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (len(stage.df),):
        raise ExplainError(SLICE_MASK_SIZE.format(got=mask.size, rows=len(stage.df)))
    inside = mask[stage.positions]
    rng = np.random.default_rng(random_state)
    sides = []
    for where, members in (("in", np.flatnonzero(inside)), ("outside", np.flatnonzero(~inside))):
        if members.size == 0:
            raise ExplainError(SLICE_EMPTY.format(where=where, name=name))
        take = min(members.size, sample_size // 2)
        sides.append(np.sort(rng.choice(members, take, replace=False)))
    units = stage.model.units
    means = []
    for rows in sides:
        contrib = stage.surrogate.contributions(stage.table().iloc[rows])
        shap, raw = contrib[:, :-1], contrib[:, :-1].sum(axis=1) + contrib[0, -1]
        prob = 1 / (1 + np.exp(-raw)) if units == "log-odds" else None
        means.append((shap.mean(axis=0), float(raw.mean()), None if prob is None else float(prob.mean())))
    (slice_shap, slice_raw, slice_prob), (rest_shap, rest_raw, rest_prob) = means
    parts, total = slice_shap - rest_shap, slice_raw - rest_raw
    features = stage.model.features
    order = np.argsort(-np.abs(parts), kind="stable")
    contributions = tuple((features[j], float(parts[j])) for j in order)
    top = contributions[0] if contributions and contributions[0][1] != 0 else None
    what = "log-odds gap" if units == "log-odds" else "gap in predicted score"
    sentence = f"Of the {_signed(total, units)} {what} between the slice {name} and the rest of the data"
    sentence += ", no feature contributes." if top is None else f", {_signed(top[1], units)} comes from {top[0]}."
    return GapDecomposition(
        reference="the rest",
        total=float(total),
        total_probability=None if slice_prob is None else slice_prob - rest_prob,
        contributions=contributions,
        sentence=sentence,
        n_group=int(sides[0].size),
        n_reference=int(sides[1].size),
    )
