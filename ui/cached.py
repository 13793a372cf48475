"""Every engine call the pages make goes through these cached wrappers.

Results are keyed by the data *as read* (``ui.state.Dataset.data_key``: the file's SHA-256
and the reading options) and the spec, never by hashing a DataFrame on each rerun: the same
file read with other options is other data. Caches are bounded in entries and lifetime; results derived
from uploaded data are session-scoped, so one session never sees another's.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import streamlit as st

from analysis import (
    AuditSpec,
    Explanation,
    LoadedTable,
    ProtectedAttribute,
    SpecSuggestion,
    SpecValidation,
    encode_groups,
    load_table,
    profile_columns,
    suggest_roles,
    validate_spec,
)
from analysis.audit import AuditResult, audit
from analysis.bias_tables import BiasTables
from analysis.engine import CountedTable, counted_columns
from analysis.explain import (
    ProxyStage,
    ShapStage,
    SurrogateStage,
    explain_flips,
    explain_proxies,
    explain_shap,
    explain_surrogate,
)
from analysis.mitigation import ModelScores
from analysis.optimizer import Frontier, Optimization, frontier, optimize
from analysis.options import SEED
from analysis.profile import ColumnProfile
from analysis.slices import SliceSearch, find_slices
from analysis.story import Gap, rank_gaps
from analysis.stratified import StratifiedSample
from analysis.thresholds import ThresholdCurves, threshold_curves
from analysis.values import value_key
from ui import state
from ui.state import Dataset, Reading, Upload

__all__ = [
    "MODEL_PER_GROUP",
    "PREVIEW_ROWS",
    "SAMPLES",
    "SLICES_IN_MEMORY_ROWS",
    "ThresholdRows",
    "audit_result",
    "audited",
    "bias_tables",
    "checks",
    "counted",
    "counting_key",
    "curves",
    "explanation",
    "flip_stage",
    "gaps",
    "group_sizes",
    "groups_of",
    "is_remembered",
    "load_sample",
    "load_upload",
    "mitigation_comparison",
    "modelled",
    "open_path",
    "optimization",
    "preload_model_libraries",
    "profiles",
    "proxy_stage",
    "search_slices",
    "shap_stage",
    "slice_stage",
    "slices",
    "source_profiles",
    "staged_frontier",
    "stratified_sample",
    "suggestion",
    "surrogate_scores",
    "surrogate_stage",
    "threshold_rows",
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


# --- a file or folder opened by path: read by DuckDB, never whole ------------------------------------

PREVIEW_ROWS = 200_000  # rows read for the preview and the suggested roles
# A spec naming no column of any source: its count is the source's load report alone.
NO_COLUMNS = AuditSpec(decision="\0")


def open_path(location: str, reading: Reading) -> LoadedTable:
    """A file, folder, glob or DuckDB database table on this machine, read by DuckDB: a bounded sample of its rows
    (at most :data:`PREVIEW_ROWS`) and the report of the whole source (its rows, columns, changes and SHA-256).

    Not cached: the caller keeps it in session state (the files may change on disk between two readings).
    """
    from analysis.duckdb_engine import count_duckdb, sample_duckdb

    na_values = list(reading.na_values) or None
    # Counting no column reads what every count reports (rows, columns, hash, the loader's changes) in one pass.
    report = count_duckdb(location, NO_COLUMNS, na_values=na_values).load
    sample = sample_duckdb(location, rows=PREVIEW_ROWS, na_values=na_values)
    return LoadedTable(sample, report)


def counting_key(spec: AuditSpec) -> str:
    """The spec's fields that decide what the engine counts (the roles' columns, their bins and the score's anchor):
    picking features or positive values does not count the rows again."""
    return json.dumps(
        {
            "columns": list(counted_columns(spec)),
            "anchor": spec.threshold if spec.decision is None else None,
            "binning": [[a.column, a.bins, a.quantiles] for a in spec.protected],
            "max_levels": spec.max_levels,
        }
    )


@st.cache_data(**(SESSION | {"show_spinner": "Counting every row with DuckDB…"}))
def counted(
    data_key: str, counting: str, location: str, na_values: tuple[str, ...] = (), *, _spec: AuditSpec
) -> CountedTable:
    """Every row of the source at ``location`` counted by DuckDB: one row per combination of the spec's columns.

    Keyed by :func:`counting_key` of ``_spec``: specs that count the same columns the same way share one count.
    """
    from analysis.engine import count_table

    return count_table(location, _spec, engine="duckdb", na_values=list(na_values) or None)


@st.cache_data(**(SESSION | {"max_entries": 4, "show_spinner": "Drawing a stratified sample with DuckDB…"}))
def stratified_sample(
    data_key: str,
    spec_json: str,
    per_group: int,
    seed: int,
    location: str,
    source_rows: int,
    na_values: tuple[str, ...] = (),
) -> tuple[pd.DataFrame, StratifiedSample]:
    """Rows of the source drawn by DuckDB so that every group of every protected attribute keeps its rows up to
    ``per_group``, and what was drawn (for the pages, the report and the JSON)."""
    from analysis.duckdb_engine import sample_duckdb

    spec = AuditSpec.from_json(spec_json)
    df = sample_duckdb(location, spec=spec, per_group=per_group, seed=seed, na_values=list(na_values) or None)
    return df, StratifiedSample(len(df), source_rows, per_group, "duckdb", seed)


def audited(data: Dataset, spec: AuditSpec) -> pd.DataFrame | CountedTable:
    """What an audit of ``data`` reads: the table in memory, or the engine's counts of every row of the source."""
    if not data.sampled:
        return data.table.data
    return counted(data.data_key, counting_key(spec), data.location, data.reading.na_values, _spec=spec)


