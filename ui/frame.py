"""Pieces every analysis page shares."""

from __future__ import annotations

import streamlit as st

from analysis import AuditSpec, ParityLabError
from analysis.audit import AttributeAudit, AuditResult
from analysis.options import CONFIDENCE
from analysis.story import Gap
from ui import cached, samples, state
from ui.text import say

__all__ = [
    "CONFIDENCE_LEVELS",
    "audit_of",
    "audit_warnings",
    "confidence_level",
    "focus_gap",
    "leading_gap",
    "require_spec",
    "run_audit",
    "sample_story",
]

CONFIDENCE_LEVELS = (0.90, 0.95, 0.99)  # the Fairness page's choice of level


def confidence_level() -> float:
    """The app's one confidence level: the Fairness page's choice (kept for the session), else the default."""
    chosen = state.get(state.W.CONFIDENCE)
    return chosen if chosen in CONFIDENCE_LEVELS else CONFIDENCE


def require_spec(nothing_yet: str) -> tuple[state.Dataset, AuditSpec]:
    """The dataset and its confirmed spec; without them, say so, link to the Data page and stop the page."""
    data, spec = state.dataset(), state.spec()
    if data is None or spec is None:
        st.info(nothing_yet)
        st.page_link("pages/data.py", label="Go to the Data page", icon=":material/table_view:")
        st.stop()
    return data, spec


def run_audit(data: state.Dataset, spec: AuditSpec, confidence: float) -> AuditResult:
    """The (cached) audit of the dataset under its spec; a ParityLab error is shown and stops the page."""
    try:
        return cached.audit_result(
            data.data_key,
            spec.to_json(),
            confidence,
            cached.audited(data, spec),
            data.name,
            data.sha256,
            data.table.report,
        )
    except ParityLabError as exc:
        st.error(say(exc))
        st.stop()


def audit_warnings(data: state.Dataset, spec: AuditSpec, result: AuditResult) -> list[str]:
    """The audit's warnings worded for the app (Markdown-escaped), naming the control that fixes each.

    The result keeps its warnings as text (they are part of its JSON); the validation that produced them is
    cached and still holds them as problems, whose remedies :func:`ui.text.say` words by the page's controls.
    """
    check = cached.checks(data, spec)
    worded = {problem.text: say(problem) for problem in check.warnings}
    return [worded.get(warning, say(warning)) for warning in result.warnings]


# ---------------------------------------------------------------- the gap every page opens on


def sample_story(dataset: state.Dataset) -> samples.SampleStory | None:
    """The story of a bundled sample (None for an upload)."""
    if dataset.source != "sample":
        return None
    title = dataset.key.removeprefix("sample:")
    return samples.sample_story(title) if title in cached.SAMPLES else None


def leading_gap(gaps: tuple[Gap, ...], story: samples.SampleStory | None) -> Gap | None:
    """The gap the story leads with: the most unequal protected attribute (a sample: its injected bias).

    Attributes lead rather than intersections: an intersection's worst cell compounds its attributes' gaps in
    smaller groups, and every page can open on an attribute. A bundled sample leads with the bias its data card
    documents, when the audit finds it; the overview's ranking still shows every gap by its size.
    """
    computable = [g for g in gaps if g.ratio is not None]
    attributes = [g for g in computable if not g.intersection]
    if story is not None:
        documented = next((g for g in attributes if g.attribute == story.attribute), None)
        if documented is not None:
            return documented
    return next(iter(attributes or computable), None)


def focus_gap(gaps: tuple[Gap, ...], lead: Gap | None) -> Gap | None:
    """The gap in focus: the session's focus when it names a gap, else ``lead`` (which becomes the focus)."""
    current = state.focus()
    chosen = None if current is None else next((g for g in gaps if g.attribute == current.attribute), None)
    if chosen is None and lead is not None:
        state.set_focus(lead.attribute, lead.group)
        return lead
    return chosen


def audit_of(result: AuditResult, gap: Gap) -> AttributeAudit:
    """The attribute's (or intersection's) audit of ``gap``."""
    return (result.intersections if gap.intersection else result.attributes)[gap.attribute]
