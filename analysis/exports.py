"""Tables written for other tools: CSV safe to open in a spreadsheet, and per-row decision changes.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a line break is run as a formula by
spreadsheet programs (OWASP "CSV injection"). Text cells like that get a leading ``'``; numbers —
including negative ones such as ``-0.5``, in numeric columns or written as text — stay numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.counts import outcomes
from analysis.errors import SpecError
from analysis.groups import encode_groups
from analysis.spec import AuditSpec
from analysis.variants import merge_variants
from analysis.wording import Remedy

__all__ = ["csv_bytes", "decision_changes", "neutralize_formulas"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
PLAIN_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"

NO_SCORE = "Changed decisions need a score column to apply thresholds to; the spec has none. Name the score column."
NO_PROTECTED = "The spec names no protected attribute. Name the attribute whose groups the thresholds are for."
MISSING_THRESHOLD = "No threshold for group(s) {groups} of '{column}'; give one per group, e.g. {example}."


def neutralize_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot run as spreadsheet formulas."""
    out = df.copy()
    out.columns = [_neutralize_text(str(c)) for c in out.columns]
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
            continue
        text = column.astype("str")
        risky = column.notna() & text.str.startswith(FORMULA_START) & ~text.str.match(PLAIN_NUMBER)
        if risky.any():
            out.isetitem(position, column.astype(object).where(~risky, "'" + text))
    return out


def _neutralize_text(value: str) -> str:
    risky = value.startswith(FORMULA_START) and not re.match(PLAIN_NUMBER, value)
    return "'" + value if risky else value


def csv_bytes(df: pd.DataFrame) -> bytes:
    """``df`` as UTF-8 CSV with formula cells neutralised (no index)."""
    return neutralize_formulas(df).to_csv(index=False, lineterminator="\n").encode("utf-8")


def decision_changes(
    df: pd.DataFrame,
    spec: AuditSpec,
    thresholds: Mapping[str, float],
    *,
    attribute: str | None = None,
) -> pd.DataFrame:
    """Old and new decision of every row when each group's score is cut at its own threshold.

    Parameters
    ----------
    df, spec
        The table and its spec (which must name a score column).
    thresholds
        Group label → threshold; a row is positive when its score is at least its group's threshold.
    attribute
        The protected column the thresholds are per group of; default the spec's first.

    Returns
    -------
    pandas.DataFrame
        ``row_id`` (the first ID column's value, else the row number), ``group``, ``score``,
        ``old_positive``, ``new_positive`` (nullable 0/1) and ``changed`` (nullable boolean). A row
        without a score keeps its decision. A row without a current decision (the audit leaves it out)
        has ``old_positive`` and ``changed`` missing, and ``new_positive`` missing too without a score,
        so the ``changed`` counts per group equal :func:`analysis.thresholds.what_if`'s flips.
    """
    if spec.score is None:
        raise SpecError(NO_SCORE, remedy=Remedy("score"))
    attr = next((a for a in spec.protected if a.column == attribute), spec.protected[0]) if spec.protected else None
    if attr is None:
        raise SpecError(NO_PROTECTED, remedy=Remedy("protected"))
    merged = merge_variants(df, spec)  # groups and decisions spelled as the audit and what_if spell them
    df, spec = merged.df, merged.spec
    attr = next(a for a in spec.protected if a.column == attr.column)
    groups = encode_groups(df[attr.column], bins=attr.bins, quantiles=attr.quantiles)
    absent = [g for g in groups.labels if g not in thresholds]
    if absent:
        example = ", ".join(f"{g}=0.5" for g in groups.labels[:2])
        raise SpecError(MISSING_THRESHOLD.format(groups=absent, column=attr.column, example=example))
    cut = np.array([float(thresholds[g]) for g in groups.labels])[groups.codes]
    score = df[spec.score].to_numpy(dtype=float, na_value=np.nan)
    # The audit's and what_if's own reading of the decision, so that missing ones are missing here too.
    state = outcomes(df, spec)
    old, decided = state.positive, state.decided
    # what_if thresholds finite scores only; any other row keeps its decision.
    scored = np.isfinite(score)
    new = np.where(scored, score >= cut, old)
    row_id = df[spec.id_columns[0]].to_numpy() if spec.id_columns else np.arange(len(df))
    return pd.DataFrame(
        {
            "row_id": row_id,
            "group": np.asarray(groups.labels, dtype=object)[groups.codes],
            "score": score,
            "old_positive": pd.arrays.IntegerArray(old.astype(np.int64), ~decided),
            "new_positive": pd.arrays.IntegerArray(new.astype(np.int64), ~(decided | scored)),
            "changed": pd.arrays.BooleanArray(old != new, ~decided),
        }
    )
