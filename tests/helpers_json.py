"""Compare two JSON-like values: structure, keys, texts and counts exactly; floats to a relative tolerance.

Used wherever two ways of computing one result must agree (an audit of a table and of its counted
combinations; one engine and another): ``assert_same_json(a, b)`` names the first path that differs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = ["TOLERANCE", "assert_same_json", "json_differences", "without"]

TOLERANCE = 1e-12


def json_differences(left: object, right: object, *, tolerance: float = TOLERANCE, path: str = "$") -> list[str]:
    """Every path where ``left`` and ``right`` differ (empty when they agree).

    Mappings must have the same keys in the same order, lists the same length; ints, texts, booleans
    and None must be equal and of the same type; floats equal within ``tolerance`` (relative, and
    absolute near 0).
    """
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        if list(left) != list(right):
            return [f"{path}: keys {list(left)} != {list(right)}"]
        return [d for k in left for d in json_differences(left[k], right[k], tolerance=tolerance, path=f"{path}.{k}")]
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        if len(left) != len(right):
            return [f"{path}: {len(left)} items != {len(right)}"]
        pairs = zip(left, right, strict=True)
        return [
            d
            for i, (a, b) in enumerate(pairs)
            for d in json_differences(a, b, tolerance=tolerance, path=f"{path}[{i}]")
        ]
    if type(left) is not type(right):
        return [f"{path}: {left!r} ({type(left).__name__}) != {right!r} ({type(right).__name__})"]
    if isinstance(left, float):
        if math.isnan(left) and math.isnan(right):
            return []
        if not math.isclose(left, right, rel_tol=tolerance, abs_tol=tolerance):
            return [f"{path}: {left!r} != {right!r}"]
        return []
    return [] if left == right else [f"{path}: {left!r} != {right!r}"]


def assert_same_json(left: object, right: object, *, tolerance: float = TOLERANCE, shown: int = 10) -> None:
    """Fail naming the first ``shown`` paths where ``left`` and ``right`` differ (see :func:`json_differences`)."""
    differences = json_differences(left, right, tolerance=tolerance)
    assert not differences, f"{len(differences)} difference(s):\n" + "\n".join(differences[:shown])


def without(data: Mapping, keys: Iterable[str]) -> dict:
    """A copy of a mapping without the given top-level keys (e.g. ``created_at``)."""
    drop = set(keys)
    return {k: v for k, v in data.items() if k not in drop}
