"""Drivers page: what drives the decisions, read from the SHAP values of a surrogate model of them."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from analysis import (
    AuditSpec,
    DecisionWords,
    Explanation,
    LocalExplanation,
    ParityLabError,
    decision_words,
    explain_row,
)
from analysis.counts import INTERSECTION_SEPARATOR, outcomes
from analysis.explain import (
    PROXY_THRESHOLD,
    ProxyStage,
    ShapStage,
    SurrogateStage,
    estimate_seconds,
    explanation_from,
)
from analysis.options import SAMPLE_SIZE, SEED
from analysis.surrogate import SURROGATE_PARAMS
from ui import cached, charts, state
from ui.frame import require_spec
from ui.state import W
from ui.text import md, say

NOTHING_YET = (
    "Nothing to explain yet. Confirm which columns hold the decision, the protected attributes and the "
    "features on the Data page first."
)

MIN_SAMPLE_SIZE, MAX_SAMPLE_SIZE = 100, 50_000
TOP_FEATURES = 15
EXAMPLES_PER_KIND = 3
BY_VALUE = "feature value"
OPTION_DEFAULTS = {W.DRIVERS_SAMPLE_SIZE: SAMPLE_SIZE, W.DRIVERS_SEED: SEED, W.DRIVERS_PROTECTED: False}
KEEP = {"persist_state": "session"}
SURROGATE_TREES = SURROGATE_PARAMS["n_estimators"]
PROGRESS_EVERY_S = 0.25  # the fewest seconds between two updates of the status label

SURROGATE_NOTE = """
A **surrogate model** (gradient-boosted trees) is trained to reproduce the decisions from the feature columns;
**SHAP values** then split each of its outputs into one contribution per feature, which add up to the output.
They explain the surrogate: they describe the real decision process only as far as the surrogate agrees with it
(see the fidelity below). They show association, not cause: a feature that drives the surrogate may stand in for
something else.
"""


class Options(NamedTuple):
    sample_size: int
    include_protected: bool
    random_state: int


# ---------------------------------------------------------------- formatting


def unit(explanation: Explanation) -> str:
    """What the surrogate's raw output is measured in."""
    return "log-odds" if explanation.model.units == "log-odds" else "score units"


def number(value: float | None, spec: str = ".3f") -> str:
    return "—" if value is None or not np.isfinite(value) else format(value, spec)


def chart(figure: object, kind: str, description: str) -> None:
    st.altair_chart(figure, key=W.drivers_chart(kind), width="stretch", alt=description)


def keep_valid(key: str, options: list, default: object = None) -> None:
    """Reset a widget whose remembered value is not among its options any more (another dataset or spec)."""
    if options and state.get(key) not in options:
        state.set_widgets({key: options[0] if default is None else default})


# ---------------------------------------------------------------- page frame


def show_options() -> Options:
    state.set_widgets({k: v for k, v in OPTION_DEFAULTS.items() if state.get(k) is None})
    with st.form(W.DRIVERS_FORM, border=False, enter_to_submit=False):
        size, seed, protected, button = st.columns([3, 2, 4, 2], vertical_alignment="bottom")
        size.number_input(
            "Rows to explain (SHAP sample)",
            min_value=MIN_SAMPLE_SIZE,
            max_value=MAX_SAMPLE_SIZE,
            step=500,
            key=W.DRIVERS_SAMPLE_SIZE,
            **KEEP,
            help="SHAP values are computed on a sample stratified by protected group, so small groups are "
            "represented. Larger samples are steadier and slower.",
        )
        seed.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key=W.DRIVERS_SEED, **KEEP)
        protected.checkbox(
            "Let the surrogate see the protected attributes",
            key=W.DRIVERS_PROTECTED,
            **KEEP,
            help="Off by default. Needed for the flip test, which sets each row's attribute to the reference group "
            "and counts the decisions that change.",
        )
        button.form_submit_button("Compute drivers", key=W.DRIVERS_COMPUTE, type="primary")
    return Options(
        int(state.get(W.DRIVERS_SAMPLE_SIZE)), bool(state.get(W.DRIVERS_PROTECTED)), int(state.get(W.DRIVERS_SEED))
    )