def modelled(
    data: Dataset, spec: AuditSpec, per_group: int, seed: int
) -> tuple[str, pd.DataFrame, StratifiedSample | None]:
    """The rows a model of ``data`` is trained on, their key for the caches, and how they were drawn.

    In memory: the whole table (drawn: None). From a path: a stratified sample drawn by the engine, every group
    keeping its rows up to ``per_group``.
    """
    if not data.sampled:
        return data.data_key, data.table.data, None
    df, drawn = stratified_sample(
        data.data_key, spec.to_json(), per_group, seed, data.location, data.rows, data.reading.na_values
    )
    return f"{data.data_key}|stratified:{per_group}:{seed}", df, drawn


# Rows per group the mitigation page's models learn from, for a source read by an engine (they train several models).
MODEL_PER_GROUP = 20_000


class ThresholdRows(NamedTuple):
    """The rows thresholds act on: the spec's own score, or a model score added to the rows and the spec.

    ``key`` names the rows in the caches; ``drawn`` says how they were drawn when the engine sampled them (a spec
    without a score on a source read by an engine: the model is trained and applied on a stratified sample).
    """

    key: str
    rows: pd.DataFrame | CountedTable
    spec: AuditSpec
    model: ModelScores | None
    drawn: StratifiedSample | None


def threshold_rows(data: Dataset, spec: AuditSpec) -> ThresholdRows:
    """The rows and spec the Mitigation page's thresholds act on (raises ParityLabError)."""
    if spec.score is not None:
        return ThresholdRows(data.data_key, audited(data, spec), spec, None, None)
    key, df, drawn = modelled(data, spec, MODEL_PER_GROUP, SEED)
    model = surrogate_scores(key, spec.to_json(), df)
    with_score, scored_spec = model.apply(df, spec)
    return ThresholdRows(key, with_score, scored_spec, model, drawn)


@st.cache_data(**(SESSION | {"show_spinner": "Profiling every column with DuckDB…"}))
def source_profiles(data_key: str, location: str, _sample: pd.DataFrame) -> tuple[ColumnProfile, ...]:
    """Column profiles of every row of the source at ``location``: the counts, ranges and most common values from
    DuckDB's statistics, each column's kind from the sample (typed as the loader types it)."""
    from analysis.duckdb_engine import column_statistics

    kinds = {p.name: p.kind for p in profile_columns(_sample)}
    return tuple(
        ColumnProfile(
            c.name,
            kinds.get(c.name, "text"),
            c.rows,
            c.missing,
            c.distinct,
            tuple((value_key(v), n) for v, n in c.top),
            c.minimum,
            c.maximum,
        )
        for c in column_statistics(location).columns
    )


@st.cache_data(**SESSION)
def profiles(data_key: str, _df: pd.DataFrame) -> tuple[ColumnProfile, ...]:
    """Column profiles of these data."""
    return profile_columns(_df)


@st.cache_data(**SESSION)
def suggestion(data_key: str, _df: pd.DataFrame) -> SpecSuggestion:
    """Suggested roles for these data."""
    return suggest_roles(_df)


