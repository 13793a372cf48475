"""The audit's tables, shared by the Fairness page and the HTML report: one row per group.

``group_table`` holds each group's size, share and status, its rates with their intervals and its
disparate impact against the reference group with the q-value; ``comparison_table`` holds every
comparison with the reference group. Rates and comparisons are text cells such as
``0.486 (0.471–0.501)``; an undefined rate says why (``undefined (n=0)``), never 0. ``n`` and
``share`` stay numbers, so that the app can sort by them; :func:`text_rows` writes every cell
as text the way the report shows it.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from analysis.audit import AttributeAudit
from analysis.metrics import COMPARISONS, METRIC_NAMES, RATES, MetricValue, rate_denominator
from analysis.slices import SliceSearch

__all__ = [
    "GROUP_RATES",
    "SLICE_STATES",
    "comparison_cell",
    "comparison_table",
    "group_table",
    "interval",
    "q_text",
    "rate_cell",
    "slice_table",
    "status_text",
    "text_rows",
]

GROUP_RATES = ("favorable_rate", "selection_rate", "base_rate", "tpr", "fpr", "precision", "auc")
# Comparisons with a significance test of their own (statistical parity shares disparate impact's).
SLICE_STATES = ("significant", "not conclusive")
TESTED = ("disparate_impact", "equal_opportunity_difference", "fpr_difference")


def q_text(q: float | None) -> str:
    """A q-value as text: ``< 0.001``, ``0.042``, or ``—`` without a test."""
    if q is None:
        return "—"
    return "< 0.001" if q < 0.001 else f"{q:.3f}"


def interval(m: MetricValue, *, signed: bool = False) -> str:
    """``0.714 (0.691–0.738)``, or ``-0.195 (-0.220 to -0.170)`` for a difference."""
    value = f"{m.value:+.3f}" if signed else f"{m.value:.3f}"
    if m.ci_low is None or m.ci_high is None:
        return f"{value} ({m.reason})" if m.reason else value
    if signed:
        return f"{value} ({m.ci_low:+.3f} to {m.ci_high:+.3f})"
    return f"{value} ({m.ci_low:.3f}–{m.ci_high:.3f})"


def rate_cell(m: MetricValue | None, name: str, counts: Mapping[str, int]) -> str | None:
    """A rate with its interval, or why it is undefined (never 0 for an undefined rate)."""
    if m is None:
        return None
    if m.value is not None:
        return interval(m)
    if name in RATES:
        return f"undefined (n={rate_denominator(name, counts):,})"
    return m.reason or "undefined"


def comparison_cell(m: MetricValue | None, *, signed: bool, reference: bool) -> str | None:
    """A comparison with the reference group and its interval; ``reference`` in the reference group's row."""
    if m is None:
        return None
    if m.value is not None:
        return interval(m, signed=signed)
    return "reference" if reference else (m.reason or "undefined")


def status_text(audit: AttributeAudit, group: str) -> str:
    """How a group takes part: ``reference group``, ``compared``, or its status (too small to conclude)."""
    m = audit.groups[group]
    if m.is_reference:
        return "reference group" if m.status == "ok" else f"reference group ({m.status})"
    return "compared" if m.status == "ok" else m.status


def _present(audit: AttributeAudit, names: tuple[str, ...]) -> list[str]:
    return [n for n in names if any(n in g.metrics for g in audit.groups.values())]


