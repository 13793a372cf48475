"""Time the slice search against SliceLine and DivExplorer on the same data and depth.

The data: ROWS rows × 20 categorical features (3 to 10 values each), a yes/no decision with a depth-2 and
a depth-3 slice planted; the search: depth 3, the favourable rate, minimum support 1 % of the rows, top 20.
Ours runs in memory (pandas engine) and on the same data written to Parquet (DuckDB engine).

The peers get the same rows and depth, each with its own scoring: ``sliceline`` (SliceLine's score on the
unfavourable decisions as errors, alpha 0.95) and ``divexplorer`` (frequent patterns up to 3 items
at the same support, with their divergence). Each runs in a child process with a memory cap and a time limit
on a ladder of sizes up to ROWS, and stops at the first size it cannot finish (or whose time, extrapolated
linearly from the last size, would pass the limit); its largest finished size is compared with ours there.

    python benchmarks/slices.py                       # 1e6 rows
    python benchmarks/slices.py --rows 200000 --peer-seconds 60 --peer-memory-gb 4
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import timed

from analysis import AuditSpec, find_slices

FEATURES = [f"f{i:02d}" for i in range(20)]
LEVELS = [3 + i % 8 for i in range(20)]  # 3 to 10 values
SPEC = AuditSpec.from_dict({"decision": "decision", "positive": ["yes"], "protected": ["f00"]})
DEPTH, TOP_K, SUPPORT_SHARE = 3, 20, 0.01
LADDER = [1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000]
PLANTED = ("f01 = v1 and f17 = v2", "f08 = v0 and f09 = v1 and f16 = v2")


def table(rows: int, seed: int = 0) -> pd.DataFrame:
    """The generated decisions: categorical features, approvals 60 %, 35 % in the two planted slices."""
    rng = np.random.default_rng(seed)
    codes = {f: rng.integers(0, k, rows).astype(np.int8) for f, k in zip(FEATURES, LEVELS, strict=True)}
    labels = {f: [f"v{j}" for j in range(k)] for f, k in zip(FEATURES, LEVELS, strict=True)}
    df = pd.DataFrame({f: pd.Categorical.from_codes(c, labels[f]) for f, c in codes.items()})
    # On features of 3 and 4 values: 6 % and 3 % of the rows, above the minimum support.
    planted = ((codes["f01"] == 1) & (codes["f17"] == 2)) | (
        (codes["f08"] == 0) & (codes["f09"] == 1) & (codes["f16"] == 2)
    )
    rate = np.where(planted, 0.35, 0.6)
    df["decision"] = np.where(rng.random(rows) < rate, "yes", "no")
    return df


def ours(df: pd.DataFrame):
    return find_slices(df, SPEC, max_depth=DEPTH, top_k=TOP_K)


# --- the peers, each in a child process ----------------------------------------------------------------


def run_sliceline(df: pd.DataFrame) -> int:
    from sliceline import Slicefinder

    x = np.column_stack([df[f].cat.codes.to_numpy() for f in FEATURES])
    errors = (df["decision"] != "yes").to_numpy(dtype=float)
    support = math.ceil(SUPPORT_SHARE * len(df))
    # alpha 0.95 (the package's default 0.6 weighs size so much that it finds no slice here).
    finder = Slicefinder(alpha=0.95, k=TOP_K, max_l=DEPTH, min_sup=support, verbose=False).fit(x, errors)
    return len(finder.top_slices_)


def run_divexplorer(df: pd.DataFrame) -> int:
    import divexplorer.divexplorer as explorer
    from divexplorer.utils_FPgrowth import fpgrowth_cm

    # get_pattern_divergence mines every pattern length; the same depth as ours needs max_len.
    explorer.fpgrowth_cm = functools.partial(fpgrowth_cm, max_len=DEPTH)
    frame = df[FEATURES].astype(str).assign(unfavorable=(df["decision"] != "yes").astype(int))
    found = explorer.DivergenceExplorer(frame).get_pattern_divergence(
        min_support=SUPPORT_SHARE, boolean_outcomes=["unfavorable"]
    )
    return len(found)


PEERS = {"sliceline": run_sliceline, "divexplorer": run_divexplorer}


def child(peer: str, rows: int, memory_gb: float) -> None:
    import resource

    cap = int(memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    df = table(rows)
    start = time.perf_counter()
    found = PEERS[peer](df)
    print(json.dumps({"seconds": time.perf_counter() - start, "found": found}))


def peer_run(peer: str, rows: int, limit: float, memory_gb: float) -> tuple[float | None, str]:
    command = [sys.executable, __file__, "--peer", peer, "--rows", str(rows), "--peer-memory-gb", str(memory_gb)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return None, f"did not finish in {limit:.0f} s"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        if "MemoryError" in done.stderr or "Unable to allocate" in done.stderr:
            return None, f"out of memory (capped at {memory_gb:g} GB): {last[:120]}"
        return None, f"failed: {last[:160]}"
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return float(out["seconds"]), f"{out['found']:,} slices or patterns"


def ladder(peer: str, rows: int, limit: float, memory_gb: float) -> tuple[int, float] | None:
    """The peer on growing sizes; returns its largest finished size and its seconds there."""
    best = None
    for size in [s for s in LADDER if s < rows] + [rows]:
        if best is not None and best[1] * size / best[0] > limit:
            print(f"  {peer:>11} {size:>12,} rows: skipped, about {best[1] * size / best[0]:,.0f} s extrapolated")
            break
        seconds, note = peer_run(peer, size, limit, memory_gb)
        if seconds is None:
            print(f"  {peer:>11} {size:>12,} rows: {note}")
            break
        print(f"  {peer:>11} {size:>12,} rows: {seconds:8.2f} s ({note})")
        best = (size, seconds)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--peers", nargs="*", default=list(PEERS), choices=list(PEERS))
    parser.add_argument("--peer-seconds", type=float, default=150.0, help="time limit of one peer run")
    parser.add_argument("--peer-memory-gb", type=float, default=6.0, help="address-space cap of a peer run")
    parser.add_argument("--peer", choices=list(PEERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        child(args.peer, args.rows, args.peer_memory_gb)
        return
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
    df = table(args.rows)
    seconds, search = timed(lambda: ours(df), args.runs)
    keys = [s.key for s in search.slices]
    print(
        f"ours (pandas) {args.rows:>12,} rows × {len(FEATURES)} features, depth {DEPTH}: {seconds:7.2f} s; "
        f"{search.family:,} slices in the family ({search.tested:,} tested, {search.pruned:,} pruned), "
        f"{search.combinations_counted:,} of {search.combinations:,} combinations counted; planted slices at "
        f"ranks {[keys.index(k) + 1 if k in keys else None for k in PLANTED]}, "
        f"{len(search.significant)} significant; {'within' if seconds <= 10 else 'OVER'} the 10 s goal"
    )
    try:
        import duckdb  # noqa: F401
    except ImportError:
        print("ours (DuckDB): duckdb is not installed")
    else:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "decisions.parquet"
            df.to_parquet(path)
            duck_seconds, found = timed(lambda: find_slices(str(path), SPEC, max_depth=DEPTH, top_k=TOP_K), args.runs)
            same = _without_engine(found) == _without_engine(search)
            print(
                f"ours (DuckDB, Parquet {path.stat().st_size / 2**20:,.0f} MB): {duck_seconds:7.2f} s, "
                f"{duck_seconds / seconds:5.2f}x the pandas engine's time; same slices: {same}"
            )
    for peer in args.peers:
        print(f"{peer} (limit {args.peer_seconds:.0f} s, {args.peer_memory_gb:g} GB per run):")
        best = ladder(peer, args.rows, args.peer_seconds, args.peer_memory_gb)
        if best is None:
            print(f"  {peer} finished no size")
            continue
        size, peer_seconds = best
        if size == args.rows:
            mine = seconds
        else:
            small = table(size)
            mine, _ = timed(lambda small=small: ours(small), max(args.runs, 3))
            print(f"  {peer} could not run on {args.rows:,} rows; compared at {size:,}, its largest")
        print(f"  at {size:,} rows: {peer} {peer_seconds:.2f} s, ours {mine:.2f} s: ratio {peer_seconds / mine:,.1f}x")


def _without_engine(search) -> dict:
    out = search.to_dict()
    out.pop("engine")
    return out


if __name__ == "__main__":
    main()
