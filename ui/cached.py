"""Every engine call the pages make goes through these cached wrappers.

Results are keyed by the data *as read* (``ui.state.Dataset.data_key``: the file's SHA-256
and the reading options) and the spec, never by hashing a DataFrame on each rerun: the same
file read with other options is other data. Caches are bounded in entries and lifetime; results derived
from uploaded data are session-scoped, so one session never sees another's.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from analysis import (
    AuditSpec,
    Explanation,
    LoadedTable,
    SpecSuggestion,
    SpecValidation,
    encode_groups,
    explain,
    load_table,
    profile_columns,
    suggest_roles,
    validate_spec,
)
from analysis.audit import AuditResult, audit
from analysis.bias_tables import BiasTables
from analysis.optimizer import Frontier, Optimization, frontier, optimize
from analysis.profile import ColumnProfile
from analysis.story import Gap, rank_gaps
from analysis.thresholds import ThresholdCurves, threshold_curves
from ui.state import Reading, Upload

__all__ = [
    "SAMPLES",
    "audit_result",
    "bias_tables",
    "curves",
    "explanation",
    "gaps",
    "group_sizes",
    "load_sample",
    "load_upload",
    "mitigation_comparison",
    "optimization",
    "profiles",
    "staged_frontier",
    "suggestion",
    "surrogate_scores",
    "trade_off_frontier",
    "validation",
]

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
SAMPLES = {
    "Loan approvals": "loan_approvals.csv",
    "Support tickets": "support_tickets.csv",
}

SESSION = {"scope": "session", "max_entries": 8, "ttl": 3600, "show_spinner": False}


@st.cache_data(max_entries=len(SAMPLES), show_spinner="Loading the sample…")
def load_sample(title: str) -> LoadedTable:
    """A bundled sample, loaded once per server (it is the same for everybody)."""
    return load_table(SAMPLE_DIR / SAMPLES[title])


def load_upload(upload: Upload, reading: Reading) -> LoadedTable:
    """An uploaded file, parsed in memory with these reading options (the caller keeps it in session state)."""
    return load_table(upload.data, name=upload.name, na_values=list(reading.na_values) or None, sheet=reading.sheet)


@st.cache_data(**SESSION)
def profiles(data_key: str, _df: pd.DataFrame) -> tuple[ColumnProfile, ...]:
    """Column profiles of these data."""
    return profile_columns(_df)


@st.cache_data(**SESSION)
def suggestion(data_key: str, _df: pd.DataFrame) -> SpecSuggestion:
    """Suggested roles for these data."""
    return suggest_roles(_df)


@st.cache_data(**SESSION)
def validation(data_key: str, spec_json: str, sha256: str, _df: pd.DataFrame) -> SpecValidation:
    """Problems of a spec (given as JSON, so it hashes cheaply) on these data (the file's hash: ``sha256``)."""
    return validate_spec(_df, AuditSpec.from_json(spec_json), dataset_sha256=sha256)


@st.cache_data(**SESSION)
def group_sizes(
    data_key: str, column: str, bins: tuple[float, ...] | None, quantiles: int | None, _series: pd.Series
) -> dict[str, int]:
    """Rows per group of one protected attribute (binned when ``bins`` or ``quantiles`` is given)."""
    return encode_groups(_series, bins=bins, quantiles=quantiles).sizes()


@st.cache_data(**(SESSION | {"show_spinner": "Auditing the decisions…"}))
def audit_result(
    data_key: str,
    spec_json: str,
    confidence: float,
    _df: pd.DataFrame,
    dataset_name: str,
    sha256: str,
    _load_report=None,
) -> AuditResult:
    """The audit of these data under a spec (given as JSON) at this confidence level (``sha256``: the file's).

    ``_load_report`` (how the file was read) is recorded in the result's JSON; it follows from the data's key.
    """
    spec = AuditSpec.from_json(spec_json)
    return audit(
        _df, spec, confidence=confidence, dataset_name=dataset_name, dataset_sha256=sha256, load_report=_load_report
    )


@st.cache_data(**SESSION)
def bias_tables(
    data_key: str,
    spec_json: str,
    table_format: str,
    sex: str | None,
    race: str | None,
    mode: str | None,
    exclude_small: bool,
    _df: pd.DataFrame,
) -> BiasTables:
    """The audit tables of these data under a spec in a rule's format (``"ll144"``, ``"four-fifths"``)."""
    from analysis.bias_tables import bias_tables as make

    spec = AuditSpec.from_json(spec_json)
    return make(_df, spec, format=table_format, sex=sex, race=race, mode=mode, exclude_small=exclude_small)


@st.cache_data(**(SESSION | {"max_entries": 4}))
def explanation(
    data_key: str, spec_json: str, sample_size: int, include_protected: bool, random_state: int, _df: pd.DataFrame
) -> Explanation:
    """The SHAP explanation of the surrogate model of these data under a spec (given as JSON).

    Fewer entries than the other caches: each holds a trained model and a sample of SHAP values.
    """
    spec = AuditSpec.from_json(spec_json)
    return explain(_df, spec, sample_size=sample_size, include_protected=include_protected, random_state=random_state)


# --- mitigation ---------------------------------------------------------------------------------
# A spec without a score column is scored by a model of the decisions: ``spec_json`` is then the
# spec *with* that score column, so every key below still names the scores it was computed from.


@st.cache_data(**(SESSION | {"max_entries": 2, "show_spinner": "Modelling the decisions to score every row…"}))
def surrogate_scores(data_key: str, spec_json: str, _df: pd.DataFrame):
    """Out-of-fold scores of a model of the decisions (for a spec without a score column)."""
    from analysis.mitigation import model_scores

    return model_scores(_df, AuditSpec.from_json(spec_json))


@st.cache_data(**SESSION)
def curves(data_key: str, spec_json: str, attribute: str, _df: pd.DataFrame) -> ThresholdCurves:
    """Every group's sorted scores and cumulative counts (what-if queries on them are fast: call uncached)."""
    return threshold_curves(_df, AuditSpec.from_json(spec_json), attribute=attribute)


@st.cache_data(**(SESSION | {"max_entries": 16}))
def optimization(
    data_key: str,
    spec_json: str,
    attribute: str,
    constraint: str,
    tolerance: float,
    objective: str,
    cost_fp: float,
    benefit_tp: float,
    _curves: ThresholdCurves,
) -> Optimization:
    """The optimiser's thresholds on the curves of (data as read, spec, attribute)."""
    return optimize(
        _curves, constraint=constraint, tolerance=tolerance, objective=objective, cost_fp=cost_fp, benefit_tp=benefit_tp
    )


@st.cache_data(**SESSION)
def trade_off_frontier(
    data_key: str,
    spec_json: str,
    attribute: str,
    constraint: str,
    objective: str,
    cost_fp: float,
    benefit_tp: float,
    _curves: ThresholdCurves,
) -> Frontier:
    """The objective against the disparity as the tolerance varies, on the curves of (data as read, spec, attribute).

    For the frontiers drawn as the page opens (a fraction of a second); :func:`staged_frontier` reports progress.
    """
    return frontier(_curves, constraint=constraint, objective=objective, cost_fp=cost_fp, benefit_tp=benefit_tp)


def staged_frontier(
    constraint: str, objective: str, cost_fp: float, benefit_tp: float, curves: ThresholdCurves, progress
) -> Frontier:
    """The frontier that waits for a click (seconds): not cached, so that ``progress`` can draw each stage as it
    completes (:class:`analysis.progress.Step`); the page remembers the result for the session."""
    return frontier(
        curves, constraint=constraint, objective=objective, cost_fp=cost_fp, benefit_tp=benefit_tp, progress=progress
    )


def mitigation_comparison(
    data_key: str,
    spec_json: str,
    attribute: str,
    constraint: str,
    tolerance: float,
    objective: str,
    cost_fp: float,
    benefit_tp: float,
    _df: pd.DataFrame,
    _progress=None,
):
    """Baseline, our thresholds and retraining approaches on one held-out split (trains several models).

    Not cached: ``_progress`` draws each completed stage (:class:`analysis.progress.Step`) as it happens, which a
    cached function cannot; the page remembers the result for the session (``state.remember``).
    """
    from analysis.mitigation import compare_mitigations

    return compare_mitigations(
        _df,
        AuditSpec.from_json(spec_json),
        attribute=attribute,
        constraint=constraint,
        tolerance=tolerance,
        objective=objective,
        cost_fp=cost_fp,
        benefit_tp=benefit_tp,
        progress=_progress,
    )


@st.cache_data(**SESSION)
def gaps(data_key: str, spec_json: str, confidence: float, _result: AuditResult) -> tuple[Gap, ...]:
    """Every attribute's and intersection's gap of the audit of (data as read, spec, confidence), most unequal first."""
    return rank_gaps(_result)
