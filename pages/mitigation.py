"""Mitigation page: move thresholds per group and watch every metric move, ask the optimiser for the best
thresholds under a fairness constraint, see the trade-off frontier, and compare with retraining on held-out rows."""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from analysis import AuditSpec, ParityLabError, csv_bytes, decision_changes, encode_groups
from analysis.counts import INTERSECTION_SEPARATOR
from analysis.engine import CountedTable
from analysis.metrics import rate_denominator, title
from analysis.mitigate import Mitigation, mitigate, starting_point
from analysis.mitigation import MODEL_SCORE_LABEL, SUMMARY_FIGURES, MitigationComparison, ModelScores, flip_columns
from analysis.optimizer import GOALS, NOTHING, Optimization, default_goal, gives_back, goal_unavailable
from analysis.options import FOUR_FIFTHS, SEED, default_tolerance
from analysis.progress import Step
from analysis.stratified import StratifiedSample
from analysis.thresholds import Start, ThresholdCurves, WhatIf, changed_decisions, what_if
from analysis.words import DecisionWords, decision_words
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
    "changes": "Fewest changed decisions",
}
OBJECTIVE_SHORT = {
    "accuracy": "accuracy",
    "cost": "net benefit",
    "selection_rate": "closeness to today's overall selection rate (then the fewest decisions changed)",
    "changes": "fewest changed decisions",
}
CUSTOM = "custom"
# What the frontier and the comparison use when the goal is "nothing to do": the first goal that acts.
FALLBACK_GOAL = "four_fifths_fewest"
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
# The frontier's progress shows one line per this many tolerances.
FRONTIER_LINE_EVERY = 5
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
    """The table and spec the thresholds act on: the spec's own score, or a model score added to both.

    ``df`` is the engine's counts of every row for a source read by an engine with a score column; ``key`` names
    the rows in the caches and ``drawn`` says how an engine sampled them (a model score on a big source).
    """

    df: pd.DataFrame | CountedTable
    spec: AuditSpec
    model: ModelScores | None
    title: str
    key: str
    drawn: StratifiedSample | None = None


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


def focus_column(columns: list[str]) -> str | None:
    """The first column of the focus when the focus is an intersection of protected columns; else None."""
    current = state.focus()
    if current is None or current.attribute in columns or INTERSECTION_SEPARATOR not in current.attribute:
        return None
    first = current.attribute.split(INTERSECTION_SEPARATOR)[0]
    return first if first in columns else None


def pick_attribute(spec: AuditSpec) -> str:
    columns = list(spec.protected_columns)
    if not columns:
        st.info("No protected attribute to set thresholds for: choose one on the Data page.")
        st.stop()
    first = focus_column(columns)
    intersection = state.focus().attribute if first else None
    if first:  # a pick here moves the focus to that column, so an intersection focus is never this page's own
        state.set_widgets({W.MITIGATION_ATTRIBUTE: first})
    else:
        state.follow_focus(W.MITIGATION_ATTRIBUTE, columns)
    # Selectbox options are drawn as plain text; labels are Markdown.
    picked = st.selectbox(
        "Protected attribute",
        columns,
        key=W.MITIGATION_ATTRIBUTE,
        **KEEP,
        on_change=state.focus_changed,
        kwargs={"key": W.MITIGATION_ATTRIBUTE},
        help="The groups whose thresholds you move. Numeric attributes are binned as confirmed on the Data page.",
    )
    if intersection is not None:
        st.caption(
            f"The focus is the intersection **{md(intersection)}**; thresholds are set per group of one column, "
            f"so this page opens on its first column, **{md(picked)}**."
        )
    return picked


def scored_table(dataset: state.Dataset, spec: AuditSpec) -> Scored:
    try:
        rows = cached.threshold_rows(dataset, spec)
    except ParityLabError as exc:
        st.error(say(exc))
        st.stop()
    title = spec.score if rows.model is None else MODEL_SCORE_LABEL
    return Scored(rows.rows, rows.spec, rows.model, title, rows.key, rows.drawn)


