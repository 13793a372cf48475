"""The exact threshold optimizer and the trade-off frontier, on :mod:`analysis.thresholds`' curves.

- :func:`optimize`: per-group thresholds that meet a fairness constraint on the data and maximise
  an objective, by an exact search over every distinct threshold of every group;
- :func:`frontier`: the optimizer's objective against the disparity as the tolerance varies.

Every figure of an answer is :func:`analysis.thresholds.what_if` at its thresholds, so the metrics
are :mod:`analysis.metrics`' definitions, the same as the audit's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from analysis.errors import SpecError
from analysis.metrics import FOUR_FIFTHS, Counts, compared_groups, rates
from analysis.options import GOAL_TPR_TOLERANCE, check_choice, check_costs, check_number, default_tolerance
from analysis.progress import Clock, ProgressCallback
from analysis.thresholds import ThresholdCurves, WhatIf, baseline, what_if
from analysis.wording import Remedy
from analysis.words import DecisionWords

__all__ = [
    "CONSTRAINTS",
    "CONSTRAINT_MEASURES",
    "GOALS",
    "LABEL_CONSTRAINTS",
    "NOTHING",
    "OBJECTIVES",
    "Frontier",
    "FrontierPoint",
    "Goal",
    "Optimization",
    "default_goal",
    "frontier",
    "gives_back",
    "goal_unavailable",
    "objective_value",
    "optimize",
]

Constraint = Literal["demographic_parity", "four_fifths", "equal_opportunity", "equalized_odds", "predictive_parity"]
Objective = Literal["accuracy", "cost", "selection_rate", "changes"]
CONSTRAINTS: tuple[str, ...] = (
    "demographic_parity",
    "four_fifths",
    "equal_opportunity",
    "equalized_odds",
    "predictive_parity",
)
OBJECTIVES: tuple[str, ...] = ("accuracy", "cost", "selection_rate", "changes")
# Objectives ranked by how many of today's decisions change (fewer is better), not by a rate.
COUNTING_OBJECTIVES = ("selection_rate", "changes")
LABEL_CONSTRAINTS = ("equal_opportunity", "equalized_odds", "predictive_parity")
EPS = 1e-12
# Above this many (TPR floor, FPR floor) pairs, equalized odds searches a subsample of floors.
MAX_PAIRS = 1_000_000
# keep-the-selection-rate: how many of the best-ranked floors are turned into thresholds and compared.
REALISED_FLOORS = 32

NEEDS_LABEL = (
    "The constraint '{constraint}' compares error rates, which need the true outcome; the spec has no label. "
    "Give the column of true outcomes, or choose a constraint that compares selection rates (demographic "
    "parity or four-fifths)."
)
NEEDS_LABEL_OBJECTIVE = (
    "The objective '{objective}' needs the true outcome; the spec has no label. "
    "Keep the overall selection rate as the objective instead."
)
INFEASIBLE = (
    "{name} within tolerance {tolerance:g} cannot be met with deterministic per-group thresholds on these data; "
    "the smallest achievable {measure} is {best}, and the thresholds shown achieve it."
)
NOT_EXACT = "the search over equalized-odds floors was subsampled ({pairs:,} pairs exceed {limit:,}); not exact"
MEASURES = {
    "demographic_parity": "selection rate",
    "four_fifths": "favourable rate",
    "equal_opportunity": "true positive rate (it needs positive labels)",
    "equalized_odds": "pair of error rates (TPR needs positive labels, FPR negative ones)",
    "predictive_parity": "precision (it needs selected rows)",
}
TOO_FEW_DEFINED = (
    "Cannot optimise for {constraint}: its {measure} is defined for fewer than two groups ({groups}); "
    "left out as undefined at every threshold: {left_out}. Choose another constraint or attribute, or merge groups."
)
TOO_FEW_LARGE = (
    "Cannot optimize for {constraint}: fewer than two groups have at least {minimum} scored rows ({sizes}), "
    "so there is nothing the audit would compare; smaller groups are too small to conclude."
)
LEFT_OUT_UNDEFINED = (
    "Group(s) {groups} left out of the constraint: their {measure} is undefined at every threshold; "
    "they take their own best threshold for the objective."
)


# --- optimizer --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Optimization:
    """The optimiser's answer: thresholds per group, whether the constraint holds, and the what-if there.

    ``achieved`` is the constraint's measure at these thresholds over the constrained groups: the
    range (largest − smallest) of the selection rate, TPR, precision, or the larger of the TPR and
    FPR ranges; for four_fifths, the smallest favourable rate over the largest.
    """

    constraint: str
    tolerance: float
    objective: str
    thresholds: dict[str, float]
    feasible: bool
    reason: str | None
    achieved: float | None
    objective_value: float | None
    exact: bool
    constrained_groups: tuple[str, ...]
    what_if: WhatIf
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "constraint": self.constraint,
            "tolerance": self.tolerance,
            "objective": self.objective,
            "attribute": self.what_if.attribute,
            "thresholds": dict(self.thresholds),
            "feasible": self.feasible,
            "reason": self.reason,
            "achieved": self.achieved,
            "objective_value": self.objective_value,
            "exact": self.exact,
            "constrained_groups": list(self.constrained_groups),
            "notes": list(self.notes),
            "what_if": self.what_if.to_dict(),
        }


@dataclass
class _Group:
    """One group's candidate thresholds, with every quantity the search needs per candidate."""

    thresholds: np.ndarray
    below: np.ndarray
    metric: np.ndarray
    second: np.ndarray | None
    value: np.ndarray
    selected: np.ndarray
    flips: np.ndarray
    correct: np.ndarray
    today: float


