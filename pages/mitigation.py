"""Mitigation page: move thresholds per group and watch every metric move, ask the optimiser for the best
thresholds under a fairness constraint, see the trade-off frontier, and compare with retraining on held-out rows."""

from __future__ import annotations

import json
import math
import time
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from analysis import AuditSpec, ParityLabError, csv_bytes, decision_changes, encode_groups
from analysis.metrics import rate_denominator, title
from analysis.mitigate import Mitigation, mitigate
from analysis.mitigation import MODEL_SCORE_LABEL, SUMMARY_FIGURES, MitigationComparison, ModelScores, flip_columns
from analysis.optimizer import Optimization, gives_back
from analysis.options import FOUR_FIFTHS, default_tolerance
from analysis.thresholds import ThresholdCurves, WhatIf, baseline, what_if
from ui import cached, charts, state
from ui.frame import require_spec
from ui.state import W
from ui.text import md, metric_help, metric_label, say

NOTHING_YET = (
    "Nothing to mitigate yet. Confirm which columns hold the decision and the protected attributes (and, if you "
    "have one, the model's score) on the Data page first."
)

SINGLE, PER_GROUP = "One threshold for everyone", "A threshold per group"
MODES = (SINGLE, PER_GROUP)
CONSTRAINT_NAMES = {
    "four_fifths": f"Four-fifths rule (rate ratio ≥ {FOUR_FIFTHS:g})",
    "demographic_parity": "Demographic parity (selection rates)",
    "equal_opportunity": "Equal opportunity (TPR)",
    "equalized_odds": "Equalized odds (TPR and FPR)",
    "predictive_parity": "Predictive parity (precision)",
}
CONSTRAINT_SHORT = {
    "four_fifths": "the four-fifths rule",
    "demographic_parity": "demographic parity",
    "equal_opportunity": "equal opportunity",
    "equalized_odds": "equalized odds",
    "predictive_parity": "predictive parity",
}
SELECTION_CONSTRAINTS = ("four_fifths", "demographic_parity")
OBJECTIVE_NAMES = {
    "accuracy": "Accuracy (most correct decisions)",
    "cost": "Net benefit (benefit × TP − cost × FP)",
    "selection_rate": "Keep today's overall selection rate, changing the fewest decisions",
}
OBJECTIVE_SHORT = {
    "accuracy": "accuracy",
    "cost": "net benefit",
    "selection_rate": "closeness to today's overall selection rate (then the fewest decisions changed)",
}
TOLERANCE_MEANING = {
    "four_fifths": f"the lowest favourable rate must be at least ({FOUR_FIFTHS:g} − tolerance) × the highest; "
    "0 is the rule itself",
    "demographic_parity": "selection rates may differ by at most this much between groups",
    "equal_opportunity": "TPRs may differ by at most this much between groups",
    "equalized_odds": "TPRs, and FPRs, may each differ by at most this much between groups",
    "predictive_parity": "precisions may differ by at most this much between groups",
}
# Equalized odds sweeps pairs of rate floors: the frontier takes seconds, so it waits for a click;
# so does any frontier on tables above this many scored rows.
AUTO_FRONTIER_ROWS = 200_000
# Seconds per (row × group) of the retraining comparison, measured on the loan sample; replaced by
# this session's own measurement once a comparison has run.
COMPARE_SECONDS_PER_UNIT = 1.5e-4
KEEP = {"persist_state": "session"}

DISPARATE_TREATMENT = (
    "**A threshold per group uses the protected attribute at decision time.** Each person is judged by the rule "
    "of their group, which is disparate treatment: in US lending (ECOA, Regulation B) and hiring (Title VII "
    "forbids adjusting cut-off scores by race, sex, religion or national origin) it is generally unlawful, and "
    "similar rules apply elsewhere. Use these figures to understand the trade-off and to look for fairer scores "
    "or features, not as a decision rule, unless your legal team has approved it."
)
IN_SAMPLE = (
    "Every figure on this page is measured on the same rows the thresholds are tried or chosen on, so it is "
    "**optimistic**: new people will not fit them as well. The comparison with retraining at the bottom chooses "
    "thresholds on training rows and reports held-out figures beside the in-sample ones."
)


class Scored(NamedTuple):
    """The table and spec the thresholds act on: the spec's own score, or a model score added to both."""

    df: pd.DataFrame
    spec: AuditSpec
    model: ModelScores | None
    title: str


class Costs(NamedTuple):
    cost_fp: float
    benefit_tp: float


