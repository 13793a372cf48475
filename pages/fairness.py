"""Fairness page: the audit of the confirmed spec, one tab per protected attribute and one for intersections."""

from __future__ import annotations

import streamlit as st

from analysis import AuditSpec, DecisionWords, decision_words
from analysis.audit import AttributeAudit, AuditOptions, AuditResult
from analysis.metrics import GLOSSARY, METRIC_NAMES, MetricValue
from analysis.options import ALPHA, CONFIDENCE
from analysis.story import gap_for
from analysis.stratified import ENGINE_NAMES
from analysis.tables import comparison_table, group_table
from analysis.values import value_key
from ui import charts, state
from ui.frame import audit_warnings, require_spec, run_audit
from ui.state import W
from ui.text import md, metric_help, metric_label

NOTHING_YET = (
    "Nothing to audit yet. Confirm which columns hold the decision and the protected attributes on the Data page first."
)

CONFIDENCE_LEVELS = (0.90, 0.95, 0.99)
INTERSECTIONS = "Intersections"
EVERY_CELL = "(every cell)"


GUIDE = """
**Start from who is harmed, and how.**

- **Assistive decision** — the positive decision helps the person (a loan, a benefit, a faster reply). The harm is
  being left out. Compare favourable rates (the *four-fifths ratio*, lowest ÷ highest, and each group's
  *disparate impact* against the reference) and, with a label, the TPR
  (*equal opportunity*): among people who deserved the help, did every group get it equally often?
- **Punitive decision** — the positive decision harms the person (a fraud flag, a high-risk score, an
  investigation). The harm is being wrongly flagged. Compare the FPR (*FPR difference*): among people who did
  nothing wrong, was any group flagged more often?
- **Both errors costly** — use *equalized odds* (the worse of the TPR and FPR gaps) and read both rates.
- **The decision is read as a prediction** (a score others act on) — check *calibration* and *predictive parity*:
  the same score or flag should mean the same risk in every group.
- **The label itself may be biased** (it records past decisions, e.g. who was caught, not who offended) — error-rate
  metrics inherit that bias; lean on the decision rates and question the label.
"""

IMPOSSIBILITY = """
When the **base rate** (the share of people whose true outcome is positive) differs between groups, no decision
rule that makes mistakes can be calibrated in every group (or have equal precision) *and* have equal TPR *and*
equal FPR across groups (Kleinberg, Mullainathan & Raghavan 2016, *Inherent trade-offs in the fair determination
of risk scores*; Chouldechova 2017, *Fair prediction with disparate impact*). Equal selection rates likewise
conflict with equal error rates when base rates differ. So no audit can tick every box: decide which error matters
most for this decision (see the guide above), and report the others beside it.
"""


# ---------------------------------------------------------------- formatting


def number(value: float) -> str:
    return f"{value:.3f}"


def q_phrase(q: float | None) -> str:
    return "no test" if q is None else ("q < 0.001" if q < 0.001 else f"q = {q:.3f}")


def level(options: AuditOptions) -> str:
    return f"{options.confidence:.0%} CI"


def condition(column: str, values: tuple[object, ...]) -> str:
    keys = ", ".join(md(value_key(v)) for v in values)
    return f"{md(column)} = {keys}" if len(values) == 1 else f"{md(column)} in {{{keys}}}"


# ---------------------------------------------------------------- tables


