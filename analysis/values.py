"""How cell values are compared with the values a user names in a spec.

A spec says ``positive: ["Y"]`` or ``positive: [1]``; the column may hold the text
``"1"``, the integer ``1`` or the float ``1.0``. All of these are compared through one
canonical text key, so a spec written by hand, by the CLI or by the app means the same
thing whatever the column's dtype.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "Scalar",
    "VariantGroup",
    "condition",
    "counted_values",
    "counted_variants",
    "distinct_keys",
    "matches_any",
    "merge_spellings",
    "value_key",
    "value_variants",
    "variant_key",
]

Scalar = str | int | float | bool


def condition(column: str, values: Iterable[object], *, negate: bool = False) -> str:
    """A column's values as a condition in words: ``approved = Y``, ``grade in A, B``, ``repaid ≠ 1``."""
    keys = [value_key(v) for v in values]
    if len(keys) == 1:
        return f"{column} {'≠' if negate else '='} {keys[0]}"
    return f"{column} {'not in' if negate else 'in'} {', '.join(str(k) for k in keys)}"


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


def counted_values(series: pd.Series, weights: np.ndarray | None = None) -> pd.Series:
    """Rows per distinct non-missing raw value (``series.value_counts``); with ``weights``, their sums."""
    if weights is None:
        return series.value_counts(dropna=True, sort=False)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    keep = codes >= 0
    sums = np.bincount(codes[keep], weights=np.asarray(weights)[keep], minlength=len(uniques))
    return pd.Series(np.rint(sums).astype(np.int64), index=uniques)


def distinct_keys(series: pd.Series, weights: np.ndarray | None = None) -> list[str]:
    """Distinct non-missing canonical values of a column, most frequent first (rows counted by ``weights``)."""
    counts = counted_values(series, weights)
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


# Format characters (Unicode category Cf) that render as nothing: zero-width space/joiners, word joiner,
# byte-order mark, soft hyphen, direction marks and embeddings.
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")
_SPACES = re.compile(r"\s+")


def variant_key(text: str) -> str:
    """The form two spellings of one value share: ``'Yes'``, ``'YES '`` and ``'yes\\u200b'`` all give ``'yes'``.

    NFKC normalisation (composed and decomposed accents, no-break and other Unicode spaces, full-width
    letters), invisible characters removed, runs of spaces made one, trimmed, lower-cased. Lower-casing
    rather than case folding keeps ``'Maße'`` and ``'Masse'`` (two words) apart, and so ``'ß'`` and
    ``'SS'``; locale-free casing keeps the Turkish dotted and dotless i apart from ``i`` and ``I``.
    """
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))
    return unicodedata.normalize("NFC", _SPACES.sub(" ", text).strip().lower())


@dataclass(frozen=True)
class VariantGroup:
    """Spellings of one value in one column that differ only by case, spaces, invisibles or Unicode form.

    Attributes
    ----------
    column
        The column.
    spellings
        ``(spelling, rows)`` pairs, most frequent first (ties: the composed NFC spelling, then sort
        order); the first is the spelling a merge keeps.
    """

    column: str
    spellings: tuple[tuple[str, int], ...]

    @property
    def kept(self) -> str:
        """The spelling a merge keeps: the most frequent."""
        return self.spellings[0][0]

    @property
    def merged_rows(self) -> int:
        """Rows spelled otherwise than :attr:`kept`."""
        return sum(n for _, n in self.spellings[1:])

    def shown(self) -> str:
        """``'Yes' (1,204), 'yes' (37), 'YES' (2)`` (invisible characters spelled out)."""
        return ", ".join(f"{shown_spelling(s)} ({n:,})" for s, n in self.spellings)

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict."""
        return {"column": self.column, "spellings": [[s, n] for s, n in self.spellings]}


def shown_spelling(text: str) -> str:
    """A spelling quoted so that invisible characters and decomposed accents show: ``'female\\u200b'``."""
    unusual = any(not ch.isprintable() or ch in "\u00a0\u2007\u202f" for ch in text)
    return ascii(text) if unusual or unicodedata.normalize("NFC", text) != text else repr(text)


def is_text(series: pd.Series) -> bool:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    return not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))


def value_variants(series: pd.Series, weights: np.ndarray | None = None) -> tuple[VariantGroup, ...]:
    """Groups of a text column's values that differ only by case, spaces, invisibles or Unicode form.

    Works on the column's distinct values, not on its rows. Numeric and boolean columns have none.
    Rows are counted by ``weights`` (source rows per row) when given.

    Returns
    -------
    tuple of VariantGroup
        One group per value spelled in more than one way, the most rows first.
    """
    if not is_text(series):
        return ()
    # Distinct values first (a cheaper pass than counting); rows are counted only when variants exist.
    keys = {key for raw in series.unique() if (key := value_key(raw)) is not None}
    if len({variant_key(k) for k in keys}) == len(keys):
        return ()
    counts: dict[str, int] = {}
    for raw, count in counted_values(series, weights).items():
        key = value_key(raw)
        if key is not None:
            counts[key] = counts.get(key, 0) + int(count)
    return counted_variants(str(series.name), counts)


def counted_variants(column: str, counts: dict[str, int]) -> tuple[VariantGroup, ...]:
    """:func:`value_variants` from rows per distinct value (e.g. a protected attribute's group sizes)."""
    by_form: dict[str, list[str]] = {}
    for key in counts:
        by_form.setdefault(variant_key(key), []).append(key)
    # Most rows first; a tie goes to the composed (NFC) spelling, then to the first in sort order.
    order = lambda k: (-counts[k], unicodedata.normalize("NFC", k) != k, k)  # noqa: E731
    groups = [
        VariantGroup(column, tuple((k, counts[k]) for k in sorted(keys, key=order)))
        for keys in by_form.values()
        if len(keys) > 1
    ]
    return tuple(sorted(groups, key=lambda g: (-sum(n for _, n in g.spellings), g.kept)))


def merge_spellings(series: pd.Series, groups: Iterable[VariantGroup]) -> pd.Series:
    """``series`` with every spelling of each group replaced by the group's kept spelling.

    Values outside the groups and missing cells are untouched; a categorical column stays categorical.
    """
    spelled = {s: g.kept for g in groups for s, _ in g.spellings[1:]}
    if not spelled:
        return series
    categorical = isinstance(series.dtype, pd.CategoricalDtype)
    column = series.astype(object) if categorical else series
    uniques = pd.unique(column.dropna())
    replace = {raw: spelled[key] for raw in uniques if (key := value_key(raw)) in spelled}
    out = column.mask(column.isin(list(replace)), column.map(replace))
    if categorical:
        categories = [c for c in dict.fromkeys(spelled.get(value_key(c), c) for c in series.cat.categories)]
        out = pd.Series(pd.Categorical(out, categories=categories), index=series.index, name=series.name)
    return out
