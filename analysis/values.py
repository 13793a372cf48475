"""How cell values are compared with the values a user names in a spec.

A spec says ``positive: ["Y"]`` or ``positive: [1]``; the column may hold the text
``"1"``, the integer ``1`` or the float ``1.0``. All of these are compared through one
canonical text key, so a spec written by hand, by the CLI or by the app means the same
thing whatever the column's dtype.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["Scalar", "distinct_keys", "matches_any", "value_key"]

Scalar = str | int | float | bool


def value_key(value: object) -> str | None:
    """Canonical text of a cell or spec value; None for missing.

    Integral numbers lose their ``.0`` (``1.0`` and ``"1"`` both give ``"1"``) and text
    is trimmed, so ``' >50K'`` and ``'>50K'`` are the same value.
    """
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None
        if math.isfinite(value) and float(value).is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(float(value))
    return str(value).strip()


def distinct_keys(series: pd.Series) -> list[str]:
    """Distinct non-missing canonical values of a column, most frequent first."""
    counts = series.value_counts(dropna=True, sort=False)
    merged: dict[str, int] = {}
    for raw, count in counts.items():
        key = value_key(raw)
        if key is not None:
            merged[key] = merged.get(key, 0) + int(count)
    return sorted(merged, key=lambda k: (-merged[k], k))


def matches_any(series: pd.Series, values: Iterable[object]) -> np.ndarray:
    """Boolean mask: the cell's canonical value is one of ``values`` (missing is False)."""
    keys = {value_key(v) for v in values} - {None}
    if not keys:
        return np.zeros(len(series), dtype=bool)
    if pd.api.types.is_bool_dtype(series.dtype):
        wanted = [k == "True" for k in keys if k in ("True", "False")]
        return series.isin(wanted).to_numpy(dtype=bool, na_value=False)
    if pd.api.types.is_numeric_dtype(series.dtype):
        numbers = [number for number in map(_as_number, keys) if number is not None]
        return series.isin(numbers).to_numpy(dtype=bool, na_value=False)
    text = series.astype("str").str.strip()
    return (text.isin(keys) & series.notna()).to_numpy(dtype=bool, na_value=False)


def _as_number(key: str) -> float | None:
    try:
        return float(key)
    except ValueError:
        return None
