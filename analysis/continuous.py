"""Continuous outcomes by group: waiting times, amounts offered, credit limits — not a yes/no decision.

For one numeric outcome and one grouping (integer codes, as :func:`analysis.encode_groups` gives), each group
gets its mean with a t interval, its median with the exact distribution-free (order-statistic) interval, its
p10/p50/p90, and the share of its rows above a threshold (the user's, or the overall median: the NYC LL144
"scoring rate") with a Wilson interval. Each group is compared with the reference group (the best-off group
with enough rows unless one is named): the difference of means with Welch's interval and test, the ratio of
means (a log-scale delta-method interval, for positive means), the difference of medians (its interval by MOVER
from the two exact median intervals, Zou & Donner 2008), the Mann–Whitney U test, the Kolmogorov–Smirnov
distance and test, the quantile gaps, and the scoring-rate impact ratio (Katz interval) with its test.
:func:`adjust` gives Benjamini–Hochberg q-values over every test of several attributes at once, as the audit
adjusts its family.

The tests are scipy's (``ttest_ind(equal_var=False)``, ``mannwhitneyu``, ``ks_2samp``), imported when used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from analysis.errors import OptionError
from analysis.options import CONFIDENCE, check_fraction, check_whole
from analysis.stats import benjamini_hochberg, katz_interval, two_proportion_test, wilson_interval, z_value

__all__ = [
    "ContinuousAttribute",
    "ContinuousComparison",
    "ContinuousGroup",
    "OutcomeAudit",
    "adjust",
    "audit_outcome",
    "continuous_by_group",
    "mann_whitney_sorted",
    "median_interval",
    "outcome_values",
]

QUANTILES = (0.1, 0.5, 0.9)
TESTS = ("welch", "mann_whitney", "ks", "scoring_rate")
NOT_NUMBERS = (
    "The outcome has {count:,} values that are not finite numbers (e.g. {examples}). Clean them, or treat them as "
    "missing before the audit."
)
BAD_CODES = "Expected one group code per outcome value ({values:,}), got {codes:,}."


def _none(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def median_interval(sorted_values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """Exact distribution-free interval for the median from order statistics (as ``scipy.stats.quantile_test``).

    The interval ``[x_(k), x_(n-k+1)]`` with the largest ``k`` whose binomial(n, 1/2) tail
    ``P(B ≤ k - 1)`` is at most ``(1 - confidence) / 2``; undefined (None) when no ``k`` qualifies (small n).
    """
    from scipy.stats import binom

    n = int(sorted_values.size)
    if n == 0:
        return None, None
    alpha = 1 - confidence
    k = int(binom.ppf(alpha / 2, n, 0.5))  # smallest k with P(B ≤ k) ≥ alpha/2
    if binom.cdf(k, n, 0.5) > alpha / 2:
        k -= 1
    # x_(k+1) .. x_(n-k) in 1-based order statistics covers the median with probability ≥ confidence.
    if k < 0:
        return None, None
    return float(sorted_values[k]), float(sorted_values[n - k - 1])


@dataclass(frozen=True)
class ContinuousGroup:
    """One group's outcome: size, mean and median with intervals, quantiles and scoring rate."""

    group: str
    n: int
    mean: float | None
    mean_low: float | None
    mean_high: float | None
    median: float | None
    median_low: float | None
    median_high: float | None
    quantiles: dict[str, float | None]
    above: int
    share_above: float | None
    share_above_low: float | None
    share_above_high: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class ContinuousComparison:
    """One group against the reference: differences, ratios, tests (p-values; q-values after :func:`adjust`)."""

    group: str
    reference: str
    mean_difference: float | None
    mean_difference_low: float | None
    mean_difference_high: float | None
    mean_ratio: float | None
    mean_ratio_low: float | None
    mean_ratio_high: float | None
    median_difference: float | None
    median_difference_low: float | None
    median_difference_high: float | None
    quantile_gaps: dict[str, float | None]
    ks_distance: float | None
    impact_ratio: float | None
    impact_ratio_low: float | None
    impact_ratio_high: float | None
    p_values: dict[str, float | None]
    q_values: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class ContinuousAttribute:
    """An outcome audited over one grouping: every group, and every group against the reference."""

    attribute: str
    outcome: str
    higher_is_better: bool
    threshold: float | None
    threshold_source: str  # "given" or "overall median"
    reference: str | None
    reference_rule: str
    groups: tuple[ContinuousGroup, ...]
    comparisons: tuple[ContinuousComparison, ...]
    missing: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("groups", "comparisons")}
        return out | {
            "groups": [g.to_dict() for g in self.groups],
            "comparisons": [c.to_dict() for c in self.comparisons],
        }