CANDIDATE_RATES = ("selection_rate", "favorable_rate", "tpr", "fpr", "precision")


def _candidate_rates(curves, g, below):
    """Group ``g``'s counts and the constrained rates at every candidate (vectorised in ``below``)."""
    c = curves.counts_at_below(g, below)
    counts = Counts(labels=(), n=c["n"], positives=c["selected"], favorable=_favorable(curves, c),
                    tp=c.get("tp"), fp=c.get("fp"), tn=c.get("tn"), fn=c.get("fn"))  # fmt: skip
    return c, rates(counts, CANDIDATE_RATES)


def _favorable(curves: ThresholdCurves, c: Mapping[str, np.ndarray]) -> np.ndarray:
    return c["selected"] if curves.positive_is_favorable else c["n"] - c["selected"]


def _objective_values(c, objective, cost_fp, benefit_tp) -> np.ndarray:
    """Per candidate, the separable objective (``accuracy`` or ``cost``)."""
    if objective == "accuracy":
        return (c["tp"] + c["tn"]).astype(float)
    return benefit_tp * c["tp"] - cost_fp * c["fp"]


def _today(curves: ThresholdCurves) -> np.ndarray:
    """Per group, today's positive decisions scaled to its scored rows (some may have no decision)."""
    decided, chosen = curves.current["n"], curves.current["selected"]
    overall = chosen.sum() / max(int(decided.sum()), 1)
    rate = np.where(decided > 0, chosen / np.maximum(decided, 1), overall)
    return np.round(rate * curves.sizes)


def _target(curves: ThresholdCurves) -> float:
    """Today's overall selection rate (as ``selection_rate`` objectives aim to keep it)."""
    return curves.current["selected"].sum() / max(int(curves.current["n"].sum()), 1)


def _groups(curves, constraint, objective, cost_fp, benefit_tp) -> list[_Group]:
    today = _today(curves)
    out = []
    for g in range(curves.n_groups):
        thresholds, below = curves.candidates(g)
        c, rates = _candidate_rates(curves, g, below)
        flips = c["to_positive"] + c["to_negative"]
        correct = (c["tp"] + c["tn"]).astype(float) if curves.has_label else np.zeros(below.size)
        if objective in COUNTING_OBJECTIVES:
            # Keep as many of today's decisions as possible; ties go to the more accurate candidate. For
            # selection_rate the overall rate is kept first, by the search (_selection_search).
            value = -flips + correct / (2.0 * (1 + curves.sizes.sum()))
        else:
            value = _objective_values(c, objective, cost_fp, benefit_tp)
        metric = {
            "demographic_parity": rates["selection_rate"],
            "four_fifths": rates["favorable_rate"],
            "equal_opportunity": rates.get("tpr"),
            "equalized_odds": rates.get("tpr"),
            "predictive_parity": rates.get("precision"),
        }[constraint]
        second = rates.get("fpr") if constraint == "equalized_odds" else None
        out.append(
            _Group(thresholds, below, metric, second, value.astype(float), c["selected"], flips, correct, today[g])
        )
    return out


