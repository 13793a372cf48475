"""The only module that reads or writes ``st.session_state``.

Keys are module constants; pages call the functions below and never touch
``st.session_state`` directly, so every piece of session data has one owner.
Uploaded data lives here, in this session's memory only; nothing is written to disk.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from analysis import AuditSpec, LoadedTable, validate_spec
from analysis.slices import Slice
from ui.roles import roles_that_apply

__all__ = [
    "DATASET",
    "SPEC",
    "Dataset",
    "Focus",
    "Reading",
    "SliceFocus",
    "Upload",
    "W",
    "add_reread_note",
    "apply_queued_widgets",
    "clear_slice_focus",
    "clear_spec",
    "dataset",
    "focus",
    "focus_changed",
    "focus_moved",
    "follow_focus",
    "for_report",
    "forget_file",
    "forget_loaded_spec",
    "forget_upload",
    "forgotten_file",
    "get",
    "keep_loaded_spec",
    "keep_upload",
    "loaded_spec",
    "pop_queued_roles",
    "pop_reread_notes",
    "queue_roles",
    "queue_widgets",
    "read_path_again",
    "recall",
    "remember",
    "reset_workshop",
    "reveal_step",
    "revealed_steps",
    "set_dataset",
    "set_focus",
    "set_slice_focus",
    "set_spec",
    "set_widgets",
    "set_workshop_step",
    "slice_focus",
    "spec",
    "take_read_path_again",
    "upload",
    "workshop_step",
]

DATASET = "paritylab.dataset"
SPEC = "paritylab.spec"
ROLES_FOR = "paritylab.roles_for"
LOAD_ERROR = "paritylab.load_error"
SPEC_FILE = "paritylab.spec_file_applied"
QUEUED_ROLES = "paritylab.queued_roles"
QUEUED = "paritylab.queued_widgets"
RESULTS = "paritylab.results"
UPLOAD = "paritylab.upload"
REREAD = "paritylab.reread_notes"
FORGOTTEN = "paritylab.forgotten_upload"
FAILED_READ = "paritylab.failed_read"
READ_PATH_AGAIN = "paritylab.read_path_again"
LOADED_SPEC = "paritylab.loaded_spec"
FOCUS = "paritylab.focus"
SLICE_FOCUS = "paritylab.slice_focus"
FOLLOWED = "paritylab.followed_focus"
WORKSHOP_STEP = "paritylab.workshop_step"
WORKSHOP_REVEALED = "paritylab.workshop_revealed"


class W:
    """Widget keys (AppTest and browser tests find widgets by these)."""

    SOURCE = "data_source"
    SAMPLE = "sample_name"
    SAMPLE_STORY = "sample_story_effects"
    UPLOAD = "upload"
    FORGET_UPLOAD = "upload_forget"
    PATH = "data_path"
    PATH_REREAD = "data_path_reread"
    NA_VALUES = "na_values"
    SHEET = "sheet"
    DECISION = "spec_decision"
    POSITIVE = "spec_positive"
    FAVORABLE = "spec_favorable"
    LABEL = "spec_label"
    LABEL_POSITIVE = "spec_label_positive"
    SCORE = "spec_score"
    THRESHOLD = "spec_threshold"
    PROTECTED = "spec_protected"
    FEATURES = "spec_features"
    IDS = "spec_ids"
    PII = "spec_pii"
    MIN_GROUP = "spec_min_group"
    MERGE_VARIANTS = "spec_merge_variants"
    DECISION_ORDER = "spec_decision_order"
    CONFIRM = "spec_confirm"
    SPEC_UPLOAD = "spec_upload"
    DROP_KEPT = "spec_drop_kept"
    OVERVIEW_GAPS = "overview_gaps"
    OVERVIEW_CHART = "overview_chart"
    OVERVIEW_DRIVERS = "overview_drivers"
    OVERVIEW_MITIGATION = "overview_mitigation"
    OVERVIEW_FAIRNESS = "overview_fairness"
    WORKSHOP_SAMPLE = "workshop_sample"
    WORKSHOP_USE_SAMPLE = "workshop_use_sample"
    WORKSHOP_PREVIOUS = "workshop_previous"
    WORKSHOP_NEXT = "workshop_next"
    WORKSHOP_RESET = "workshop_reset"
    WORKSHOP_TOUR = "workshop_tour"  # the tour's container: the presentation CSS is scoped to .st-key-workshop_tour
    CONFIDENCE = "fairness_confidence"
    FAIRNESS_TAB = "fairness_tab"
    INTERSECTION = "fairness_intersection"
    DRIVERS_FORM = "drivers_options"
    DRIVERS_SAMPLE_SIZE = "drivers_sample_size"
    DRIVERS_PROTECTED = "drivers_include_protected"
    DRIVERS_SEED = "drivers_seed"
    DRIVERS_COMPUTE = "drivers_compute"
    DRIVERS_STRIP_COLOR = "drivers_strip_color"
    DRIVERS_ATTRIBUTE = "drivers_attribute"
    DRIVERS_GAP_GROUP = "drivers_gap_group"
    DRIVERS_FEATURE = "drivers_dependence_feature"
    DRIVERS_ROW_PICK = "drivers_row_pick"
    DRIVERS_ROW = "drivers_row"
    SLICES_METRIC = "slices_metric"
    SLICES_DEPTH = "slices_max_depth"
    SLICES_SUPPORT = "slices_min_support"
    SLICES_TOP_K = "slices_top_k"
    SLICES_FEATURES = "slices_features"
    SLICES_PROTECTED = "slices_include_protected"
    SLICES_CHART = "slices_chart"
    SLICES_TABLE = "slices_table"
    SLICES_PICK = "slices_pick"
    SLICES_EXPLAIN = "slices_explain"
    SLICES_JSON = "slices_download_json"
    DRIVERS_SLICE_CLEAR = "drivers_slice_clear"
    MITIGATION_ATTRIBUTE = "mitigation_attribute"
    MITIGATION_MODE = "mitigation_mode"
    MITIGATION_COST_FP = "mitigation_cost_fp"
    MITIGATION_BENEFIT_TP = "mitigation_benefit_tp"
    MITIGATION_CONSTRAINT = "mitigation_constraint"
    MITIGATION_TOLERANCE = "mitigation_tolerance"
    MITIGATION_OBJECTIVE = "mitigation_objective"
    MITIGATION_OPTIMIZE = "mitigation_optimize"
    MITIGATION_APPLY = "mitigation_apply"
    MITIGATION_FRONTIER = "mitigation_frontier"
    MITIGATION_COMPARE = "mitigation_compare"
    MITIGATION_THRESHOLDS_JSON = "mitigation_thresholds_json"
    MITIGATION_DECISIONS_CSV = "mitigation_decisions_csv"
    TABLES_FORMAT = "tables_format"
    TABLES_SEX = "tables_sex"
    TABLES_RACE = "tables_race"
    TABLES_MODE = "tables_mode"
    TABLES_KEEP_SMALL = "tables_keep_small"
    TABLES_CSV = "tables_download_csv"
    TABLES_JSON = "tables_download_json"
    MITIGATION_RESET = "mitigation_reset"
    REPORT_PII = "report_include_pii"
    REPORT_HTML = "report_download_html"
    REPORT_JSON = "report_download_json"
    REPORT_CSV = "report_download_csv"
    REPORT_SPEC = "report_download_spec"
    REPORT_RESUME = "report_resume_upload"
    REPORT_RESTORE = "report_restore_spec"
    REPORT_BEFORE = "report_compare_upload"
    REPORT_TOLERANCE = "report_compare_tolerance"
    REPORT_SIGNIFICANCE = "report_compare_significance"
    REPORT_CHANGES = "report_comparison_table"
    REPORT_COMPARISON_HTML = "report_download_comparison_html"
    REPORT_COMPARISON_JSON = "report_download_comparison_json"

    @staticmethod
    def bins(column: str) -> str:
        return f"spec_bins::{column}"

    @staticmethod
    def quantiles(column: str) -> str:
        return f"spec_quantiles::{column}"

    @staticmethod
    def reference(column: str) -> str:
        return f"spec_reference::{column}"

    @staticmethod
    def overview_focus(index: int) -> str:
        """The button that makes the overview's gap ``index`` the focus."""
        return f"overview_focus_{index}"

    @staticmethod
    def workshop_reveal(step: str) -> str:
        return f"workshop_reveal_{step}"

    @staticmethod
    def workshop_chart(step: str) -> str:
        return f"workshop_chart_{step}"

    @staticmethod
    def fairness_chart(kind: str, attribute: str) -> str:
        return f"fairness_chart::{kind}::{attribute}"

    @staticmethod
    def fairness_table(kind: str, attribute: str) -> str:
        return f"fairness_table::{kind}::{attribute}"

    @staticmethod
    def intersection_cells(intersection: str) -> str:
        """The Fairness page's pick of the cells of one intersection that its charts and table show."""
        return f"fairness_cells::{intersection}"

    @staticmethod
    def drivers_chart(kind: str) -> str:
        return f"drivers_chart::{kind}"

    @staticmethod
    def drivers_table(kind: str) -> str:
        return f"drivers_table::{kind}"

    @staticmethod
    def mitigation_threshold(attribute: str, group: str) -> str:
        """One group's threshold slider."""
        return f"mitigation_threshold::{attribute}::{group}"

    @staticmethod
    def mitigation_goal(attribute: str) -> str:
        """The goal picked for one attribute (each opens on its own default)."""
        return f"mitigation_goal::{attribute}"

    @staticmethod
    def mitigation_single(attribute: str) -> str:
        """The one-threshold-for-everyone slider."""
        return f"mitigation_single::{attribute}"

    @staticmethod
    def mitigation_chart(kind: str) -> str:
        return f"mitigation_chart::{kind}"

    @staticmethod
    def mitigation_table(kind: str) -> str:
        return f"mitigation_table::{kind}"


