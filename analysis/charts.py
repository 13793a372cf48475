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

from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd

from analysis.audit import AttributeAudit
from analysis.metrics import MetricValue
from analysis.options import CONFIDENCE, FOUR_FIFTHS
from analysis.slices import SliceSearch
from analysis.tables import SLICE_STATES
from analysis.words import DecisionWords

__all__ = [
    "ERROR_RATES",
    "RATE_AXIS",
    "ROLES",
    "ROLE_COLORS",
    "ROW_STEP",
    "calibration_chart",
    "calibration_data",
    "calibration_panels",
    "decision_distribution_chart",
    "decision_distribution_data",
    "error_rates_chart",
    "error_rates_data",
    "favorable_rate_chart",
    "favorable_rate_data",
    "group_role",
    "ordered_colors",
    "slices_chart",
    "slices_data",
    "threshold_rate",
]

REFERENCE, COMPARED, TOO_SMALL = "reference group", "compared", "too small to conclude"
ROLES = (REFERENCE, COMPARED, TOO_SMALL)
ROLE_COLORS = ("#1f4e9c", "#5b8fd6", "#b0b0b0")
ERROR_RATES = {"tpr": "TPR (true positive rate)", "fpr": "FPR (false positive rate)"}
ERROR_COLORS = ("#2a7f62", "#c0504d")
ROW_STEP = 26  # pixels per group on the vertical axis
# Longest label drawn in full, in pixels (about 45 characters): a longer group name is cut with an ellipsis, and
# its tooltip shows it whole. Legends list every entry (Vega-Lite's default stops at 30 with "…").
LABEL_LIMIT = 300
MAX_LINES = 8  # more groups than this in one calibration chart: one small chart per group of the first attribute
PANEL = 200  # width and height of each small chart, in pixels
PANEL_COLUMNS = 3
CALIBRATION_HEIGHT = 320  # the plot and its axes, in pixels
LEGEND_ROW = 30  # one row of a legend below a chart
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


def _groups(audit: AttributeAudit, groups: Sequence[str] | None) -> list[str]:
    """The groups a chart draws, in the audit's order: all of them, or those of ``groups`` the audit has."""
    if groups is None:
        return list(audit.groups)
    wanted = set(groups)
    return [g for g in audit.groups if g in wanted]


def _group_axis(audit: AttributeAudit, groups: Sequence[str] | None = None) -> alt.Y:
    return alt.Y("group:N", sort=_groups(audit, groups), title=None, axis=alt.Axis(labelLimit=LABEL_LIMIT))


def _role_color() -> alt.Color:
    return alt.Color(
        "role:N",
        scale=alt.Scale(domain=list(ROLES), range=list(ROLE_COLORS)),
        # Two columns: the three entries in one row overflow a chart in half the page at 1280 px.
        legend=alt.Legend(title=None, orient="top", columns=2, labelLimit=LABEL_LIMIT),
    )


# --- favourable rate ------------------------------------------------------------------------


def favorable_rate_data(
    audit: AttributeAudit, groups: Sequence[str] | None = None, *, harmful: bool = False
) -> pd.DataFrame:
    """One row per group (or per group of ``groups``): n, role, favourable rate and its interval.

    With ``harmful`` (the positive decision harms the person), the share given the decision instead: the share
    flagged, which is one minus the favourable rate.
    """
    rate = "selection_rate" if harmful else "favorable_rate"
    rows = [
        {"group": group, "n": m.n, "role": group_role(audit, group)} | _interval(m.metrics.get(rate))
        for group in _groups(audit, groups)
        for m in (audit.groups[group],)
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
    groups: Sequence[str] | None = None,
) -> Any:
    """Favourable rate by group with its interval, and the four-fifths line (``di_threshold`` × the highest rate).

    With ``words`` of a harmful decision (:func:`analysis.words.decision_words`), the chart shows the share
    given it ("Share flagged"), and the four-fifths line on that scale (one minus ``di_threshold`` × the highest
    favourable rate): a group right of it fails. ``groups``: draw only these groups (e.g. the cells of an
    intersection that share one group); the line is still the one of every group compared.
    """
    harmful = words is not None and words.harmful
    data = favorable_rate_data(audit, groups, harmful=harmful)
    level = f"{confidence:.0%} CI"
    what = words.share if harmful else "favourable rate"
    base = alt.Chart(data).encode(y=_group_axis(audit, groups))
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


