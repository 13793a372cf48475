"""Data page: pick a sample or upload a file, read what the loader did, confirm column roles."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import PurePath

import pandas as pd
import streamlit as st

from analysis import AuditSpec, ParityLabError, ProtectedAttribute, SpecValidation
from analysis.loading import DEFAULT_MAX_BYTES
from analysis.options import MIN_GROUP_SIZE
from analysis.ordering import ValueOrder, decision_order, order_values, recognize_order
from analysis.suggest import RoleDraft, positive_values
from analysis.validation import dataset_mismatch
from analysis.values import distinct_keys, value_key
from ui import cached, samples, state
from ui.local import local_paths_allowed
from ui.roles import roles_that_apply
from ui.state import Dataset, W
from ui.text import md, say

SAMPLE_SOURCE, UPLOAD_SOURCE, PATH_SOURCE = "Sample dataset", "Upload a file", "Open a file or folder on this computer"
PATH_LABEL = "Path of a file, folder or DuckDB database on this computer"
PATH_HELP = (
    "A Parquet or CSV file, a folder of them (every file in it, read as one table), a glob such as "
    "/data/decisions/*.parquet, or a DuckDB database file with its table after a colon "
    "(/data/audit.duckdb:decisions; a database of one table needs none). DuckDB reads it where it is: nothing is "
    "copied or uploaded, and there is no size limit. A sample of its rows is shown here; the audit counts every row."
)
PATH_PLACEHOLDER = "/data/decisions/  or  /data/decisions/*.parquet  or  /data/audit.duckdb:decisions"
UPLOAD_TYPES = ("csv", "tsv", "txt", "psv", "gz", "zip", "parquet", "xlsx", "xlsm", "xls", "xlsb", "ods")
NA_CHOICES = ("NA", "?", "-", "none", "unknown")
NONE = "(none)"
DEFAULT_REFERENCE = "(default: highest favourable rate)"
MAX_PICKABLE_VALUES = 200
MERGE_VARIANTS_LABEL = "Merge values that differ only in case, spaces or invisible characters"
MERGE_VARIANTS_HELP = (
    "Counts 'Yes', 'yes' and 'YES' (or 'Zoë' typed two ways) as one value of the decision, the label and each "
    "protected attribute, spelled as its most frequent spelling. The checks below list every merge."
)
NO_OUTCOME = (
    "Choose the column that holds the decision in 'Decision column' (or, without one, a column in 'Score column' "
    "and its threshold): the audit compares how often each group gets the positive decision."
)
# Streamlit forgets a widget's value when its page is left; the roles must survive a visit to another page.
KEEP = {"persist_state": "session"}
# The spec fields the form has controls for (the threshold only without a decision column). Every other field,
# and every other field of a protected attribute, is kept from the loaded spec as it is (see kept_fields).
FORM_FIELDS = frozenset(
    {
        "decision",
        "positive",
        "positive_is_favorable",
        "label",
        "label_positive",
        "score",
        "threshold",
        "protected",
        "features",
        "id_columns",
        "pii_columns",
        "min_group_size",
        "merge_variants",
        "decision_order",
    }
)
ATTRIBUTE_FORM_FIELDS = frozenset({"column", "bins", "quantiles", "reference"})
DROP_KEPT_LABEL = "Drop the kept settings"
CHANGED_INTRO = (
    "Not all of the loaded spec fits this table, so the form below differs from it; check before you confirm: "
)
SHOWN_CHARS = 120
KEPT_INTRO = "Kept from the loaded spec (this page has no control for them; confirming keeps them): "
WIDE_TABLE = "Long cells are cut short: drag a column header's edge to widen it, or scroll the table sideways."
ORDER_LABEL = "Order of the decision values, lowest first"
ORDER_HELP = (
    "Ordered values (Low < Medium < High, P4 < P3 < P2 < P1) are listed in this order in the pickers, the charts and "
    "the report. To change it, clear the box and pick every value again, lowest first; leave it empty when the "
    "values have no order."
)


# ---------------------------------------------------------------- choosing the data


def choose_dataset() -> None:
    sources = [SAMPLE_SOURCE, UPLOAD_SOURCE, *([PATH_SOURCE] if local_paths_allowed() else [])]
    if state.get(W.SOURCE) not in sources:  # e.g. a path chosen before the app was shared on a network
        state.set_widgets({W.SOURCE: SAMPLE_SOURCE})
    st.radio("Data source", sources, key=W.SOURCE, **KEEP, horizontal=True)
    if state.get(W.SOURCE) == UPLOAD_SOURCE:
        upload_file()
    elif state.get(W.SOURCE) == PATH_SOURCE:
        open_by_path()
    else:
        title = st.selectbox("Sample dataset", list(cached.SAMPLES), key=W.SAMPLE, **KEEP)
        current = state.dataset()
        if current is None or current.key != f"sample:{title}":
            state.set_dataset(Dataset(cached.load_sample(title), "sample", f"sample:{title}"))
        sample_story(title)


def sample_story(title: str) -> None:
    """What bias was injected into the sample, how large, and what to look for (from its data card)."""
    story = samples.sample_story(title)
    st.info("**The story of this sample.** " + md(f"The bias injected on purpose: {story.mechanism}. {story.hint}"))
    with st.expander("The injected bias and its size (from the data card, sample_data/README.md)"):
        st.markdown(story.injected)  # the data card's own Markdown
        st.dataframe(
            pd.DataFrame(
                [(e.name, e.true_size, f"{e.committed:.3f} ± {e.se:.3f}") for e in story.effects],
                columns=["effect", "true size", "in this file ± SE"],
            ),
            hide_index=True,
            key=W.SAMPLE_STORY,
        )
        st.caption(
            "True size: the generating process's value, measured on a 2,000,000-row run; in this file: the value "
            "measured in the bundled CSV, with its standard error. Definitions are in the data card."
        )


def reading() -> state.Reading:
    """The reading options set on the page (their widgets are drawn after the file is read, see upload_file)."""
    return state.Reading(tuple(state.get(W.NA_VALUES) or ()), (state.get(W.SHEET) or "").strip() or None)


def reading_options(has_file: bool) -> None:
    with st.expander("Reading options"):
        if not has_file:
            st.caption("They apply to the file you upload next, and read it again whenever you change them.")
        na_values_input()
        sheets = workbook_sheets()
        if len(sheets) > 1:
            if state.get(W.SHEET) not in sheets:  # "the first sheet": name the one that was read
                state.set_widgets({W.SHEET: state.dataset().table.report.sheet or sheets[0]})
            st.selectbox("Excel sheet", sheets, key=W.SHEET, **KEEP, help="The workbook's sheets, in its order.")
        else:
            st.text_input("Excel sheet (name or number; empty = the first sheet)", key=W.SHEET, **KEEP)


def na_values_input() -> None:
    st.multiselect(
        "Also treat these spellings as missing in every column",
        NA_CHOICES,
        key=W.NA_VALUES,
        **KEEP,
        help="Empty cells, N/A, null and NaN are always missing. NA, ? and - are missing only in numeric "
        "columns, because in text columns they can be real values (NA is Namibia's country code).",
    )


def workbook_sheets() -> list[str]:
    """The sheets of the kept upload when it is the loaded dataset and a workbook (else none)."""
    current, kept = state.dataset(), state.upload()
    if kept is None or not is_upload(current, kept):
        return []
    return [str(s) for s in getattr(current.table.report, "sheets", ())]


def new_upload_chosen() -> None:
    """A newly uploaded file starts on its first sheet (a sheet name of the previous workbook would not exist)."""
    if state.get(W.UPLOAD) is not None:
        state.set_widgets({W.SHEET: ""})


def upload_file() -> None:
    # Drawn above the uploader but filled last: the sheet control lists the sheets of the file read in this run.
    options = st.container()
    file = st.file_uploader(
        "Upload a decisions file (CSV, TSV, pipe-delimited, .gz, .zip, Parquet, Excel or OpenDocument; up to 200 MB)",
        # No type= filter: Streamlit raises on a disallowed type before this script can answer;
        # upload_problem() checks type and size here instead, with a message.
        key=W.UPLOAD,
        on_change=new_upload_chosen,
    )
    if local_paths_allowed():  # the uploader refuses a bigger file in the browser, before this script sees it
        limit = f"{DEFAULT_MAX_BYTES / 2**20:,.0f} MB"
        st.caption(f"Bigger than {limit}? Open it by its path instead: choose '{PATH_SOURCE}' above.")
    kept = take_upload(file)
    if kept is not None:
        read_upload(kept, reading())
    with options:
        reading_options(kept is not None)
    if kept is None:
        st.info("Choose a file to upload. Until then the current dataset stays loaded.")
    else:
        show_loaded(kept)


def open_by_path() -> None:
    """The path box: a file, folder, glob or DuckDB database on this machine, read by DuckDB (local runs only)."""
    st.text_input(PATH_LABEL, key=W.PATH, **KEEP, placeholder=PATH_PLACEHOLDER, help=PATH_HELP)
    with st.expander("Reading options"):
        st.caption("They read the path again whenever you change them.")
        na_values_input()
    location = (state.get(W.PATH) or "").strip()
    if not location:
        st.info("Type a path and press Enter. Until then the current dataset stays loaded.")
        return
    options = state.Reading(tuple(state.get(W.NA_VALUES) or ()))
    read_path(location, options)
    current = state.dataset()
    if current is not None and current.key == path_key(location, options):
        st.button(
            "Read it again",
            key=W.PATH_REREAD,
            on_click=state.read_path_again,
            help="Reads the files again, e.g. after they changed on disk (every result is recomputed from them).",
        )


def path_key(location: str, options: state.Reading) -> str:
    return f"path:{location}:{options.key()}"


def read_path(location: str, options: state.Reading) -> None:
    """Open ``location`` with DuckDB and ``options`` unless it is the loaded dataset already (or failed as it is)."""
    key = path_key(location, options)
    current = state.dataset()
    again = state.take_read_path_again()
    if not again and ((current is not None and current.key == key) or state.failed_read() == key):
        return
    try:
        with st.spinner("Reading the source and a sample of its rows with DuckDB…"):
            table = cached.open_path(location, options)
    except ParityLabError as exc:
        state.set_load_error(md(f"Could not open the path in '{PATH_LABEL}':") + " " + say(exc), read=key)
        return
    state.set_dataset(Dataset(table, "path", key, options, engine="duckdb", location=location))


def sample_statement(data: Dataset) -> str:
    """What the page shows of a source read by DuckDB, and what the audit counts."""
    shown = len(data.table.data)
    if shown < data.rows:
        return (
            f"Showing a sample of {shown:,} of {data.rows:,} rows; the audit counts every row with DuckDB. The "
            "preview and the suggested roles are read from the sample; the column profiles count every row."
        )
    return f"Showing all {data.rows:,} rows; the audit counts them with DuckDB."


def take_upload(file) -> state.Upload | None:
    """The upload to read: a new file (kept in session state, after the server-side checks) or the kept one."""
    kept = state.upload()
    if file is None or file.file_id == state.forgotten_file() or (kept is not None and kept.file_id == file.file_id):
        return kept
    problem = upload_problem(file.name, file.size)
    if problem:
        state.set_load_error(md(problem))
        return kept
    # The uploader forgets the file when the user visits another page: keep the bytes (only this upload's)
    # so that the file stays named here and a reading option can read it again.
    kept = state.Upload(file.name, file.getvalue(), file.file_id)
    state.keep_upload(kept)
    return kept


def read_upload(kept: state.Upload, reading: state.Reading) -> None:
    """Read the kept upload with ``reading`` unless the loaded dataset is that reading already."""
    key = f"upload:{kept.file_id}:{reading.key()}"
    current = state.dataset()
    if current is not None and (current.key == key or read_as(current, kept, reading)):
        return
    if state.failed_read() == key:
        return  # its message is shown; parsing it again would fail again
    try:
        table = cached.load_upload(kept, reading)
    except ParityLabError as exc:
        state.set_load_error(say(exc), read=key)
        return
    new = Dataset(table, "upload", key, reading)
    roles = None
    if current is not None and current.sha256 == new.sha256 and state.roles_initialized_for() == current.key:
        roles = widget_spec(current.table.data)  # what the widgets show, on the reading they were chosen on
    loaded = state.loaded_spec() is not None
    state.set_dataset(new)
    if roles is not None:
        keep_widget_roles(roles, new, loaded=loaded)


def read_as(current: Dataset, kept: state.Upload, reading: state.Reading) -> bool:
    """Whether ``current`` is ``kept`` read with ``reading`` (a sheet named or read as "the first sheet")."""
    if not is_upload(current, kept) or reading.na_values != current.reading.na_values:
        return False
    if reading.sheet is None:
        return current.reading.sheet is None
    return reading.sheet in (current.reading.sheet, current.table.report.sheet)


def is_upload(data: Dataset | None, kept: state.Upload) -> bool:
    """Whether ``data`` was read from the kept upload."""
    return data is not None and data.key.startswith(f"upload:{kept.file_id}:")


def widget_spec(df: pd.DataFrame) -> AuditSpec | None:
    """The roles the widgets show, read against the table they were chosen on (None when incomplete)."""
    try:
        return spec_from_widgets(df)
    except (ParityLabError, KeyError, ValueError):
        return None


def keep_widget_roles(roles: AuditSpec, data: Dataset, *, loaded: bool) -> None:
    """After a new reading of the same file, keep the roles in the widgets that still apply (say which do not).

    ``loaded``: the roles came from a loaded spec, whose fields without a control stay kept.
    """
    kept, dropped = roles_that_apply(roles, data.table.data)
    if kept is None:
        return  # nothing of the outcome is left: the roles are suggested afresh for this table
    state.set_widgets(role_widget_values(kept, data.table.data))
    state.mark_roles_initialized(data.key)
    if loaded:
        state.keep_loaded_spec(kept)
    if dropped:
        state.add_reread_note("These roles no longer apply and were removed: " + "; ".join(dropped) + ".")


def show_loaded(kept: state.Upload) -> None:
    """Name the kept upload and whether it is the loaded dataset, and offer to forget it."""
    # Counted as the uploader's file chip counts them (1 KB = 1,000 bytes), so both show the same size.
    size = f"{kept.size / 1e6:,.1f} MB" if kept.size >= 1e6 else f"{max(kept.size / 1e3, 0.1):,.1f} KB"
    if is_upload(state.dataset(), kept):
        text = f"Loaded: **{md(kept.name)}** ({size}, kept in this session's memory; the reading options read it again)"
    else:
        text = f"Not loaded: **{md(kept.name)}** ({size}); see the message below"
    left, right = st.columns([4, 1], vertical_alignment="center")
    left.markdown(text)
    right.button(
        "Forget this file",
        key=W.FORGET_UPLOAD,
        on_click=state.forget_file,
        args=(kept.file_id,),
        help="Removes the file and everything computed from it from this session; the app reopens its sample.",
    )


BIGGER_LOCAL = (
    f"Open it by its path instead: choose '{PATH_SOURCE}' under Data source above; DuckDB reads it where it is, "
    "without this limit, and the audit counts every row."
)
BIGGER_SHARED = (
    "Upload a sample of the rows, or audit the whole file on your own machine: "
    "python -m analysis audit FILE --engine duckdb (or run the app there and open the file by its path)."
)


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
            + (BIGGER_LOCAL if local_paths_allowed() else BIGGER_SHARED)
        )
    return None


# ---------------------------------------------------------------- what was loaded


def show_load_report(data: Dataset) -> None:
    report = data.table.report
    lines = report.summary()
    st.success(md(lines[0]))
    if data.sampled:
        st.info(sample_statement(data), icon=":material/database:")
    if len(report.sheets) > 1:
        listing = ", ".join(f"{position}. {name}" for position, name in enumerate(report.sheets, start=1))
        st.caption(
            md(
                f"Sheets in this workbook: {listing}. To read another, choose it in 'Excel sheet' under "
                "Reading options."
            )
        )
    changes = [md(line) for line in report.change_lines()]  # one line for a change made in many columns
    if changes:
        st.markdown("\n".join(f"- {line}" for line in changes))
    for warning in report.warnings:  # a Notice names the reading option that fixes it
        st.warning(say(warning))


def show_table(data: Dataset) -> None:
    df = data.table.data
    of = f"{len(df):,} sampled rows" if data.sampled else f"{len(df):,} rows"
    with st.expander(f"Preview: first {min(len(df), 1000):,} of {of}", expanded=False):
        st.dataframe(df.head(1000), key="preview")
    suggestion = cached.suggestion(data.data_key, df)
    rows = []
    if data.sampled:  # the profiles count every row; the suggestion reads the sample
        profiles = cached.source_profiles(data.data_key, data.location, df)
    else:
        profiles = cached.profiles(data.data_key, df)
    for profile in profiles:
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
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        key="profile",
        column_config={
            "column": st.column_config.TextColumn(pinned=True),
            "most common values": st.column_config.TextColumn(width="medium"),
            "why": st.column_config.TextColumn(width="large"),
        },
    )
    st.caption(WIDE_TABLE)


# ---------------------------------------------------------------- roles


def role_widget_values(spec: AuditSpec | RoleDraft | None, df: pd.DataFrame) -> dict[str, object]:
    """Widget values that show ``spec`` or a suggestion's draft of roles (empty roles when there is none)."""
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
            W.MIN_GROUP: MIN_GROUP_SIZE,
            W.FEATURES: columns,
            W.MERGE_VARIANTS: False,
            W.DECISION_ORDER: [],
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
        W.MERGE_VARIANTS: spec.merge_variants,
        W.DECISION_ORDER: order_widget_value(spec, df),
    }
    values[W.FEATURES] = list(spec.feature_columns(columns))
    for attr in spec.protected:
        values[W.bins(attr.column)] = ", ".join(f"{b:g}" for b in attr.bins) if attr.bins else ""
        values[W.quantiles(attr.column)] = attr.quantiles or 0
        values[W.reference(attr.column)] = attr.reference or DEFAULT_REFERENCE
    return values