class Stages:
    """The page's computation, stage by stage, each a line in one status box as it completes.

    While a stage runs, the box's label says what it does and, once the stage has reported some progress, how
    long the rest should take at the speed measured so far on these data.
    """

    def __init__(self, data: state.Dataset, spec: AuditSpec, options: Options) -> None:
        self.data, self.spec, self.options = data, spec, options
        # The rows the surrogate learns from: the table, or a stratified sample the engine draws from a big source.
        try:
            self.key, self.df, self.drawn = cached.modelled(data, spec, options.sample_size, options.random_state)
        except ParityLabError as exc:
            st.error(say(exc))
            st.stop()
        self.started = time.perf_counter()
        self.computed = False
        self.box = st.status("Explaining the decisions…", expanded=True)

    def run(self, kind: str, key: tuple, label: str, unit: str, compute, done_line) -> object:
        """Run ``compute(progress)`` under ``label``; write ``done_line(result, seconds)`` when it is done.

        ``kind`` and ``key`` name the stage as ``cached`` remembers it: a remembered stage adds no line.
        """
        remembered = cached.is_remembered(kind, key)
        began = time.perf_counter()
        if not remembered:
            self.box.update(label=label + "…")
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            if done < total and now - last[0] < PROGRESS_EVERY_S:
                return
            last[0] = now
            left = (now - began) / max(done, 1) * (total - done)
            self.box.update(label=f"{label}: {done:,} of {total:,} {unit} (about {seconds(left)} left)…")

        try:
            result = compute(progress)
        except ParityLabError as exc:
            self.box.update(label="The decisions could not be explained", state="error", expanded=True)
            st.error(say(exc))
            st.stop()
        took = time.perf_counter() - began
        if not remembered:
            self.computed = True
            self.box.write(done_line(result, took))
        return result

    def finish(self) -> None:
        if self.computed:
            label = f"Drivers ready in {seconds(time.perf_counter() - self.started)}"
        else:
            label = "Drivers ready, from the cache (computed earlier in this session)"
        self.box.update(label=label, state="complete", expanded=False)


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def surrogate_key(stages: Stages) -> tuple:
    return (stages.key, stages.spec.to_json(), stages.options.include_protected, stages.options.random_state)


def run_surrogate(stages: Stages) -> SurrogateStage:
    spec, options = stages.spec, stages.options
    rows = len(stages.df)
    return stages.run(
        "surrogate",
        surrogate_key(stages),
        f"Fitting the surrogate model to the decisions in {rows:,} rows",
        "trees",
        lambda progress: cached.surrogate_stage(
            stages.key, spec.to_json(), options.include_protected, options.random_state, stages.df, progress
        ),
        lambda stage, took: (
            f"Fitted the surrogate model on {stage.model.n_train:,} rows × {len(stage.model.features)} features "
            f"({SURROGATE_TREES} trees) in {seconds(took)}; tested on {stage.model.n_test:,} held-out rows."
        ),
    )


def run_shap(stages: Stages, stage: SurrogateStage) -> ShapStage:
    key = surrogate_key(stages)
    size = stages.options.sample_size
    return stages.run(
        "shap",
        (*key, size),
        f"SHAP values for about {min(size, stage.model.n_rows):,} rows",
        "rows",
        lambda progress: cached.shap_stage(key, stage, size, progress),
        lambda shap, took: f"SHAP values for {shap.rows.size:,} rows in {seconds(took)}.",
    )


def run_proxies(stages: Stages, stage: SurrogateStage, shap: ShapStage) -> ProxyStage:
    key = (*surrogate_key(stages), stages.options.sample_size)
    n = len(stage.groupings)
    estimate = estimate_seconds(stage, "proxies")
    return stages.run(
        "proxies",
        key,
        f"Proxies for {n} attribute{'s' if n != 1 else ''} (about {seconds(estimate)} at the surrogate fit's speed)",
        "attributes",
        lambda progress: cached.proxy_stage(key, stage, shap, progress),
        lambda _, took: f"Proxies and recoverability for {n} attribute{'s' if n != 1 else ''} in {seconds(took)}.",
    )


