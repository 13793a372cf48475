"""Workshop page: a guided tour of one dataset's biggest gap for a room, one question at a time.

A presenter picks a bundled sample (or keeps the file loaded on the Data page); each step asks the room a
question and reveals the answer on a click: who is treated worst (the chart), whether it could be chance (the
interval and q-value), what drives it (the proxy, from the Drivers explanation) and what fixing it would cost
(the trade-off frontier). Large type, step by step, and one click back to the start. Everything runs here.
"""

from __future__ import annotations

import time
from dataclasses import replace

import streamlit as st

from analysis import ParityLabError
from analysis.audit import AuditResult
from analysis.explain import PROXY_THRESHOLD
from analysis.options import CONFIDENCE, SAMPLE_SIZE, SEED
from analysis.story import Gap
from analysis.suggest import suggest_spec
from analysis.words import DecisionWords, decision_words
from ui import cached, charts, state
from ui.frame import audit_of, focus_gap, leading_gap, require_spec, run_audit, sample_story
from ui.state import Dataset, W
from ui.text import md, say

NOTHING_YET = (
    "The tour needs data with confirmed roles: pick a sample above, or load your own file and confirm its roles "
    "on the Data page."
)
OWN_DATA = "Your own file (loaded on the Data page)"
# The Data page's source choice for a sample (its radio's option).
SAMPLE_SOURCE = "Sample dataset"
STEPS = ("who", "chance", "drivers", "cost")
# The frontier of the tour: pass the four-fifths rule, keeping today's overall rate with the fewest changes.
CONSTRAINT, OBJECTIVE = "four_fifths", "selection_rate"

# Large type for a projector, scoped to this page's container (the class Streamlit gives a keyed container).
PRESENTATION_CSS = """
<style>
.st-key-workshop_tour h2 { font-size: 2.6rem; line-height: 1.2; }
.st-key-workshop_tour h3 { font-size: 1.9rem; line-height: 1.25; }
.st-key-workshop_tour p, .st-key-workshop_tour li { font-size: 1.3rem; line-height: 1.5; }
.st-key-workshop_tour [data-testid="stMetricValue"],
.st-key-workshop_tour [data-testid="stMetricValue"] * {
  font-size: 3rem; line-height: 1.15; white-space: normal; overflow-wrap: anywhere;
}
.st-key-workshop_tour [data-testid="stMetricLabel"] * { font-size: 1.15rem; }
.st-key-workshop_tour [data-testid="stCaptionContainer"] p { font-size: 1.05rem; }
.st-key-workshop_tour button p { font-size: 1.2rem; }
</style>
"""


# ---------------------------------------------------------------- choosing the data


def choice_now() -> str:
    """The picker's option for the session's current data."""
    data = state.dataset()
    title = None if data is None or data.source != "sample" else data.key.removeprefix("sample:")
    return title if title in cached.SAMPLES else OWN_DATA


def use_sample(title: str) -> None:
    """Load the bundled sample ``title`` with its suggested roles confirmed, as the Data page would."""
    table = cached.load_sample(title)
    state.set_dataset(Dataset(table, "sample", f"sample:{title}"))
    state.set_spec(suggest_spec(table.data))
    # The Data page shows the same sample and roles when the presenter goes there.
    state.set_widgets({W.SOURCE: SAMPLE_SOURCE, W.SAMPLE: title})
    state.reset_workshop()


def data_chosen() -> None:
    choice = state.get(W.WORKSHOP_SAMPLE)
    if choice in cached.SAMPLES:
        use_sample(choice)
    else:
        state.reset_workshop()


def sync_choice() -> None:
    """Show the session's data in the picker, but keep 'your own file' picked while the presenter loads it."""
    now, shown = choice_now(), state.get(W.WORKSHOP_SAMPLE)
    if now == OWN_DATA or shown is None or (shown != OWN_DATA and shown != now):
        state.set_widgets({W.WORKSHOP_SAMPLE: now})