# ---------------------------------------------------------------- formatting


def number(value: float | None, spec: str = ".3f") -> str:
    return "undefined" if value is None else format(value, spec)


def rate_cell(record: dict[str, Any], name: str) -> str | None:
    """A group's rate (3 decimals), or "undefined (n=0)" with its denominator — never 0 for an undefined rate."""
    metric = record.metrics.get(name)
    if metric is None:
        return None
    if metric.value is not None:
        return f"{metric.value:.3f}"
    return f"undefined (n={rate_denominator(name, record.counts):,})"


def value(result: WhatIf, key: str) -> float | None:
    return charts.summary_value(result, key)


def context(dataset: state.Dataset, spec: AuditSpec, attribute: str) -> tuple[str, str, str]:
    """What a remembered result was computed from."""
    return dataset.data_key, spec.to_json(), attribute


# ---------------------------------------------------------------- score and curves


def pick_attribute(spec: AuditSpec) -> str:
    columns = list(spec.protected_columns)
    if not columns:
        st.info("No protected attribute to set thresholds for: choose one on the Data page.")
        st.stop()
    if state.get(W.MITIGATION_ATTRIBUTE) not in columns:
        state.set_widgets({W.MITIGATION_ATTRIBUTE: columns[0]})
    # Selectbox options are drawn as plain text; labels are Markdown.
    return st.selectbox(
        "Protected attribute",
        columns,
        key=W.MITIGATION_ATTRIBUTE,
        **KEEP,
        help="The groups whose thresholds you move. Numeric attributes are binned as confirmed on the Data page.",
    )


def scored_table(dataset: state.Dataset, spec: AuditSpec) -> Scored:
    df = dataset.table.data
    if spec.score is not None:
        return Scored(df, spec, None, spec.score)
    try:
        model = cached.surrogate_scores(dataset.data_key, spec.to_json(), df)
        with_score, scored_spec = model.apply(df, spec)
    except ParityLabError as exc:
        st.error(say(exc))
        st.stop()
    return Scored(with_score, scored_spec, model, MODEL_SCORE_LABEL)


def show_score_source(scored: Scored) -> None:
    if scored.model is None:
        st.caption(
            f"Score: the column **{md(scored.title)}** (higher = more likely to get the positive decision). A "
            "threshold turns it into decisions: score ≥ threshold gets the positive decision."
        )
        return
    auc = "undefined" if scored.model.auc is None else f"{scored.model.auc:.3f}"
    st.info(
        f"The spec names no score column, so the thresholds act on a **{md(MODEL_SCORE_LABEL)}**: each row's "
        f"out-of-fold probability of the positive decision from a model trained on the features (out-of-fold AUC "
        f"against the current decisions: **{auc}**). It imitates the decisions; it is not the model that made "
        "them, so the thresholds found here are for that imitation. Add the real score on the Data page if you "
        "have it."
    )
    with st.expander("How the model score was made"):
        for note in scored.model.notes:
            st.markdown(f"- {say(note)}")


def load_curves(dataset: state.Dataset, scored: Scored, attribute: str) -> ThresholdCurves:
    try:
        return cached.curves(dataset.data_key, scored.spec.to_json(), attribute, scored.df)
    except ParityLabError as exc:
        st.error(say(exc))
        st.stop()


def bounds(curves: ThresholdCurves) -> tuple[float, float]:
    """The slider's range: the lowest score, and just above the highest (so that nobody can be selected)."""
    low, high = float(curves.scores.min()), float(curves.scores.max())
    return low, float(np.nextafter(high, np.inf))


def resolution(low: float, high: float) -> tuple[float, str]:
    """A slider step a thousandth of the range (a power of ten) and a format showing it."""
    exponent = math.floor(math.log10(max(high - low, 1e-12))) - 3
    return 10.0**exponent, f"%.{max(0, -exponent)}f"


def default_threshold(curves: ThresholdCurves, spec: AuditSpec) -> float:
    """Where the sliders start.

    A spec whose decision *is* ``score ≥ threshold`` starts at that threshold: the current decisions
    exactly. Otherwise the one shared threshold whose overall selection rate is closest to the current
    decisions' rate (over scored rows), so the page opens on "the score, cut where we cut today".
    """
    low, high = bounds(curves)
    if spec.decision is None and spec.threshold is not None:
        return min(max(float(spec.threshold), low), high)
    ordered = np.sort(curves.scores)
    candidates = np.append(np.unique(ordered), high)
    selected = ordered.size - np.searchsorted(ordered, candidates, side="left")
    target = curves.current_selected().sum()
    return float(candidates[int(np.argmin(np.abs(selected - target)))])


