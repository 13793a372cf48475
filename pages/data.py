"""Data page: pick a sample or upload a file, read what the loader did, confirm column roles."""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePath

import pandas as pd
import streamlit as st

from analysis import AuditSpec, ParityLabError, ProtectedAttribute, SpecValidation
from analysis.loading import DEFAULT_MAX_BYTES
from analysis.suggest import positive_values
from analysis.validation import dataset_mismatch
from analysis.values import distinct_keys, value_key
from ui import cached, state
from ui.state import Dataset, W
from ui.text import md

SAMPLE_SOURCE, UPLOAD_SOURCE = "Sample dataset", "Upload a file"
UPLOAD_TYPES = ("csv", "tsv", "txt", "psv", "gz", "zip", "parquet", "xlsx", "xlsm", "xls", "xlsb", "ods")
NA_CHOICES = ("NA", "?", "-", "none", "unknown")
NONE = "(none)"
DEFAULT_REFERENCE = "(default: highest favourable rate)"
MAX_PICKABLE_VALUES = 200
# Streamlit forgets a widget's value when its page is left; the roles must survive a visit to another page.
KEEP = {"persist_state": "session"}


# ---------------------------------------------------------------- choosing the data


def choose_dataset() -> None:
    st.radio("Data source", [SAMPLE_SOURCE, UPLOAD_SOURCE], key=W.SOURCE, **KEEP, horizontal=True)
    if state.get(W.SOURCE) == UPLOAD_SOURCE:
        upload_file()
    else:
        title = st.selectbox("Sample dataset", list(cached.SAMPLES), key=W.SAMPLE, **KEEP)
        current = state.dataset()
        if current is None or current.key != f"sample:{title}":
            state.set_dataset(Dataset(cached.load_sample(title), "sample", f"sample:{title}"))


def upload_file() -> None:
    with st.expander("Reading options"):
        st.multiselect(
            "Also treat these spellings as missing in every column",
            NA_CHOICES,
            key=W.NA_VALUES,
            **KEEP,
            help="Empty cells, N/A, null and NaN are always missing. NA, ? and - are missing only in numeric "
            "columns, because in text columns they can be real values (NA is Namibia's country code).",
        )
        st.text_input("Excel sheet (name or number; empty = the first sheet)", key=W.SHEET, **KEEP)
    file = st.file_uploader(
        "Upload a decisions file (CSV, TSV, pipe-delimited, .gz, .zip, Parquet, Excel or OpenDocument; up to 200 MB)",
        # No type= filter: Streamlit raises on a disallowed type before this script can answer;
        # upload_problem() checks type and size here instead, with a message.
        key=W.UPLOAD,
    )
    if file is None:
        st.info("Choose a file to upload. Until then the current dataset stays loaded.")
        return
    na_values = tuple(state.get(W.NA_VALUES) or ())
    sheet = (state.get(W.SHEET) or "").strip()
    key = f"upload:{file.file_id}:{na_values}:{sheet}"
    current = state.dataset()
    if current is not None and current.key == key:
        return
    problem = upload_problem(file.name, file.size)
    if problem:
        state.set_load_error(problem)
        return
    try:
        table = cached.load_upload(file.getvalue(), file.name, na_values=na_values, sheet=sheet or None)
    except ParityLabError as exc:
        state.set_load_error(str(exc))
        return
    state.set_dataset(Dataset(table, "upload", key))


def upload_problem(name: str, size: int) -> str | None:
    """Server-side check of an upload's type and size (the browser's checks can be bypassed)."""
    suffix = PurePath(name.lower()).suffix.lstrip(".")
    if suffix not in UPLOAD_TYPES:
        allowed = ", ".join(f".{t}" for t in UPLOAD_TYPES)
        return f"'{name}' is a .{suffix or '(no extension)'} file; ParityLab reads {allowed}. Export it as CSV."
    if size > DEFAULT_MAX_BYTES:
        return (
            # MB as Streamlit's uploader counts them (2**20 bytes), so the limit reads "200 MB" in both places.
            f"'{name}' is {size / 2**20:,.1f} MB; the limit is {DEFAULT_MAX_BYTES / 2**20:,.0f} MB. "
            "Upload a sample of the rows, or use the command line for larger files."
        )
    return None


# ---------------------------------------------------------------- what was loaded


