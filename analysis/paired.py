"""Two decision-makers on the same cases: the AI's triage and the reviewer's, model A and model B, before and after.

Per group, each decision-maker's positive rate, their difference with a paired interval (Bonett & Price's
adjusted Wald interval for paired proportions, 2012) and McNemar's test (exact binomial when the discordant
pairs are fewer than 25, else the chi-square without continuity correction, as statsmodels' ``mcnemar``), how
often they agree, and where they disagree: the share where only the first decides positive and where only the
second does ("the AI escalates Portuguese tickets to a human 40% less often than reviewers would").
:func:`paired_by_group` takes boolean arrays, so every way of turning columns into positive decisions is
the caller's (the spec's).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.errors import OptionError
from analysis.options import CONFIDENCE, check_fraction
from analysis.stats import benjamini_hochberg, z_value

__all__ = ["PairedAttribute", "PairedGroup", "mcnemar_p", "paired_by_group", "paired_interval"]

EXACT_BELOW = 25  # discordant pairs below this: the exact binomial test
NOT_ALIGNED = "Expected one value per case in each decision and in the groups, got {sizes}."


def mcnemar_p(only_first: int, only_second: int) -> float:
    """Two-sided McNemar p-value from the discordant counts (exact binomial below 25 pairs, else chi-square)."""
    b, c = int(only_first), int(only_second)
    n = b + c
    if n == 0:
        return 1.0
    if n < EXACT_BELOW:
        from scipy.stats import binom

        return float(min(1.0, 2 * binom.cdf(min(b, c), n, 0.5)))
    chi2 = (b - c) ** 2 / n
    return float(math.erfc(math.sqrt(chi2 / 2)))


def paired_interval(
    only_first: int, only_second: int, n: int, confidence: float = CONFIDENCE
) -> tuple[float | None, float | None]:
    """Bonett–Price adjusted Wald interval for the paired difference (first rate − second rate)."""
    if n == 0:
        return None, None
    p12 = (only_first + 1) / (n + 2)
    p21 = (only_second + 1) / (n + 2)
    half = z_value(confidence) * math.sqrt(max(p12 + p21 - (p12 - p21) ** 2, 0.0) / (n + 2))
    centre = p12 - p21
    return max(-1.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class PairedGroup:
    """One group's cases decided by both: each one's rate, the paired difference, agreement, the test."""

    group: str
    n: int
    first_rate: float | None
    second_rate: float | None
    difference: float | None
    difference_low: float | None
    difference_high: float | None
    agreement: float | None
    only_first: int
    only_second: int
    p_value: float | None
    test: str
    q_value: float | None = None

    def sentence(self, attribute: str, first: str, second: str, verb: str) -> str:
        """One plain sentence: ``"For language = Portuguese, cases are escalated by the AI 40% less often than by
        the reviewers (12% vs 20%)."``."""
        if self.first_rate is None or self.second_rate is None or not self.second_rate:
            return f"For {attribute} = {self.group}, no case is {verb} by {second}."  # nothing to compare with
        change = self.first_rate / self.second_rate - 1
        how = (
            "as often as" if abs(change) < 0.005 else f"{abs(change):.0%} {'more' if change > 0 else 'less'} often than"
        )
        rates = f"{self.first_rate:.0%} vs {self.second_rate:.0%}"
        return f"For {attribute} = {self.group}, cases are {verb} by {first} {how} by {second} ({rates})."

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class PairedAttribute:
    """Two decision-makers compared on the same cases, group by group of one attribute."""

    attribute: str
    first: str
    second: str
    groups: tuple[PairedGroup, ...]
    left_out: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "attribute": self.attribute,
            "first": self.first,
            "second": self.second,
            "left_out": self.left_out,
            "groups": [g.to_dict() for g in self.groups],
        }


def paired_by_group(
    first: np.ndarray,
    second: np.ndarray,
    codes: np.ndarray,
    labels: Sequence[str],
    *,
    decided: np.ndarray | None = None,
    attribute: str = "group",
    first_name: str = "first",
    second_name: str = "second",
    confidence: float = CONFIDENCE,
) -> PairedAttribute:
    """Compare two decision-makers' positive decisions on the same cases, per group.

    Parameters
    ----------
    first, second
        Each case's positive decision by each decision-maker (booleans).
    codes, labels
        Each case's group code, indexing ``labels``.
    decided
        Cases both decided (others are left out and counted); default every case.

    Returns
    -------
    PairedAttribute
        q-values are Benjamini–Hochberg over the groups' McNemar tests.
    """
    check_fraction("paired_by_group", "confidence", confidence, "Use e.g. 0.95.")
    first, second = np.asarray(first, bool), np.asarray(second, bool)
    codes = np.asarray(codes, np.int64)
    decided = np.ones(first.size, bool) if decided is None else np.asarray(decided, bool)
    if not first.shape == second.shape == codes.shape == decided.shape:
        sizes = ", ".join(str(a.size) for a in (first, second, codes, decided))
        raise OptionError(NOT_ALIGNED.format(sizes=sizes), option="codes")
    groups = []
    for i, label in enumerate(labels):
        rows = decided & (codes == i)
        a, b = first[rows], second[rows]
        n = int(rows.sum())
        only_first, only_second = int((a & ~b).sum()), int((~a & b).sum())
        low, high = paired_interval(only_first, only_second, n, confidence)
        groups.append(
            PairedGroup(
                group=str(label),
                n=n,
                first_rate=float(a.mean()) if n else None,
                second_rate=float(b.mean()) if n else None,
                difference=(only_first - only_second) / n if n else None,
                difference_low=low,
                difference_high=high,
                agreement=float((a == b).mean()) if n else None,
                only_first=only_first,
                only_second=only_second,
                p_value=mcnemar_p(only_first, only_second) if n else None,
                test="exact" if only_first + only_second < EXACT_BELOW else "chi-square",
            )
        )
    q = benjamini_hochberg(np.array([np.nan if g.p_value is None else g.p_value for g in groups]))
    groups = [
        PairedGroup(**{**g.to_dict(), "q_value": None if math.isnan(v) else float(v)})
        for g, v in zip(groups, q, strict=True)
    ]
    return PairedAttribute(attribute, first_name, second_name, tuple(groups), int((~decided).sum()))