def _group(label: str, xs: np.ndarray, threshold: float | None, confidence: float) -> ContinuousGroup:
    """One group's statistics from its values, sorted."""
    n = int(xs.size)
    mean = float(xs.mean()) if n else math.nan
    low = high = None
    if n >= 2:
        from scipy.stats import t

        half = float(t.ppf(0.5 + confidence / 2, n - 1)) * float(xs.std(ddof=1)) / math.sqrt(n)
        low, high = mean - half, mean + half
    m_low, m_high = median_interval(xs, confidence)
    quantiles = {f"p{round(q * 100)}": _none(float(np.quantile(xs, q))) if n else None for q in QUANTILES}
    above = int(n - np.searchsorted(xs, threshold, side="right")) if threshold is not None else 0
    s_low, s_high = wilson_interval(above, n, confidence=confidence)
    return ContinuousGroup(
        group=label,
        n=n,
        mean=_none(mean),
        mean_low=_none(low) if low is not None else None,
        mean_high=_none(high) if high is not None else None,
        median=_none(float(np.median(xs))) if n else None,
        median_low=m_low,
        median_high=m_high,
        quantiles=quantiles,
        above=above,
        share_above=above / n if n and threshold is not None else None,
        share_above_low=_none(float(s_low)) if threshold is not None else None,
        share_above_high=_none(float(s_high)) if threshold is not None else None,
    )


def _welch(
    x: np.ndarray, y: np.ndarray, confidence: float
) -> tuple[float | None, float | None, float | None, float | None]:
    """Difference of means x − y, Welch's interval and two-sided p-value."""
    from scipy.stats import t, ttest_ind

    if x.size < 2 or y.size < 2:
        return None, None, None, None
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    d = float(x.mean() - y.mean())
    se = math.sqrt(vx + vy)
    if se == 0:
        return d, d, d, (1.0 if d == 0 else 0.0)
    df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    half = float(t.ppf(0.5 + confidence / 2, df)) * se
    p = float(ttest_ind(x, y, equal_var=False).pvalue)
    return d, d - half, d + half, p


def _mean_ratio(x: np.ndarray, y: np.ndarray, confidence: float) -> tuple[float | None, float | None, float | None]:
    """Ratio of means x̄ / ȳ with a delta-method interval on the log scale (positive means only)."""
    if x.size < 2 or y.size < 2:
        return None, None, None
    mx, my = float(x.mean()), float(y.mean())
    if mx <= 0 or my <= 0:
        return None, None, None
    se = math.sqrt(x.var(ddof=1) / (x.size * mx**2) + y.var(ddof=1) / (y.size * my**2))
    z = z_value(confidence)
    ratio = mx / my
    return ratio, ratio * math.exp(-z * se), ratio * math.exp(z * se)


def _mover(d: float, est1, low1, high1, est2, low2, high2) -> tuple[float | None, float | None]:
    """MOVER interval for est1 − est2 from each estimate's own interval (Zou & Donner 2008)."""
    if None in (est1, low1, high1, est2, low2, high2):
        return None, None
    low = d - math.sqrt((est1 - low1) ** 2 + (high2 - est2) ** 2)
    high = d + math.sqrt((high1 - est1) ** 2 + (est2 - low2) ** 2)
    return low, high


