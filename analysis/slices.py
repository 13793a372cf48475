"""Slice discovery: the worst-treated subgroups nobody named, with honest significance.

A *slice* is a conjunction of feature values ("region = East and channel = phone"): numeric features
with many values are cut into quantile bins, a missing cell is a value of its own, and the protected
attributes may be terms too. :func:`find_slices` searches every slice of up to ``max_depth`` terms with at
least ``min_support`` rows for the largest *harm*: how much worse the slice's metric is than the rest of the
data's (a lower favourable rate; a higher FPR, FNR or error rate).

The search is exact for the top-k by harm and prunes as SliceLine does (Sagadeeva & Boehm, SIGMOD 2021):
level by level, one count per feature combination (a ``np.bincount`` here, a ``GROUP BY`` in DuckDB), and a
combination is counted only when some of its slices could still enter the top-k. A child slice is a subset
of each parent, so its size is at most its smallest parent's and its harm at most
``min(1, h/s) − (H − h)/(N − s)`` for every parent with ``h`` harmful rows (``H`` and ``N`` overall, ``s`` the
minimum support).

Every slice of a counted combination with enough rows is tested against the rest of the data (Fisher's
exact or Pearson's chi-square, as the audit's tests) and the q-values are Benjamini–Hochberg over the
*whole* family: slices whose combination was pruned are counted in it with p = 1, so the correction is never
smaller than the one over every slice (``tested`` and ``pruned`` say how many). A slice no worse than one of
its parents (not significantly worse than the rest of that parent, Bonferroni over the parent's possible
extensions) is folded into that parent: it says nothing the parent does not.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import OptionError, SpecError
from analysis.groups import MISSING_GROUP, encode_groups
from analysis.metrics import SLICE_METRICS, MetricInfo
from analysis.options import ALPHA, CONFIDENCE, check_choice, check_fraction, check_whole
from analysis.spec import AuditSpec, ProtectedAttribute
from analysis.stats import benjamini_hochberg, katz_interval, newcombe_interval, two_proportion_test, wilson_interval

__all__ = [
    "SLICE_BINS",
    "SLICE_MAX_VALUES",
    "Composition",
    "Slice",
    "SliceFeature",
    "SliceSearch",
    "SliceTerm",
    "default_min_support",
    "find_slices",
    "slice_mask",
]

SLICE_BINS = 4  # numeric features with many values are cut into quartiles
SLICE_MAX_VALUES = 10  # a numeric feature with more distinct values is binned
MIN_SUPPORT_SHARE = 0.01  # default minimum support: 1 % of the rows the metric counts ...
MAX_FEATURE_VALUES = 50  # a text feature with more values than this is left out (an ID, free text)
MAX_SLICE_SHARE = 0.5  # a slice of more rows is not listed: its gap is the advantage of its small complement
STANDS_IN_FOR_LIFT = 0.10  # a group this much more common in a slice than overall is what the slice stands in for

BAD_METRIC_LABEL = (
    "Slices by {metric} need a label column: it compares decisions with true outcomes. Set the label "
    "role, or search by the favourable rate."
)
NO_FEATURES = (
    "No column can be a slice term: {why} Name features in the spec, or pick columns with at most "
    f"{MAX_FEATURE_VALUES} values (numeric columns are binned)."
)
SLICE_ENGINES = ("pandas", "duckdb")
COUNTED_SLICES = (
    "A slice search needs every row's features, which a counted table no longer has: pass the table itself, or "
    "its file with engine='duckdb'."
)
NOT_NUMBER_BINS = (
    "Bins were given for {column!r}, but it holds text ({dtype}), not numbers: leave it out of the bins (an "
    "earlier search of other data may have read it as numbers)."
)
NOT_A_COLUMN = "Feature {column!r} is not a column of the table. Columns: {columns}."
NOT_A_TERM = (
    "The slice term {term!r} names no value of column {column!r} in this table (its terms: {values}). Search the "
    "slices of this table again and pick one of its slices."
)


@dataclass(frozen=True)
class SliceTerm:
    """One term of a slice: a column and its value (a value, a bin like ``"25–40"``, or ``"(missing)"``)."""

    column: str
    value: str

    def to_dict(self) -> dict[str, str]:
        """JSON-safe dict."""
        return {"column": self.column, "value": self.value}

    def describe(self) -> str:
        """``"region = East"``."""
        return f"{self.column} = {self.value}"


@dataclass(frozen=True)
class SliceFeature:
    """A column the search used (how its values became terms) or left out (why)."""

    column: str
    values: tuple[str, ...] = ()
    binned: bool = False
    skipped: str | None = None
    edges: tuple[float, ...] | None = None  # a binned number's inner cut points

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        edges = None if self.edges is None else list(self.edges)
        return {"column": self.column, "values": list(self.values), "binned": self.binned, "skipped": self.skipped,
                "edges": edges}  # fmt: skip


@dataclass(frozen=True)
class Composition:
    """How one protected attribute's groups are represented in a slice, against the whole data.

    ``shares`` and ``overall`` are aligned with ``groups``; ``top`` is the most over-represented group.
    """

    attribute: str
    groups: tuple[str, ...]
    shares: tuple[float, ...]
    overall: tuple[float, ...]

    @property
    def top(self) -> int:
        """Index of the group with the largest share in the slice relative to its share overall."""
        lift = [s - o for s, o in zip(self.shares, self.overall, strict=True)]
        return int(np.argmax(lift))

    @property
    def lift(self) -> float:
        """The top group's share in the slice minus its share overall."""
        return self.shares[self.top] - self.overall[self.top]

    def sentence(self) -> str:
        """``"82% of this slice is ethnicity = B, against 25% overall"``."""
        i = self.top
        share, overall = _pct(self.shares[i]), _pct(self.overall[i])
        return f"{share} of this slice is {self.attribute} = {self.groups[i]}, against {overall} overall"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "attribute": self.attribute,
            "groups": list(self.groups),
            "shares": list(self.shares),
            "overall": list(self.overall),
            "sentence": self.sentence(),
        }


