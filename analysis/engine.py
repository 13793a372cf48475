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
    "compress",
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