def order_widget_value(spec: AuditSpec | RoleDraft, df: pd.DataFrame) -> list[str]:
    """The order control's value for ``spec``: its decision's order in use (the spec's, or the recognised one)."""
    if spec.decision not in df.columns:
        return []
    order = decision_order(getattr(spec, "decision_order", None), distinct_keys(df[spec.decision]))
    return list(order.values) if order is not None else []


def init_roles(data: Dataset) -> None:
    """Fill the role widgets from the suggestion the first time a dataset is shown."""
    restored = state.pop_queued_roles()  # a spec restored elsewhere (the Report page's resume)
    if restored is not None:
        state.set_widgets(role_widget_values(restored, data.table.data))
        state.mark_roles_initialized(data.key)
        state.keep_loaded_spec(restored)
        return
    if state.roles_initialized_for() == data.key:
        return
    state.forget_loaded_spec()
    suggestion = cached.suggestion(data.data_key, data.table.data)
    # Without a decision or score there is no spec, but every role that was recognised still fills the form.
    state.set_widgets(role_widget_values(suggestion.spec or suggestion.draft, data.table.data))
    state.mark_roles_initialized(data.key)


def load_saved_spec(data: Dataset) -> bool:
    """The spec upload control; True in the run that fills the form from a newly uploaded spec."""
    file = st.file_uploader("Load a saved spec (JSON)", type=["json"], key=W.SPEC_UPLOAD)
    if file is None or state.spec_file_applied() == file.file_id:
        return False
    try:
        spec = AuditSpec.from_json(file.getvalue())
    except ParityLabError as exc:
        st.error(md(f"Could not read '{file.name}':") + " " + say(exc))
        return False
    state.set_widgets(role_widget_values(spec, data.table.data))
    state.keep_loaded_spec(spec)
    state.mark_spec_file_applied(file.file_id)
    # A spec made on other data is warned about below, with the other checks, while its hash is kept.
    st.success(md(f"Loaded the spec from '{file.name}'. Check the roles below and confirm."))
    return True