@dataclass(frozen=True)
class Reading:
    """The reading options the Data page passes to the loader (the same file reads differently with others)."""

    na_values: tuple[str, ...] = ()
    sheet: str | None = None

    def __post_init__(self) -> None:
        # The order in which spellings were picked does not change the reading.
        object.__setattr__(self, "na_values", tuple(sorted(dict.fromkeys(self.na_values))))
        object.__setattr__(self, "sheet", self.sheet or None)

    def key(self, *, sheet_read: str | None = None) -> str:
        """The options as text; ``sheet_read``, the sheet the loader did read, replaces the one asked for."""
        return json.dumps({"na_values": list(self.na_values), "sheet": sheet_read or self.sheet})


@dataclass(frozen=True)
class Upload:
    """The current upload's bytes, kept so that the Data page can read them again with other options."""

    name: str
    data: bytes
    file_id: str

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Dataset:
    """The table this session works on, where it came from and how it was read."""

    table: LoadedTable
    source: str  # "sample", "upload" or "path"
    key: str  # identifies the source: sample name, the upload's file id plus options, or the path
    reading: Reading = Reading()
    # "duckdb" for a file or folder opened by path: ``table.data`` then holds a bounded sample of its rows (for
    # the preview and the suggested roles) and the engine counts every row; "pandas": every row in memory.
    engine: str = "pandas"
    location: str | None = None  # the path as opened (a file, folder, glob or DuckDB database file)

    @property
    def name(self) -> str:
        return self.table.report.name

    @property
    def sha256(self) -> str:
        return self.table.report.sha256

    @property
    def sampled(self) -> bool:
        """Whether ``table.data`` is a sample: the engine reads the source itself for every count."""
        return self.engine != "pandas"

    @property
    def rows(self) -> int:
        """Rows in the source (every row, also when ``table.data`` is a sample)."""
        return self.table.report.rows

    @property
    def data_key(self) -> str:
        """Identifies the data *as read*: the file's SHA-256 and the reading options (every cache is keyed by it)."""
        return f"{self.sha256}:{self.reading.key(sheet_read=self.table.report.sheet)}"


