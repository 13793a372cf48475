"""The counts engine: per-group confusion counts, in one vectorised pass per grouping.

An audit reads its rows once (:func:`outcomes`: which rows have a decision, which decisions are
positive, which labels are positive) and encodes each protected attribute once
(:class:`Grouping`). Counting a grouping is then one ``np.bincount`` over
``code * CELLS + cell``, where ``cell`` is the row's (decision, label) state. Every metric,
interval and test downstream is arithmetic on those counts; nothing here loops over rows or
groups in Python.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from analysis.groups import MISSING_GROUP, GroupCodes
from analysis.metrics import Counts
from analysis.spec import AuditSpec
from analysis.stats import ScoreRanks, rank_scores
from analysis.values import matches_any

__all__ = [
    "INTERSECTION_SEPARATOR",
    "GroupCounts",
    "Grouping",
    "Outcomes",
    "ScoreCounts",
    "ScoredRows",
    "count_groups",
    "count_scores",
    "count_values",
    "intersect",
    "outcomes",
    "scored_rows",
]

INTERSECTION_SEPARATOR = " × "
# Row states: decision negative / positive / missing, times label negative / positive / missing.
NEGATIVE, POSITIVE, MISSING = 0, 1, 2
STATES = 3
CALIBRATION_BINS = 10

NOT_BOOL = "Expected a boolean mask with one value per row ({rows:,}), got {got}."
NOT_WEIGHTS = "Expected whole-number weights with one value per row ({rows:,}), got {got}."
LEFT_OUT_NO_DECISION = "no decision: left out of the audit"
LEFT_OUT_NO_LABEL = "no label: left out of the error-rate metrics (in the selection rates)"


@dataclass(frozen=True, eq=False)
class Grouping:
    """Rows split into groups: one protected attribute, or an intersection of several.

    Attributes
    ----------
    name
        ``"ethnicity"``, or ``"ethnicity × gender"`` for an intersection.
    columns
        The protected columns combined.
    codes
        Group index per row (0 .. ``len(labels)`` − 1).
    labels
        Group names; an intersection's are its parts joined by ``" × "``.
    values
        Per group, its value of each column in ``columns``.
    """

    name: str
    columns: tuple[str, ...]
    codes: np.ndarray
    labels: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.labels)

    @classmethod
    def from_codes(cls, groups: GroupCodes) -> Grouping:
        """A single attribute's grouping from :func:`analysis.groups.encode_groups`."""
        return cls(
            name=groups.column,
            columns=(groups.column,),
            codes=np.asarray(groups.codes, dtype=np.int64),
            labels=tuple(groups.labels),
            values=tuple((label,) for label in groups.labels),
        )


def intersect(parts: Sequence[Grouping]) -> Grouping:
    """Combine groupings into their intersection; only combinations with rows are kept.

    Codes combine arithmetically (``code_a * n_b + code_b``), so this is a few array
    operations whatever the number of rows or groups.
    """
    shape = tuple(p.n_groups for p in parts)
    combined = parts[0].codes.astype(np.int64, copy=True)
    for part in parts[1:]:
        combined *= part.n_groups
        combined += part.codes
    sizes = np.bincount(combined, minlength=math.prod(shape))
    keep = np.flatnonzero(sizes)
    if keep.size < sizes.size:
        remap = np.full(sizes.size, -1, dtype=np.int64)
        remap[keep] = np.arange(keep.size)
        combined = remap[combined]
    indices = np.unravel_index(keep, shape)
    values = tuple(
        tuple(part.labels[int(i[k])] for part, i in zip(parts, indices, strict=True)) for k in range(keep.size)
    )
    return Grouping(
        name=INTERSECTION_SEPARATOR.join(p.name for p in parts),
        columns=tuple(c for p in parts for c in p.columns),
        codes=combined,
        labels=tuple(INTERSECTION_SEPARATOR.join(v) for v in values),
        values=values,
    )