def run_flips(stages: Stages, stage: SurrogateStage) -> dict | None:
    if not stage.include_protected:
        return None
    key = surrogate_key(stages)
    n = len(stage.groupings)
    estimate = estimate_seconds(stage, "flip")
    return stages.run(
        "flips",
        key,
        f"Flip test for {n} attribute{'s' if n != 1 else ''} (about {seconds(estimate)} at the fidelity check's speed)",
        "attributes",
        lambda progress: cached.flip_stage(key, stage, progress),
        lambda _, took: f"Flip test for {n} attribute{'s' if n != 1 else ''} in {seconds(took)}.",
    )


def show_scope(explanation: Explanation) -> None:
    model = explanation.model
    if explanation.training_sample is not None:
        st.info(md(explanation.training_sample.describe("The surrogate is trained")), icon=":material/database:")
    target = "the decision" if model.target == "decision" else "the score"
    protected = "including" if explanation.flip_test is not None else "without"
    st.caption(
        f"Surrogate: {md(model.kind)} trained on {model.n_train:,} rows to reproduce {target} from "
        f"{len(model.features)} features ({protected} the protected attributes), tested on {model.n_test:,} "
        f"held-out rows. SHAP values: exact tree SHAP on a sample of **{len(explanation.sample.rows):,} rows** "
        f"stratified by protected group (asked for {explanation.sample_size:,}; seed **{explanation.random_state}**). "
        f"Outputs are in {unit(explanation)}."
    )
    for note in model.notes:
        st.info(say(note))
    with st.expander("What is explained, and how"):
        st.markdown(SURROGATE_NOTE)
        st.markdown("**Features the surrogate sees:** " + ", ".join(md(f) for f in model.features))


# ---------------------------------------------------------------- a slice sent by the Slices page


def show_slice(stages: Stages, surrogate: SurrogateStage, explanation: Explanation) -> None:
    """The slice in focus against the rest: the gap in mean output, feature by feature."""
    focus = state.slice_focus(stages.data.data_key, stages.spec)
    if focus is None:
        return
    item = focus.item
    st.subheader("Why decisions in this slice differ")
    rest = "undefined (n=0)" if item.rest_value is None else f"{item.rest_value:.1%}"
    st.markdown(
        f"**{md(item.key)}** — {md(focus.title)} {item.value:.1%} in the slice (n={item.n:,}), against {rest} in the "
        "rest of the data."
    )
    try:
        gap = cached.slice_stage(
            stages.data, surrogate_key(stages), surrogate, item, focus.metric, dict(focus.bins),
            stages.options.sample_size, stages.options.random_state,
        )  # fmt: skip
    except ParityLabError as exc:
        st.error(say(exc))
        return
    left, right = st.columns([1, 3])
    with left:
        # The unit in the help: in the label it would be cut in a narrow column.
        st.metric("Gap in mean output", f"{gap.total:+.3f}", help=f"In {unit(explanation)}.", border=True)
        if gap.total_probability is not None:
            st.metric("Gap in mean probability", f"{gap.total_probability:+.3f}", border=True)
    with right:
        figure = charts.gap_waterfall_chart(gap, attribute="slice", group="this slice", unit=unit(explanation))
        chart(figure, "slice_waterfall", "Waterfall of the gap between the slice and the rest, by feature.")
    st.markdown(md(gap.sentence))
    drawn = " of the stratified sample" if stages.drawn is not None else ""
    bins = " (its numbers cut where the search cut them, over every row of the source)" if stages.drawn else ""
    st.caption(
        f"SHAP values of {gap.n_group:,} rows{drawn} drawn at random in the slice{bins} and {gap.n_reference:,} in "
        "the rest; each bar is one feature's share of the gap between their mean outputs, and the bars add up to it."
    )
    left, right = st.columns(2)
    left.page_link("pages/slices.py", label="Back to the slices", icon=":material/filter_alt:")
    right.button(
        "Back to the groups (clear the slice)",
        key=W.DRIVERS_SLICE_CLEAR,
        icon=":material/close:",
        on_click=state.clear_slice_focus,
    )
    st.divider()


# ---------------------------------------------------------------- sections


