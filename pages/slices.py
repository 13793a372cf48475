"""Slices page: the worst-treated subgroups nobody named, with honest significance, and a click to their drivers."""

from __future__ import annotations

import json

import streamlit as st

from analysis import AuditSpec, ParityLabError
from analysis.charts import slices_chart
from analysis.metrics import SLICE_METRICS
from analysis.options import ALPHA
from analysis.slices import SliceSearch, feature_columns
from analysis.tables import slice_table
from ui import cached, state
from ui.frame import confidence_level, require_spec
from ui.state import W
from ui.text import md, say

NOTHING_YET = (
    "Nothing to search yet. Confirm which columns hold the decision and the protected attributes on the Data page "
    "first: this page then searches every combination of feature values for the subgroups treated worst."
)
INTRO = (
    'A *slice* is a combination of feature values ("region = South and income = <40100"). Every slice of up to '
    "the depth below with enough rows is tested against the rest of the data; q-values are Benjamini–Hochberg over "
    "every slice tested or pruned, so a slice called significant is not a fluke of searching many."
)
METRIC = "Metric"
FEATURES = "Features used as terms"
LABEL_LIMIT = 560  # pixels: a slice of three terms reads whole at 1280 px
SLICE_COLUMN = 520  # pixels: the table's pinned slice names, whole; the other columns scroll beside them
STANDS_IN_SHOWN = 5
DEPTHS = (1, 2, 3)
DEFAULT_TOP_K = 20


def metric_name(metric: str) -> str:
    return SLICE_METRICS[metric][0].title


def metric_option(metric: str, spec: AuditSpec) -> str:
    """The metric's name in the picker; an error metric without a label says why it cannot run."""
    needs = SLICE_METRICS[metric][0].needs_label and spec.label is None
    return f"{metric_name(metric)} (needs a label column)" if needs else metric_name(metric)


def show_controls(spec: AuditSpec, columns: list[str]) -> dict:
    """The search's options, each a widget with its own key; returns find_slices' keyword arguments."""
    candidates = [c for c in columns if c not in spec.role_columns() or c in spec.feature_columns(columns)]
    candidates = [c for c in candidates if c not in spec.protected_columns]
    default = feature_columns(columns, spec, None, include_protected=False)
    if state.get(W.SLICES_FEATURES) is None or not set(state.get(W.SLICES_FEATURES)) <= set(candidates):
        state.set_widgets({W.SLICES_FEATURES: default})
    metric_col, depth_col, support_col, top_col = st.columns([3, 2, 2, 2])
    metric = metric_col.selectbox(
        METRIC,
        list(SLICE_METRICS),
        key=W.SLICES_METRIC,
        format_func=lambda m: metric_option(m, spec),
        help="Favourable rate: where are decisions least favourable? With a label, FPR, FNR and error rate: where "
        "does the decision process err most?",
    )
    depth = depth_col.select_slider(
        "Most terms per slice", DEPTHS, value=3, key=W.SLICES_DEPTH, help="Deeper searches take longer."
    )
    support = support_col.number_input(
        "Minimum rows per slice",
        min_value=1,
        value=None,
        step=50,
        key=W.SLICES_SUPPORT,
        placeholder="1% of rows",
        help="Fewest rows (counted by the metric) a slice needs. Empty: 1% of the rows the metric counts, and at "
        "least the minimum group size of the roles.",
    )
    top_k = top_col.number_input(
        "Slices shown (top k)", min_value=1, max_value=200, value=DEFAULT_TOP_K, step=5, key=W.SLICES_TOP_K
    )
    terms_col, protected_col = st.columns([6, 3], vertical_alignment="bottom")
    chosen = terms_col.multiselect(
        FEATURES,
        candidates,
        key=W.SLICES_FEATURES,
        help="Numbers with many values are cut into quartiles; a column with more than 50 text values is left out.",
    )
    protected = protected_col.toggle(
        "Protected attributes as terms", value=True, key=W.SLICES_PROTECTED,
        help="Also slice by the protected attributes (binned as the roles bin them).",
    )  # fmt: skip
    # The engine's own choice when the pick is its default, so that its result (and the cache) is the default's.
    features = None if list(chosen) == default else [*chosen, *(spec.protected_columns if protected else ())]
    return {
        "metric": metric,
        "max_depth": int(depth),
        "min_support": None if support is None else int(support),
        "top_k": int(top_k),
        "features": None if features is None else tuple(features),
        "include_protected": bool(protected),
    }


def refuse_without_label(spec: AuditSpec, metric: str) -> None:
    if SLICE_METRICS[metric][0].needs_label and spec.label is None:
        st.warning(
            f"**{md(metric_name(metric))}** compares the decisions with the true outcomes, and the confirmed roles "
            f"have no label column. Pick **favourable rate** under *{METRIC}* above, or set the *Label* role on the "
            "Data page and confirm the roles again.",
            icon=":material/label_off:",
        )
        st.page_link("pages/data.py", label="Set the label on the Data page", icon=":material/table_view:")
        st.stop()


