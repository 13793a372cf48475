"""Timing shared by the benchmark scripts (run as ``python benchmarks/<name>.py``: this folder is on the path)."""

from __future__ import annotations

import statistics
import time


def timed(function, runs: int) -> tuple[float, object]:
    """The median wall time of ``runs`` calls of ``function``, and its last result."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result