def show_load_report(data: Dataset) -> None:
    report = data.table.report
    lines = report.summary()
    st.success(md(lines[0]))
    if len(report.sheets) > 1:
        listing = ", ".join(f"{position}. {name}" for position, name in enumerate(report.sheets, start=1))
        st.caption(
            md(
                f"Sheets in this workbook: {listing}. To read another, enter its name or number in "
                "'Excel sheet' under Reading options."
            )
        )
    changes = [md(line) for line in lines[1:] if line not in report.warnings]
    if changes:
        st.markdown("\n".join(f"- {line}" for line in changes))
    for warning in report.warnings:
        st.warning(md(warning))


def show_table(data: Dataset) -> None:
    df = data.table.data
    with st.expander(f"Preview: first {min(len(df), 1000):,} of {len(df):,} rows", expanded=False):
        st.dataframe(df.head(1000), key="preview")
    suggestion = cached.suggestion(data.sha256, df)
    rows = []
    for profile in cached.profiles(data.sha256, df):
        rows.append(
            {
                "column": profile.name,
                "type": profile.kind,
                "distinct": profile.distinct,
                "missing": profile.missing,
                "most common values": ", ".join(v for v, _ in profile.top_values),
                "suggested role": suggestion.role_of(profile.name),
                "why": suggestion.reason_of(profile.name),
            }
        )
    st.subheader("Columns")
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="profile")


# ---------------------------------------------------------------- roles


def role_widget_values(spec: AuditSpec | None, df: pd.DataFrame) -> dict[str, object]:
    """Widget values that show ``spec`` (or empty roles when there is none)."""
    columns = [str(c) for c in df.columns]
    if spec is None:
        return {
            W.DECISION: NONE,
            W.POSITIVE: [],
            W.FAVORABLE: True,
            W.LABEL: NONE,
            W.LABEL_POSITIVE: [],
            W.SCORE: NONE,
            W.THRESHOLD: 0.5,
            W.PROTECTED: [],
            W.IDS: [],
            W.PII: [],
            W.MIN_GROUP: 30,
            W.FEATURES: columns,
        }
    protected = [a.column for a in spec.protected if a.column in columns]
    values: dict[str, object] = {
        W.DECISION: spec.decision if spec.decision in columns else NONE,
        W.POSITIVE: [value_key(v) for v in spec.positive],
        W.FAVORABLE: spec.positive_is_favorable,
        W.LABEL: spec.label if spec.label in columns else NONE,
        W.LABEL_POSITIVE: [value_key(v) for v in spec.label_positive],
        W.SCORE: spec.score if spec.score in columns else NONE,
        W.THRESHOLD: spec.threshold if spec.threshold is not None else 0.5,
        W.PROTECTED: protected,
        W.IDS: [c for c in spec.id_columns if c in columns],
        W.PII: [c for c in spec.pii_columns if c in columns],
        W.MIN_GROUP: spec.min_group_size,
    }
    values[W.FEATURES] = list(spec.feature_columns(columns))
    for attr in spec.protected:
        values[W.bins(attr.column)] = ", ".join(f"{b:g}" for b in attr.bins) if attr.bins else ""
        values[W.reference(attr.column)] = attr.reference or DEFAULT_REFERENCE
    return values


def init_roles(data: Dataset) -> None:
    """Fill the role widgets from the suggestion the first time a dataset is shown."""
    restored = state.pop_queued_roles()  # a spec restored elsewhere (the Report page's resume)
    if restored is not None:
        state.set_widgets(role_widget_values(restored, data.table.data))
        state.mark_roles_initialised(data.key)
        return
    if state.roles_initialised_for() == data.key:
        return
    suggestion = cached.suggestion(data.sha256, data.table.data)
    state.set_widgets(role_widget_values(suggestion.spec, data.table.data))
    state.mark_roles_initialised(data.key)


def load_saved_spec(data: Dataset) -> None:
    file = st.file_uploader("Load a saved spec (JSON)", type=["json"], key=W.SPEC_UPLOAD)
    if file is None or state.spec_file_applied() == file.file_id:
        return
    try:
        spec = AuditSpec.from_json(file.getvalue())
    except ParityLabError as exc:
        st.error(md(f"Could not read '{file.name}': {exc}"))
        return
    state.set_widgets(role_widget_values(spec, data.table.data))
    state.mark_spec_file_applied(file.file_id)
    st.success(md(f"Loaded the spec from '{file.name}'. Check the roles below and confirm."))
    other_data = dataset_mismatch(spec, data.sha256, dataset_name=data.name)
    if other_data is not None:
        st.warning(md(other_data.text))


def reset_positive(column_key: str, positive_key: str, df: pd.DataFrame) -> None:
    """When the decision (or label) column changes, preselect its likely positive values."""
    column = state.get(column_key)
    values = distinct_keys(df[column]) if column in df.columns else []
    state.set_widgets({positive_key: positive_values(values)[:MAX_PICKABLE_VALUES]})