def show_counts(search: SliceSearch) -> None:
    tested, pruned, found = st.columns(3)
    tested.metric("Slices tested", f"{search.tested:,}", border=True, help="Counted, with enough rows.")
    pruned.metric(
        "Slices pruned",
        f"{search.pruned:,}",
        border=True,
        help="Never counted: no slice of their combination could enter the top k. They stay in the "
        "Benjamini–Hochberg family with p = 1, so the correction is never smaller than over every slice.",
    )
    found.metric("Significant in the top k", f"{len(search.significant):,} of {len(search.slices):,}", border=True)
    st.caption(
        f"{search.combinations_counted:,} of {search.combinations:,} feature combinations counted "
        f"({'DuckDB' if search.engine == 'duckdb' else 'in memory'}); minimum support {search.min_support:,} rows "
        f"of the {search.rows:,} the {md(search.title)} counts."
    )


def show_stands_in(search: SliceSearch) -> None:
    """Each significant slice's "stands in for" sentence: a slice that is mostly one protected group."""
    lines = [
        (rank, s.key, s.stands_in_for.sentence())
        for rank, s in enumerate(search.slices, start=1)
        if s.significant and s.stands_in_for is not None
    ]
    if not lines:
        return
    st.markdown("**Who these slices stand in for**")
    for rank, key, sentence in lines[:STANDS_IN_SHOWN]:
        st.markdown(f"- **{rank}. {md(key)}**: {md(sentence)}.")
    if len(lines) > STANDS_IN_SHOWN:
        st.caption(f"{len(lines) - STANDS_IN_SHOWN} more in the table's *stands in for* column.")


def show_explain(data: state.Dataset, spec: AuditSpec, search: SliceSearch) -> None:
    st.subheader("Why are decisions in this slice different?")
    keys = [s.key for s in search.slices]
    if state.get(W.SLICES_PICK) not in keys:
        state.set_widgets({W.SLICES_PICK: keys[0]})
    pick, button = st.columns([7, 2], vertical_alignment="bottom")
    key = pick.selectbox("Slice", keys, key=W.SLICES_PICK)
    item = search.slice(key)
    clicked = button.button(
        "Explain this slice", key=W.SLICES_EXPLAIN, icon=":material/manage_search:", type="primary", width="stretch"
    )
    st.caption(
        "Opens the Drivers page on this slice: the surrogate model's SHAP values split the gap between the "
        "slice's decisions and the rest's, feature by feature."
    )
    if clicked:
        state.set_slice_focus(
            state.SliceFocus(
                data.data_key, spec.to_json(), item, search.metric, search.title, tuple(search.bins.items())
            )
        )
        st.switch_page("pages/drivers.py")


st.title("Slices")
dataset, spec = require_spec(NOTHING_YET)
st.caption(INTRO)
columns = [str(c) for c in dataset.table.data.columns]
options = show_controls(spec, columns)
refuse_without_label(spec, options["metric"])
if options["features"] is not None and not options["features"]:
    st.warning(f"No column to slice by: pick features under *{FEATURES}*, or turn on the protected attributes.")
    st.stop()
confidence = confidence_level()
if dataset.sampled:
    st.info(
        f"Every one of the {dataset.rows:,} rows of **{md(dataset.location)}** is searched by DuckDB (the Data "
        "page's preview is a sample of them).",
        icon=":material/database:",
    )
try:
    search = cached.search_slices(dataset, spec, alpha=ALPHA, confidence=confidence, **options)
except ParityLabError as exc:
    st.error(say(exc))
    st.stop()
# The report includes the search last shown here (for these data as read and this spec).
state.remember("slices", (dataset.data_key, spec.to_json(), json.dumps(options, sort_keys=True, default=str)), search)
st.markdown(md(search.summary()))
st.caption(md(search.terms_note()))
show_counts(search)
if not search.slices:
    st.info("No slice is worse than the rest of the data: there is nothing to show.")
else:
    show_stands_in(search)
    st.altair_chart(
        slices_chart(search, confidence=confidence, label_limit=LABEL_LIMIT),
        key=W.SLICES_CHART,
        width="stretch",
        alt=f"{search.title.capitalize()} in each slice of the top {len(search.slices)} with its interval.",
    )
    st.caption(
        f"{md(search.title.capitalize())} in each slice with its {confidence:.0%} interval (Wilson); red: "
        f"significantly worse than the rest (q < {search.alpha:g}), grey: not conclusive. The dashed line is the "
        "value over all rows."
    )
    st.dataframe(
        slice_table(search),
        hide_index=True,
        key=W.SLICES_TABLE,
        column_config={
            "slice": st.column_config.TextColumn("slice", width=SLICE_COLUMN, pinned=True),
            "stands in for": st.column_config.TextColumn("stands in for", width="large"),
        },
    )
    st.caption(
        "Intervals: the slice's Wilson interval, the difference's Newcombe interval, the ratio's Katz interval. "
        "*folded*: slices with one more term no different from this one, folded into it. A wide table scrolls "
        "sideways."
    )
    show_explain(dataset, spec, search)
st.download_button(
    "Download the search (JSON)",
    json.dumps(search.to_dict(), indent=2, allow_nan=False),
    file_name="slices.json",
    mime="application/json",
    key=W.SLICES_JSON,
    icon=":material/download:",
)