def error_rates_data(audit: AttributeAudit, groups: Sequence[str] | None = None) -> pd.DataFrame | None:
    """One row per group (of ``groups``) and rate (TPR, FPR), with its interval; None when there is no label."""
    if not any("tpr" in m.metrics for m in audit.groups.values()):
        return None
    rows = []
    for group in _groups(audit, groups):
        m = audit.groups[group]
        counts = m.counts
        denominators = {
            "tpr": counts.get("tp", 0) + counts.get("fn", 0),
            "fpr": counts.get("fp", 0) + counts.get("tn", 0),
        }
        for rate, title in ERROR_RATES.items():
            row = {"group": group, "rate": title, "n": denominators[rate], "role": group_role(audit, group)}
            rows.append(row | _interval(m.metrics.get(rate)))
    return pd.DataFrame(rows, columns=["group", "rate", "n", "role", "value", "ci_low", "ci_high"])


def error_rates_chart(
    audit: AttributeAudit, *, confidence: float = CONFIDENCE, groups: Sequence[str] | None = None
) -> Any | None:
    """TPR and FPR by group (of ``groups``) with their intervals (the equalized-odds view); None without a label."""
    data = error_rates_data(audit, groups)
    if data is None:
        return None
    level = f"{confidence:.0%} CI"
    color = alt.Color(
        "rate:N",
        scale=alt.Scale(domain=list(ERROR_RATES.values()), range=list(ERROR_COLORS)),
        legend=alt.Legend(title=None, orient="top", columns=1, labelLimit=LABEL_LIMIT),  # one row overflows
    )
    base = alt.Chart(data).encode(y=_group_axis(audit, groups), yOffset=alt.YOffset("rate:N"), color=color)
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


def calibration_data(audit: AttributeAudit, groups: Sequence[str] | None = None) -> pd.DataFrame | None:
    """One row per group (of ``groups``) and score bin: mean score, observed rate and its interval; None without
    a score and a label.

    ``panel`` is the group's value of the first attribute and ``line`` the rest of its name (``"Female"`` in
    ``"B × Female"``): an intersection's small charts are one per panel, a line per cell. For one attribute
    the panel is empty and the line is the group.
    """
    if audit.calibration is None:
        return None
    rows = [
        {"group": group, "panel": panel, "line": line}
        | {"bin": b.bin, "low": b.low, "high": b.high, "n": b.n, "mean_score": b.mean_score}
        | _interval(b.observed_rate)
        for group in _groups(audit, groups)
        for panel, line in (_panel_line(audit, group),)
        for b in audit.calibration.groups.get(group, ())
    ]
    columns = ["group", "panel", "line", "bin", "low", "high", "n", "mean_score", "value", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=columns)


def _panel_line(audit: AttributeAudit, group: str) -> tuple[str, str]:
    if len(audit.columns) < 2:
        return "", group
    values = [audit.groups[group].values[c] for c in audit.columns]
    return values[0], " × ".join(values[1:])


def calibration_panels(audit: AttributeAudit, groups: Sequence[str] | None = None) -> bool:
    """Whether the calibration chart of these groups is drawn as small charts, one per group of the first
    attribute: an intersection with more than :data:`MAX_LINES` cells drawn."""
    data = calibration_data(audit, groups)
    return data is not None and len(audit.columns) > 1 and data["group"].nunique() > MAX_LINES


