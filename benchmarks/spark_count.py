"""Time the Spark engine's counts against the loader + compress() on one generated Parquet file.

Writes a deterministic decision table (decision, label, score with 1,000 distinct values, three protected
attributes, one binned by quantiles, and filler columns) as Parquet into a temporary directory, checks that
both give the same counts, then times each (Spark after one warm-up run, its session started once) and prints
the medians and the ratio.

    python benchmarks/spark_count.py                   # 2,000,000 rows, local[*]
    python benchmarks/spark_count.py --rows 200000 --repeat 3 --master local[2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.engine import compress  # after the sys.path line: run as a script from anywhere
from analysis.loading import load_table
from analysis.spec import AuditSpec, ProtectedAttribute

SPEC = AuditSpec(
    decision="decision",
    positive=("approve",),
    label="repaid",
    label_positive=(1,),
    score="score",
    protected=("gender", "region", ProtectedAttribute("income", quantiles=5)),
)


def generate(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    table = pa.table(
        {
            "id": np.arange(rows),
            "decision": rng.choice(["approve", "deny", "review"], rows),
            "repaid": rng.choice([0.0, 1.0, np.nan], rows),
            "score": np.round(rng.random(rows), 3),
            "gender": rng.choice(["F", "M", "X"], rows),
            "region": rng.choice([f"r{i}" for i in range(20)], rows),
            "income": np.round(rng.gamma(2.0, 20_000, rows), -2),
            **{f"filler_{i}": rng.random(rows) for i in range(8)},
        }
    )
    pq.write_table(table, path, row_group_size=250_000)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args(argv)
    from analysis.spark_engine import count_spark, spark_session

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        started = time.perf_counter()
        spark = spark_session(master=args.master)
        print(f"Spark session started in {time.perf_counter() - started:.1f} s ({args.master})")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "loans.parquet"
        generate(path, args.rows)
        print(f"{args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB of Parquet")
        counted = count_spark(str(path), SPEC, session=spark)  # warm-up, and the check
        reference = compress(load_table(path).data, SPEC)
        same_rows = counted.rows == reference.rows and int(counted.weights.sum()) == args.rows
        print(f"{len(counted.frame):,} counted combinations; totals agree: {same_rows}")
        times: dict[str, list[float]] = {"load_table + compress": [], "count_spark": []}
        for _ in range(args.repeat):  # round-robin, so background noise hits both alike
            started = time.perf_counter()
            compress(load_table(path).data, SPEC)
            times["load_table + compress"].append(time.perf_counter() - started)
            started = time.perf_counter()
            count_spark(str(path), SPEC, session=spark)
            times["count_spark"].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:>24}: {value:6.2f} s (median of {args.repeat})")
    ratio = medians["count_spark"] / medians["load_table + compress"]
    print(f"count_spark / (load_table + compress): {ratio:.2f}")


if __name__ == "__main__":
    main()
