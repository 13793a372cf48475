"""The Spark engine: the audit's counts computed by Apache Spark, locally or on a cluster.

:func:`count_spark` reads Parquet or CSV files (a file, a folder, a glob), a table of the
session's catalog (``"table:db.name"``) or a Spark DataFrame, and reduces it with one
``groupBy(...).count()`` to the distinct combinations of the spec's columns, so only those
counts travel to Python (through Arrow). The result is typed as :func:`analysis.load_table`
types the same file (text, int64, float64; booleans and dates as text; missing spellings as
missing), and equals :func:`analysis.engine.compress` of the loaded table:

- a score with more than :data:`analysis.engine.EXACT_SCORES` distinct values is rounded down in
  Spark, with the same double arithmetic ``anchor + floor((s − anchor) / step) · step``;
- quantile edges are :func:`numpy.quantile`'s (linear), from exact order statistics (Spark's
  ``percentile``, never the approximate ``percentile_approx``);
- a binned numeric protected attribute is counted per bin, each bin represented by its smallest value.

CSV files are read as plain delimited text: the header on the first line, RFC 4180 quotes, UTF-8, the
delimiter sniffed from the header (``,`` ``\\t`` ``;`` ``|``); a row with too many or too few cells fails.
The loader's repairs of messy files (title lines, total rows, repeated headers, other encodings) are not
made here: load such a file with the pandas engine. A URL (``s3a://``, ``hdfs://``, ``file://``) is read by
Spark itself, without the schema checks, and hashed by its counts.

pyspark and Java are needed only here and imported only when a function runs.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.engine import EXACT_SCORES, CountedTable, ScoreResolution, counted_columns, score_grid
from analysis.engine_sql import (
    SourceFiles,
    counted_sha256,
    files_sha256,
    first_line,
    interpolate,
    quantile_ranks,
    regroup,
    score_anchor,
    source_files,
)
from analysis.errors import LoadError, OptionError, SpecError
from analysis.groups import MISSING_GROUP, bin_labels
from analysis.loading import ALWAYS_MISSING, HEADER_ONLY, LoadReport, type_columns

if TYPE_CHECKING:
    from analysis.spec import AuditSpec, ProtectedAttribute

__all__ = [
    "SparkError",
    "count_spark",
    "export_decisions_spark",
    "sample_spark",
    "spark_session",
]

TABLE_PREFIX = "table:"
DEFAULT_MASTER = "local[*]"
ROWS = "__rows__"

PYSPARK_MISSING = (
    "The Spark engine needs pyspark, which is not installed. Install it with pip install -r requirements-spark.txt "
    "(and Java 17), or use the duckdb or pandas engine."
)
JAVA_MISSING = (
    "The Spark engine needs Java to start Spark, and found none ({where}). Install Java 17, e.g. apt-get install "
    "openjdk-17-jre-headless, or set JAVA_HOME to a Java installation."
)
JOB_FAILED = "Spark could not {what} {name}: {reason} Check the source and the spec's columns."
SCHEMA_DIFFERS = (
    "The files of {name} do not share one schema: {first} has {first_schema}, but {other} has {other_schema}. "
    "Read files of one schema together (a pattern naming only those), or convert them to one schema."
)
COLUMNS_MISSING = (
    "Column(s) {columns} of {first} are missing in {other} (of {name}). Read files with the same columns "
    "together, or add the columns to every file."
)
DUPLICATE_HEADER = "{path} names the column {column!r} more than once. Rename one of them."
NOT_A_SOURCE = (
    "The Spark engine reads a path, a folder or a glob of Parquet or CSV files, '{prefix}db.name' or a Spark "
    "DataFrame; got {kind}."
)
NO_SCORE = "Exporting new decisions needs the spec's score column (the thresholds cut the score). Name it in the spec."
NO_ATTRIBUTE = "{attribute!r} is not one of the spec's protected attributes ({known}). Pass one of them."
MISSING_THRESHOLD = "No threshold for group(s) {groups} of {column!r}: every group needs one, e.g. {example}. Add them."
NUMBERS_DIFFER = (
    "Spark reads {spark:,} numbers in column {column!r} of {name}, the loader {loaded:,}: the column writes numbers "
    "in a format Spark does not read (decimal commas or thousands separators). Save the file as Parquet, or with "
    "plain numbers such as 1234.5, or use the pandas engine."
)
SAMPLE_UNBOUNDED = (
    "A sample needs a bound: pass rows=N (at most N rows), per_group=N with a spec (up to N rows of every group), "
    "or both."
)
NEW_DECISION = "new_decision"
GROUP = "group"

_DELIMITERS = (",", "\t", ";", "|")
_REMOTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")  # file:// too: Spark's own path syntax
_CSV_PRUNING = "spark.sql.csv.parser.columnPruning.enabled"
_QUIET_LOGGERS = ("DataFrameQueryContextLogger", "SQLQueryContextLogger", "py4j", "py4j.clientserver")
_LOG4J = (
    "rootLogger.level = error\nrootLogger.appenderRef.stderr.ref = console\nappender.console.type = Console\n"
    "appender.console.name = console\nappender.console.target = SYSTEM_ERR\nappender.console.layout.type = "
    "PatternLayout\nappender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex{0}\n"
    # a failed task is said by the error raised in Python; the executor's own report of it is noise
    "logger.executor.name = org.apache.spark.executor.Executor\nlogger.executor.level = off\n"
    "logger.tasks.name = org.apache.spark.scheduler.TaskSetManager\nlogger.tasks.level = off\n"
)


class SparkError(LoadError):
    """Spark is not available (pyspark or Java missing), or a Spark job on the source failed."""


# --- the session ------------------------------------------------------------------------------------


def _pyspark():
    try:
        import pyspark.sql
    except ImportError:
        raise SparkError(PYSPARK_MISSING) from None
    return pyspark


def _check_java() -> None:
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return
    if not home and shutil.which("java"):
        return
    where = f"JAVA_HOME is {home!r}, which holds no bin/java" if home else "JAVA_HOME is not set and no java on PATH"
    raise SparkError(JAVA_MISSING.format(where=where))


def spark_session(session: Any = None, master: str | None = None) -> Any:
    """The Spark session to use: ``session``, else the active one, else a new local one, quiet.

    Parameters
    ----------
    session
        A ``pyspark.sql.SparkSession`` to use as it is.
    master
        For a new session: the master URL (default ``local[*]``, every core of this machine).
    """
    if session is not None:
        return session
    pyspark = _pyspark()
    active = pyspark.sql.SparkSession.getActiveSession()
    if active is not None:
        return active
    _check_java()
    config = os.path.join(tempfile.gettempdir(), "paritylab-spark-log4j2.properties")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(_LOG4J)
    builder = (
        pyspark.sql.SparkSession.builder.master(master or DEFAULT_MASTER)
        .appName("ParityLab")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{config}")
    )
    with warnings.catch_warnings(), _spark_job("start", "a Spark session"):
        warnings.simplefilter("ignore", FutureWarning)  # pyspark's note about pandas versions
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextlib.contextmanager
def _spark_job(what: str, name: str, *, csv_of: Any = None) -> Iterator[None]:
    """Run Spark work: its failure becomes a :class:`SparkError` with the first line of Spark's message.

    ``csv_of`` (a session) reads CSV rows whole while the work runs, so that a row with too many or too few
    cells fails the job, as the loader refuses it (Spark otherwise parses only the columns a query reads).
    """
    loggers = [logging.getLogger(n) for n in _QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:  # pyspark logs every failed query with its JVM stack trace
        logger.setLevel(logging.CRITICAL)
    pruning = csv_of.conf.get(_CSV_PRUNING, None) if csv_of is not None else None
    if csv_of is not None:
        csv_of.conf.set(_CSV_PRUNING, "false")
    try:
        yield
    except SparkError:
        raise
    except Exception as exc:
        if not _is_spark_error(exc):
            raise
        raise SparkError(JOB_FAILED.format(what=what, name=name, reason=_reason(exc))) from None
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if csv_of is not None:
            if pruning is None:
                csv_of.conf.unset(_CSV_PRUNING)
            else:
                csv_of.conf.set(_CSV_PRUNING, pruning)


def _reason(exc: BaseException) -> str:
    """Spark's message, first lines only: the outermost and the innermost cause (a JVM error's chain)."""
    lines = [first_line(exc.getMessage() if hasattr(exc, "getCondition") else exc)]
    cause = getattr(exc, "java_exception", None)
    if cause is not None:
        lines = []
        while cause is not None and len(lines) < 20:
            message = cause.getMessage()
            if message:
                lines.append(first_line(message))
            cause = cause.getCause()
        lines = [lines[0], lines[-1]] if len(lines) > 1 and lines[0] != lines[-1] else lines[:1]
    cleaned = [re.sub(r"\s*SQLSTATE: \w+\.?$", "", line).strip().rstrip(".") for line in lines or ["unknown error"]]
    return "; ".join(cleaned) + "."


def _is_spark_error(exc: BaseException) -> bool:
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return isinstance(exc, (PySparkException, Py4JError))


# --- reading the source -----------------------------------------------------------------------------


@dataclass
class _Source:
    df: Any
    name: str
    format: str  # "parquet" (typed columns: Parquet, a table, a DataFrame) or "csv" (every cell text)
    files: SourceFiles | None = None
    arrow: dict[str, pa.DataType] = field(default_factory=dict)  # the files' own column types
    delimiter: str | None = None
    strict: Any = None  # the session, for CSV: rows are read whole (see _spark_job)


def _read(spark: Any, source: Any, name: str | None) -> _Source:
    pyspark = _pyspark()
    if isinstance(source, pyspark.sql.DataFrame):
        return _Source(source, name or "the Spark DataFrame", "parquet")
    if isinstance(source, str) and source.startswith(TABLE_PREFIX):
        table = source[len(TABLE_PREFIX) :]
        with _spark_job("read the table", repr(table)):
            return _Source(spark.table(table), name or table, "parquet")
    if not isinstance(source, (str, os.PathLike)):
        raise SparkError(NOT_A_SOURCE.format(prefix=TABLE_PREFIX, kind=type(source).__name__))
    if _REMOTE.match(os.fspath(source)):
        return _read_remote(spark, os.fspath(source), name)
    files = source_files(source)
    label = name or files.name
    if files.format == "parquet":
        arrow = _parquet_schema(files, label)
        with _spark_job("read", label):
            df = spark.read.parquet(*files.paths)
        return _Source(df, label, "parquet", files, arrow)
    header, delimiter = _csv_header(files, label)
    schema = ", ".join(f"`{column.replace('`', '``')}` STRING" for column in header)
    with _spark_job("read", label):
        df = spark.read.csv(
            list(files.paths), schema=schema, header=True, sep=delimiter, quote='"', escape='"', mode="FAILFAST"
        )
    return _Source(df, label, "csv", files, delimiter=delimiter, strict=spark)


def _read_remote(spark: Any, url: str, name: str | None) -> _Source:
    """A URL Spark reads itself (HDFS, S3, …): Parquet unless it names CSV or TSV files; every CSV cell as text."""
    label = name or url.rstrip("/").rsplit("/", 1)[-1] or url
    stem = url.lower().removesuffix(".gz")
    with _spark_job("read", label):
        if stem.endswith((".csv", ".tsv", ".txt")):
            sep = "\t" if stem.endswith(".tsv") else ","
            df = spark.read.csv(url, header=True, sep=sep, quote='"', escape='"', mode="FAILFAST")
            return _Source(df, label, "csv", delimiter=sep, strict=spark)
        return _Source(spark.read.parquet(url), label, "parquet")


def _parquet_schema(files: SourceFiles, name: str) -> dict[str, pa.DataType]:
    """The files' shared column types (read from their footers); files that differ are named."""
    import pyarrow.parquet as pq

    schemas = []
    for path in files.paths:
        try:
            schemas.append(pq.read_schema(path))
        except (pa.ArrowException, OSError) as exc:
            raise LoadError(f"{path} is not a readable Parquet file ({first_line(exc)}). Check the file.") from None
    first = schemas[0]
    for path, schema in zip(files.paths[1:], schemas[1:], strict=True):
        _check_same_columns(first.names, schema.names, files, path, name)
        kinds = {n: first.field(n).type for n in first.names}
        differ = [n for n in first.names if schema.field(n).type != kinds[n]]
        if differ:
            column = differ[0]
            raise LoadError(
                SCHEMA_DIFFERS.format(
                    name=name,
                    first=files.relative(files.paths[0]),
                    first_schema=f"{column!r} as {kinds[column]}",
                    other=files.relative(path),
                    other_schema=f"{column!r} as {schema.field(column).type}",
                ),
                column=column,
            )
    return {n: first.field(n).type for n in first.names}