def show_changed(loaded: AuditSpec | None, spec: AuditSpec) -> None:
    """Name each field of the just loaded spec that the form could not show as it is (a column or value that this
    table lacks, a feature that has another role): the form's spec differs there."""
    if loaded is None:
        return
    before, after = loaded.to_dict(), spec.to_dict()
    changed = [
        f"{name} {shown(before[name])} became {shown(after[name])}" for name in before if before[name] != after[name]
    ]
    if changed:
        st.warning(md(CHANGED_INTRO + "; ".join(changed) + "."))


def shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def reset_positive(column_key: str, positive_key: str, df: pd.DataFrame) -> None:
    """When the decision (or label) column changes, preselect its likely positive values."""
    column = state.get(column_key)
    values = distinct_keys(df[column]) if column in df.columns else []
    state.set_widgets({positive_key: positive_values(values)[:MAX_PICKABLE_VALUES]})
    if column_key == W.DECISION:  # the new decision's own order, if its values have one
        order = recognize_order(values) if len(values) <= MAX_PICKABLE_VALUES else None
        state.set_widgets({W.DECISION_ORDER: list(order.values) if order is not None else []})


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
        if column_key == W.DECISION:
            options = order_values(options, form_order())
        keep_valid(positive_key, options)
        st.multiselect(positive_label, options, key=positive_key, **KEEP)
    return column