def calibration_chart(
    audit: AttributeAudit, *, confidence: float = CONFIDENCE, groups: Sequence[str] | None = None
) -> Any | None:
    """Observed rate of positive labels against the mean score per decile, by group, with the diagonal.

    An intersection with more than :data:`MAX_LINES` cells drawn gets one small chart per group of its first
    attribute, a line per cell (coloured by the other attributes), so that no chart has more than a few lines
    and its legend lists a few entries, not every cell. ``groups``: draw only these groups.
    """
    data = calibration_data(audit, groups)
    if data is None:
        return None
    panels = calibration_panels(audit, groups)
    field, title = ("line", " × ".join(audit.columns[1:])) if panels else ("group", "group")
    level = f"{confidence:.0%} CI"
    edges = audit.calibration.edges
    low, high = min(edges), max(edges)
    # Named, not numbered by altair: the spec is then the same in the app (which renumbers altair's names)
    # and in the report.
    pick = alt.selection_point(name="group_pick", fields=[field], bind="legend")
    lines_shown = list(dict.fromkeys(data[field]))
    # Small multiples span the page: four columns fit; a single chart shares it, two do.
    columns = min(4 if panels else 2, max(1, len(lines_shown)))
    legend = alt.Legend(title=title, orient="bottom", columns=columns, labelLimit=LABEL_LIMIT, symbolLimit=0)
    # Ten distinct hues (the theme's palette pairs light and dark shades, which look alike as thin lines).
    color = alt.Color(f"{field}:N", sort=lines_shown, legend=legend, scale=alt.Scale(scheme="tableau10"))
    opacity = alt.condition(pick, alt.value(1.0), alt.value(0.15))
    faint = alt.condition(pick, alt.value(0.45), alt.value(0.08))  # intervals behind the lines
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
    # The layers take the data from the layer (or the facet) above them, so that a facet can split it.
    base = alt.Chart().encode(x=x, color=color, opacity=opacity)
    lines = base.mark_line(point=True).encode(y=y, tooltip=tooltip).add_params(pick).properties(name="lines")
    bars = base.mark_rule().encode(y="ci_low:Q", y2="ci_high:Q", opacity=faint)
    layers = [bars, lines]
    if low >= 0 and high <= 1:  # scores are probabilities: perfect calibration is the diagonal
        diagonal = alt.Chart().transform_aggregate(rows="count()").mark_rule(color="#888888", strokeDash=[4, 4])
        layers.insert(
            0,
            diagonal.encode(x=alt.datum(low), y=alt.datum(low), x2=alt.datum(high), y2=alt.datum(high)),
        )
    if not panels:
        # The height includes the legend below the plot (the app fits the chart to it): room for every row of it.
        rows = -(-len(lines_shown) // columns)
        chart = alt.layer(*layers, data=data).properties(height=CALIBRATION_HEIGHT + LEGEND_ROW * rows)
        return _meta(chart, "calibration", audit)
    order = list(dict.fromkeys(audit.groups[g].values[audit.columns[0]] for g in data["group"]))
    chart = (
        alt.layer(*layers)
        .properties(width=PANEL, height=PANEL)
        .facet(
            facet=alt.Facet("panel:N", sort=order, title=audit.columns[0], header=alt.Header(labelLimit=PANEL)),
            columns=PANEL_COLUMNS,
            data=data,
        )
        .resolve_scale(x="shared", y="shared")
    )
    return chart.properties(usermeta={"chart": "calibration", "attribute": audit.name})


# --- decision-value distribution ---------------------------------------------------------------


# Light to dark blue (ColorBrewer Blues): an ordered decision's values, lowest first.
ORDERED_COLORS = ("#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b")


def ordered_colors(n: int) -> list[str]:
    """``n`` distinct colours light to dark, spread evenly along :data:`ORDERED_COLORS` (interpolated)."""
    if n <= 1:
        return [ORDERED_COLORS[-1]] * n
    stops = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in ORDERED_COLORS]
    out = []
    for k in range(n):
        at = k * (len(stops) - 1) / (n - 1)
        i = min(int(at), len(stops) - 2)
        t = at - i
        rgb = (round(a + (b - a) * t) for a, b in zip(stops[i], stops[i + 1], strict=True))
        out.append("#" + "".join(f"{v:02x}" for v in rgb))
    return out


def decision_distribution_data(audit: AttributeAudit, groups: Sequence[str] | None = None) -> pd.DataFrame | None:
    """One row per group (of ``groups``) and decision value: count, share and its interval; None for a binary
    decision. ``order`` numbers the values as the audit lists them (lowest first for an ordered decision)."""
    dist = audit.decision_distribution
    if dist is None:
        return None
    rows = [
        {"group": group, "decision": value, "order": k, "count": count} | _interval(share)
        for group in _groups(audit, groups)
        if group in dist.counts
        for k, (value, count, share) in enumerate(zip(dist.values, dist.counts[group], dist.shares[group], strict=True))
    ]
    return pd.DataFrame(rows, columns=["group", "decision", "order", "count", "value", "ci_low", "ci_high"])