def _check_same_columns(first: list[str], other: list[str], files: SourceFiles, path: str, name: str) -> None:
    first_file, other_file = files.relative(files.paths[0]), files.relative(path)
    missing = [c for c in first if c not in other]
    extra = [c for c in other if c not in first]
    if missing or extra:
        columns, where, there = (missing, first_file, other_file) if missing else (extra, other_file, first_file)
        shown = ", ".join(repr(c) for c in columns)
        raise LoadError(COLUMNS_MISSING.format(columns=shown, first=where, other=there, name=name), column=columns[0])
    if first != other:
        raise LoadError(
            SCHEMA_DIFFERS.format(
                name=name,
                first=first_file,
                first_schema=f"the columns in the order {first}",
                other=other_file,
                other_schema=f"the order {other}",
            )
        )


def _csv_header(files: SourceFiles, name: str) -> tuple[list[str], str]:
    """The header of the CSV files (trimmed; an empty name becomes column_<n>, as the loader names it)."""
    lines = [_first_line(path) for path in files.paths]
    delimiter = "\t" if files.paths[0].lower().split(".gz")[0].endswith(".tsv") else _sniff(lines[0])
    headers = []
    for path, line in zip(files.paths, lines, strict=True):
        cells = next(csv.reader([line], delimiter=delimiter), [])
        header = [cell.strip() or f"column_{i + 1}" for i, cell in enumerate(cells)]
        repeated = next((c for i, c in enumerate(header) if c in header[:i]), None)
        if repeated is not None:
            raise LoadError(DUPLICATE_HEADER.format(path=path, column=repeated), column=repeated)
        headers.append(header)
    for path, header in zip(files.paths[1:], headers[1:], strict=True):
        _check_same_columns(headers[0], header, files, path, name)
    return headers[0], delimiter