class _RangeArgmax:
    """Sparse table: argmax of ``values`` over any ``[lo, hi)`` in O(1), vectorised over queries.

    Level ``k`` holds, for every start ``i``, the argmax (and the max) of ``values[i : i + 2**k]``; the
    levels are stored flat so a query is two gathers. The maxima are kept beside the indices so that
    neither building nor querying gathers from ``values`` at scattered positions.
    """

    def __init__(self, values: np.ndarray):
        size = values.size
        n = self.n = max(size, 1)
        levels = max(size, 1).bit_length()
        self.index = np.zeros(levels * n, dtype=np.int32 if n < 2**31 else np.int64)
        self.best = np.full(levels * n, -np.inf)
        self.index[:size] = np.arange(size)
        self.best[:size] = values
        for k in range(1, levels):
            half, count = 1 << (k - 1), size - (1 << k) + 1
            prev, here = (k - 1) * n, k * n
            left, right = self.best[prev : prev + count], self.best[prev + half : prev + half + count]
            keep_left = left >= right
            np.maximum(left, right, out=self.best[here : here + count])
            out = self.index[here : here + count]
            np.copyto(out, self.index[prev + half : prev + half + count])
            np.copyto(out, self.index[prev : prev + count], where=keep_left)

    def query(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Argmax index per query (ties to the lower index); −1 where the range is empty."""
        length = hi - lo
        ok = length > 0
        # frexp: length = m · 2**e with 0.5 ≤ m < 1, so floor(log2(length)) = e − 1 exactly for integers.
        k = np.frexp(np.maximum(length, 1))[1].astype(np.int64) - 1
        row = k * self.n
        left = row + np.where(ok, lo, 0)
        right = row + np.where(ok, hi - np.left_shift(1, k), 0)
        pick = np.where(self.best[left] >= self.best[right], self.index[left], self.index[right])
        return np.where(ok, pick, -1)


def _upper(floors: np.ndarray, constraint: str, tolerance: float) -> np.ndarray:
    if constraint == "four_fifths":
        ratio = FOUR_FIFTHS - tolerance
        return np.full(floors.shape, np.inf) if ratio <= 0 else floors / ratio * (1 + EPS) + EPS
    return floors + tolerance + EPS


def _count_below(values: np.ndarray, bounds: np.ndarray, *, strict: bool) -> np.ndarray:
    """Per sorted bound, how many sorted ``values`` are < it (strict) or ≤ it: a merge, not a search per bound.

    Equals ``np.searchsorted(values, bounds, "left" if strict else "right")``, but searches the fewer
    values among the many bounds.
    """
    first = np.searchsorted(bounds, values, side="right" if strict else "left")
    return np.cumsum(np.bincount(first, minlength=bounds.size + 1))[: bounds.size]


def _windows_single(groups: list[_Group], constraint: str, tolerance: float):
    """Per floor L (every candidate metric value) and group, the window of candidates whose value is in [L, U(L)].

    A group's window is ``order[lo:hi]`` (its candidates sorted by the constrained value).
    """
    floors = np.unique(np.concatenate([grp.metric[np.isfinite(grp.metric)] for grp in groups]))
    upper = _upper(floors, constraint, tolerance)
    windows = []
    for grp in groups:
        defined = np.flatnonzero(np.isfinite(grp.metric))
        metric = grp.metric[defined]
        # Rates that fall strictly with the threshold (selection rates always do) are sorted by reversing.
        falling = np.all(metric[1:] < metric[:-1])
        order = defined[::-1] if falling else defined[np.argsort(metric, kind="stable")]
        sorted_metric = grp.metric[order]
        lo = _count_below(sorted_metric, floors - EPS, strict=True)
        hi = _count_below(sorted_metric, upper, strict=False)
        windows.append((order, lo, hi))
    return windows, (True, 0)


def _windows_pairs(groups: list[_Group], tolerance: float):
    """Equalized odds: floors on TPR and on FPR; both fall with the threshold, so each window is contiguous."""
    tprs = np.unique(np.concatenate([grp.metric[np.isfinite(grp.metric)] for grp in groups]))
    fprs = np.unique(np.concatenate([grp.second[np.isfinite(grp.second)] for grp in groups]))
    l1, l2, pairs = _floor_pairs(groups, tprs, fprs, tolerance)
    exact = l1 is not None
    if not exact:
        keep = max(int(math.sqrt(MAX_PAIRS)), 2)
        tprs = tprs[np.unique(np.linspace(0, tprs.size - 1, keep).round().astype(int))]
        fprs = fprs[np.unique(np.linspace(0, fprs.size - 1, keep).round().astype(int))]
        l1, l2 = (a.ravel() for a in np.meshgrid(tprs, fprs, indexing="ij"))
    windows = []
    for grp in groups:
        # Candidates run from the lowest threshold (rates high) to the highest (rates low): negate to ascend.
        m1, m2 = -np.nan_to_num(grp.metric, nan=-1.0), -np.nan_to_num(grp.second, nan=-1.0)
        lo = np.maximum(np.searchsorted(m1, -(l1 + tolerance + EPS), "left"),
                        np.searchsorted(m2, -(l2 + tolerance + EPS), "left"))  # fmt: skip
        hi = np.minimum(np.searchsorted(m1, -(l1 - EPS), "right"), np.searchsorted(m2, -(l2 - EPS), "right"))
        windows.append((np.arange(grp.value.size), lo, hi))
    return windows, (exact, pairs)


def _floor_pairs(groups: list[_Group], tprs: np.ndarray, fprs: np.ndarray, tolerance: float):
    """The (TPR floor, FPR floor) pairs an optimum can have, or ``(None, None, count)`` when over MAX_PAIRS.

    At an optimum the FPR floor is the FPR of a chosen candidate c, whose TPR lies in
    [TPR floor, TPR floor + tolerance]; so the TPR floor is a candidate TPR within tolerance below
    c's. Those pairs (far fewer than every TPR × every FPR at small tolerances) contain the optimum.
    """
    both = [np.isfinite(grp.metric) & np.isfinite(grp.second) for grp in groups]
    tpr = np.concatenate([grp.metric[ok] for grp, ok in zip(groups, both, strict=True)])
    fpr = np.concatenate([grp.second[ok] for grp, ok in zip(groups, both, strict=True)])
    first = np.searchsorted(tprs, tpr - tolerance - EPS, "left")
    count = np.searchsorted(tprs, tpr + EPS, "right") - first
    total = int(count.sum())
    if total > MAX_PAIRS:
        return None, None, min(total, tprs.size * fprs.size)
    starts = np.repeat(first - (np.cumsum(count) - count), count)
    which_tpr = starts + np.arange(total)
    which_fpr = np.repeat(np.searchsorted(fprs, fpr), count)
    code = np.unique(which_tpr.astype(np.int64) * fprs.size + which_fpr)
    return tprs[code // fprs.size], fprs[code % fprs.size], total


def _search(groups: list[_Group], constraint: str, tolerance: float, target: int | None = None):
    """Score every floor and return ``(scores, picks_at, exact)``; ``picks_at(k)`` is each group's candidate there.

    Without ``target`` the objective is separable: each group's best value in its window (a range-argmax).
    With ``target`` (objective ``selection_rate``) see :func:`_selection_search`.
    """
    if constraint == "equalized_odds":
        windows, exact = _windows_pairs(groups, tolerance)
    else:
        windows, exact = _windows_single(groups, constraint, tolerance)
    if target is not None:
        scores, picks_at = _selection_search(groups, windows, target)
        return scores, picks_at, exact
    total = np.zeros(windows[0][1].size)
    picks = []
    for grp, (order, lo, hi) in zip(groups, windows, strict=True):
        pos = _RangeArgmax(grp.value[order]).query(lo, hi)
        pick = np.where(pos >= 0, order[np.maximum(pos, 0)], -1)
        total += np.where(pick >= 0, grp.value[np.maximum(pick, 0)], -np.inf)
        picks.append(pick)
    return total, lambda k: [int(p[k]) for p in picks], exact


def _selection_search(groups: list[_Group], windows, target: int):
    """Keep the overall number selected at ``target`` while changing as few of today's decisions as possible.

    Per floor, each group can select any count its window offers, between ``lo_g`` and ``hi_g``.
    Starting from today's count ``s0_g`` clamped into that range, the shortfall to ``target`` is
    moved onto the groups that have room; the floor's score ranks first the distance left to
    ``target`` and then the counts moved away from today's (a lower bound on the flips). The
    chosen floor's thresholds are then picked group by group, closest to each group's share
    (ties: fewer flips, then more correct decisions).
    """
    n_floors = windows[0][1].size
    ok = np.ones(n_floors, dtype=bool)
    base, moved_away, room_up, room_down = (np.zeros(n_floors) for _ in range(4))
    ranges = []
    for grp, (order, lo, hi) in zip(groups, windows, strict=True):
        sel = grp.selected[order].astype(float)
        top, bottom = _RangeArgmax(sel).query(lo, hi), _RangeArgmax(-sel).query(lo, hi)
        ok &= top >= 0
        smax, smin = sel[np.maximum(top, 0)], sel[np.maximum(bottom, 0)]
        start = np.clip(grp.today, smin, smax)
        base += start
        moved_away += np.abs(start - grp.today)
        room_up += smax - start
        room_down += start - smin
        ranges.append((smin, smax, start))
    short = target - base
    moved = np.where(short > 0, np.minimum(short, room_up), np.minimum(-short, room_down))
    distance = np.abs(short) - moved
    # Lexicographic: any unit of distance outweighs every possible count of moved decisions.
    weight = 2.0 * (sum(float(grp.selected.max()) for grp in groups) + 1)
    scores = np.where(ok, -(distance * weight + moved_away + moved), -np.inf)

    def picks_at(k: int) -> list[int]:
        starts = np.array([r[2][k] for r in ranges])
        rooms = np.array([(r[1][k] - r[2][k]) if short[k] > 0 else (r[2][k] - r[0][k]) for r in ranges])
        shares = moved[k] * rooms / rooms.sum() if rooms.sum() > 0 else np.zeros(len(groups))
        wanted = starts + np.sign(short[k]) * shares
        carry, out = 0.0, []
        for grp, (order, lo, hi), want in zip(groups, windows, wanted, strict=True):
            cand = order[lo[k] : hi[k]]
            aim = want + carry
            gap = np.abs(grp.selected[cand] - aim)
            best = cand[np.lexsort((-grp.correct[cand], grp.flips[cand], gap))[0]]
            carry = aim - grp.selected[best]
            out.append(int(best))
        return out

    def realized(k: int) -> tuple[list[int], tuple[float, float, float]]:
        picks = picks_at(k)
        chosen = [(grp.selected[j], grp.flips[j], grp.correct[j]) for grp, j in zip(groups, picks, strict=True)]
        selected, flips, correct = (sum(float(x[i]) for x in chosen) for i in range(3))
        return picks, (abs(selected - target), flips, -correct)

    def best_picks(k: int) -> list[int]:
        # The floors' scores are bounds (reachable counts can have gaps, flips ≥ counts moved): realise
        # the best few floors and keep the best realised one.
        finite = np.flatnonzero(np.isfinite(scores))
        top = finite[np.argsort(-scores[finite], kind="stable")[:REALISED_FLOORS]]
        return min((realized(int(j)) for j in top), key=lambda r: r[1])[0]

    return scores, best_picks


def _best(groups, constraint, tolerance, target=None):
    total, picks_at, exact = _search(groups, constraint, tolerance, target)
    if not np.isfinite(total).any():
        return None, exact
    return picks_at(int(np.argmax(total))), exact


def _smallest_tolerance(groups, constraint) -> float:
    """The smallest tolerance the search can meet (bisection; four_fifths: on 0.8 − ratio)."""
    lo, hi = 0.0, FOUR_FIFTHS if constraint == "four_fifths" else 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if np.isfinite(_search(groups, constraint, mid)[0]).any():
            hi = mid
        else:
            lo = mid
    return hi


def _check_options(where, curves, constraint, objective, tolerance):
    check_choice(where, "constraint", constraint, CONSTRAINTS)
    check_choice(where, "objective", objective, OBJECTIVES)
    check_number(where, "tolerance", tolerance, low=0, fix=f"Use e.g. tolerance={default_tolerance(constraint):g}.")
    if not curves.has_label and constraint in LABEL_CONSTRAINTS:
        raise SpecError(NEEDS_LABEL.format(constraint=constraint), remedy=Remedy("label"))
    if not curves.has_label and objective in ("accuracy", "cost"):
        raise SpecError(NEEDS_LABEL_OBJECTIVE.format(objective=objective), remedy=Remedy("objective", "selection_rate"))


def optimize(
    curves: ThresholdCurves,
    *,
    constraint: Constraint,
    tolerance: float | None = None,
    objective: Objective = "accuracy",
    cost_fp: float = 1.0,
    benefit_tp: float = 1.0,
) -> Optimization:
    """Per-group thresholds that meet ``constraint`` on the data and maximise ``objective``.

    Constraints, over the groups with at least ``min_group_size`` scored rows (every group when
    fewer than two have); other groups take their own best threshold for the objective:

    - ``demographic_parity``: largest − smallest selection rate ≤ tolerance;
    - ``four_fifths``: smallest / largest favourable rate ≥ 0.8 − tolerance (1 when all are 0,
      as the audit counts it), i.e. every group's disparate impact against the highest-rate group;
    - ``equal_opportunity``: TPR range ≤ tolerance; ``predictive_parity``: precision range ≤
      tolerance (a group selecting nobody has no precision and cannot take part);
    - ``equalized_odds``: TPR range ≤ tolerance and FPR range ≤ tolerance.

    ``tolerance`` defaults to :func:`analysis.options.default_tolerance` of the constraint (0.05; 0
    for four_fifths), as in :func:`analysis.mitigate` and the CLI.

    Objectives: ``accuracy`` (correct decisions), ``cost`` (benefit_tp × TP − cost_fp × FP) and
    ``changes`` (the fewest of today's decisions changed, then accurate), summed over groups;
    ``selection_rate``: keep the overall number selected at today's (r0 × scored rows, r0 today's
    overall selection rate) as closely as the constraint allows,
    then change few of today's decisions (the fewest when they are a threshold of the score),
    then be accurate — e.g. "pass the four-fifths rule without changing how
    many we approve".

    The search is exact for the summed objectives: the smallest constrained value in a solution is
    one of the candidates' values, so sweeping that floor L over every candidate value and taking,
    per group, the best candidate whose value lies in [L, U(L)] (a range-argmax over the group's
    candidates sorted by value) finds the optimum. For ``selection_rate`` the same sweep ranks each
    floor by the distance to today's count it must leave and the counts it moves (exact when every
    count in a group's window is reachable, as with distinct scores), then picks thresholds at the
    best floor. Equalized odds sweeps the (TPR, FPR) floor pairs an optimum can have — a
    candidate's FPR with each candidate TPR up to ``tolerance`` below its own (at tolerance 0,
    about one pair per candidate) — exactly up to 1e6 such pairs, else a 1000 × 1000 grid of
    floors, and then ``exact`` is False and the reason says so. When no thresholds meet the
    constraint, ``feasible`` is False, the reason gives the
    smallest achievable value, and the thresholds shown achieve it.
    """
    check_costs("optimize()", cost_fp, benefit_tp)
    if tolerance is None:
        tolerance = default_tolerance(constraint) if constraint in CONSTRAINTS else 0.0
    _check_options("optimize()", curves, constraint, objective, tolerance)
    return _optimize(curves, constraint, float(tolerance), objective, cost_fp, benefit_tp)


def _optimize(curves, constraint, tolerance, objective, cost_fp, benefit_tp) -> Optimization:
    """:func:`optimize` without the option checks; four_fifths takes a negative tolerance (a floor above 0.8)."""
    groups = _groups(curves, constraint, objective, cost_fp, benefit_tp)
    compared = compared_groups(curves.sizes, curves.min_group_size)
    if compared.sum() < 2:
        sizes = ", ".join(f"{g} (n={int(n):,})" for g, n in zip(curves.labels, curves.sizes, strict=True))
        raise SpecError(
            TOO_FEW_LARGE.format(constraint=constraint, minimum=curves.min_group_size, sizes=sizes),
            remedy=Remedy("min_group_size"),
        )
    # A group whose constrained rate is undefined at every threshold (e.g. no positive labels for
    # TPR) cannot take part; it is left out, said so, and takes its own best threshold.
    usable = np.array(
        [np.isfinite(grp.metric).any() and (grp.second is None or np.isfinite(grp.second).any()) for grp in groups],
        dtype=bool,
    )
    left_out = tuple(curves.labels[g] for g in np.flatnonzero(compared & ~usable))
    constrained = np.flatnonzero(compared & usable)
    if constrained.size < 2:
        raise SpecError(
            TOO_FEW_DEFINED.format(
                constraint=constraint,
                measure=MEASURES[constraint],
                groups=[curves.labels[g] for g in constrained],
                left_out=list(left_out),
            )
        )
    notes = (LEFT_OUT_UNDEFINED.format(groups=list(left_out), measure=MEASURES[constraint]),) if left_out else ()
    inside = [groups[g] for g in constrained]
    picks = [int(np.argmax(grp.value)) for grp in groups]
    target = None
    if objective == "selection_rate":
        # The constrained groups select what keeps today's overall rate, given what the others select.
        alone = np.setdiff1d(np.arange(len(groups)), constrained)
        outside = sum(int(groups[g].selected[picks[g]]) for g in alone)
        target = int(np.rint(_target(curves) * curves.sizes.sum())) - outside
    choice, exact = _best(inside, constraint, float(tolerance), target)
    feasible = choice is not None
    if choice is None:
        choice, exact = _best(inside, constraint, _smallest_tolerance(inside, constraint), target)
    for g, j in zip(constrained, choice, strict=True):
        picks[g] = j
    t = np.array([grp.thresholds[j] for grp, j in zip(groups, picks, strict=True)])
    chosen = dict(zip(curves.labels, t.tolist(), strict=True))
    result = what_if(curves, chosen, cost_fp=cost_fp, benefit_tp=benefit_tp)  # the metrics at the thresholds
    achieved = _measure(result, constraint)  # the what-if's own summary: the metrics module's definition
    reason = None
    if not feasible:
        measure = "ratio" if constraint == "four_fifths" else "range"
        best = "undefined" if achieved is None else f"{achieved:.6g}"
        reason = INFEASIBLE.format(name=constraint, tolerance=tolerance, measure=measure, best=best)
        if not exact[0]:
            reason += f" Caution: {NOT_EXACT.format(pairs=exact[1], limit=MAX_PAIRS)}."
    elif not exact[0]:
        reason = NOT_EXACT.format(pairs=exact[1], limit=MAX_PAIRS)
    return Optimization(
        constraint=constraint,
        tolerance=float(tolerance),
        objective=objective,
        thresholds=result.thresholds,
        feasible=feasible,
        reason=reason,
        achieved=achieved,
        objective_value=objective_value(result, objective),
        exact=exact[0],
        constrained_groups=tuple(curves.labels[g] for g in constrained),
        what_if=result,
        notes=notes,
    )


def objective_value(result: WhatIf, objective: str) -> float | None:
    """The objective's value in a what-if: accuracy, utility, the overall selection rate, or the decisions changed."""
    if objective == "changes":
        return float(result.summary["flips_to_positive"].value + result.summary["flips_to_negative"].value)
    if objective == "accuracy":
        return result.summary["accuracy"].value
    if objective == "cost":
        return result.summary["utility"].value
    return result.summary["selection_rate"].value


