"""ParityLab: explore bias in decision data, locally.

The frame of the app: page config, the shared sidebar, and navigation over the pages.
Run with ``streamlit run app.py``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from analysis import ParityLabError
from ui import cached, memory, state
from ui.state import Dataset
from ui.text import md, say

DEFAULT_SAMPLE = next(iter(cached.SAMPLES))
FAVICON = Path(__file__).resolve().parent / "ui" / "favicon.svg"

# A local image, not a Material icon: Streamlit fetches a Material favicon from fonts.gstatic.com.
st.set_page_config(page_title="ParityLab", page_icon=str(FAVICON), layout="wide")
# Closed sessions' DataFrames sit in reference cycles and freed memory stays in Arrow's and malloc's pools:
# a background thread gives it back to the OS (started once per server process).
memory.start_janitor()
cached.preload_model_libraries()  # LightGBM and scikit-learn, for the Drivers and Mitigation pages


def ensure_dataset() -> None:
    """Open with a sample ready, so every page has something to show."""
    if state.dataset() is None:
        try:
            table = cached.load_sample(DEFAULT_SAMPLE)
        except ParityLabError as exc:
            st.error("The bundled sample could not be loaded: " + say(exc))
            return
        state.set_dataset(Dataset(table, "sample", f"sample:{DEFAULT_SAMPLE}"))


def sidebar() -> None:
    """The shared sidebar: the dataset and the confirmed roles (drawn into the sidebar's slot)."""
    st.markdown("### :material/balance: ParityLab")
    st.caption("Runs on this machine. Sends nothing anywhere.")
    data = state.dataset()
    if data is None:
        st.write("No dataset loaded.")
        return
    report = data.table.report
    st.markdown(f"**Dataset:** {md(data.name)}")
    read = f" · read with {', '.join(data.reading.na_values)} as missing" if data.reading.na_values else ""
    sheet = f" · sheet {report.sheet}" if report.sheet else ""
    sheet += " · counted by DuckDB" if data.sampled else ""
    st.caption(f"{report.rows:,} rows × {report.columns:,} columns · SHA-256 {report.sha256[:12]}…" + md(sheet + read))
    spec = state.spec()
    if spec is None:
        st.caption("Roles not confirmed yet: confirm them on the Data page.")
        return
    positive = ", ".join(md(v) for v in spec.positive) or "—"
    target = md(spec.decision) if spec.decision else f"{md(spec.score)} ≥ {spec.threshold:g}"
    lines = [f"**Decision:** {target} (positive: {positive})"]
    if spec.label:
        lines.append(f"**Label:** {md(spec.label)}")
    lines.append("**Protected:** " + ", ".join(md(c) for c in spec.protected_columns))
    st.markdown("  \n".join(lines))


ensure_dataset()
# The sidebar is drawn before the page (it stays when a page ends early with st.stop(), after which nothing more
# can be drawn in this run) and again after it, so a dataset loaded or roles confirmed in this run show at once.
sidebar_slot = st.sidebar.empty()
with sidebar_slot.container():
    sidebar()
pages = [
    st.Page("pages/data.py", title="Data", icon=":material/table_view:", default=True),
    st.Page("pages/overview.py", title="Overview", icon=":material/leaderboard:"),
    st.Page("pages/fairness.py", title="Fairness", icon=":material/balance:"),
    st.Page("pages/slices.py", title="Slices", icon=":material/filter_alt:"),
    st.Page("pages/drivers.py", title="Drivers", icon=":material/manage_search:"),
    st.Page("pages/mitigation.py", title="Mitigation", icon=":material/tune:"),
    st.Page("pages/audit_tables.py", title="Audit tables", icon=":material/table_chart:"),
    st.Page("pages/report.py", title="Report", icon=":material/description:"),
    st.Page("pages/workshop.py", title="Workshop", icon=":material/co_present:"),
]
st.navigation(pages).run()
with sidebar_slot.container():
    sidebar()