def dataset() -> Dataset | None:
    """The session's current dataset, if any."""
    return st.session_state.get(DATASET)


def set_dataset(value: Dataset) -> None:
    """Make ``value`` the session's dataset.

    Another file clears the confirmed spec. The same file read with other options keeps the confirmed spec when
    every role still applies and it still validates (else it must be confirmed again). Any change of the data as
    read forgets every result computed from the earlier reading; a dataset that is not an upload releases the
    kept upload's bytes.
    """
    current = dataset()
    notes: list[str] = []
    if current is None or current.sha256 != value.sha256:
        clear_spec()
    elif current.data_key != value.data_key:
        notes = _keep_confirmed_roles(value)
    if current is None or current.data_key != value.data_key:
        _forget_results()
    if value.source != "upload":
        forget_upload()
    st.session_state[DATASET] = value
    st.session_state[REREAD] = tuple(notes)
    st.session_state.pop(LOAD_ERROR, None)


def _keep_confirmed_roles(value: Dataset) -> list[str]:
    """After a new reading of the same file: keep the confirmed spec if it still fits, else clear it (say which)."""
    notes = [f"'{value.name}' was read again with the new reading options; every result is recomputed from it."]
    confirmed = spec()
    if confirmed is None:
        return notes
    kept, dropped = roles_that_apply(confirmed, value.table.data)
    if kept is not None and not dropped and validate_spec(value.table.data, kept).ok:
        set_spec(kept)
        notes.append("The confirmed roles still apply to this reading and stay confirmed.")
    else:
        clear_spec()
        notes.append("The confirmed roles no longer fit this reading: check the roles below and confirm them again.")
    return notes


