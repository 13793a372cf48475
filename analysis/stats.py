"""Intervals and tests for proportions, vectorised over groups.

Every function takes counts as arrays (one element per group, or per pair of groups) and
returns arrays of the same shape. An undefined result is NaN here; the audit turns it into
``null`` with its reason. Nothing here ever returns an infinity.

- :func:`wilson_interval` — Wilson score interval for a proportion.
- :func:`katz_interval` — Katz log interval for a ratio of two independent proportions.
- :func:`newcombe_interval` — Newcombe's hybrid score interval (his method 10) for a difference.
- :func:`mover_average_interval` — interval for the mean of two independent differences (MOVER).
- :func:`two_proportion_test` — Fisher's exact or Pearson's chi-square test of two proportions.
- :func:`benjamini_hochberg` — Benjamini–Hochberg q-values.
- :func:`minimum_detectable_difference` — the smallest gap a two-group comparison could detect.
- :func:`auc_by_group`, :func:`hanley_mcneil_interval` — ROC AUC per group, by rank statistics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from analysis.options import ALPHA, CONFIDENCE, POWER, check_fraction

__all__ = [
    "DENSE_AUC_CELLS",
    "ScoreRanks",
    "auc_by_group",
    "benjamini_hochberg",
    "hanley_mcneil_interval",
    "katz_interval",
    "minimum_detectable_difference",
    "mover_average_interval",
    "newcombe_interval",
    "rank_scores",
    "repeated_quantile",
    "two_proportion_test",
    "wilson_interval",
    "z_value",
]

# Fisher's exact test replaces chi-square when an expected cell count falls below this
# (Cochran's rule for 2x2 tables).
MIN_EXPECTED = 5.0
FISHER = "fisher"
CHI_SQUARE = "chi-square"


def z_value(confidence: float) -> float:
    """Two-sided standard normal quantile for ``confidence`` (1.959964 for 0.95)."""
    check_fraction("z_value()", "confidence", confidence, f"Use e.g. confidence={CONFIDENCE:g}.")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _floats(*arrays: object) -> list[np.ndarray]:
    return [np.asarray(a, dtype=float) for a in arrays]


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (never inf)."""
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def wilson_interval(successes, totals, *, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for proportions ``successes / totals``.

    Parameters
    ----------
    successes, totals
        Counts, array-like of the same shape.
    confidence
        Coverage of the interval.

    Returns
    -------
    (low, high)
        Arrays within [0, 1]; NaN where ``totals`` is 0. Same formula as statsmodels'
        ``proportion_confint(method="wilson")``.
    """
    x, n = _floats(successes, totals)
    z2 = z_value(confidence) ** 2
    p = _ratio(x, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = 1 + z2 / n
        center = (p + z2 / (2 * n)) / denom
        half = np.sqrt(z2) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # Exact 0 and 1 at the edges, which rounding would otherwise miss by 1e-17.
    low = np.where(x == 0, 0.0, np.clip(center - half, 0.0, 1.0))
    high = np.where(x == n, 1.0, np.clip(center + half, 0.0, 1.0))
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def katz_interval(x1, n1, x2, n2, *, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratio of proportions ``(x1/n1) / (x2/n2)`` with the Katz log interval.

    The interval is exp(log ratio ± z·se), se² = 1/x1 − 1/n1 + 1/x2 − 1/n2 (Katz et al. 1978).
    It is undefined (NaN) when either count is 0: the log of a zero rate has no variance.
    The ratio itself is NaN when ``x2`` or a total is 0, and 0 when only ``x1`` is.

    Returns
    -------
    (ratio, low, high)
    """
    x1, n1, x2, n2 = _floats(x1, n1, x2, n2)
    ratio = _ratio(_ratio(x1, n1), _ratio(x2, n2))
    ok = (x1 > 0) & (x2 > 0) & np.isfinite(ratio)
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
        log_ratio = np.log(ratio)
        low = np.where(ok, np.exp(log_ratio - z * se), np.nan)
        high = np.where(ok, np.exp(log_ratio + z * se), np.nan)
    return ratio, low, high


def newcombe_interval(x1, n1, x2, n2, *, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference of proportions ``x1/n1 − x2/n2`` with Newcombe's hybrid score interval.

    Method 10 of Newcombe (1998), built from the two Wilson intervals (l, u):
    low = d − sqrt((p1 − l1)² + (u2 − p2)²), high = d + sqrt((u1 − p1)² + (p2 − l2)²).
    Defined whenever both totals are positive, including rates of 0 or 1.

    Returns
    -------
    (difference, low, high)
    """
    x1, n1, x2, n2 = _floats(x1, n1, x2, n2)
    p1, p2 = _ratio(x1, n1), _ratio(x2, n2)
    l1, u1 = wilson_interval(x1, n1, confidence=confidence)
    l2, u2 = wilson_interval(x2, n2, confidence=confidence)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


def mover_average_interval(d1, low1, high1, d2, low2, high2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean of two independent differences, with its MOVER interval (Zou & Donner 2008).

    Used for the average odds difference: the TPR and FPR differences come from disjoint
    rows (label positive, label negative), so their interval half-widths add in quadrature.

    Returns
    -------
    (mean, low, high)
    """
    d1, low1, high1, d2, low2, high2 = _floats(d1, low1, high1, d2, low2, high2)
    mean = (d1 + d2) / 2
    low = mean - np.sqrt((d1 - low1) ** 2 + (d2 - low2) ** 2) / 2
    high = mean + np.sqrt((high1 - d1) ** 2 + (high2 - d2) ** 2) / 2
    return mean, low, high


def _chi_square_p(a, b, c, d) -> np.ndarray:
    n1, n2, s, f = a + b, c + d, a + c, b + d
    total = n1 + n2
    chi2 = _ratio(total * (a * d - b * c) ** 2, n1 * n2 * s * f)
    # With one degree of freedom, P(chi2 > x) = erfc(sqrt(x / 2)).
    return np.array([math.erfc(math.sqrt(v / 2)) if np.isfinite(v) else np.nan for v in chi2.ravel()]).reshape(
        chi2.shape
    )


def _fisher_p(a: float, b: float, c: float, d: float) -> float:
    """Two-sided Fisher exact p-value: the hypergeometric mass of tables no likelier than this one."""
    n1, n2, s = a + b, c + d, a + c
    lo, hi = max(0.0, s - n2), min(s, n1)
    k = np.arange(lo, hi)
    # log pmf up to a constant, by the ratio pmf(k + 1) / pmf(k) of successive tables.
    steps = np.log((n1 - k) * (s - k)) - np.log((k + 1) * (n2 - s + k + 1))
    log_pmf = np.concatenate(([0.0], np.cumsum(steps)))
    log_pmf -= log_pmf.max()
    pmf = np.exp(log_pmf)
    observed = log_pmf[int(a - lo)]
    # Same relative tolerance as scipy.stats.fisher_exact, so ties in probability count.
    extreme = log_pmf <= observed + math.log1p(1e-7)
    return float(min(pmf[extreme].sum() / pmf.sum(), 1.0))


def two_proportion_test(x1, n1, x2, n2) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided test that two independent proportions are equal.

    Fisher's exact test when any expected cell of the 2x2 table is below 5; otherwise
    Pearson's chi-square test without continuity correction (as
    ``scipy.stats.chi2_contingency(table, correction=False)``).

    Returns
    -------
    (p_values, methods)
        p-values (NaN when a total is 0; 1.0 when the outcome is the same in every row),
        and the test used per element: ``"fisher"`` or ``"chi-square"`` (``""`` if none).
    """
    x1, n1, x2, n2 = np.broadcast_arrays(*_floats(x1, n1, x2, n2))
    a, b, c, d = x1, n1 - x1, x2, n2 - x2
    total = n1 + n2
    s, f = a + c, b + d
    expected_min = _ratio(np.minimum(n1, n2) * np.minimum(s, f), total)
    defined = (n1 > 0) & (n2 > 0)
    one_outcome = defined & ((s == 0) | (f == 0))
    use_fisher = defined & ~one_outcome & (expected_min < MIN_EXPECTED)
    p = _chi_square_p(a, b, c, d)
    for i in np.flatnonzero(use_fisher.ravel()):
        p.flat[i] = _fisher_p(a.flat[i], b.flat[i], c.flat[i], d.flat[i])
    p = np.where(one_outcome, 1.0, np.where(defined, p, np.nan))
    methods = np.where(use_fisher | one_outcome, FISHER, np.where(defined, CHI_SQUARE, ""))
    return np.clip(p, 0.0, 1.0), methods


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini–Hochberg q-values (false discovery rate adjusted p-values).

    NaN p-values are left out of the family and stay NaN. Equals
    ``scipy.stats.false_discovery_control(p, method="bh")`` on the finite values.
    """
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p.ravel()))
    m = finite.size
    if m == 0:
        return q
    values = p.ravel()[finite]
    order = np.argsort(values, kind="stable")
    scaled = values[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    q.flat[finite] = out
    return q


def minimum_detectable_difference(n1, n2, rate, *, alpha: float = ALPHA, power: float = POWER) -> np.ndarray:
    """Smallest gap between two proportions a two-sided test would detect with ``power``.

    Normal approximation with unpooled variances: the gap δ solves
    δ = (z₁₋α/₂ + z_power) · sqrt(r(1 − r)/n2 + r′(1 − r′)/n1), r′ = r ∓ δ moving toward 0.5,
    where ``rate`` r is the rate of the group of size ``n2`` (the reference). Solved in
    closed form as a quadratic in δ.

    Returns
    -------
    numpy.ndarray
        δ, NaN where a size is 0 or the rate is undefined.
    """
    check_fraction("minimum_detectable_difference()", "alpha", alpha, f"Use e.g. alpha={ALPHA:g}.")
    check_fraction("minimum_detectable_difference()", "power", power, f"Use e.g. power={POWER:g}.")
    n1, n2, r = _floats(n1, n2, rate)
    z2 = (z_value(1 - alpha) + NormalDist().inv_cdf(power)) ** 2
    r = np.maximum(r, 1 - r)  # by symmetry, measure the gap from the rate farther from 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        a = 1 + z2 / n1
        b = -z2 * (2 * r - 1) / n1
        c = -z2 * (r * (1 - r) / n2 + r * (1 - r) / n1)
        delta = (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)
    return np.where((n1 > 0) & (n2 > 0) & np.isfinite(delta), delta, np.nan)


def hanley_mcneil_interval(auc, n_pos, n_neg, *, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Hanley & McNeil (1982) normal interval for an AUC, clipped to [0, 1]."""
    a, n1, n0 = _floats(auc, n_pos, n_neg)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0)
    se = np.sqrt(np.maximum(var, 0.0))
    z = z_value(confidence)
    ok = np.isfinite(a) & (n1 > 0) & (n0 > 0)
    return np.where(ok, np.clip(a - z * se, 0, 1), np.nan), np.where(ok, np.clip(a + z * se, 0, 1), np.nan)


@dataclass(frozen=True, eq=False)
class ScoreRanks:
    """Scores sorted once, shared by every grouping's AUC.

    Attributes
    ----------
    order
        ``argsort(scores)``.
    ordered
        The scores in that order.
    block
        Tie block of each row: the dense rank of its score (equal scores, equal block).
    n_blocks
        Number of distinct scores.
    positive
        Label per row (bool).
    weights
        Rows each row stands for (int64), or None when each is one row.
    """

    order: np.ndarray
    ordered: np.ndarray
    block: np.ndarray
    n_blocks: int
    positive: np.ndarray
    weights: np.ndarray | None = None


def rank_scores(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray | None = None) -> ScoreRanks:
    """Sort ``scores`` once and number their distinct values (for :func:`auc_by_group`).

    ``weights`` (rows each row stands for) make every count downstream that of the repeated rows.
    """
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(scores)
    ordered = scores[order]
    new_value = np.empty(ordered.size, dtype=bool)
    new_value[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new_value[1:])
    block = np.empty(ordered.size, dtype=np.int64)
    block[order] = np.cumsum(new_value) - 1
    n_blocks = int(new_value.sum())
    weights = None if weights is None else np.asarray(weights, dtype=np.int64)
    return ScoreRanks(order, ordered, block, n_blocks, positive=np.asarray(positive, dtype=bool), weights=weights)


def repeated_quantile(values: np.ndarray, weights: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile(np.repeat(values, weights), q)`` (linear method) without repeating the values.

    Numpy's formula, step for step: the virtual index ``(n − 1)·q`` in the repeated sorted values, the
    value at a position found by cumulative weights, and numpy's two-sided interpolation, so the result is the
    same number, not merely a close one.
    """
    values, weights = np.asarray(values, dtype=float), np.asarray(weights, dtype=np.int64)
    q = np.asarray(q, dtype=float)
    order = np.argsort(values, kind="stable")
    ordered, cumulative = values[order], np.cumsum(weights[order])
    n = int(cumulative[-1]) if cumulative.size else 0
    if n == 0:
        return np.full(q.shape, np.nan)
    virtual = (n - 1) * q
    below = np.floor(virtual)
    above = below + 1
    top = virtual >= n - 1
    below[top] = above[top] = n - 1
    bottom = virtual < 0
    below[bottom] = above[bottom] = 0

    def at(position: np.ndarray) -> np.ndarray:
        return ordered[np.searchsorted(cumulative, position.astype(np.int64), side="right")]

    a, b, t = at(below), at(above), virtual - np.floor(virtual)
    diff = b - a
    out = a + diff * t
    np.subtract(b, diff * (1 - t), out=out, where=t >= 0.5)
    return out


# Above this many (group, distinct score) cells, AUC sorts by group instead of tabulating.
DENSE_AUC_CELLS = 4_000_000


def _auc_dense(codes: np.ndarray, ranks: ScoreRanks, n_groups: int) -> tuple[np.ndarray, ...]:
    """Positives and negatives per (group, distinct score), by one bincount."""
    index = codes * (2 * ranks.n_blocks) + ranks.block * 2 + ranks.positive
    table = np.bincount(index, weights=ranks.weights, minlength=n_groups * ranks.n_blocks * 2)
    if ranks.weights is not None:
        table = np.rint(table).astype(np.int64)  # whole counts, so the sums below are the repeated rows' exactly
    table = table.reshape(n_groups, ranks.n_blocks, 2)
    neg, pos = table[:, :, 0], table[:, :, 1]
    below = np.cumsum(neg, axis=1) - neg
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    return wins, pos.sum(axis=1), neg.sum(axis=1), (pos + neg > 0).sum(axis=1)


def _auc_sorted(codes: np.ndarray, ranks: ScoreRanks, n_groups: int) -> tuple[np.ndarray, ...]:
    """The same by a stable sort by group of the score order: blocks of (group, score)."""
    by_score = codes[ranks.order]
    small = by_score.astype(np.int16) if n_groups <= np.iinfo(np.int16).max else by_score
    perm = ranks.order[np.argsort(small, kind="stable")]  # numpy radix-sorts 16-bit keys
    block, y = ranks.block[perm], ranks.positive[perm]
    w = None if ranks.weights is None else ranks.weights[perm]
    sizes = np.bincount(codes, minlength=n_groups)
    if ranks.weights is not None:
        rows = sizes  # rows of each group, to find its blocks; its weight counts its positives and negatives
        sizes = np.bincount(codes, weights=ranks.weights, minlength=n_groups)
        sizes = np.rint(sizes).astype(np.int64)
    else:
        rows = sizes
    ends = np.cumsum(rows)
    change = np.empty(block.size, dtype=bool)
    change[:1] = True
    np.not_equal(block[1:], block[:-1], out=change[1:])
    change[ends[(ends > 0) & (ends < block.size)]] = True  # a group's first row starts a block
    starts = np.flatnonzero(change)
    block_group = np.searchsorted(ends, starts, side="right")
    if w is None:
        block_pos = np.add.reduceat(y, starts, dtype=np.int64) if starts.size else np.zeros(0, np.int64)
        block_neg = np.diff(np.append(starts, block.size)) - block_pos
    else:
        block_pos = np.add.reduceat(w * y, starts, dtype=np.int64) if starts.size else np.zeros(0, np.int64)
        block_neg = (np.add.reduceat(w, starts, dtype=np.int64) if starts.size else np.zeros(0, np.int64)) - block_pos
    before = np.cumsum(block_neg) - block_neg  # negatives before each block, all groups
    first = np.append(before, 0)[np.minimum(np.searchsorted(block_group, np.arange(n_groups)), before.size)]
    below = before - first[block_group]
    wins = np.bincount(block_group, weights=block_pos * (below + 0.5 * block_neg), minlength=n_groups)
    n_pos = np.bincount(block_group, weights=block_pos, minlength=n_groups).astype(np.int64)
    return wins, n_pos, sizes - n_pos, np.bincount(block_group, minlength=n_groups)


def auc_by_group(
    codes: np.ndarray,
    scores: np.ndarray,
    positive: np.ndarray,
    n_groups: int,
    *,
    ranks: ScoreRanks | None = None,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ROC AUC per group: the Mann–Whitney statistic, ties counted as one half.

    AUC = P(score of a positive > score of a negative) + ½ P(tie), within each group. The
    scores are sorted once (pass ``ranks`` from :func:`rank_scores` to share that between
    groupings); then either one ``np.bincount`` over (group, distinct score) or, with many
    distinct scores, a stable sort by group. The rest is cumulative sums.

    Parameters
    ----------
    codes
        Group code per row (0 .. n_groups − 1).
    scores, positive
        Score and label (bool) per row; ignored when ``ranks`` is given.
    n_groups
        Number of groups.
    ranks
        ``rank_scores(scores, positive, weights)`` if already computed (it carries the weights then).
    weights
        Rows each row stands for (ignored when ``ranks`` is given): the result is that of the repeated rows.

    Returns
    -------
    (auc, n_positive, n_negative, constant)
        AUC is NaN when a group lacks either class or its scores are all equal
        (``constant`` is True then).
    """
    ranks = rank_scores(scores, positive, weights) if ranks is None else ranks
    codes = np.asarray(codes, dtype=np.int64)
    if n_groups * ranks.n_blocks <= DENSE_AUC_CELLS:
        wins, n_pos, n_neg, blocks = _auc_dense(codes, ranks, n_groups)
    else:
        wins, n_pos, n_neg, blocks = _auc_sorted(codes, ranks, n_groups)
    constant = blocks == 1
    auc = np.where(constant, np.nan, _ratio(wins, n_pos.astype(float) * n_neg))
    return auc, n_pos.astype(np.int64), n_neg.astype(np.int64), constant
