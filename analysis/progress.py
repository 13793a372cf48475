"""Progress of long engine steps: each completed stage, the time taken, and the time left estimated on this data.

A long step (the retraining comparison, a frontier) names its stages up front with a relative cost each, and
reports every completed stage to an optional callback as a :class:`Step`. The time left extrapolates the
seconds the completed stages took on this data by the costs of those still to come, so the estimate is
measured, not assumed, and sharpens as stages complete.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Clock", "ProgressCallback", "Step"]


@dataclass(frozen=True)
class Step:
    """One completed stage of a long step.

    Attributes
    ----------
    stage
        What has just been done, in plain words.
    done, total
        Stages completed so far, and in all.
    seconds
        How long this stage took.
    elapsed
        Seconds since the step started.
    remaining
        Estimated seconds left (None until a stage with a cost has been measured; 0 when done).
    """

    stage: str
    done: int
    total: int
    seconds: float
    elapsed: float
    remaining: float | None

    @property
    def finished(self) -> bool:
        """Whether this was the last stage."""
        return self.done >= self.total


ProgressCallback = Callable[[Step], None]


class Clock:
    """Times the stages of a long step and reports each to ``callback`` with the time left.

    Parameters
    ----------
    costs
        Each stage's relative cost, in order (0 for a stage that does not count towards the rate, such as
        loading libraries).
    callback
        Called with a :class:`Step` after each stage; None to time nothing.
    """

    def __init__(self, costs: Sequence[float], callback: ProgressCallback | None):
        self.costs = [float(c) for c in costs]
        self.callback = callback
        self.started = self.last = time.perf_counter()
        self.done = 0
        self.work_seconds = 0.0
        self.work_cost = 0.0

    def stage(self, words: str, *, cost: float | None = None) -> None:
        """Mark the next stage done (``cost`` overrides its planned cost, e.g. a stage skipped costs 0)."""
        now = time.perf_counter()
        seconds, self.last = now - self.last, now
        planned = self.costs[self.done] if self.done < len(self.costs) else 0.0
        spent = planned if cost is None else float(cost)
        self.done += 1
        if spent > 0:
            self.work_seconds += seconds
            self.work_cost += spent
        if self.callback is None:
            return
        left = sum(self.costs[self.done :])
        if self.done >= len(self.costs):
            remaining: float | None = 0.0
        elif self.work_cost > 0:
            remaining = self.work_seconds / self.work_cost * left
        else:
            remaining = None
        total = max(len(self.costs), self.done)
        self.callback(Step(words, self.done, total, seconds, now - self.started, remaining))
