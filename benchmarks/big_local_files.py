"""Time the app's path for a big local file (opened by path, read by DuckDB) against reading it into memory.

A generated Parquet folder (the loan sample's columns, ``--rows`` rows in files of 1,000,000) is audited the
two ways the Data page can take, each in a process of its own so that its peak memory is its own:

- ``path``: what the Data page does for a path: the source's report and a 200,000-row sample (``open_path``),
  every column's statistics (the profiles), the count of the spec's columns and the audit of it, and the
  stratified sample the Drivers page trains on (every group up to 5,000 rows);
- ``memory``: what an upload does: the whole table read into pandas (one file of the same rows) and audited.

Prints each step's seconds, the peak memory each process added to its imports, and the ratios.

    python benchmarks/big_local_files.py                  # 5,000,000 rows
    python benchmarks/big_local_files.py --rows 20000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FILE_ROWS = 1_000_000
PER_GROUP = 5_000


def spec():
    from analysis import load_table
    from analysis.suggest import suggest_spec

    return suggest_spec(load_table(ROOT / "sample_data" / "loan_approvals.csv").data)


def write(rows: int, folder: Path) -> None:
    """The loan sample repeated to ``rows`` rows (new ids), in Parquet files of FILE_ROWS rows, and one file."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from analysis import load_table

    loans = load_table(ROOT / "sample_data" / "loan_approvals.csv").data
    copies = -(-rows // len(loans))
    whole = pd.concat(
        [loans.assign(applicant_id=loans["applicant_id"] + f"-{c}") for c in range(copies)], ignore_index=True
    ).iloc[:rows]
    (folder / "parts").mkdir()
    for start in range(0, rows, FILE_ROWS):
        part = pa.Table.from_pandas(whole.iloc[start : start + FILE_ROWS], preserve_index=False)
        pq.write_table(part, folder / "parts" / f"part-{start // FILE_ROWS:03}.parquet")
    pq.write_table(pa.Table.from_pandas(whole, preserve_index=False), folder / "whole.parquet")


def timed(steps: dict, name: str, call):
    started = time.perf_counter()
    out = call()
    steps[name] = time.perf_counter() - started
    return out


def run_path(folder: Path) -> dict:
    from analysis.audit import audit
    from analysis.duckdb_engine import column_statistics, sample_duckdb
    from analysis.engine import count_table
    from ui.cached import open_path
    from ui.state import Reading

    steps: dict[str, float] = {}
    location, chosen = str(folder / "parts"), spec()
    timed(steps, "open (report + 200,000-row sample)", lambda: open_path(location, Reading()))
    timed(steps, "column profiles (statistics of every row)", lambda: column_statistics(location))
    counted = timed(steps, "count the spec's columns", lambda: count_table(location, chosen, engine="duckdb"))
    timed(steps, "audit the counts", lambda: audit(counted, chosen))
    timed(steps, "stratified sample for Drivers", lambda: sample_duckdb(location, spec=chosen, per_group=PER_GROUP))
    return steps


def run_memory(folder: Path) -> dict:
    from analysis import load_table
    from analysis.audit import audit

    steps: dict[str, float] = {}
    table = timed(steps, "read every row into pandas", lambda: load_table(folder / "whole.parquet"))
    timed(steps, "audit the rows", lambda: audit(table.data, spec()))
    return steps


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(variant: str, folder: Path) -> None:
    import analysis.audit  # noqa: F401  (what both variants import, before the work starts)

    if variant == "path":
        import ui.cached  # noqa: F401
    before = peak_mb()
    steps = (run_path if variant == "path" else run_memory)(folder)
    print(json.dumps({"steps": steps, "peak_mb": peak_mb() - before}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--child", choices=("path", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.folder)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write(args.rows, folder)
        results = {}
        for variant in ("path", "memory"):
            done = subprocess.run(
                [sys.executable, __file__, "--child", variant, "--folder", str(folder)],
                capture_output=True,
                text=True,
                check=True,
            )
            results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{args.rows:,} rows")
    for variant, result in results.items():
        print(f"  {variant}: peak memory {result['peak_mb']:,.0f} MB above its imports")
        for step, seconds in result["steps"].items():
            print(f"    {step:<45} {seconds:8.2f} s")
    path, memory = results["path"], results["memory"]
    to_audit = sum(list(path["steps"].values())[:4])
    print(f"  time to the audit, path / memory: {to_audit / sum(memory['steps'].values()):.2f}")
    print(f"  peak memory, path / memory: {path['peak_mb'] / memory['peak_mb']:.2f}")


if __name__ == "__main__":
    main()
