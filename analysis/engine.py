"""Engines: what reads the rows and reduces them to the counts an audit is arithmetic on.

An audit depends on its rows only through how often each combination of the spec's columns
(decision, label, score, protected attributes) occurs. An engine reads the source and returns
a :class:`CountedTable`: one row per distinct combination, with the number of source rows it
stands for. The audit, validation, threshold curves and the optimiser run on that table with
those weights, so every engine gives the same answer by construction:

- ``pandas`` — the rows in memory, each its own row (weights are None): today's path;
- ``duckdb`` — embedded and out of core: one ``GROUP BY`` over Parquet/CSV files, folders,
  globs or a DuckDB relation (:mod:`analysis.duckdb_engine`);
- ``spark`` — the same ``GROUP BY`` on Apache Spark (:mod:`analysis.spark_engine`).

A score with more than :data:`EXACT_SCORES` distinct values is rounded down to a grid of a
stated resolution (anchored at the spec's threshold, so decisions taken by the threshold are
exact); :class:`ScoreResolution` records it and the audit JSON says so.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from analysis.loading import LoadReport
    from analysis.spec import AuditSpec

__all__ = [
    "ENGINES",
    "EXACT_SCORES",
    "CountedTable",
    "ScoreResolution",
    "choose_engine",
    "compress",
    "count_table",
    "counted_columns",
    "score_grid",
]

ENGINES = ("pandas", "duckdb", "spark")
# Up to this many distinct scores, curves, AUC and calibration are exact; beyond, scores are rounded.
EXACT_SCORES = 100_000
WEIGHT = "__rows__"


@dataclass(frozen=True)
class ScoreResolution:
    """How the score was counted: exactly, or rounded down to multiples of ``step`` from ``anchor``.

    Attributes
    ----------
    distinct
        Distinct finite scores in the source.
    step, anchor
        The grid (None when exact): a score ``s`` is counted as ``anchor + floor((s − anchor) / step) · step``.
    """

    distinct: int
    step: float | None = None
    anchor: float = 0.0

    @property
    def exact(self) -> bool:
        """Whether every distinct score was kept."""
        return self.step is None

    def describe(self) -> str:
        """A plain sentence for the report and the pages."""
        if self.exact:
            return f"Scores are exact ({self.distinct:,} distinct values)."
        return (
            f"The score has {self.distinct:,} distinct values; threshold curves, AUC and calibration use it "
            f"rounded down to multiples of {self.step:g}"
            + (f" from the threshold {self.anchor:g}" if self.anchor else "")
            + " (decisions taken by the threshold are exact)."
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields."""
        return {"distinct": self.distinct, "step": self.step, "anchor": self.anchor, "exact": self.exact}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreResolution:
        """Rebuild from :meth:`to_dict` output."""
        return cls(int(data["distinct"]), data.get("step"), float(data.get("anchor") or 0.0))


def score_grid(distinct: int, low: float, high: float, anchor: float | None) -> ScoreResolution:
    """The resolution at which ``distinct`` scores in ``[low, high]`` are counted.

    Exact up to :data:`EXACT_SCORES` distinct values; beyond, the step is the smallest of
    1, 2 or 5 times a power of ten that cuts the range into at most that many cells.
    """
    if distinct <= EXACT_SCORES or not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return ScoreResolution(distinct)
    raw = (high - low) / EXACT_SCORES
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return ScoreResolution(distinct, float(step), float(anchor or 0.0))


@dataclass(frozen=True, eq=False)
class CountedTable:
    """A source reduced to the distinct combinations of the columns an audit reads, each with its count.

    Attributes
    ----------
    frame
        One row per distinct combination of :func:`counted_columns`, typed as the loader types
        them (text, int64, float64); with ``weights`` None, the table itself, one row per source row.
    weights
        Source rows per row of ``frame`` (int64), or None when each row is one source row.
    rows
        Rows in the source.
    columns
        Every column of the source, in order (the frame holds only those counted).
    engine
        ``"pandas"``, ``"duckdb"`` or ``"spark"``.
    sha256
        Of the source file(s) when read from files (see the engine), else of the table.
    name
        The source's name, for messages and the report.
    load
        How the source was read (:class:`analysis.LoadReport`), or None.
    scores
        How the score was counted (None without a score column, or for the pandas engine).
    edges
        Inner bin edges of quantile-binned protected attributes, computed over every source row.
    """

    frame: pd.DataFrame
    weights: np.ndarray | None
    rows: int
    columns: tuple[str, ...]
    engine: str = "pandas"
    sha256: str | None = None
    name: str | None = None
    load: LoadReport | None = None
    scores: ScoreResolution | None = None
    edges: dict[str, tuple[float, ...]] = field(default_factory=dict)

    @property
    def weight(self) -> np.ndarray:
        """Source rows per frame row (ones when uncounted)."""
        if self.weights is None:
            return np.ones(len(self.frame), dtype=np.int64)
        return self.weights


def counted_columns(spec: AuditSpec, columns: Any = None) -> tuple[str, ...]:
    """The columns an audit reads, in a fixed order: decision, label, score, protected (those present)."""
    names = (spec.decision, spec.label, spec.score, *spec.protected_columns)
    out: list[str] = []
    for name in names:
        if name is not None and name not in out and (columns is None or name in columns):
            out.append(name)
    return tuple(out)


