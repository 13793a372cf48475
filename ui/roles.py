"""Which roles of a spec still apply after the same file was read again with other reading options.

A new reading can turn values into missing (``?`` treated as missing) or, for a workbook, bring other columns
(another sheet). Roles whose column or values are gone are dropped, and each drop is said in words.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from analysis import AuditSpec, ParityLabError
from analysis.values import distinct_keys, value_key

__all__ = ["roles_that_apply"]


def _present(values: tuple, series: pd.Series) -> tuple[tuple, tuple]:
    """``values`` split into those still in ``series`` and those no longer there."""
    keys = set(distinct_keys(series))
    kept = tuple(v for v in values if value_key(v) in keys)
    return kept, tuple(v for v in values if value_key(v) not in keys)


def _quoted(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def roles_that_apply(spec: AuditSpec, df: pd.DataFrame) -> tuple[AuditSpec | None, tuple[str, ...]]:
    """``spec`` without the roles that no longer fit ``df``, and a sentence per role dropped.

    Parameters
    ----------
    spec
        Roles chosen on an earlier reading of the same file.
    df
        The table as read now.

    Returns
    -------
    tuple
        The spec that still applies (None when neither its decision nor its score column is left: the roles
        then describe another table), and what was dropped, in words.
    """
    columns = {str(c) for c in df.columns}
    dropped: list[str] = []

    def column(name: str | None, role: str) -> str | None:
        if name is not None and name not in columns:
            dropped.append(f"{role} column '{name}' (not in the table any more)")
            return None
        return name

    def values(name: str | None, chosen: tuple, role: str) -> tuple:
        if name is None:
            return ()
        kept, gone = _present(chosen, df[name])
        if gone:
            dropped.append(f"{role} {_quoted(gone)} of '{name}' (no row has it any more)")
        return kept

    decision, label, score = column(spec.decision, "decision"), column(spec.label, "label"), column(spec.score, "score")
    if decision is None and score is None:
        return None, tuple(dropped)
    protected = tuple(a for a in spec.protected if column(a.column, "protected") is not None)
    kept_columns = {
        field: tuple(c for c in getattr(spec, field) if column(c, role) is not None)
        for field, role in (("id_columns", "identifier"), ("pii_columns", "personal-data"))
    }
    features = None if spec.features is None else tuple(c for c in spec.features if c in columns)
    names = {a.column for a in protected}
    intersections = spec.intersections
    if intersections is not None:
        for joint in intersections:
            if not set(joint) <= names:
                gone = _quoted(c for c in joint if c not in names)
                dropped.append(f"intersection {' × '.join(joint)} (its protected column {gone} is gone)")
        intersections = tuple(t for t in intersections if set(t) <= names)
    try:
        kept = replace(
            spec,
            decision=decision,
            positive=values(decision, spec.positive, "positive decision"),
            label=label,
            label_positive=values(label, spec.label_positive, "positive outcome"),
            score=score,
            threshold=spec.threshold if score is not None else None,
            protected=protected,
            features=features,
            intersections=intersections,
            **kept_columns,
        )
    except ParityLabError:  # e.g. a threshold without its score: the roles describe another table
        return None, tuple(dropped)
    return kept, tuple(dropped)
