"""The audit at scale: pandas against DuckDB (and Spark) on generated Parquet, time, peak memory and answers.

Generates a deterministic decisions table as Parquet with DuckDB (``COPY (SELECT … FROM range(N)) TO``;
every random column is a hash of the row number and the seed): three protected attributes of 2, 4 and
8 unequal groups (text), a text decision ("approved"/"denied") with a gap between groups, a 0/1 label
with about 1 % missing, a score in [0, 1] rounded to 1e-4 (≤ 10,001 distinct values, so counted exactly)
and four features; and a spec (decision, label, score, the three attributes, every pair of them). Files
go under ``--data-dir`` and are reused when present with the same parameters.

Every measurement runs in a fresh process, timed from outside (start-up and imports included); its
peak RSS is the child's own (``os.wait4``), or for Spark the sampled RSS of the process tree (Python and
the JVM). For each size, the median of ``--repeat`` runs of:

- ``python -m analysis audit FILE --spec SPEC --json OUT --engine pandas|duckdb`` (``spark`` with
  ``--spark``); the ratios pandas/duckdb time and duckdb/pandas memory, and whether the JSONs are the
  same answer (everything but ``created_at`` and ``engine``: counts exact, numbers to 1e-12);
- ``count_table(FILE, spec, engine="duckdb")``, then ``threshold_curves`` and ``optimize`` on the counted
  table, against today's path: curves and optimize on the 1e6-row table in memory;
- with ``--spark``: the Spark session's start, apart from ``audit(FILE, spec, engine="spark")``.

A measurement whose engine or flag does not exist yet is skipped with the reason. The targets from the
issue are printed next to the figures: at 1e8 rows ``audit --engine duckdb`` ≤ 15 s and ≤ 1 GB, and the
curves from the counted table ≤ 10 s; at 1e7 DuckDB ≥ 8x faster than pandas with ≤ 10 % of its memory,
and Spark's JSON equal to DuckDB's; optimize from the counted table as fast as today's at 1e6.

    python benchmarks/scale.py                       # 1e6 rows
    python benchmarks/scale.py --rows 1e7 --repeat 3
    python benchmarks/scale.py --rows 1e7 1e8 --spark
    python benchmarks/scale.py --rows 1e8 --generate-only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The repository root, so that `analysis` imports when this file runs as a script (and in the children).
sys.path.insert(0, str(ROOT))

GENERATOR_VERSION = 2
SEED_STRIDE = 2**40  # above 64 draws per row × 1e10 rows; seeds up to 2**22 keep the sum within int64
DEFAULT_DATA_DIR = Path(tempfile.gettempdir()) / "paritylab-scale"
REFERENCE_ROWS = 1_000_000  # today's in-memory path is measured at this size
PANDAS_MAX_ROWS = 10_000_000  # 1e8 rows in pandas would need tens of GB
CURVES_ATTRIBUTE = "race"
OPTIMIZE = {"constraint": "demographic_parity", "tolerance": 0.01, "objective": "accuracy"}
IGNORED_KEYS = ("created_at", "engine")
FLOAT_TOLERANCE = 1e-12
SPEED_TARGET = 8.0  # at 1e7 rows, duckdb at least this many times faster than pandas
MEMORY_TARGET = 0.10  # at 1e7 rows, duckdb's peak RSS at most this share of pandas'
BIG_SECONDS, BIG_BYTES, CURVES_SECONDS = 15.0, 2**30, 10.0  # at 1e8 rows
OPTIMIZE_NOISE = 1.2  # "as fast as": within 20 %, the noise of a shared machine

SEX = ("Male", "Female")
RACE = ("White", "Black", "Asian", "Other")
REGION = ("North", "South", "East", "West", "Central", "Coast", "Mountain", "Islands")
SPEC = {
    "decision": "decision",
    "positive": ["approved"],
    "label": "label",
    "label_positive": [1],
    "score": "score",
    "protected": ["sex", "race", "region"],
}


# ---------------------------------------------------------------- the data


def rows_label(rows: int) -> str:
    """``1e7`` for a power of ten, else the number."""
    exponent = math.log10(rows) if rows > 0 else 0.5
    return f"1e{int(exponent)}" if exponent.is_integer() else str(rows)


def _uniform(seed: int, stream: int) -> str:
    """SQL for a uniform draw in [0, 1) from the row number: 53 bits of a hash.

    One integer per (seed, row, stream) is hashed: hashing several arguments combines their hashes
    too weakly, the draws of one row then correlate.
    """
    return f"(hash({seed} * {SEED_STRIDE} + i * 64 + {stream}) >> 11)::DOUBLE / 9007199254740992.0"


def _pick(names: tuple[str, ...], code: str) -> str:
    return "[" + ", ".join(f"'{n}'" for n in names) + f"][{code} + 1]"


def generator_sql(rows: int, seed: int, path: Path) -> str:
    """The ``COPY … TO`` statement that writes the table."""
    u = {k: _uniform(seed, k) for k in range(1, 13)}
    return f"""
    COPY (
      WITH drawn AS (
        SELECT i, {", ".join(f"{expr} AS u{k}" for k, expr in u.items())} FROM range({rows}) t(i)
      ), coded AS (
        SELECT *,
          CASE WHEN u1 < 0.58 THEN 0 ELSE 1 END AS sex_code,
          CASE WHEN u2 < 0.55 THEN 0 WHEN u2 < 0.80 THEN 1 WHEN u2 < 0.93 THEN 2 ELSE 3 END AS race_code,
          least(7, floor(8 * (1 - sqrt(1 - u3))))::INTEGER AS region_code
        FROM drawn
      ), scored AS (
        SELECT *, round(greatest(0, least(1,
          (u4 + u5 + u6) / 3 + 0.08 - 0.05 * race_code - 0.03 * sex_code - 0.01 * region_code)), 4) AS score
        FROM coded
      )
      SELECT
        {_pick(SEX, "sex_code")} AS sex,
        {_pick(RACE, "race_code")} AS race,
        {_pick(REGION, "region_code")} AS region,
        -- the decision follows the score, with a stricter cut for the last two regions and 5 % flipped
        CASE WHEN (score >= 0.5 + 0.03 * (region_code >= 6)::INTEGER) != (u7 < 0.05)
             THEN 'approved' ELSE 'denied' END AS decision,
        CASE WHEN u8 < 0.01 THEN NULL WHEN u9 < score THEN 1 ELSE 0 END::BIGINT AS label,
        score,
        (18 + floor(u10 * 62))::BIGINT AS age,
        (1000 * (15 + floor(u11 * 186)))::BIGINT AS income,
        floor(u12 * 40)::BIGINT AS tenure,
        round(u10 * u12, 2) AS debt_ratio
      FROM scored
    ) TO '{path}' (FORMAT parquet, COMPRESSION zstd)
    """


@dataclass(frozen=True)
class Dataset:
    path: Path
    spec: Path
    rows: int

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def ensure_dataset(data_dir: Path, rows: int, seed: int) -> tuple[Dataset, float | None]:
    """The Parquet file and spec for ``rows``; generated unless present with the same parameters.

    Returns the dataset and the seconds generation took (None when reused).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    stem = f"decisions-{rows_label(rows)}-seed{seed}"
    path, manifest = data_dir / f"{stem}.parquet", data_dir / f"{stem}.json"
    spec = data_dir / "spec.json"
    write_spec(spec)
    params = {"rows": rows, "seed": seed, "generator": GENERATOR_VERSION}
    if path.exists() and manifest.exists():
        recorded = json.loads(manifest.read_text())
        if recorded.get("params") == params and recorded.get("bytes") == path.stat().st_size:
            return Dataset(path, spec, rows), None
    import duckdb

    start = time.perf_counter()
    partial = path.with_suffix(".partial.parquet")  # an interrupted run leaves no file that looks finished
    with duckdb.connect() as con:
        con.execute(generator_sql(rows, seed, partial))
    partial.replace(path)
    seconds = time.perf_counter() - start
    manifest.write_text(json.dumps({"params": params, "bytes": path.stat().st_size}, indent=2) + "\n")
    return Dataset(path, spec, rows), seconds