def compress(df: pd.DataFrame, spec: AuditSpec, *, scores: ScoreResolution | None = None) -> CountedTable:
    """Reduce an in-memory table to its distinct combinations of the spec's columns (the reference engine).

    Parameters
    ----------
    df
        The table, as :func:`analysis.load_table` returns it.
    spec
        Whose columns are counted (those present in ``df``).
    scores
        Round the score to this grid first (see :func:`score_grid`); None keeps it exact.
    """
    names = list(counted_columns(spec, df.columns))
    frame = df[names].copy()
    if scores is not None and not scores.exact and spec.score in frame.columns:
        values = frame[spec.score].to_numpy(dtype=float, na_value=np.nan)
        k = np.floor((values - scores.anchor) / scores.step)
        frame[spec.score] = scores.anchor + k * scores.step
    if not names:
        return CountedTable(frame.iloc[:0], np.zeros(0, np.int64), len(df), tuple(map(str, df.columns)))
    counted = frame.groupby(names, dropna=False, sort=True, observed=True).size().reset_index(name=WEIGHT)
    weights = counted.pop(WEIGHT).to_numpy(dtype=np.int64)
    for name in names:  # groupby may widen dtypes (int with missing → float); keep the table's
        if counted[name].dtype != df[name].dtype and not counted[name].isna().any():
            counted[name] = counted[name].astype(df[name].dtype)
    return CountedTable(counted, weights, len(df), tuple(map(str, df.columns)), scores=scores)


UNKNOWN_ENGINE = (
    "Unknown engine {engine!r}: expected one of {engines}. Pick one, or leave it out to choose by the source."
)
_DATABASE_SUFFIXES = (".duckdb", ".db", ".ddb")


def _size_text(size: int) -> str:
    return f"{size / 1024 / 1024:,.0f} MB"


def choose_engine(source: Any, engine: str | None = None) -> tuple[str, str]:
    """The engine for a source, and the reason as a sentence (said on stderr).

    An engine named wins. Otherwise: a pandas DataFrame → pandas; a DuckDB relation → duckdb; a Spark
    DataFrame → spark; a folder, glob, list of paths, DuckDB database or a file over the in-memory limit
    (:data:`analysis.loading.DEFAULT_MAX_BYTES`) → duckdb; any other file → pandas.
    """
    from analysis.loading import DEFAULT_MAX_BYTES

    if engine is not None:
        if engine not in ENGINES:
            raise _unknown_engine(engine)
        return engine, f"Using the {_ENGINE_NAMES[engine]} engine, as asked."
    kind = type(source)
    if isinstance(source, pd.DataFrame):
        return "pandas", "Using the pandas engine: the table is already in memory."
    if kind.__name__ == "DuckDBPyRelation":
        return "duckdb", "Using the DuckDB engine: the source is a DuckDB relation."
    if kind.__module__.startswith("pyspark") and kind.__name__ == "DataFrame":
        return "spark", "Using the Spark engine: the source is a Spark DataFrame."
    if isinstance(source, (list, tuple)):
        if len(source) == 1:
            return choose_engine(source[0])
        return "duckdb", f"Using the DuckDB engine: the source is {len(source)} files."
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        name = os.path.basename(path.rstrip("/\\")) or path
        if any(ch in path for ch in "*?["):
            return "duckdb", f"Using the DuckDB engine: {path} is a pattern of several files."
        if os.path.isdir(path):
            return "duckdb", f"Using the DuckDB engine: {name} is a folder of files."
        head, sep, _ = path.rpartition(":")
        if path.lower().endswith(_DATABASE_SUFFIXES) or (sep and head.lower().endswith(_DATABASE_SUFFIXES)):
            return "duckdb", f"Using the DuckDB engine: {name} is a DuckDB database."
        size = os.path.getsize(path) if os.path.isfile(path) else 0
        if size > DEFAULT_MAX_BYTES:
            return "duckdb", (
                f"Using the DuckDB engine: {name} is {_size_text(size)}, over the "
                f"{_size_text(DEFAULT_MAX_BYTES)} in-memory limit."
            )
        return "pandas", f"Using the pandas engine: {name} fits in memory."
    return "pandas", "Using the pandas engine."


_ENGINE_NAMES = {"pandas": "pandas", "duckdb": "DuckDB", "spark": "Spark"}


def _unknown_engine(engine: Any) -> Exception:
    from analysis.errors import OptionError

    return OptionError(UNKNOWN_ENGINE.format(engine=engine, engines=", ".join(ENGINES)))


def count_table(
    source: Any,
    spec: AuditSpec,
    *,
    engine: str | None = None,
    name: str | None = None,
    na_values: Any = None,
    spark: Any = None,
    spark_master: str | None = None,
) -> CountedTable:
    """Read ``source`` with the engine chosen by :func:`choose_engine` and count its rows.

    The pandas engine loads a path (:func:`analysis.load_table`) and keeps every row (weights None), as
    a DataFrame passed in; DuckDB and Spark count the spec's columns (:func:`analysis.duckdb_engine.count_duckdb`,
    :func:`analysis.spark_engine.count_spark`).
    """
    chosen, _ = choose_engine(source, engine)
    if chosen == "pandas":
        if isinstance(source, pd.DataFrame):
            return CountedTable(source, None, len(source), tuple(map(str, source.columns)), name=name)
        from analysis.loading import load_table

        loaded = load_table(source, name=name, na_values=na_values)
        df, report = loaded.data, loaded.report
        columns = tuple(map(str, df.columns))
        return CountedTable(df, None, len(df), columns, sha256=report.sha256, load=report, name=name or report.name)
    if chosen == "duckdb":
        from analysis.duckdb_engine import count_duckdb

        return count_duckdb(source, spec, name=name, na_values=na_values)
    from analysis.spark_engine import count_spark

    return count_spark(source, spec, session=spark, master=spark_master, name=name)
