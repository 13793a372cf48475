"""The only module that reads or writes ``st.session_state``.

Keys are module constants; pages call the functions below and never touch
``st.session_state`` directly, so every piece of session data has one owner.
Uploaded data lives here, in this session's memory only; nothing is written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from analysis import AuditSpec, LoadedTable

__all__ = [
    "DATASET",
    "SPEC",
    "Dataset",
    "W",
    "clear_spec",
    "dataset",
    "get",
    "set_dataset",
    "set_spec",
    "set_widgets",
    "spec",
]

DATASET = "paritylab.dataset"
SPEC = "paritylab.spec"
ROLES_FOR = "paritylab.roles_for"
LOAD_ERROR = "paritylab.load_error"
SPEC_FILE = "paritylab.spec_file_applied"


class W:
    """Widget keys (AppTest and browser tests find widgets by these)."""

    SOURCE = "data_source"
    SAMPLE = "sample_name"
    UPLOAD = "upload"
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
    CONFIRM = "spec_confirm"
    SPEC_UPLOAD = "spec_upload"
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

    @staticmethod
    def bins(column: str) -> str:
        return f"spec_bins::{column}"

    @staticmethod
    def reference(column: str) -> str:
        return f"spec_reference::{column}"

    @staticmethod
    def fairness_chart(kind: str, attribute: str) -> str:
        return f"fairness_chart::{kind}::{attribute}"

    @staticmethod
    def fairness_table(kind: str, attribute: str) -> str:
        return f"fairness_table::{kind}::{attribute}"

    @staticmethod
    def drivers_chart(kind: str) -> str:
        return f"drivers_chart::{kind}"

    @staticmethod
    def drivers_table(kind: str) -> str:
        return f"drivers_table::{kind}"


@dataclass(frozen=True)
class Dataset:
    """The table this session works on, and where it came from."""

    table: LoadedTable
    source: str  # "sample" or "upload"
    key: str  # identifies the source: sample name, or the upload's file id plus options

    @property
    def name(self) -> str:
        return self.table.report.name

    @property
    def sha256(self) -> str:
        return self.table.report.sha256


def dataset() -> Dataset | None:
    """The session's current dataset, if any."""
    return st.session_state.get(DATASET)


def set_dataset(value: Dataset) -> None:
    """Make ``value`` the session's dataset; a new dataset clears the confirmed spec."""
    current = dataset()
    if current is None or current.sha256 != value.sha256:
        clear_spec()
    st.session_state[DATASET] = value
    st.session_state.pop(LOAD_ERROR, None)


def load_error() -> str | None:
    """The message of the last failed load, shown until a load succeeds."""
    return st.session_state.get(LOAD_ERROR)


def set_load_error(message: str | None) -> None:
    """Remember (or forget) the message of a failed load."""
    st.session_state[LOAD_ERROR] = message


def spec() -> AuditSpec | None:
    """The confirmed spec for the current dataset, if any."""
    return st.session_state.get(SPEC)


def set_spec(value: AuditSpec) -> None:
    """Confirm ``value`` as the spec for the current dataset."""
    st.session_state[SPEC] = value


def clear_spec() -> None:
    """Forget the confirmed spec."""
    st.session_state.pop(SPEC, None)


def roles_initialised_for() -> str | None:
    """The dataset key the role widgets were last filled for."""
    return st.session_state.get(ROLES_FOR)


def mark_roles_initialised(key: str) -> None:
    """Remember that the role widgets hold values for dataset ``key``."""
    st.session_state[ROLES_FOR] = key


def spec_file_applied() -> str | None:
    """The file id of the saved spec last applied to the role widgets."""
    return st.session_state.get(SPEC_FILE)


def mark_spec_file_applied(file_id: str) -> None:
    """Remember that the saved spec with this file id has been applied."""
    st.session_state[SPEC_FILE] = file_id


def get(key: str, default: Any = None) -> Any:
    """A widget's current value."""
    return st.session_state.get(key, default)


def set_widgets(values: dict[str, Any]) -> None:
    """Set widget values (before the widgets are drawn in this run)."""
    for key, value in values.items():
        st.session_state[key] = value