def choose_data() -> None:
    sync_choice()
    st.radio(
        "Data for the tour",
        [*cached.SAMPLES, OWN_DATA],
        key=W.WORKSHOP_SAMPLE,
        horizontal=True,
        on_change=data_chosen,
        help="A sample starts with its suggested roles confirmed. Your own file: load it and confirm its roles on "
        "the Data page first.",
    )
    if state.get(W.WORKSHOP_SAMPLE) == OWN_DATA and choice_now() != OWN_DATA:
        st.info("Load your file on the Data page and confirm its roles there: the tour then runs on it.")
        st.page_link("pages/data.py", label="Go to the Data page", icon=":material/table_view:")
        st.stop()
    data, spec = state.dataset(), state.spec()
    if data is not None and spec is None and choice_now() != OWN_DATA:
        title = choice_now()
        st.button(
            f"Start the tour on {title} (with its suggested roles)",
            key=W.WORKSHOP_USE_SAMPLE,
            type="primary",
            on_click=use_sample,
            args=(title,),
        )
        st.stop()


# ---------------------------------------------------------------- steps


def question(step: str, words: DecisionWords) -> str:
    if step == "who":
        return f"Which group is {words.verb} {'most' if words.harmful else 'least'} often?"
    return {
        "chance": "Is it chance?",
        "drivers": "What drives it?",
        "cost": "What would fixing it cost?",
    }[step]


def rates(gap: Gap) -> tuple[float | None, float | None]:
    """The worst-treated group's and the best-treated group's share given the decision."""
    return (gap.harm_rate, gap.reference_harm_rate) if gap.harmful else (gap.rate, gap.reference_rate)


def reveal_who(result: AuditResult, gap: Gap, words: DecisionWords) -> None:
    mine, theirs = rates(gap)
    left, middle, right = st.columns(3)
    left.metric("Group", str(gap.group), border=True)
    middle.metric(f"{words.share.capitalize()}: {gap.group}", pct(mine), border=True)
    right.metric(f"{words.share.capitalize()}: {gap.reference}", pct(theirs), border=True)
    audit = audit_of(result, gap)
    # Drawn in the cards' terms: the share given the decision when it harms the person.
    figure = charts.favorable_rate_chart(
        audit, di_threshold=result.options.di_threshold, confidence=result.options.confidence, words=words
    )
    what = words.share if words.harmful else "favourable rate"
    st.altair_chart(
        figure, key=W.workshop_chart("who"), width="stretch", alt=f"{what.capitalize()} by {gap.attribute}."
    )
    st.markdown(md(gap.sentence))


def reveal_chance(result: AuditResult, gap: Gap) -> None:
    level = f"{result.options.confidence:.0%} interval"
    left, middle, right = st.columns(3)
    left.metric("Four-fifths ratio", f"{gap.ratio:.2f}", border=True)
    interval = "—" if gap.ci_low is None else f"{gap.ci_low:.2f} – {gap.ci_high:.2f}"
    middle.metric(level.capitalize(), interval, border=True)
    q = "no test" if gap.q_value is None else ("< 0.001" if gap.q_value < 0.001 else f"{gap.q_value:.3f}")
    right.metric("q-value", q, border=True)
    st.markdown(f"### {md(gap.verdict.text.capitalize())}")
    sizes = "" if gap.n is None else f"{gap.n:,} rows of {gap.group} against {gap.reference_n:,} of {gap.reference}. "
    detect = (
        ""
        if gap.detectable_gap is None
        else f"With these sizes a gap of {gap.detectable_gap:.3f} in the rate would be found {gap.power:.0%} of the "
        "time. "
    )
    st.markdown(
        md(
            f"{sizes}{detect}The q-value is the test's p-value — how often a gap at least this large would turn up "
            "by chance if both groups were treated alike — adjusted for every test of the audit; below "
            f"{result.options.alpha:g} the audit calls the gap significant."
        )
    )


def pct(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.0%}"