def show_fidelity(explanation: Explanation) -> None:
    st.subheader("How faithful is the surrogate?")
    fidelity = explanation.fidelity
    if explanation.model.target == "decision":
        cards = [
            ("Accuracy", fidelity.accuracy, "Share of held-out rows where it gives the real decision."),
            ("AUC", fidelity.auc, "How well its output ranks positive decisions above the others (0.5 = chance)."),
        ]
    else:
        cards = [("R²", fidelity.r2, "Share of the held-out scores' variance it reproduces (1 = all).")]
    if fidelity.baseline_accuracy is not None:
        cards.append(
            ("Always the commonest decision", fidelity.baseline_accuracy, "Accuracy of a model that never varies.")
        )
    columns = st.columns(4)
    for column, (label, value, help_text) in zip(columns, cards, strict=False):
        column.metric(label, number(value), help=help_text, border=True)
    if fidelity.low:
        st.warning("**Low fidelity.** " + md(fidelity.message), icon=":material/warning:")
    else:
        st.caption(md(fidelity.message))


def show_global(explanation: Explanation, attributes: list[str]) -> None:
    st.subheader("What drives the decisions overall")
    left, right = st.columns(2)
    with left:
        st.markdown("**Mean |SHAP value| per feature**")
        chart(charts.importance_chart(explanation, top=TOP_FEATURES), "importance", "Mean absolute SHAP per feature.")
        st.caption("How much each feature moves the surrogate's output on average, in either direction.")
    with right:
        st.markdown("**Every sampled row's SHAP values**")
        keep_valid(W.DRIVERS_STRIP_COLOR, [BY_VALUE, *attributes])
        color = st.radio(
            "Colour by", [BY_VALUE, *attributes], key=W.DRIVERS_STRIP_COLOR, **KEEP, horizontal=True, format_func=md
        )
        figure = charts.shap_strip_chart(explanation, color_by=None if color == BY_VALUE else color, top=12)
        chart(figure, "shap_strip", "SHAP value of every sampled row, one strip per feature.")
        st.caption(
            "One dot per sampled row (up to 1,000). Right of the line the feature raised the output, left of it "
            "lowered it; the wider a strip, the more rows share that effect. Non-numeric features are grey when "
            "colouring by value."
        )


def intersection_parts(attribute: str) -> list[str]:
    return attribute.split(INTERSECTION_SEPARATOR)


def opened_from_intersection(attributes: list[str]) -> str | None:
    """When the focus is an intersection: its first column (the surrogate is explained per column), else None."""
    focus = state.focus()
    if focus is None or focus.attribute in attributes or INTERSECTION_SEPARATOR not in focus.attribute:
        return None
    first = intersection_parts(focus.attribute)[0]
    return first if first in attributes else None


def pick_attribute(explanation: Explanation) -> str | None:
    attributes = list(explanation.by_group)
    if not attributes:
        st.info("No protected attribute to compare groups by: choose one on the Data page.")
        return None
    first = opened_from_intersection(attributes)
    if first is not None:
        state.set_widgets({W.DRIVERS_ATTRIBUTE: first})  # a pick here moves the focus off the intersection
    state.follow_focus(W.DRIVERS_ATTRIBUTE, attributes)
    # Selectbox options are drawn as plain text (radio options and labels are Markdown: those go through md()).
    attribute = st.selectbox(
        "Protected attribute",
        attributes,
        key=W.DRIVERS_ATTRIBUTE,
        **KEEP,
        on_change=state.focus_changed,
        kwargs={"key": W.DRIVERS_ATTRIBUTE},
        help="Used by the sections below: drivers by group, the gap, proxies and the dependence view.",
    )
    if first is not None and attribute == first:
        st.caption(
            f"The focus is the intersection **{md(state.focus().attribute)}**; the surrogate's drivers are read "
            f"one attribute at a time, so this page opens on its first attribute, **{md(first)}**."
        )
    return attribute


def show_by_group(explanation: Explanation, attribute: str) -> None:
    st.subheader("Drivers by group")
    figure = charts.group_drivers_chart(explanation, attribute, top=TOP_FEATURES)
    chart(figure, "group_drivers", "Mean signed SHAP value per feature and group.")
    st.caption(
        f"Mean signed SHAP value of each feature among the sampled rows of each **{md(attribute)}** group: orange "
        "cells raise the group's output on average, blue cells lower it."
    )


