"""Time the DuckDB engine's count against loading the file and compressing it in pandas.

For each size, a generated Parquet file (decision, label, score, two protected attributes, one binned,
and four other columns) is counted twice: ``load_table`` + ``compress`` (the pandas engine's path)
and ``count_duckdb``. Prints the seconds of each (the median of N runs) and their ratio, and checks
that both give the same counts.

    python benchmarks/duckdb_count.py                 # 1e6 and 5e6 rows
    python benchmarks/duckdb_count.py --rows 20000000 --runs 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import timed

from analysis import AuditSpec, load_table
from analysis.duckdb_engine import count_duckdb
from analysis.engine import compress

SPEC = AuditSpec.from_dict(
    {
        "decision": "approved",
        "positive": ["Y"],
        "label": "repaid",
        "label_positive": [1],
        "score": "score",
        "protected": [{"column": "ethnicity"}, {"column": "age", "bins": [25, 40, 60]}],
    }
)


def write(rows: int, path: Path) -> None:
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "approved": rng.choice(["Y", "N"], rows),
            "repaid": rng.choice([1, 0], rows),
            "score": np.round(rng.random(rows), 3),
            "ethnicity": rng.choice(["A", "B", "C", "D", "E", "F", "G", "H"], rows),
            "age": rng.integers(18, 90, rows),
            "income": rng.normal(50_000, 20_000, rows),
            "region": rng.choice([f"r{i}" for i in range(50)], rows),
            "tenure": rng.integers(0, 40, rows),
            "note": rng.choice(["", "ok", "review"], rows),
        }
    )
    pq.write_table(table, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 5_000_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for rows in args.rows:
            path = Path(folder) / f"rows{rows}.parquet"
            write(rows, path)
            size = path.stat().st_size / 1024 / 1024

            def by_pandas(path=path):
                return compress(load_table(path, max_bytes=10**12, max_uncompressed_bytes=10**13).data, SPEC)

            pandas_seconds, want = timed(by_pandas, args.runs)
            duck_seconds, got = timed(lambda path=path: count_duckdb(path, SPEC), args.runs)
            same = _same(want, got)
            print(
                f"{rows:>12,} rows ({size:,.0f} MB): load+compress {pandas_seconds:6.2f} s, "
                f"DuckDB {duck_seconds:6.2f} s, ratio {pandas_seconds / duck_seconds:5.2f}x, "
                f"{len(got.frame):,} combinations, same counts: {same}"
            )


def _same(want, got) -> bool:
    def table(counted):
        frame = counted.frame.assign(w=counted.weights)
        return frame.sort_values(list(frame.columns[:-1]), ignore_index=True)

    try:
        pd.testing.assert_frame_equal(table(want), table(got))
    except AssertionError:
        return False
    return True


if __name__ == "__main__":
    main()
