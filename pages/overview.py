"""Overview page: every attribute and intersection ranked by how unequal its decisions are, the worst gap in one
plain sentence with the chart that proves it, and the way to its drivers and its mitigation.

It sets the focus every other page opens on (the worst gap, unless the user picked another), so a presenter
chooses the attribute once.
"""

from __future__ import annotations

import streamlit as st

from analysis import ParityLabError
from analysis.audit import AuditResult
from analysis.story import Gap, slice_beyond_groups
from analysis.words import decision_words
from ui import cached, charts, samples, state
from ui.frame import audit_of, confidence_level, focus_gap, leading_gap, require_spec, run_audit, sample_story
from ui.state import W
from ui.text import md

NOTHING_YET = (
    "Nothing to rank yet. Confirm which columns hold the decision and the protected attributes on the Data page "
    "first: this page then ranks every gap and names the worst one."
)
VERDICT_ICONS = {
    "fails": ":material/error:",
    "fails_inconclusive": ":material/help:",
    "significant_gap": ":material/warning:",
    "no_gap": ":material/check_circle:",
    "not_computable": ":material/block:",
}


# ---------------------------------------------------------------- formatting


def q_text(q: float | None) -> str:
    return "no test" if q is None else ("q < 0.001" if q < 0.001 else f"q = {q:.3f}")


def ratio_text(gap: Gap, confidence: float) -> str:
    if gap.ratio is None:
        return "ratio undefined"
    ci = f" ({confidence:.0%} CI {gap.ci_low:.2f}–{gap.ci_high:.2f})" if gap.ci_low is not None else ""
    return f"ratio {gap.ratio:.2f}{ci}"


def detectable_text(gap: Gap) -> str:
    if gap.detectable_gap is None:
        return "detectable gap unknown"
    return f"a gap of {gap.detectable_gap:.3f} detectable with {gap.power:.0%} power"


def sizes_text(gap: Gap) -> str:
    return "" if gap.n is None else f"n = {gap.n:,} vs {gap.reference_n:,}"


def verdict_line(gap: Gap) -> str:
    return f"{VERDICT_ICONS.get(gap.verdict.code, '')} {md(gap.verdict.text.capitalize())}"


# ---------------------------------------------------------------- which gap leads


# ---------------------------------------------------------------- sections


def show_headline(result: AuditResult, gaps: tuple[Gap, ...], lead: Gap | None, story) -> None:
    if lead is None:
        st.info(md(gaps_headline(result, gaps)))
        return
    st.markdown(f"### {md(lead.sentence)}")
    worst = next((g for g in gaps if g.ratio is not None and not g.intersection), None)
    if story is not None and lead.attribute == story.attribute:
        note = f"This is the bias injected on purpose into this sample: {story.mechanism}."
        if worst is not None and worst.attribute != lead.attribute:
            note += " " + by_size_note(worst, lead, story)
        st.caption(md(note))


def by_size_note(worst: Gap, lead: Gap, story: samples.SampleStory) -> str:
    """Why a sample leads with its injected bias when another attribute's gap is larger."""
    why = story.caveats.get(worst.attribute, "").rstrip(".")
    said = f"; the data card says: {why}" if why else ""
    return (
        f"Ranked by size alone, {worst.attribute} comes first (ratio {worst.ratio:.2f}, {worst.group} vs "
        f"{worst.reference}){said}. The ranking below shows every gap by its size: focus on {worst.attribute} there "
        f"to follow it instead of {lead.attribute}."
    )


def gaps_headline(result: AuditResult, gaps: tuple[Gap, ...]) -> str:
    from analysis.story import headline

    return headline(result, gaps)


def show_focus(result: AuditResult, gap: Gap, confidence: float) -> None:
    """The gap in focus: its verdict, its numbers, the chart that proves it and where to go next."""
    audit = audit_of(result, gap)
    st.subheader(md(f"In focus: {gap.attribute}"))
    left, right = st.columns([3, 2], gap="large")
    with left:
        # A harmful decision is drawn as the share given it, as the verdict beside it and the Fairness page say it.
        words = decision_words(result.spec)
        what = words.share if words.harmful else "favourable rate"
        figure = charts.favorable_rate_chart(
            audit, di_threshold=result.options.di_threshold, confidence=result.options.confidence, words=words
        )
        st.altair_chart(
            figure, key=W.OVERVIEW_CHART, width="stretch", alt=f"{what.capitalize()} by group of {gap.attribute}."
        )
        line, side = ("the four-fifths line on that scale", "right") if words.harmful else (None, "left")
        st.caption(
            f"{what.capitalize()} of each group of **{md(gap.attribute)}** with its {confidence:.0%} interval; the "
            f"dashed line is {line or 'four-fifths of the highest rate'}: a group {side} of it fails the "
            "four-fifths rule."
        )
    with right:
        st.markdown(f"**{verdict_line(gap)}**")
        if gap.ratio is not None:
            st.metric(
                "Four-fifths ratio",
                f"{gap.ratio:.2f}",
                help="The worst-treated group's favourable rate over the best-treated group's; below 0.8 fails "
                "the four-fifths rule.",
                border=True,
            )
            st.caption(md(f"{gap.group} vs {gap.reference}; {ratio_text(gap, confidence)}; {q_text(gap.q_value)}."))
            st.caption(md(f"{sizes_text(gap)}; {detectable_text(gap)}."))
        else:
            st.caption(md(gap.sentence))
    # Full width, so that no label is cut at 1280 px.
    drivers, mitigation, fairness = st.columns([2, 3, 2])
    drivers.page_link("pages/drivers.py", label="What drives it? → Drivers", icon=":material/manage_search:")
    mitigation.page_link("pages/mitigation.py", label="What would fixing it cost? → Mitigation", icon=":material/tune:")
    fairness.page_link("pages/fairness.py", label="Every metric → Fairness", icon=":material/balance:")