def show_group_tables(audit: AttributeAudit, options: AuditOptions, cells: list[str] | None = None) -> None:
    st.markdown("**Groups**")
    table = group_table(audit, options.confidence)
    st.dataframe(
        table if cells is None else table[table["group"].isin(cells)],
        hide_index=True,
        key=W.fairness_table("groups", audit.name),
        column_config={
            # Pinned and wide enough for an intersection's cell names, so they stay readable while scrolling.
            "group": st.column_config.TextColumn("group", width="medium", pinned=True),
            "share": st.column_config.NumberColumn("share", format="percent"),
        },
    )
    st.caption(
        "Favourable rate: the share who received the outcome that benefits the person (the selection rate, or one "
        "minus it when the positive decision harms). Base rate: the share whose true outcome is positive. "
        "q: the test's p-value adjusted for every test of this audit (Benjamini–Hochberg). "
        f"Groups under {options.min_group_size} rows are *too small to conclude*: shown, but left out of the "
        "summaries. A wide table scrolls sideways; drag a column header's edge to widen it."
    )
    with st.expander("All comparisons with the reference group, and what each metric means"):
        st.dataframe(
            comparison_table(audit, options.confidence),
            hide_index=True,
            key=W.fairness_table("comparisons", audit.name),
        )
        glossary(list(GLOSSARY))


# ---------------------------------------------------------------- summary cards


def glossary(names: list[str]) -> None:
    for name in names:
        meaning, matters = GLOSSARY[name]
        st.markdown(f"**{metric_label(name)}.** {meaning}  \n*When it matters:* {matters}")


def glossary_expander(names: list[str]) -> None:
    with st.expander("What this means"):
        glossary(names)


def summary_card(name: str, m: MetricValue, **delta: str) -> bool:
    """A summary metric's card, labelled from the registry; undefined says why. Whether the value is defined."""
    label, short = metric_label(name), metric_help(name)
    if m.value is None:
        st.metric(label, "undefined", help=short, border=True)
        st.caption(md(m.reason or "undefined"))
        return False
    st.metric(label, number(m.value), help=short, border=True, **delta)
    return True


def four_fifths_card(audit: AttributeAudit, result: AuditResult) -> None:
    """The four-fifths ratio (lowest ÷ highest favourable rate of the groups compared) and the attribute's verdict."""
    summary, options = audit.summary, result.options
    m = summary.metrics["favorable_rate_ratio"]
    gap = gap_for(result, audit.name)  # the one verdict, as the report and the command line give it
    defined = summary_card("favorable_rate_ratio", m)
    # Under the card, not as its delta: a delta is cut to one line, and the statement must be read whole.
    st.markdown(verdict_markdown(gap.verdict.code, gap.verdict.text))
    if defined:
        st.caption(
            f"{md(gap.sentence)} Of the {len(summary.groups_compared)} groups compared, the four-fifths rule asks "
            f"the lowest favourable rate to be at least {options.di_threshold:g}× the highest."
        )
    glossary_expander(["favorable_rate_ratio"])


def verdict_markdown(code: str, text: str) -> str:
    """The verdict statement in bold, coloured by verdict: ``:red[**below four-fifths and significant**]``."""
    return f":{VERDICT_COLORS[code]}[**{md(text)}**]"


VERDICT_COLORS = {
    "fails": "red",
    "fails_inconclusive": "orange",
    "significant_gap": "orange",
    "no_gap": "green",
    "not_computable": "gray",
}


def lowest_impact_card(audit: AttributeAudit, options: AuditOptions) -> None:
    """The lowest impact ratio vs the reference group, with its interval and q-value."""
    m = audit.summary.metrics["disparate_impact_min"]
    if summary_card("disparate_impact_min", m):
        if m.ci_low is not None and m.ci_high is not None:
            ci = f"{level(options)} {m.ci_low:.3f}–{m.ci_high:.3f}; "
        else:
            ci = f"{md(m.reason)}; " if m.reason else ""
        st.caption(
            f"Group **{md(m.group)}** receives the favourable outcome at {m.value:.2f}× the rate of the reference "
            f"group **{md(audit.reference_group)}** ({ci}{q_phrase(m.q_value)})."
        )
    glossary_expander(["disparate_impact"])


