"""Every user-set option's default, and the checks of option values, in one place.

The library's signatures, the CLI's argparse defaults and help text, and the pages' widget defaults
all read these constants, so a default is written once. The checks raise :class:`OptionError`
with one message shape: what was expected, what arrived, and how to fix it, e.g.

    audit() option di_threshold must be a number strictly between 0 and 1, got 1.5.
    Use e.g. di_threshold=0.8 (the four-fifths rule).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from analysis.errors import OptionError
from analysis.wording import Remedy

__all__ = [
    "ALPHA",
    "COMPARE_TOLERANCE",
    "CONFIDENCE",
    "DEFAULT_TOLERANCE",
    "DEFAULT_TOLERANCES",
    "FOUR_FIFTHS",
    "GAP_THRESHOLD",
    "GOAL_TPR_TOLERANCE",
    "MIN_CELL_SIZE",
    "MIN_GROUP_SIZE",
    "POWER",
    "SAMPLE_SIZE",
    "SEED",
    "SMALL_CATEGORY_SHARE",
    "TEST_SIZE",
    "OptionError",
    "check_choice",
    "check_costs",
    "check_flag",
    "check_fraction",
    "check_number",
    "check_whole",
    "default_tolerance",
]

FOUR_FIFTHS = 0.8
"""The four-fifths rule: a group's favourable rate below 0.8 × the highest is adverse impact (US EEOC)."""
MIN_GROUP_SIZE = 30
"""Groups with fewer rows are "too small to conclude": shown, left out of summaries and findings."""
SMALL_CATEGORY_SHARE = 0.02
"""NYC Local Law 144 audit tables: a category under this share of its table may be left out of the impact ratios."""
MIN_CELL_SIZE = 10
"""Intersection cells with fewer rows are suppressed."""
CONFIDENCE = 0.95
"""Coverage of every confidence interval."""
ALPHA = 0.05
"""Significance level: a finding, or a change between audits, needs a q-value below it."""
POWER = 0.8
"""Power at which the audit states the smallest gap it could have detected."""
GAP_THRESHOLD = 0.1
"""A TPR or FPR difference larger than this (in absolute value) is a finding."""
DEFAULT_TOLERANCE = 0.05
"""The default tolerance of a mitigation constraint's range (selection rate, TPR, …)."""
DEFAULT_TOLERANCES = {"four_fifths": 0.0}
"""Per-constraint defaults that differ: four_fifths' tolerance lowers the 0.8 floor, so 0 is the rule itself."""
GOAL_TPR_TOLERANCE = 0.02
"""The Mitigation goal "equal true-positive rates within …": the largest TPR range it allows."""
COMPARE_TOLERANCE = 0.02
"""Comparing audits: a difference metric regresses when its absolute value grows by more than this."""
SAMPLE_SIZE = 5000
"""Rows the drivers' explanation computes SHAP values for."""
SEED = 0
"""The random seed of models, splits and samples."""
TEST_SIZE = 0.3
"""Share of rows compare_mitigations() holds out."""

OPTION = "{where} option {name} must be {expected}, got {got!r}."


def default_tolerance(constraint: str) -> float:
    """The default tolerance of a mitigation constraint: 0 for four_fifths (the 0.8 floor itself), else 0.05."""
    return DEFAULT_TOLERANCES.get(constraint, DEFAULT_TOLERANCE)


def _refuse(where: str, name: str, value: object, expected: str, fix: str, remedy: Remedy | None) -> OptionError:
    message = OPTION.format(where=where, name=name, expected=expected, got=value)
    return OptionError(f"{message} {fix}".strip(), option=name, remedy=remedy)


def _is_number(value: object) -> bool:
    # bool is an int to Python, never a number to a user; numpy's scalars register as numbers.Real.
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _bound(value: float) -> str:
    return f"{value:g}"


def check_number(
    where: str,
    name: str,
    value: object,
    *,
    low: float,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = True,
    fix: str,
    remedy: Remedy | None = None,
) -> None:
    """Refuse ``value`` unless it is a finite number from ``low`` (to ``high``).

    Parameters
    ----------
    where
        The function or command whose option it is, e.g. ``"audit()"``.
    name
        The option's name, e.g. ``"tolerance"``.
    value
        What the caller passed.
    low, high
        The range; no upper end when ``high`` is None.
    low_open, high_open
        Whether the range excludes ``low`` / ``high`` (default: includes low, excludes high).
    fix
        The sentence saying how to fix it, e.g. ``"Use e.g. tolerance=0.02."``.
    remedy
        The option that fixes it, worded per surface (:class:`analysis.wording.Remedy`).

    Raises
    ------
    OptionError
    """
    if high is None:
        expected = f"a finite number {'>' if low_open else '≥'} {_bound(low)}"
    elif low_open and high_open:
        expected = f"a number strictly between {_bound(low)} and {_bound(high)}"
    else:
        expected = f"a number in {'(' if low_open else '['}{_bound(low)}, {_bound(high)}{')' if high_open else ']'}"
    ok = _is_number(value) and math.isfinite(float(value))  # type: ignore[arg-type]
    if ok:
        number = float(value)  # type: ignore[arg-type]
        ok = (number > low if low_open else number >= low) and (
            high is None or (number < high if high_open else number <= high)
        )
    if not ok:
        raise _refuse(where, name, value, expected, fix, remedy)


def check_fraction(where: str, name: str, value: object, fix: str, *, remedy: Remedy | None = None) -> None:
    """Refuse ``value`` unless it is a number strictly between 0 and 1 (a level, a share, a threshold)."""
    check_number(where, name, value, low=0, high=1, low_open=True, high_open=True, fix=fix, remedy=remedy)


def check_whole(where: str, name: str, value: object, minimum: int, fix: str, *, remedy: Remedy | None = None) -> None:
    """Refuse ``value`` unless it is a whole number (an int, not a bool) of at least ``minimum``."""
    whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not whole or value < minimum:  # type: ignore[operator]
        raise _refuse(where, name, value, f"a whole number of at least {minimum}", fix, remedy)


def check_choice(
    where: str, name: str, value: object, allowed: Sequence[str], fix: str = "", *, remedy: Remedy | None = None
) -> None:
    """Refuse ``value`` unless it is one of ``allowed``; the fix defaults to the first choice."""
    if not isinstance(value, str) or value not in allowed:
        fix = fix or f"Use e.g. {name}={allowed[0]!r}."
        raise _refuse(where, name, value, f"one of {list(allowed)}", fix, remedy)


def check_flag(where: str, name: str, value: object, fix: str = "", *, remedy: Remedy | None = None) -> None:
    """Refuse ``value`` unless it is True or False."""
    if not isinstance(value, bool):
        raise _refuse(where, name, value, "True or False", fix or f"Use {name}=True or {name}=False.", remedy)


COST_FIX = (
    "Use e.g. cost_fp=5, benefit_tp=1 (the cost of a false positive / the benefit of a true positive, in the "
    "same units: 'a wrong approval costs five times what a right one gains')."
)


def check_costs(where: str, cost_fp: Any, benefit_tp: Any) -> None:
    """Refuse a cost or benefit that is not a finite number ≥ 0."""
    for name, value in (("cost_fp", cost_fp), ("benefit_tp", benefit_tp)):
        check_number(where, name, value, low=0, fix=COST_FIX)