def show_score_source(scored: Scored, words: DecisionWords) -> None:
    if scored.drawn is not None:
        st.info(md(scored.drawn.describe("The model score is trained and every figure below measured")))
    elif isinstance(scored.df, CountedTable):
        st.caption(f"Every figure on this page counts all {scored.df.rows:,} rows, as DuckDB counted them.")
    if scored.model is None:
        st.caption(
            f"Score: the column **{md(scored.title)}** (higher = more likely {words.verb}). A threshold turns it "
            f"into decisions: score ≥ threshold means {words.verb}."
        )
        return
    auc = "undefined" if scored.model.auc is None else f"{scored.model.auc:.3f}"
    st.info(
        f"The spec names no score column, so the thresholds act on a **{md(MODEL_SCORE_LABEL)}**: each row's "
        f"out-of-fold probability of being {words.verb} from a model trained on the features (out-of-fold AUC "
        f"against the current decisions: **{auc}**). It imitates the decisions; it is not the model that made "
        "them, so the thresholds found here are for that imitation. Add the real score on the Data page if you "
        "have it."
    )
    with st.expander("How the model score was made"):
        for note in scored.model.notes:
            st.markdown(f"- {say(note)}")


def load_curves(dataset: state.Dataset, scored: Scored, attribute: str) -> ThresholdCurves:
    try:
        return cached.curves(scored.key, scored.spec.to_json(), attribute, scored.df)
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


def shared_threshold(curves: ThresholdCurves, start: Start) -> float:
    """Where the one-threshold slider starts: the groups' common starting threshold when they share one.

    Otherwise the one shared threshold whose overall selection rate is closest to the current
    decisions' rate (over scored rows): "the score, cut where we cut today".
    """
    low, high = bounds(curves)
    if start.shared is not None:
        return min(max(float(start.shared), low), high)
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


def starting_mode(start: Start) -> str:
    return SINGLE if start.shared is not None else PER_GROUP


def reset_to_start(attribute: str, start: Start, shared: float) -> None:
    """Queue today's decisions (the starting thresholds) for the sliders."""
    queued = {W.mitigation_threshold(attribute, g): float(t) for g, t in start.thresholds.items()}
    state.queue_widgets({W.MITIGATION_MODE: starting_mode(start), W.mitigation_single(attribute): shared} | queued)


def threshold_controls(curves: ThresholdCurves, start: Start, words: DecisionWords) -> tuple[str, dict[str, float]]:
    """The mode and one slider (or one per group); returns the mode and every group's threshold.

    Every slider starts at today's decisions: the thresholds reproducing them best (:class:`Start`).
    """
    attribute, groups = curves.attribute, curves.labels
    low, high = bounds(curves)
    step, shown = resolution(low, high)
    shared = shared_threshold(curves, start)
    first_visit = state.get(W.mitigation_single(attribute)) is None
    if state.get(W.MITIGATION_MODE) not in MODES or first_visit:
        state.set_widgets({W.MITIGATION_MODE: starting_mode(start)})
    keep_in_range(W.mitigation_single(attribute), low, high, shared)
    for group in groups:
        keep_in_range(W.mitigation_threshold(attribute, group), low, high, start.thresholds[group])
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
            f"Threshold for everyone (score ≥ threshold: {words.verb}; {sum(sizes.values()):,} rows)",
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


def changed_totals(current: WhatIf, start: Start) -> tuple[int, int]:
    """Decisions changed from today's (newly positive, no longer positive), without the unreproducible ones."""
    changed = changed_decisions(current, start)
    return sum(c["to_positive"] for c in changed.values()), sum(c["to_negative"] for c in changed.values())


def changed_help(start: Start) -> str:
    text = "Decisions at these thresholds that differ from today's decisions."
    if start.total_unreproducible:
        text += (
            f" Not counted: the {start.total_unreproducible:,} of today's decisions that no threshold on this score "
            "reproduces (they differ at the start too: nobody changed them)."
        )
    return text


def show_headlines(current: WhatIf, before: WhatIf, start: Start, has_label: bool, words: DecisionWords) -> None:
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
        up, down = changed_totals(current, start)
        st.metric("Decisions changed", f"{up + down:,}", help=changed_help(start), border=True)
    st.markdown(sentence(current, before, start, has_label, words))