def pop_reread_notes() -> tuple[str, ...]:
    """What the last new reading of the same file did to the roles (once)."""
    return st.session_state.pop(REREAD, ())


def upload() -> Upload | None:
    """The current upload (name and bytes), kept across pages until another dataset is chosen."""
    return st.session_state.get(UPLOAD)


def keep_upload(value: Upload) -> None:
    """Keep ``value`` as the current upload (the previous one's bytes are released)."""
    st.session_state[UPLOAD] = value


def forget_upload() -> None:
    """Release the kept upload's bytes."""
    st.session_state.pop(UPLOAD, None)


def forget_file(file_id: str) -> None:
    """Forget the uploaded file ``file_id``, the dataset read from it, its spec and its results.

    The app then opens its default sample. The uploader may still show the file: it is not read again.
    """
    for key in (DATASET, SPEC, UPLOAD, REREAD, LOAD_ERROR, ROLES_FOR, LOADED_SPEC, FOCUS, SLICE_FOCUS):
        st.session_state.pop(key, None)
    _forget_results()
    st.session_state[FORGOTTEN] = file_id


def read_path_again() -> None:
    """Ask the Data page to read the path it shows again (its files may have changed on disk)."""
    st.session_state[READ_PATH_AGAIN] = True
    st.session_state.pop(LOAD_ERROR, None)


def take_read_path_again() -> bool:
    """Whether the path is to be read again (once)."""
    return bool(st.session_state.pop(READ_PATH_AGAIN, False))


def forgotten_file() -> str | None:
    """The file id of the upload last forgotten with :func:`forget_file`."""
    return st.session_state.get(FORGOTTEN)


def add_reread_note(note: str) -> None:
    """Add to what the Data page says once about the last new reading."""
    st.session_state[REREAD] = (*st.session_state.get(REREAD, ()), note)


def _forget_results() -> None:
    """Drop every result remembered from the data (results kept without a context, e.g. speeds, stay)."""
    results = st.session_state.get(RESULTS, {})
    st.session_state[RESULTS] = {kind: stored for kind, stored in results.items() if stored[0] is None}


def load_error() -> str | None:
    """The message of the last failed load (Markdown, worded for the app), shown until a load succeeds."""
    return st.session_state.get(LOAD_ERROR)


def set_load_error(message: str | None, *, read: str | None = None) -> None:
    """Remember (or forget) the message of a failed load; ``read`` names what failed (see :func:`failed_read`)."""
    st.session_state[LOAD_ERROR] = message
    st.session_state[FAILED_READ] = read


def failed_read() -> str | None:
    """The upload and reading options that failed last (so that each rerun does not parse the file again)."""
    return st.session_state.get(FAILED_READ) if load_error() else None


def spec() -> AuditSpec | None:
    """The confirmed spec for the current dataset, if any."""
    return st.session_state.get(SPEC)


def set_spec(value: AuditSpec) -> None:
    """Confirm ``value`` as the spec for the current dataset (other roles forget the focus)."""
    if spec() != value:
        for key in (FOCUS, SLICE_FOCUS, WORKSHOP_STEP, WORKSHOP_REVEALED):
            st.session_state.pop(key, None)
    st.session_state[SPEC] = value


def clear_spec() -> None:
    """Forget the confirmed spec (and the focus, which was chosen among its attributes)."""
    st.session_state.pop(SPEC, None)
    st.session_state.pop(FOCUS, None)
    st.session_state.pop(SLICE_FOCUS, None)