# --- frontier ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrontierPoint:
    """One point: the disparity allowed and achieved, the objective there, and how many decisions change."""

    kind: str
    tolerance: float | None
    disparity: float | None
    objective_value: float | None
    feasible: bool
    thresholds: dict[str, float]
    changed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "kind": self.kind,
            "tolerance": self.tolerance,
            "disparity": self.disparity,
            "objective_value": self.objective_value,
            "feasible": self.feasible,
            "thresholds": dict(self.thresholds),
            "changed": self.changed,
        }


@dataclass(frozen=True)
class Frontier:
    """The objective against the constraint's measure as the tolerance varies (Pareto points only).

    ``baseline`` is the current decisions' measure and objective (over scored rows with a
    decision; no thresholds); ``single_threshold`` the best one shared threshold for the objective.
    """

    constraint: str
    objective: str
    points: tuple[FrontierPoint, ...]
    single_threshold: FrontierPoint
    baseline: FrontierPoint
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "constraint": self.constraint,
            "objective": self.objective,
            "points": [p.to_dict() for p in self.points],
            "single_threshold": self.single_threshold.to_dict(),
            "baseline": self.baseline.to_dict(),
            "notes": list(self.notes),
        }


CONSTRAINT_MEASURES = {
    "demographic_parity": "demographic_parity_difference",
    "four_fifths": "favorable_rate_ratio",
    "equal_opportunity": "equal_opportunity_range",
    "equalized_odds": "equalized_odds_difference",
    "predictive_parity": "predictive_parity_range",
}
"""Constraint → the summary metric it bounds (the what-if's and the frontier's x axis)."""