def parity_card(audit: AttributeAudit) -> None:
    metrics = audit.summary.metrics
    m, ratio = metrics["demographic_parity_difference"], metrics["demographic_parity_ratio"]
    if summary_card("demographic_parity_difference", m):
        ratio_text = f"ratio {ratio.value:.3f}" if ratio.value is not None else f"ratio {md(ratio.reason)}"
        st.caption(
            f"The largest gap in selection rate between two of the {len(audit.summary.groups_compared)} groups "
            f"compared ({ratio_text}; 0 = every group selected equally often)."
        )
    glossary_expander(["statistical_parity_difference"])


def equalized_odds_card(audit: AttributeAudit, spec: AuditSpec) -> None:
    label, short = metric_label("equalized_odds_difference"), metric_help("equalized_odds_difference")
    m = audit.summary.metrics.get("equalized_odds_difference")
    if m is None:
        st.metric(label, "needs a label", help=short, border=True)
        st.caption("Choose a label column (the true outcome) on the Data page to compare error rates.")
    elif summary_card("equalized_odds_difference", m):
        ratio = audit.summary.metrics.get("equalized_odds_ratio")
        ratio_text = f" (ratio {ratio.value:.3f})" if ratio is not None and ratio.value is not None else ""
        st.caption(
            f"The larger of the biggest TPR gap and the biggest FPR gap between groups compared{ratio_text}; "
            f"0 = errors fall equally on every group. Label: {condition(spec.label, spec.label_positive)}."
        )
    glossary_expander(["equalized_odds_difference", "equal_opportunity_difference", "fpr_difference"])


def groups_card(audit: AttributeAudit, spec: AuditSpec) -> None:
    compared = len(audit.summary.groups_compared)
    small = sum(1 for m in audit.groups.values() if m.status != "ok")
    st.metric(
        "Groups compared",
        f"{compared} of {len(audit.groups)}",
        help="Groups with at least the minimum group size (set on the Data page) enter the summaries.",
        border=True,
    )
    lines = []
    if audit.reference_group is not None:
        lines.append(f"Reference group: **{md(audit.reference_group)}** ({md(audit.reference_rule)}).")
    if small:
        lines.append(
            f"{small} group{'s' if small > 1 else ''} under {spec.min_group_size} rows: too small to conclude."
        )
    if audit.suppressed:
        lines.append(f"{len(audit.suppressed)} cell{'s' if len(audit.suppressed) > 1 else ''} suppressed.")
    st.caption(" ".join(lines))


def summary_cards(audit: AttributeAudit, result: AuditResult) -> None:
    top = st.columns(3)
    with top[0]:
        four_fifths_card(audit, result)
    with top[1]:
        lowest_impact_card(audit, result.options)
    with top[2]:
        groups_card(audit, result.spec)
    bottom = st.columns(3)
    with bottom[0]:
        parity_card(audit)
    with bottom[1]:
        equalized_odds_card(audit, result.spec)


# ---------------------------------------------------------------- findings and charts


def show_findings(audit: AttributeAudit) -> None:
    st.markdown("**Findings**")
    gaps = [f for f in audit.findings if f.kind == "gap"]
    notes = [f for f in audit.findings if f.kind != "gap"]
    if gaps:
        st.markdown(f"{len(gaps)} gap{'s' if len(gaps) > 1 else ''} beyond the threshold with q < {ALPHA:g}:")
        bullets(gaps[:8])
        if len(gaps) > 8:
            with st.expander(f"{len(gaps) - 8} more"):
                bullets(gaps[8:])
    bullets(notes)


def bullets(findings: list) -> None:
    if findings:
        st.markdown("\n".join(f"- {md(f.text)}" for f in findings))


def show_suppressed(audit: AttributeAudit, options: AuditOptions) -> None:
    if audit.suppressed:
        count = len(audit.suppressed)
        st.info(
            f"{count} cell{'s' if count > 1 else ''} with fewer than {options.min_cell_size} rows "
            f"{'are' if count > 1 else 'is'} suppressed: not in the tables or charts."
        )


def chart(figure: object, kind: str, audit: AttributeAudit, description: str, *, stretch: bool = True) -> None:
    # Small multiples keep their own size: stretching applies to a single chart only.
    width = "stretch" if stretch else "content"
    st.altair_chart(figure, key=W.fairness_chart(kind, audit.name), width=width, alt=description)