def gap_row(index: int, gap: Gap, focus: Gap | None, confidence: float) -> None:
    with st.container(border=True):
        name, numbers, button = st.columns([3, 5, 2], vertical_alignment="center")
        who = f" — {md(gap.group)} vs {md(gap.reference)}" if gap.group is not None else ""
        name.markdown(f"**{index + 1}. {md(gap.attribute)}**{who}  \n{verdict_line(gap)}")
        if gap.ratio is not None:
            numbers.markdown(
                md(f"{ratio_text(gap, confidence)} · {q_text(gap.q_value)}")
                + "  \n"
                + md(f"{sizes_text(gap)} · {detectable_text(gap)}")
            )
        in_focus = focus is not None and focus.attribute == gap.attribute
        button.button(
            "In focus" if in_focus else "Focus on this",
            key=W.overview_focus(index),
            disabled=in_focus,
            icon=":material/center_focus_strong:",
            on_click=state.set_focus,
            args=(gap.attribute, gap.group),
            width="stretch",
        )


def show_ranking(gaps: tuple[Gap, ...], focus: Gap | None, confidence: float) -> None:
    st.subheader("Every gap, most unequal first")
    st.caption(
        "Each attribute's gap is its worst-treated group against its best-treated one: the four-fifths ratio "
        "(lowest ÷ highest favourable rate) with its interval, the q-value of the test of the pair (adjusted for "
        "every test of the audit), the two groups' sizes and the smallest gap those sizes could detect. "
        "The focus is what every page opens on: change it here once."
    )
    attributes = [g for g in gaps if not g.intersection]
    intersections = [g for g in gaps if g.intersection]
    for index, gap in enumerate(attributes):
        gap_row(index, gap, focus, confidence)
    if intersections:
        st.markdown("**Intersections**")
        for index, gap in enumerate(intersections, start=len(attributes)):
            gap_row(index, gap, focus, confidence)


def show_beyond_groups(dataset: state.Dataset, spec, result: AuditResult, confidence: float) -> None:
    """A significant slice worse than every group the roles name, when the search is cheap enough to run here."""
    link = {"label": "Every slice → Slices", "icon": ":material/filter_alt:"}
    if not dataset.sampled and dataset.rows > cached.SLICES_IN_MEMORY_ROWS:
        st.caption(
            f"The search for subgroups nobody named was not run here ({dataset.rows:,} rows in memory, more than "
            f"{cached.SLICES_IN_MEMORY_ROWS:,}): the Slices page runs it."
        )
        st.page_link("pages/slices.py", **link)
        return
    try:
        search = cached.search_slices(
            dataset, spec, metric="favorable_rate", max_depth=3, min_support=None, top_k=20,
            alpha=result.options.alpha, confidence=confidence, features=None, include_protected=True,
        )  # fmt: skip
    except ParityLabError:
        return  # no column can be a term: the Slices page says why
    sentence = slice_beyond_groups(search, result)
    if sentence is not None:
        st.warning(md(sentence), icon=":material/filter_alt:")
        st.page_link("pages/slices.py", **link)


# ---------------------------------------------------------------- page


st.title("Overview")
dataset, spec = require_spec(NOTHING_YET)
confidence = confidence_level()
result = run_audit(dataset, spec, confidence)
gaps = cached.gaps(dataset.data_key, spec.to_json(), confidence, result)
story = sample_story(dataset)
lead = leading_gap(gaps, story)
show_headline(result, gaps, lead, story)
show_beyond_groups(dataset, spec, result, confidence)
focus = focus_gap(gaps, lead)
if focus is not None:
    show_focus(result, focus, confidence)
show_ranking(gaps, focus, confidence)