@dataclass(frozen=True, eq=False)
class Outcomes:
    """Each row's (decision, label) state, computed once per audit.

    Attributes
    ----------
    cell
        ``decision_state * 3 + label_state`` per row (int8), each state 0 negative,
        1 positive, 2 missing; without a label, the decision state alone.
    has_label
        Whether the spec has a label column.
    decided, positive
        Rows with a decision; rows whose decision is positive.
    labeled, label_positive
        Rows with a decision and a label; rows whose label is positive (None without label).
    weights
        Source rows each row stands for (int64; a :class:`analysis.engine.CountedTable`'s), or None when
        each row is one: every count made from these outcomes is then a sum of weights.
    """

    cell: np.ndarray
    has_label: bool
    decided: np.ndarray
    positive: np.ndarray
    labeled: np.ndarray | None = None
    label_positive: np.ndarray | None = None
    weights: np.ndarray | None = None

    @property
    def cells(self) -> int:
        """Number of distinct cell values (the stride between groups in the counts)."""
        return STATES * STATES if self.has_label else STATES

    @property
    def rows(self) -> int:
        """Rows in the table."""
        return int(self.cell.size)

    def total(self, mask: np.ndarray) -> int:
        """Source rows where ``mask`` holds (rows of the table when unweighted, else their weights)."""
        if self.weights is None:
            return int(mask.sum())
        return int(self.weights[mask].sum())

    def weighted(self, weights: np.ndarray | None) -> Outcomes:
        """The same outcomes, each row standing for ``weights`` source rows."""
        return replace(self, weights=None if weights is None else _weights(weights, self.rows))

    @classmethod
    def from_masks(
        cls,
        positive: np.ndarray,
        *,
        decided: np.ndarray | None = None,
        label_positive: np.ndarray | None = None,
        label_known: np.ndarray | None = None,
    ) -> Outcomes:
        """Build from boolean masks (missing decisions/labels default to none)."""
        positive = _mask(positive, positive.size)
        decided = np.ones(positive.size, bool) if decided is None else _mask(decided, positive.size)
        state = np.where(decided, positive, MISSING).astype(np.int8)
        if label_positive is None:
            return cls(cell=state, has_label=False, decided=decided, positive=positive & decided)
        label_positive = _mask(label_positive, positive.size)
        known = np.ones(positive.size, bool) if label_known is None else _mask(label_known, positive.size)
        label_state = np.where(known, label_positive, MISSING).astype(np.int8)
        return cls(
            cell=state * STATES + label_state,
            has_label=True,
            decided=decided,
            positive=positive & decided,
            labeled=decided & known,
            label_positive=label_positive & known,
        )


def _weights(values: np.ndarray, rows: int) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != (rows,) or values.dtype.kind not in "iu":
        raise ValueError(NOT_WEIGHTS.format(rows=rows, got=f"{values.dtype} of shape {values.shape}"))
    return values.astype(np.int64, copy=False)


def _mask(values: np.ndarray, rows: int) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype != bool or values.shape != (rows,):
        raise ValueError(NOT_BOOL.format(rows=rows, got=f"{values.dtype} of shape {values.shape}"))
    return values


def _decision_masks(df: pd.DataFrame, spec: AuditSpec) -> tuple[np.ndarray, np.ndarray]:
    if spec.decision is not None:
        column = df[spec.decision]
        return matches_any(column, spec.positive), column.notna().to_numpy()
    scores = df[spec.score].to_numpy(dtype=float, na_value=np.nan)
    decided = ~np.isnan(scores)
    with np.errstate(invalid="ignore"):
        return decided & (scores >= spec.threshold), decided


