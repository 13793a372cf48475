"""Altair charts for the app: pure functions, engine results in, ``alt.Chart`` out.

The audit's charts (favourable rate, error rates, calibration, decision values) are defined in
:mod:`analysis.charts`, which the HTML report draws too, and are re-exported here; this module adds
the charts only the app shows (drivers and mitigation). Feature names, values and group labels are
data: they reach the browser as Vega-Lite data, axis labels and tooltips, drawn as text and escaped.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from analysis.charts import (
    RATE_AXIS,
    ROLE_COLORS,
    ROLES,
    ROW_STEP,
    calibration_chart,
    calibration_data,
    calibration_panels,
    decision_distribution_chart,
    decision_distribution_data,
    error_rates_chart,
    error_rates_data,
    favorable_rate_chart,
    favorable_rate_data,
    group_role,
    threshold_rate,
)
from analysis.metrics import rate_denominator, title
from analysis.optimizer import CONSTRAINT_MEASURES
from analysis.options import FOUR_FIFTHS

__all__ = [
    "ROLES",
    "ROLE_COLORS",
    "calibration_chart",
    "calibration_data",
    "calibration_panels",
    "decision_distribution_chart",
    "decision_distribution_data",
    "dependence_chart",
    "dependence_data",
    "error_rates_chart",
    "error_rates_data",
    "favorable_rate_chart",
    "favorable_rate_data",
    "frontier_chart",
    "frontier_data",
    "gap_waterfall_chart",
    "gap_waterfall_data",
    "group_drivers_chart",
    "group_drivers_data",
    "group_role",
    "importance_chart",
    "importance_data",
    "local_waterfall_chart",
    "local_waterfall_data",
    "proxy_chart",
    "proxy_data",
    "score_distribution_chart",
    "score_distribution_data",
    "shap_strip_chart",
    "shap_strip_data",
    "summary_value",
    "threshold_rate",
    "threshold_rates_chart",
    "threshold_rates_data",
]

# === drivers (SHAP values of the surrogate model) ===========================================
#
# The builders below take an ``analysis.explain.Explanation`` (or one of its parts) and mark
# every spec with ``usermeta = {"chart": kind, ...}`` (plus the attribute, group or feature the
# chart is about). Feature names, values and group labels are data: they reach the browser as
# Vega-Lite data, axis labels and tooltips, drawn as text and escaped.

DIRECTIONS = ("raises the output", "lowers the output", "total")
DIRECTION_COLORS = ("#d9822b", "#3b75af", "#7f7f7f")
FLAG_LABELS = ("likely proxy", "below the threshold")
FLAG_COLORS = ("#c0504d", "#9fb6d3")
SHAP_TITLE = "SHAP value (effect on the surrogate's output)"
MAX_POINTS = 4800  # per chart: altair refuses more than 5,000 rows, and browsers slow down


def _tag(chart: alt.TopLevelMixin, kind: str, **about: object) -> Any:
    return chart.properties(usermeta={"chart": kind, **{k: v for k, v in about.items() if v is not None}})


def _rows(n: int, max_rows: int, seed: int) -> np.ndarray:
    """Positions of at most ``max_rows`` of ``n`` sampled rows, the same on every call."""
    if n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


def _numeric(values: pd.Series) -> pd.Series | None:
    """The values as floats when the column is numeric (bools count), else None."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return pd.to_numeric(values, errors="coerce").astype(float)
    return None


def _value_text(values: pd.Series) -> list[str]:
    return ["(missing)" if pd.isna(v) else str(v) for v in values]


def _direction(value: float) -> str:
    return DIRECTIONS[0] if value >= 0 else DIRECTIONS[1]


def _direction_color() -> alt.Color:
    return alt.Color(
        "direction:N",
        scale=alt.Scale(domain=list(DIRECTIONS), range=list(DIRECTION_COLORS)),
        legend=alt.Legend(title=None, orient="top"),
    )


def _features(explanation: Any, top: int | None) -> list[str]:
    """Feature names by mean |SHAP|, descending (the first ``top`` of them)."""
    names = [item.feature for item in explanation.global_importance]
    return names if top is None else names[:top]


# --- global importance ----------------------------------------------------------------------


