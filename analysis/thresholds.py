"""Per-group thresholds on a score: the curves, and what-if queries on them.

:func:`threshold_curves` sorts each group's scores once and keeps cumulative counts (positive and
negative labels, current positive and negative decisions) along them, so the confusion counts and
the flips at any threshold come from one ``np.searchsorted`` per group. The decision is
``score ≥ threshold``. Everything else reads these curves:

- :func:`what_if`: every rate, disparity and flip count at given per-group thresholds (the metrics
  are :func:`analysis.metrics.evaluate`'s);
- :func:`baseline`: the same for today's decisions;
- the exact optimizer and the frontier are in :mod:`analysis.optimizer`.

Metrics agree with :func:`analysis.audit.audit` on the same table with the decision column
replaced by ``score ≥ threshold`` of the row's group. On an :class:`analysis.engine.CountedTable`
every count is in source rows (each counted row weighs what it stands for), so every answer equals
the answer on the rows it counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from analysis.counts import outcomes
from analysis.engine import CountedTable, ScoreResolution
from analysis.errors import SpecError
from analysis.groups import encode_groups, quantile_edges
from analysis.metrics import (
    MIN_GROUP_SIZE,
    Counts,
    MetricTable,
    MetricValue,
    evaluate,
)
from analysis.metrics import rates as metric_rates
from analysis.options import check_costs
from analysis.spec import AuditSpec, ProtectedAttribute
from analysis.validation import run_checks
from analysis.values import matches_any
from analysis.wording import Remedy

__all__ = [
    "Start",
    "ThresholdCurves",
    "WhatIf",
    "WhatIfGroup",
    "attribute_of",
    "baseline",
    "changed_decisions",
    "checked_counts",
    "counted_spec",
    "curves_from_arrays",
    "reproducing_thresholds",
    "threshold_curves",
    "what_if",
]

NEEDS_SCORE = (
    "Threshold curves need a score column, but the spec names none. Name the column holding the model's score "
    "(higher = more likely positive)."
)
NOT_PROTECTED = "Attribute '{attribute}' is not a protected attribute of the spec; choose one of {columns}."
NO_SCORED_ROWS = "No row has a finite score in '{column}', so there are no thresholds to move."
UNKNOWN_GROUPS = "Thresholds given for unknown group(s) {groups}; the groups are {known}."
MISSING_GROUPS = "No threshold given for group(s) {groups}; give one per group, or a single number for all."
BAD_THRESHOLD = "Threshold for group {group!r} must be a finite number, got {got!r}."
LEFT_OUT_NO_SCORE = "no score ({column} is missing): left out of the threshold curves"
FLIPS_NOTE = "flips count rows with a current decision and a score"
NOT_A_TABLE = "Expected a pandas DataFrame or an analysis.engine.CountedTable, got {got}."


# --- curves -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ThresholdCurves:
    """Each group's scores sorted once, with cumulative counts along them.

    Rows are sorted by (group, score); group ``g`` holds rows ``offsets[g]:offsets[g + 1]``.
    ``cum_*[k]`` counts rows among the first ``k`` sorted rows (length ``rows + 1``), so a group's
    count below a threshold is ``cum[offsets[g] + k] − cum[offsets[g]]`` at the position ``k`` of
    its first score ≥ the threshold.

    A row may stand for several source rows (a :class:`analysis.engine.CountedTable`): then
    ``cum_rows`` holds the cumulative source rows and every ``cum_*`` counts source rows. Every count
    the curves give — :attr:`sizes`, :meth:`below`, :meth:`counts_at_below`, :meth:`candidates`,
    ``current`` — is in source rows; positions are internal (:meth:`position`).

    Attributes
    ----------
    attribute, labels
        The protected column and its groups (those with at least one scored row).
    scores, offsets
        Sorted scores and group boundaries.
    cum_label_pos, cum_label_neg
        Rows with a positive / negative label (None without a label).
    cum_current_pos, cum_current_neg
        Rows whose current decision is positive / negative (rows without a decision in neither).
    current
        The current decisions' counts per group over scored rows with a decision: ``n``,
        ``selected`` and, with a label, ``tp``, ``fp``, ``tn``, ``fn`` (the baseline).
    positive_is_favorable, reference, min_group_size
        From the spec.
    left_out
        ``{"rows", "reason"}`` for rows without a score, and for groups without scored rows.
    cum_rows
        Cumulative source rows along the sorted rows; None when each row is one source row.
    resolution
        How the score was counted (:class:`analysis.engine.ScoreResolution`); on a grid (not exact),
        every candidate threshold is a grid point, where the counts are those of the raw score.
    """

    attribute: str
    labels: tuple[str, ...]
    scores: np.ndarray
    offsets: np.ndarray
    cum_label_pos: np.ndarray | None
    cum_label_neg: np.ndarray | None
    cum_current_pos: np.ndarray
    cum_current_neg: np.ndarray
    current: dict[str, np.ndarray] = field(default_factory=dict)
    positive_is_favorable: bool = True
    reference: str | None = None
    min_group_size: int = MIN_GROUP_SIZE
    left_out: tuple[dict[str, Any], ...] = ()
    cum_rows: np.ndarray | None = None
    resolution: ScoreResolution | None = None

    @property
    def has_label(self) -> bool:
        """Whether error rates are available."""
        return self.cum_label_pos is not None

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.labels)

    @property
    def sizes(self) -> np.ndarray:
        """Scored (source) rows per group."""
        if self.cum_rows is None:
            return np.diff(self.offsets)
        return self._group_total(self.cum_rows)

    @property
    def weighted(self) -> bool:
        """Whether a row may stand for several source rows."""
        return self.cum_rows is not None

    @property
    def grid(self) -> bool:
        """Whether the scores were rounded to a grid (candidate thresholds are then grid points)."""
        return self.resolution is not None and not self.resolution.exact

    def _group_total(self, cum: np.ndarray) -> np.ndarray:
        return cum[self.offsets[1:]] - cum[self.offsets[:-1]]

    def _rows(self, g: int, position: np.ndarray) -> np.ndarray:
        """Source rows among group ``g``'s first ``position`` sorted rows."""
        if self.cum_rows is None:
            return position
        start = self.offsets[g]
        return self.cum_rows[start + position] - self.cum_rows[start]

    def position(self, g: int, below: np.ndarray) -> np.ndarray:
        """The sorted position in group ``g`` after its lowest ``below`` source rows (``below`` itself unweighted).

        ``below`` must fall between rows (as :meth:`below` and :meth:`candidates` give it).
        """
        if self.cum_rows is None:
            return below
        start, end = self.offsets[g], self.offsets[g + 1]
        # Weights are ≥ 1, so the cumulative rows rise strictly and each count is one position.
        return np.searchsorted(self.cum_rows[start : end + 1], self.cum_rows[start] + below, side="left")

    def below_at(self, g: int, thresholds: np.ndarray) -> np.ndarray:
        """Group ``g``'s source rows with score < each threshold (vectorised in ``thresholds``)."""
        lo, hi = self.offsets[g], self.offsets[g + 1]
        return self._rows(g, np.searchsorted(self.scores[lo:hi], thresholds, side="left"))

    def below(self, thresholds: np.ndarray) -> np.ndarray:
        """Per group, the number of its (source) rows with score < its threshold (one searchsorted each)."""
        out = np.empty(self.n_groups, dtype=np.int64)
        for g in range(self.n_groups):
            lo, hi = self.offsets[g], self.offsets[g + 1]
            out[g] = np.searchsorted(self.scores[lo:hi], thresholds[g], side="left")
        if self.cum_rows is not None:
            out = self.cum_rows[self.offsets[:-1] + out] - self.cum_rows[self.offsets[:-1]]
        return out

    def counts_at_below(self, g: int, below: np.ndarray) -> dict[str, np.ndarray]:
        """Group ``g``'s counts when its lowest ``below`` (source) rows are decided negative (vectorised)."""
        start = self.offsets[g]
        n = self._rows(g, self.offsets[g + 1] - start)
        idx = start + self.position(g, below)

        def above(cum: np.ndarray) -> np.ndarray:
            return cum[self.offsets[g + 1]] - cum[idx]

        out = {"n": np.full(np.shape(below), n), "selected": n - below}
        if self.has_label:
            out["tp"], out["fp"] = above(self.cum_label_pos), above(self.cum_label_neg)
            out["fn"] = self.cum_label_pos[idx] - self.cum_label_pos[start]
            out["tn"] = self.cum_label_neg[idx] - self.cum_label_neg[start]
        out["to_negative"] = self.cum_current_pos[idx] - self.cum_current_pos[start]
        out["to_positive"] = above(self.cum_current_neg)
        return out

    def candidates(self, g: int) -> tuple[np.ndarray, np.ndarray]:
        """Group ``g``'s distinct thresholds (each distinct score, then one above the top), source rows below each."""
        s = self.scores[self.offsets[g] : self.offsets[g + 1]]
        first = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        thresholds = np.append(s[first], self.above_top(s[-1]))
        return thresholds, self._rows(g, np.append(first, s.size))

    def above_top(self, top: float) -> float:
        """The candidate above the top score ``top``: the next float, or on a grid the next grid point."""
        if not self.grid:
            return np.nextafter(top, np.inf)
        step, anchor = self.resolution.step, self.resolution.anchor
        return anchor + (round((top - anchor) / step) + 1) * step

    def current_selected(self) -> np.ndarray:
        """Current positive decisions per group (scored source rows)."""
        return self._group_total(self.cum_current_pos)