def form_order() -> ValueOrder | None:
    """The decision order the order control shows (values it leaves out follow, most frequent first)."""
    picked = tuple(state.get(W.DECISION_ORDER) or ())
    return ValueOrder(picked, "picked") if picked else None


def order_input(series: pd.Series) -> None:
    """The control for the order of the decision values, and what the page recognised or suggested from it."""
    values = distinct_keys(series)
    recognised = recognize_order(values) if len(values) <= MAX_PICKABLE_VALUES else None
    keep_valid(W.DECISION_ORDER, values)
    if len(values) <= 2 and recognised is None and not state.get(W.DECISION_ORDER):
        return  # two values without an order: nothing to order
    if len(values) > MAX_PICKABLE_VALUES:
        return
    options = order_values(values, recognised)
    st.multiselect(ORDER_LABEL, options, key=W.DECISION_ORDER, placeholder="not ordered", help=ORDER_HELP, **KEEP)
    picked = tuple(state.get(W.DECISION_ORDER) or ())
    if recognised is not None and picked == recognised.values:
        note = f"Recognised from the values as {recognised.how}: {recognised.shown()}."
        positive = tuple(state.get(W.POSITIVE) or ())
        suggested = tuple(positive_values(values))
        top = recognised.top(len(positive))
        if positive and set(positive) == set(top) and set(suggested) == set(top):
            levels = "level" if len(top) == 1 else f"{len(top)} levels"
            note += f" The suggested positive values are its top {levels}: {', '.join(top)}."
    elif picked and len(picked) < len(values):
        note = "Pick every value, lowest first, or clear the box when the values have no order."
    elif picked:
        note = "Your order: " + " < ".join(picked) + "."
    elif recognised is not None:
        note = f"Not ordered (the values look ordered, {recognised.shown()}; pick them to order them again)."
    else:
        note = "No order recognised: the values are listed most frequent first. Pick them lowest first to order them."
    st.caption(md(note))


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
                # Short enough for one line in half the page at 1280 px: the examples are in the help.
                "The positive decision benefits the person",
                key=W.FAVORABLE,
                **KEEP,
                help="Ticked for an approval or a higher priority. Untick it when the positive decision harms the "
                "person, e.g. 'flagged as high risk'.",
            )
            order_input(df[decision])
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
        cols = st.columns(3)  # bins, quantiles, reference: aligned for every attribute
        bins: tuple[float, ...] | None = None
        quantiles: int | None = None
        # A text column gets the binning controls only when a loaded spec bins it, so that it can be undone.
        if numeric or state.get(W.bins(column)) or parse_quantiles(column):
            with cols[0]:
                st.text_input(
                    f"Bin edges for {md(column)} (e.g. 25, 40, 60; empty = one group per value)",
                    key=W.bins(column),
                    **KEEP,
                )
            with cols[1]:
                st.number_input(
                    f"Or equal-size groups for {md(column)} (quantiles; 0 = none)",
                    min_value=0,
                    step=1,
                    key=W.quantiles(column),
                    **KEEP,
                    help="Cuts the column at its quantiles into this many groups of about the same number of rows.",
                )
            bins, quantiles = parse_bins(state.get(W.bins(column)) or ""), parse_quantiles(column)
        options = [DEFAULT_REFERENCE, *group_labels(data, column, bins, quantiles)]
        chosen = state.get(W.reference(column))
        if chosen is None:
            state.set_widgets({W.reference(column): DEFAULT_REFERENCE})
        elif chosen not in options:
            options.append(chosen)  # kept, not dropped: the checks below say it is not a group and what to pick
        with cols[-1]:
            st.selectbox(f"Reference group for {md(column)}", options, key=W.reference(column), **KEEP)