# ---------------------------------------------------------------- controls


def cost_inputs(curves: ThresholdCurves) -> Costs:
    if not curves.has_label:
        return Costs(1.0, 1.0)
    state.set_widgets({k: 1.0 for k in (W.MITIGATION_COST_FP, W.MITIGATION_BENEFIT_TP) if state.get(k) is None})
    left, right = st.columns(2)
    cost = left.number_input(
        "Cost of a false positive",
        min_value=0.0,
        step=0.5,
        key=W.MITIGATION_COST_FP,
        **KEEP,
        help="What a positive decision for someone whose true outcome is negative costs (e.g. a loan not repaid).",
    )
    benefit = right.number_input(
        "Benefit of a true positive",
        min_value=0.0,
        step=0.5,
        key=W.MITIGATION_BENEFIT_TP,
        **KEEP,
        help="What a positive decision for someone whose true outcome is positive gains (e.g. a repaid loan). "
        "Net benefit = benefit × true positives − cost × false positives.",
    )
    return Costs(float(cost), float(benefit))


def copy_shared_threshold(attribute: str, groups: tuple[str, ...]) -> None:
    """On switching to per-group mode, start every group at the shared threshold."""
    shared = state.get(W.mitigation_single(attribute))
    if state.get(W.MITIGATION_MODE) == PER_GROUP and shared is not None:
        state.set_widgets({W.mitigation_threshold(attribute, g): shared for g in groups})


def keep_in_range(key: str, low: float, high: float, default: float) -> None:
    current = state.get(key)
    if not isinstance(current, (int, float)) or not low <= current <= high:
        state.set_widgets({key: default})


def threshold_controls(curves: ThresholdCurves, spec: AuditSpec) -> tuple[str, dict[str, float]]:
    """The mode and one slider (or one per group); returns the mode and every group's threshold."""
    attribute, groups = curves.attribute, curves.labels
    low, high = bounds(curves)
    step, shown = resolution(low, high)
    start = default_threshold(curves, spec)
    if state.get(W.MITIGATION_MODE) not in MODES:
        state.set_widgets({W.MITIGATION_MODE: SINGLE})
    keep_in_range(W.mitigation_single(attribute), low, high, start)
    for group in groups:
        keep_in_range(W.mitigation_threshold(attribute, group), low, high, start)
    mode = st.radio(
        "Thresholds",
        MODES,
        key=W.MITIGATION_MODE,
        **KEEP,
        horizontal=True,
        on_change=copy_shared_threshold,
        args=(attribute, groups),
        help="Switching to one threshold per group starts every group at the shared threshold.",
    )
    sizes = dict(zip(groups, curves.sizes.tolist(), strict=True))
    if mode == SINGLE:
        shared = st.slider(
            f"Threshold for everyone (score ≥ threshold gets the positive decision; {sum(sizes.values()):,} rows)",
            min_value=low,
            max_value=high,
            step=step,
            format=shown,
            key=W.mitigation_single(attribute),
            **KEEP,
        )
        return mode, dict.fromkeys(groups, float(shared))
    columns = st.columns(min(3, len(groups)))
    thresholds = {}
    for i, group in enumerate(groups):
        with columns[i % len(columns)]:
            thresholds[group] = float(
                st.slider(
                    md(f"{group} ({sizes[group]:,} rows)"),
                    min_value=low,
                    max_value=high,
                    step=step,
                    format=shown,
                    key=W.mitigation_threshold(attribute, group),
                    **KEEP,
                )
            )
    return mode, thresholds


# ---------------------------------------------------------------- live metrics


def delta_text(now: float | None, before: float | None) -> str | None:
    return None if now is None or before is None else f"{now - before:+.3f}"


def headline(label: str, now: float | None, before: float | None, *, better: str, help_text: str) -> None:
    """A metric card with its change against the current decisions (``better``: "higher" or "lower")."""
    delta = delta_text(now, before)
    color, arrow = "normal" if better == "higher" else "inverse", "auto"
    if delta is not None and abs(now - before) < 5e-4:
        color, arrow = "off", "off"
    st.metric(label, number(now), delta=delta, delta_color=color, delta_arrow=arrow, help=help_text, border=True)


