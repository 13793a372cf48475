"""Turn a protected attribute's column into groups: integer codes plus labels.

Encoding happens once per attribute; everything downstream (counts, metrics,
intervals) works on the codes. Missing values form an explicit ``"(missing)"`` group
so they are counted and shown, never dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import SpecError
from analysis.stats import repeated_quantile
from analysis.values import value_key

__all__ = ["LITERAL_MISSING_GROUP", "MISSING_GROUP", "GroupCodes", "bin_labels", "encode_groups", "quantile_edges"]

MISSING_GROUP = "(missing)"
# A cell whose text is literally "(missing)" is a value, not a missing cell: its group is named apart.
LITERAL_MISSING_GROUP = "(missing) [value]"

BINS_NOT_NUMERIC = (
    "Column '{column}' has text values (e.g. {examples}) but bins were given; bins apply to "
    "numeric columns only. Remove the bins, or choose a numeric column."
)
BINS_NOT_INCREASING = "Bin edges for '{column}' must increase strictly, got {edges}. Sort them and drop repeats."


@dataclass(frozen=True)
class GroupCodes:
    """A protected attribute encoded as groups.

    Attributes
    ----------
    column
        The source column.
    codes
        One int per row, indexing ``labels``.
    labels
        Group names; ``"(missing)"`` last when present.
    counts
        Rows per group, aligned with ``labels``.
    edges
        The bin edges used for a binned numeric column, else None.
    """

    column: str
    codes: np.ndarray
    labels: tuple[str, ...]
    counts: tuple[int, ...]
    edges: tuple[float, ...] | None = None

    @property
    def missing_count(self) -> int:
        """Rows in the ``"(missing)"`` group (0 when there is none)."""
        if self.labels and self.labels[-1] == MISSING_GROUP:
            return self.counts[-1]
        return 0

    def sizes(self) -> dict[str, int]:
        """Rows per group, by label."""
        return dict(zip(self.labels, self.counts, strict=True))


def _fmt(edge: float) -> str:
    return f"{edge:g}"


def bin_labels(edges: Sequence[float]) -> list[str]:
    """Labels of the bins cut by ``edges``: ``<25``, ``25–40``, ..., ``≥60``.

    Each bin includes its lower edge: 25 falls in ``25–40``, 40 in ``40–60``.
    """
    labels = [f"<{_fmt(edges[0])}"]
    labels += [f"{_fmt(lo)}–{_fmt(hi)}" for lo, hi in itertools.pairwise(edges)]
    labels.append(f"≥{_fmt(edges[-1])}")
    return labels


def quantile_edges(values: pd.Series, quantiles: int, weights: np.ndarray | None = None) -> tuple[float, ...]:
    """Inner edges that cut ``values`` into ``quantiles`` bins of about equal size.

    With ``weights`` (rows each value stands for), the edges of the repeated values, exactly.
    """
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnan(numbers)
    numbers = numbers[known]
    if weights is not None:
        weights = np.asarray(weights, dtype=np.int64)[known]
        numbers, weights = numbers[weights > 0], weights[weights > 0]
    if numbers.size == 0:
        return ()
    q = np.linspace(0, 1, quantiles + 1)[1:-1]
    inner = np.quantile(numbers, q) if weights is None else repeated_quantile(numbers, weights, q)
    return tuple(float(e) for e in np.unique(inner))


def _check_edges(column: str, edges: Sequence[float]) -> tuple[float, ...]:
    edges = tuple(float(e) for e in edges)
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise SpecError(BINS_NOT_INCREASING.format(column=column, edges=list(edges)))
    return edges


def _encode_binned(series: pd.Series, edges: tuple[float, ...]) -> tuple[np.ndarray, list[str]]:
    numbers = series.to_numpy(dtype=float, na_value=np.nan)
    codes = np.searchsorted(np.asarray(edges), numbers, side="right").astype(np.int64)
    labels = bin_labels(edges) if edges else ["all"]
    missing = np.isnan(numbers)
    codes[missing] = -1
    return codes, labels


def _encode_values(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    codes, uniques = pd.factorize(series, sort=True, use_na_sentinel=True)
    labels = [value_key(u) for u in uniques]
    # Two raw values may share one canonical key (1 and 1.0; "a" and " a"): merge them.
    if len(set(labels)) != len(labels):
        canonical = sorted(set(labels))
        remap = np.array([canonical.index(lbl) for lbl in labels], dtype=np.int64)
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
        labels = canonical
    if MISSING_GROUP in labels:
        literal = LITERAL_MISSING_GROUP
        while literal in labels:
            literal += " [value]"
        labels = [literal if lbl == MISSING_GROUP else lbl for lbl in labels]
    return np.asarray(codes, dtype=np.int64), labels


def encode_groups(
    series: pd.Series,
    *,
    bins: Sequence[float] | None = None,
    quantiles: int | None = None,
    weights: np.ndarray | None = None,
    edges: Sequence[float] | None = None,
) -> GroupCodes:
    """Encode one protected attribute's column as integer group codes.

    Parameters
    ----------
    series
        The column.
    bins
        Inner bin edges for a numeric column, e.g. ``(25, 40, 60)``.
    quantiles
        Cut a numeric column into this many equal-frequency bins instead.
    weights
        Rows each row stands for (a :class:`analysis.engine.CountedTable`'s): group sizes and quantile
        edges are those of the repeated rows.
    edges
        The quantile bins' inner edges, already computed over every source row (by an engine): used
        instead of computing them from ``series``.

    Returns
    -------
    GroupCodes
        Codes, labels and sizes; missing values are the ``"(missing)"`` group, last. A cell whose
        text is ``"(missing)"`` is a value: its group is :data:`LITERAL_MISSING_GROUP`, never merged
        with the missing cells.
    """
    column = str(series.name)
    given, edges = edges, None
    if bins is not None or quantiles is not None:
        if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            examples = [str(v) for v in series.dropna().unique()[:3]]
            raise SpecError(BINS_NOT_NUMERIC.format(column=column, examples=examples), problems=())
        if bins is not None:
            edges = _check_edges(column, bins)
        elif given is not None:
            edges = tuple(float(e) for e in given)
        else:
            edges = quantile_edges(series, int(quantiles), weights)
        codes, labels = _encode_binned(series, edges)
    else:
        codes, labels = _encode_values(series)
    missing = codes < 0
    if missing.any():
        codes = np.where(missing, len(labels), codes)
        labels = [*labels, MISSING_GROUP]
    counts = np.bincount(codes, minlength=len(labels))
    if weights is not None:
        counts = np.rint(np.bincount(codes, weights=weights, minlength=len(labels))).astype(np.int64)
    if edges is not None:
        # Empty bins say nothing; keep labels for groups that have rows.
        keep = np.flatnonzero(counts)
        if keep.size < len(labels):
            remap = np.full(len(labels), -1, dtype=np.int64)
            remap[keep] = np.arange(keep.size)
            codes = remap[codes]
            labels = [labels[i] for i in keep]
            counts = counts[keep]
    return GroupCodes(
        column=column,
        codes=codes,
        labels=tuple(labels),
        counts=tuple(int(c) for c in counts),
        edges=edges,
    )