def decision_distribution_chart(
    audit: AttributeAudit, *, confidence: float = CONFIDENCE, groups: Sequence[str] | None = None
) -> Any | None:
    """Stacked bars: the share of every decision value in each group (multi-valued decisions only).

    An ordered decision (Low < Medium < High) is stacked and coloured in its order, light to dark, and its
    legend says so; other values get distinct colours, in sort order.
    """
    data = decision_distribution_data(audit, groups)
    if data is None:
        return None
    level = f"{confidence:.0%} CI"
    dist = audit.decision_distribution
    values = list(dist.values)
    if dist.order is not None:
        scale = alt.Scale(domain=values, range=ordered_colors(len(values)))
        title = "decision, lowest first"
    else:
        scale = alt.Scale(domain=values)
        title = "decision"
    legend = alt.Legend(title=title, orient="top", columns=min(len(values), 5), labelLimit=LABEL_LIMIT, symbolLimit=0)
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=_group_axis(audit, groups),
            x=alt.X("value:Q", title="Share of the group's decisions", axis=RATE_AXIS, stack="zero"),
            color=alt.Color("decision:N", sort=values, scale=scale, legend=legend),
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


# --- slices ----------------------------------------------------------------------------------


SLICE_COLORS = ("#c0504d", "#b0b0b0")


def slices_data(search: SliceSearch) -> pd.DataFrame:
    """One row per slice of the top-k, worst first: its metric with the interval, the rest's value, its state."""
    rows = [
        {
            "slice": s.key,
            "n": s.n,
            "value": s.value,
            "ci_low": s.low,
            "ci_high": s.high,
            "rest": s.rest_value,
            "q_value": s.q_value,
            "state": SLICE_STATES[0] if s.significant else SLICE_STATES[1],
        }
        for s in search.slices
    ]
    columns = ["slice", "n", "value", "ci_low", "ci_high", "rest", "q_value", "state"]
    return pd.DataFrame(rows, columns=columns)


def slices_chart(search: SliceSearch, *, confidence: float = CONFIDENCE, label_limit: int = LABEL_LIMIT) -> Any:
    """The metric in each slice of the top-k with its interval, against the whole data's value (the dashed line).

    Significant slices (q below the search's alpha) are red, the others grey ("not conclusive"). ``label_limit``:
    the widest slice name in pixels (a slice of three terms needs about 500; longer names end in "…").
    """
    data = slices_data(search)
    level = f"{confidence:.0%} CI"
    what = search.title
    order = list(data["slice"])
    y = alt.Y("slice:N", sort=order, title=None, axis=alt.Axis(labelLimit=label_limit))
    color = alt.Color(
        "state:N",
        scale=alt.Scale(domain=list(SLICE_STATES), range=list(SLICE_COLORS)),
        legend=alt.Legend(title=None, orient="bottom"),
    )
    base = alt.Chart(data).encode(y=y)
    x = alt.X("ci_low:Q", title=f"{what.capitalize()} in the slice (with {level})", axis=RATE_AXIS,
              scale=alt.Scale(domain=[0, 1]))  # fmt: skip
    bars = base.mark_rule(strokeWidth=2).encode(x=x, x2="ci_high:Q", color=color)
    tooltip = [
        alt.Tooltip("slice:N", title="slice"),
        alt.Tooltip("n:Q", title="rows", format=","),
        alt.Tooltip("value:Q", title=what, format=".3f"),
        alt.Tooltip("ci_low:Q", title=f"{level} low", format=".3f"),
        alt.Tooltip("ci_high:Q", title=f"{level} high", format=".3f"),
        alt.Tooltip("rest:Q", title="rest of the data", format=".3f"),
        alt.Tooltip("q_value:Q", title="q-value", format=".2g"),
    ]
    points = base.mark_point(filled=True, size=70).encode(x="value:Q", color=color, tooltip=tooltip)
    layers = [bars, points]
    if search.overall is not None:
        overall = search.overall
        side = {"align": "left", "dx": 4} if overall <= 0.5 else {"align": "right", "dx": -4}
        one_row = alt.Chart(data).transform_aggregate(rows="count()")
        rule = one_row.mark_rule(color="#555555", strokeDash=[6, 4]).encode(x=alt.datum(overall))
        label = rule.mark_text(dy=-6, color="#555555", fontSize=11, **side).encode(
            y=alt.value(0), text=alt.value(f"all rows ({overall:.3f})")
        )
        layers += [rule, label]
    chart = alt.layer(*layers).properties(height=alt.Step(ROW_STEP))
    return chart.properties(width=WIDTH, usermeta={"chart": "slices", "metric": search.metric})