def show_headlines(current: WhatIf, before: WhatIf, has_label: bool) -> None:
    top = st.columns(3)
    cards = top + (st.columns(3) if has_label else [])  # three per row: the labels stay readable
    shown = [("favorable_rate_ratio", "higher"), ("demographic_parity_difference", "lower")]
    if has_label:
        shown += [("equalized_odds_difference", "lower"), ("accuracy", "higher")]
    notes = {
        "favorable_rate_ratio": f" The four-fifths rule asks for at least {FOUR_FIFTHS:g}; today's value is the "
        "Fairness page's four-fifths ratio.",
    }
    for card, (name, better) in zip(cards, shown, strict=False):
        with card:
            headline(
                metric_label(name),
                value(current, name),
                value(before, name),
                better=better,
                help_text=metric_help(name) + notes.get(name, ""),
            )
    if has_label:
        with cards[4]:
            now, then = value(current, "utility"), value(before, "utility")
            st.metric(
                "Net benefit",
                number(now, ",.1f"),
                delta=None if now is None or then is None else f"{now - then:+,.1f}",
                delta_color="off" if now == then else "normal",
                delta_arrow="off" if now == then else "auto",
                help=f"{current.benefit_tp:g} × true positives − {current.cost_fp:g} × false positives "
                "(set the cost and benefit above). The expected cost is its negative.",
                border=True,
            )
    with cards[-1]:
        up, down = int(value(current, "flips_to_positive") or 0), int(value(current, "flips_to_negative") or 0)
        st.metric(
            "Decisions that change",
            f"{up + down:,}",
            help="Rows whose decision at these thresholds differs from the current decision.",
            border=True,
        )
    st.markdown(sentence(current, before, has_label))


def sentence(current: WhatIf, before: WhatIf, has_label: bool) -> str:
    """The headline in plain words."""
    parts = []
    ratio, then = value(current, "favorable_rate_ratio"), value(before, "favorable_rate_ratio")
    if ratio is not None:
        verdict = "passes" if current.four_fifths_pass else "fails"
        now_text = f" (today {then:.2f}×)" if then is not None else ""
        parts.append(
            f"At these thresholds the group with the lowest favourable rate gets it {ratio:.2f}× as often as the "
            f"group with the highest{now_text}: this **{verdict}** the four-fifths rule."
        )
    accuracy, accuracy_then = value(current, "accuracy"), value(before, "accuracy")
    if has_label and accuracy is not None and accuracy_then is not None:
        parts.append(f"Accuracy is {accuracy:.3f} ({accuracy - accuracy_then:+.3f} against today's decisions).")
    up, down = int(value(current, "flips_to_positive") or 0), int(value(current, "flips_to_negative") or 0)
    parts.append(
        f"{up + down:,} people's decisions change: {up:,} would newly get the positive decision and {down:,} would "
        "lose it."
    )
    return " ".join(parts)


def group_table(current: WhatIf, before: WhatIf, curves: ThresholdCurves) -> pd.DataFrame:
    """Per group: size, threshold, rates now and at the thresholds, and the decisions that flip."""
    rates = ["selection_rate"] + ([] if curves.positive_is_favorable else ["favorable_rate"])
    if curves.has_label:
        rates += ["tpr", "fpr", "precision", "accuracy"]
    rows = []
    for group, record in current.groups.items():
        row: dict[str, object] = {
            "group": group,
            "rows": record.counts["n"],
            "threshold": current.thresholds[group],
            "selection rate today": rate_cell(before.groups[group], "selection_rate"),
        }
        for name in rates:
            row[title(name)] = rate_cell(record, name)
        row["→ positive"] = current.flips[group]["to_positive"]
        row["→ negative"] = current.flips[group]["to_negative"]
        compared = record.compared
        row["note"] = "" if compared else f"under {curves.min_group_size} rows: not in the summaries or constraints"
        rows.append(row)
    return pd.DataFrame(rows)


def show_groups(current: WhatIf, before: WhatIf, curves: ThresholdCurves, scored: Scored, decimals: str) -> None:
    st.dataframe(
        group_table(current, before, curves),
        hide_index=True,
        key=W.mitigation_table("groups"),
        column_config={"threshold": st.column_config.NumberColumn(format=decimals)},
    )
    st.caption(
        "Rates at these thresholds (score ≥ the group's threshold gets the positive decision) over rows with a "
        "score; TPR, FPR, precision and accuracy over rows with a label. → positive / → negative: decisions that "
        "would change, against today's."
    )
    for row in curves.left_out:
        st.warning(md(f"{row['rows']:,} rows left out — {row['reason']}."))
    st.markdown("**Rates by group: today and at these thresholds**")
    figure = charts.threshold_rates_chart(current, before)
    st.altair_chart(
        figure, key=W.mitigation_chart("threshold_rates"), alt="Rates by group, today and at the thresholds."
    )
    st.markdown("**The score in each group, with its threshold**")
    figure = charts.score_distribution_chart(curves, current.thresholds, score_title=scored.title)
    st.altair_chart(
        figure, key=W.mitigation_chart("score_distribution"), width="stretch", alt="Score histogram per group."
    )
    st.caption(
        "The share of each group's rows at each score; the red line is the group's threshold, and the blue bars "
        "get the positive decision."
    )