@st.cache_data(**SESSION)
def validation(data_key: str, spec_json: str, sha256: str, _df: pd.DataFrame | CountedTable) -> SpecValidation:
    """Problems of a spec (given as JSON, so it hashes cheaply) on these data (the file's hash: ``sha256``), or on an
    engine's counts of every row of them."""
    spec = AuditSpec.from_json(spec_json)
    if isinstance(_df, CountedTable):
        return validate_spec(
            _df.frame, spec, dataset_sha256=sha256, weights=_df.weights, columns=_df.columns, edges=_df.edges
        )
    return validate_spec(_df, spec, dataset_sha256=sha256)


def checks(data: Dataset, spec: AuditSpec) -> SpecValidation:
    """Problems of ``spec`` on ``data``: on every row (counted by the engine for a source read by one)."""
    return validation(data.data_key, spec.to_json(), data.sha256, audited(data, spec))


@st.cache_data(**SESSION)
def group_sizes(
    data_key: str, column: str, bins: tuple[float, ...] | None, quantiles: int | None, _series: pd.Series
) -> dict[str, int]:
    """Rows per group of one protected attribute (binned when ``bins`` or ``quantiles`` is given)."""
    return encode_groups(_series, bins=bins, quantiles=quantiles).sizes()


def groups_of(data: Dataset, column: str, bins: tuple[float, ...] | None, quantiles: int | None) -> dict[str, int]:
    """Rows per group of one protected attribute of ``data``: of every row (counted by the engine for a source
    read by one, its quantile bins cut where every row cuts them)."""
    if not data.sampled:
        return group_sizes(data.data_key, column, bins, quantiles, data.table.data[column])
    spec = replace(NO_COLUMNS, protected=(ProtectedAttribute(column, bins=bins, quantiles=quantiles),))
    table = audited(data, spec)
    return encode_groups(
        table.frame[column], bins=bins, quantiles=quantiles, weights=table.weights, edges=table.edges.get(column)
    ).sizes()


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


# --- the Drivers page's stages ----------------------------------------------------------------------
# Remembered in the session (ui.state.remember) rather than with st.cache_data: the page shows each stage's
# progress as it runs, and a cached function cannot write to a block created outside it. One entry per stage:
# a new sample size reuses the fitted surrogate, and only what depends on it is computed again.


def surrogate_stage(
    data_key: str,
    spec_json: str,
    include_protected: bool,
    random_state: int,
    _df: pd.DataFrame,
    progress: Callable[[int, int], None] | None = None,
) -> SurrogateStage:
    """Stage 1 of the explanation of these data under a spec (given as JSON): the fitted surrogate."""
    context = (data_key, spec_json, include_protected, random_state)
    found = state.recall("drivers_surrogate", context)
    if found is None:
        spec = AuditSpec.from_json(spec_json)
        found = explain_surrogate(
            _df, spec, include_protected=include_protected, random_state=random_state, progress=progress
        )
        state.remember("drivers_surrogate", context, found)
    return found


def shap_stage(
    context: tuple, stage: SurrogateStage, sample_size: int, progress: Callable[[int, int], None] | None = None
) -> ShapStage:
    """Stage 2: SHAP values of the sample (``context``: the key of ``stage``, as :func:`surrogate_stage` took it)."""
    key = (*context, sample_size)
    found = state.recall("drivers_shap", key)
    if found is None:
        found = explain_shap(stage, sample_size=sample_size, progress=progress)
        state.remember("drivers_shap", key, found)
    return found


def proxy_stage(
    context: tuple, stage: SurrogateStage, shap: ShapStage, progress: Callable[[int, int], None] | None = None
) -> ProxyStage:
    """Stage 3: proxies and recoverability (``context``: the key of ``shap``, as :func:`shap_stage` took it)."""
    found = state.recall("drivers_proxies", context)
    if found is None:
        found = explain_proxies(stage, shap, progress=progress)
        state.remember("drivers_proxies", context, found)
    return found


def flip_stage(
    context: tuple, stage: SurrogateStage, progress: Callable[[int, int], None] | None = None
) -> dict[str, dict[str, float]] | None:
    """Stage 4: the flip test (``context``: the key of ``stage``)."""
    found = state.recall("drivers_flips", context)
    if found is None:
        found = ("computed", explain_flips(stage, progress=progress))
        state.remember("drivers_flips", context, found)
    return found[1]