def gap_label(explanation: Explanation, attribute: str, group: str) -> str:
    """A group's name in the picker: too-small groups say so (as the Fairness page calls them)."""
    if not explanation.too_small(attribute, group):
        return group
    n = explanation.group_sizes.get(attribute, {}).get(group, 0)
    return f"{group} (n={n:,}, too small to conclude)"


def default_gap_group(explanation: Explanation, attribute: str, groups: list[str]) -> str:
    """The group with the largest |gap| among groups large enough to conclude (the largest group if none is)."""
    gaps = explanation.gap[attribute]
    large = [g for g in groups if not explanation.too_small(attribute, g)]
    if large:
        return max(large, key=lambda g: abs(gaps[g].total))
    return max(groups, key=lambda g: explanation.group_sizes.get(attribute, {}).get(g, 0))


def focus_group(attribute: str) -> str | None:
    """The focus's group as a group of ``attribute`` (its part of an intersection's group)."""
    focus = state.focus()
    if focus is None or focus.group is None:
        return None
    if focus.attribute == attribute:
        return focus.group
    if INTERSECTION_SEPARATOR in focus.attribute and intersection_parts(focus.attribute)[0] == attribute:
        return intersection_parts(focus.group)[0]
    return None


def gap_group_picked(attribute: str) -> None:
    """The picked group becomes the focus's group (with this attribute, if the focus was on another one)."""
    focus = state.focus()
    if focus is not None and focus.attribute == attribute:
        state.focus_changed(W.DRIVERS_GAP_GROUP, part="group")
    else:
        state.set_focus(attribute, state.get(W.DRIVERS_GAP_GROUP))


def pick_gap_group(explanation: Explanation, attribute: str, groups: list[str]) -> str:
    """The group picker: opens on the focus's group when it is large enough, else the largest gap among those that are.

    Too-small groups stay pickable (labelled so); one picked here stays picked.
    """
    current = state.get(W.DRIVERS_GAP_GROUP)
    large = [g for g in groups if not explanation.too_small(attribute, g)]
    eligible = large + ([current] if current in groups and current not in large else [])
    wanted = focus_group(attribute)
    if wanted in large and state.focus() is not None and state.focus().attribute != attribute:
        state.set_widgets({W.DRIVERS_GAP_GROUP: wanted})  # the intersection's group, on its first attribute
    state.follow_focus(
        W.DRIVERS_GAP_GROUP, eligible, part="group", default=default_gap_group(explanation, attribute, groups)
    )
    if state.get(W.DRIVERS_GAP_GROUP) not in groups:
        state.set_widgets({W.DRIVERS_GAP_GROUP: default_gap_group(explanation, attribute, groups)})
    return st.selectbox(
        "Group compared with the reference",
        groups,
        key=W.DRIVERS_GAP_GROUP,
        **KEEP,
        format_func=lambda g: gap_label(explanation, attribute, g),
        on_change=gap_group_picked,
        args=(attribute,),
    )


def show_gap(explanation: Explanation, attribute: str) -> None:
    st.subheader("Where the gap comes from")
    gaps = explanation.gap.get(attribute, {})
    if not gaps:
        st.info(md(f"No group of {attribute} to compare with a reference group."))
        return
    groups = list(gaps)
    group = pick_gap_group(explanation, attribute, groups)
    gap = gaps[group]
    left, right = st.columns([1, 3])
    with left:
        st.metric(f"Gap in mean output ({unit(explanation)})", f"{gap.total:+.3f}", border=True)
        if gap.total_probability is not None:
            st.metric("Gap in mean probability", f"{gap.total_probability:+.3f}", border=True)
    with right:
        figure = charts.gap_waterfall_chart(gap, attribute=attribute, group=group, unit=unit(explanation))
        chart(figure, "gap_waterfall", "Waterfall of the gap between the group and the reference, by feature.")
    st.markdown(md(gap.sentence))
    if explanation.too_small(attribute, group):
        n = explanation.group_sizes.get(attribute, {}).get(group, 0)
        st.warning(
            f"**{md(group)}** has {n:,} rows with a decision, under the minimum group size of "
            f"{explanation.min_group_size}: too small to conclude. Its gap could be chance.",
        )
    st.caption(
        f"Each bar is one feature's share of the gap between **{md(group)}** and the reference group "
        f"**{md(gap.reference)}**: the difference between the two groups' mean SHAP values. The bars add up to "
        "the gap."
    )