def group_labels(data: Dataset, column: str, bins: tuple[float, ...] | None, quantiles: int | None) -> list[str]:
    try:
        return list(cached.groups_of(data, column, bins, quantiles))
    except ParityLabError:
        return []


def parse_quantiles(column: str) -> int | None:
    """The number of equal-size groups set for ``column`` (None for 0, the control's "none")."""
    return int(state.get(W.quantiles(column)) or 0) or None


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
    """The spec the widgets describe, with the loaded spec's fields they have no control for (raises SpecError
    when it is malformed)."""
    loaded = state.loaded_spec()
    decision = none_to_null(state.get(W.DECISION))
    label = none_to_null(state.get(W.LABEL))
    score = none_to_null(state.get(W.SCORE))
    if score and not decision:
        threshold = float(state.get(W.THRESHOLD))
    else:  # the control is shown only when the score makes the decision
        threshold = loaded.threshold if loaded is not None else None
    features = tuple(state.get(W.FEATURES) or ())
    spec = AuditSpec(
        decision=decision,
        positive=typed(state.get(W.POSITIVE) or [], df[decision]) if decision else (),
        positive_is_favorable=bool(state.get(W.FAVORABLE, True)),
        label=label,
        label_positive=typed(state.get(W.LABEL_POSITIVE) or [], df[label]) if label else (),
        score=score,
        threshold=threshold,
        protected=tuple(attribute_from_widgets(column, loaded) for column in state.get(W.PROTECTED) or []),
        features=features,
        id_columns=tuple(state.get(W.IDS) or ()),
        pii_columns=tuple(state.get(W.PII) or ()),
        min_group_size=int(state.get(W.MIN_GROUP) or MIN_GROUP_SIZE),
        merge_variants=bool(state.get(W.MERGE_VARIANTS) or False),
        decision_order=order_from_widget(df[decision], loaded) if decision else None,
    )
    if loaded is None:
        return spec
    spec = replace(spec, **kept_fields(loaded))
    # A loaded spec without a feature list ("every column without a role") keeps none while the form lists them all.
    every_column = replace(spec, features=None)
    if loaded.features is None and every_column.feature_columns(df.columns) == features:
        spec = every_column
    return spec


