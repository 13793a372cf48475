"""Pieces every analysis page shares."""

from __future__ import annotations

import streamlit as st

from analysis import AuditSpec
from ui import state

__all__ = ["require_spec"]


def require_spec(nothing_yet: str) -> tuple[state.Dataset, AuditSpec]:
    """The dataset and its confirmed spec; without them, say so, link to the Data page and stop the page."""
    data, spec = state.dataset(), state.spec()
    if data is None or spec is None:
        st.info(nothing_yet)
        st.page_link("pages/data.py", label="Go to the Data page", icon="📄")
        st.stop()
    return data, spec
