"""Spelling variants of one value in the columns a spec reads: found, reported and (on request) merged.

``'Yes'``, ``'yes'`` and ``'YES\\u200b'`` are three values to pandas, so a spec with ``positive: ["Yes"]``
counts the other two as negative decisions. :func:`find_variants` lists such spellings in the decision,
label and unbinned protected columns; with ``spec.merge_variants`` :func:`merge_variants` rewrites those
columns to each value's most frequent spelling (and the spec's values with them), once, before anything
is counted, so every module sees the same merged table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from analysis.spec import AuditSpec, ProtectedAttribute
from analysis.values import (
    Scalar,
    VariantGroup,
    distinct_keys,
    is_text,
    merge_spellings,
    value_key,
    value_variants,
    variant_key,
)

__all__ = ["MergedTable", "find_variants", "merge_variants", "variant_columns"]


def variant_columns(spec: AuditSpec) -> tuple[tuple[str, str], ...]:
    """``(field, column)`` of each column whose values the spec compares: decision, label, unbinned protected."""
    out = []
    if spec.decision is not None:
        out.append(("positive", spec.decision))
    if spec.label is not None:
        out.append(("label_positive", spec.label))
    out += [("protected", a.column) for a in spec.protected if not a.binned]
    return tuple(dict.fromkeys(out))


def find_variants(
    df: pd.DataFrame, spec: AuditSpec, *, weights: np.ndarray | None = None
) -> dict[str, tuple[VariantGroup, ...]]:
    """Spelling variants per column the spec compares (columns without any are left out).

    Rows are counted by ``weights`` (source rows per row of a counted table) when given.
    """
    found = {}
    for _, column in variant_columns(spec):
        if column in df.columns and column not in found:
            groups = value_variants(df[column], weights)
            if groups:
                found[column] = groups
    return found


@dataclass(frozen=True)
class MergedTable:
    """A table and spec with every spelling variant merged.

    Attributes
    ----------
    df
        The table; only the columns with variants are new (the others are shared with the input).
    spec
        The spec, its positive values and reference groups spelled as in ``df``.
    groups
        The variant groups merged, per column.
    """

    df: pd.DataFrame
    spec: AuditSpec
    groups: dict[str, tuple[VariantGroup, ...]]


def _spelling_of(series: pd.Series, weights: np.ndarray | None = None) -> dict[str, str]:
    """Variant key -> the column's spelling of it (its most frequent, once variants are merged)."""
    if not is_text(series):
        return {}
    spelled: dict[str, str] = {}
    for key in distinct_keys(series, weights):  # most frequent first
        spelled.setdefault(variant_key(key), key)
    return spelled


def _respelled(values: tuple[Scalar, ...], spelled: dict[str, str]) -> tuple[Scalar, ...]:
    out = []
    for value in values:
        key = value_key(value)
        out.append(spelled.get(variant_key(key), value) if isinstance(value, str) and key else value)
    return tuple(out)


def _respelled_order(spec: AuditSpec, spelled) -> tuple[str, ...] | None:
    """The decision order in the merged spelling; two spellings of one value keep their first place."""
    if not spec.decision_order:
        return spec.decision_order
    respelled = _respelled(spec.decision_order, spelled(spec.decision, spec.decision_order))
    return tuple(dict.fromkeys(str(v) for v in respelled))


def _respelled_reference(attr: ProtectedAttribute, df: pd.DataFrame, weights: np.ndarray | None) -> ProtectedAttribute:
    if attr.reference is None or attr.binned or attr.column not in df.columns:
        return attr
    spelled = _spelling_of(df[attr.column], weights)
    return replace(attr, reference=spelled.get(variant_key(attr.reference), attr.reference))


def merge_variants(
    df: pd.DataFrame,
    spec: AuditSpec,
    groups: dict[str, tuple[VariantGroup, ...]] | None = None,
    *,
    weights: np.ndarray | None = None,
) -> MergedTable:
    """The table and spec with the variants merged when ``spec.merge_variants`` is set (else unchanged).

    Parameters
    ----------
    df, spec
        The table and its spec.
    groups
        The variants already found by :func:`find_variants`, to save finding them again.
    weights
        Source rows per row of a counted table (the most frequent spelling is then counted in source rows).
    """
    if not spec.merge_variants:
        return MergedTable(df, spec, {})
    groups = find_variants(df, spec, weights=weights) if groups is None else groups
    out = df.copy(deep=False) if groups else df
    for column, found in groups.items():
        out[column] = merge_spellings(df[column], found)

    # The spec's values in the table's spelling, whichever spelling the spec used ('YES' for 'Yes'), also in
    # a column without variants: the spec's spelling is then one more variant.
    def spelled(column: str | None, values: tuple[Scalar, ...]) -> dict[str, str]:
        wanted = any(isinstance(v, str) for v in values) and column in out.columns
        return _spelling_of(out[column], weights) if wanted else {}

    merged = replace(
        spec,
        positive=_respelled(spec.positive, spelled(spec.decision, spec.positive)),
        label_positive=_respelled(spec.label_positive, spelled(spec.label, spec.label_positive)),
        protected=tuple(_respelled_reference(a, out, weights) for a in spec.protected),
        decision_order=_respelled_order(spec, spelled),
    )
    return MergedTable(out, merged, groups)
