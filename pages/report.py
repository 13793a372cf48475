"""Report page: download the audit as an HTML report, JSON, metrics CSV and spec; resume from a saved
result; compare the current audit with an earlier one (monitoring)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pandas as pd
import streamlit as st

from analysis import AuditSpec, LoadReport, ParityLabError
from analysis.audit import AuditResult
from analysis.bias_tables import BiasTables
from analysis.compare import AuditComparison, compare_audits, render_comparison_html
from analysis.explain import Explanation
from analysis.mitigation import MitigationComparison
from analysis.options import ALPHA, COMPARE_TOLERANCE, CONFIDENCE
from analysis.report import metrics_csv, render_html, verdict, without_pii
from analysis.slices import SliceSearch
from ui import cached, state
from ui.frame import require_spec, run_audit
from ui.state import W
from ui.text import md, say

NOTHING_YET = (
    "Nothing to report yet. Confirm which columns hold the decision and the protected attributes on the Data "
    "page first."
)
RAW_ROWS = (
    "Raw rows are never exported: the report, the JSON and the CSV hold counts, rates and intervals per group, "
    "the spec, and the file's SHA-256."
)
PII_HELP = (
    "A protected attribute that is also marked as personal data has personal data as its group labels. "
    "Off: its audit (and every intersection with it) is left out of the exports, and they say so."
)
CHANGE_COLUMNS = [
    "attribute",
    "group",
    "metric",
    "before",
    "after",
    "change",
    "significant",
    "regression",
    "q_value",
    "note",
]


# ---------------------------------------------------------------- inputs


def read_result(file) -> AuditResult | None:
    """An uploaded result JSON, or None after saying why it cannot be read."""
    try:
        return AuditResult.from_json(file.getvalue())
    except ParityLabError as exc:
        st.error(md(f"Could not read '{file.name}':") + " " + say(exc))
        return None


def stamp(result: AuditResult) -> str:
    info = result.dataset
    when = f", recorded {result.created_at}" if result.created_at else ""
    return f"{info.name or 'a dataset'} ({info.rows_audited:,} rows audited{when}; SHA-256 {info.sha256[:12]}…)"


# ---------------------------------------------------------------- sections


def show_verdict(result: AuditResult, include_pii: bool) -> None:
    shown, notes = (result, ()) if include_pii else without_pii(result)
    st.markdown(md(verdict(shown)))
    for note in notes:
        st.caption(say(note))


def show_parts(
    explanation: Explanation | None,
    mitigation: MitigationComparison | None,
    comparison: AuditComparison | None,
    tables: BiasTables | None = None,
    slices: SliceSearch | None = None,
) -> None:
    st.markdown("**In the report**")
    lines = ["- The verdict, the dataset card, the spec, every group table with intervals, the charts and findings"]
    lines.append(
        "- Drivers: included (from the Drivers page)"
        if explanation is not None
        else "- Drivers: not computed — visit the Drivers page, then come back"
    )
    lines.append(
        "- Mitigation comparison: included (from the Mitigation page)"
        if mitigation is not None
        else "- Mitigation comparison: not computed — compare methods on the Mitigation page to include it"
    )
    lines.append(
        f"- Audit tables: the {tables.title} (from the Audit tables page)"
        if tables is not None
        else "- Audit tables: not made — open the Audit tables page to include them"
    )
    lines.append(
        f"- Slices: the top {len(slices.slices)} by {slices.title} (from the Slices page)"
        if slices is not None
        else "- Slices: not searched — open the Slices page to include the worst-treated slices"
    )
    lines.append(
        "- Monitoring: the comparison with the earlier result uploaded below"
        if comparison is not None
        else "- Monitoring: upload an earlier result below to include a comparison"
    )
    st.markdown("\n".join(lines))


def show_downloads(data: state.Dataset, spec: AuditSpec, result: AuditResult, parts: dict, include_pii: bool) -> None:
    shown = result if include_pii else without_pii(result)[0]
    stem = file_stem(data.name)
    left, right = st.columns(2)
    left.download_button(
        "Download the HTML report",
        report_maker(result, data.table.report, parts, include_pii),
        file_name=f"{stem}-report.html",
        mime="text/html",
        key=W.REPORT_HTML,
        on_click="ignore",
        type="primary",
        help="One self-contained page: opens offline in any browser and fetches nothing.",
    )
    left.download_button(
        "Download the metrics CSV",
        metrics_csv(result, include_pii=include_pii),
        file_name=f"{stem}-metrics.csv",
        mime="text/csv",
        key=W.REPORT_CSV,
        on_click="ignore",
        help="One row per attribute × group × metric, with intervals; safe to open in a spreadsheet.",
    )
    right.download_button(
        "Download the JSON result",
        shown.to_json().encode("utf-8"),
        file_name=f"{stem}-audit.json",
        mime="application/json",
        key=W.REPORT_JSON,
        on_click="ignore",
        help="The whole audit, with its spec, data hash and versions: upload it here later to resume or compare.",
    )
    right.download_button(
        "Download the spec JSON",
        spec.to_json().encode("utf-8"),
        file_name=f"{stem}-spec.json",
        mime="application/json",
        key=W.REPORT_SPEC,
        on_click="ignore",
        help="The column roles; load it on the Data page to audit the next file the same way.",
    )
    st.caption(RAW_ROWS)


def report_maker(result: AuditResult, load_report: LoadReport, parts: dict, include_pii: bool) -> Callable[[], bytes]:
    """The HTML report, drawn only when its button is clicked (charts take a few seconds; most visits need none).

    Streamlit runs it outside the script run, so it calls the engine directly (no session cache).
    """

    def make() -> bytes:
        return render_html(result, load_report=load_report, include_pii=include_pii, **parts).encode("utf-8")

    return make


def file_stem(name: str) -> str:
    """A safe file name stem from the dataset's name."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-")
    return cleaned[:60] or "paritylab"