def _first_line(path: str) -> str:
    import gzip

    opener = gzip.open if path.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        line = handle.readline()
    return line.decode("utf-8-sig", errors="replace").rstrip("\r\n")


def _sniff(line: str) -> str:
    widths = {d: len(next(csv.reader([line], delimiter=d), [])) for d in _DELIMITERS}
    return max(_DELIMITERS, key=lambda d: (widths[d], -_DELIMITERS.index(d)))


# --- counting ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Binned:
    """A protected attribute counted per bin: the bin's number and its smallest value."""

    column: str
    edges: tuple[float, ...]


def count_spark(
    source: Any,
    spec: AuditSpec,
    *,
    session: Any = None,
    master: str | None = None,
    name: str | None = None,
    na_values: Any = None,
) -> CountedTable:
    """Count the distinct combinations of the spec's columns with Spark.

    Parameters
    ----------
    source
        A path, folder or glob of Parquet or CSV files; ``"table:db.name"`` (a table of the session's
        catalog); or a Spark DataFrame.
    spec
        Whose columns are counted (those present in the source).
    session
        The ``SparkSession`` to use; default the active one, else a new one on ``master``.
    master
        Master URL for a new session (default ``local[*]``).
    name
        The source's name in messages and the report.
    na_values
        Extra spellings of missing, as in :func:`analysis.load_table`.

    Returns
    -------
    CountedTable
        ``engine="spark"``; ``load`` is a :class:`analysis.LoadReport` for a single Parquet file (its changes
        counted over the spec's columns), else None.

    Raises
    ------
    SparkError
        pyspark or Java is missing, or a Spark job failed (with the first line of Spark's message).
    LoadError
        The path matches nothing, or the files do not share one schema.
    """
    spark = spark_session(session, master)
    read = _read(spark, source, name)
    df = read.df
    columns = tuple(df.columns)
    names = list(counted_columns(spec, columns))
    numeric = {c: _numeric_expression(df, c, read.format) for c in names}
    quantiled = [a for a in spec.protected if a.quantiles is not None and a.column in names]
    score = numeric.get(spec.score) if spec.score in names else None
    stats = _statistics(df, score, [numeric[a.column] for a in quantiled], read)
    rows = int(stats[ROWS])
    if rows == 0 and read.files is not None:
        raise LoadError(HEADER_ONLY.format(name=read.name, columns=f"{len(columns)} columns"))
    scores = None
    if score is not None:
        low, high = (float(v) if v is not None else math.nan for v in (stats["low"], stats["high"]))
        scores = score_grid(int(stats["distinct"]), low, high, score_anchor(spec))
    edges = _quantile_edges(df, quantiled, numeric, [int(stats[f"n{i}"]) for i in range(len(quantiled))], read)
    binned = _binned(spec, names, edges, df, read)
    counted = _grouped(df, names, numeric, spec, scores, binned, read)
    frame, weights, report = _typed(counted, names, spec, scores, binned, read, na_values, rows, columns)
    numbers = {a.column: int(stats[f"n{i}"]) for i, a in enumerate(quantiled)}
    if scores is not None and not scores.exact:
        numbers[spec.score] = int(stats["scored"])
    elif scores is not None and pd.api.types.is_numeric_dtype(frame[spec.score].dtype):
        # every distinct score is in the counted frame: its count as the loader reads the numbers
        scores = ScoreResolution(int(frame[spec.score].nunique()))
        if scores.distinct > EXACT_SCORES:
            numbers[spec.score] = int(stats["scored"])
    _check_numbers_read_alike(frame, weights, numbers, read)
    sha256 = files_sha256(read.files) if read.files is not None else counted_sha256(frame, weights)
    load = None
    if report is not None:
        load = LoadReport(
            name=read.name,
            format="parquet",
            compression=None,
            encoding=None,
            delimiter=None,
            sheet=None,
            rows=rows,
            columns=len(columns),
            size_bytes=os.path.getsize(read.files.paths[0]),
            sha256=sha256,
            changes=report[0],
            warnings=report[1],
        )
    return CountedTable(frame, weights, rows, columns, "spark", sha256, read.name, load, scores, edges)