def order_from_widget(series: pd.Series, loaded: AuditSpec | None) -> tuple[str, ...] | None:
    """The spec's ``decision_order`` for what the order control shows.

    None when it shows the recognised order (or nothing, with none recognised); the loaded spec's own value when
    it means the same order (so a loaded ``["Low", "Medium", "High"]`` stays as written); else the values picked
    (``()``: no order).
    """
    picked = tuple(state.get(W.DECISION_ORDER) or ())
    values = distinct_keys(series)
    if loaded is not None and loaded.decision == series.name:
        in_use = decision_order(loaded.decision_order, values)
        if (in_use.values if in_use is not None else ()) == picked:
            return loaded.decision_order
    recognised = recognize_order(values) if len(values) <= MAX_PICKABLE_VALUES else None
    return None if picked == (recognised.values if recognised is not None else ()) else picked


def attribute_from_widgets(column: str, loaded: AuditSpec | None) -> ProtectedAttribute:
    """The protected attribute ``column`` as its widgets set it, with the loaded attribute's other fields."""
    reference = state.get(W.reference(column))
    attr = ProtectedAttribute(
        column,
        bins=parse_bins(state.get(W.bins(column)) or ""),
        quantiles=parse_quantiles(column),
        reference=None if reference in (None, DEFAULT_REFERENCE) else reference,
    )
    before = loaded_attribute(loaded, column)
    if before is None:
        return attr
    kept = {f.name: getattr(before, f.name) for f in fields(attr) if f.name not in ATTRIBUTE_FORM_FIELDS}
    return replace(attr, **kept)


