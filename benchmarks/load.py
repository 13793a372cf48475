"""Time `load_table` against pyarrow's and pandas' CSV readers on a generated decision table.

Writes a deterministic mixed CSV (ints, floats, categories, free text, missing cells, padded cells,
ID-like codes) into a temporary directory, then times each reader on it in one process, in
round-robin order so that background noise hits all three alike, and prints the medians and ratios.

    python benchmarks/load.py             # 1,000,000 rows × 20 columns
    python benchmarks/load.py --rows 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.loading import load_table  # after the sys.path line: run as a script from anywhere

TARGET_RATIO = 1.5
COMMENT_WORDS = ["loan", "late", "paid", "ok", "good", "risk", "new", "needs, review"]


def generate_csv(path: Path, rows: int, seed: int = 0) -> int:
    """Write the benchmark table to `path`; return its size in bytes."""
    rng = np.random.default_rng(seed)
    columns = _columns(rng, rows)
    header = ",".join(columns)
    line = pc.binary_join_element_wise(*columns.values(), ",")
    body = pc.binary_join_element_wise(line, pa.scalar("\n"), "")
    with path.open("wb") as handle:
        handle.write((header + "\n").encode())
        # A freshly built string array's character buffer is exactly the joined lines, in order.
        handle.write(body.buffers()[2].to_pybytes())
    return path.stat().st_size


def _columns(rng: np.random.Generator, n: int) -> dict[str, pa.Array]:
    def ints(low, high, missing=0.0):
        return _text(rng.integers(low, high, n).astype(str), rng, missing)

    def floats(values, missing=0.0):
        return _text(np.round(values, 4).astype(str), rng, missing)

    def pick(levels, missing=0.0):
        return _text(np.asarray(levels)[rng.integers(0, len(levels), n)], rng, missing)

    gender = np.asarray(["Male", "Female", "Non-binary"])[rng.choice(3, n, p=[0.49, 0.49, 0.02])]
    gender[rng.random(n) < 0.001] = " Male"  # padded cells, as in public data sets
    words = np.asarray(COMMENT_WORDS)
    comment = np.char.add(np.char.add(words[rng.integers(0, 8, n)], " "), words[rng.integers(0, 8, n)])
    quoted = np.char.add(np.char.add('"', comment), '"')
    comment = np.where(np.char.find(comment, ",") >= 0, quoted, comment)  # free text with commas, quoted
    days = np.datetime64("2020-01-01") + rng.integers(0, 1500, n).astype("timedelta64[D]")
    return {
        "id": pa.array(np.arange(1, n + 1).astype(str)),
        "age": ints(18, 90),
        "income": ints(10_000, 250_000, missing=0.02),
        "score": floats(rng.random(n)),
        "debt_ratio": floats(rng.normal(0.3, 0.1, n), missing=0.05),
        "gender": pa.array(gender),
        "race": pick(["White", "Black", "Asian", "Hispanic", "Other"], missing=0.01),
        "region": pick(["North", "South", "East", "West"]),
        "education": pick(["HS-grad", "Bachelors", "Masters", "Doctorate", "Some-college"]),
        "marital": pick(["Married", "Never-married", "Divorced", "Widowed"]),
        "occupation": pick([f"Occ-{i}" for i in range(15)]),
        "decision": pick(["approved", "denied"]),
        "has_default": pick(["yes", "no"]),
        "comment": pa.array(comment),
        "date": pa.array(np.datetime_as_string(days)),
        "zip": pa.array(np.char.zfill(rng.integers(0, 99_999, n).astype(str), 5)),
        "loan_amount": floats(rng.random(n) * 50_000),
        "term": pick(["36", "60"]),
        "branch": pick([f"B{i:03d}" for i in range(200)]),
        "tenure": ints(0, 40),
    }


def _text(values: np.ndarray, rng: np.random.Generator, missing: float) -> pa.Array:
    values = values.astype(object)
    if missing:
        values[rng.random(len(values)) < missing] = ""
    return pa.array(values, pa.string())


def time_readers(path: Path, repeat: int) -> dict[str, list[float]]:
    """Time each reader `repeat` times, round-robin; return seconds per reader."""
    readers = {
        "load_table": lambda: load_table(path),
        "pyarrow.csv.read_csv": lambda: pa_csv.read_csv(path),
        "pandas.read_csv": lambda: pd.read_csv(path),
    }
    timings: dict[str, list[float]] = {label: [] for label in readers}
    for _ in range(repeat):
        for label, read in readers.items():
            start = time.perf_counter()
            read()
            timings[label].append(time.perf_counter() - start)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="data rows to generate (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per reader (default 5)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "decisions.csv"
        size = generate_csv(path, args.rows)
        loaded = load_table(path)  # warm-up, and a check that the table is what we think it is
        print(f"{args.rows:,} rows × 20 columns, {size / 2**20:.1f} MB; median of {args.repeat} runs")
        print("  " + "\n  ".join(loaded.report.summary()[:3]))
        timings = time_readers(path, args.repeat)
    medians = {label: statistics.median(values) for label, values in timings.items()}
    fastest = {label: min(values) for label, values in timings.items()}
    for label, seconds in medians.items():
        print(f"{label:>22}: {seconds:.3f} s  (fastest {fastest[label]:.3f} s)")
    for other, short in (("pyarrow.csv.read_csv", "pyarrow"), ("pandas.read_csv", "pandas")):
        # The fastest-run ratio is the steadier one on a machine shared with other work.
        ratio, best = medians["load_table"] / medians[other], fastest["load_table"] / fastest[other]
        target = f" (target ≤ {TARGET_RATIO}x)" if short == "pyarrow" else ""
        print(f"load_table / {short + ':':8} {ratio:.2f}x median, {best:.2f}x fastest{target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