def sentence(current: WhatIf, before: WhatIf, start: Start, has_label: bool, words: DecisionWords) -> str:
    """The headline in plain words, in the decision's own terms (a harmful decision is named as the harm)."""
    parts = []
    ratio, then = value(current, "favorable_rate_ratio"), value(before, "favorable_rate_ratio")
    if ratio is not None:
        verdict = "passes" if current.four_fifths_pass else "fails"
        now_text = f" (today {then:.2f})" if then is not None else ""
        parts.append(
            f"At these thresholds the four-fifths ratio — the lowest share {words.favorable} of any group over the "
            f"highest — is {ratio:.2f}{now_text}: this **{verdict}** the four-fifths rule."
        )
    accuracy, accuracy_then = value(current, "accuracy"), value(before, "accuracy")
    if has_label and accuracy is not None and accuracy_then is not None:
        parts.append(f"Accuracy is {accuracy:.3f} ({accuracy - accuracy_then:+.3f} against today's decisions).")
    up, down = changed_totals(current, start)
    if up + down == 0:
        parts.append("No decision changes from today's.")
    else:
        parts.append(
            f"{up + down:,} people's decisions change from today's: {up:,} {words.newly} and {down:,} "
            f"{words.no_longer}."
        )
    return " ".join(parts)


def show_start(start: Start, today: WhatIf, scored: Scored, words: DecisionWords) -> None:
    """Where the sliders start, and how many of today's decisions no threshold reproduces."""
    if start.shared is not None:
        where = f"at **{start.shared:g}** for everyone"
    else:
        where = "at " + ", ".join(f"**{md(g)}** {t:g}" for g, t in start.thresholds.items())
    score = "the model score" if scored.model is not None else f"**{md(scored.title)}**"
    unreproducible, decided = start.total_unreproducible, start.total_decided
    if start.rule == "today_rates":
        lead = (
            f"The sliders start from today's decisions: on {score}, the thresholds that keep each group's number "
            f"{words.verb} at today's ({where})."
        )
    else:
        lead = f"The sliders start from today's decisions: the thresholds on {score} reproducing them best ({where})."
    if unreproducible == 0:
        st.caption(
            f"{lead} They reproduce all {decided:,} of today's decisions: none is left that no threshold reproduces."
        )
        return
    share = unreproducible / decided if decided else 0.0
    text = (
        f"{lead} They reproduce {decided - unreproducible:,} of today's {decided:,} decisions; **{unreproducible:,} "
        f"({share:.1%}) cannot be reproduced by any threshold on this score**. Those are not counted as changes "
        "anywhere on this page; they are why the figures at the start can differ slightly from today's."
    )
    if start.rule == "today_rates" and start.most_agreement_measure is not None:
        text += (
            f" (The thresholds reproducing the most decisions would have lowered the four-fifths ratio to "
            f"{start.most_agreement_measure:.3f}, from today's {today.value('favorable_rate_ratio'):.3f}.)"
        )
    st.info(text)


def group_table(
    current: WhatIf, before: WhatIf, curves: ThresholdCurves, start: Start, words: DecisionWords
) -> pd.DataFrame:
    """Per group: size, threshold, rates now and at the thresholds, and the decisions changed from today's."""
    changed = changed_decisions(current, start)
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
        row[words.newly] = changed[group]["to_positive"]
        row[words.no_longer] = changed[group]["to_negative"]
        if start.total_unreproducible:
            row["not reproducible"] = start.unreproducible[group]
        compared = record.compared
        row["note"] = "" if compared else f"under {curves.min_group_size} rows: not in the summaries or constraints"
        rows.append(row)
    return pd.DataFrame(rows)


def show_groups(
    current: WhatIf,
    before: WhatIf,
    curves: ThresholdCurves,
    scored: Scored,
    decimals: str,
    start: Start,
    words: DecisionWords,
) -> None:
    st.dataframe(
        group_table(current, before, curves, start, words),
        hide_index=True,
        key=W.mitigation_table("groups"),
        column_config={"threshold": st.column_config.NumberColumn(format=decimals)},
    )
    unreproducible = (
        " 'not reproducible': today's decisions no threshold on this score reproduces, not counted as changes."
        if start.total_unreproducible
        else ""
    )
    st.caption(
        f"Rates at these thresholds (score ≥ the group's threshold: {words.verb}) over rows with a score; TPR, FPR, "
        f"precision and accuracy over rows with a label. '{words.newly}' / '{words.no_longer}': decisions that "
        f"would change from today's.{unreproducible}"
    )
    for row in curves.left_out:
        st.warning(md(f"{row['rows']:,} rows left out — {row['reason']}."))
    st.markdown("**Rates by group: today and at these thresholds**")
    figure = charts.threshold_rates_chart(current, before)
    st.altair_chart(
        figure, key=W.mitigation_chart("threshold_rates"), alt="Rates by group, today and at the thresholds."
    )
    st.markdown("**The score in each group, with its threshold**")
    sides = (f"not {words.verb}", words.verb)
    figure = charts.score_distribution_chart(curves, current.thresholds, score_title=scored.title, sides=sides)
    st.altair_chart(
        figure, key=W.mitigation_chart("score_distribution"), width="stretch", alt="Score histogram per group."
    )
    st.caption(
        f"The share of each group's rows at each score; the red line is the group's threshold, and the blue bars "
        f"are {words.verb}."
    )