def loaded_attribute(loaded: AuditSpec | None, column: str) -> ProtectedAttribute | None:
    return next((a for a in loaded.protected if a.column == column), None) if loaded is not None else None


def kept_fields(loaded: AuditSpec) -> dict[str, object]:
    """The loaded spec's fields the form has no control for, to be confirmed as they are."""
    return {f.name: getattr(loaded, f.name) for f in fields(loaded) if f.name not in FORM_FIELDS}


def kept_lines(spec: AuditSpec, loaded: AuditSpec | None, sha256: str) -> list[str]:
    """What ``spec`` keeps from the loaded spec without a control on the page, in words (unset fields are not named)."""
    if loaded is None:
        return []
    defaults = {f.name: f.default for f in fields(AuditSpec)}
    lines = []
    for name, value in kept_fields(loaded).items():
        if value == defaults[name]:
            continue
        if name == "intersections":
            joint = ", ".join(" × ".join(names) for names in value)
            lines.append(f"intersections {joint}" if joint else "no intersections (none audited jointly)")
        elif name == "max_levels":
            lines.append(f"at most {value:,} groups in a protected attribute without bins")
        elif name == "dataset_sha256":
            which = "this data" if value == sha256 else "other data"
            lines.append(f"made on {which} (SHA-256 {value[:12]}…)")
        else:
            lines.append(f"{name} {value!r}")
    if spec.threshold is not None and not (spec.score and not spec.decision):
        lines.append(f"score threshold {spec.threshold:g}")
    for attr in spec.protected:
        before = loaded_attribute(loaded, attr.column)
        for f in fields(ProtectedAttribute):
            if before is not None and f.name not in ATTRIBUTE_FORM_FIELDS and getattr(before, f.name) != f.default:
                lines.append(f"{f.name} {getattr(before, f.name)!r} for {attr.column}")
    return lines