def keep_valid(key: str, options: list[str]) -> None:
    """Drop selections that are no longer options (e.g. after another column was chosen)."""
    selected = state.get(key) or []
    state.set_widgets({key: [v for v in selected if v in options]})


def outcome_picker(df: pd.DataFrame, columns: list[str], role: tuple[str, str], labels: tuple[str, str, str]) -> str:
    """A column selectbox and, once a column is chosen, a picker for its positive values."""
    column_key, positive_key = role
    column_label, column_help, positive_label = labels
    st.selectbox(
        column_label,
        [NONE, *columns],
        key=column_key,
        **KEEP,
        on_change=reset_positive,
        args=(column_key, positive_key, df),
        help=column_help,
    )
    column = state.get(column_key)
    if column != NONE:
        options = distinct_keys(df[column])[:MAX_PICKABLE_VALUES]
        keep_valid(positive_key, options)
        st.multiselect(positive_label, options, key=positive_key, **KEEP)
    return column


def outcome_inputs(df: pd.DataFrame, columns: list[str]) -> None:
    left, right = st.columns(2)
    with left:
        decision = outcome_picker(
            df,
            columns,
            (W.DECISION, W.POSITIVE),
            (
                "Decision column",
                "The decision being audited: approved, priority, escalated, ...",
                "Values that mean the positive decision",
            ),
        )
        if decision != NONE:
            st.checkbox(
                "The positive decision benefits the person (an approval, a higher priority)",
                key=W.FAVORABLE,
                **KEEP,
                help="Untick it when the positive decision harms the person, e.g. 'flagged as high risk'.",
            )
    with right:
        outcome_picker(
            df,
            columns,
            (W.LABEL, W.LABEL_POSITIVE),
            (
                "Label column (the true outcome, optional)",
                "What really happened (repaid, truly urgent). Needed for error-rate metrics such as TPR and FPR.",
                "Values that mean the positive outcome",
            ),
        )
        numeric = [c for c in columns if pd.api.types.is_numeric_dtype(df[c].dtype)]
        st.selectbox(
            "Score column (optional; higher = more likely positive)",
            [NONE, *numeric],
            key=W.SCORE,
            **KEEP,
        )
        if state.get(W.SCORE) != NONE and decision == NONE:
            st.number_input(
                "Threshold: scores at or above it are positive decisions", key=W.THRESHOLD, **KEEP, step=0.05
            )


def protected_inputs(data: Dataset, columns: list[str]) -> None:
    df = data.table.data
    st.multiselect(
        "Protected attributes", columns, key=W.PROTECTED, **KEEP, help="gender, age, ethnicity, language, ..."
    )
    for column in state.get(W.PROTECTED) or []:
        numeric = pd.api.types.is_numeric_dtype(df[column].dtype) and not pd.api.types.is_bool_dtype(df[column])
        cols = st.columns(2)
        bins: tuple[float, ...] | None = None
        if numeric:
            with cols[0]:
                st.text_input(
                    f"Bin edges for {md(column)} (e.g. 25, 40, 60; empty = one group per value)",
                    key=W.bins(column),
                    **KEEP,
                )
            bins = parse_bins(state.get(W.bins(column)) or "")
        groups = group_labels(data, column, bins)
        options = [DEFAULT_REFERENCE, *groups]
        if state.get(W.reference(column)) not in options:
            state.set_widgets({W.reference(column): DEFAULT_REFERENCE})
        with cols[1]:
            st.selectbox(f"Reference group for {md(column)}", options, key=W.reference(column), **KEEP)


def group_labels(data: Dataset, column: str, bins: tuple[float, ...] | None) -> list[str]:
    try:
        return list(cached.group_sizes(data.sha256, column, bins, data.table.data[column]))
    except ParityLabError:
        return []


def parse_bins(text: str) -> tuple[float, ...] | None:
    """Bin edges typed as '25, 40, 60'; None when empty or not numbers (the spec check says why)."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if not parts:
        return None
    try:
        return tuple(float(p) for p in parts)
    except ValueError:
        return None


def other_inputs(columns: list[str]) -> None:
    with st.expander("Features, identifiers and personal data"):
        st.multiselect("Identifier columns (never used as features)", columns, key=W.IDS, **KEEP)
        st.multiselect("Personal data (PII) columns (never used as features or exported)", columns, key=W.PII, **KEEP)
        taken = {state.get(W.DECISION), state.get(W.LABEL), state.get(W.SCORE), *(state.get(W.PROTECTED) or [])}
        taken |= set(state.get(W.IDS) or []) | set(state.get(W.PII) or [])
        options = [c for c in columns if c not in taken]
        keep_valid(W.FEATURES, options)
        st.multiselect("Features that may explain decisions", options, key=W.FEATURES, **KEEP)
        st.number_input("Minimum group size to draw conclusions", min_value=1, step=1, key=W.MIN_GROUP, **KEEP)


def typed(values: list[str], series: pd.Series) -> list[object]:
    """Picked values in the column's own type, so the saved spec reads naturally (1, not '1')."""
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        return list(values)
    return [float(v) if any(ch in v for ch in ".eE") else int(v) for v in values]