@dataclass(frozen=True)
class Focus:
    """The attribute (a protected column, or an intersection as the audit names it) and group every page opens on.

    Set once — by the overview to the worst gap, or by the user on any page — and read by every page, so a
    presenter does not pick the attribute again on each page. ``group`` is None when no group is singled out.
    """

    attribute: str
    group: str | None = None


def focus() -> Focus | None:
    """The session's focus, if one was set for the confirmed spec."""
    return st.session_state.get(FOCUS)


def set_focus(attribute: str, group: str | None = None) -> None:
    """Make ``attribute`` (and ``group``) the focus every page opens on."""
    st.session_state[FOCUS] = Focus(attribute, group)


@dataclass(frozen=True)
class SliceFocus:
    """A slice the Slices page sent to the Drivers page: why do decisions in it differ from the rest?

    ``data_key`` and ``spec_json`` name the data as read and the spec it was found in (another reading or spec
    ignores it); ``metric`` is the search's; ``bins`` where the search cut the numbers (:attr:`SliceSearch.bins`,
    as pairs), so that the slice's rows are marked with the search's own bins in any sample of the data.
    """

    data_key: str
    spec_json: str
    item: Slice
    metric: str
    title: str
    bins: tuple[tuple[str, tuple[float, ...]], ...] = ()


def slice_focus(data_key: str, spec: AuditSpec) -> SliceFocus | None:
    """The slice in focus, if one was sent for these data as read and this spec."""
    found = st.session_state.get(SLICE_FOCUS)
    if found is None or found.data_key != data_key or found.spec_json != spec.to_json():
        return None
    return found


def set_slice_focus(value: SliceFocus) -> None:
    """Put a slice in focus (the Drivers page explains it)."""
    st.session_state[SLICE_FOCUS] = value


def clear_slice_focus() -> None:
    """Back to the groups: no slice in focus."""
    st.session_state.pop(SLICE_FOCUS, None)


def follow_focus(key: str, options: Sequence[str], *, part: str = "attribute", default: str | None = None) -> None:
    """Before drawing the picker ``key`` over ``options``: show the focus's ``part`` when it is an option.

    Otherwise keep the picker's own value if it is still an option, else ``default`` (or the first option).
    Pass :func:`focus_changed` as the picker's ``on_change`` so that a pick on any page moves the focus.
    """
    if not options:
        return
    current = focus()
    wanted = None if current is None else getattr(current, part)
    if wanted in options:
        st.session_state[key] = wanted
    elif st.session_state.get(key) not in options:
        st.session_state[key] = default if default in options else options[0]


def focus_changed(key: str, *, part: str = "attribute") -> None:
    """``on_change`` of a picker that follows the focus: the picked value becomes the focus's ``part``.

    A new attribute drops the group (it belonged to the old attribute); a new group keeps the attribute.
    """
    value = st.session_state.get(key)
    current = focus()
    if part == "attribute":
        keep = current is not None and current.attribute == value
        set_focus(value, current.group if keep else None)
    elif current is not None:
        set_focus(current.attribute, value)


def workshop_step() -> int:
    """The workshop tour's current step (0 = the first)."""
    return st.session_state.get(WORKSHOP_STEP, 0)


def set_workshop_step(step: int) -> None:
    """Move the workshop tour to ``step``."""
    st.session_state[WORKSHOP_STEP] = step


def revealed_steps() -> frozenset[str]:
    """The workshop steps whose answer has been revealed."""
    return st.session_state.get(WORKSHOP_REVEALED, frozenset())


def reveal_step(step: str) -> None:
    """Reveal the answer of the workshop step ``step``."""
    st.session_state[WORKSHOP_REVEALED] = revealed_steps() | {step}


def reset_workshop() -> None:
    """Back to the first step of the tour, every answer hidden again."""
    st.session_state[WORKSHOP_STEP] = 0
    st.session_state[WORKSHOP_REVEALED] = frozenset()


def focus_moved(key: str) -> bool:
    """Whether the focus moved since the picker ``key`` last asked (and note that it has seen this focus).

    For a picker that follows the focus only when it moves, and otherwise keeps its own value.
    """
    seen = st.session_state.setdefault(FOLLOWED, {})
    current = focus()
    moved = seen.get(key) != current
    seen[key] = current
    return moved