def outcomes(df: pd.DataFrame, spec: AuditSpec, *, weights: np.ndarray | None = None) -> Outcomes:
    """Each row's decision and label state under ``spec``, computed once per audit.

    The decision is positive when the decision column's value is one of ``spec.positive``
    (or, without a decision column, when the score is at least ``spec.threshold``). A row
    with a missing decision is left out of the audit; a row with a missing label is left
    out of the error-rate metrics only. With ``weights`` (source rows per row), every count
    made from the outcomes counts source rows.
    """
    positive, decided = _decision_masks(df, spec)
    if spec.label is None:
        state = Outcomes.from_masks(positive, decided=decided)
    else:
        label = df[spec.label]
        state = Outcomes.from_masks(
            positive,
            decided=decided,
            label_positive=matches_any(label, spec.label_positive),
            label_known=label.notna().to_numpy(),
        )
    return state if weights is None else state.weighted(weights)


@dataclass(frozen=True, eq=False)
class GroupCounts:
    """Counts per group, each an int64 array aligned with ``grouping.labels``.

    Attributes
    ----------
    grouping
        The groups counted.
    n, positives
        Rows with a decision; of those, rows with a positive decision.
    tp, fp, tn, fn
        Confusion counts over rows with both a decision and a label (None without label).
    label_missing
        Rows with a decision but no label: in ``n``, not in the confusion counts.
    decision_missing
        Rows without a decision: left out of everything.
    """

    grouping: Grouping
    n: np.ndarray
    positives: np.ndarray
    decision_missing: np.ndarray
    tp: np.ndarray | None = None
    fp: np.ndarray | None = None
    tn: np.ndarray | None = None
    fn: np.ndarray | None = None
    label_missing: np.ndarray | None = None

    @property
    def has_label(self) -> bool:
        """Whether confusion counts are available."""
        return self.tp is not None

    @property
    def negatives(self) -> np.ndarray:
        """Rows with a negative decision."""
        return self.n - self.positives

    @property
    def labeled(self) -> np.ndarray:
        """Rows with a decision and a label."""
        return self.tp + self.fp + self.tn + self.fn

    def for_metrics(self, positive_is_favorable: bool) -> Counts:
        """These counts as :mod:`analysis.metrics` reads them (the favourable outcome, the missing-value groups)."""
        return Counts.of(
            self.grouping.labels,
            self.n,
            self.positives,
            positive_is_favorable=positive_is_favorable,
            tp=self.tp,
            fp=self.fp,
            tn=self.tn,
            fn=self.fn,
            missing=[MISSING_GROUP in values for values in self.grouping.values],
        )

    def left_out(self) -> dict[str, int]:
        """Rows left out, by reason (reasons with no rows omitted)."""
        out = {LEFT_OUT_NO_DECISION: int(self.decision_missing.sum())}
        if self.has_label:
            out[LEFT_OUT_NO_LABEL] = int(self.label_missing.sum())
        return {reason: rows for reason, rows in out.items() if rows}

    def to_dict(self) -> dict[str, list[int]]:
        """Counts by name, as lists of Python ints."""
        names = ("n", "positives", "tp", "fp", "tn", "fn", "label_missing", "decision_missing")
        return {name: getattr(self, name).tolist() for name in names if getattr(self, name) is not None}


def count_groups(grouping: Grouping, outcomes: Outcomes) -> GroupCounts:
    """Count every group's rows by (decision, label) state in one ``np.bincount``.

    Parameters
    ----------
    grouping
        Group code per row.
    outcomes
        Per-row states from :func:`outcomes`, shared by every grouping of an audit (with their
        weights, if any: the counts are then sums of weights).
    """
    k = outcomes.cells
    index = grouping.codes * k
    index += outcomes.cell
    table = _bincount(index, outcomes.weights, grouping.n_groups * k).reshape(grouping.n_groups, k)
    if not outcomes.has_label:
        n = table[:, NEGATIVE] + table[:, POSITIVE]
        return GroupCounts(grouping, n=n, positives=table[:, POSITIVE], decision_missing=table[:, MISSING])
    by_decision = table.reshape(grouping.n_groups, STATES, STATES)
    decided = by_decision[:, :MISSING, :]
    return GroupCounts(
        grouping,
        n=decided.sum(axis=(1, 2)),
        positives=by_decision[:, POSITIVE, :].sum(axis=1),
        decision_missing=by_decision[:, MISSING, :].sum(axis=1),
        tn=by_decision[:, NEGATIVE, NEGATIVE],
        fn=by_decision[:, NEGATIVE, POSITIVE],
        fp=by_decision[:, POSITIVE, NEGATIVE],
        tp=by_decision[:, POSITIVE, POSITIVE],
        label_missing=decided[:, :, MISSING].sum(axis=1),
    )