def _measure(result: WhatIf, constraint: str) -> float | None:
    return result.summary[CONSTRAINT_MEASURES[constraint]].value


def gives_back(result: Optimization, today: WhatIf) -> tuple[float, float] | None:
    """(today's, the answer's) value of the constraint's measure when today's decisions do better on it.

    The optimizer only keeps the measure within the tolerance while it maximises the objective, so a feasible
    answer can be less equal than today's decisions; None when it is not (or either value is undefined).
    """
    found, now = _measure(result.what_if, result.constraint), _measure(today, result.constraint)
    if not result.feasible or found is None or now is None:
        return None
    better = now > found if result.constraint == "four_fifths" else now < found  # a ratio is fairer when higher
    return (now, found) if better else None


def frontier(
    curves: ThresholdCurves,
    *,
    constraint: Constraint,
    objective: Objective = "accuracy",
    points: int = 25,
    cost_fp: float = 1.0,
    benefit_tp: float = 1.0,
    progress: ProgressCallback | None = None,
) -> Frontier:
    """Optimise at ``points`` tolerances from 0 to the unconstrained optimum's disparity; keep the Pareto front.

    ``progress`` is called with an :class:`analysis.progress.Step` after the unconstrained optimum, after each
    tolerance and after the best single threshold, with the time left extrapolated from the optimisations
    done so far on these data.

    For ``four_fifths`` the ratio floor runs from the unconstrained optimum's ratio to 1 (a point's
    ``tolerance`` is 0.8 − floor, negative where the floor is stricter than the rule).

    Also the baseline (the current decisions, :func:`baseline`) and the best single shared threshold.
    """
    _check_options("frontier()", curves, constraint, objective, 0.0)
    check_costs("frontier()", cost_fp, benefit_tp)
    loose = FOUR_FIFTHS if constraint == "four_fifths" else 1.0
    count = max(int(points), 2)
    # The unconstrained optimum does not cost what a tolerance does (its search is looser): not a rate to time by.
    clock = Clock([0.0] + [1.0] * count + [0.05], progress)
    free = _optimize(curves, constraint, loose, objective, cost_fp, benefit_tp)  # effectively unconstrained
    clock.stage("Found the unconstrained optimum")
    if constraint == "four_fifths":
        # Sweep the ratio floor from the unconstrained optimum's ratio up to parity (1.0), so the
        # front shows what each step towards equal rates costs, even when 0.8 is already met.
        tolerances = FOUR_FIFTHS - np.linspace(min(free.achieved or 0.0, 1.0), 1.0, count)
    else:
        tolerances = np.linspace(0.0, free.achieved or 0.0, count)
    found = [_point("optimized", loose, free.what_if, constraint, free.objective_value, True)]
    for i, tol in enumerate(tolerances, start=1):
        result = _optimize(curves, constraint, float(tol), objective, cost_fp, benefit_tp)
        found.append(
            _point("optimized", float(tol), result.what_if, constraint, result.objective_value, result.feasible)
        )
        clock.stage(f"Optimised at tolerance {i} of {count}")
    front = _pareto(found, constraint, objective)
    single = _single_threshold(curves, constraint, objective, cost_fp, benefit_tp)
    clock.stage("Found the best single threshold")
    now = baseline(curves, cost_fp=cost_fp, benefit_tp=benefit_tp)
    base = _point("baseline", None, now, constraint, objective_value(now, objective), True)
    return Frontier(constraint, objective, tuple(front), single, base)