@dataclass(frozen=True)
class Slice:
    """One slice: its terms, size, the metric inside and outside it, the gap and its test.

    Attributes
    ----------
    terms
        The conjunction, in the order of the search's features.
    n, events
        Rows the metric counts in the slice, and of those its numerator (e.g. favourable decisions).
    value, low, high
        The metric in the slice with its Wilson interval.
    rest_n, rest_events, rest_value
        The same for the rest of the data.
    difference, difference_low, difference_high
        Slice minus rest, with Newcombe's interval.
    ratio, ratio_low, ratio_high
        Slice divided by rest, with Katz's interval (None when undefined).
    harm
        How much worse the slice is than the rest (the difference, signed so that positive is worse).
    p_value, test, q_value
        Two-sided test of the slice against the rest; BH q-value over every slice of the family.
    significant
        ``q_value < alpha``.
    folded
        Slices folded into this one (children no worse than it).
    composition
        For a significant slice, how each protected attribute's groups are represented in it.
    """

    terms: tuple[SliceTerm, ...]
    n: int
    events: int
    value: float
    low: float
    high: float
    rest_n: int
    rest_events: int
    rest_value: float | None
    difference: float | None
    difference_low: float | None
    difference_high: float | None
    ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    harm: float
    p_value: float
    test: str
    q_value: float
    significant: bool
    folded: int = 0
    composition: tuple[Composition, ...] = ()

    @property
    def depth(self) -> int:
        """Number of terms."""
        return len(self.terms)

    @property
    def key(self) -> str:
        """A stable name of the slice (its terms joined), used to match slices across searches."""
        return " and ".join(t.describe() for t in self.terms)

    def describe(self) -> str:
        """``"region = East and channel = phone"``."""
        return self.key

    @property
    def stands_in_for(self) -> Composition | None:
        """The protected attribute most over-represented in the slice (not one of its terms), or None.

        A group counts as over-represented when its share in the slice is at least
        ``STANDS_IN_FOR_LIFT`` (10 points) above its share overall: a slice a point or two off the
        whole data's mix stands in for nobody.
        """
        named = {t.column for t in self.terms}
        shown = [c for c in self.composition if c.attribute not in named and c.lift >= STANDS_IN_FOR_LIFT]
        if not shown:
            return None
        return max(shown, key=lambda c: c.lift)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("terms", "composition")}
        return {
            "slice": self.key,
            "terms": [t.to_dict() for t in self.terms],
            "depth": self.depth,
            **out,
            "stands_in_for": None if self.stands_in_for is None else self.stands_in_for.sentence(),
            "composition": [c.to_dict() for c in self.composition],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Slice:
        """Read :meth:`to_dict` output."""
        names = [k for k in cls.__dataclass_fields__ if k not in ("terms", "composition")]
        terms = tuple(SliceTerm(t["column"], t["value"]) for t in data["terms"])
        composition = tuple(
            Composition(c["attribute"], tuple(c["groups"]), tuple(c["shares"]), tuple(c["overall"]))
            for c in data.get("composition", ())
        )
        return cls(terms=terms, composition=composition, **{k: data[k] for k in names})


@dataclass(frozen=True)
class SliceSearch:
    """What :func:`find_slices` found, and how it searched.

    Attributes
    ----------
    metric, title, better
        The metric (``"favorable_rate"``, ``"fpr"``, ``"fnr"``, ``"error_rate"``), its plain name, and which
        way is better (``"higher"`` or ``"lower"``).
    rows, events, overall
        Rows the metric counts, its numerator and its value over the whole data.
    max_depth, min_support, top_k, alpha
        The search's options (``min_support`` in rows).
    features
        The columns used as terms (with their values) and those left out (with why).
    slices
        The top-k slices by harm, worst first (folded ones left out).
    tested
        Slices tested (counted, with at least ``min_support`` rows).
    pruned
        Slices whose combination was never counted because no slice of it could enter the top-k: in the
        Benjamini–Hochberg family with p = 1.
    combinations, combinations_counted
        Feature combinations in the lattice, and those counted.
    engine
        ``"pandas"`` or ``"duckdb"``.
    """

    metric: str
    title: str
    better: str
    rows: int
    events: int
    overall: float | None
    max_depth: int
    min_support: int
    top_k: int
    alpha: float
    features: tuple[SliceFeature, ...]
    slices: tuple[Slice, ...]
    tested: int
    pruned: int
    combinations: int
    combinations_counted: int
    engine: str = "pandas"
    protected: tuple[str, ...] = ()

    @property
    def family(self) -> int:
        """Slices in the Benjamini–Hochberg family: tested plus pruned."""
        return self.tested + self.pruned

    @property
    def significant(self) -> tuple[Slice, ...]:
        """The slices of the top-k with q below alpha."""
        return tuple(s for s in self.slices if s.significant)

    @property
    def bins(self) -> dict[str, tuple[float, ...]]:
        """Where each binned number was cut: give it to another search (``find_slices(bins=...)``) to cut the
        same way, so that its slices can be compared with these."""
        return {f.column: f.edges for f in self.features if f.edges is not None and f.skipped is None}

    def slice(self, key: str) -> Slice | None:
        """The slice named ``key`` (:attr:`Slice.key`), or None when it is not in the top-k."""
        return next((s for s in self.slices if s.key == key), None)

    def summary(self) -> str:
        """One plain sentence on what was searched and found."""
        found = len(self.significant)
        terms = "1 term" if self.max_depth == 1 else f"up to {self.max_depth} terms"
        what = f"{self.family:,} slices of {terms} with at least {self.min_support:,} rows"
        tail = (
            f"{found} of the top {len(self.slices)} {'is' if found == 1 else 'are'} significantly worse than the rest "
            f"(q < {self.alpha:g}, Benjamini–Hochberg over all {self.family:,})"
        )
        if not self.slices:
            tail = "none is worse than the rest of the data"
        return f"Searched {what} by {self.title}: {tail}."

    def terms_note(self) -> str:
        """How columns became terms: which numbers were binned, that missing is a value, which were left out."""
        binned = [f.column for f in self.features if f.binned and f.skipped is None]
        left = [f"{f.column} ({f.skipped})" for f in self.features if f.skipped is not None]
        parts = []
        if binned:
            parts.append(
                f"Numbers cut into bins (protected attributes as the spec bins them; other numbers into quartiles, "
                f"or at their second-smallest value when most rows share one): {', '.join(binned)}."
            )
        parts.append('A missing cell is a value of its own, "(missing)".')
        parts.append(
            f"Slices of more than {MAX_SLICE_SHARE:.0%} of the rows are tested but not listed: their gap is the "
            "advantage of the smaller rest."
        )
        if left:
            parts.append(f"Left out: {'; '.join(left)}.")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("features", "slices", "protected")}
        return {
            **out,
            "family": self.family,
            "protected": list(self.protected),
            "summary": self.summary(),
            "terms_note": self.terms_note(),
            "features": [f.to_dict() for f in self.features],
            "slices": [s.to_dict() for s in self.slices],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SliceSearch:
        """Read :meth:`to_dict` output."""
        names = [k for k in cls.__dataclass_fields__ if k not in ("features", "slices", "protected")]
        features = tuple(
            SliceFeature(
                f["column"],
                tuple(f["values"]),
                f["binned"],
                f["skipped"],
                None if f.get("edges") is None else tuple(float(e) for e in f["edges"]),
            )
            for f in data["features"]
        )
        slices = tuple(Slice.from_dict(s) for s in data["slices"])
        return cls(
            features=features, slices=slices, protected=tuple(data.get("protected", ())), **{k: data[k] for k in names}
        )


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def default_min_support(rows: int, spec: AuditSpec) -> int:
    """The default minimum support: 1 % of the rows the metric counts, and never below the spec's minimum group size."""
    return max(int(spec.min_group_size), math.ceil(MIN_SUPPORT_SHARE * rows))


# --- the data a search reads -----------------------------------------------------------------------------


@dataclass
class SliceData:
    """Per feature its value labels; the counter answers (rows, harmful rows) per combination's cells."""

    features: list[SliceFeature]
    levels: list[int]
    n: int
    h: int
    # count_many(subsets) -> per subset (n, h) arrays shaped by its levels; composition(subset, cell); protected
    counter: Any


class _ArrayCounter:
    """Counts from per-row codes in memory: one ``np.bincount`` per combination."""

    def __init__(self, codes: list[np.ndarray], levels: list[int], harm: np.ndarray, weights: np.ndarray | None,
                 protected: Mapping[str, tuple[np.ndarray, tuple[str, ...]]]) -> None:  # fmt: skip
        self.codes, self.levels, self.weights, self.protected = codes, levels, weights, protected
        self.harm = harm.astype(np.int64)
        self._pair: tuple[tuple[int, int], np.ndarray] | None = None
        self._buffer: np.ndarray | None = None

    def _head(self, subset: tuple[int, ...]) -> np.ndarray:
        """The first two features' combined code, kept for the next combination: the search visits the
        combinations in lexicographic order, so every triple sharing a pair comes in a row."""
        head = subset[:2]
        if self._pair is None or self._pair[0] != head:
            self._pair = None  # free the last pair before making the next
            self._pair = (head, self.codes[head[0]] * self.levels[head[1]] + self.codes[head[1]])
        return self._pair[1]

    def _index(self, subset: tuple[int, ...]) -> np.ndarray:
        """Each row's cell of the combination, times 2, plus its harm bit: in one buffer reused for every
        combination (fresh arrays of a million rows cost more to allocate than to fill)."""
        if self._buffer is None:
            self._buffer = np.empty(self.harm.size, dtype=np.int64)
        out = self._buffer
        base, rest = (self._head(subset), subset[2:]) if len(subset) >= 2 else (self.codes[subset[0]], ())
        if rest:
            np.multiply(base, self.levels[rest[0]], out=out)
            np.add(out, self.codes[rest[0]], out=out)
            for f in rest[1:]:
                np.multiply(out, self.levels[f], out=out)
                np.add(out, self.codes[f], out=out)
            np.multiply(out, 2, out=out)
        else:
            np.multiply(base, 2, out=out)
        return np.add(out, self.harm, out=out)

    def count(self, subset: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        shape = tuple(self.levels[f] for f in subset)
        size = math.prod(shape)
        cells = np.bincount(self._index(subset), weights=self.weights, minlength=2 * size)
        cells = np.rint(cells).astype(np.int64) if self.weights is not None else cells.astype(np.int64)
        cells = cells.reshape(size, 2)
        return (cells[:, 0] + cells[:, 1]).reshape(shape), cells[:, 1].reshape(shape)

    def count_many(self, subsets: Sequence[tuple[int, ...]]) -> list[tuple[np.ndarray, np.ndarray]]:
        return [self.count(subset) for subset in subsets]

    def composition(
        self, subset: tuple[int, ...], cell: tuple[int, ...]
    ) -> list[tuple[str, tuple[str, ...], np.ndarray, np.ndarray]]:
        inside = np.ones(self.harm.size, bool)
        for f, v in zip(subset, cell, strict=True):
            inside &= self.codes[f] == v
        out = []
        for name, (codes, labels) in self.protected.items():
            w = self.weights
            within = np.bincount(codes[inside], weights=None if w is None else w[inside], minlength=len(labels))
            overall = np.bincount(codes, weights=w, minlength=len(labels))
            out.append((name, labels, within, overall))
        return out


def _metric(metric: str, spec: AuditSpec) -> tuple[MetricInfo, str]:
    check_choice("find_slices", "metric", metric, tuple(SLICE_METRICS), "Pick one of them.")
    info, better = SLICE_METRICS[metric]
    if info.needs_label and spec.label is None:
        raise OptionError(BAD_METRIC_LABEL.format(metric=info.title), option="metric")
    return info, better


def row_states(df: pd.DataFrame, spec: AuditSpec, info: MetricInfo) -> tuple[np.ndarray, np.ndarray]:
    """Rows the metric counts, and of those the numerator's (the counts the metrics module names)."""
    from analysis.counts import outcomes

    state = outcomes(df, spec)
    favorable = state.positive if spec.positive_is_favorable else state.decided & ~state.positive
    kinds = {"n": state.decided, "positives": state.positive, "favorable": favorable}
    if state.has_label:
        lab, lp, pos = state.labeled, state.label_positive, state.positive
        kinds |= {"tp": lab & lp & pos, "fp": lab & ~lp & pos, "tn": lab & ~lp & ~pos, "fn": lab & lp & ~pos}
    counted = np.zeros(len(df), bool)
    for name in info.denominator:
        counted |= kinds[name]
    numerator = np.zeros(len(df), bool)
    for name in info.numerator:
        numerator |= kinds[name]
    return counted, numerator & counted


def encode_feature(
    series: pd.Series,
    *,
    weights: np.ndarray | None = None,
    max_values: int = SLICE_MAX_VALUES,
    bins: int = SLICE_BINS,
    attribute: ProtectedAttribute | None = None,
    edges: Sequence[float] | None = None,
) -> tuple[SliceFeature, np.ndarray | None]:
    """A column as slice terms: its values (numbers with many values cut into quantile bins), missing as a value.

    With ``weights`` (rows each entry stands for: an engine's distinct values), the same terms as the repeated
    rows give. A protected ``attribute`` binned in the spec keeps the spec's bins, so its terms are the audit's
    groups. A number with ``edges`` (an earlier search's :attr:`SliceSearch.bins`) is cut there.
    Returns the feature and each entry's code, or the feature with the reason it is left out and None.
    """
    column = str(series.name)
    numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    if attribute is not None and attribute.binned:
        groups = encode_groups(series, bins=attribute.bins, quantiles=attribute.quantiles, weights=weights)
        if len(groups.labels) < 2:
            return SliceFeature(column, values=groups.labels, skipped="one group only: it cannot split the data"), None
        feature = SliceFeature(column, values=groups.labels, binned=True, edges=tuple(map(float, groups.edges)))
        return feature, np.asarray(groups.codes, dtype=np.int64)
    if edges is not None:
        if not numeric:
            raise SpecError(NOT_NUMBER_BINS.format(column=column, dtype=series.dtype))
        groups = encode_groups(series, bins=tuple(float(e) for e in edges), weights=weights)
        feature = SliceFeature(column, values=groups.labels, binned=True, edges=tuple(map(float, groups.edges)))
        return feature, np.asarray(groups.codes, dtype=np.int64)
    distinct = int(series.nunique(dropna=True))
    if distinct == 0:
        return SliceFeature(column, skipped="every cell is missing"), None
    if numeric and distinct > max_values:
        groups = encode_groups(series, quantiles=bins, weights=weights)
        if len([g for g in groups.labels if g != MISSING_GROUP]) < 2:
            # Most rows share one value (a count that is mostly 0): its quantiles coincide. Split at the
            # second-smallest value instead: the smallest value against everything above it.
            present = series.dropna() if weights is None else series[(np.asarray(weights) > 0) & series.notna()]
            second = float(np.unique(present.to_numpy(dtype=float))[1])
            groups = encode_groups(series, bins=(second,), weights=weights)
        binned = True
    elif distinct > MAX_FEATURE_VALUES:
        why = f"{distinct:,} distinct values: too many to be terms (at most {MAX_FEATURE_VALUES}; bin or group it)"
        return SliceFeature(column, skipped=why), None
    else:
        groups = encode_groups(series, weights=weights)
        binned = False
    if len(groups.labels) < 2:
        return SliceFeature(column, values=groups.labels, skipped="one value only: it cannot split the data"), None
    cut = tuple(map(float, groups.edges)) if binned else None
    return SliceFeature(column, values=groups.labels, binned=binned, edges=cut), np.asarray(
        groups.codes, dtype=np.int64
    )


def feature_columns(
    columns: Sequence[str], spec: AuditSpec, features: Sequence[str] | None, include_protected: bool
) -> list[str]:
    """The columns a search uses as terms: ``features``, or the spec's features (and protected attributes)."""
    columns = [str(c) for c in columns]
    if features is not None:
        missing = [c for c in features if c not in columns]
        if missing:
            raise SpecError(NOT_A_COLUMN.format(column=missing[0], columns=", ".join(columns[:20])))
        return list(dict.fromkeys(map(str, features)))
    chosen = [c for c in spec.feature_columns(columns) if c not in spec.protected_columns]
    if include_protected:
        chosen += [c for c in spec.protected_columns if c in columns]
    return chosen


def _memory_data(df: pd.DataFrame, spec: AuditSpec, info: MetricInfo, columns: Sequence[str],
                 bins: Mapping[str, Sequence[float]] | None = None) -> SliceData:  # fmt: skip
    counted, numerator = row_states(df, spec, info)
    rows = np.flatnonzero(counted)
    part = df.iloc[rows]
    features, codes = [], []
    for column in columns:
        feature, code = encode_feature(
            part[column].rename(column), attribute=spec.attribute(column), edges=(bins or {}).get(column)
        )
        features.append(feature)
        if code is not None:
            codes.append(code)
    levels = usable_levels(features)
    harm = numerator[rows] if _better(info) == "lower" else ~numerator[rows]
    protected = {}
    for attr in spec.protected:
        if attr.column in part.columns:
            g = encode_groups(part[attr.column], bins=attr.bins, quantiles=attr.quantiles)
            protected[attr.column] = (np.asarray(g.codes), tuple(g.labels))
    counter = _ArrayCounter(codes, levels, harm, None, protected)
    return SliceData(features, levels, int(rows.size), int(harm.sum()), counter)


def usable_levels(features: Sequence[SliceFeature]) -> list[int]:
    """Values per used feature; refuses a search with none."""
    used = [f for f in features if f.skipped is None]
    if not used:
        why = "; ".join(f"{f.column}: {f.skipped}" for f in features) or "the table has no feature columns."
        raise SpecError(NO_FEATURES.format(why=why))
    return [len(f.values) for f in used]


def _better(info: MetricInfo) -> str:
    return next(b for i, b in SLICE_METRICS.values() if i.name == info.name)


# --- the search --------------------------------------------------------------------------------------------


@dataclass
class _Level:
    """Per combination of one level: support upper bound and children's harm bound per cell, exact counts."""

    support: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)
    bound: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)
    counted: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def _child_bound(n: np.ndarray, h: np.ndarray, s: int, total_n: int, total_h: int) -> np.ndarray:
    """Largest harm a subset of ``s`` or more rows of a slice with ``n`` rows, ``h`` harmful, can have."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = np.minimum(1.0, h / s)
        rest = (total_h - h) / max(total_n - s, 1)
    return np.where(n >= s, inside - rest, -np.inf)


def _inherited(subset: tuple[int, ...], previous: _Level, levels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The cells' support and harm bounds from their parents (each parent broadcast over the missing axis)."""
    shape = tuple(levels[f] for f in subset)
    support = np.full(shape, np.iinfo(np.int64).max, dtype=np.int64)
    bound = np.full(shape, np.inf)
    for drop in range(len(subset)):
        parent = subset[:drop] + subset[drop + 1 :]
        s = np.expand_dims(previous.support[parent], drop)
        b = np.expand_dims(previous.bound[parent], drop)
        support = np.minimum(support, s)
        bound = np.minimum(bound, b)
    return support, bound


