"""Column profiles: type, distinct values, missing cells, range and examples."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.values import value_key

__all__ = ["ColumnKind", "ColumnProfile", "profile_column", "profile_columns"]

ColumnKind = Literal["integer", "number", "text", "boolean", "datetime"]

EXAMPLES = 5


@dataclass(frozen=True)
class ColumnProfile:
    """What one column holds.

    Attributes
    ----------
    name, kind
        Column name and its kind: integer, number, text, boolean or datetime.
    rows, missing, distinct
        Row count, missing cells, distinct non-missing values.
    top_values
        Up to five most frequent values (canonical text) with their counts.
    minimum, maximum
        Range of a numeric column, else None.
    """

    name: str
    kind: ColumnKind
    rows: int
    missing: int
    distinct: int
    top_values: tuple[tuple[str, int], ...]
    minimum: float | None = None
    maximum: float | None = None

    @property
    def numeric(self) -> bool:
        """True for integer and number columns."""
        return self.kind in ("integer", "number")

    @property
    def unique_per_row(self) -> bool:
        """Every row has its own value (and none is missing): an identifier."""
        return self.rows > 1 and self.missing == 0 and self.distinct == self.rows

    @property
    def in_unit_interval(self) -> bool:
        """A numeric column whose values all lie in [0, 1]."""
        return self.numeric and self.minimum is not None and self.minimum >= 0.0 and self.maximum <= 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        out = asdict(self)
        out["top_values"] = [list(pair) for pair in self.top_values]
        return out


def _kind(series: pd.Series) -> ColumnKind:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        values = series.dropna().to_numpy(dtype=float)
        return "integer" if values.size and np.all(np.mod(values, 1) == 0) else "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "text"


def profile_column(series: pd.Series) -> ColumnProfile:
    """Profile one column."""
    kind = _kind(series)
    counts = series.value_counts(dropna=True)
    top = tuple((value_key(v) or "", int(c)) for v, c in counts.head(EXAMPLES).items())
    minimum = maximum = None
    if kind in ("integer", "number") and counts.size:
        values = series.to_numpy(dtype=float, na_value=np.nan)
        minimum, maximum = float(np.nanmin(values)), float(np.nanmax(values))
    return ColumnProfile(
        name=str(series.name),
        kind=kind,
        rows=len(series),
        missing=int(series.isna().sum()),
        distinct=int(counts.size),
        top_values=top,
        minimum=minimum,
        maximum=maximum,
    )


def profile_columns(df: pd.DataFrame) -> tuple[ColumnProfile, ...]:
    """Profile every column of ``df``, in column order."""
    return tuple(profile_column(df[c]) for c in df.columns)
