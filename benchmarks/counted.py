"""Time an audit of a table's rows against an audit of its counted combinations (the weighted core).

For each size, the median of N runs of:

- ``audit(df, spec)``: the rows in memory (today's path, weights None);
- ``compress(df, spec)``: the reference reduction to distinct combinations with their counts;
- ``audit(table, spec)``: the same audit on the counted table (what every engine hands over).

Printed as times and ratios, with the number of combinations; the JSON of the two audits is
checked to agree (counts exactly, floats to 1e-12) so the figures compare like with like.

    python benchmarks/counted.py                 # 1e5 and 1e6 rows
    python benchmarks/counted.py --rows 3000000 --repeats 3
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# The repository root, so that `analysis` and `tests` import when this file runs as a script.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.audit import audit
from analysis.engine import compress
from analysis.spec import AuditSpec
from benchmarks.audit import make_frame
from tests.helpers_json import json_differences, without

SPECS = {
    "decision, label, 3 attributes": AuditSpec(
        decision="approved",
        positive=[1],
        label="repaid",
        label_positive=[1],
        protected=["group", "gender", {"column": "age", "bins": [25, 40, 60]}],
    ),
    "the same with a score (1e4 values)": AuditSpec(
        decision="approved",
        positive=[1],
        label="repaid",
        label_positive=[1],
        score="score",
        protected=["group", "gender", {"column": "age", "bins": [25, 40, 60]}],
    ),
}


def median_time(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    head = f"{'rows':>10} {'spec':<36} {'combinations':>12} {'rows':>9} {'compress':>9} {'counted':>9}"
    print(f"{head} {'rows/counted':>13}")
    for rows in args.rows:
        df = make_frame(rows, 8)
        for name, spec in SPECS.items():
            table = compress(df, spec)
            a = without(audit(df, spec, dataset_sha256="-").to_dict(), ["created_at"])
            b = without(audit(table, spec, dataset_sha256="-").to_dict(), ["created_at"])
            differences = json_differences(a, b)
            if differences:
                raise SystemExit(f"the audits differ: {differences[:3]}")
            full = median_time(lambda df=df, spec=spec: audit(df, spec), args.repeats)
            reduce = median_time(lambda df=df, spec=spec: compress(df, spec), args.repeats)
            counted = median_time(lambda table=table, spec=spec: audit(table, spec), args.repeats)
            print(
                f"{rows:>10,} {name:<36} {len(table.frame):>12,} {full:>8.3f}s {reduce:>8.3f}s {counted:>8.3f}s "
                f"{full / counted:>12.1f}x"
            )


if __name__ == "__main__":
    main()