def show_proxies(explanation: Explanation, attribute: str) -> None:
    st.subheader("Proxies for the protected attribute")
    proxies = explanation.proxies.get(attribute, ())
    recoverability = explanation.recoverability.get(attribute)
    if proxies:
        figure = charts.proxy_chart(
            proxies,
            attribute=attribute,
            threshold=PROXY_THRESHOLD,
            score_title="normalised mutual information",
            top=TOP_FEATURES,
        )
        chart(figure, "proxies", "How well each feature alone predicts the protected attribute.")
        flagged = [p.feature for p in proxies if p.flag]
        if flagged:
            st.caption(
                f"Flagged as likely proxies for **{md(attribute)}**: " + ", ".join(md(f) for f in flagged) + ". "
                "Leaving the attribute out of a model does not stop it from using these columns in its place."
            )
    if recoverability is not None:
        say = st.warning if recoverability.flag else st.info
        say(md(recoverability.sentence))


def show_flip_test(explanation: Explanation) -> None:
    st.subheader("Flip test")
    if explanation.flip_test is None:
        st.info(
            "Not run: the surrogate did not see the protected attributes. Tick *Let the surrogate see the protected "
            "attributes* above and compute again to count the decisions that change when only the attribute does."
        )
        return
    rows = [
        {"attribute": attribute, "group": group, "decisions that change": share}
        for attribute, groups in explanation.flip_test.items()
        for group, share in groups.items()
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        key=W.drivers_table("flip_test"),
        column_config={"decisions that change": st.column_config.NumberColumn(format="percent")},
    )
    st.caption(
        "Each row's protected attribute is set to the reference group, everything else kept: the share of the "
        "group's surrogate decisions that change. Non-zero shares mean the surrogate uses the attribute directly."
    )


def show_dependence(explanation: Explanation, attribute: str | None) -> None:
    st.subheader("How one feature's value drives the output")
    features = [item.feature for item in explanation.global_importance]
    keep_valid(W.DRIVERS_FEATURE, features)
    feature = st.selectbox("Feature", features, key=W.DRIVERS_FEATURE, **KEEP)
    figure = charts.dependence_chart(explanation, feature, color_by=attribute)
    chart(figure, "dependence", "Feature value against its SHAP value, coloured by group.")
    st.caption(
        "One dot per sampled row (up to 2,000): the feature's value against its SHAP value. Colours that separate "
        "at the same value mean the surrogate treats groups differently through interactions with other features."
    )


# ---------------------------------------------------------------- one row


def examples(
    explanation: Explanation, df: pd.DataFrame, spec: AuditSpec, attribute: str | None, words: DecisionWords
) -> dict[int, str]:
    """Sampled rows worth a look: the least favourable outputs, and per group the least favourable output among
    unfavourable decisions (the lowest when the positive decision benefits the person, else the highest)."""
    sample = explanation.sample
    rows = np.asarray(sample.rows)
    output = np.asarray(sample.raw_output, dtype=float)
    order = np.argsort(-output if words.harmful else output, kind="stable")
    if explanation.model.target == "score":
        worst = "highest scored" if words.harmful else "lowest scored"
    else:
        worst = f"most likely to be {words.verb}" if words.harmful else f"least likely to be {words.verb}"
    found = {int(rows[i]): f"row {rows[i]:,} — {worst}" for i in order[:EXAMPLES_PER_KIND]}
    if attribute is None:
        return found
    decisions = outcomes(df.iloc[rows], spec)  # the sampled rows' real decisions
    favorable = decisions.positive if spec.positive_is_favorable else decisions.decided & ~decisions.positive
    ordered = order[(decisions.decided & ~favorable)[order]]  # unfavourable decisions, least favourable first
    groups = np.asarray(sample.groups[attribute], dtype=object)[ordered]
    for group in dict.fromkeys(groups):
        row = int(rows[ordered[groups == group][0]])
        found.setdefault(row, f"row {row:,} — unfavourable decision, {attribute} = {group}")
    return found