def show_resume(data: state.Dataset, spec: AuditSpec) -> None:
    st.subheader("Resume from a saved result")
    file = st.file_uploader(
        "Saved result (the JSON audit result that ParityLab exports)",
        type=["json"],
        key=W.REPORT_RESUME,
    )
    if file is None:
        return
    saved = read_result(file)
    if saved is None:
        return
    st.markdown(md(f"Saved audit of {stamp(saved)}."))
    st.info(md(verdict(saved)))
    if saved.dataset.sha256 != data.sha256:
        st.warning(
            md(
                f"This result was computed on different data: its SHA-256 is {saved.dataset.sha256}, the loaded "
                f"dataset's is {data.sha256}. Its numbers describe that other file."
            )
        )
    if saved.spec == spec:
        st.caption("Its spec is the one in use.")
        st.page_link("pages/fairness.py", label="See its audit on the Fairness page", icon=":material/balance:")
        return
    if st.button("Use this result's spec", key=W.REPORT_RESTORE):
        restore_spec(data, saved.spec)


def restore_spec(data: state.Dataset, spec: AuditSpec) -> None:
    try:
        check = cached.checks(data, spec)
    except ParityLabError as exc:  # the engine could not read the source again
        st.error(say(exc))
        return
    if not check.ok:
        problems = " ".join(say(p) for p in check.errors)
        st.error("The saved spec does not fit the loaded dataset: " + problems)
        return
    state.set_spec(spec)
    state.queue_roles(spec)  # so the Data page shows (and a later confirm keeps) the restored roles
    st.rerun()


def compare_with(file, result: AuditResult) -> AuditComparison | None:
    earlier = read_result(file)
    if earlier is None:
        return None
    left, right = st.columns(2)
    tolerance = left.number_input(
        "Tolerance",
        min_value=0.0,
        max_value=1.0,
        value=COMPARE_TOLERANCE,
        step=0.01,
        format="%.3f",
        key=W.REPORT_TOLERANCE,
        help="A disparity is worse when it moved away from parity by more than this.",
    )
    significance = right.checkbox(
        "A regression must also be significant",
        value=False,
        key=W.REPORT_SIGNIFICANCE,
        help=(
            "Off: any fairness metric that got worse beyond the tolerance is a regression (q-values are shown "
            f"either way). On: only significant changes (q < {ALPHA:g}) count; use it when period-to-period noise "
            "exceeds your tolerance."
        ),
    )
    try:
        return compare_audits(earlier, result, tolerance=float(tolerance), require_significance=significance)
    except ParityLabError as exc:
        st.error(say(exc))
        return None