def importance_data(explanation: Any, *, top: int | None = None) -> pd.DataFrame:
    """One row per feature: mean |SHAP| over the sample, descending."""
    rows = [
        {"feature": item.feature, "mean_abs_shap": float(item.mean_abs_shap)}
        for item in explanation.global_importance[:top]
    ]
    return pd.DataFrame(rows, columns=["feature", "mean_abs_shap"])


def importance_chart(explanation: Any, *, top: int | None = 15) -> Any:
    """Bars of mean |SHAP| per feature, the strongest driver on top."""
    data = importance_data(explanation, top=top)
    chart = (
        alt.Chart(data)
        .mark_bar(color=ROLE_COLORS[0])
        .encode(
            y=alt.Y("feature:N", sort=list(data["feature"]), title=None, axis=alt.Axis(labelLimit=220)),
            x=alt.X("mean_abs_shap:Q", title="Mean |SHAP value| (average effect on the output)"),
            tooltip=[
                alt.Tooltip("feature:N", title="feature"),
                alt.Tooltip("mean_abs_shap:Q", title="mean |SHAP|", format=".4f"),
            ],
        )
        .properties(height=alt.Step(ROW_STEP))
    )
    return _tag(chart, "importance")


# --- SHAP values per feature (beeswarm-style strip chart) -----------------------------------