def write_spec(path: Path) -> None:
    from analysis.spec import AuditSpec

    text = AuditSpec.from_dict(SPEC).to_json()
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


# ---------------------------------------------------------------- running a measurement


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_bytes: int | None
    output: dict
    error: str | None = None


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process and its descendants (for Spark's JVM) until stopped."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak = pid, every, 0
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.is_set():
            self.peak = max(self.peak, sum(_rss_bytes(p) for p in _tree(self.pid)))
            time.sleep(self.every)

    def stop(self) -> int:
        self._stopped.set()
        self.join()
        return self.peak


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        out.append(todo.pop())
        todo.extend(children.get(out[-1], []))
    return out


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_child(argv: list[str], *, tree: bool = False) -> Run:
    """Run ``argv`` in a fresh process; its wall time, peak RSS and the JSON of its last stdout line."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        sampler = TreeSampler(child.pid) if tree else None
        if sampler:
            sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
        peak = sampler.stop() if sampler else usage.ru_maxrss * 1024  # kilobytes on Linux
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    output = json.loads(lines[-1]) if lines else {}
    error = None
    if child.returncode != 0:
        error = f"exit {child.returncode}: " + (stderr.strip().splitlines() or ["(no message)"])[-1][:300]
    return Run(seconds, peak, output, error)


def median_run(argv: list[str], repeat: int, *, tree: bool = False) -> Run:
    """The median time and peak over ``repeat`` fresh processes (the last one's output)."""
    runs = [run_child(argv, tree=tree) for _ in range(repeat)]
    failed = next((r for r in runs if r.error), None)
    if failed:
        return failed
    peaks = [r.peak_bytes for r in runs if r.peak_bytes is not None]
    return Run(
        statistics.median(r.seconds for r in runs),
        int(statistics.median(peaks)) if peaks else None,
        runs[-1].output,
    )


# ---------------------------------------------------------------- what exists yet


@dataclass(frozen=True)
class Available:
    engines: tuple[str, ...]  # values of audit --engine; () when the flag does not exist
    cli_start: float  # seconds for `python -m analysis audit --help`

    def reason(self, engine: str) -> str | None:
        """Why ``audit --engine ENGINE`` cannot run, or None."""
        if not self.engines:
            return "'python -m analysis audit' has no --engine option yet"
        if engine not in self.engines:
            return f"'audit --engine' does not offer {engine!r} yet (offers {', '.join(self.engines)})"
        return None


def detect() -> Available:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "analysis", "audit", "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    text = done.stdout
    if "--engine" not in text:
        return Available((), seconds)
    after = text.split("--engine", 1)[1][:400]
    return Available(tuple(e for e in ("pandas", "duckdb", "spark") if e in after), seconds)


# ---------------------------------------------------------------- comparing answers


def differences(a: object, b: object, path: str = "") -> Iterator[str]:
    """Where two audit JSONs differ (counts exact, numbers to 1e-12), ignoring IGNORED_KEYS at the top."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if not path and key in IGNORED_KEYS:
                continue
            if key not in a or key not in b:
                yield f"{path}/{key}: only in {'the first' if key in a else 'the second'}"
            else:
                yield from differences(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield f"{path}: {len(a)} items against {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            yield from differences(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        if not math.isclose(a, b, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE):
            yield f"{path}: {a!r} against {b!r}"
    elif a != b or type(a) is not type(b):
        yield f"{path}: {a!r} against {b!r}"


def same_answer(first: Path, second: Path) -> tuple[bool, list[str]]:
    a, b = (json.loads(p.read_text()) for p in (first, second))
    diffs = list(differences(a, b))
    return not diffs, diffs[:5]


# ---------------------------------------------------------------- the children


def child_curves(file: str, spec_path: str, engine: str | None) -> dict:
    """Counted table (or today's DataFrame), curves and optimize; seconds of each."""
    from analysis.optimizer import optimize
    from analysis.spec import AuditSpec
    from analysis.thresholds import threshold_curves

    spec = AuditSpec.load(spec_path)
    times: dict[str, float | str] = {}
    start = time.perf_counter()
    if engine is None:  # today's path: the table in memory, one row per source row
        from analysis.loading import load_table

        table = load_table(file).data
        times["load"] = time.perf_counter() - start
        times["rows"] = len(table)
    else:
        from analysis import engine as engines

        if not hasattr(engines, "count_table"):
            return {"skipped": "analysis.engine.count_table does not exist yet", "stage": "count"}
        table = engines.count_table(file, spec, engine=engine)
        times["count"] = time.perf_counter() - start
        times["distinct"] = len(table.frame)
    start = time.perf_counter()
    try:
        curves = threshold_curves(table, spec, attribute=CURVES_ATTRIBUTE)
    except Exception as error:  # before the weighted curves land, a CountedTable is refused
        if engine is None:
            raise
        return times | {"skipped": f"threshold_curves refuses a CountedTable yet ({type(error).__name__}: {error})"}
    times["curves"] = time.perf_counter() - start
    start = time.perf_counter()
    optimize(curves, **OPTIMIZE)
    times["optimize"] = time.perf_counter() - start
    return times


def child_spark(file: str, spec_path: str, master: str, out: str) -> dict:
    """The Spark session's start, then ``audit(FILE, spec, engine="spark")``, timed apart."""
    from analysis.audit import audit
    from analysis.spec import AuditSpec

    spec = AuditSpec.load(spec_path)
    start = time.perf_counter()
    from pyspark.sql import SparkSession

    SparkSession.builder.master(master).appName("paritylab-scale").getOrCreate()
    session = time.perf_counter() - start
    start = time.perf_counter()
    try:
        result = audit(file, spec, engine="spark")
    except TypeError as error:  # before the engines land, audit() has no engine keyword
        return {"session": session, "skipped": f"audit() takes no engine yet ({error})"}
    seconds = time.perf_counter() - start
    SparkSession.builder.getOrCreate().stop()
    Path(out).write_text(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
    return {"session": session, "audit": seconds}


def run_as_child(args: argparse.Namespace) -> int:
    if args.child == "curves":
        output = child_curves(args.file, args.spec, args.engine)
    else:
        output = child_spark(args.file, args.spec, args.spark_master, args.out)
    print(json.dumps(output))
    return 0


def child_argv(kind: str, dataset: Dataset, *extra: str) -> list[str]:
    script = str(Path(__file__).resolve())
    return [sys.executable, script, "--child", kind, "--file", str(dataset.path), "--spec", str(dataset.spec), *extra]


# ---------------------------------------------------------------- printing


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def fmt_bytes(size: int | None) -> str:
    if size is None:
        return "—"
    if size < 2**20:
        return f"{size / 2**10:.0f} kB"
    return f"{size / 2**30:.2f} GB" if size >= 2**30 else f"{size / 2**20:.0f} MB"


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def line(label: str, seconds: float | None, peak: int | None = None, note: str = "") -> None:
    print(f"  {label:<40} {fmt(seconds):>10} {fmt_bytes(peak):>10}  {note}".rstrip(), flush=True)


def skipped(label: str, reason: str) -> None:
    print(f"  {label:<40} {'skipped':>10} {'':>10}  {reason}", flush=True)


# ---------------------------------------------------------------- the measurements


def measure_audits(
    dataset: Dataset, available: Available, args: argparse.Namespace, out_dir: Path
) -> dict[str, tuple[Run, Path]]:
    """``audit --engine E`` for each engine that can run; the runs and their JSON files."""
    engines = ["pandas", "duckdb"] + (["spark"] if args.spark else [])
    done: dict[str, tuple[Run, Path]] = {}
    for engine in engines:
        label = f"audit --engine {engine}"
        reason = available.reason(engine)
        flag = [] if reason else ["--engine", engine]
        if engine == "pandas" and reason:  # today's path is the pandas engine: measure it without the flag
            label, reason = "audit (today's path, no --engine)", None
        if engine == "pandas" and dataset.rows > args.pandas_max_rows:
            reason = f"more rows than --pandas-max-rows {args.pandas_max_rows:,}"
        if reason:
            skipped(label, reason)
            continue
        out = out_dir / f"audit-{rows_label(dataset.rows)}-{engine}.json"
        argv = [sys.executable, "-m", "analysis", "audit", str(dataset.path), "--spec", str(dataset.spec)]
        run = median_run([*argv, "--json", str(out), *flag], args.repeat, tree=engine == "spark")
        if run.error:
            skipped(label, f"failed, {run.error}")
            continue
        note = "(Python + JVM, sampled)" if engine == "spark" else ""
        line(label, run.seconds, run.peak_bytes, note)
        done[engine] = (run, out)
    return done


def judge_audits(rows: int, done: dict[str, tuple[Run, Path]]) -> None:
    pandas, duckdb, spark = (done.get(e) for e in ("pandas", "duckdb", "spark"))
    if pandas and duckdb:
        speed = pandas[0].seconds / duckdb[0].seconds
        memory = duckdb[0].peak_bytes / pandas[0].peak_bytes
        targets = ""
        if rows == 10_000_000:
            targets = (
                f" (target ≥ {SPEED_TARGET:g}x: {verdict(speed >= SPEED_TARGET)}; "
                f"≤ {MEMORY_TARGET:.0%}: {verdict(memory <= MEMORY_TARGET)})"
            )
        print(f"  pandas/duckdb time {speed:.1f}x, duckdb/pandas memory {memory:.1%}{targets}")
        same, diffs = same_answer(pandas[1], duckdb[1])
        print(f"  same answer, pandas and duckdb: {'yes' if same else 'no'}")
        for diff in diffs:
            print(f"    {diff}")
    if duckdb and rows == 100_000_000:
        run = duckdb[0]
        ok = run.seconds <= BIG_SECONDS and run.peak_bytes <= BIG_BYTES
        print(f"  audit --engine duckdb at 1e8: target ≤ {BIG_SECONDS:g} s and ≤ 1 GB: {verdict(ok)}")
    if spark and duckdb:
        same, diffs = same_answer(duckdb[1], spark[1])
        target = f" (target at 1e7: equal: {verdict(same)})" if rows == 10_000_000 else ""
        print(f"  same answer, spark and duckdb: {'yes' if same else 'no'}{target}")
        for diff in diffs:
            print(f"    {diff}")


def measure_curves(dataset: Dataset, today: Run | None, args: argparse.Namespace) -> None:
    label = "count_table duckdb + curves + optimize"
    run = median_run(child_argv("curves", dataset, "--engine", "duckdb"), args.repeat)
    if run.error:
        skipped(label, f"failed, {run.error}")
        return
    times = run.output
    if "count" in times:
        line("  count_table(engine='duckdb')", times["count"], None, f"{times['distinct']:,} distinct combinations")
    if "skipped" in times:
        stage = "count_table + curves + optimize" if times.get("stage") == "count" else "threshold_curves + optimize"
        skipped("  " + stage, times["skipped"])
        return
    curves = times["count"] + times["curves"]
    note = ""
    if dataset.rows == 100_000_000:
        note = f"count + curves {fmt(curves)}: target ≤ {CURVES_SECONDS:g} s: {verdict(curves <= CURVES_SECONDS)}"
    line("  threshold_curves on the counted table", times["curves"], None, note)
    note = ""
    if today is not None and not today.error:
        ratio = times["optimize"] / today.output["optimize"]
        at = rows_label(today.output["rows"])
        note = f"{ratio:.2f}x today's at {at} (target ≤ {OPTIMIZE_NOISE:g}x: {verdict(ratio <= OPTIMIZE_NOISE)})"
    line("  optimize", times["optimize"], None, note)
    line("  the whole child process", run.seconds, run.peak_bytes)


def measure_today(reference: Dataset, args: argparse.Namespace) -> Run:
    """Curves and optimize on the 1e6-row table in memory (today's path)."""
    run = median_run(child_argv("curves", reference), args.repeat)
    print(f"today's path at {reference.rows:,} rows (table in memory):")
    if run.error:
        skipped("load + curves + optimize", f"failed, {run.error}")
        return run
    times = run.output
    line("  load_table (not part of the curves)", times["load"])
    line("  threshold_curves", times["curves"])
    line("  optimize", times["optimize"])
    line("  the whole child process", run.seconds, run.peak_bytes)
    return run


def measure_spark(dataset: Dataset, available: Available, args: argparse.Namespace, out_dir: Path) -> None:
    label = "spark session start, then audit()"
    out = out_dir / f"audit-{rows_label(dataset.rows)}-spark-inprocess.json"
    extra = ("--spark-master", args.spark_master, "--out", str(out))
    run = median_run(child_argv("spark", dataset, *extra), args.repeat, tree=True)
    if run.error:
        skipped(label, f"failed, {run.error}")
        return
    line("  SparkSession start", run.output.get("session"))
    if "skipped" in run.output:
        skipped("  audit(FILE, spec, engine='spark')", run.output["skipped"])
        return
    line("  audit(FILE, spec, engine='spark')", run.output["audit"], run.peak_bytes, "(Python + JVM, sampled)")


def measure(dataset: Dataset, available: Available, today: Run | None, args: argparse.Namespace) -> None:
    print(f"\n{dataset.rows:,} rows, {dataset.path.name} ({fmt_bytes(dataset.size)}); median of {args.repeat} run(s)")
    print(f"  {'measurement':<40} {'time':>10} {'peak RSS':>10}")
    out_dir = args.data_dir / "results"
    out_dir.mkdir(exist_ok=True)
    judge_audits(dataset.rows, measure_audits(dataset, available, args, out_dir))
    measure_curves(dataset, today, args)
    if args.spark:
        if reason := available.reason("spark"):
            skipped("spark session start, then audit()", reason)
        else:
            measure_spark(dataset, available, args, out_dir)


# ---------------------------------------------------------------- main


def row_count(text: str) -> int:
    """``1e7``, ``10000000`` or ``10_000_000``."""
    value = float(text.replace("_", ""))
    if not value.is_integer() or value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of rows such as 1e7, got {text!r}")
    return int(value)


def seed_value(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2**22:
        raise argparse.ArgumentTypeError(f"expected a seed from 0 to {2**22 - 1}, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=row_count, nargs="+", default=[REFERENCE_ROWS], help="table sizes (default 1e6)")
    p.add_argument("--repeat", type=int, default=1, help="fresh processes per measurement; the median is shown")
    p.add_argument("--seed", type=seed_value, default=0, help="seed of the generated data (default 0)")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help=f"default {DEFAULT_DATA_DIR}")
    p.add_argument(
        "--pandas-max-rows",
        type=row_count,
        default=PANDAS_MAX_ROWS,
        help=f"largest size the pandas engine runs at (default {PANDAS_MAX_ROWS:,})",
    )
    p.add_argument("--spark", action="store_true", help="also measure --engine spark (slow)")
    p.add_argument("--spark-master", default="local[2]", help="Spark master for the in-process timing")
    p.add_argument(
        "--reference-rows",
        type=row_count,
        default=REFERENCE_ROWS,
        help=f"size of today's in-memory path that curves and optimize are compared with (default {REFERENCE_ROWS:,})",
    )
    p.add_argument("--generate-only", action="store_true", help="write the data files and stop")
    for hidden in ("--child", "--file", "--spec", "--engine", "--out"):
        p.add_argument(hidden, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.child:
        return run_as_child(args)
    sizes = sorted(set(args.rows))
    datasets: list[Dataset] = []
    for rows in sizes if args.generate_only else dict.fromkeys([*sizes, args.reference_rows]):
        dataset, seconds = ensure_dataset(args.data_dir, rows, args.seed)
        said = f"generated in {fmt(seconds)}" if seconds is not None else "reused"
        print(f"{dataset.path} ({rows:,} rows, {fmt_bytes(dataset.size)}): {said}", flush=True)
        datasets.append(dataset)
    if args.generate_only:
        return 0
    available = detect()
    engines = ", ".join(available.engines) if available.engines else "none (no --engine option yet)"
    print(f"audit --engine offers: {engines}; CLI start-up (audit --help) {fmt(available.cli_start)}, in every time")
    reference = next(d for d in datasets if d.rows == args.reference_rows)
    today = measure_today(reference, args)
    for dataset in datasets[: len(sizes)]:
        measure(dataset, available, today, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