def explanation(
    data_key: str, spec_json: str, sample_size: int, include_protected: bool, random_state: int, _df: pd.DataFrame
) -> Explanation:
    """The whole explanation (the flip test only with ``include_protected``), as the Drivers page runs it.

    Through the same remembered stages, so the Workshop and the Drivers page reuse each other's work.
    """
    from analysis.explain import explanation_from

    context = (data_key, spec_json, include_protected, random_state)
    stage = surrogate_stage(data_key, spec_json, include_protected, random_state, _df)
    shap = shap_stage(context, stage, sample_size)
    proxies = proxy_stage((*context, sample_size), stage, shap)
    flips = flip_stage(context, stage) if include_protected else None
    return explanation_from(stage, shap, proxies, flips)


def is_remembered(kind: str, context: tuple) -> bool:
    """Whether the stage ``kind`` ("surrogate", "shap", "proxies", "flips") was computed for ``context``."""
    return state.recall(f"drivers_{kind}", context) is not None


def preload_model_libraries() -> threading.Thread:
    """Import LightGBM and scikit-learn in the background, once per server process.

    They take 1.5-3 s to import; done while the user is on the Data page, the Drivers page does not wait for them.
    """
    global _preload
    with _preload_lock:
        if _preload is None:

            def load() -> None:
                with contextlib.suppress(Exception):  # the page imports them again and reports any failure
                    import lightgbm  # noqa: F401
                    import sklearn.metrics  # noqa: F401

            _preload = threading.Thread(target=load, name="paritylab-preload-models", daemon=True)
            _preload.start()
        return _preload


_preload: threading.Thread | None = None
_preload_lock = threading.Lock()


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


# --- slices -------------------------------------------------------------------------------------------------


# The most rows the overview searches for slices in memory (about a second for 20,000 rows at depth 3); beyond it
# the Slices page runs the search on demand. A source opened by path is searched by DuckDB whatever its size.
SLICES_IN_MEMORY_ROWS = 250_000


@st.cache_data(**(SESSION | {"show_spinner": "Searching the slices…"}))
def slices(
    data_key: str,
    spec_json: str,
    metric: str,
    max_depth: int,
    min_support: int | None,
    top_k: int,
    alpha: float,
    confidence: float,
    features: tuple[str, ...] | None,
    include_protected: bool,
    location: str | None,
    na_values: tuple[str, ...] = (),
    *,
    _df: pd.DataFrame | None = None,
) -> SliceSearch:
    """The slice search of these data (as read) under a spec (given as JSON) with these options.

    In memory: ``_df``, the table. With ``location`` (a file or folder opened by path): DuckDB counts every row of
    the source, read with ``na_values`` as missing, as the Data page read it.
    """
    options = {
        "metric": metric,
        "max_depth": max_depth,
        "min_support": min_support,
        "top_k": top_k,
        "alpha": alpha,
        "confidence": confidence,
        "features": None if features is None else list(features),
        "include_protected": include_protected,
    }
    spec = AuditSpec.from_json(spec_json)
    if location is not None:
        return find_slices(location, spec, engine="duckdb", na_values=list(na_values) or None, **options)
    return find_slices(_df, spec, engine="pandas", **options)


def search_slices(data: Dataset, spec: AuditSpec, **options) -> SliceSearch:
    """:func:`slices` of ``data``: in memory, or by DuckDB over every row of a source opened by path."""
    if data.sampled:
        return slices(
            data.data_key, spec.to_json(), location=data.location, na_values=data.reading.na_values, **options
        )
    return slices(data.data_key, spec.to_json(), location=None, _df=data.table.data, **options)


def slice_stage(
    data: Dataset,
    context: tuple,
    stage: SurrogateStage,
    item,
    metric: str,
    bins: dict[str, tuple[float, ...]],
    sample_size: int,
    random_state: int,
):
    """Why a slice's decisions differ from the rest (``context``: the key of ``stage``, as
    :func:`surrogate_stage` took it), remembered for the session like the other stages.

    The slice's numbers are cut where the search cut them (``bins``): a source opened by path is explained on a
    stratified sample, whose own rows would cut other bins.
    """
    from analysis.explain import explain_slice
    from analysis.slices import slice_mask

    key = (*context, item.key, metric, sample_size)
    found = state.recall("drivers_slice", key)
    if found is None:
        mask = slice_mask(stage.df, stage.spec, item, metric=metric, edges=bins)
        found = explain_slice(stage, mask, name=item.key, sample_size=sample_size, random_state=random_state)
        state.remember("drivers_slice", key, found)
    return found