def show_rate_charts(
    audit: AttributeAudit, options: AuditOptions, words: DecisionWords, cells: list[str] | None = None
) -> None:
    left, right = st.columns(2)
    with left:
        # A harmful decision is shown as the share given it (flagged), with the four-fifths line on that scale.
        what = words.share if words.harmful else "favourable rate"
        st.markdown(f"**{md(what.capitalize())} by group**")
        figure = charts.favorable_rate_chart(
            audit, di_threshold=options.di_threshold, confidence=options.confidence, words=words, groups=cells
        )
        chart(figure, "favorable_rate", audit, f"{what.capitalize()} by group with confidence intervals.")
        highest = audit.highest_group()
        if highest is not None and words.harmful:
            st.caption(
                f"Dashed line: one minus {options.di_threshold:g} × the highest favourable rate of the groups "
                f"compared (group **{md(highest)}**). A group right of it fails the four-fifths rule."
            )
        elif highest is not None:
            st.caption(
                f"Dashed line: {options.di_threshold:g} × the highest favourable rate of the groups compared "
                f"(group **{md(highest)}**). A group left of it fails the four-fifths rule."
            )
    with right:
        st.markdown("**Error rates by group (equalized odds)**")
        figure = charts.error_rates_chart(audit, confidence=options.confidence, groups=cells)
        if figure is None:
            st.info("TPR and FPR need the true outcome: choose a label column on the Data page.")
        else:
            chart(figure, "error_rates", audit, "True and false positive rates by group with confidence intervals.")
            st.caption(
                "TPR: of those whose true outcome is positive, the share given the positive decision. "
                "FPR: of those whose true outcome is negative, the share given it anyway. Equalized odds asks "
                "for both to be equal across groups."
            )


def base_rate_note(audit: AttributeAudit, cells: list[str] | None = None) -> None:
    rates = {
        g: m.metrics["base_rate"].value
        for g, m in audit.groups.items()
        if (cells is None or g in cells)
        and m.status == "ok"
        and "base_rate" in m.metrics
        and m.metrics["base_rate"].value is not None
    }
    if len(rates) < 2:
        return
    low, high = min(rates, key=rates.get), max(rates, key=rates.get)
    st.caption(
        f"Base rates here run from {rates[low]:.3f} (**{md(low)}**) to {rates[high]:.3f} (**{md(high)}**). "
        "Where they differ, a calibrated score cannot also give every group the same TPR and FPR "
        "(Kleinberg et al. 2016; Chouldechova 2017): see *Why can't every metric be equal at once?* above."
    )


def show_score_and_distribution(audit: AttributeAudit, options: AuditOptions, cells: list[str] | None = None) -> None:
    calibration = charts.calibration_chart(audit, confidence=options.confidence, groups=cells)
    distribution = charts.decision_distribution_chart(audit, confidence=options.confidence, groups=cells)
    if calibration is None and distribution is None:
        return
    panels = calibration is not None and charts.calibration_panels(audit, cells)
    # Small multiples take the page's width; a single calibration chart shares it with the distribution.
    left, right = (st.container(), st.container()) if panels else st.columns(2)
    if calibration is not None:
        with left:
            st.markdown("**Calibration by group**")
            chart(
                calibration,
                "calibration",
                audit,
                "Observed rate of positive labels against mean score per decile.",
                stretch=not panels,
            )
            if panels:
                first, rest = audit.columns[0], " × ".join(audit.columns[1:])
                how = (
                    f"One small chart per group of {md(first)}, a line per cell, coloured by {md(rest)}. "
                    "Each point is a score decile"
                )
            else:
                how = "Each point is a score decile"
            st.caption(
                f"{how}: the mean score against the share whose true outcome was positive. On the dashed diagonal "
                "the score means the same risk in every group. Click a legend entry to highlight it."
            )
            base_rate_note(audit, cells)
    if distribution is not None:
        with right if calibration is not None else left:
            st.markdown("**Every decision value by group**")
            chart(distribution, "decision_distribution", audit, "Share of each decision value by group.")
            ordered = audit.decision_distribution.order
            order = (
                f" The values are in their order, lowest first ({md(' < '.join(audit.decision_distribution.values))}"
                f": {md(ordered)}; change it on the Data page)."
                if ordered
                else ""
            )
            st.caption(
                "The decision has more than two values; the audit above compares the positive ones "
                f"with the rest. These bars show each value's share in each group.{order}"
            )