@dataclass
class _Found:
    subset: tuple[int, ...]
    cells: np.ndarray  # flat indices of the combination's cells
    n: np.ndarray
    h: np.ndarray
    harm: np.ndarray
    p: np.ndarray
    test: np.ndarray
    folded_into: np.ndarray  # per cell: -1 kept, else index into the parent list of where it folded
    parents: list[tuple[tuple[int, ...], np.ndarray]] = field(default_factory=list)


def _harm(n, h, total_n: int, total_h: int) -> np.ndarray:
    n, h = np.asarray(n, float), np.asarray(h, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rest = np.where(total_n - n > 0, (total_h - h) / (total_n - n), np.nan)
        return h / n - rest


def _fold(found: _Found, previous: _Level, levels: Sequence[int], extensions: Mapping[tuple[int, ...], int],
          alpha: float, kept_harm: Mapping[tuple[int, ...], np.ndarray]) -> None:  # fmt: skip
    """Fold each child into a parent it is not significantly worse than (the rest of that parent)."""
    shape = tuple(levels[f] for f in found.subset)
    index = np.unravel_index(found.cells, shape)
    folded = np.full(found.cells.size, False)
    best = np.full(found.cells.size, -np.inf)
    target = np.full(found.cells.size, -1)
    for k, drop in enumerate(range(len(found.subset))):
        parent = found.subset[:drop] + found.subset[drop + 1 :]
        pn, ph = previous.counted[parent]
        at = tuple(ix for j, ix in enumerate(index) if j != drop)
        n_p, h_p = pn[at], ph[at]
        rest_n, rest_h = n_p - found.n, h_p - found.h
        p, _ = two_proportion_test(found.h, found.n, rest_h, rest_n)
        with np.errstate(divide="ignore", invalid="ignore"):
            worse = found.h / found.n > np.where(rest_n > 0, rest_h / np.maximum(rest_n, 1), np.inf)
        limit = alpha / max(extensions[parent], 1)
        same = ~(worse & (p < limit))  # not significantly worse than the rest of this parent
        parent_harm = kept_harm[parent][at]
        better = same & (parent_harm > best)
        best = np.where(better, parent_harm, best)
        target = np.where(better, k, target)
        folded |= same
        found.parents.append((parent, np.ravel_multi_index(at, tuple(levels[f] for f in parent))))
    found.folded_into = np.where(folded, target, -1)


def _search(data: SliceData, *, max_depth: int, min_support: int, top_k: int, alpha: float):
    levels, s, N, H = data.levels, min_support, data.n, data.h
    m = len(levels)
    previous = _Level()
    previous.support[()] = np.array(N)
    previous.bound[()] = _child_bound(np.array(N), np.array(H), s, N, H)
    previous.counted[()] = (np.array(N), np.array(H))
    kept_harm: dict[tuple[int, ...], np.ndarray] = {(): np.array(0.0)}
    found: list[_Found] = []
    threshold = 0.0  # only slices worse than the rest (harm > 0) can be reported
    pruned = combinations = counted_combinations = 0
    for depth in range(1, min(max_depth, m) + 1):
        current = _Level()
        level_found: list[_Found] = []
        todo: list[tuple[tuple[int, ...], np.ndarray]] = []
        for subset in itertools.combinations(range(m), depth):
            combinations += 1
            support, bound = _inherited(subset, previous, levels)
            candidates = support >= s
            if not candidates.any():
                current.support[subset], current.bound[subset] = support, np.full(support.shape, -np.inf)
                continue
            # A float margin: a bound equal to the k-th harm may still tie with it.
            if not (bound[candidates] >= threshold - 1e-12).any():
                pruned += int(candidates.sum())
                current.support[subset], current.bound[subset] = support, np.full(support.shape, -np.inf)
                continue
            todo.append((subset, bound))
        # One request per level (one GROUP BY with grouping sets in a database).
        counts = data.counter.count_many([subset for subset, _ in todo])
        for (subset, bound), (n, h) in zip(todo, counts, strict=True):
            counted_combinations += 1
            current.counted[subset] = (n, h)
            current.support[subset] = n
            current.bound[subset] = np.minimum(bound, _child_bound(n, h, s, N, H))
            cells = np.flatnonzero(n.ravel() >= s)
            cn, ch = n.ravel()[cells], h.ravel()[cells]
            p, test = two_proportion_test(ch, cn, H - ch, N - cn)
            level_found.append(_Found(subset, cells, cn, ch, _harm(cn, ch, N, H), p, test, np.full(cells.size, -1)))
        # Fold after the whole level: a parent's extension count and its kept harm are then known.
        extensions = {p: sum(levels[f] for f in range(m) if f not in p) for p in previous.counted}
        level_kept: dict[tuple[int, ...], np.ndarray] = {}
        for f in level_found:
            if depth > 1:
                _fold(f, previous, levels, extensions, alpha, kept_harm)
            harm = np.full(math.prod(levels[i] for i in f.subset), -np.inf)
            harm[f.cells] = f.harm
            level_kept[f.subset] = harm.reshape(tuple(levels[i] for i in f.subset))
        found += level_found
        listed = [f.harm[(f.folded_into < 0) & (f.n <= MAX_SLICE_SHARE * N)] for f in found]
        kept = np.concatenate(listed or [np.zeros(0)])
        kept = kept[np.isfinite(kept)]
        if kept.size >= top_k:
            threshold = max(threshold, float(np.partition(kept, kept.size - top_k)[kept.size - top_k]))
        # No break when a whole level was pruned: the deeper levels' slices still belong to the family.
        previous, kept_harm = current, level_kept
    return found, pruned, combinations, counted_combinations


def find_slices(
    data: pd.DataFrame,
    spec: AuditSpec,
    *,
    metric: str = "favorable_rate",
    max_depth: int = 3,
    min_support: int | None = None,
    top_k: int = 20,
    alpha: float = ALPHA,
    features: Sequence[str] | None = None,
    include_protected: bool = True,
    confidence: float = CONFIDENCE,
    engine: str | None = None,
    na_values: Any = None,
    bins: Mapping[str, Sequence[float]] | None = None,
    counted: Any = None,
) -> SliceSearch:
    """Find the slices (conjunctions of feature values) treated worst, each with its test and q-value.

    Parameters
    ----------
    data
        The table (as :func:`analysis.load_table` returns it), or a path, glob or DuckDB relation to search
        with the DuckDB engine.
    spec
        The audit's roles; its features (every column without a role when it names none) are the terms.
    metric
        ``"favorable_rate"`` (where are decisions least favourable?), or with a label ``"fpr"``, ``"fnr"``,
        ``"error_rate"`` (where does the decision process err most?).
    max_depth
        Most terms per slice.
    min_support
        Fewest rows (counted by the metric) a slice needs; default 1 % of them, at least the spec's
        ``min_group_size``.
    top_k
        Slices reported, worst first.
    alpha
        A slice is significant when its Benjamini–Hochberg q-value is below ``alpha``.
    features
        The columns to use as terms instead of the spec's.
    include_protected
        Also use the protected attributes as terms (when ``features`` is None).
    confidence
        Coverage of every interval.
    engine
        ``"pandas"`` or ``"duckdb"``; None: pandas for a DataFrame, DuckDB for anything else.
    na_values
        Extra spellings of a missing cell for a path (the loader's reading option); a DataFrame is read already.
    bins
        Per number column, the inner edges to cut it at instead of its quartiles: an earlier search's
        :attr:`SliceSearch.bins`, so that this search's slices are the same slices (``compare`` tracks them).
        A protected attribute binned in the spec keeps the spec's bins.
    counted
        On the DuckDB engine: the source already counted under ``spec`` (:func:`analysis.engine.count_table`), to
        validate the spec on instead of counting the source again.

    Returns
    -------
    SliceSearch

    Raises
    ------
    SpecError
        When the spec does not fit the table, or no column can be a term.
    OptionError
        When an option is out of range (an error metric without a label, a depth below 1 ...).
    """
    info, better = _metric(metric, spec)
    check_whole("find_slices", "max_depth", max_depth, 1, "Use 1, 2 or 3 (deeper searches take much longer).")
    check_whole("find_slices", "top_k", top_k, 1, "Ask for at least one slice.")
    check_fraction("find_slices", "alpha", alpha, "Use a level such as 0.05.")
    if min_support is not None:
        check_whole("find_slices", "min_support", min_support, 1, "Use a number of rows, e.g. 100.")
    if engine is not None:
        check_choice("find_slices", "engine", engine, SLICE_ENGINES, "Leave it out to choose by the data.")
    if getattr(data, "weights", None) is not None or type(data).__name__ == "CountedTable":
        raise OptionError(COUNTED_SLICES, option="data")
    if engine == "pandas" and not isinstance(data, pd.DataFrame):
        from analysis.loading import load_table

        data = load_table(data, na_values=na_values).data
    if isinstance(data, pd.DataFrame) and engine in (None, "pandas"):
        from analysis.validation import checked_table

        df, spec = checked_table(data, spec)
        columns = feature_columns(df.columns, spec, features, include_protected)
        prepared, engine_name = _memory_data(df, spec, info, columns, bins), "pandas"
    else:
        from analysis.duckdb_engine import slice_data_duckdb

        prepared = slice_data_duckdb(
            data,
            spec,
            info,
            features=features,
            include_protected=include_protected,
            na_values=na_values,
            bins=bins,
            counted=counted,
        )
        engine_name = "duckdb"
    support = default_min_support(prepared.n, spec) if min_support is None else int(min_support)
    found, pruned, combinations, counted = _search(
        prepared, max_depth=int(max_depth), min_support=support, top_k=int(top_k), alpha=float(alpha)
    )
    slices, tested = _report(
        prepared, found, pruned, better, top_k=int(top_k), alpha=float(alpha), confidence=confidence
    )
    value = prepared.h / prepared.n if prepared.n else None
    overall = None if value is None else (1 - value if better == "higher" else value)
    return SliceSearch(
        metric=info.name,
        title=info.title,
        better=better,
        rows=prepared.n,
        events=prepared.n - prepared.h if better == "higher" else prepared.h,
        overall=overall,
        max_depth=int(max_depth),
        min_support=support,
        top_k=int(top_k),
        alpha=float(alpha),
        features=tuple(prepared.features),
        slices=slices,
        tested=tested,
        pruned=pruned,
        combinations=combinations,
        combinations_counted=counted,
        engine=engine_name,
        protected=tuple(prepared.counter.protected),
    )


def _report(data: SliceData, found: list[_Found], pruned: int, better: str, *, top_k: int, alpha: float,
            confidence: float) -> tuple[tuple[Slice, ...], int]:  # fmt: skip
    tested = sum(f.cells.size for f in found)
    p_all = np.concatenate([f.p for f in found] + [np.ones(pruned)]) if found or pruned else np.zeros(0)
    p_all = np.where(np.isnan(p_all), 1.0, p_all)  # an undefined test (a slice of every row) is no evidence
    q_all = benjamini_hochberg(p_all) if p_all.size else p_all
    # The top-k by harm among kept slices; ties: larger first, then fewer terms, then the search order.
    rows = []
    for i, f in enumerate(found):
        for j in np.flatnonzero((f.folded_into < 0) & (f.harm > 0) & (f.n <= MAX_SLICE_SHARE * data.n)):
            rows.append((-float(f.harm[j]), -int(f.n[j]), len(f.subset), i, int(j)))
    rows.sort()
    starts = np.cumsum([0] + [f.cells.size for f in found])
    folds = _fold_counts(found)
    out = []
    for _, _, _, i, j in rows[:top_k]:
        f = found[i]
        q = float(q_all[starts[i] + j])
        out.append(_slice(data, f, j, better, q, alpha, confidence, folds.get((f.subset, int(f.cells[j])), 0)))
    return tuple(out), tested


def _fold_counts(found: list[_Found]) -> dict[tuple[tuple[int, ...], int], int]:
    """How many slices folded into each slice (directly)."""
    counts: dict[tuple[tuple[int, ...], int], int] = {}
    for f in found:
        for k, (parent, cells) in enumerate(f.parents):
            for cell in cells[f.folded_into == k]:
                key = (parent, int(cell))
                counts[key] = counts.get(key, 0) + 1
    return counts


def _slice(data: SliceData, f: _Found, j: int, better: str, q: float, alpha: float, confidence: float,
           folded: int) -> Slice:  # fmt: skip
    shape = tuple(data.levels[i] for i in f.subset)
    cell = tuple(int(x) for x in np.unravel_index(int(f.cells[j]), shape))
    used = [feat for feat in data.features if feat.skipped is None]
    terms = tuple(SliceTerm(used[i].column, used[i].values[v]) for i, v in zip(f.subset, cell, strict=True))
    n, h = int(f.n[j]), int(f.h[j])
    events = n - h if better == "higher" else h
    rest_n = data.n - n
    rest_events = (rest_n - (data.h - h)) if better == "higher" else data.h - h
    low, high = wilson_interval(events, n, confidence=confidence)
    d, d_low, d_high = newcombe_interval(events, n, rest_events, rest_n, confidence=confidence)
    r, r_low, r_high = katz_interval(events, n, rest_events, rest_n, confidence=confidence)
    significant = bool(q < alpha)
    composition = ()
    if significant:
        composition = tuple(
            Composition(name, labels, tuple(_shares(within)), tuple(_shares(overall)))
            for name, labels, within, overall in data.counter.composition(f.subset, cell)
        )
    return Slice(
        terms=terms,
        n=n,
        events=events,
        value=events / n,
        low=float(low),
        high=float(high),
        rest_n=rest_n,
        rest_events=rest_events,
        rest_value=rest_events / rest_n if rest_n else None,
        difference=_finite(float(d)) if rest_n else None,
        difference_low=_finite(float(d_low)) if rest_n else None,
        difference_high=_finite(float(d_high)) if rest_n else None,
        ratio=_finite(float(r)),
        ratio_low=_finite(float(r_low)),
        ratio_high=_finite(float(r_high)),
        harm=float(f.harm[j]),
        p_value=float(f.p[j]) if math.isfinite(f.p[j]) else 1.0,
        test=str(f.test[j]),
        q_value=q,
        significant=significant,
        folded=folded,
        composition=composition,
    )


def _shares(counts: np.ndarray) -> list[float]:
    total = float(np.sum(counts))
    return [float(c) / total if total else 0.0 for c in counts]


# --- a slice's rows ----------------------------------------------------------------------------------------


def slice_mask(
    data: pd.DataFrame,
    spec: AuditSpec,
    item: Slice | Sequence[SliceTerm],
    *,
    metric: str = "favorable_rate",
    edges: Mapping[str, tuple[float, ...] | None] | None = None,
) -> np.ndarray:
    """Which rows of ``data`` are in a slice: one bool per row.

    Each term's column is encoded as :func:`find_slices` encoded it on these data (numbers cut into the same
    bins, over the rows ``metric`` counts; a missing cell is ``"(missing)"``), so that among the rows the metric
    counts the mask holds exactly the slice's ``n`` rows. Rows the metric does not count (no decision; for an
    error rate, no label or the other label) are in the mask when their values fall in the slice's terms.

    Parameters
    ----------
    data
        The table the slices were searched in (or, with ``edges``, any rows of it, e.g. a sample).
    spec
        The spec of the search.
    item
        A :class:`Slice` of the search, or its terms.
    metric
        The search's metric (:attr:`SliceSearch.metric`): its rows decide the bins.
    edges
        Per column, where the search cut it (:attr:`SliceSearch.bins`; a column absent or None: its values are
        its terms), used instead of cutting ``data``'s own rows: a sample of the searched rows (the Drivers
        page's, of a file searched by DuckDB) would cut other bins.

    Returns
    -------
    numpy.ndarray
        Booleans aligned with the rows of ``data``.

    Raises
    ------
    SpecError
        When a term names a column that is not in ``data`` or a value the column does not have.
    """
    from analysis.validation import checked_table

    info, _ = _metric(metric, spec)
    df, spec = checked_table(data, spec)
    counted = None
    inside = np.ones(len(df), dtype=bool)
    for term in item.terms if isinstance(item, Slice) else tuple(item):
        if term.column not in df.columns:
            columns = ", ".join(map(str, list(df.columns)[:20]))
            raise SpecError(NOT_A_COLUMN.format(column=term.column, columns=columns))
        series = df[term.column].rename(term.column)
        if edges is not None:
            cut = edges.get(term.column)
        else:
            counted = row_states(df, spec, info)[0] if counted is None else counted
            cut = _term_edges(series[counted], spec.attribute(term.column))
        every = encode_groups(series) if cut is None else encode_groups(series, bins=cut)
        if term.value not in every.labels:
            values = ", ".join(every.labels[:20])
            raise SpecError(NOT_A_TERM.format(term=term.describe(), column=term.column, values=values))
        inside &= np.asarray(every.codes) == every.labels.index(term.value)
    return inside


def _term_edges(part: pd.Series, attribute: ProtectedAttribute | None) -> tuple[float, ...] | None:
    """The cut points :func:`encode_feature` chooses for the rows the metric counts (None: values are terms)."""
    feature, _ = encode_feature(part, attribute=attribute)
    return feature.edges