def _bincount(index: np.ndarray, weights: np.ndarray | None, size: int) -> np.ndarray:
    """``np.bincount`` as int64 counts; with weights, their sums (whole numbers, exact below 2⁵³ rows)."""
    if weights is None:
        return np.bincount(index, minlength=size)
    return np.rint(np.bincount(index, weights=weights, minlength=size)).astype(np.int64)


def count_values(
    grouping: Grouping, value_codes: np.ndarray, n_values: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Rows per (group, value) as an ``(n_groups, n_values)`` matrix; negative value codes are left out.

    With ``weights``, sums of the rows' weights.
    """
    keep = value_codes >= 0
    index = grouping.codes[keep] * n_values + value_codes[keep]
    weights = None if weights is None else np.asarray(weights)[keep]
    return _bincount(index, weights, grouping.n_groups * n_values).reshape(grouping.n_groups, n_values)


@dataclass(frozen=True, eq=False)
class ScoredRows:
    """The rows score-based metrics use (decision, label and score all present), found once per audit.

    Attributes
    ----------
    rows
        Their indices in the table, or None when every row of the table is scored.
    scores, positive
        Score and label (bool) of each.
    ranks
        The scores sorted once, shared by every grouping's AUC.
    bins
        Calibration bin (score decile over these rows) of each.
    edges
        Bin boundaries, lowest score to highest: ``len(edges) - 1`` bins.
    weights
        Source rows each stands for, or None when each is one.
    """

    rows: np.ndarray | None
    scores: np.ndarray
    positive: np.ndarray
    ranks: ScoreRanks
    bins: np.ndarray
    edges: tuple[float, ...]
    weights: np.ndarray | None = None

    @property
    def n_bins(self) -> int:
        """Number of calibration bins."""
        return max(len(self.edges) - 1, 1)

    @property
    def size(self) -> int:
        """Number of scored rows (of the table: see :attr:`total` for the source rows they stand for)."""
        return int(self.scores.size)

    @property
    def total(self) -> int:
        """Source rows scored: :attr:`size`, or the sum of the weights."""
        return self.size if self.weights is None else int(self.weights.sum())

    @property
    def is_probability(self) -> bool:
        """Whether every score lies in [0, 1], so a Brier score means something."""
        return bool(self.scores.size) and self.edges[0] >= 0.0 and self.edges[-1] <= 1.0

    def select(self, codes: np.ndarray) -> np.ndarray:
        """The scored rows' entries of a per-row array."""
        return codes if self.rows is None else codes[self.rows]


def _decile_bins(ranks: ScoreRanks, n_bins: int) -> tuple[np.ndarray, tuple[float, ...]]:
    """Bin of each row, and the edges: deciles as ``np.quantile`` computes them, from the sorted scores.

    With weights, the order statistics of the repeated scores, found through cumulative weights: the same
    formula on the same numbers, so the same edges.
    """
    ordered = ranks.ordered
    if ordered.size == 0:
        return np.zeros(0, dtype=np.int64), ()
    distinct = ordered[np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])]
    if ranks.weights is None:
        size, at = ordered.size, ordered.__getitem__
    else:
        per_score = np.rint(np.bincount(ranks.block, weights=ranks.weights, minlength=distinct.size))
        cumulative = np.cumsum(per_score.astype(np.int64))
        size = int(cumulative[-1])

        def at(k: np.ndarray) -> np.ndarray:
            return distinct[np.searchsorted(cumulative, k, side="right")]

    position = np.linspace(0, 1, n_bins + 1) * (size - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, size - 1)
    low, high = at(below), at(above)
    cuts = np.unique(low + (position - below) * (high - low))
    # Bin each distinct score once, then spread to rows through their tie block.
    bin_of_block = np.clip(np.searchsorted(cuts, distinct, side="right") - 1, 0, max(cuts.size - 2, 0))
    return bin_of_block[ranks.block], tuple(float(c) for c in cuts)