def _point(kind, tol, w: WhatIf, constraint, value, feasible) -> FrontierPoint:
    changed = sum(int(f["to_positive"]) + int(f["to_negative"]) for f in w.flips.values())
    return FrontierPoint(kind, tol, _measure(w, constraint), value, feasible, dict(w.thresholds), changed)


def _pareto(found: list[FrontierPoint], constraint: str, objective: str) -> list[FrontierPoint]:
    """Points no other point beats on both the objective and the disparity (sorted by disparity).

    For ``selection_rate`` "better" is fewer decisions changed; each point keeps today's overall
    rate as closely as its tolerance allows (at the strictest tolerances it may not reach it).
    """
    sign = -1.0 if constraint == "four_fifths" else 1.0  # four_fifths: a higher ratio is fairer

    def goodness(p: FrontierPoint) -> float:
        return -float(p.changed) if objective in COUNTING_OBJECTIVES else p.objective_value

    usable = [p for p in found if p.feasible and p.disparity is not None and p.objective_value is not None]
    usable.sort(key=lambda p: (sign * p.disparity, -goodness(p)))
    out: list[FrontierPoint] = []
    for p in usable:
        if not out or goodness(p) > goodness(out[-1]):
            out.append(p)
    return out


def _single_threshold(curves, constraint, objective, cost_fp, benefit_tp) -> FrontierPoint:
    """The best shared threshold for the objective (over every distinct score), unconstrained.

    For ``selection_rate``: the threshold whose overall count selected is closest to today's, then
    the one changing fewest decisions.
    """
    everything = np.unique(curves.scores)
    candidates = np.append(everything, curves.above_top(everything[-1]))
    total, selected, flips = (np.zeros(candidates.size) for _ in range(3))
    for g in range(curves.n_groups):
        c = curves.counts_at_below(g, curves.below_at(g, candidates))
        if objective in COUNTING_OBJECTIVES:
            selected += c["selected"]
            flips += c["to_positive"] + c["to_negative"]
        else:
            total += _objective_values(c, objective, cost_fp, benefit_tp)
    if objective == "selection_rate":
        target = int(np.rint(_target(curves) * curves.sizes.sum()))
        k = int(np.lexsort((flips, np.abs(selected - target)))[0])
    elif objective == "changes":
        k = int(np.argmin(flips))
    else:
        k = int(np.argmax(total))
    w = what_if(curves, float(candidates[k]), cost_fp=cost_fp, benefit_tp=benefit_tp)
    return _point("single_threshold", None, w, constraint, objective_value(w, objective), True)