def explanation(data: Dataset, spec):
    """The Drivers page's explanation with its default options (so that page reuses it), with a visible status."""
    started = time.perf_counter()
    with st.status("Training a model of the decisions and computing SHAP values…", expanded=False) as status:
        try:
            key, df, drawn = cached.modelled(data, spec, SAMPLE_SIZE, SEED)
            result = replace(
                cached.explanation(key, spec.to_json(), SAMPLE_SIZE, False, SEED, df), training_sample=drawn
            )
        except ParityLabError as exc:
            status.update(label="The decisions could not be explained", state="error")
            st.error(say(exc))
            return None
        seconds = time.perf_counter() - started
        took = "from the cache" if seconds < 0.5 else f"in {seconds:.1f} s"
        status.update(label=f"Model of the decisions ready ({took})", state="complete")
    return result


def reveal_drivers(result: AuditResult, gap: Gap, data: Dataset) -> None:
    found = explanation(data, result.spec)
    if found is None:
        return
    columns = audit_of(result, gap).columns
    proxies = [(c, p) for c in columns for p in found.proxies.get(c, ())]
    if not proxies:
        st.info("No feature to test as a proxy: add feature columns on the Data page.")
        return
    column, top = max(proxies, key=lambda cp: cp[1].score)
    # The gap's own decomposition (a protected column's group against its reference): its largest part.
    decomposition = None if gap.intersection else found.gap.get(column, {}).get(gap.group)
    driver = decomposition.contributions[0][0] if decomposition is not None and decomposition.contributions else None
    left, right = st.columns(2)
    if driver is not None:
        left.metric(f"Biggest part of the gap for {gap.group}", driver, border=True)
    right.metric(f"Strongest proxy for {column}", top.feature, border=True)
    if decomposition is not None:
        st.markdown(f"### {md(decomposition.sentence)}")
    verdict = "a likely proxy" if top.flag else "below the proxy threshold"
    lines = [
        f"{top.feature} alone predicts {column} with a normalised mutual information of {top.score:.2f} ({verdict}, "
        f"threshold {PROXY_THRESHOLD:g}): leaving {column} out of a model does not stop it from using "
        f"{top.feature} in its place."
    ]
    if driver is not None and driver != top.feature:
        lines.append(
            f"Here the gap comes mostly through {driver}, not through {top.feature}: a feature can carry a group's "
            "disadvantage without predicting the group on its own."
        )
    recoverability = found.recoverability.get(column)
    if recoverability is not None:
        lines.append(recoverability.sentence)
    st.markdown(md(" ".join(lines)))
    figure = charts.proxy_chart(
        found.proxies.get(column, ()),
        attribute=column,
        threshold=PROXY_THRESHOLD,
        score_title="normalised mutual information",
        top=8,
    )
    st.altair_chart(figure, key=W.workshop_chart("drivers"), width="stretch", alt="Proxy strength of each feature.")
    st.caption("The surrogate model imitates the decisions; its SHAP values show association, not cause.")
    if found.training_sample is not None:  # a source opened by path: the model learnt from a sample DuckDB drew
        st.caption(md(found.training_sample.describe("It is trained")))


def frontier_attribute(result: AuditResult, gap: Gap) -> str:
    """Thresholds are set per group of one protected column: an intersection's first column."""
    return audit_of(result, gap).columns[0]


