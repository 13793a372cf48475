"""The audit's charts, shared by the app and the HTML report: ``AttributeAudit`` in, ``alt.Chart`` out.

Each chart has a ``*_data`` function that returns the rows it draws, one per group (and rate, bin
or decision value), taken from the audit as it is: groups the audit left out (intersection cells
under the minimum cell size) are not there, and an undefined value stays null (Vega-Lite draws
no mark for it) instead of becoming 0. Every chart's spec carries
``usermeta = {"chart": kind, "attribute": name}`` so that tests can find it. Group names are
data: they reach the browser only as Vega-Lite data and axis labels, which are drawn as text,
and in tooltips, which Vega escapes. The app shows these charts with Streamlit; the report draws
the same specs (``chart.to_dict()``) to SVG with vl-convert.

Altair is imported at module level, so ``import analysis`` does not import this module: the report
imports it only when it draws charts.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from analysis.audit import AttributeAudit
from analysis.metrics import MetricValue
from analysis.options import CONFIDENCE, FOUR_FIFTHS
from analysis.words import DecisionWords

__all__ = [
    "ERROR_RATES",
    "RATE_AXIS",
    "ROLES",
    "ROLE_COLORS",
    "ROW_STEP",
    "calibration_chart",
    "calibration_data",
    "decision_distribution_chart",
    "decision_distribution_data",
    "error_rates_chart",
    "error_rates_data",
    "favorable_rate_chart",
    "favorable_rate_data",
    "group_role",
    "threshold_rate",
]

REFERENCE, COMPARED, TOO_SMALL = "reference group", "compared", "too small to conclude"
ROLES = (REFERENCE, COMPARED, TOO_SMALL)
ROLE_COLORS = ("#1f4e9c", "#5b8fd6", "#b0b0b0")
ERROR_RATES = {"tpr": "TPR (true positive rate)", "fpr": "FPR (false positive rate)"}
ERROR_COLORS = ("#2a7f62", "#c0504d")
ROW_STEP = 26  # pixels per group on the vertical axis
WIDTH = 420  # the report's width; the app stretches every chart to its column instead
RATE_AXIS = alt.Axis(format=".0%")


def group_role(audit: AttributeAudit, group: str) -> str:
    """How a group takes part in the comparisons: the reference, compared, or too small to conclude."""
    metrics = audit.groups[group]
    if metrics.is_reference:
        return REFERENCE
    return TOO_SMALL if metrics.status == TOO_SMALL else COMPARED


def _interval(metric: MetricValue | None) -> dict[str, float | None]:
    if metric is None:
        return {"value": None, "ci_low": None, "ci_high": None}
    return {"value": metric.value, "ci_low": metric.ci_low, "ci_high": metric.ci_high}


def _meta(chart: alt.TopLevelMixin, kind: str, audit: AttributeAudit) -> Any:
    return chart.properties(width=WIDTH, usermeta={"chart": kind, "attribute": audit.name})


def _group_axis(audit: AttributeAudit) -> alt.Y:
    return alt.Y("group:N", sort=list(audit.groups), title=None, axis=alt.Axis(labelLimit=260))


def _role_color() -> alt.Color:
    return alt.Color(
        "role:N",
        scale=alt.Scale(domain=list(ROLES), range=list(ROLE_COLORS)),
        legend=alt.Legend(title=None, orient="top"),
    )


# --- favourable rate ------------------------------------------------------------------------


def favorable_rate_data(audit: AttributeAudit, *, harmful: bool = False) -> pd.DataFrame:
    """One row per group: n, role, favourable rate and its interval.

    With ``harmful`` (the positive decision harms the person), the share given the decision instead: the share
    flagged, which is one minus the favourable rate.
    """
    rate = "selection_rate" if harmful else "favorable_rate"
    rows = [
        {"group": group, "n": m.n, "role": group_role(audit, group)} | _interval(m.metrics.get(rate))
        for group, m in audit.groups.items()
    ]
    return pd.DataFrame(rows, columns=["group", "n", "role", "value", "ci_low", "ci_high"])


def threshold_rate(audit: AttributeAudit, di_threshold: float, *, harmful: bool = False) -> float | None:
    """The four-fifths line: ``di_threshold`` times the highest favourable rate of the groups compared.

    A group whose rate is below it fails the four-fifths rule (the verdict reads the four-fifths ratio, the
    lowest rate over the highest); None when the summary is not computable. With ``harmful``, the same line on
    the scale of the share given the decision (one minus it): a group above it fails.
    """
    group = audit.highest_group()
    if group is None:
        return None
    line = di_threshold * audit.groups[group].metrics["favorable_rate"].value
    return 1 - line if harmful else line


def favorable_rate_chart(
    audit: AttributeAudit,
    *,
    di_threshold: float = FOUR_FIFTHS,
    confidence: float = CONFIDENCE,
    words: DecisionWords | None = None,
) -> Any:
    """Favourable rate by group with its interval, and the four-fifths line (``di_threshold`` × the highest rate).

    With ``words`` of a harmful decision (:func:`analysis.words.decision_words`), the chart shows the share
    given it ("Share flagged"), and the four-fifths line on that scale (one minus ``di_threshold`` × the highest
    favourable rate): a group right of it fails.
    """
    harmful = words is not None and words.harmful
    data = favorable_rate_data(audit, harmful=harmful)
    level = f"{confidence:.0%} CI"
    what = words.share if harmful else "favourable rate"
    base = alt.Chart(data).encode(y=_group_axis(audit))
    bars = base.mark_rule(strokeWidth=2).encode(
        x=alt.X(
            "ci_low:Q", title=f"{what.capitalize()} (with {level})", axis=RATE_AXIS, scale=alt.Scale(domain=[0, 1])
        ),
        x2="ci_high:Q",
        color=_role_color(),
    )
    tooltip = [
        alt.Tooltip("group:N", title="group"),
        alt.Tooltip("n:Q", title="rows", format=","),
        alt.Tooltip("value:Q", title=what, format=".3f"),
        alt.Tooltip("ci_low:Q", title=f"{level} low", format=".3f"),
        alt.Tooltip("ci_high:Q", title=f"{level} high", format=".3f"),
        alt.Tooltip("role:N", title="role"),
    ]
    points = base.mark_point(filled=True, size=70).encode(x="value:Q", color=_role_color(), tooltip=tooltip)
    layers = [bars, points]
    line = threshold_rate(audit, di_threshold, harmful=harmful)
    if line is not None:
        if harmful:
            # Short, so that it fits the app's half-width chart; the note beside the chart says which side fails.
            rule_name = "four-fifths" if di_threshold == FOUR_FIFTHS else f"{di_threshold:g}"
            words_ = f"{rule_name} line ({line:.3f})"
        else:
            words_ = f"{di_threshold:g} × highest rate ({line:.3f})"
        # The label sits on the side of the line with more room, so that it is never cut off at the edge.
        side = {"align": "left", "dx": 4} if line <= 0.5 else {"align": "right", "dx": -4}
        one_row = alt.Chart(data).transform_aggregate(rows="count()")
        rule = one_row.mark_rule(color="#c0504d", strokeDash=[6, 4]).encode(x=alt.datum(line))
        label = rule.mark_text(dy=-6, color="#c0504d", fontSize=11, **side).encode(
            y=alt.value(0), text=alt.value(words_)
        )
        layers += [rule, label]
    chart = alt.layer(*layers).properties(height=alt.Step(ROW_STEP))
    return _meta(chart, "favorable_rate", audit)


# --- error rates (equalized odds) ----------------------------------------------------------


def error_rates_data(audit: AttributeAudit) -> pd.DataFrame | None:
    """One row per group and rate (TPR, FPR), with its interval; None when there is no label."""
    if not any("tpr" in m.metrics for m in audit.groups.values()):
        return None
    rows = []
    for group, m in audit.groups.items():
        counts = m.counts
        denominators = {
            "tpr": counts.get("tp", 0) + counts.get("fn", 0),
            "fpr": counts.get("fp", 0) + counts.get("tn", 0),
        }
        for rate, title in ERROR_RATES.items():
            row = {"group": group, "rate": title, "n": denominators[rate], "role": group_role(audit, group)}
            rows.append(row | _interval(m.metrics.get(rate)))
    return pd.DataFrame(rows, columns=["group", "rate", "n", "role", "value", "ci_low", "ci_high"])


def error_rates_chart(audit: AttributeAudit, *, confidence: float = CONFIDENCE) -> Any | None:
    """TPR and FPR by group with their intervals (the equalized-odds view); None without a label."""
    data = error_rates_data(audit)
    if data is None:
        return None
    level = f"{confidence:.0%} CI"
    color = alt.Color(
        "rate:N",
        scale=alt.Scale(domain=list(ERROR_RATES.values()), range=list(ERROR_COLORS)),
        legend=alt.Legend(title=None, orient="top"),
    )
    base = alt.Chart(data).encode(y=_group_axis(audit), yOffset=alt.YOffset("rate:N"), color=color)
    bars = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_low:Q", title=f"Rate (with {level})", axis=RATE_AXIS, scale=alt.Scale(domain=[0, 1])),
        x2="ci_high:Q",
    )
    tooltip = [
        alt.Tooltip("group:N", title="group"),
        alt.Tooltip("rate:N", title="rate"),
        alt.Tooltip("value:Q", title="value", format=".3f"),
        alt.Tooltip("ci_low:Q", title=f"{level} low", format=".3f"),
        alt.Tooltip("ci_high:Q", title=f"{level} high", format=".3f"),
        alt.Tooltip("n:Q", title="rows in the denominator", format=","),
        alt.Tooltip("role:N", title="role"),
    ]
    points = base.mark_point(filled=True, size=60).encode(x="value:Q", tooltip=tooltip)
    chart = alt.layer(bars, points).properties(height=alt.Step(ROW_STEP * 0.7))  # a step per group and rate
    return _meta(chart, "error_rates", audit)


# --- calibration ----------------------------------------------------------------------------


def calibration_data(audit: AttributeAudit) -> pd.DataFrame | None:
    """One row per group and score bin: mean score, observed rate and its interval; None without one."""
    if audit.calibration is None:
        return None
    rows = [
        {"group": group, "bin": b.bin, "low": b.low, "high": b.high, "n": b.n, "mean_score": b.mean_score}
        | _interval(b.observed_rate)
        for group, bins in audit.calibration.groups.items()
        for b in bins
    ]
    columns = ["group", "bin", "low", "high", "n", "mean_score", "value", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=columns)


def calibration_chart(audit: AttributeAudit, *, confidence: float = CONFIDENCE) -> Any | None:
    """Observed rate of positive labels against the mean score per decile, by group, with the diagonal."""
    data = calibration_data(audit)
    if data is None:
        return None
    level = f"{confidence:.0%} CI"
    edges = audit.calibration.edges
    low, high = min(edges), max(edges)
    # Named, not numbered by altair: the spec is then the same in the app (which renumbers altair's names)
    # and in the report.
    pick = alt.selection_point(name="group_pick", fields=["group"], bind="legend")
    legend = alt.Legend(title="group", orient="bottom", columns=4, labelLimit=200)
    color = alt.Color("group:N", sort=list(audit.groups), legend=legend)
    opacity = alt.condition(pick, alt.value(1.0), alt.value(0.15))
    x = alt.X("mean_score:Q", title="Mean score in the bin", scale=alt.Scale(domain=[low, high], nice=False))
    y = alt.Y("value:Q", title=f"Observed positive rate ({level})", scale=alt.Scale(domain=[0, 1]))
    tooltip = [
        alt.Tooltip("group:N", title="group"),
        alt.Tooltip("low:Q", title="bin from", format=".3f"),
        alt.Tooltip("high:Q", title="bin to", format=".3f"),
        alt.Tooltip("n:Q", title="rows", format=","),
        alt.Tooltip("mean_score:Q", title="mean score", format=".3f"),
        alt.Tooltip("value:Q", title="observed rate", format=".3f"),
        alt.Tooltip("ci_low:Q", title=f"{level} low", format=".3f"),
        alt.Tooltip("ci_high:Q", title=f"{level} high", format=".3f"),
    ]
    base = alt.Chart(data).encode(x=x, color=color, opacity=opacity)
    lines = base.mark_line(point=True).encode(y=y, tooltip=tooltip).add_params(pick).properties(name="lines")
    bars = base.mark_rule().encode(y="ci_low:Q", y2="ci_high:Q")
    layers = [bars, lines]
    if low >= 0 and high <= 1:  # scores are probabilities: perfect calibration is the diagonal
        diagonal = alt.Chart(data).transform_aggregate(rows="count()").mark_rule(color="#888888", strokeDash=[4, 4])
        layers.insert(
            0,
            diagonal.encode(x=alt.datum(low), y=alt.datum(low), x2=alt.datum(high), y2=alt.datum(high)),
        )
    chart = alt.layer(*layers).properties(height=360)
    return _meta(chart, "calibration", audit)


# --- decision-value distribution ---------------------------------------------------------------


def decision_distribution_data(audit: AttributeAudit) -> pd.DataFrame | None:
    """One row per group and decision value: count, share and its interval; None for a binary decision."""
    dist = audit.decision_distribution
    if dist is None:
        return None
    rows = [
        {"group": group, "decision": value, "order": k, "count": count} | _interval(share)
        for group in dist.counts
        for k, (value, count, share) in enumerate(zip(dist.values, dist.counts[group], dist.shares[group], strict=True))
    ]
    return pd.DataFrame(rows, columns=["group", "decision", "order", "count", "value", "ci_low", "ci_high"])


def decision_distribution_chart(audit: AttributeAudit, *, confidence: float = CONFIDENCE) -> Any | None:
    """Stacked bars: the share of every decision value in each group (multi-valued decisions only)."""
    data = decision_distribution_data(audit)
    if data is None:
        return None
    level = f"{confidence:.0%} CI"
    values = list(audit.decision_distribution.values)
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=_group_axis(audit),
            x=alt.X("value:Q", title="Share of the group's decisions", axis=RATE_AXIS, stack="zero"),
            color=alt.Color("decision:N", sort=values, legend=alt.Legend(title="decision", orient="top")),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("group:N", title="group"),
                alt.Tooltip("decision:N", title="decision"),
                alt.Tooltip("count:Q", title="rows", format=","),
                alt.Tooltip("value:Q", title="share", format=".3f"),
                alt.Tooltip("ci_low:Q", title=f"{level} low", format=".3f"),
                alt.Tooltip("ci_high:Q", title=f"{level} high", format=".3f"),
            ],
        )
        .properties(height=alt.Step(ROW_STEP))
    )
    return _meta(chart, "decision_distribution", audit)