def _statistics(df: Any, score: Any, quantiled: list, read: _Source) -> dict[str, Any]:
    """One pass: the rows; the score's distinct finite values, range and count; each quantiled column's count."""
    from pyspark.sql import functions as F

    aggregates = [F.count(F.lit(1)).alias(ROWS)]
    if score is not None:
        aggregates += [
            F.count_distinct(score).alias("distinct"),
            F.min(score).alias("low"),
            F.max(score).alias("high"),
            F.count(score).alias("scored"),
        ]
    aggregates += [F.count(value).alias(f"n{i}") for i, value in enumerate(quantiled)]
    with _spark_job("count the rows of", read.name, csv_of=read.strict):
        return df.agg(*aggregates).collect()[0].asDict()


def _check_numbers_read_alike(frame: pd.DataFrame, weights: np.ndarray, numbers: dict[str, int], read: _Source):
    """Spark read a CSV column's numbers for the score's grid and the quantiles; the loader's reading types the
    counts. Where they disagree (decimal commas, thousands separators), the grid or the edges would be wrong."""
    for column, spark_count in numbers.items():
        values = frame[column]
        if not pd.api.types.is_numeric_dtype(values.dtype):
            continue
        loaded = int(weights[values.notna().to_numpy()].sum())
        if loaded != spark_count:
            raise LoadError(
                NUMBERS_DIFFER.format(column=column, name=read.name, spark=spark_count, loaded=loaded), column=column
            )


