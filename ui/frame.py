"""Pieces every analysis page shares."""

from __future__ import annotations

import streamlit as st

from analysis import AuditSpec, ParityLabError
from analysis.audit import AuditResult
from ui import cached, state
from ui.text import say

__all__ = ["audit_warnings", "require_spec", "run_audit"]


def require_spec(nothing_yet: str) -> tuple[state.Dataset, AuditSpec]:
    """The dataset and its confirmed spec; without them, say so, link to the Data page and stop the page."""
    data, spec = state.dataset(), state.spec()
    if data is None or spec is None:
        st.info(nothing_yet)
        st.page_link("pages/data.py", label="Go to the Data page", icon="📄")
        st.stop()
    return data, spec


def run_audit(data: state.Dataset, spec: AuditSpec, confidence: float) -> AuditResult:
    """The (cached) audit of the dataset under its spec; a ParityLab error is shown and stops the page."""
    try:
        return cached.audit_result(
            data.data_key, spec.to_json(), confidence, data.table.data, data.name, data.sha256, data.table.report
        )
    except ParityLabError as exc:
        st.error(say(exc))
        st.stop()


def audit_warnings(data: state.Dataset, spec: AuditSpec, result: AuditResult) -> list[str]:
    """The audit's warnings worded for the app (Markdown-escaped), naming the control that fixes each.

    The result keeps its warnings as text (they are part of its JSON); the validation that produced them is
    cached and still holds them as problems, whose remedies :func:`ui.text.say` words by the page's controls.
    """
    check = cached.validation(data.data_key, spec.to_json(), data.sha256, data.table.data)
    worded = {problem.text: say(problem) for problem in check.warnings}
    return [worded.get(warning, say(warning)) for warning in result.warnings]