def reveal_cost(result: AuditResult, gap: Gap, data: Dataset, words: DecisionWords) -> None:
    attribute = frontier_attribute(result, gap)
    try:
        with st.spinner("Optimising thresholds at every tolerance…"):
            rows = cached.threshold_rows(data, result.spec)
            spec = rows.spec
            curves = cached.curves(rows.key, spec.to_json(), attribute, rows.rows)
            front = cached.trade_off_frontier(
                data.data_key, spec.to_json(), attribute, CONSTRAINT, OBJECTIVE, 1.0, 1.0, curves
            )
    except ParityLabError as exc:
        st.error(say(exc))
        return
    floor = result.options.di_threshold
    passing = [p for p in front.points if p.feasible and p.disparity is not None and p.disparity >= floor]
    cheapest = min(passing, key=lambda p: p.changed, default=None)
    left, right = st.columns(2)
    today = front.baseline.disparity
    left.metric(f"Four-fifths ratio of {attribute} today", "—" if today is None else f"{today:.2f}", border=True)
    if cheapest is None:
        right.metric("Decisions changed to pass", "not reachable", border=True)
        st.markdown(md(f"No set of thresholds on these scores brings {attribute} to four-fifths."))
    else:
        right.metric("Decisions changed to pass four-fifths", f"{cheapest.changed:,}", border=True)
        share = cheapest.changed / max(1, int(curves.sizes.sum()))
        st.markdown(
            md(
                f"Passing the four-fifths rule on {attribute} (ratio {cheapest.disparity:.2f}) while keeping "
                f"today's overall rate of people {words.verb} takes a threshold per group and changes "
                f"{cheapest.changed:,} decisions ({share:.1%} of them)."
            )
        )
    figure = charts.frontier_chart(front, None)
    st.altair_chart(figure, key=W.workshop_chart("cost"), width="stretch", alt="Decisions changed against fairness.")
    st.caption(
        "Each blue point is the fewest decisions changed at one tolerance; fairer is to the right. A threshold per "
        "group uses the protected attribute at decision time (disparate treatment, generally unlawful in lending "
        "and hiring): read it as the size of the problem, not as a fix. The Mitigation page has every option."
    )
    if rows.drawn is not None:
        st.caption(md(rows.drawn.describe("The model score is trained and these figures measured")))


# ---------------------------------------------------------------- the tour


def step_controls(step: int) -> None:
    back, where, forward, reset = st.columns([2, 3, 2, 2], vertical_alignment="center")
    back.button(
        "Previous",
        key=W.WORKSHOP_PREVIOUS,
        icon=":material/arrow_back:",
        disabled=step == 0,
        on_click=state.set_workshop_step,
        args=(step - 1,),
        width="stretch",
    )
    where.markdown(f"**Step {step + 1} of {len(STEPS)}**")
    forward.button(
        "Next",
        key=W.WORKSHOP_NEXT,
        icon=":material/arrow_forward:",
        disabled=step == len(STEPS) - 1,
        on_click=state.set_workshop_step,
        args=(step + 1,),
        width="stretch",
    )
    reset.button(
        "Start again",
        key=W.WORKSHOP_RESET,
        icon=":material/restart_alt:",
        on_click=state.reset_workshop,
        width="stretch",
    )


def show_step(step: str, result: AuditResult, gap: Gap, data: Dataset) -> None:
    words = decision_words(result.spec)
    st.markdown(f"## {md(question(step, words))}")
    if step not in state.revealed_steps():
        st.button(
            "Reveal the answer",
            key=W.workshop_reveal(step),
            type="primary",
            icon=":material/visibility:",
            on_click=state.reveal_step,
            args=(step,),
        )
        return
    if step == "who":
        reveal_who(result, gap, words)
    elif step == "chance":
        reveal_chance(result, gap)
    elif step == "drivers":
        reveal_drivers(result, gap, data)
    else:
        reveal_cost(result, gap, data, words)


st.title("Workshop")
st.caption("A guided tour for a room: one question at a time, the answer on a click. Everything runs on this machine.")
choose_data()
dataset, spec = require_spec(NOTHING_YET)
result = run_audit(dataset, spec, CONFIDENCE)
gaps = cached.gaps(dataset.data_key, spec.to_json(), CONFIDENCE, result)
gap = focus_gap(gaps, leading_gap(gaps, sample_story(dataset)))
if gap is None or gap.ratio is None:
    st.info("No gap can be computed on these data: " + md(gap.verdict.text if gap else "no protected attribute."))
    st.stop()
step = min(state.workshop_step(), len(STEPS) - 1)
st.html(PRESENTATION_CSS)
with st.container(key=W.WORKSHOP_TOUR):
    st.caption(
        md(f"The gap in focus: {gap.attribute}, {gap.group} against {gap.reference} (change it on the Overview).")
    )
    step_controls(step)
    show_step(STEPS[step], result, gap, dataset)