# ---------------------------------------------------------------- optimiser


def tolerance_for_constraint() -> None:
    constraint = state.get(W.MITIGATION_CONSTRAINT)
    state.set_widgets({W.MITIGATION_TOLERANCE: default_tolerance(constraint)})


def optimizer_controls(curves: ThresholdCurves) -> tuple[str, float, str, bool]:
    constraints = list(CONSTRAINT_NAMES) if curves.has_label else list(SELECTION_CONSTRAINTS)
    objectives = ["accuracy", "cost", "selection_rate"] if curves.has_label else ["selection_rate"]
    if state.get(W.MITIGATION_CONSTRAINT) not in constraints:
        state.set_widgets({W.MITIGATION_CONSTRAINT: constraints[0]})
        tolerance_for_constraint()
    if state.get(W.MITIGATION_OBJECTIVE) not in objectives:
        state.set_widgets({W.MITIGATION_OBJECTIVE: objectives[0]})
    if state.get(W.MITIGATION_TOLERANCE) is None:
        tolerance_for_constraint()
    if not curves.has_label:
        st.info(
            "This spec has no label (the true outcome), so only constraints on selection rates are offered: the "
            "four-fifths rule and demographic parity. Equal opportunity, equalized odds and predictive parity "
            "compare error rates, and accuracy and net benefit count correct decisions: all need to know who "
            "truly repaid, was urgent, … Choose a label column on the Data page to use them."
        )
    first, second, third = st.columns([4, 2, 4])
    constraint = first.selectbox(
        "Constraint",
        constraints,
        format_func=CONSTRAINT_NAMES.get,
        key=W.MITIGATION_CONSTRAINT,
        **KEEP,
        on_change=tolerance_for_constraint,
    )
    tolerance = second.number_input(
        "Tolerance", min_value=0.0, max_value=1.0, step=0.01, format="%.3f", key=W.MITIGATION_TOLERANCE, **KEEP
    )
    objective = third.selectbox(
        "Objective", objectives, format_func=OBJECTIVE_NAMES.get, key=W.MITIGATION_OBJECTIVE, **KEEP
    )
    st.caption(f"Tolerance {tolerance:g}: {TOLERANCE_MEANING[constraint]}.")
    clicked = st.button("Optimise", key=W.MITIGATION_OPTIMIZE, type="primary")
    return constraint, float(tolerance), objective, clicked


def apply_thresholds(attribute: str, thresholds: dict[str, float]) -> None:
    """Queue the thresholds for the per-group sliders (already drawn in this run) and rerun."""
    queued = {W.mitigation_threshold(attribute, g): float(t) for g, t in thresholds.items()}
    state.queue_widgets({W.MITIGATION_MODE: PER_GROUP} | queued)
    st.rerun()


def run_optimizer(
    dataset: state.Dataset, scored: Scored, curves: ThresholdCurves, choice: tuple, costs: Costs, where: tuple
) -> None:
    constraint, tolerance, objective, _ = choice
    try:
        result = cached.optimization(
            dataset.data_key,
            scored.spec.to_json(),
            curves.attribute,
            constraint,
            tolerance,
            objective,
            costs.cost_fp,
            costs.benefit_tp,
            curves,
        )
    except ParityLabError as exc:
        st.error(say(exc))
        return
    state.remember("mitigation_optimization", where, result)
    apply_thresholds(curves.attribute, result.thresholds)