def _numeric_expression(df: Any, column: str, format: str) -> Any:
    """The column as finite doubles (None where missing, not a number or infinite), or None for a text column."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DecimalType, NumericType, StringType

    kind = df.schema[column].dataType
    ref = F.col(f"`{column.replace('`', '``')}`")
    if isinstance(kind, (NumericType, DecimalType)):
        value = ref.cast("double")
    elif isinstance(kind, StringType) and format == "csv":
        value = F.expr(f"try_cast(trim(`{column.replace('`', '``')}`) AS DOUBLE)")
    else:
        return None
    return F.when(~F.isnan(value) & (F.abs(value) != F.lit(math.inf)), value)


def _quantile_edges(df, attributes: list[ProtectedAttribute], numeric: dict, counts: list[int], read: _Source):
    """Inner edges of each quantile-binned attribute, equal to numpy.quantile's over every source row."""
    from pyspark.sql import functions as F

    wanted: dict[str, list] = {}
    for attribute, n in zip(attributes, counts, strict=True):
        if numeric.get(attribute.column) is None or n == 0:
            continue
        ranks = quantile_ranks(n, int(attribute.quantiles))
        wanted[attribute.column] = [n, ranks, sorted({r for q in ranks for r in (q.below, q.above)})]
    if not wanted:
        return {a.column: () for a in attributes if numeric.get(a.column) is not None}
    aggregates = []
    for i, (column, (n, _, needed)) in enumerate(wanted.items()):
        fractions = F.array(*[F.lit(_exact_fraction(rank, n)) for rank in needed])
        aggregates.append(F.percentile(numeric[column], fractions).alias(f"q{i}"))
    with _spark_job("compute the quantiles of", read.name, csv_of=read.strict):
        found = df.agg(*aggregates).collect()[0]
    edges = {a.column: () for a in attributes if numeric.get(a.column) is not None}
    for i, (column, (_, ranks, needed)) in enumerate(wanted.items()):
        value = dict(zip(needed, found[f"q{i}"], strict=True))
        inner = [interpolate(value[q.below], value[q.above], q.gamma) for q in ranks]
        edges[column] = tuple(float(e) for e in np.unique(np.asarray(inner, dtype=float)))
    return edges