def group_table(audit: AttributeAudit, confidence: float) -> pd.DataFrame:
    """Rates by group with their intervals, and disparate impact against the reference with its q-value.

    Parameters
    ----------
    audit
        One attribute's (or intersection's) audit.
    confidence
        The level of its intervals, for the column titles (``favourable rate (95% CI)``).

    Returns
    -------
    pandas.DataFrame
        One row per group, in the audit's order: ``group``, ``n``, ``share`` (numbers), ``status``, then
        a text column per rate the audit computed, ``Brier score`` with a score, disparate impact and its q.
        A cell the group has no value for is None.
    """
    ci = f"{confidence:.0%} CI"
    rates = _present(audit, GROUP_RATES)
    brier = "brier" in _present(audit, ("brier",))
    di_title = f"disparate impact vs {audit.reference_group or 'reference'} ({ci})"
    columns = ["group", "n", "share", "status", *(f"{METRIC_NAMES[n]} ({ci})" for n in rates)]
    columns += ["Brier score"] * brier + [di_title, "q (disparate impact)"]
    rows = []
    for group, m in audit.groups.items():
        row: list[object] = [group, m.n, m.share, status_text(audit, group)]
        row += [rate_cell(m.metrics.get(n), n, m.counts) for n in rates]
        if brier:
            score = m.metrics.get("brier")
            row.append(None if score is None else f"{score.value:.3f}" if score.value is not None else score.reason)
        di = m.metrics.get("disparate_impact")
        row += [
            comparison_cell(di, signed=False, reference=m.is_reference),
            q_text(di.q_value if di is not None else None),
        ]
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def comparison_table(audit: AttributeAudit, confidence: float) -> pd.DataFrame:
    """Every comparison with the reference group, with its interval and, where it has a test, its q-value.

    Parameters
    ----------
    audit
        One attribute's (or intersection's) audit.
    confidence
        The level of its intervals, for the column titles.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group``, ``n``, ``status``, then per comparison the audit computed a text
        column (differences signed) and, for disparate impact, equal opportunity and the FPR difference,
        a ``q (…)`` column.
    """
    ci = f"{confidence:.0%} CI"
    names = _present(audit, COMPARISONS)
    columns = ["group", "n", "status"]
    for name in names:
        columns.append(f"{METRIC_NAMES[name]} ({ci})")
        if name in TESTED:
            columns.append(f"q ({METRIC_NAMES[name]})")
    rows = []
    for group, m in audit.groups.items():
        row: list[object] = [group, m.n, status_text(audit, group)]
        for name in names:
            metric = m.metrics.get(name)
            row.append(comparison_cell(metric, signed=name != "disparate_impact", reference=m.is_reference))
            if name in TESTED:
                row.append(q_text(metric.q_value) if metric is not None else None)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def text_rows(table: pd.DataFrame) -> list[list[str]]:
    """Every cell of a group or comparison table as text: ``n`` with thousands separators, ``share`` as a
    percentage, an empty cell as ``—``."""

    def text(column: str, value: object) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return "—"
        if column == "n":
            return f"{int(value):,}"
        if column == "share":
            return f"{float(value):.1%}"
        return str(value)

    return [[text(c, v) for c, v in zip(table.columns, row, strict=True)] for row in table.itertuples(index=False)]


def _slice_interval(value: float | None, low: float | None, high: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "undefined"
    if signed:
        text = f"{value:+.3f}"
        return text if low is None or high is None else f"{text} ({low:+.3f} to {high:+.3f})"
    text = f"{value:.3f}"
    return text if low is None or high is None else f"{text} ({low:.3f}–{high:.3f})"


def slice_table(search: SliceSearch) -> pd.DataFrame:
    """One row per slice of the top-k, worst first, as the Slices page, the report and the CLI show them.

    Columns: ``rank``, ``slice``, ``n`` (a number), the metric in the slice and in the rest (with Wilson
    intervals), the difference (Newcombe) and ratio (Katz), ``q-value``, ``state`` (``significant`` or
    ``not conclusive``), ``folded`` (children folded into it) and ``stands in for`` (the protected group
    over-represented in a significant slice, or empty).
    """
    what = search.title
    rows = []
    for rank, s in enumerate(search.slices, start=1):
        stand = s.stands_in_for
        rows.append(
            {
                "rank": rank,
                "slice": s.key,
                "n": s.n,
                f"{what} in the slice": _slice_interval(s.value, s.low, s.high),
                "rest of the data": _slice_interval(s.rest_value, None, None),
                "difference": _slice_interval(s.difference, s.difference_low, s.difference_high, signed=True),
                "ratio": _slice_interval(s.ratio, s.ratio_low, s.ratio_high),
                "q-value": q_text(s.q_value),
                "state": SLICE_STATES[0] if s.significant else SLICE_STATES[1],
                "folded": s.folded,
                "stands in for": "" if stand is None or not s.significant else stand.sentence(),
            }
        )
    columns = ["rank", "slice", "n", f"{what} in the slice", "rest of the data", "difference", "ratio", "q-value",
               "state", "folded", "stands in for"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