def scored_rows(
    scores: np.ndarray,
    outcomes: Outcomes,
    *,
    n_bins: int = CALIBRATION_BINS,
    weights: np.ndarray | None = None,
) -> ScoredRows:
    """Select the rows with a decision, a label and a finite score; sort and bin their scores once.

    Bins are the score's deciles over these rows (fewer when scores repeat); each bin
    includes its lower edge, the last also its upper edge. ``weights`` (source rows per row;
    by default the outcomes') make the deciles, AUC and sums those of the repeated rows.
    """
    scores = np.asarray(scores, dtype=float)
    weights = outcomes.weights if weights is None else np.asarray(weights, dtype=np.int64)
    keep = outcomes.labeled & np.isfinite(scores)
    if weights is not None:
        keep &= weights > 0
    rows = None if keep.all() else np.flatnonzero(keep)
    values = scores if rows is None else scores[rows]
    positive = outcomes.label_positive if rows is None else outcomes.label_positive[rows]
    if weights is not None and rows is not None:
        weights = weights[rows]
    ranks = rank_scores(values, positive, weights)
    bins, edges = _decile_bins(ranks, n_bins)
    return ScoredRows(rows=rows, scores=values, positive=positive, ranks=ranks, bins=bins, edges=edges, weights=weights)


@dataclass(frozen=True, eq=False)
class ScoreCounts:
    """Score sums per group and per (group, calibration bin).

    Attributes
    ----------
    n, positives
        Scored rows and positive labels per group.
    squared_error
        Sum of (score − label)² per group: the Brier score's numerator.
    bin_n, bin_positives, bin_score
        Rows, positive labels and summed scores per (group, bin), shape ``(n_groups, n_bins)``.
    """

    n: np.ndarray
    positives: np.ndarray
    squared_error: np.ndarray
    bin_n: np.ndarray
    bin_positives: np.ndarray
    bin_score: np.ndarray


def count_scores(grouping: Grouping, scored: ScoredRows) -> ScoreCounts:
    """Per-group score sums for the Brier score and calibration, by ``np.bincount`` over (group, bin, label)."""
    shape = (grouping.n_groups, scored.n_bins, 2)
    index = scored.select(grouping.codes) * (2 * scored.n_bins)
    index += scored.bins * 2 + scored.positive

    def table(weights: np.ndarray | None) -> np.ndarray:
        return np.bincount(index, weights=weights, minlength=math.prod(shape)).reshape(shape)

    w = scored.weights
    # Scores beyond ~1e154 overflow s²; the Brier score is reported only for scores in [0, 1]
    # (audit marks it undefined otherwise), so the overflow needs no warning.
    with np.errstate(over="ignore", invalid="ignore"):
        if w is None:
            n, score, square = table(None), table(scored.scores), table(scored.scores * scored.scores)
        else:
            n = np.rint(table(w)).astype(np.int64)
            score, square = table(w * scored.scores), table(w * (scored.scores * scored.scores))
        # Σ(s − y)² = Σs² − 2Σ_{y=1} s + Σy, with y in {0, 1}.
        squared_error = (square.sum(axis=2) - 2 * score[:, :, 1] + n[:, :, 1]).sum(axis=1)
    return ScoreCounts(
        n=n.sum(axis=(1, 2)),
        positives=n[:, :, 1].sum(axis=1),
        squared_error=squared_error,
        bin_n=n.sum(axis=2),
        bin_positives=n[:, :, 1],
        bin_score=score.sum(axis=2),
    )