def attribute_section(audit: AttributeAudit, result: AuditResult, cells: list[str] | None = None) -> None:
    """Everything about one protected attribute (or one intersection; ``cells``: the cells its charts show)."""
    options = result.options
    if audit.status != "ok":
        st.warning(md(f"Disparities for {audit.name} are {audit.reason}."))
    summary_cards(audit, result)
    show_findings(audit)
    show_suppressed(audit, options)
    show_rate_charts(audit, options, decision_words(result.spec), cells)
    show_group_tables(audit, options, cells)
    show_score_and_distribution(audit, options, cells)


def intersections_section(result: AuditResult) -> None:
    if not result.intersections:
        st.info("Intersections need at least two protected attributes: add another on the Data page.")
        return
    state.follow_focus(W.INTERSECTION, list(result.intersections))
    name = st.selectbox(
        "Intersection",
        list(result.intersections),
        key=W.INTERSECTION,
        on_change=state.focus_changed,
        kwargs={"key": W.INTERSECTION},
        help="Groups formed by combining attributes, e.g. ethnicity × gender. Cells with fewer than "
        f"{result.options.min_cell_size} rows are suppressed.",
    )
    audit = result.intersections[name]
    attribute_section(audit, result, cell_picker(audit))


def cell_picker(audit: AttributeAudit) -> list[str] | None:
    """Pick the cells the intersection's charts and table show: every cell, or those of one group of its first
    attribute (e.g. ethnicity = B: B × Female, B × Male). None for every cell."""
    first = audit.columns[0]
    cells: dict[str, list[str]] = {}
    for group, metrics in audit.groups.items():
        cells.setdefault(metrics.values[first], []).append(group)
    if len(cells) < 2:
        return None
    labels = {EVERY_CELL: f"every cell ({len(audit.groups)})"}
    labels |= {value: f"{first} = {value} ({len(groups)} cells)" for value, groups in cells.items()}
    picked = st.selectbox(
        "Cells shown in the charts and the table",
        list(labels),
        format_func=labels.__getitem__,
        key=W.intersection_cells(audit.name),
        help=f"Show every cell, or only the cells of one group of {first}, to read a few at a time. The summaries "
        "above and the four-fifths line always compare every cell.",
    )
    return None if picked == EVERY_CELL else cells[picked]


# ---------------------------------------------------------------- page frame


def show_scope(result: AuditResult, warnings: list[str]) -> None:
    spec, info = result.spec, result.dataset
    target = condition(spec.decision, spec.positive) if spec.decision else f"{md(spec.score)} ≥ {spec.threshold:g}"
    benefit = "benefits" if spec.positive_is_favorable else "harms"
    st.caption(
        f"{info.rows_audited:,} of {info.rows:,} rows of **{md(info.name)}** audited"
        + (f" (counted by {ENGINE_NAMES.get(result.engine, result.engine)})" if result.engine != "pandas" else "")
        + f". Positive decision: {target} "
        f"(it {benefit} the person). Intervals: Wilson (rates), Katz (ratios), Newcombe (differences); q-values: "
        "Fisher's exact or chi-square tests, Benjamini–Hochberg over the whole audit."
    )
    for row in result.left_out:
        st.warning(md(f"{row['rows']:,} rows left out — {row['reason']}."))
    skipped: dict[str, list[str]] = {}
    for item in result.skipped:
        skipped.setdefault(item["reason"], []).append(METRIC_NAMES.get(item["metric"], item["metric"]))
    for reason, names in skipped.items():
        st.info(md(f"Not computed ({reason}): {', '.join(names)}."))
    for warning in warnings:  # already worded for the app and escaped
        st.warning(warning)