def attribute_of(spec: AuditSpec, attribute: str | None) -> ProtectedAttribute:
    """The spec's protected attribute named ``attribute`` (default: the first), or a SpecError naming the choices."""
    if not spec.protected:
        raise SpecError(NOT_PROTECTED.format(attribute=attribute, columns=[]))
    if attribute is None:
        return spec.protected[0]
    for attr in spec.protected:
        if attr.column == attribute:
            return attr
    raise SpecError(NOT_PROTECTED.format(attribute=attribute, columns=list(spec.protected_columns)))


def _cumulative(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    out = np.zeros(mask.size + 1, dtype=np.int64)
    np.cumsum(mask if weights is None else np.where(mask, weights, 0), out=out[1:])
    return out


def counted_spec(table: CountedTable, spec: AuditSpec) -> AuditSpec:
    """The spec to check and cut groups with on a counted frame.

    Quantile bins become bins at the source's edges (the table's ``edges``, else those of every row it
    stands for); the source's columns the frame does not hold (features, identifiers) are left out, as
    the engine that counted the rows read them. A column the source lacks stays, to be reported.
    """
    frame = table.frame
    protected = []
    for attr in spec.protected:
        if attr.quantiles is not None and attr.column in frame.columns:
            edges = table.edges.get(attr.column)
            if edges is None:  # not given by the engine: the edges of every source row (as the audit cuts them)
                values = frame[attr.column].to_numpy(dtype=float, na_value=np.nan)
                edges = quantile_edges(pd.Series(values), int(attr.quantiles), weights=table.weights)
            attr = replace(attr, bins=tuple(edges), quantiles=None)
        protected.append(attr)

    def held(names: Sequence[str] | None) -> tuple[str, ...] | None:
        # A name the source lacks stays, so that the check still reports it.
        return None if names is None else tuple(c for c in names if c in frame.columns or c not in table.columns)

    return replace(
        spec,
        protected=tuple(protected),
        features=held(spec.features),
        id_columns=held(spec.id_columns),
        pii_columns=held(spec.pii_columns),
    )


def checked_counts(source: pd.DataFrame | CountedTable, spec: AuditSpec) -> tuple[Any, np.ndarray | None]:
    """Validate ``spec`` on a table or a counted table (raising on errors); return ``(checked, weights)``.

    ``checked`` is :func:`analysis.validation.run_checks`' answer (errors raised), computed with the table's
    weights, columns and edges; ``weights`` is None for a DataFrame.
    """
    if isinstance(source, pd.DataFrame):
        checked = run_checks(source, spec)
        checked.validation.raise_for_errors()
        return checked, None
    if not isinstance(source, CountedTable):
        raise SpecError(NOT_A_TABLE.format(got=type(source).__name__))
    checked = run_checks(source, spec)  # a counted table is checked with its weights, columns and edges
    checked.validation.raise_for_errors()
    return checked, source.weights


def threshold_curves(
    source: pd.DataFrame | CountedTable, spec: AuditSpec, *, attribute: str | None = None
) -> ThresholdCurves:
    """Sort each group's scores once and take cumulative counts along them.

    Parameters
    ----------
    source
        The table, or a :class:`analysis.engine.CountedTable` (its counts are weights; a score counted
        on a grid makes every candidate threshold a grid point).
    spec
        Needs a score column; the label is optional (without it only selection rates exist).
    attribute
        The protected column to split by; default the spec's first protected attribute.

    Raises
    ------
    SpecError
        Without a score column, when the spec does not fit the table, or when no row has a score.
    """
    if spec.score is None:
        raise SpecError(NEEDS_SCORE, remedy=Remedy("score"))
    checked, weights = checked_counts(source, spec)
    df, spec, encoded = checked.df, checked.spec, checked.encoded  # spelling variants merged if the spec asks
    attr = attribute_of(spec, attribute)
    groups = encoded.get(attr.column)
    if groups is None:
        groups = encode_groups(df[attr.column], bins=attr.bins, quantiles=attr.quantiles)
    scores = df[spec.score].to_numpy(dtype=float, na_value=np.nan)
    if not np.isfinite(scores).any():
        raise SpecError(NO_SCORED_ROWS.format(column=spec.score))
    state = outcomes(df, spec)
    label_known = label_positive = None
    if spec.label is not None:
        label_known = df[spec.label].notna().to_numpy()
        label_positive = matches_any(df[spec.label], spec.label_positive)
    codes, decided, positive = groups.codes, state.decided, state.positive
    if weights is not None:
        # Counted rows differ in columns one attribute's curves do not read: merge those (far fewer rows).
        rows, weights = _merged_rows(scores, codes, (decided, positive, label_known, label_positive), weights)
        scores, codes, decided, positive = scores[rows], codes[rows], decided[rows], positive[rows]
        if label_known is not None:
            label_known, label_positive = label_known[rows], label_positive[rows]
    return curves_from_arrays(
        scores,
        codes,
        groups.labels,
        decided=decided,
        positive=positive,
        label_known=label_known,
        label_positive=label_positive,
        attribute=attr.column,
        positive_is_favorable=spec.positive_is_favorable,
        reference=attr.reference,
        min_group_size=spec.min_group_size,
        score_name=spec.score,
        weights=weights,
        resolution=None if isinstance(source, pd.DataFrame) else source.scores,
    )


def _merged_rows(
    scores: np.ndarray, codes: np.ndarray, masks: Sequence[np.ndarray | None], weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One row for each distinct (group, score, states), with its weights summed: the rows to keep and theirs.

    Curves read counts only at tie-block boundaries, so rows equal in all of these merge without changing one.
    Rows without a finite score merge per group and states (each is left out of the curves alike).
    """
    key = np.asarray(codes, dtype=np.int64)
    for mask in masks:
        if mask is not None:
            key = key * 2 + np.asarray(mask, dtype=np.int64)
    value = np.where(np.isfinite(scores), scores, np.inf)
    order = np.lexsort((value, key))
    k, v = key[order], value[order]
    start = np.empty(order.size, dtype=bool)
    start[:1] = True
    start[1:] = (k[1:] != k[:-1]) | (v[1:] != v[:-1])
    starts = np.flatnonzero(start)
    return order[starts], np.add.reduceat(np.asarray(weights, dtype=np.int64)[order], starts)


def curves_from_arrays(
    scores: np.ndarray,
    codes: np.ndarray,
    labels: Sequence[str],
    *,
    decided: np.ndarray,
    positive: np.ndarray,
    label_known: np.ndarray | None = None,
    label_positive: np.ndarray | None = None,
    attribute: str = "group",
    positive_is_favorable: bool = True,
    reference: str | None = None,
    min_group_size: int = MIN_GROUP_SIZE,
    score_name: str = "score",
    weights: np.ndarray | None = None,
    resolution: ScoreResolution | None = None,
) -> ThresholdCurves:
    """:class:`ThresholdCurves` from arrays: one score, group code, decision state and label state per row.

    Parameters
    ----------
    scores
        The score per row (NaN: not scored, left out).
    codes, labels
        Each row's group as an index into ``labels``.
    decided, positive
        Whether the row has a current decision, and whether it is positive.
    label_known, label_positive
        Whether the row has a label, and whether it is positive (None without a label).
    weights
        Source rows each row stands for (integers ≥ 1); None: one each.
    resolution
        How the score was counted (a grid makes the candidate thresholds grid points).
    """
    scored = np.isfinite(scores)
    if not scored.any():
        raise SpecError(NO_SCORED_ROWS.format(column=score_name))
    codes = np.asarray(codes)[scored]
    values = scores[scored]
    order = np.argsort(values)  # ties in any order: counts are read at tie-block boundaries only
    small = np.int16 if len(labels) < 2**15 else np.int64
    order = order[np.argsort(codes[order].astype(small), kind="stable")]
    rows = np.flatnonzero(scored)[order]
    w = None if weights is None else np.asarray(weights, dtype=np.int64)[rows]
    sizes = np.bincount(codes, minlength=len(labels))
    keep = np.flatnonzero(sizes)
    sorted_codes = np.repeat(np.arange(keep.size), sizes[keep])

    def tally(cell: np.ndarray, mask: np.ndarray, length: int) -> np.ndarray:
        if w is None:
            return np.bincount(cell[mask], minlength=length)
        return np.bincount(cell[mask], weights=w[mask], minlength=length).astype(np.int64)

    decided, chosen = np.asarray(decided, dtype=bool), np.asarray(positive, dtype=bool)
    current = {"n": tally(sorted_codes, decided[rows], keep.size)}
    current["selected"] = tally(sorted_codes, chosen[rows], keep.size)
    label_pos = label_neg = None
    if label_known is not None:
        known = np.asarray(label_known, dtype=bool)[rows]
        truth = np.asarray(label_positive, dtype=bool)[rows]
        label_pos, label_neg = _cumulative(known & truth, w), _cumulative(known & ~truth, w)
        cell = sorted_codes * 4 + chosen[rows] * 2 + truth
        table = tally(cell, known & decided[rows], 4 * keep.size).reshape(keep.size, 4)
        current |= {"tn": table[:, 0], "fn": table[:, 1], "fp": table[:, 2], "tp": table[:, 3]}
    left_out = []
    unscored = int((~scored).sum()) if weights is None else int(np.asarray(weights, dtype=np.int64)[~scored].sum())
    if unscored:
        left_out.append({"rows": unscored, "reason": LEFT_OUT_NO_SCORE.format(column=score_name)})
    empty = [labels[g] for g in np.flatnonzero(sizes == 0)]
    if empty:
        left_out.append({"rows": 0, "reason": f"groups without a scored row: {', '.join(empty)}"})
    return ThresholdCurves(
        attribute=attribute,
        labels=tuple(labels[g] for g in keep),
        scores=values[order],
        offsets=np.r_[0, np.cumsum(sizes[keep])].astype(np.int64),
        cum_label_pos=label_pos,
        cum_label_neg=label_neg,
        cum_current_pos=_cumulative(chosen[rows], w),
        cum_current_neg=_cumulative((decided & ~chosen)[rows], w),
        positive_is_favorable=positive_is_favorable,
        reference=reference,
        min_group_size=min_group_size,
        left_out=tuple(left_out),
        current=current,
        cum_rows=None if w is None else _cumulative(np.ones(w.size, dtype=bool), w),
        resolution=resolution,
    )


# --- what-if ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatIfGroup:
    """One group at given thresholds: its threshold, counts, metrics and flips.

    Attributes
    ----------
    threshold
        The group's threshold (decision = score ≥ threshold); None for the current decisions.
    counts
        ``n`` (scored rows; with a decision, for the current decisions), ``positives`` (positive
        decisions), ``favorable`` and, with a label, ``tp``, ``fp``, ``tn``, ``fn``.
    metrics
        Rates, then comparisons with the reference (:class:`MetricValue`, by name; see
        :data:`analysis.metrics.METRICS`).
    flips
        ``{"to_positive": n, "to_negative": n}`` against the current decisions.
    compared
        Whether the group enters the summary (at least ``min_group_size`` rows).
    """

    threshold: float | None
    counts: dict[str, int]
    metrics: dict[str, MetricValue]
    flips: dict[str, int]
    compared: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: threshold, counts, flips, compared, then every metric by name."""
        head = {"threshold": self.threshold, "counts": dict(self.counts), "flips": dict(self.flips)}
        return head | {"compared": self.compared} | {k: m.to_dict() for k, m in self.metrics.items()}


@dataclass(frozen=True)
class WhatIf:
    """Every group's rates, disparities and flips at given thresholds, from :func:`analysis.metrics.evaluate`.

    Attributes
    ----------
    attribute, thresholds
        The protected column and each group's threshold (decision = score ≥ threshold; empty for
        the current decisions).
    reference_group, reference_rule
        As the audit chooses them (:func:`analysis.metrics.choose_reference`) on these decisions.
    groups
        Group → :class:`WhatIfGroup`.
    summary
        The audit's summary metrics over the groups compared (at least ``min_group_size`` rows;
        undefined, with the reason, when fewer than two are), then the overall ``selection_rate``
        and, with a label, ``accuracy`` and ``utility`` (benefit_tp × TP − cost_fp × FP), and the
        flip totals.
    four_fifths_pass
        Whether the four-fifths ratio (lowest ÷ highest favourable rate) is at least 0.8 (None if undefined).
    groups_compared, summary_reason
        The groups the summary covers, and why it is not computable (None when it is).
    flips
        Group → ``{"to_positive": n, "to_negative": n}`` against the current decisions.
    """

    attribute: str
    thresholds: dict[str, float]
    reference_group: str | None
    reference_rule: str | None
    groups: dict[str, WhatIfGroup]
    summary: dict[str, MetricValue]
    flips: dict[str, dict[str, int]]
    cost_fp: float = 1.0
    benefit_tp: float = 1.0
    left_out: tuple[dict[str, Any], ...] = ()
    four_fifths_pass: bool | None = None
    groups_compared: tuple[str, ...] = ()
    summary_reason: str | None = None

    def metric(self, group: str, name: str) -> float | None:
        """One group's metric value (None when undefined)."""
        return self.groups[group].metrics[name].value

    def value(self, name: str) -> float | None:
        """One summary value (None when undefined or absent)."""
        m = self.summary.get(name)
        return None if m is None else m.value

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (every number finite or null)."""
        return {
            "attribute": self.attribute,
            "thresholds": dict(self.thresholds),
            "reference_group": self.reference_group,
            "reference_rule": self.reference_rule,
            "cost_fp": self.cost_fp,
            "benefit_tp": self.benefit_tp,
            "groups": {g: rec.to_dict() for g, rec in self.groups.items()},
            "summary": {k: m.to_dict() for k, m in self.summary.items()},
            "four_fifths_pass": self.four_fifths_pass,
            "groups_compared": list(self.groups_compared),
            "summary_reason": self.summary_reason,
            "flips": {g: dict(f) for g, f in self.flips.items()},
            "left_out": [dict(r) for r in self.left_out],
        }


def _threshold_array(curves: ThresholdCurves, thresholds: dict[str, float] | float) -> np.ndarray:
    if not isinstance(thresholds, dict):
        thresholds = dict.fromkeys(curves.labels, thresholds)
    unknown = sorted(set(thresholds) - set(curves.labels))
    if unknown:
        raise SpecError(UNKNOWN_GROUPS.format(groups=unknown, known=list(curves.labels)))
    missing = [g for g in curves.labels if g not in thresholds]
    if missing:
        raise SpecError(MISSING_GROUPS.format(groups=missing))
    out = np.empty(curves.n_groups)
    for i, g in enumerate(curves.labels):
        t = thresholds[g]
        if isinstance(t, bool) or not isinstance(t, (int, float, np.number)) or not math.isfinite(t):
            raise SpecError(BAD_THRESHOLD.format(group=g, got=t))
        out[i] = float(t)
    return out


def _counts(curves: ThresholdCurves, below: np.ndarray) -> dict[str, np.ndarray]:
    parts = [curves.counts_at_below(g, below[g : g + 1]) for g in range(curves.n_groups)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _metric_counts(curves: ThresholdCurves, c: Mapping[str, np.ndarray], labels: Sequence[str] | None = None) -> Counts:
    """Counts at thresholds (or today's) as :mod:`analysis.metrics` reads them."""
    return Counts.of(
        curves.labels if labels is None else labels,
        c["n"],
        c["selected"],
        positive_is_favorable=curves.positive_is_favorable,
        **{k: c[k] for k in ("tp", "fp", "tn", "fn") if k in c},
    )


def _evaluate(curves: ThresholdCurves, c: Mapping[str, np.ndarray]) -> MetricTable:
    return evaluate(_metric_counts(curves, c), min_group_size=curves.min_group_size, reference=curves.reference)


def what_if(
    curves: ThresholdCurves,
    thresholds: dict[str, float] | float,
    *,
    cost_fp: float = 1.0,
    benefit_tp: float = 1.0,
) -> WhatIf:
    """Rates, disparities, accuracy, utility and flips when group ``g`` is decided by ``score ≥ thresholds[g]``.

    Parameters
    ----------
    curves
        From :func:`threshold_curves`.
    thresholds
        One threshold per group (by group label), or one number for every group.
    cost_fp, benefit_tp
        Utility = benefit_tp × TP − cost_fp × FP (a false positive's cost vs a true positive's benefit).
    """
    check_costs("what_if()", cost_fp, benefit_tp)
    t = _threshold_array(curves, thresholds)
    c = _counts(curves, curves.below(t))
    return _what_if(curves, t, c, cost_fp, benefit_tp)


def _overall(curves: ThresholdCurves, c: Mapping[str, np.ndarray], cost_fp: float, benefit_tp: float):
    """The pooled rates of every scored row, as one group, and the utility and flip totals."""
    pooled = {k: np.array([int(np.sum(v))]) for k, v in c.items()}
    rates = metric_rates(_metric_counts(curves, pooled, ("all",)), ("selection_rate", "accuracy"))
    out = {"selection_rate": MetricValue.of(rates["selection_rate"][0], None)}
    if "tp" in c:
        out["accuracy"] = MetricValue.of(rates["accuracy"][0], None)
        out["utility"] = MetricValue(float(benefit_tp * pooled["tp"][0] - cost_fp * pooled["fp"][0]))
    out["flips_to_positive"] = MetricValue(float(pooled["to_positive"][0]), reason=FLIPS_NOTE)
    out["flips_to_negative"] = MetricValue(float(pooled["to_negative"][0]), reason=FLIPS_NOTE)
    return out


def _what_if(curves, t, c, cost_fp, benefit_tp) -> WhatIf:
    table = _evaluate(curves, c)
    metrics = table.every_group_metrics()
    groups = {}
    for i, g in enumerate(curves.labels):
        counts = table.counts.group(i)
        flips = {"to_positive": int(c["to_positive"][i]), "to_negative": int(c["to_negative"][i])}
        threshold = None if t is None else float(t[i])
        groups[g] = WhatIfGroup(threshold, counts, metrics[g], flips, bool(table.compared[i]))
    return WhatIf(
        attribute=curves.attribute,
        thresholds={} if t is None else {g: float(x) for g, x in zip(curves.labels, t, strict=True)},
        reference_group=table.reference_group,
        reference_rule=table.reference_rule,
        groups=groups,
        summary=dict(table.summary.metrics) | _overall(curves, c, cost_fp, benefit_tp),
        four_fifths_pass=table.summary.four_fifths_pass,
        groups_compared=table.summary.groups_compared,
        summary_reason=table.summary.reason,
        flips={g: dict(rec.flips) for g, rec in groups.items()},
        cost_fp=float(cost_fp),
        benefit_tp=float(benefit_tp),
        left_out=curves.left_out,
    )


def baseline(curves: ThresholdCurves, *, cost_fp: float = 1.0, benefit_tp: float = 1.0) -> WhatIf:
    """The current decisions as a :class:`WhatIf` (scored rows with a decision; no thresholds, no flips)."""
    check_costs("baseline()", cost_fp, benefit_tp)
    c = {k: np.asarray(v, dtype=np.int64) for k, v in curves.current.items()}
    zero = np.zeros(curves.n_groups, dtype=np.int64)
    return _what_if(curves, None, c | {"to_positive": zero, "to_negative": zero}, cost_fp, benefit_tp)


# --- the starting point: today's decisions as thresholds ---------------------------------------


@dataclass(frozen=True)
class Start:
    """Per group, the threshold on the score that reproduces today's decisions best, and what it cannot.

    Attributes
    ----------
    thresholds
        Group → threshold (decision = score ≥ threshold) agreeing with the most of the group's current
        decisions; among equally good thresholds, the one selecting closest to today's count, then the
        roundest number in the interval of scores that gives those decisions.
    agree, decided
        Per group, scored rows with a decision whose decision the threshold reproduces, and all of them.
    unreproducible
        Per group, ``decided − agree``: decisions no threshold on this score can reproduce (0 when today's
        decision is a cut of the score).
    what_if
        :func:`what_if` at these thresholds: its flips against today's decisions are exactly the
        unreproducible ones.
    rule
        ``"most_agreement"``, or ``"today_rates"`` when the most-agreeing thresholds would have made the
        four-fifths ratio worse than today's (``most_agreement_measure``, the ratio they give) and each
        group keeps today's count selected instead.
    """

    thresholds: dict[str, float]
    agree: dict[str, int]
    decided: dict[str, int]
    unreproducible: dict[str, int]
    what_if: WhatIf
    rule: str = "most_agreement"
    most_agreement_measure: float | None = None

    @property
    def total_unreproducible(self) -> int:
        """Decisions, over every group, that no threshold per group reproduces."""
        return int(sum(self.unreproducible.values()))

    @property
    def total_decided(self) -> int:
        """Scored rows with a decision, over every group."""
        return int(sum(self.decided.values()))

    @property
    def shared(self) -> float | None:
        """The one threshold every group starts at, when they all start at the same; else None."""
        values = set(self.thresholds.values())
        return next(iter(values)) if len(values) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (without the what-if)."""
        return {
            "thresholds": dict(self.thresholds),
            "agree": dict(self.agree),
            "decided": dict(self.decided),
            "unreproducible": dict(self.unreproducible),
            "total_unreproducible": self.total_unreproducible,
            "rule": self.rule,
            "most_agreement_measure": self.most_agreement_measure,
        }


def _roundest(low: float, high: float) -> float:
    """The number with the fewest decimals in ``(low, high]`` (``high`` itself when none is shorter)."""
    if not math.isfinite(low):
        return high
    for decimals in range(0, 13):
        scale = 10.0**decimals
        candidate = math.floor(low * scale + 1) / scale  # the first multiple of 10**-decimals above low
        candidate = round(candidate, decimals)
        if low < candidate <= high:
            return float(candidate)
    return high


def _pick(curves: ThresholdCurves, g: int, *, keep_count: bool) -> tuple[float, int]:
    """Group ``g``'s starting threshold and how many of its decisions it reproduces.

    By the most agreement (then the count closest to today's), or with ``keep_count`` by the count
    closest to today's (then the most agreement); last, the lower threshold.
    """
    start = curves.offsets[g]
    candidates, below = curves.candidates(g)
    at = start + curves.position(g, below)
    negatives = curves.cum_current_neg[at] - curves.cum_current_neg[start]
    positives_above = curves.cum_current_pos[curves.offsets[g + 1]] - curves.cum_current_pos[at]
    agreement = negatives + positives_above
    distance = np.abs(curves.sizes[g] - below - _today_count(curves, g))
    keys = (distance, -agreement) if keep_count else (-agreement, distance)
    k = int(np.lexsort((np.arange(below.size), *reversed(keys)))[0])
    if curves.grid:  # between grid points the raw scores are unknown: the grid point itself
        return float(candidates[k]), int(agreement[k])
    low = float(curves.scores[at[k] - 1]) if below[k] > 0 else -math.inf
    return _roundest(low, float(candidates[k])), int(agreement[k])


def _today_count(curves: ThresholdCurves, g: int) -> float:
    """Today's positive decisions in group ``g``, scaled to its scored rows (some may have no decision)."""
    decided, chosen = int(curves.current["n"][g]), int(curves.current["selected"][g])
    return chosen / decided * curves.sizes[g] if decided else 0.0


def _worse(measure: str, now: float | None, then: float | None) -> bool:
    if now is None or then is None:
        return False
    higher_is_fairer = measure == "favorable_rate_ratio"
    return now < then - 1e-12 if higher_is_fairer else now > then + 1e-12


START_MEASURE = "favorable_rate_ratio"


def reproducing_thresholds(curves: ThresholdCurves, *, cost_fp: float = 1.0, benefit_tp: float = 1.0) -> Start:
    """Per group, the threshold on the score that reproduces the most of today's decisions (the starting point).

    An exact sweep over each group's sorted scores: at the candidate leaving the lowest ``k`` rows
    negative, the agreement is the current negatives among them plus the current positives above.
    Rows without a decision count for neither. When those thresholds would make the four-fifths ratio
    worse than today's (a score that imitates the decisions, e.g. a model score, can reproduce more of
    them by selecting fewer in a small group), each group instead keeps today's count selected (then
    reproduces the most it can): the starting point never makes the fairness measure worse.

    Parameters
    ----------
    curves
        From :func:`threshold_curves`.
    cost_fp, benefit_tp
        For the what-if at the thresholds (as :func:`what_if`).
    """
    today = baseline(curves, cost_fp=cost_fp, benefit_tp=benefit_tp)
    best_measure = None
    for keep_count in (False, True):
        picks = [_pick(curves, g, keep_count=keep_count) for g in range(curves.n_groups)]
        thresholds = {group: t for group, (t, _) in zip(curves.labels, picks, strict=True)}
        result = what_if(curves, thresholds, cost_fp=cost_fp, benefit_tp=benefit_tp)
        measure = result.value(START_MEASURE)
        if keep_count or not _worse(START_MEASURE, measure, today.value(START_MEASURE)):
            break
        best_measure = measure
    decided = {group: int(curves.current["n"][g]) for g, group in enumerate(curves.labels)}
    agree = {group: a for group, (_, a) in zip(curves.labels, picks, strict=True)}
    return Start(
        thresholds=thresholds,
        agree=agree,
        decided=decided,
        unreproducible={g: decided[g] - agree[g] for g in curves.labels},
        what_if=result,
        rule="today_rates" if keep_count else "most_agreement",
        most_agreement_measure=best_measure,
    )


def changed_decisions(result: WhatIf, start: Start) -> dict[str, dict[str, int]]:
    """Per group, the decisions ``result`` changes from today's, not counting those no threshold reproduces.

    Counted against today's actual decisions: a row counts when its decision at ``result``'s thresholds
    differs from today's and the starting thresholds (:func:`reproducing_thresholds`) reproduce it. A
    decision the starting thresholds cannot reproduce is not a change anyone made; it is reported
    separately (:attr:`Start.unreproducible`). So every count is 0 at the start, and equals ``result.flips``
    when today's decisions are a cut of the score. Within a group only one threshold moves, so the
    changes run one way: ``to_positive`` (newly positive) or ``to_negative`` (no longer positive).
    """
    out = {}
    for group, flips in result.flips.items():
        before = start.what_if.flips[group]
        out[group] = {
            "to_positive": max(0, int(flips["to_positive"]) - int(before["to_positive"])),
            "to_negative": max(0, int(flips["to_negative"]) - int(before["to_negative"])),
        }
    return out