def show_kept(spec: AuditSpec, data: Dataset) -> None:
    """Say which fields of the loaded spec are kept without a control here, and offer to drop them."""
    lines = kept_lines(spec, state.loaded_spec(), data.sha256)
    if not lines:
        return
    left, right = st.columns([4, 1], vertical_alignment="center")
    left.caption(md(KEPT_INTRO + "; ".join(lines) + "."))
    right.button(
        DROP_KEPT_LABEL,
        key=W.DROP_KEPT,
        on_click=state.forget_loaded_spec,
        help="Gives these settings the values of a spec that does not set them (e.g. every pair of protected "
        "attributes is audited jointly).",
    )


def none_to_null(value: str | None) -> str | None:
    return None if value in (None, NONE) else value


def show_problems(check: SpecValidation, spec: AuditSpec, data: Dataset) -> None:
    for problem in check.errors:  # each names the control on this page that fixes it
        st.error(say(problem))
    for problem in check.warnings:
        if problem.field == "dataset_sha256":  # the same warning, naming the data
            problem = dataset_mismatch(spec, data.sha256, dataset_name=data.name) or problem
        st.warning(say(problem))
    if check.ok and not check.warnings:
        st.success("No problems found: the spec fits this table.")


def roles_section(data: Dataset) -> None:
    df = data.table.data
    columns = [str(c) for c in df.columns]
    st.subheader("Column roles")
    notes = cached.suggestion(data.data_key, df).notes
    st.caption(
        "Suggested from the column names and values (see 'why' above); change anything that is wrong, then confirm."
    )
    for note in notes:  # a Notice names the control that fixes it
        st.info(say(note))
    for role in cached.suggestion(data.data_key, df).roles:
        if role.role == "pii":
            st.warning(
                md(f"Column '{role.column}' looks like personal data ({role.reason.removeprefix('personal data: ')}).")
                + " Personal data is never used to explain decisions and is left out of exports; "
                "keep it in the PII list below unless it is not personal."
            )
    just_loaded = load_saved_spec(data)
    outcome_inputs(df, columns)
    protected_inputs(data, columns)
    other_inputs(columns)
    st.checkbox(MERGE_VARIANTS_LABEL, key=W.MERGE_VARIANTS, help=MERGE_VARIANTS_HELP, **KEEP)
    if none_to_null(state.get(W.DECISION)) is None and none_to_null(state.get(W.SCORE)) is None:
        st.error(NO_OUTCOME)
        return
    try:
        spec = spec_from_widgets(df)
    except ParityLabError as exc:
        st.error(say(exc))
        return
    if just_loaded:
        show_changed(state.loaded_spec(), spec)
    show_kept(spec, data)
    try:
        check = cached.checks(data, spec)  # on every row: DuckDB counts them for a path
    except ParityLabError as exc:
        st.error(say(exc))
        return
    show_problems(check, spec, data)
    # A callback runs before the next script run, so the sidebar (drawn first) already shows the new spec.
    if st.button(
        "Confirm roles", key=W.CONFIRM, type="primary", disabled=not check.ok, on_click=state.set_spec, args=(spec,)
    ):
        st.switch_page("pages/overview.py")  # the story starts with the biggest gap
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
    + (
        " A file or folder opened by its path is read where it is, by DuckDB (which may spill a very large count "
        "to a temporary folder)."
        if local_paths_allowed()
        else ""
    )
)
choose_dataset()
error = state.load_error()  # already worded for the app and escaped
if error:
    st.error(error)
for note in state.pop_reread_notes():
    st.info(md(note))
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