def _spread(shap: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Vertical offsets in [-0.42, 0.42], wider where SHAP values are dense: a beeswarm's outline."""
    if len(shap) == 0:
        return np.zeros(0)
    counts, edges = np.histogram(shap, bins=min(40, max(1, len(shap) // 5)))
    density = counts[np.clip(np.searchsorted(edges, shap, side="right") - 1, 0, len(counts) - 1)]
    return rng.uniform(-1, 1, len(shap)) * 0.42 * np.sqrt(density / max(counts.max(), 1))


def shap_strip_data(
    explanation: Any, *, color_by: str | None = None, top: int | None = 12, max_rows: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """One row per sampled row and feature: SHAP value, feature value (as text and as a rank within the
    feature, null for non-numeric features), the row's group under ``color_by`` and a vertical offset.
    At most ``max_rows`` sampled rows, and at most ``MAX_POINTS`` rows in all."""
    sample = explanation.sample
    features = list(explanation.model.features)
    shap = np.asarray(sample.shap, dtype=float)
    shown = _features(explanation, top)
    keep = _rows(shap.shape[0], min(max_rows, MAX_POINTS // max(len(shown), 1)), seed)
    groups = list(sample.groups[color_by]) if color_by is not None else None
    rng = np.random.default_rng(seed)
    frames = []
    for feature in shown:
        j = features.index(feature)
        values = sample.values[feature].iloc[keep].reset_index(drop=True)
        numeric = _numeric(values)
        frames.append(
            pd.DataFrame(
                {
                    "feature": feature,
                    "row": np.asarray(sample.rows)[keep],
                    "shap": shap[keep, j],
                    "value": _value_text(values),
                    "value_rank": numeric.rank(pct=True) if numeric is not None else np.nan,
                    "group": [groups[i] for i in keep] if groups is not None else None,
                    "offset": _spread(shap[keep, j], rng),
                }
            )
        )
    columns = ["feature", "row", "shap", "value", "value_rank", "group", "offset"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def shap_strip_chart(
    explanation: Any, *, color_by: str | None = None, top: int | None = 12, max_rows: int = 1000
) -> Any:
    """Every sampled row's SHAP value per feature, one strip per feature, coloured by the feature's value
    (low → high; grey for non-numeric features) or, with ``color_by``, by the row's group of that attribute."""
    data = shap_strip_data(explanation, color_by=color_by, top=top, max_rows=max_rows)
    if color_by is None:
        color: Any = alt.condition(
            "datum.rank >= 0",
            alt.Color(
                "rank:Q",
                scale=alt.Scale(scheme="viridis", domain=[0, 1]),
                legend=alt.Legend(title="feature value (rank: low → high)", format=".0%", orient="top"),
            ),
            alt.value("#9a9a9a"),
        )
    else:
        color = alt.Color("group:N", legend=alt.Legend(title=color_by, orient="top", labelLimit=200))
    tooltip = [
        alt.Tooltip("feature:N", title="feature"),
        alt.Tooltip("value:N", title="value"),
        alt.Tooltip("shap:Q", title="SHAP", format="+.4f"),
        alt.Tooltip("row:Q", title="row"),
    ]
    if color_by is not None:
        tooltip.insert(2, alt.Tooltip("group:N", title=color_by))
    y = alt.Y("feature:N", sort=_features(explanation, top), title=None, axis=alt.Axis(labelLimit=220, grid=True))
    points = (
        alt.Chart(data)
        .transform_calculate(rank="isValid(datum.value_rank) ? datum.value_rank : -1")  # null colour: no dot
        .mark_circle(size=14, opacity=0.6)
        .encode(
            x=alt.X("shap:Q", title=SHAP_TITLE),
            y=y,
            yOffset=alt.YOffset("offset:Q", scale=alt.Scale(domain=[-0.5, 0.5])),
            color=color,
            tooltip=tooltip,
        )
    )
    zero = alt.Chart(data).transform_aggregate(rows="count()").mark_rule(color="#888888").encode(x=alt.datum(0))
    chart = alt.layer(zero, points).properties(height=alt.Step(ROW_STEP * 1.6))
    return _tag(chart, "shap_strip", attribute=color_by)


# --- drivers by group -----------------------------------------------------------------------


def group_drivers_data(explanation: Any, attribute: str, *, top: int | None = 15) -> pd.DataFrame:
    """One row per group and feature: the mean signed SHAP value of the group's sampled rows."""
    groups = explanation.by_group[attribute]
    rows = [
        {"group": group, "feature": feature, "mean_shap": float(means[feature])}
        for group, means in groups.items()
        for feature in _features(explanation, top)
        if feature in means
    ]
    return pd.DataFrame(rows, columns=["group", "feature", "mean_shap"])


def group_drivers_chart(explanation: Any, attribute: str, *, top: int | None = 15) -> Any:
    """Heatmap: features (strongest on top) × groups, coloured by mean signed SHAP (0 is white)."""
    data = group_drivers_data(explanation, attribute, top=top)
    limit = float(data["mean_shap"].abs().max()) if len(data) else 1.0
    base = alt.Chart(data).encode(
        x=alt.X(
            "group:N",
            sort=list(explanation.by_group[attribute]),
            title=attribute,
            axis=alt.Axis(labelAngle=0, labelLimit=140, orient="top"),
        ),
        y=alt.Y("feature:N", sort=_features(explanation, top), title=None, axis=alt.Axis(labelLimit=220)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "mean_shap:Q",
            scale=alt.Scale(scheme="blueorange", domain=[-limit or -1, limit or 1], domainMid=0),
            legend=alt.Legend(title="mean SHAP", orient="right"),
        ),
        tooltip=[
            alt.Tooltip("group:N", title=attribute),
            alt.Tooltip("feature:N", title="feature"),
            alt.Tooltip("mean_shap:Q", title="mean SHAP", format="+.4f"),
        ],
    )
    labels = base.mark_text(fontSize=11).encode(text=alt.Text("mean_shap:Q", format="+.2r"))
    chart = alt.layer(cells, labels).properties(height=alt.Step(ROW_STEP))
    return _tag(chart, "group_drivers", attribute=attribute)


# --- waterfalls (gap decomposition, local explanation) --------------------------------------


def _waterfall_rows(steps: list[tuple[str, float]], *, start: float = 0.0) -> list[dict[str, object]]:
    rows, level = [], start
    for order, (step, value) in enumerate(steps):
        rows.append(
            {"order": order, "step": step, "value": value, "start": level, "end": level + value}
            | {"direction": _direction(value), "kind": "feature"}
        )
        level += value
    return rows


def _top_steps(pairs: list[tuple[str, float]], top: int) -> list[tuple[str, float]]:
    """The first ``top`` (label, value) pairs, and the rest summed into one step."""
    if len(pairs) <= top + 1:
        return pairs
    rest = pairs[top:]
    return [*pairs[:top], (f"{len(rest)} other features", float(sum(v for _, v in rest)))]


def gap_waterfall_data(gap: Any, *, top: int = 8) -> pd.DataFrame:
    """The steps from 0 to the gap: one per feature (the ``top`` largest, then the rest together),
    and a last ``total`` row from 0 to the gap. The feature steps sum to the gap."""
    pairs = [(str(feature), float(value)) for feature, value in gap.contributions]
    rows = _waterfall_rows(_top_steps(pairs, top))
    if len(pairs) > top + 1:
        rows[-1]["kind"] = "other"
    total = float(gap.total)
    rows.append(
        {"order": len(rows), "step": "gap", "value": total, "start": 0.0, "end": total, "direction": DIRECTIONS[2]}
        | {"kind": "total"}
    )
    return pd.DataFrame(rows, columns=["order", "step", "kind", "value", "start", "end", "direction"])


def local_waterfall_data(local: Any, *, top: int = 8) -> pd.DataFrame:
    """The steps from the average output (``base``) to this row's output: one per feature
    (``feature = value``; the ``top`` largest, then the rest together) and a last ``total`` row."""
    pairs = [(f"{feature} = {text}", float(shap)) for feature, text, shap in local.contributions]
    base = float(local.base_value)
    rows = [{"order": 0, "step": "average output", "value": base, "start": 0.0, "end": base} | {"kind": "base"}]
    rows[0]["direction"] = DIRECTIONS[2]
    steps = _waterfall_rows(_top_steps(pairs, top), start=base)
    if len(pairs) > top + 1:
        steps[-1]["kind"] = "other"
    for row in steps:
        row["order"] += 1
    rows += steps
    output = float(local.output)
    rows.append(
        {"order": len(rows), "step": "this row", "value": output, "start": 0.0, "end": output}
        | {"direction": DIRECTIONS[2], "kind": "total"}
    )
    return pd.DataFrame(rows, columns=["order", "step", "kind", "value", "start", "end", "direction"])


def _waterfall_chart(data: pd.DataFrame, *, x_title: str) -> Any:
    base = alt.Chart(data).encode(
        y=alt.Y("step:N", sort=list(data["step"]), title=None, axis=alt.Axis(labelLimit=260)),
    )
    tooltip = [
        alt.Tooltip("step:N", title="step"),
        alt.Tooltip("value:Q", title="contribution", format="+.4f"),
        alt.Tooltip("end:Q", title="running total", format="+.4f"),
    ]
    bars = base.mark_bar().encode(
        x=alt.X("start:Q", title=x_title), x2="end:Q", color=_direction_color(), tooltip=tooltip
    )
    labels = (
        base.mark_text(align="left", dx=4, fontSize=11)
        .encode(x=alt.X("right:Q"), text=alt.Text("value:Q", format="+.3f"))
        .transform_calculate(right="max(datum.start, datum.end)")
    )
    zero = alt.Chart(data).transform_aggregate(rows="count()").mark_rule(color="#888888").encode(x=alt.datum(0))
    return alt.layer(zero, bars, labels).properties(height=alt.Step(ROW_STEP))


def gap_waterfall_chart(gap: Any, *, attribute: str, group: str, unit: str = "log-odds", top: int = 8) -> Any:
    """Waterfall of the gap in mean output between ``group`` and its reference, feature by feature."""
    data = gap_waterfall_data(gap, top=top)
    chart = _waterfall_chart(data, x_title=f"Gap in mean output, {group} minus {gap.reference} ({unit})")
    return _tag(chart, "gap_waterfall", attribute=attribute, group=group)


def local_waterfall_chart(local: Any, *, unit: str = "log-odds", top: int = 8) -> Any:
    """Waterfall from the average output to one row's output, through its strongest drivers."""
    data = local_waterfall_data(local, top=top)
    chart = _waterfall_chart(data, x_title=f"Surrogate output ({unit})")
    return _tag(chart, "local_waterfall", row=int(local.row))


# --- proxies --------------------------------------------------------------------------------


def proxy_data(proxies: Any) -> pd.DataFrame:
    """One row per feature: how well it alone predicts the attribute, and whether that is flagged."""
    rows = [
        {"feature": p.feature, "score": float(p.score), "flag": FLAG_LABELS[0] if p.flag else FLAG_LABELS[1]}
        for p in proxies
    ]
    return pd.DataFrame(rows, columns=["feature", "score", "flag"])


def proxy_chart(
    proxies: Any, *, attribute: str, threshold: float | None = None, score_title: str = "proxy score", top: int = 15
) -> Any:
    """Bars of each feature's proxy score (flagged ones in red), with a rule at ``threshold``."""
    data = proxy_data(proxies[:top])
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("feature:N", sort=list(data["feature"]), title=None, axis=alt.Axis(labelLimit=220)),
            x=alt.X("score:Q", title=f"How well the feature alone predicts {attribute} ({score_title})"),
            color=alt.Color(
                "flag:N",
                scale=alt.Scale(domain=list(FLAG_LABELS), range=list(FLAG_COLORS)),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[
                alt.Tooltip("feature:N", title="feature"),
                alt.Tooltip("score:Q", title=score_title, format=".3f"),
                alt.Tooltip("flag:N", title="flag"),
            ],
        )
    )
    layers = [bars]
    if threshold is not None:
        one_row = alt.Chart(data).transform_aggregate(rows="count()")
        rule = one_row.mark_rule(color="#c0504d", strokeDash=[6, 4]).encode(x=alt.datum(threshold))
        label = rule.mark_text(align="left", dx=4, dy=-6, color="#c0504d", fontSize=11).encode(
            y=alt.value(0), text=alt.value(f"flag threshold ({threshold:g})")
        )
        layers += [rule, label]
    chart = alt.layer(*layers).properties(height=alt.Step(ROW_STEP))
    return _tag(chart, "proxies", attribute=attribute)


# --- dependence -----------------------------------------------------------------------------


def dependence_data(
    explanation: Any, feature: str, *, color_by: str | None = None, max_rows: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """One row per sampled row: the feature's value (``x``: a float when numeric, else text), its SHAP
    value, and the row's group under ``color_by``."""
    sample = explanation.sample
    shap = np.asarray(sample.shap, dtype=float)
    keep = _rows(shap.shape[0], min(max_rows, MAX_POINTS), seed)
    values = sample.values[feature].iloc[keep].reset_index(drop=True)
    numeric = _numeric(values)
    groups = list(sample.groups[color_by]) if color_by is not None else None
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "row": np.asarray(sample.rows)[keep],
            "x": numeric if numeric is not None else _value_text(values),
            "value": _value_text(values),
            "shap": shap[keep, list(explanation.model.features).index(feature)],
            "group": [groups[i] for i in keep] if groups is not None else None,
            "offset": rng.uniform(-0.35, 0.35, len(keep)),
        }
    )


def dependence_chart(explanation: Any, feature: str, *, color_by: str | None = None, max_rows: int = 2000) -> Any:
    """Scatter of a feature's value against its SHAP value, coloured by group; categories are jittered."""
    data = dependence_data(explanation, feature, color_by=color_by, max_rows=max_rows)
    numeric = pd.api.types.is_numeric_dtype(data["x"])
    encoding: dict[str, Any] = {
        "x": alt.X("x:Q", title=feature, scale=alt.Scale(zero=False))
        if numeric
        else alt.X("x:N", title=feature, axis=alt.Axis(labelAngle=-30, labelLimit=160)),
        "y": alt.Y("shap:Q", title=f"SHAP value of {feature}"),
        "tooltip": [
            alt.Tooltip("value:N", title=feature),
            alt.Tooltip("shap:Q", title="SHAP", format="+.4f"),
            alt.Tooltip("row:Q", title="row"),
        ],
    }
    if not numeric:
        encoding["xOffset"] = alt.XOffset("offset:Q", scale=alt.Scale(domain=[-0.5, 0.5]))
    if color_by is not None:
        encoding["color"] = alt.Color("group:N", legend=alt.Legend(title=color_by, orient="top", labelLimit=200))
        encoding["tooltip"].insert(1, alt.Tooltip("group:N", title=color_by))
    points = alt.Chart(data).mark_circle(size=16, opacity=0.55).encode(**encoding)
    zero = alt.Chart(data).transform_aggregate(rows="count()").mark_rule(color="#888888").encode(y=alt.datum(0))
    chart = alt.layer(zero, points).properties(height=320)
    return _tag(chart, "dependence", feature=feature, attribute=color_by)


# === mitigation (per-group thresholds on a score) ============================================
#
# The builders below read ``analysis.thresholds`` results (``Frontier``, ``WhatIf``,
# ``ThresholdCurves``) and tag every spec with ``usermeta = {"chart": kind, ...}``.


# Constraint → (WhatIf summary key of its measure, axis title).
def _measure(name: str, note: str) -> tuple[str, str]:
    words = title(name)
    return name, f"{words[0].upper()}{words[1:]}{note}"


MEASURE_NOTES = {
    "demographic_parity": " (largest − smallest selection rate)",
    "four_fifths": f": the four-fifths rule asks for at least {FOUR_FIFTHS:g}",
    "equal_opportunity": " (largest − smallest)",
    "equalized_odds": " (larger of the TPR and FPR ranges)",
    "predictive_parity": " (largest − smallest)",
}
MEASURES = {c: _measure(CONSTRAINT_MEASURES[c], note) for c, note in MEASURE_NOTES.items()}
# Objective → (WhatIf summary key, axis title).
OBJECTIVE_MEASURES = {
    "accuracy": ("accuracy", "Accuracy (share of correct decisions)"),
    "cost": ("utility", "Net benefit (benefit × TP − cost × FP)"),
    "selection_rate": ("selection_rate", "Overall selection rate"),
    "changes": ("selection_rate", "Decisions changed"),
}
# Objectives whose frontier is drawn as the decisions changed (fewer is better).
COUNTING = ("selection_rate", "changes")
# "Keep the selection rate" points keep today's rate where the constraint allows (the tooltip shows the rate):
# what differs between them is how many decisions change.
CHANGED_TITLE = "Decisions changed (fewer is better)"
FRONTIER_KINDS = ("optimised thresholds", "current decisions", "one threshold for everyone", "your thresholds")
FRONTIER_COLORS = ("#1f4e9c", "#7f7f7f", "#d9822b", "#c0504d")
FRONTIER_SHAPES = ("circle", "square", "diamond", "triangle-up")
DECISION_SETS = ("current decisions", "these thresholds")
DECISION_SET_COLORS = ("#9a9a9a", "#1f4e9c")
SIDES = ("negative decision", "positive decision")
SIDE_COLORS = ("#c9c9c9", "#5b8fd6")


def summary_value(result: Any, key: str) -> float | None:
    """A WhatIf summary value (None when undefined or absent, e.g. accuracy without a label)."""
    metric = result.summary.get(key)
    return None if metric is None else metric.value


def frontier_data(front: Any, current: Any | None = None) -> pd.DataFrame:
    """One row per point: the frontier's points (by disparity), the current decisions, the best single
    threshold and, given a ``WhatIf``, the thresholds chosen now; ``disparity`` is the constraint's measure."""
    changed = front.objective in COUNTING
    rows = [
        {"kind": FRONTIER_KINDS[0], "order": i, "tolerance": p.tolerance} | _point_values(p, changed)
        for i, p in enumerate(front.points)
    ]
    for kind, point in ((FRONTIER_KINDS[1], front.baseline), (FRONTIER_KINDS[2], front.single_threshold)):
        rows.append({"kind": kind, "order": None, "tolerance": None} | _point_values(point, changed))
    rate_key = OBJECTIVE_MEASURES["selection_rate"][0]
    if current is not None:
        measure, objective = MEASURES[front.constraint][0], OBJECTIVE_MEASURES[front.objective][0]
        if changed:
            flips = [summary_value(current, k) for k in ("flips_to_positive", "flips_to_negative")]
            y = None if None in flips else sum(flips)
        else:
            y = summary_value(current, objective)
        rows.append(
            {"kind": FRONTIER_KINDS[3], "order": None, "tolerance": None}
            | {"disparity": summary_value(current, measure), "objective": y, "rate": summary_value(current, rate_key)}
        )
    out = pd.DataFrame(rows, columns=["kind", "order", "tolerance", "disparity", "objective", "rate"])
    if front.objective == "changes":  # its objective value is the count changed, not a rate
        out["rate"] = None
    return out


def _point_values(point: Any, changed: bool) -> dict[str, float | None]:
    """A frontier point's disparity, y value and, for "keep the selection rate", its overall selection rate."""
    if changed:
        return {"disparity": point.disparity, "objective": float(point.changed), "rate": point.objective_value}
    return {"disparity": point.disparity, "objective": point.objective_value, "rate": None}


def frontier_chart(front: Any, current: Any | None = None) -> Any:
    """The objective against the constraint's measure along the frontier, with the current decisions, the best
    single threshold and the chosen thresholds marked (four-fifths: a rule at the four-fifths floor)."""
    data = frontier_data(front, current)
    x_title = MEASURES[front.constraint][1]
    y_title = CHANGED_TITLE if front.objective in COUNTING else OBJECTIVE_MEASURES[front.objective][1]
    x = alt.X("disparity:Q", title=x_title, scale=alt.Scale(zero=False))
    y = alt.Y("objective:Q", title=y_title, scale=alt.Scale(zero=False))
    tooltip = [
        alt.Tooltip("kind:N", title="point"),
        alt.Tooltip("disparity:Q", title="disparity", format=".4f"),
        alt.Tooltip("objective:Q", title=front.objective, format=".4f"),
        alt.Tooltip("tolerance:Q", title="tolerance", format=".4f"),
    ]
    if front.objective == "selection_rate":
        tooltip.append(alt.Tooltip("rate:Q", title="overall selection rate", format=".4f"))
    kind = alt.Color(
        "kind:N",
        scale=alt.Scale(domain=list(FRONTIER_KINDS), range=list(FRONTIER_COLORS)),
        legend=alt.Legend(title=None, orient="top"),
    )
    shape = alt.Shape("kind:N", scale=alt.Scale(domain=list(FRONTIER_KINDS), range=list(FRONTIER_SHAPES)))
    # What a tolerance buys is the best point within it: a step, never a straight line between points
    # (that would take randomised thresholds). Four-fifths is read leftwards: a higher ratio is fairer.
    step = "step-before" if front.constraint == "four_fifths" else "step-after"
    line = (
        alt.Chart(data)
        .transform_filter(alt.datum.kind == FRONTIER_KINDS[0])
        .mark_line(color=FRONTIER_COLORS[0], interpolate=step)
        .encode(x=x, y=y)
    )
    points = (
        alt.Chart(data)
        .transform_filter(alt.datum.kind == FRONTIER_KINDS[0])
        .mark_point(filled=True, size=70)
        .encode(x=x, y=y, color=kind, shape=shape, tooltip=tooltip)
    )
    # The markers are drawn last and larger, with a white edge, so that they stay visible on a frontier point.
    markers = (
        alt.Chart(data)
        .transform_filter(alt.datum.kind != FRONTIER_KINDS[0])
        .mark_point(filled=True, size=200, stroke="white", strokeWidth=1.5, opacity=1)
        .encode(x=x, y=y, color=kind, shape=shape, tooltip=tooltip)
    )
    layers = [line, points, markers]
    if front.constraint == "four_fifths":
        one_row = alt.Chart(data).transform_aggregate(rows="count()")
        layers.insert(0, one_row.mark_rule(color="#c0504d", strokeDash=[6, 4]).encode(x=alt.datum(FOUR_FIFTHS)))
    chart = alt.layer(*layers).properties(height=340)
    return _tag(chart, "frontier", constraint=front.constraint, objective=front.objective)


# --- rates at the chosen thresholds -----------------------------------------------------------


RATE_TITLES = {name: title(name) for name in ("selection_rate", "tpr", "fpr")}


def threshold_rates_data(current: Any, before: Any) -> pd.DataFrame:
    """One row per group, rate (selection rate; TPR and FPR with a label) and decision set (the current
    decisions, these thresholds): the rate (null when undefined) and its denominator."""
    rows = []
    for name, words in RATE_TITLES.items():
        for decisions, result in zip(DECISION_SETS, (before, current), strict=True):
            for group, record in result.groups.items():
                if name not in record.metrics:
                    continue
                n = rate_denominator(name, record.counts)
                rows.append(
                    {"group": group, "rate": words, "decisions": decisions, "value": record.metrics[name].value}
                    | {"n": n}
                )
    return pd.DataFrame(rows, columns=["group", "rate", "decisions", "value", "n"])


def threshold_rates_chart(current: Any, before: Any) -> Any:
    """Per group and rate, a line from the current decisions' rate to the rate at these thresholds."""
    data = threshold_rates_data(current, before)
    groups = list(current.groups)
    y = alt.Y("group:N", sort=groups, title=None, axis=alt.Axis(labelLimit=200))
    x = alt.X("value:Q", title=None, axis=RATE_AXIS, scale=alt.Scale(domain=[0, 1]))
    color = alt.Color(
        "decisions:N",
        scale=alt.Scale(domain=list(DECISION_SETS), range=list(DECISION_SET_COLORS)),
        legend=alt.Legend(title=None, orient="top"),
    )
    tooltip = [
        alt.Tooltip("group:N", title=current.attribute),
        alt.Tooltip("rate:N", title="rate"),
        alt.Tooltip("decisions:N", title="decisions"),
        alt.Tooltip("value:Q", title="value", format=".3f"),
        alt.Tooltip("n:Q", title="rows in the denominator", format=","),
    ]
    base = alt.Chart().encode(x=x, y=y)
    line = base.mark_line(color="#b0b0b0").encode(detail="group:N")
    points = base.mark_point(filled=True, size=70).encode(color=color, tooltip=tooltip)
    titles = [t for t in RATE_TITLES.values() if t in set(data["rate"])]
    chart = (
        alt.layer(line, points, data=data)
        .properties(height=alt.Step(ROW_STEP), width=220)
        .facet(column=alt.Column("rate:N", sort=titles, title=None))
    )
    return _tag(chart, "threshold_rates", attribute=current.attribute)


# --- score distribution per group -------------------------------------------------------------


def score_distribution_data(
    curves: Any, thresholds: dict[str, float], *, bins: int = 30, sides: tuple[str, str] = SIDES
) -> pd.DataFrame:
    """Per group, the share of its scored rows in each of ``bins`` equal-width score bins (common edges),
    each bin on the side of the group's threshold its middle falls (named by ``sides``: below, at or above);
    and one ``threshold`` row per group."""
    scores = np.asarray(curves.scores, dtype=float)
    low, high = float(scores.min()), float(scores.max())
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    middles = (edges[:-1] + edges[1:]) / 2
    rows = []
    for g, group in enumerate(curves.labels):
        values = scores[curves.offsets[g] : curves.offsets[g + 1]]
        counts, _ = np.histogram(values, bins=edges)
        cut = float(thresholds[group])
        for k in range(bins):
            rows.append(
                {"kind": "bin", "group": group, "start": edges[k], "end": edges[k + 1], "rows": int(counts[k])}
                | {"share": counts[k] / max(values.size, 1), "side": sides[int(middles[k] >= cut)], "threshold": None}
            )
        rows.append(
            {"kind": "threshold", "group": group, "start": None, "end": None, "rows": int(values.size)}
            | {"share": None, "side": None, "threshold": cut}
        )
    return pd.DataFrame(rows, columns=["kind", "group", "start", "end", "rows", "share", "side", "threshold"])


def score_distribution_chart(
    curves: Any, thresholds: dict[str, float], *, score_title: str, bins: int = 30, sides: tuple[str, str] = SIDES
) -> Any:
    """One histogram of the score per group (share of the group's rows), with its threshold as a rule.

    ``sides`` names the decision below and at or above the threshold, e.g. ``("not flagged", "flagged")``.
    """
    data = score_distribution_data(curves, thresholds, bins=bins, sides=sides)
    x = alt.X("start:Q", title=score_title, bin="binned", scale=alt.Scale(zero=False))
    bars = (
        alt.Chart()
        .transform_filter(alt.datum.kind == "bin")
        .mark_bar()
        .encode(
            x=x,
            x2="end:Q",
            y=alt.Y("share:Q", title="share", axis=alt.Axis(format=".0%", tickCount=3)),
            color=alt.Color(
                "side:N",
                scale=alt.Scale(domain=list(sides), range=list(SIDE_COLORS)),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[
                alt.Tooltip("group:N", title=curves.attribute),
                alt.Tooltip("start:Q", title="score from", format=".4f"),
                alt.Tooltip("end:Q", title="score to", format=".4f"),
                alt.Tooltip("rows:Q", title="rows", format=","),
                alt.Tooltip("share:Q", title="share of the group", format=".1%"),
            ],
        )
    )
    rule = (
        alt.Chart()
        .transform_filter(alt.datum.kind == "threshold")
        .mark_rule(color="#c0504d", strokeWidth=2)
        .encode(
            x="threshold:Q",
            tooltip=[
                alt.Tooltip("group:N", title=curves.attribute),
                alt.Tooltip("threshold:Q", title="threshold", format=".4f"),
            ],
        )
    )
    chart = (
        alt.layer(bars, rule, data=data)
        .properties(height=70, width=560)
        .facet(
            row=alt.Row(
                "group:N",
                sort=list(curves.labels),
                title=None,
                header=alt.Header(labelAngle=0, labelOrient="top", labelAnchor="start", labelFontWeight="bold"),
            )
        )
    )
    return _tag(chart, "score_distribution", attribute=curves.attribute)
