"""Decision values that have an order: Low < Medium < High, P4 < … < P1, 1 < 2 < 3, Bad < Fair < Good.

An ordered decision is shown in its order wherever its values are listed (the Data page's pickers, the
distribution of decision values, the report). :func:`recognize_order` finds the order from the values
alone; a spec's ``decision_order`` overrides it (``()`` says the values have no order).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from analysis.values import value_key, variant_key

__all__ = ["ValueOrder", "decision_order", "order_values", "recognize_order"]

# Each scale lists its ranks lowest first; a rank may have several spellings. A column's values must all be
# ranks of one scale, each rank at most once, for the scale to apply.
SCALES: tuple[tuple[str, tuple[frozenset[str], ...]], ...] = tuple(
    (name, tuple(frozenset(r.split("|")) for r in ranks))
    for name, ranks in (
        (
            "levels",
            (
                "none|no",
                "very low|very-low|verylow|lowest",
                "low",
                "medium|moderate|med|mid|middle|normal|average",
                "high",
                "very high|very-high|veryhigh|highest",
                "critical|urgent|severe|extreme",
            ),
        ),
        ("quality levels", ("very poor|very bad", "poor|bad", "fair|average|ok", "good", "very good", "excellent")),
        ("severity levels", ("trivial", "minor", "major", "critical", "blocker")),
        ("agreement levels", ("strongly disagree", "disagree", "neutral", "agree", "strongly agree")),
    )
)
# P1 (or Priority 1, Sev 1) is the most urgent: the lowest number is the highest level.
PRIORITY = re.compile(r"^(?:p|prio|priority|sev|severity)\s*[-_ ]?\s*(\d{1,3})$")
# '1-Low', '2. Medium', '3) High', '4: Critical'.
NUMBERED = re.compile(r"^(\d{1,3})\s*[-._:)]\s*(\S.*)$")
NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class ValueOrder:
    """An order of a column's values.

    Attributes
    ----------
    values
        The values (canonical text, as :func:`analysis.values.value_key` spells them), lowest first.
    how
        How the order was found, in words: ``"levels"``, ``"priority codes, P1 the most urgent"``,
        ``"numbers"``, ``"by their leading numbers"``, … or ``"set in the spec"``.
    """

    values: tuple[str, ...]
    how: str

    def shown(self) -> str:
        """``'Low < Medium < High'``."""
        return " < ".join(self.values)

    def top(self, n: int) -> tuple[str, ...]:
        """The ``n`` highest values, in order."""
        return self.values[len(self.values) - n :] if n > 0 else ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"values": list(self.values), "how": self.how}


def _by_scale(words: dict[str, str]) -> tuple[str, dict[str, int]] | None:
    """The one scale that places every value (key: value, item: its normalised spelling), with ranks."""
    for name, ranks in SCALES:
        placed = {}
        for value, word in words.items():
            rank = next((r for r, spellings in enumerate(ranks) if word in spellings), None)
            if rank is None:
                break
            placed[value] = rank
        else:
            if len(set(placed.values())) == len(placed):  # 'Medium' and 'Moderate' together: no single order
                return name, placed
    return None


def _normalized(value: str) -> str:
    return re.sub(r"[_]+", " ", variant_key(value)).strip()


def recognize_order(values: Iterable[object]) -> ValueOrder | None:
    """The order of a column's distinct values, recognised from the values alone, or None.

    Recognised: words of one scale (``Low/Medium/High``, ``Very Low … Very High``, ``Low/Normal/High/Urgent``,
    ``Bad/Fair/Good``, ``Minor/Major/Critical``, agreement), priority codes (``P1 … P4``, ``Priority 1``:
    the lowest number is the most urgent, so the highest level), numbered levels (``1-Low, 2-Medium``: by
    their words when these are a scale, else by their numbers) and numbers (``1, 2, 3``). Mixed or unknown
    values, two spellings of one level, or fewer than two values give None.

    Parameters
    ----------
    values
        The distinct values (text or numbers; missing ones are ignored).

    Returns
    -------
    ValueOrder or None
        The values lowest first, and how the order was recognised.
    """
    keys = list(dict.fromkeys(k for v in values if (k := value_key(v)) not in (None, "")))
    if len(keys) < 2:
        return None
    if all(NUMBER.match(k) for k in keys):
        return ValueOrder(tuple(sorted(keys, key=float)), "numbers")
    words = {k: _normalized(k) for k in keys}
    found = _by_scale(words)
    if found is not None:
        name, ranks = found
        return ValueOrder(tuple(sorted(keys, key=ranks.__getitem__)), name)
    codes = {k: int(m.group(1)) for k, w in words.items() if (m := PRIORITY.match(w))}
    if len(codes) == len(keys) and len(set(codes.values())) == len(keys):
        ordered = sorted(keys, key=codes.__getitem__, reverse=True)
        return ValueOrder(tuple(ordered), f"priority codes, {ordered[-1]} the most urgent")
    numbered = {k: m for k, w in words.items() if (m := NUMBERED.match(w))}
    if len(numbered) == len(keys):
        found = _by_scale({k: m.group(2).strip() for k, m in numbered.items()})
        if found is not None:
            return ValueOrder(tuple(sorted(keys, key=found[1].__getitem__)), f"numbered {found[0]}, by their words")
        numbers = {k: int(m.group(1)) for k, m in numbered.items()}
        if len(set(numbers.values())) == len(keys):
            return ValueOrder(tuple(sorted(keys, key=numbers.__getitem__)), "by their leading numbers")
    return None


def decision_order(given: tuple[str, ...] | None, values: Iterable[object]) -> ValueOrder | None:
    """The order in use for a decision's values: the spec's ``decision_order`` when set, else the recognised one.

    Parameters
    ----------
    given
        The spec's ``decision_order``: None to recognise the order, ``()`` for no order, or the values lowest
        first.
    values
        The decision column's distinct values.
    """
    if given is None:
        return recognize_order(values)
    if not given:
        return None
    return ValueOrder(tuple(value_key(v) or "" for v in given), "set in the spec")


def order_values(values: Iterable[object], order: ValueOrder | None) -> list[str]:
    """``values`` (as canonical text) in ``order``; values the order does not name follow, as they came."""
    keys = [k for v in values if (k := value_key(v)) is not None]
    if order is None:
        return keys
    rank = {v: i for i, v in enumerate(order.values)}
    return sorted(keys, key=lambda k: (k not in rank, rank.get(k, 0)))