def _runs(xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and how often each occurs."""
    if not xs.size:
        return xs, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    return xs[starts], np.diff(np.r_[starts, xs.size])


def mann_whitney_sorted(xs: np.ndarray, ys: np.ndarray) -> float:
    """Two-sided Mann–Whitney U p-value of two sorted samples, as ``scipy.stats.mannwhitneyu`` gives it.

    Large samples take scipy's asymptotic path (tie-corrected normal approximation with continuity
    correction) computed from the sorted values, without ranking the pooled sample again; samples of 8 or
    fewer go to scipy (its exact distribution when there are no ties).
    """
    from scipy.special import ndtr

    n1, n2 = int(xs.size), int(ys.size)
    if n1 <= 8 or n2 <= 8:
        from scipy.stats import mannwhitneyu

        return float(mannwhitneyu(xs, ys, alternative="two-sided").pvalue)
    # U1 = Σ over x of (#y below it + half the ys equal to it).
    u1 = float(np.searchsorted(ys, xs, "left").sum() + np.searchsorted(ys, xs, "right").sum()) / 2
    u = max(u1, n1 * n2 - u1)
    vx, cx = _runs(xs)
    vy, cy = _runs(ys)
    values, counts = np.concatenate([vx, vy]), np.concatenate([cx, cy]).astype(float)
    order = np.argsort(values, kind="stable")
    values, counts = values[order], counts[order]
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    t = np.add.reduceat(counts, starts)
    n = n1 + n2
    s = math.sqrt(n1 * n2 / 12 * ((n + 1) - float((t**3 - t).sum()) / (n * (n - 1))))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.float64(u - n1 * n2 / 2 - 0.5) / np.float64(s)
    return float(np.clip(2 * ndtr(-z), 0.0, 1.0))


def _compare(
    g: ContinuousGroup, r: ContinuousGroup, x: np.ndarray, y: np.ndarray, confidence: float
) -> ContinuousComparison:
    """Group ``g`` against the reference ``r`` from their sorted values ``x`` and ``y``."""
    from scipy.stats import ks_2samp

    d, d_low, d_high, p_welch = _welch(x, y, confidence)
    ratio, r_low, r_high = _mean_ratio(x, y, confidence)
    md = None if g.median is None or r.median is None else g.median - r.median
    md_low, md_high = (None, None) if md is None else _mover(
        md, g.median, g.median_low, g.median_high, r.median, r.median_low, r.median_high
    )  # fmt: skip
    p_mw = ks = p_ks = None
    if x.size and y.size:
        p_mw = mann_whitney_sorted(x, y)
        result = ks_2samp(x, y)
        ks, p_ks = float(result.statistic), float(result.pvalue)
    gaps = {
        k: (None if g.quantiles[k] is None or r.quantiles[k] is None else g.quantiles[k] - r.quantiles[k])
        for k in g.quantiles
    }
    impact = i_low = i_high = p_share = None
    if g.share_above is not None and r.share_above is not None:
        ir, il, ih = katz_interval(g.above, g.n, r.above, r.n, confidence=confidence)
        impact, i_low, i_high = _none(float(ir)), _none(float(il)), _none(float(ih))
        p, _ = two_proportion_test(g.above, g.n, r.above, r.n)
        p_share = _none(float(p))
    return ContinuousComparison(
        group=g.group,
        reference=r.group,
        mean_difference=_none(d) if d is not None else None,
        mean_difference_low=d_low,
        mean_difference_high=d_high,
        mean_ratio=ratio,
        mean_ratio_low=r_low,
        mean_ratio_high=r_high,
        median_difference=md,
        median_difference_low=md_low,
        median_difference_high=md_high,
        quantile_gaps=gaps,
        ks_distance=ks,
        impact_ratio=impact,
        impact_ratio_low=i_low,
        impact_ratio_high=i_high,
        p_values={"welch": p_welch, "mann_whitney": p_mw, "ks": p_ks, "scoring_rate": p_share},
    )


def _reference(groups: Sequence[ContinuousGroup], named: str | None, higher_is_better: bool, min_size: int,
               missing_label: str | None) -> tuple[int | None, str]:  # fmt: skip
    labels = [g.group for g in groups]
    if named is not None and named in labels and groups[labels.index(named)].n:
        return labels.index(named), "named in the spec"
    candidates = [
        i for i, g in enumerate(groups) if g.n >= min_size and g.group != missing_label and g.mean is not None
    ]
    rule = f"the {'highest' if higher_is_better else 'lowest'} mean among groups with at least {min_size} rows"
    if not candidates:
        candidates = [i for i, g in enumerate(groups) if g.mean is not None and g.group != missing_label]
        rule = f"the {'highest' if higher_is_better else 'lowest'} mean (no group has {min_size} rows)"
    if not candidates:
        return None, "no group has a value"
    sign = 1 if higher_is_better else -1
    best = max(candidates, key=lambda i: (sign * groups[i].mean, groups[i].n, -i))
    return best, rule


def continuous_by_group(
    values: np.ndarray,
    codes: np.ndarray,
    labels: Sequence[str],
    *,
    attribute: str = "group",
    outcome: str = "outcome",
    higher_is_better: bool = True,
    threshold: float | None = None,
    reference: str | None = None,
    min_group_size: int = 30,
    missing_label: str | None = "(missing)",
    confidence: float = CONFIDENCE,
) -> ContinuousAttribute:
    """Describe a numeric outcome per group and compare every group with the reference.

    Parameters
    ----------
    values
        The outcome per row; NaN is missing (left out and counted in ``missing``); infinities are refused.
    codes, labels
        Each row's group code, indexing ``labels`` (as :class:`analysis.GroupCodes` gives).
    higher_is_better
        Whether a larger outcome is better for the person (an amount offered) or worse (a waiting time).
    threshold
        The scoring-rate threshold: the share of each group strictly above it; None uses the overall median.
    reference
        The group compared with; None: the best-off group (by mean) with at least ``min_group_size`` rows.

    Returns
    -------
    ContinuousAttribute
        p-values only: give every attribute of the audit to :func:`adjust` for q-values.
    """
    check_fraction("continuous_by_group", "confidence", confidence, "Use e.g. 0.95.")
    check_whole("continuous_by_group", "min_group_size", min_group_size, 1, "Use e.g. 30.")
    values = np.asarray(values, dtype=float)
    codes = np.asarray(codes, dtype=np.int64)
    if codes.shape != values.shape:
        raise OptionError(BAD_CODES.format(values=values.size, codes=codes.size), option="codes")
    infinite = np.isinf(values)
    if infinite.any():
        examples = ", ".join(str(v) for v in np.unique(values[infinite])[:3])
        raise OptionError(NOT_NUMBERS.format(count=int(infinite.sum()), examples=examples), option="values")
    known = ~np.isnan(values)
    source = "given"
    if threshold is None and known.any():
        threshold, source = float(np.median(values[known])), "overall median"
    # Every group's values sorted in one pass: groups contiguous, each in increasing order.
    v, c = values[known], codes[known]
    # Sort the values, then stably by group (a radix sort on small integer codes): faster than lexsort.
    order = np.argsort(v)
    small = c[order].astype(np.int16) if len(labels) < np.iinfo(np.int16).max else c[order]
    order = order[np.argsort(small, kind="stable")]
    v, c = v[order], c[order]
    bounds = np.searchsorted(c, np.arange(len(labels) + 1))
    per_group = [v[bounds[i] : bounds[i + 1]] for i in range(len(labels))]
    groups = tuple(_group(str(label), x, threshold, confidence) for label, x in zip(labels, per_group, strict=True))
    ref, rule = _reference(groups, reference, higher_is_better, min_group_size, missing_label)
    comparisons = ()
    if ref is not None:
        comparisons = tuple(
            _compare(groups[i], groups[ref], per_group[i], per_group[ref], confidence)
            for i in range(len(groups))
            if i != ref and groups[i].n
        )
    return ContinuousAttribute(
        attribute=attribute,
        outcome=outcome,
        higher_is_better=bool(higher_is_better),
        threshold=threshold,
        threshold_source=source,
        reference=None if ref is None else groups[ref].group,
        reference_rule=rule,
        groups=groups,
        comparisons=comparisons,
        missing=int((~known).sum()),
    )


def adjust(attributes: Sequence[ContinuousAttribute]) -> tuple[ContinuousAttribute, ...]:
    """The same attributes with Benjamini–Hochberg q-values over every test of every comparison of them all."""
    p = [c.p_values[t] for a in attributes for c in a.comparisons for t in TESTS]
    q = benjamini_hochberg(np.array([np.nan if v is None else v for v in p], dtype=float))
    out, k = [], 0
    for a in attributes:
        comparisons = []
        for c in a.comparisons:
            values = {t: _none(float(q[k + i])) for i, t in enumerate(TESTS)}
            comparisons.append(replace(c, q_values=values))
            k += len(TESTS)
        out.append(replace(a, comparisons=tuple(comparisons)))
    return tuple(out)


NOT_A_COLUMN = "Outcome column {column!r} is not in the table. Columns: {columns}."
TEXT_IN_NUMBERS = (
    "Outcome column '{column}' has {count:,} {cells} (e.g. {examples}). A continuous outcome "
    "needs numbers: correct those cells, or make them empty to leave them out."
)
NEGATIVE_DURATIONS = (
    "Outcome column '{column}' holds {count:,} negative {durations} (e.g. {examples}): a waiting time cannot be below "
    "0. Check how it was computed (end before start?), or make those cells empty to leave them out."
)


@dataclass(frozen=True)
class OutcomeAudit:
    """A continuous outcome audited over every protected attribute and intersection of a spec."""

    outcome: str
    higher_is_better: bool
    duration: bool
    rows: int
    missing: int
    attributes: dict[str, ContinuousAttribute]
    intersections: dict[str, ContinuousAttribute]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "outcome": self.outcome,
            "higher_is_better": self.higher_is_better,
            "duration": self.duration,
            "rows": self.rows,
            "missing": self.missing,
            "attributes": {k: v.to_dict() for k, v in self.attributes.items()},
            "intersections": {k: v.to_dict() for k, v in self.intersections.items()},
        }


def outcome_values(df: Any, column: str, *, duration: bool = False) -> np.ndarray:
    """The outcome column as floats (NaN where missing), refusing text among the numbers and negative durations."""
    import pandas as pd

    if column not in df.columns:
        raise OptionError(
            NOT_A_COLUMN.format(column=column, columns=", ".join(map(str, df.columns[:20]))), option="outcome"
        )
    series = df[column]
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna() & series.notna()
    if pd.api.types.is_bool_dtype(series.dtype):
        bad = series.notna()
    if bad.any():
        examples = ", ".join(repr(v) for v in pd.unique(series[bad])[:3])
        count = int(bad.sum())
        cells = "cell that is not a number" if count == 1 else "cells that are not numbers"
        message = TEXT_IN_NUMBERS.format(column=column, count=count, cells=cells, examples=examples)
        raise OptionError(message, option="outcome")
    values = numbers.to_numpy(dtype=float, na_value=np.nan)
    infinite = np.isinf(values)
    if infinite.any():
        raise OptionError(NOT_NUMBERS.format(count=int(infinite.sum()), examples="inf"), option="outcome")
    if duration and (values < 0).any():
        negative = values[values < 0]
        examples = ", ".join(f"{v:g}" for v in negative[:3])
        durations = "duration" if negative.size == 1 else "durations"
        message = NEGATIVE_DURATIONS.format(column=column, count=negative.size, durations=durations, examples=examples)
        raise OptionError(message, option="outcome")
    return values


def audit_outcome(
    df: Any,
    spec: Any,
    outcome: str,
    *,
    higher_is_better: bool = True,
    duration: bool = False,
    threshold: float | None = None,
    confidence: float = CONFIDENCE,
) -> OutcomeAudit:
    """Audit a continuous outcome over the spec's protected attributes and intersections (BH over all of them).

    Parameters
    ----------
    df, spec
        The table and the audit's spec (its protected attributes, intersections, minimum group size).
    outcome
        The numeric column: a waiting time, an amount offered.
    higher_is_better
        Whether more is better for the person.
    duration
        The outcome is a duration: negative values are refused.
    threshold
        The scoring-rate threshold (default: the overall median).
    """
    from analysis.audit import groupings
    from analysis.validation import checked_table

    df, spec = checked_table(df, spec)
    values = outcome_values(df, outcome, duration=duration)
    singles, crossed = groupings(df, spec)
    named = {a.column: a.reference for a in spec.protected}

    def one(grouping: Any, reference: str | None) -> ContinuousAttribute:
        return continuous_by_group(values, grouping.codes, grouping.labels, attribute=grouping.name,
                                   outcome=outcome, higher_is_better=higher_is_better, threshold=threshold,
                                   reference=reference, min_group_size=spec.min_group_size,
                                   confidence=confidence)  # fmt: skip

    found = adjust([one(g, named.get(g.name)) for g in singles] + [one(g, None) for g in crossed])
    return OutcomeAudit(
        outcome=outcome,
        higher_is_better=bool(higher_is_better),
        duration=bool(duration),
        rows=int(values.size),
        missing=int(np.isnan(values).sum()),
        attributes={a.attribute: a for a in found[: len(singles)]},
        intersections={a.attribute: a for a in found[len(singles) :]},
    )