def show_optimization(result: Optimization, current: WhatIf, before: WhatIf) -> None:
    what = f"{CONSTRAINT_SHORT[result.constraint]} (tolerance {result.tolerance:g})"
    if result.feasible:
        st.success(
            f"**Feasible.** These thresholds meet {what} on these rows with the best "
            f"{OBJECTIVE_SHORT[result.objective]} possible. The sliders above were set to them."
        )
        if result.reason:
            st.caption(md(result.reason))
    else:
        st.warning(
            f"**Not feasible.** No deterministic threshold per group meets {what} on these rows. "
            + md(result.reason or "")
            + " The sliders above were set to those thresholds."
        )
    measure_key, measure_title = charts.MEASURES[result.constraint]
    objective_key, objective_title = charts.OBJECTIVE_MEASURES[result.objective]
    given_back = gives_back(result, before)
    if given_back is not None:
        today, found = given_back
        st.info(
            f"Today's decisions already do better on this measure ({today:.3f} against {found:.3f}): the "
            f"optimiser stays within the constraint while maximising {OBJECTIVE_SHORT[result.objective]}, so "
            "it may give back some of today's fairness. To ask for more, choose a stricter constraint (e.g. "
            "demographic parity with a small tolerance), or read the frontier below."
        )
    cards = st.columns(3)
    cards[0].metric(measure_title.split(" (")[0], number(value(result.what_if, measure_key)), border=True)
    cards[1].metric(objective_title.split(" (")[0], number(value(result.what_if, objective_key), ",.3f"), border=True)
    flips = int(value(result.what_if, "flips_to_positive") or 0) + int(value(result.what_if, "flips_to_negative") or 0)
    cards[2].metric("Decisions that change", f"{flips:,}", border=True)
    constrained = set(result.constrained_groups)
    rows = [
        {"group": g, "threshold": t, "constrained": "yes" if g in constrained else "no: too small, own best threshold"}
        for g, t in result.thresholds.items()
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key=W.mitigation_table("optimized"))
    if current.thresholds != result.thresholds:
        st.caption("The sliders have moved since this optimisation.")
        if st.button("Set the sliders to these thresholds again", key=W.MITIGATION_APPLY):
            apply_thresholds(current.attribute, result.thresholds)


# ---------------------------------------------------------------- frontier


def show_frontier(
    dataset: state.Dataset, scored: Scored, curves: ThresholdCurves, choice: tuple, costs: Costs, current: WhatIf
) -> None:
    constraint, _, objective, _ = choice
    st.subheader("The trade-off: how much each step towards parity costs")
    where = (dataset.data_key, scored.spec.to_json(), curves.attribute, constraint, objective, *costs)
    front = state.recall("mitigation_frontier", where)
    if front is None and (constraint == "equalized_odds" or int(curves.sizes.sum()) > AUTO_FRONTIER_ROWS):
        st.caption(
            "Drawing the frontier runs the optimiser about 25 times"
            + (" over pairs of TPR and FPR floors" if constraint == "equalized_odds" else "")
            + ": it can take a while on these data."
        )
        if not st.button("Draw the frontier", key=W.MITIGATION_FRONTIER):
            return
    if front is None:
        try:
            with st.spinner("Optimising at every tolerance…"):
                front = cached.trade_off_frontier(*where, curves)
        except ParityLabError as exc:
            st.error(say(exc))
            return
        state.remember("mitigation_frontier", where, front)
    figure = charts.frontier_chart(front, current)
    st.altair_chart(figure, key=W.mitigation_chart("frontier"), width="stretch", alt="Objective against disparity.")
    fairer = "right" if constraint == "four_fifths" else "left"
    st.caption(
        f"Each blue point is the optimiser's best {OBJECTIVE_SHORT[objective]} at one tolerance; fairer is "
        f"to the {fairer}. The line steps because deterministic thresholds cannot do better between the points. "
        "Grey square: today's decisions; orange diamond: the best single threshold for everyone; red triangle: "
        "the thresholds on the sliders."
    )
    for note in front.notes:
        st.caption(say(note))


# ---------------------------------------------------------------- retraining comparison


def compare_estimate(curves: ThresholdCurves) -> int:
    per_unit = state.recall("mitigation_compare_speed", None) or COMPARE_SECONDS_PER_UNIT
    return max(5, round(per_unit * int(curves.sizes.sum()) * curves.n_groups))