def local_explanation(explanation: Explanation, df: pd.DataFrame, row: int) -> LocalExplanation | None:
    try:
        return explain_row(explanation, df, row)
    except ParityLabError as exc:
        st.error(say(exc))
        return None


def pick_row(choices: dict[int, str], rows: int) -> int:
    def use_example() -> None:
        if state.get(W.DRIVERS_ROW_PICK) is not None:
            state.set_widgets({W.DRIVERS_ROW: state.get(W.DRIVERS_ROW_PICK)})

    if state.get(W.DRIVERS_ROW) is None or not 0 <= state.get(W.DRIVERS_ROW) < rows:
        state.set_widgets({W.DRIVERS_ROW: next(iter(choices), 0)})
    if state.get(W.DRIVERS_ROW_PICK) is not None and state.get(W.DRIVERS_ROW_PICK) not in choices:
        state.set_widgets({W.DRIVERS_ROW_PICK: None})
    left, right = st.columns(2)
    left.selectbox(
        "Example rows",
        list(choices),
        index=None,
        format_func=lambda row: choices[row],
        key=W.DRIVERS_ROW_PICK,
        **KEEP,
        on_change=use_example,
        placeholder="Choose an example…",
    )
    right.number_input(
        "Row (position in the table, from 0)", min_value=0, max_value=rows - 1, step=1, key=W.DRIVERS_ROW, **KEEP
    )
    return int(state.get(W.DRIVERS_ROW))


def show_local(
    explanation: Explanation, df: pd.DataFrame, spec: AuditSpec, attribute: str | None, words: DecisionWords
) -> None:
    """One row of the table explained (of the stratified sample, for a source read by an engine)."""
    st.subheader("Why this row?")
    if explanation.training_sample is not None:
        st.caption("Rows are numbered by their position in the stratified sample the surrogate was trained on.")
    row = pick_row(examples(explanation, df, spec, attribute, words), len(df))
    local = local_explanation(explanation, df, row)
    if local is None:
        return
    left, right = st.columns([1, 3])
    with left:
        st.metric(f"Surrogate output ({unit(explanation)})", f"{local.output:+.3f}", border=True)
        if local.probability is not None:
            st.metric(f"Probability of being {words.verb}", number(local.probability), border=True)
        st.caption(f"The waterfall starts at the surrogate's base value, {local.base_value:+.3f}: its average output.")
    with right:
        figure = charts.local_waterfall_chart(local, unit=unit(explanation))
        chart(figure, "local_waterfall", "Waterfall from the average output to this row's output, by feature.")
    st.markdown(md(local.sentence))
    shown = [c for c in df.columns if c not in spec.pii_columns]
    st.dataframe(df.iloc[[row]][shown], key=W.drivers_table("row"))


# ---------------------------------------------------------------- page


st.title("Drivers")
dataset, spec = require_spec(NOTHING_YET)
options = show_options()
words = decision_words(spec)
stages = Stages(dataset, spec, options)
surrogate = run_surrogate(stages)
shap_values = run_shap(stages, surrogate)
# The first views need only the surrogate and the SHAP values: drawn before the proxies are computed.
explanation = replace(explanation_from(surrogate, shap_values), training_sample=stages.drawn)
show_scope(explanation)
show_fidelity(explanation)
show_slice(stages, surrogate, explanation)
show_global(explanation, list(explanation.sample.groups))
st.divider()
attribute = pick_attribute(explanation)
if attribute is not None:
    show_by_group(explanation, attribute)
    show_gap(explanation, attribute)
explanation = replace(
    explanation_from(surrogate, shap_values, run_proxies(stages, surrogate, shap_values), run_flips(stages, surrogate)),
    training_sample=stages.drawn,
)
stages.finish()
state.remember("explanation", (dataset.data_key, spec.to_json(), options), explanation)  # for the Report page
if attribute is not None:
    show_proxies(explanation, attribute)
show_flip_test(explanation)
show_dependence(explanation, attribute)
show_local(explanation, stages.df, spec, attribute, words)
