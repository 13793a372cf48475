"""Time `audit()` against fairlearn, aif360 and the np.bincount floor, in one process.

For each size (1e5, 1e6, 1e7 rows) and number of groups (2, 8), the median of N runs of:

- ``audit()``: the whole audit of one protected attribute with a decision and a label (validation,
  counts, every rate with its Wilson interval, comparisons with Katz/Newcombe intervals, tests,
  Benjamini–Hochberg, summaries, findings, the content hash);
- fairlearn: ``MetricFrame`` (selection rate, TPR, FPR, FNR, precision, accuracy) plus its derived
  ``difference()`` and ``ratio()``; skipped at 1e7 rows (it takes minutes);
- aif360: building the two ``BinaryLabelDataset`` objects, then one ``ClassificationMetric`` per
  group against the first (disparate impact, SPD, equal opportunity and average odds differences);
- the floor: ``np.bincount(code * 4 + cell)`` on precomputed codes and cells.

Then the targets: the counts step alone (:func:`analysis.counts.count_groups`) at 1e7 rows × 8
groups within 4x of the floor, and a whole ``audit()`` at 1e6 rows with 3 protected attributes,
their 3 intersections, a score (AUC, Brier, calibration), intervals and tests under 1 s.

    python benchmarks/audit.py                   # everything (about a quarter of an hour)
    python benchmarks/audit.py --max-rows 1000000
    python benchmarks/audit.py --quick           # 1e5 and 1e6 rows, 3 runs, fairlearn at 1e5 only
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

# The repository root, so that `analysis` imports when this file runs as a script.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.audit import audit
from analysis.counts import Grouping, count_groups, outcomes
from analysis.groups import encode_groups
from analysis.spec import AuditSpec

SIZES = (100_000, 1_000_000, 10_000_000)
GROUP_COUNTS = (2, 8)
FAIRLEARN_MAX_ROWS = 1_000_000
COUNTS_TARGET_RATIO = 4.0
FULL_AUDIT_TARGET_SECONDS = 1.0

ONE_ATTRIBUTE = AuditSpec(
    decision="approved", positive=[1], label="repaid", label_positive=[1], protected=["group"], intersections=()
)
FULL = AuditSpec(
    decision="approved",
    positive=[1],
    label="repaid",
    label_positive=[1],
    score="score",
    protected=["group", "gender", {"column": "age", "bins": [25, 40, 60]}],
)


def make_frame(rows: int, groups: int, seed: int = 0) -> pd.DataFrame:
    """A decision table: unequal group sizes, a biased decision, a label, a score, two more attributes."""
    rng = np.random.default_rng(seed)
    weights = np.linspace(2, 1, groups)
    code = rng.choice(groups, size=rows, p=weights / weights.sum())
    label = rng.random(rows) < 0.6
    score = np.clip(0.35 + 0.3 * label - 0.04 * code + rng.normal(0, 0.2, rows), 0, 1).round(4)
    names = np.array([f"G{i}" for i in range(groups)], dtype=object)
    return pd.DataFrame(
        {
            "group": pd.array(names[code], dtype="str"),
            "gender": pd.array(np.where(rng.random(rows) < 0.5, "F", "M").astype(object), dtype="str"),
            "age": rng.integers(18, 80, rows),
            "approved": (score >= 0.5).astype(np.int64),
            "repaid": label.astype(np.int64),
            "score": score,
        }
    )


def median_time(run: Callable[[], object], repeats: int, *, before: Callable[[], None] = gc.collect) -> float:
    times = []
    for _ in range(repeats):
        before()  # not timed
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_fairlearn(df: pd.DataFrame) -> None:
    from fairlearn.metrics import (
        MetricFrame,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    metrics = {
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "fnr": false_negative_rate,
        "precision": partial(precision_score, zero_division=0),
        "accuracy": accuracy_score,
    }
    frame = MetricFrame(metrics=metrics, y_true=df["repaid"], y_pred=df["approved"], sensitive_features=df["group"])
    frame.difference()
    frame.ratio()


def clear_aif360_caches() -> None:
    """Empty aif360's memo caches, then collect garbage.

    aif360 memoizes every metric method in a module-level dict keyed by the metric object, so
    no metric object or dataset is ever freed: at 1e7 rows the runs would exhaust memory.
    """
    from aif360.metrics import BinaryLabelDatasetMetric, ClassificationMetric, DatasetMetric, Metric

    for cls in (Metric, DatasetMetric, BinaryLabelDatasetMetric, ClassificationMetric):
        for method in vars(cls).values():
            for cell in getattr(method, "__closure__", None) or ():
                if isinstance(cell.cell_contents, dict):
                    cell.cell_contents.clear()
    gc.collect()


def run_aif360(df: pd.DataFrame, codes: np.ndarray, groups: int) -> None:
    from aif360.datasets import BinaryLabelDataset
    from aif360.metrics import ClassificationMetric

    def dataset(labels: pd.Series) -> BinaryLabelDataset:
        table = pd.DataFrame({"group": codes.astype(float), "y": labels.to_numpy(dtype=float)})
        return BinaryLabelDataset(
            df=table, label_names=["y"], protected_attribute_names=["group"], favorable_label=1.0, unfavorable_label=0.0
        )

    truth, predicted = dataset(df["repaid"]), dataset(df["approved"])
    for g in range(1, groups):
        metric = ClassificationMetric(
            truth, predicted, unprivileged_groups=[{"group": float(g)}], privileged_groups=[{"group": 0.0}]
        )
        metric.disparate_impact()
        metric.statistical_parity_difference()
        metric.equal_opportunity_difference()
        metric.average_odds_difference()


def floor_inputs(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    codes = pd.factorize(df["group"], sort=True)[0].astype(np.int64)
    cell = (df["approved"].to_numpy() * 2 + df["repaid"].to_numpy()).astype(np.int64)
    return codes, cell


def run_floor(codes: np.ndarray, cell: np.ndarray, groups: int) -> np.ndarray:
    return np.bincount(codes * 4 + cell, minlength=4 * groups)


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None else f"{a / b:.1f}x"


def compare(sizes: list[int], repeats: int, fairlearn_max: int) -> list[dict]:
    rows = []
    for n in sizes:
        for groups in GROUP_COUNTS:
            df = make_frame(n, groups)
            codes, cell = floor_inputs(df)
            row = {"rows": n, "groups": groups}
            row["audit"] = median_time(lambda df=df: audit(df, ONE_ATTRIBUTE), repeats)
            row["floor"] = median_time(lambda c=codes, k=cell, g=groups: run_floor(c, k, g), repeats)
            row["aif360"] = median_time(
                lambda df=df, c=codes, g=groups: run_aif360(df, c, g), repeats, before=clear_aif360_caches
            )
            row["fairlearn"] = None
            if n <= fairlearn_max:
                row["fairlearn"] = median_time(lambda df=df: run_fairlearn(df), repeats)
            rows.append(row)
            print_row(row)
            del df, codes, cell
    return rows


HEADER = (
    f"{'rows':>12} {'groups':>6} {'audit()':>10} {'fairlearn':>10} {'aif360':>10} {'floor':>9} "
    f"{'fairlearn/audit':>16} {'aif360/audit':>13} {'audit/floor':>12}"
)


def print_row(row: dict) -> None:
    print(
        f"{row['rows']:>12,} {row['groups']:>6} {fmt(row['audit']):>10} {fmt(row['fairlearn']):>10} "
        f"{fmt(row['aif360']):>10} {fmt(row['floor']):>9} {ratio(row['fairlearn'], row['audit']):>16} "
        f"{ratio(row['aif360'], row['audit']):>13} {ratio(row['audit'], row['floor']):>12}",
        flush=True,
    )


def counts_step(rows: int, repeats: int) -> None:
    df = make_frame(rows, 8)
    grouping = Grouping.from_codes(encode_groups(df["group"]))
    state = outcomes(df, ONE_ATTRIBUTE)
    codes, cell = floor_inputs(df)
    ours = median_time(lambda: count_groups(grouping, state), repeats)
    floor = median_time(lambda: run_floor(codes, cell, 8), repeats)
    verdict = "meets" if ours <= COUNTS_TARGET_RATIO * floor else "MISSES"
    print(
        f"counts step, {rows:,} rows x 8 groups: count_groups {fmt(ours)}, bincount floor {fmt(floor)}, "
        f"ratio {ours / floor:.2f}x ({verdict} the {COUNTS_TARGET_RATIO:g}x target)",
        flush=True,
    )


def full_audit(rows: int, repeats: int) -> None:
    df = make_frame(rows, 8)
    audit(df.head(1000), FULL)  # first-call imports are not part of the measurement
    seconds = median_time(lambda: audit(df, FULL), repeats)
    with_hash = median_time(lambda: audit(df, FULL, dataset_sha256="given"), repeats)
    result = audit(df, FULL)
    verdict = "meets" if seconds < FULL_AUDIT_TARGET_SECONDS else "MISSES"
    print(
        f"whole audit(), {rows:,} rows, 3 attributes + {len(result.intersections)} intersections, score and label: "
        f"{fmt(seconds)} ({verdict} the {FULL_AUDIT_TARGET_SECONDS:g} s target); "
        f"{fmt(with_hash)} with the file hash passed in (dataset_sha256=...)",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-rows", type=int, default=max(SIZES), help="largest table size to run (default 1e7)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement; the median is reported")
    parser.add_argument("--quick", action="store_true", help="1e5 and 1e6 rows, 3 runs, fairlearn at 1e5 only")
    args = parser.parse_args(argv)
    max_rows, repeats, fairlearn_max = args.max_rows, args.repeats, FAIRLEARN_MAX_ROWS
    if args.quick:
        max_rows, repeats, fairlearn_max = min(max_rows, 1_000_000), min(repeats, 3), 100_000
    logging.getLogger().setLevel(logging.ERROR)  # aif360 logs missing optional extras
    warnings.simplefilter("ignore")
    audit(make_frame(1000, 2), ONE_ATTRIBUTE)  # warm up imports
    print(f"median of {repeats} runs; fairlearn up to {fairlearn_max:,} rows\n")
    print(HEADER)
    compare([n for n in SIZES if n <= max_rows], repeats, fairlearn_max)
    print()
    counts_step(max(n for n in SIZES if n <= max_rows), repeats)
    full_audit(min(1_000_000, max_rows), repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