def _exact_fraction(rank: int, n: int) -> float:
    """A fraction p with (n − 1)·p exactly ``rank`` in doubles, so that Spark's percentile returns that order
    statistic itself (it interpolates with its own rounding otherwise)."""
    if n <= 1 or rank == 0:
        return 0.0
    p = rank / (n - 1)
    for _ in range(8):
        product = float(n - 1) * p
        if product == rank:
            return p
        p = math.nextafter(p, math.inf if product < rank else -math.inf)
    return min(1.0, rank / (n - 1))


def _binned(spec: AuditSpec, names: list[str], edges: dict, df: Any, read: _Source) -> dict[str, _Binned]:
    """Numeric binned attributes of a typed source, counted per bin (a CSV's text is counted by value)."""
    from pyspark.sql.types import DecimalType, NumericType

    out = {}
    for attribute in spec.protected:
        column = attribute.column
        if column not in names or column == spec.score or not attribute.binned or read.format != "parquet":
            continue
        if not isinstance(df.schema[column].dataType, (NumericType, DecimalType)):
            continue
        cut = tuple(attribute.bins) if attribute.bins is not None else edges.get(column, ())
        out[column] = _Binned(column, tuple(float(e) for e in cut))
    return out


def _grouped(df, names, numeric, spec: AuditSpec, scores: ScoreResolution | None, binned, read: _Source) -> pa.Table:
    """One groupBy over the counted columns (a rounded score, bins for binned attributes): to Arrow."""
    from pyspark.sql import functions as F

    keys, extra = [], []
    for i, column in enumerate(names):
        ref = F.col(f"`{column.replace('`', '``')}`")
        if column == spec.score and scores is not None and not scores.exact:
            anchor, step = F.lit(float(scores.anchor)), F.lit(float(scores.step))
            keys.append((anchor + F.floor((numeric[column] - anchor) / step) * step).alias(f"k{i}"))
        elif column in binned:
            value = numeric[column]
            code = sum((F.when(value >= F.lit(e), 1).otherwise(0) for e in binned[column].edges), F.lit(0))
            keys.append(F.when(value.isNotNull(), code).alias(f"k{i}"))
            extra.append(F.min(F.when(value.isNotNull(), ref)).alias(f"m{i}"))
        else:
            keys.append(ref.alias(f"k{i}"))
    with _spark_job("count", read.name, csv_of=read.strict):
        grouped = df.groupBy(*keys).agg(F.count(F.lit(1)).alias(ROWS), *extra) if keys else None
        if grouped is None:
            return pa.table({ROWS: pa.array([df.count()], pa.int64())})
        return grouped.toArrow()