def spec_from_widgets(df: pd.DataFrame) -> AuditSpec:
    """The spec the widgets describe (raises SpecError when it is malformed)."""
    decision = none_to_null(state.get(W.DECISION))
    label = none_to_null(state.get(W.LABEL))
    score = none_to_null(state.get(W.SCORE))
    protected = []
    for column in state.get(W.PROTECTED) or []:
        reference = state.get(W.reference(column))
        protected.append(
            ProtectedAttribute(
                column,
                bins=parse_bins(state.get(W.bins(column)) or ""),
                reference=None if reference in (None, DEFAULT_REFERENCE) else reference,
            )
        )
    return AuditSpec(
        decision=decision,
        positive=typed(state.get(W.POSITIVE) or [], df[decision]) if decision else (),
        positive_is_favorable=bool(state.get(W.FAVORABLE, True)),
        label=label,
        label_positive=typed(state.get(W.LABEL_POSITIVE) or [], df[label]) if label else (),
        score=score,
        threshold=float(state.get(W.THRESHOLD)) if score and not decision else None,
        protected=tuple(protected),
        features=tuple(state.get(W.FEATURES) or ()),
        id_columns=tuple(state.get(W.IDS) or ()),
        pii_columns=tuple(state.get(W.PII) or ()),
        min_group_size=int(state.get(W.MIN_GROUP) or 30),
    )


def none_to_null(value: str | None) -> str | None:
    return None if value in (None, NONE) else value


def show_problems(check: SpecValidation) -> None:
    for problem in check.errors:
        st.error(md(problem.text))
    for problem in check.warnings:
        st.warning(md(problem.text))
    if check.ok and not check.warnings:
        st.success("No problems found: the spec fits this table.")


def roles_section(data: Dataset) -> None:
    df = data.table.data
    columns = [str(c) for c in df.columns]
    st.subheader("Column roles")
    notes = cached.suggestion(data.sha256, df).notes
    st.caption(
        "Suggested from the column names and values (see 'why' above); change anything that is wrong, then confirm."
    )
    for note in notes:
        st.info(md(note))
    for role in cached.suggestion(data.sha256, df).roles:
        if role.role == "pii":
            st.warning(
                md(f"Column '{role.column}' looks like personal data ({role.reason.removeprefix('personal data: ')}).")
                + " Personal data is never used to explain decisions and is left out of exports; "
                "keep it in the PII list below unless it is not personal."
            )
    load_saved_spec(data)
    outcome_inputs(df, columns)
    protected_inputs(data, columns)
    other_inputs(columns)
    try:
        spec = spec_from_widgets(df)
    except ParityLabError as exc:
        st.error(md(str(exc)))
        return
    check = cached.validation(data.sha256, spec.to_json(), df)
    show_problems(check)
    # A callback runs before the next script run, so the sidebar (drawn first) already shows the new spec.
    st.button(
        "Confirm roles", key=W.CONFIRM, type="primary", disabled=not check.ok, on_click=state.set_spec, args=(spec,)
    )
    confirmed = state.spec()
    if confirmed == spec:
        st.success("These roles are confirmed for the audit.")
    elif confirmed is not None:
        st.info("The roles above differ from the confirmed ones; confirm to use them.")
    st.download_button(
        "Download spec (JSON)",
        # It records the data's hash, so loading it on other data later says so.
        replace(spec, dataset_sha256=data.sha256).to_json(),
        file_name="paritylab-spec.json",
        mime="application/json",
        key="spec_download",
    )


# ---------------------------------------------------------------- page


st.title("Data")
st.write(
    "Load the decisions to audit: a sample, or your own file. Everything stays in this browser session's "
    "memory on this machine; nothing is uploaded anywhere else or written to disk."
)
choose_dataset()
error = state.load_error()
if error:
    st.error(md(error))
current = state.dataset()
if current is None:
    st.stop()
if error:
    st.caption(md(f"Still working with '{current.name}'."))
st.subheader(md(current.name))
show_load_report(current)
show_table(current)
init_roles(current)
roles_section(current)