# ---------------------------------------------------------------- optimiser


def tolerance_for_constraint() -> None:
    constraint = state.get(W.MITIGATION_CONSTRAINT)
    state.set_widgets({W.MITIGATION_TOLERANCE: default_tolerance(constraint)})


def custom_controls(curves: ThresholdCurves) -> tuple[str, float, str]:
    """The raw constraint × tolerance × objective of "Custom goal"."""
    constraints = list(CONSTRAINT_NAMES) if curves.has_label else list(SELECTION_CONSTRAINTS)
    objectives = ["selection_rate", "changes"]
    if curves.has_label:
        objectives = ["accuracy", "cost", *objectives]
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
    return constraint, float(tolerance), objective


def goal_caption(name: str, has_label: bool) -> str:
    """What a goal asks the optimiser for, or why it is unavailable."""
    if name == NOTHING:
        return "Keep today's decisions: the optimiser does not run."
    if name == CUSTOM:
        return "Any constraint, tolerance and objective: set them under 'Custom goal' below."
    reason = goal_unavailable(name, has_label)
    if reason:
        return f"Unavailable on these data: it {reason}."
    goal = GOALS[name]
    return (
        f"Constraint: {CONSTRAINT_SHORT[goal.constraint]}, tolerance {goal.tolerance:g}; objective: "
        f"{OBJECTIVE_SHORT[goal.objective]}."
    )


def goal_changed(key: str, attribute: str, start: Start, shared: float) -> None:
    """Picking "nothing to do" puts the sliders back on today's decisions."""
    if state.get(key) == NOTHING:
        reset_to_start(attribute, start, shared)


def goal_controls(
    curves: ThresholdCurves, today: WhatIf, start: Start, words: DecisionWords
) -> tuple[str, tuple[str, float, str, bool]]:
    """The goal in plain words (a preset, nothing, or custom) and the constraint × tolerance × objective it means.

    With "nothing to do" the constraint, tolerance and objective are those of the first goal that acts (for the
    frontier and the comparison, which show what acting would cost); the optimiser itself does not run.
    """
    key = W.mitigation_goal(curves.attribute)
    options = [*GOALS, CUSTOM]
    if state.get(key) not in options:
        state.set_widgets({key: default_goal(today)})
    labels = {name: GOALS[name].words(words) for name in GOALS} | {CUSTOM: "Custom goal"}
    goal = st.radio(
        "Goal",
        options,
        format_func=labels.get,
        captions=[goal_caption(name, curves.has_label) for name in options],
        key=key,
        **KEEP,
        on_change=goal_changed,
        args=(key, curves.attribute, start, shared_threshold(curves, start)),
    )
    with st.expander("Custom goal: every constraint, tolerance and objective", expanded=goal == CUSTOM):
        raw = custom_controls(curves)
    if goal == CUSTOM:
        constraint, tolerance, objective = raw
    else:
        chosen = GOALS[FALLBACK_GOAL if goal == NOTHING else goal]
        constraint, tolerance, objective = chosen.constraint, float(chosen.tolerance), chosen.objective
    ratio = today.value("favorable_rate_ratio")
    ratio_text = "undefined" if ratio is None else f"{ratio:.3f}"
    attribute = md(curves.attribute)
    if goal == NOTHING:
        if today.four_fifths_pass:
            st.success(
                f"**Nothing to do.** Today's decisions on {attribute} already pass the four-fifths rule (ratio "
                f"{ratio_text}, at least {FOUR_FIFTHS:g}), so nothing is changed. The sliders hold today's "
                "decisions; pick a goal above to ask for more."
            )
        elif today.four_fifths_pass is None:
            st.info(f"Nothing is changed. The four-fifths ratio of today's decisions on {attribute} is undefined.")
        else:
            st.info(
                f"Nothing is changed. Today's decisions on {attribute} fail the four-fifths rule (ratio "
                f"{ratio_text}); pick a goal above to see what passing it would take."
            )
        return goal, (constraint, tolerance, objective, False)
    reason = goal_unavailable(goal, curves.has_label) if goal in GOALS else None
    if reason:
        st.warning(f"This goal is unavailable on these data: it {reason}.")
    clicked = st.button("Find these thresholds", key=W.MITIGATION_OPTIMIZE, type="primary", disabled=bool(reason))
    return goal, (constraint, tolerance, objective, clicked)


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