def _typed(counted: pa.Table, names, spec, scores, binned, read: _Source, na_values, rows: int, columns):
    """The counted combinations typed as the loader types the source, merged where typing made rows equal."""
    weights = counted.column(ROWS).to_numpy().astype(np.int64)
    if not names:
        return pd.DataFrame(index=pd.RangeIndex(0)), np.zeros(0, np.int64), None
    arrays = []
    for i, column in enumerate(names):
        values = counted.column(f"k{i}")
        if column in binned:
            values = _representatives(values, counted.column(f"m{i}"))
        rounded = column == spec.score and scores is not None and not scores.exact
        kind = read.arrow.get(column)
        if kind is not None and not rounded and values.type != kind:
            with contextlib.suppress(pa.ArrowException):
                values = values.cast(kind)  # the file's own type (Spark widens unsigned and time types)
        arrays.append(values)
    # typed in the source's column order, so that the changes are listed in the loader's order
    order = sorted(range(len(names)), key=lambda i: columns.index(names[i]))
    table = pa.table([arrays[i] for i in order], names=[names[i] for i in order])
    single = read.files is not None and read.format == "parquet" and len(read.files.paths) == 1
    typed = type_columns(
        table, format=read.format, delimiter=read.delimiter, na_values=na_values, weights=weights if single else None
    )
    frame, merged = regroup(typed.data[names], weights)
    return frame, merged, (typed.changes, typed.warnings) if single else None


def _representatives(codes: pa.ChunkedArray, smallest: pa.ChunkedArray) -> pa.ChunkedArray:
    """Each row's bin represented by the smallest value of that bin over every row."""
    import pyarrow.compute as pc

    per_bin = pa.table({"code": codes, "least": smallest}).group_by("code").aggregate([("least", "min")])
    where = pc.index_in(codes, value_set=per_bin.column("code"))
    return per_bin.column("least_min").take(where)


# --- samples and exports ----------------------------------------------------------------------------


def _group_keys(df, spec: AuditSpec | None, read: _Source) -> list:
    """The strata of a sample: the spec's protected attributes (binned ones by bin) and its decision."""
    from pyspark.sql import functions as F

    if spec is None:
        return []
    keys = []
    columns = list(df.columns)
    for attribute in spec.protected:
        if attribute.column not in columns:
            continue
        value = _numeric_expression(df, attribute.column, read.format)
        if attribute.bins is not None and value is not None:
            keys.append(sum((F.when(value >= F.lit(e), 1).otherwise(0) for e in attribute.bins), F.lit(0)))
        else:
            keys.append(_as_loaded(df, attribute.column))
    if spec.decision in columns:
        keys.append(_as_loaded(df, spec.decision))
    return keys


def _as_loaded(df: Any, column: str) -> Any:
    """A text column trimmed, its missing spellings missing: values as the loader reads them (others as they are)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    ref = F.col(f"`{column.replace('`', '``')}`")
    if not isinstance(df.schema[column].dataType, StringType):
        return ref
    trimmed = F.regexp_replace(ref, r"^\s+|\s+$", "")
    return F.when(~trimmed.isin(list(ALWAYS_MISSING)), trimmed)


def sample_spark(
    source: Any,
    *,
    rows: int | None = None,
    spec: AuditSpec | None = None,
    per_group: int | None = None,
    seed: int = 0,
    session: Any = None,
    na_values: Any = None,
) -> pd.DataFrame:
    """A bounded random sample of the source, typed as the loader types it.

    Parameters
    ----------
    source
        As for :func:`count_spark`.
    rows
        At most this many rows (None: no bound beyond ``per_group``).
    spec, per_group
        Stratify: every group (a combination of the spec's protected attributes, fixed bins by bin, and its
        decision) keeps up to ``per_group`` of its rows.
    seed
        Which rows: the same seed picks the same rows of the same source.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if rows is None and per_group is None:
        raise OptionError(SAMPLE_UNBOUNDED, option="rows")
    spark = spark_session(session)
    read = _read(spark, source, None)
    df = read.df
    order = F.xxhash64(F.lit(int(seed)), *[F.col(f"`{c.replace('`', '``')}`") for c in df.columns])
    picked = df.withColumn("__order__", order)
    if per_group is not None:
        window = Window.partitionBy(*_group_keys(df, spec, read)).orderBy("__order__")
        picked = picked.withColumn("__rank__", F.row_number().over(window)).where(F.col("__rank__") <= int(per_group))
        picked = picked.drop("__rank__")
    if rows is not None:
        picked = picked.orderBy("__order__").limit(int(rows))
    with _spark_job("sample", read.name, csv_of=read.strict):
        table = picked.orderBy("__order__").drop("__order__").toArrow()
    arrays = []
    for column in table.column_names:
        values, kind = table.column(column), read.arrow.get(column)
        if kind is not None and values.type != kind:
            with contextlib.suppress(pa.ArrowException):
                values = values.cast(kind)
        arrays.append(values)
    typed = type_columns(
        pa.table(arrays, names=table.column_names), format=read.format, delimiter=read.delimiter, na_values=na_values
    )
    return typed.data