def comparison_table(result: MitigationComparison) -> pd.DataFrame:
    rows = []
    groups = sorted({g for r in result.rows for g in r.selection_rate}, key=str)
    flip_headers, flip_cells = flip_columns([r.flips for r in result.rows])
    for r, cells in zip(result.rows, flip_cells, strict=True):
        row: dict[str, object] = {
            "method": r.label,
            "status": r.status if r.reason is None or r.status.startswith("failed") else f"{r.status}: {r.reason}",
            "randomized": "yes" if r.randomized else "no",
            "accuracy": r.accuracy,
            **{title(name): getattr(r, name) for name in SUMMARY_FIGURES},
        }
        if result.target == "label":
            row["net benefit"] = r.utility
        row["→ positive"] = sum(f["to_positive"] for f in r.flips.values()) if r.flips else None
        row["→ negative"] = sum(f["to_negative"] for f in r.flips.values()) if r.flips else None
        row.update(zip(flip_headers, cells, strict=True))
        for g in groups:
            row[f"selection rate: {g}"] = r.selection_rate.get(g)
        rows.append(row)
    return pd.DataFrame(rows)


def in_sample_table(result: MitigationComparison) -> pd.DataFrame | None:
    """Our thresholds on the rows they were chosen on, beside the held-out rows."""
    row = result.row("thresholds")
    if row.in_sample is None:
        return None
    trained, held = f"training rows (in sample, {result.train_rows:,})", f"held-out rows ({result.test_rows:,})"
    names = {name: title(name) for name in ("accuracy", *SUMMARY_FIGURES)}
    rows = [
        {"measure": title, trained: row.in_sample.get(key), held: getattr(row, key)} for key, title in names.items()
    ]
    if result.target == "label":  # a total grows with the rows: compare it per row
        before, after = row.in_sample.get("utility"), row.utility
        rows.append(
            {
                "measure": "net benefit per row",
                trained: None if before is None else before / max(result.train_rows, 1),
                held: None if after is None else after / max(result.test_rows, 1),
            }
        )
    return pd.DataFrame(rows)


def show_comparison(dataset: state.Dataset, spec: AuditSpec, curves: ThresholdCurves, choice: tuple, costs: Costs):
    constraint, tolerance, objective, _ = choice
    st.subheader("Compared with retraining, on held-out rows")
    st.caption(
        "Splits the rows into training and held-out rows, chooses our thresholds on the training rows, and "
        "compares them on the held-out rows with today's decisions, fairlearn's ThresholdOptimizer (randomised "
        "thresholds), a model retrained with reweighing, and fairlearn's ExponentiatedGradient. Uses the "
        "constraint, tolerance and objective chosen above."
    )
    where = context(dataset, spec, curves.attribute)
    label = f"Compare with retraining (takes ~{compare_estimate(curves)} s)"
    if st.button(label, key=W.MITIGATION_COMPARE):
        started = time.perf_counter()
        try:
            with st.spinner("Training and evaluating every method…"):
                result = cached.mitigation_comparison(
                    dataset.data_key,
                    spec.to_json(),
                    curves.attribute,
                    constraint,
                    tolerance,
                    objective,
                    *costs,
                    dataset.table.data,
                )
        except ParityLabError as exc:
            st.error(say(exc))
            return
        seconds = time.perf_counter() - started
        if seconds > 1:  # a real run, not the cache: this session's own speed for the next estimate
            state.remember(
                "mitigation_compare_speed", None, seconds / max(int(curves.sizes.sum()) * curves.n_groups, 1)
            )
        state.remember("mitigation_comparison", where, result)
    result = state.recall("mitigation_comparison", where)
    if result is None:
        return
    asked = (
        f"{CONSTRAINT_SHORT[result.constraint]}, tolerance {result.tolerance:g}, "
        f"objective {OBJECTIVE_SHORT[result.objective]}"
    )
    st.markdown(f"**Comparison for {md(result.attribute)}** ({md(asked)}; {result.test_rows:,} held-out rows)")
    number_format = st.column_config.NumberColumn(format="%.3f")
    table = comparison_table(result)
    st.dataframe(
        table,
        hide_index=True,
        key=W.mitigation_table("comparison"),
        column_config={c: number_format for c in table.columns if table[c].dtype.kind == "f"},
    )
    side = in_sample_table(result)
    if side is not None:
        st.markdown("**Our thresholds: where they were chosen, and on new rows**")
        st.dataframe(
            side,
            hide_index=True,
            key=W.mitigation_table("in_sample"),
            column_config={c: number_format for c in side.columns[1:]},
        )
        st.caption(
            "The held-out column is what to expect on people the thresholds were not chosen on; the gap to the "
            "training column is the optimism of in-sample figures."
        )
    with st.expander("How the comparison was made"):
        st.markdown("\n".join(f"- {say(note)}" for note in result.notes))


# ---------------------------------------------------------------- exports