def roles_initialized_for() -> str | None:
    """The dataset key the role widgets were last filled for."""
    return st.session_state.get(ROLES_FOR)


def mark_roles_initialized(key: str) -> None:
    """Remember that the role widgets hold values for dataset ``key``."""
    st.session_state[ROLES_FOR] = key


def spec_file_applied() -> str | None:
    """The file id of the saved spec last applied to the role widgets."""
    return st.session_state.get(SPEC_FILE)


def mark_spec_file_applied(file_id: str) -> None:
    """Remember that the saved spec with this file id has been applied."""
    st.session_state[SPEC_FILE] = file_id


def loaded_spec() -> AuditSpec | None:
    """The spec last loaded into the Data page's form for the current dataset (None after a suggestion).

    The form has no control for some of its fields; they are taken from this spec when the form builds one.
    """
    stored = st.session_state.get(LOADED_SPEC)
    current = dataset()
    return stored[1] if stored is not None and current is not None and stored[0] == current.key else None


def keep_loaded_spec(spec: AuditSpec) -> None:
    """Remember ``spec`` as the one loaded into the form for the current dataset."""
    current = dataset()
    if current is not None:
        st.session_state[LOADED_SPEC] = (current.key, spec)


def forget_loaded_spec() -> None:
    """Forget the loaded spec: the fields the form has no control for take their defaults."""
    st.session_state.pop(LOADED_SPEC, None)


def queue_roles(spec: AuditSpec) -> None:
    """Show ``spec`` in the Data page's role widgets the next time that page runs."""
    st.session_state[QUEUED_ROLES] = spec


def pop_queued_roles() -> AuditSpec | None:
    """The spec queued by :func:`queue_roles` (once), or None."""
    return st.session_state.pop(QUEUED_ROLES, None)


def get(key: str, default: Any = None) -> Any:
    """A widget's current value."""
    return st.session_state.get(key, default)


def set_widgets(values: dict[str, Any]) -> None:
    """Set widget values (before the widgets are drawn in this run)."""
    for key, value in values.items():
        st.session_state[key] = value


def queue_widgets(values: dict[str, Any]) -> None:
    """Set widget values at the start of the next run (for widgets already drawn in this one)."""
    st.session_state[QUEUED] = st.session_state.get(QUEUED, {}) | dict(values)


def apply_queued_widgets() -> None:
    """Set the values queued by :func:`queue_widgets`; call before any of those widgets is drawn."""
    set_widgets(st.session_state.pop(QUEUED, {}))


def remember(kind: str, context: Any, value: Any) -> None:
    """Keep a result computed on demand (e.g. after a button click), with what it was computed from."""
    st.session_state.setdefault(RESULTS, {})[kind] = (context, value)


def recall(kind: str, context: Any) -> Any:
    """The result remembered under ``kind`` if it was computed from ``context``, else None."""
    stored = st.session_state.get(RESULTS, {}).get(kind)
    return stored[1] if stored is not None and stored[0] == context else None


# What the Report page adds to the report when another page computed it: "explanation" (the Drivers
# page's Explanation), "mitigation" (the Mitigation page's MitigationComparison) and "tables" (the Audit tables
# page's BiasTables) and "slices" (the Slices page's SliceSearch), as records.
REPORT_PARTS = ("explanation", "mitigation", "tables", "slices")


# The kind another page remembers (``remember``) a report part under, with a context that starts with
# (Dataset.data_key, spec JSON).
PAGE_KINDS = {
    "explanation": "explanation",
    "mitigation": "mitigation_comparison",
    "tables": "bias_tables",
    "slices": "slices",
}


def for_report(kind: str, data_key: str, spec: AuditSpec) -> Any | None:
    """The part of the report (``kind`` in :data:`REPORT_PARTS`) computed for this dataset and spec, if any.

    The record its own page remembered under :data:`PAGE_KINDS` (an Explanation, a MitigationComparison).
    """
    spec_json = spec.to_json()
    stored = st.session_state.get(RESULTS, {}).get(PAGE_KINDS.get(kind, kind))
    if stored is None:
        return None
    context, value = stored
    if not isinstance(context, tuple) or tuple(context[:2]) != (data_key, spec_json):
        return None
    return value