def changes_table(comparison: AuditComparison) -> pd.DataFrame:
    """One row per attribute, group and metric: before, after, change, and whether it matters."""
    rows = [{k: v for k, v in row.to_dict().items() if k in CHANGE_COLUMNS} for row in comparison.rows]
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def exported(comparison: AuditComparison, result: AuditResult, include_pii: bool) -> AuditComparison:
    """The comparison shown and exported: without the rows of personal-data attributes unless opted in."""
    if include_pii:
        return comparison
    kept = without_pii(result)[0]
    names = {*kept.attributes, *kept.intersections}
    dropped = {*result.attributes, *result.intersections} - names
    return replace(comparison, rows=tuple(r for r in comparison.rows if r.attribute not in dropped))


def show_comparison(comparison: AuditComparison) -> None:
    regressions = len(comparison.regressions)
    if regressions:
        st.error(md(comparison.summary))
    else:
        st.success(md(comparison.summary))
    st.caption(md(f"Before: {comparison.before.name or 'a dataset'} · after: {comparison.after.name or 'a dataset'}"))
    for warning in comparison.warnings:
        st.warning(say(warning))
    st.dataframe(changes_table(comparison), hide_index=True, key=W.REPORT_CHANGES)
    left, right = st.columns(2)
    left.download_button(
        "Download the comparison (HTML)",
        render_comparison_html(comparison).encode("utf-8"),
        file_name="paritylab-comparison.html",
        mime="text/html",
        key=W.REPORT_COMPARISON_HTML,
        on_click="ignore",
    )
    right.download_button(
        "Download the comparison (JSON)",
        comparison.to_json().encode("utf-8"),
        file_name="paritylab-comparison.json",
        mime="application/json",
        key=W.REPORT_COMPARISON_JSON,
        on_click="ignore",
    )


# ---------------------------------------------------------------- page


st.title("Report")
dataset, spec = require_spec(NOTHING_YET)
confidence = float(state.get(W.CONFIDENCE) or CONFIDENCE)  # the Fairness page's level, when it was set there
result = run_audit(dataset, spec, confidence)
st.caption(
    md(f"The audit of {stamp(result)} at {confidence:.0%} confidence (set on the Fairness page).")
    + " Everything below is made on this machine."
)
include_pii = st.checkbox("Include personal-data columns in the exports", value=False, key=W.REPORT_PII, help=PII_HELP)
st.subheader("Verdict")
show_verdict(result, include_pii)

st.subheader("Downloads")
downloads = st.container()  # filled last: the HTML report includes the comparison made further down

st.subheader("Monitoring: compare with an earlier result")
earlier = st.file_uploader(
    "Earlier result (JSON), e.g. last quarter's audit of the same kind of decisions",
    type=["json"],
    key=W.REPORT_BEFORE,
)
comparison = compare_with(earlier, result) if earlier is not None else None
if comparison is not None:
    comparison = exported(comparison, result, include_pii)
    show_comparison(comparison)

show_resume(dataset, spec)

explanation = state.for_report("explanation", dataset.data_key, spec)
mitigation = state.for_report("mitigation", dataset.data_key, spec)
tables = state.for_report("tables", dataset.data_key, spec)
slices = state.for_report("slices", dataset.data_key, spec)
parts = {
    "explanation": explanation,
    "mitigation": mitigation,
    "comparison": comparison,
    "tables": tables,
    "slices": slices,
}
with downloads:
    show_parts(explanation, mitigation, comparison, tables, slices)
    show_downloads(dataset, spec, result, {k: v for k, v in parts.items() if v is not None}, include_pii)
