"""Pieces every analysis page shares."""

from __future__ import annotations

import streamlit as st

from analysis import AuditSpec, ParityLabError
from analysis.audit import AuditResult
from ui import cached, state
from ui.text import md

__all__ = ["require_spec", "run_audit"]


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
            data.sha256, spec.to_json(), confidence, data.table.data, data.name, data.table.report
        )
    except ParityLabError as exc:
        st.error(md(str(exc)))
        st.stop()