def show_guides(spec: AuditSpec) -> None:
    left, right = st.columns(2)
    with left, st.expander("Which metric fits my decision?"):
        st.markdown(GUIDE)
        target = condition(spec.decision, spec.positive) if spec.decision else md(spec.score)
        if spec.positive_is_favorable:
            st.markdown(
                f"**Here** the positive decision ({target}) benefits the person — an assistive decision: start "
                "with disparate impact and, with a label, equal opportunity (TPR)."
            )
        else:
            st.markdown(
                f"**Here** the positive decision ({target}) harms the person — a punitive decision: start with the "
                "FPR difference (who is wrongly flagged) and the disparate impact of the favourable outcome."
            )
        if spec.label is None:
            st.markdown("No label column is set, so only decision rates can be compared, not error rates.")
    with right, st.expander("Why can't every metric be equal at once?"):
        st.markdown(IMPOSSIBILITY)


def tab_labels(result: AuditResult) -> dict[str, str | None]:
    """Tab label → attribute name (None for the intersections tab); labels are escaped Markdown."""
    labels: dict[str, str | None] = {}
    for name in result.attributes:
        label = md(name)
        labels[f"{label} (attribute)" if label == INTERSECTIONS else label] = name
    labels[INTERSECTIONS] = None
    return labels


def open_on_focus(labels: dict[str, str | None], result: AuditResult) -> None:
    """Before drawing the tabs: open the focus's tab when the focus moved (an intersection: the Intersections tab).

    Otherwise the tabs keep the one open (a tab picked moves the focus: see :func:`tab_changed`).
    """
    moved = state.focus_moved(W.FAIRNESS_TAB)
    focus = state.focus()
    if focus is None or not (moved or state.get(W.FAIRNESS_TAB) not in labels):
        return
    by_name = {name: label for label, name in labels.items() if name is not None}
    if focus.attribute in by_name:
        state.set_widgets({W.FAIRNESS_TAB: by_name[focus.attribute]})
    elif focus.attribute in result.intersections:
        state.set_widgets({W.FAIRNESS_TAB: INTERSECTIONS})


def tab_changed(labels: dict[str, str | None], intersections: list[str]) -> None:
    """A tab picked moves the focus to its attribute (the Intersections tab: to the intersection shown)."""
    name = labels.get(state.get(W.FAIRNESS_TAB))
    if name is None:
        shown = state.get(W.INTERSECTION)
        name = shown if shown in intersections else next(iter(intersections), None)
    current = state.focus()
    if name is not None and (current is None or current.attribute != name):
        state.set_focus(name)


def show_tabs(result: AuditResult) -> None:
    labels = tab_labels(result)
    open_on_focus(labels, result)
    tabs = st.tabs(list(labels), key=W.FAIRNESS_TAB, on_change=tab_changed, args=(labels, list(result.intersections)))
    for tab, name in zip(tabs, labels.values(), strict=True):
        if not tab.open:
            continue
        with tab:
            if name is None:
                intersections_section(result)
            else:
                attribute_section(result.attributes[name], result)


st.title("Fairness")
dataset, spec = require_spec(NOTHING_YET)
confidence = st.radio(
    "Confidence level of every interval",
    CONFIDENCE_LEVELS,
    index=CONFIDENCE_LEVELS.index(CONFIDENCE),
    format_func=lambda c: f"{c:.0%}",
    key=W.CONFIDENCE,
    horizontal=True,
    persist_state="session",
)
result = run_audit(dataset, spec, confidence)
show_scope(result, audit_warnings(dataset, spec, result))
show_guides(spec)
show_tabs(result)