# --- goals in plain words -----------------------------------------------------------------------


NOTHING = "nothing"


@dataclass(frozen=True)
class Goal:
    """A goal in plain words, mapped onto the optimizer's constraint × objective × tolerance.

    ``constraint`` is None for :data:`NOTHING` (keep today's decisions: the optimizer does not run).
    """

    name: str
    constraint: str | None
    objective: str | None
    tolerance: float | None
    needs_label: bool = False

    def words(self, decision: DecisionWords) -> str:
        """The goal as the user reads it, in the decision's own words (``"keep the number approved today"``)."""
        if self.name == NOTHING:
            return "Nothing to do: keep today's decisions"
        if self.name == "four_fifths_fewest":
            return "Pass the four-fifths rule with the fewest changed decisions"
        if self.name == "equal_tpr":
            return f"Equal true-positive rates within {self.tolerance:g}, with the fewest changed decisions"
        return f"Pass the four-fifths rule and keep the number {decision.verb} today"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "name": self.name,
            "constraint": self.constraint,
            "objective": self.objective,
            "tolerance": self.tolerance,
            "needs_label": self.needs_label,
        }


GOALS: dict[str, Goal] = {
    g.name: g
    for g in (
        Goal(NOTHING, None, None, None),
        Goal("four_fifths_fewest", "four_fifths", "changes", default_tolerance("four_fifths")),
        Goal("equal_tpr", "equal_opportunity", "changes", GOAL_TPR_TOLERANCE, needs_label=True),
        Goal("keep_count", "four_fifths", "selection_rate", default_tolerance("four_fifths")),
    )
}
"""The goals offered first, in the order shown; "Custom goal" takes any constraint × objective × tolerance."""

NO_LABEL_GOAL = (
    "needs the true outcome (a label column), to know who truly was a positive case; choose one on the Data page"
)


def goal_unavailable(name: str, has_label: bool) -> str | None:
    """Why the goal cannot run on these data (None when it can)."""
    return NO_LABEL_GOAL if GOALS[name].needs_label and not has_label else None


def default_goal(today: WhatIf) -> str:
    """The goal a page or command starts on: :data:`NOTHING` unless today's decisions fail the four-fifths rule.

    A goal never runs by default: this only says which one is offered first. An attribute that already passes
    (or whose ratio is undefined) has nothing to do; one that fails is offered the four-fifths rule with the
    fewest changed decisions, which can only raise its ratio.
    """
    return "four_fifths_fewest" if today.four_fifths_pass is False else NOTHING