def show_optimization(
    result: Optimization, current: WhatIf, before: WhatIf, start: Start, words: DecisionWords
) -> None:
    what = f"{CONSTRAINT_SHORT[result.constraint]} (tolerance {result.tolerance:g})"
    if result.feasible:
        st.success(
            f"**Feasible.** These thresholds meet {what} on these rows with the "
            f"{'' if result.objective == 'changes' else 'best '}{OBJECTIVE_SHORT[result.objective]} possible. "
            "The sliders above were set to them."
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
    counted = result.objective == "changes"  # its objective is the count of changed decisions: one card for both
    cards = st.columns(2 if counted else 3)
    cards[0].metric(measure_title.split(" (")[0], number(value(result.what_if, measure_key)), border=True)
    if not counted:
        cards[1].metric(
            objective_title.split(" (")[0], number(value(result.what_if, objective_key), ",.3f"), border=True
        )
    up, down = changed_totals(result.what_if, start)
    cards[-1].metric("Decisions changed", f"{up + down:,}", help=changed_help(start), border=True)
    if up + down:
        st.markdown(f"{up:,} {words.newly} and {down:,} {words.no_longer}, against today's decisions.")
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


class Timing(NamedTuple):
    """How long a long step took, and what was estimated once its first costed stage had been timed."""

    seconds: float
    estimate: float | None

    def words(self) -> str:
        if self.estimate is None and self.seconds < 0.5:
            return "was already computed in this session"
        text = f"took {self.seconds:.1f} s"
        if self.estimate is not None:
            text += f" (estimated {self.estimate:.0f} s once its first stages had been timed on these data)"
        return text


def staged(status: Any, title_text: str, *, group: str | None = None, every: int = 1, settle: int = 1):
    """A progress callback writing one line per completed stage into ``status`` (lines of ``group`` stages are
    written every ``every`` stages), and keeping the time left in its label; returns it and its first estimate,
    the one written with the ``settle``-th line that has one (one timed stage can be a noisy rate)."""
    first: dict[str, float] = {}
    seen = {"lines": 0}
    pending = {"seconds": 0.0, "from": 1}

    def report(step: Step) -> None:
        grouped = group is not None and step.stage.startswith(group)
        pending["seconds"] += step.seconds
        if not grouped:
            status.write(f"{step.stage} ({step.seconds:.1f} s)")
            pending.update(seconds=0.0)
        elif step.done % every == 0 or step.finished:
            count = step.stage.rsplit(" of ", 1)[-1]
            index = step.stage[len(group) :].split(" of ")[0].strip()
            status.write(f"{group}s {pending['from']}–{index} of {count} ({pending['seconds']:.1f} s)")
            pending.update(seconds=0.0, **{"from": int(index) + 1})
        else:
            grouped = None  # no line written: the estimate is recorded with the lines
        # The first estimate written with a line: after the first model fit, or the first five tolerances.
        if grouped is not None and step.remaining is not None and "estimate" not in first and not step.finished:
            seen["lines"] += 1
            if seen["lines"] >= settle:
                first["estimate"] = step.elapsed + step.remaining
        left = "" if step.remaining is None else f"; about {math.ceil(step.remaining)} s left"
        status.update(label=f"{title_text}: {step.done} of {step.total} stages done{left}")

    return report, first


def show_frontier(
    dataset: state.Dataset, scored: Scored, curves: ThresholdCurves, choice: tuple, costs: Costs, current: WhatIf
) -> None:
    constraint, _, objective, _ = choice
    st.subheader("The trade-off: how much each step towards parity costs")
    where = (dataset.data_key, scored.spec.to_json(), curves.attribute, constraint, objective, *costs)
    front = state.recall("mitigation_frontier", where)
    slow = constraint == "equalized_odds" or int(curves.sizes.sum()) > AUTO_FRONTIER_ROWS
    if front is None and slow:
        st.caption(
            "Drawing the frontier runs the optimiser about 25 times"
            + (" over pairs of TPR and FPR floors" if constraint == "equalized_odds" else "")
            + ": it can take a while on these data. Each stage is listed as it completes, with the time left "
            "estimated from the optimisations already timed."
        )
        if not st.button("Draw the frontier", key=W.MITIGATION_FRONTIER):
            return
    drawn = front is None
    if front is None:
        started = time.perf_counter()
        try:
            if slow:
                with st.status("Drawing the frontier…", expanded=True) as status:
                    report, first = staged(status, "Drawing the frontier", group="Optimised at tolerance",
                                           every=FRONTIER_LINE_EVERY)  # fmt: skip
                    front = cached.staged_frontier(constraint, objective, *costs, curves, report)
                    timing = Timing(time.perf_counter() - started, first.get("estimate"))
                    status.update(label=f"The frontier {timing.words()}", state="complete", expanded=False)
                state.remember("mitigation_frontier_timing", where, timing)
            else:
                with st.spinner("Optimising at every tolerance…"):
                    front = cached.trade_off_frontier(*where, curves)
        except ParityLabError as exc:
            st.error(say(exc))
            return
        state.remember("mitigation_frontier", where, front)
    timing = state.recall("mitigation_frontier_timing", where)
    if timing is not None and not drawn:  # just drawn: its status says so already
        st.caption(f"The frontier {timing.words()}.")
    figure = charts.frontier_chart(front, current)
    st.altair_chart(figure, key=W.mitigation_chart("frontier"), width="stretch", alt="Objective against disparity.")
    fairer = "right" if constraint == "four_fifths" else "left"
    if objective == "changes":
        point = "the fewest decisions the optimiser must change"
    else:
        point = f"the optimiser's best {OBJECTIVE_SHORT[objective]}"
    st.caption(
        f"Each blue point is {point} to meet {CONSTRAINT_SHORT[constraint]} at one tolerance; fairer is "
        f"to the {fairer}. The line steps because deterministic thresholds cannot do better between the points. "
        "Grey square: today's decisions; orange diamond: the best single threshold for everyone; red triangle: "
        "the thresholds on the sliders."
    )
    for note in front.notes:
        st.caption(say(note))


# ---------------------------------------------------------------- retraining comparison


def comparison_table(result: MitigationComparison, words: DecisionWords) -> pd.DataFrame:
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
        row[words.newly] = sum(f["to_positive"] for f in r.flips.values()) if r.flips else None
        row[words.no_longer] = sum(f["to_negative"] for f in r.flips.values()) if r.flips else None
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
    st.caption(
        "It trains several models, which takes seconds to a minute: each stage is listed as it completes, with "
        "the time left estimated from the stages already timed on these rows."
    )
    if dataset.sampled:
        st.caption(
            f"The models train on a stratified sample of the {dataset.rows:,} rows, drawn by DuckDB: every group "
            f"keeps its rows up to {cached.MODEL_PER_GROUP:,}."
        )
    clicked = st.button("Compare with retraining", key=W.MITIGATION_COMPARE)
    if clicked:
        started = time.perf_counter()
        try:
            _, rows, drawn = cached.modelled(dataset, spec, cached.MODEL_PER_GROUP, SEED)
            with st.status("Comparing with retraining…", expanded=True) as status:
                report, first = staged(status, "Comparing with retraining", settle=2)
                result = cached.mitigation_comparison(
                    dataset.data_key,
                    spec.to_json(),
                    curves.attribute,
                    constraint,
                    tolerance,
                    objective,
                    *costs,
                    rows,
                    report,
                )
                if drawn is not None:  # said in its notes, which the report and the JSON carry
                    result = replace(result, notes=(*result.notes, drawn.describe("Compared")))
                timing = Timing(time.perf_counter() - started, first.get("estimate"))
                status.update(label=f"The comparison {timing.words()}", state="complete", expanded=False)
        except ParityLabError as exc:
            st.error(say(exc))
            return
        state.remember("mitigation_comparison", where, result)
        state.remember("mitigation_comparison_timing", where, timing)
    result = state.recall("mitigation_comparison", where)
    if result is None:
        return
    timing = state.recall("mitigation_comparison_timing", where)
    if timing is not None and not clicked:  # just run: its status says so already
        st.caption(f"The comparison {timing.words()}.")
    asked = (
        f"{CONSTRAINT_SHORT[result.constraint]}, tolerance {result.tolerance:g}, "
        f"objective {OBJECTIVE_SHORT[result.objective]}"
    )
    st.markdown(f"**Comparison for {md(result.attribute)}** ({md(asked)}; {result.test_rows:,} held-out rows)")
    number_format = st.column_config.NumberColumn(format="%.3f")
    table = comparison_table(result, decision_words(spec))
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
    start: Start,
) -> Mitigation:
    """The engine's mitigation record of the thresholds shown: the optimizer's answer while the sliders hold it,
    goal "nothing" while they hold today's decisions (as ``python -m analysis mitigate --goal nothing``).

    Made when the download is clicked, from the model score and the optimizer's answer the page already has.
    """
    settings: dict[str, Any] = {}
    if optimization is not None and optimization.thresholds == current.thresholds:
        settings["optimization"] = optimization  # found on this table already: not searched again
    elif current.thresholds == start.thresholds:
        settings["goal"] = NOTHING
    elif mode == SINGLE:
        settings["thresholds"] = next(iter(current.thresholds.values()))
    else:
        settings["thresholds"] = dict(current.thresholds)
    rows = dataset.table.data
    if dataset.sampled:  # the engine's counts of every row; a model score acts on the sample it was trained on
        rows = cached.audited(dataset, spec)
        if scored.model is not None:
            settings["sample"] = cached.modelled(dataset, spec, cached.MODEL_PER_GROUP, SEED)[1]
    return mitigate(
        rows,
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
    start: Start,
):
    st.subheader("Take the thresholds with you")
    left, right = st.columns(2)

    def thresholds_json() -> str:
        record = thresholds_record(dataset, spec, scored, mode, current, optimization, start)
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
    if dataset.sampled:
        right.caption(
            f"One decision per row of the {dataset.rows:,} rows is too many to make here: the command line writes "
            "them with DuckDB (python -m analysis mitigate DATA --spec SPEC.json --engine duckdb --export "
            "decisions.parquet; the thresholds act on the spec's score column)."
        )
        return
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
    "What would it take to close the gap, and what would it cost? Everything starts from today's decisions: pick a "
    "goal in plain words, or move the thresholds yourself and watch every metric move, then see the trade-off and "
    "compare with retraining."
)
words = decision_words(spec)
attribute = pick_attribute(spec)
scored = scored_table(dataset, spec)
show_score_source(scored, words)
curves = load_curves(dataset, scored, attribute)
where = context(dataset, spec, attribute)