def thresholds_record(
    dataset: state.Dataset,
    spec: AuditSpec,
    scored: Scored,
    mode: str,
    current: WhatIf,
    optimization: Optimization | None,
) -> Mitigation:
    """The engine's mitigation record of the thresholds shown: the optimizer's answer while the sliders hold it.

    Made when the download is clicked, from the model score and the optimizer's answer the page already has.
    """
    settings: dict[str, Any] = {}
    if optimization is not None and optimization.thresholds == current.thresholds:
        settings["optimization"] = optimization  # found on this table already: not searched again
    elif mode == SINGLE:
        settings["thresholds"] = next(iter(current.thresholds.values()))
    else:
        settings["thresholds"] = dict(current.thresholds)
    return mitigate(
        dataset.table.data,
        spec,
        attribute=current.attribute,
        cost_fp=current.cost_fp,
        benefit_tp=current.benefit_tp,
        model=scored.model,
        load_report=dataset.table.report,
        **settings,
    )


def show_exports(
    dataset: state.Dataset,
    spec: AuditSpec,
    scored: Scored,
    mode: str,
    current: WhatIf,
    optimization: Optimization | None,
):
    st.subheader("Take the thresholds with you")
    left, right = st.columns(2)

    def thresholds_json() -> str:
        record = thresholds_record(dataset, spec, scored, mode, current, optimization)
        return json.dumps(record.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)

    left.download_button(
        "Download thresholds (JSON)",
        thresholds_json,
        file_name="paritylab-thresholds.json",
        mime="application/json",
        key=W.MITIGATION_THRESHOLDS_JSON,
        help="The thresholds, today's and the new decisions' figures (over the scored rows and as full audits), "
        "the flips, and the optimizer's settings when the sliders hold its thresholds: the same JSON as "
        "`python -m analysis mitigate --json`. Made when you click.",
    )
    df, scored_spec, attribute = scored.df, scored.spec, current.attribute
    attr = next(a for a in scored_spec.protected if a.column == attribute)
    labels = encode_groups(df[attribute], bins=attr.bins, quantiles=attr.quantiles).labels
    # Groups without a scored row have no slider; their rows keep today's decision whatever the threshold.
    every = dict.fromkeys(labels, 0.0) | dict(current.thresholds)

    def decisions() -> bytes:
        return csv_bytes(decision_changes(df, scored_spec, every, attribute=attribute))

    right.download_button(
        "Download decisions (CSV)",
        decisions,
        file_name="paritylab-decisions.csv",
        mime="text/csv",
        key=W.MITIGATION_DECISIONS_CSV,
        help="One row per row of the table: its ID, group, score, today's decision, the decision at these "
        "thresholds, and whether it changed. Made when you click.",
    )


# ---------------------------------------------------------------- page


st.title("Mitigation")
dataset, spec = require_spec(NOTHING_YET)
state.apply_queued_widgets()
st.write(
    "What would it take to close the gap, and what would it cost? Move the thresholds and watch every metric "
    "move, ask the optimiser for the best thresholds under a fairness constraint, and compare with retraining."
)
attribute = pick_attribute(spec)
scored = scored_table(dataset, spec)
show_score_source(scored)
curves = load_curves(dataset, scored, attribute)
where = context(dataset, spec, attribute)

st.subheader("Try thresholds")
costs = cost_inputs(curves)
mode, thresholds = threshold_controls(curves, scored.spec)
if mode == PER_GROUP:
    st.warning(DISPARATE_TREATMENT, icon=":material/balance:")
try:
    current = what_if(curves, thresholds, cost_fp=costs.cost_fp, benefit_tp=costs.benefit_tp)
    before = baseline(curves, cost_fp=costs.cost_fp, benefit_tp=costs.benefit_tp)
except ParityLabError as exc:
    st.error(say(exc))
    st.stop()
st.caption("Each card compares these thresholds with today's decisions (the small figure under it).")
show_headlines(current, before, curves.has_label)
show_groups(current, before, curves, scored, resolution(*bounds(curves))[1])
st.info(IN_SAMPLE)

st.divider()
st.subheader("Ask the optimiser")
choice = optimizer_controls(curves)
if choice[3]:
    run_optimizer(dataset, scored, curves, choice, costs, where)
optimization = state.recall("mitigation_optimization", where)
if optimization is not None:
    show_optimization(optimization, current, before)

st.divider()
show_frontier(dataset, scored, curves, choice, costs, current)
st.divider()
show_comparison(dataset, spec, curves, choice, costs)
st.divider()
show_exports(dataset, spec, scored, mode, current, optimization)