def export_decisions_spark(
    source: Any,
    spec: AuditSpec,
    attribute: str | None,
    thresholds: dict[str, float],
    path: str | os.PathLike[str],
    *,
    session: Any = None,
    format: str = "parquet",
) -> str:
    """Write every row of the source with its group and its new decision, by Spark's writer (never collected).

    ``group`` is the row's group of ``attribute`` (its bin's label, or ``"(missing)"``); ``new_decision`` is 1 when
    the row's score is at least its group's threshold, 0 below it, and the current decision (1 when positive, 0
    when not, missing when none) for a row without a finite score. Returns the folder written.
    """
    from pyspark.sql import functions as F

    if spec.score is None:
        raise SpecError(NO_SCORE)
    known = [a.column for a in spec.protected]
    chosen = next((a for a in spec.protected if a.column == (attribute or (known[0] if known else None))), None)
    if chosen is None:
        raise SpecError(NO_ATTRIBUTE.format(attribute=attribute, known=", ".join(map(repr, known)) or "none"))
    spark = spark_session(session)
    read = _read(spark, source, None)
    df = read.df
    group, labels = _group_label(df, chosen, spec, read)
    absent = [g for g in labels if g not in thresholds]
    if absent:
        example = ", ".join(f"{g}=0.5" for g in labels[:2])
        raise SpecError(MISSING_THRESHOLD.format(groups=absent, column=chosen.column, example=example))
    cut = F.create_map(*[x for g in labels for x in (F.lit(g), F.lit(float(thresholds[g])))])[group]
    score = _numeric_expression(df, spec.score, read.format)
    old = F.lit(None).cast("int")
    if spec.decision in df.columns:
        number = _numeric_expression(df, spec.decision, "parquet")
        if number is not None:  # 1 and 1.0 are one value, as the audit reads them
            numbers = [float(v) for v in spec.positive if isinstance(v, (int, float)) or _is_number(v)]
            old = F.when(number.isNotNull(), number.isin(numbers).cast("int"))
        else:
            decision = _as_loaded(df, spec.decision)
            old = F.when(decision.isNotNull(), decision.isin([str(v) for v in spec.positive]).cast("int"))
    new = F.when(score.isNotNull(), (score >= cut).cast("int")).otherwise(old)
    out = df.withColumn(GROUP, group).withColumn(NEW_DECISION, new)
    with _spark_job("write the decisions of", read.name, csv_of=read.strict):
        out.write.mode("overwrite").format(format).option("header", "true").save(os.fspath(path))
    return os.fspath(path)


def _is_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _group_label(df, attribute: ProtectedAttribute, spec: AuditSpec, read: _Source) -> tuple[Any, list[str]]:
    """The row's group label of ``attribute`` in Spark, and every label the source holds."""
    from pyspark.sql import functions as F

    value = _numeric_expression(df, attribute.column, read.format)
    if attribute.binned and value is not None:
        if attribute.bins is not None:
            edges = tuple(attribute.bins)
        else:
            n = df.agg(F.count(value)).collect()[0][0]
            edges = _quantile_edges(df, [attribute], {attribute.column: value}, [int(n)], read)[attribute.column]
        names = bin_labels(edges) if edges else ["all"]
        code = sum((F.when(value >= F.lit(e), 1).otherwise(0) for e in edges), F.lit(0))
        label = F.when(value.isNull(), F.lit(MISSING_GROUP)).otherwise(
            F.element_at(F.array(*map(F.lit, names)), code + 1)
        )
    else:
        text = _as_loaded(df, attribute.column).cast("string")
        label = F.when(text.isNull(), F.lit(MISSING_GROUP)).otherwise(text)
    with _spark_job("list the groups of", read.name, csv_of=read.strict):
        present = [r[0] for r in df.select(label.alias("g")).distinct().collect()]
    return label, sorted(present)