st.subheader("Try thresholds")
costs = cost_inputs(curves)
try:
    start, before = starting_point(curves, cost_fp=costs.cost_fp, benefit_tp=costs.benefit_tp)
except ParityLabError as exc:
    st.error(say(exc))
    st.stop()
show_start(start, before, scored, words)
mode, thresholds = threshold_controls(curves, start, words)
if thresholds != start.thresholds and len(set(thresholds.values())) > 1:
    st.warning(DISPARATE_TREATMENT, icon=":material/balance:")
try:
    current = what_if(curves, thresholds, cost_fp=costs.cost_fp, benefit_tp=costs.benefit_tp)
except ParityLabError as exc:
    st.error(say(exc))
    st.stop()
if thresholds != start.thresholds:
    st.button(
        "Back to today's decisions",
        key=W.MITIGATION_RESET,
        on_click=reset_to_start,
        args=(attribute, start, shared_threshold(curves, start)),
        help="Set the sliders to the thresholds that reproduce today's decisions.",
    )
st.caption("Each card compares these thresholds with today's decisions (the small figure under it).")
show_headlines(current, before, start, curves.has_label, words)
show_groups(current, before, curves, scored, resolution(*bounds(curves))[1], start, words)
st.info(IN_SAMPLE)

st.divider()
st.subheader("Choose a goal")
goal, choice = goal_controls(curves, before, start, words)
if choice[3]:
    run_optimizer(dataset, scored, curves, choice, costs, where)
optimization = state.recall("mitigation_optimization", where) if goal != NOTHING else None
if optimization is not None:
    show_optimization(optimization, current, before, start, words)

st.divider()
show_frontier(dataset, scored, curves, choice, costs, current)
st.divider()
show_comparison(dataset, spec, curves, choice, costs)
st.divider()
show_exports(dataset, spec, scored, mode, current, optimization, start)
