"""The DuckDB engine: the audit's counts from files too large for memory, in one ``GROUP BY``.

DuckDB (embedded, out of core) reads Parquet or CSV files, folders, globs, a table of a DuckDB
database, a DuckDB relation or a pandas DataFrame, and reduces the rows to the distinct
combinations of the spec's columns (:func:`count_duckdb`). The small result comes back through
Arrow and is typed as :func:`analysis.load_table` types the same file, so the audit on it equals
the audit on the loaded file.

Sources
-------
- a path to a ``.parquet``/``.pq``, ``.csv``, ``.tsv`` or ``.csv.gz`` file;
- a folder (every such file under it, recursively), a glob (``data/*.parquet``), or a list of these;
- a DuckDB database file with its table: ``"shop.duckdb:loans"`` (or ``table="loans"``);
  a database holding a single table needs no table name;
- a ``duckdb.DuckDBPyRelation``, or a pandas DataFrame (already loaded: its values are kept as they are).

Limits
------
A CSV file is read by DuckDB (its dialect sniffed, every cell as text); the loader's whole-file repairs
(total rows, repeated headers, encodings other than UTF-8) are not made, and its load report lists the
changes in the counted columns only. A protected attribute with more than ``spec.max_levels`` values is
counted with its first ``max_levels + 1`` values only (enough for validation to refuse it; the load
report's warnings give the true number). A CSV column's numbers for quantile edges, bins and the score
grid are read by DuckDB (``TRY_CAST``): a number the loader parses with thousands separators counts as
missing there. A sample of a CSV file is typed from the sampled rows. A DuckDB table's ``sha256`` is
that of the counted frame and weights (a database file changes when any of its tables does).
"""

from __future__ import annotations

import csv
import glob as globbing
import gzip
import hashlib
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.engine import WEIGHT, CountedTable, ScoreResolution, counted_columns, score_grid
from analysis.engine_sql import counted_sha256, file_sha256, regroup, score_anchor
from analysis.errors import LoadError, OptionError, SpecError
from analysis.groups import LITERAL_MISSING_GROUP, MISSING_GROUP, bin_labels
from analysis.loading import ALWAYS_MISSING, AMBIGUOUS_MISSING, Change, LoadReport, type_counted_columns
from analysis.values import counted_variants, matches_any, value_key

if TYPE_CHECKING:
    import pyarrow as pa

    from analysis.spec import AuditSpec, ProtectedAttribute

__all__ = [
    "BIN_REPRESENTATIVES_FROM",
    "MEMORY_LIMIT",
    "THREADS",
    "ColumnStatistics",
    "TableStatistics",
    "column_statistics",
    "count_duckdb",
    "export_decisions_duckdb",
    "sample_duckdb",
]

THREADS = 2
# Text columns of at most this many values are grouped by an integer code.
CODED_VALUES = 4_096
MEMORY_LIMIT = "2GB"  # beyond it DuckDB spills to its temporary directory
# A binned attribute with more distinct values than this is counted by one value per bin (its smallest).
BIN_REPRESENTATIVES_FROM = 1_000
DISTINCT_EXACT_UP_TO = 100_000  # column_statistics counts distinct values exactly up to here
TOP_VALUES = 5

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")
DATABASE_SUFFIXES = (".duckdb", ".db", ".ddb")

NOTHING_MATCHED = (
    "No file matches {pattern}: expected a Parquet or CSV file, a folder of them or a glob such as data/*.parquet. "
    "Check the path and the pattern."
)
EMPTY_FOLDER = (
    "The folder {folder} holds no Parquet or CSV file (expected names ending in .parquet, .csv or .csv.gz). "
    "Pick the folder that holds the data files."
)
UNKNOWN_SUFFIX = (
    "{path} is not a file the DuckDB engine reads: expected .parquet, .csv, .tsv, .csv.gz or a .duckdb "
    "database. Convert it to Parquet or CSV, or load it with the pandas engine."
)
MIXED_FORMATS = (
    "The files mix Parquet ({parquet}) and CSV ({csv}): expected files of one format. Point to one kind at a time."
)
SCHEMA_DIFFERS = (
    "Column {column!r} is {type} in {file} but {first_type} in {first}: expected every file to give a column "
    "one type. Rewrite {file} with the same types, or leave it out."
)
COLUMN_LACKING = (
    "Column {column!r} is in {having} but not in {lacking}: expected every file to have the same columns. "
    "Add the column to those files, or leave them out."
)
CSV_UNREADABLE = (
    "{name} could not be read as CSV: {reason} Expected a delimited text file with a header row and the same "
    "number of cells on every line; fix that line, or convert the file to Parquet."
)
SOURCE_UNREADABLE = "{name} could not be read: {reason} Check that it is a Parquet, CSV or DuckDB file."
NEEDS_TABLE = (
    "{path} is a DuckDB database with tables {tables}: expected one named. Pass 'file.duckdb:table' (or table=...)."
)
NO_SUCH_TABLE = "{path} has no table {table!r}; its tables are {tables}. Name one of them."
NOT_A_SOURCE = (
    "The DuckDB engine reads a path, a glob, a list of paths, a DuckDB relation or a pandas DataFrame; "
    "got {type}. Pass one of those."
)
NO_SCORE = "Exporting decisions needs a score column to apply thresholds to; the spec has none. Name the score column."
NO_ATTRIBUTE = "The spec has no protected attribute {attribute!r}; it has {names}. Name one of them."
MISSING_THRESHOLDS = "No threshold for group(s) {groups} of {column!r}; give one per group, e.g. {example}."
BAD_OUTPUT = (
    "Cannot write decisions as {format!r}: expected a path ending in .parquet or .csv, or format='parquet'/'csv'."
)
TOO_MANY_VALUES_NOTE = (
    "Column {column!r} has {levels:,} distinct values; the counted table keeps its first {kept:,} (enough for the "
    "check on the number of groups), so its other values are not counted apart."
)
CSV_CHANGES_NOTE = (
    "Changes in columns the audit does not read are not listed: the DuckDB engine types only the counted columns "
    "of a CSV file."
)

_NUMERIC_TYPE = re.compile(r"(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|REAL|DECIMAL.*)")
_FLOAT_TYPE = re.compile(r"(FLOAT|DOUBLE|REAL)")
_TEXT_TYPE = re.compile(r"VARCHAR|TEXT|STRING")
# Arrow's Unicode trim trims these (and more ASCII controls); a superset only makes more cells suspect.
_EDGE_SPACE = r"[\s\v\x{1c}-\x{1f}\x{85}\x{a0}\p{Z}]"


# --- SQL text ---------------------------------------------------------------------------------------


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _double(value: float) -> str:
    return f"CAST({_text(repr(float(value)))} AS DOUBLE)"


def _literal(value: Any, sql_type: str) -> str:
    """A value of the column's own type, written exactly (floats by their shortest repr)."""
    if isinstance(value, float):
        return f"CAST({_text(repr(value))} AS {sql_type})"
    return f"CAST({_text(str(value))} AS {sql_type})"


def _bin_index(number: str, edges: Sequence[float]) -> str:
    """The bin ``np.searchsorted(edges, x, side="right")`` gives: how many edges are at most x."""
    if not edges:
        return "0"
    cases = " ".join(f"WHEN {number} >= {_double(e)} THEN {i + 1}" for i, e in reversed(list(enumerate(edges))))
    return f"(CASE {cases} ELSE 0 END)"


# --- sources ----------------------------------------------------------------------------------------


@dataclass
class _Source:
    """Where the rows come from and how DuckDB reads them (every query reads the view ``src``)."""

    kind: str  # parquet, csv, table, relation, dataframe
    name: str
    files: tuple[str, ...] = ()
    root: str | None = None
    scan: str = ""
    relation: Any = None
    frame: pd.DataFrame | None = None
    database: str | None = None


class _Session:
    """A DuckDB connection with the source as view ``src``; runs queries, returns Arrow tables."""

    def __init__(self, source: _Source, connection: Any = None) -> None:
        import duckdb

        self.source = source
        self._own = connection is None and source.kind != "relation"
        if source.kind == "relation":
            self.con = None
        else:
            self.con = connection if connection is not None else _connect(duckdb)
            if source.database is not None:
                self.con.execute(f"ATTACH {_text(source.database)} AS paritylab_db (READ_ONLY)")
            if source.kind == "dataframe":
                self.con.register("src", source.frame)
            else:
                self._run(f"CREATE OR REPLACE TEMP VIEW src AS {source.scan}", fetch=False)
        described = self.sql("DESCRIBE SELECT * FROM src")
        self.columns = tuple(str(c) for c in described.column("column_name").to_pylist())
        self.types = dict(zip(self.columns, (str(t) for t in described.column("column_type").to_pylist()), strict=True))

    def sql(self, query: str) -> pa.Table:
        return self._run(query, fetch=True)

    def _run(self, query: str, *, fetch: bool):
        import duckdb

        try:
            if self.source.kind == "relation":
                return self.source.relation.query("src", query).to_arrow_table()
            if not fetch:
                self.con.execute(query)
                return None
            return self.con.sql(query).to_arrow_table()
        except duckdb.Error as exc:
            raise _read_error(self.source, exc) from None

    def close(self) -> None:
        if self._own and self.con is not None:
            self.con.close()

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def numeric(self, column: str) -> str | None:
        """SQL giving the column as a double (None when it is not numbers)."""
        sql_type = self.types.get(column, "")
        if self.source.kind == "csv":
            return f"TRY_CAST(trim({_ident(column)}) AS DOUBLE)"
        if _NUMERIC_TYPE.fullmatch(sql_type):
            return f"CAST({_ident(column)} AS DOUBLE)"
        return None

    @property
    def file_format(self) -> str:
        return "csv" if self.source.kind == "csv" else "parquet"


def _connect(duckdb: Any):
    temp = os.path.join(tempfile.gettempdir(), "paritylab-duckdb")
    config = {"threads": THREADS, "memory_limit": MEMORY_LIMIT, "temp_directory": temp}
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET enable_progress_bar = false")  # DuckDB draws one on the terminal for long queries
    return con


def _read_error(source: _Source, exc: Exception) -> LoadError:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = " ".join(lines[:3])[:400]
    reason = reason if reason.endswith(".") else reason + "."
    if source.kind == "csv":
        for path in source.files:
            bad = _first_bad_line(path)
            if bad is not None:
                name = os.path.basename(path)
                return LoadError(CSV_UNREADABLE.format(name=name, reason=bad))
        return LoadError(CSV_UNREADABLE.format(name=source.name, reason=reason))
    return LoadError(SOURCE_UNREADABLE.format(name=source.name, reason=reason))


def _open_text(path: str):
    if path.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def _delimiter(path: str) -> str:
    """The delimiter of a text file: the candidate its header line holds most of (a comma on a tie)."""
    with _open_text(path) as handle:
        header = handle.readline()
    return max((",", "\t", ";", "|"), key=header.count)


def _first_bad_line(path: str) -> str | None:
    """Where a CSV file first breaks: the line whose cells do not match the header's, said as a sentence."""
    delimiter = _delimiter(path)
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
            for row in reader:
                if row and len(row) != len(header):
                    start = delimiter.join(row)[:60]
                    return (
                        f"line {reader.line_num} has {len(row)} cells but the header has {len(header)} "
                        f"(it starts {start!r})."
                    )
        except csv.Error as exc:
            return f"line {reader.line_num}: {exc}."
    return None


def _resolve(source: Any, table: str | None = None) -> _Source:
    if isinstance(source, pd.DataFrame):
        return _Source("dataframe", "table", frame=source)
    if type(source).__name__ == "DuckDBPyRelation":
        return _Source("relation", getattr(source, "alias", None) or "relation", relation=source)
    if isinstance(source, (str, os.PathLike)):
        paths = [os.fspath(source)]
    elif isinstance(source, Sequence) and source and all(isinstance(p, (str, os.PathLike)) for p in source):
        paths = [os.fspath(p) for p in source]
    else:
        raise LoadError(NOT_A_SOURCE.format(type=type(source).__name__))
    if len(paths) == 1:
        database = _database(paths[0], table)
        if database is not None:
            return database
    files, root = _expand(paths)
    parquet = [f for f in files if f.lower().endswith(PARQUET_SUFFIXES)]
    csv = [f for f in files if f.lower().endswith(CSV_SUFFIXES)]
    if parquet and csv:
        raise LoadError(MIXED_FORMATS.format(parquet=_names(parquet, root), csv=_names(csv, root)))
    name = os.path.basename(files[0]) if len(files) == 1 else _display(paths)
    listed = "[" + ", ".join(_text(f) for f in files) + "]"
    if parquet:
        _check_parquet_schemas(files, root)
        return _Source("parquet", name, tuple(files), root, f"SELECT * FROM read_parquet({listed})")
    _check_csv_headers(files, root)
    delimiter = _text(_delimiter(files[0]))
    options = f"all_varchar = true, header = true, union_by_name = true, delim = {delimiter}"
    scan = f"SELECT * FROM read_csv({listed}, {options})"
    return _Source("csv", name, tuple(files), root, scan)


def _display(paths: list[str]) -> str:
    return paths[0] if len(paths) == 1 else f"{paths[0]} and {len(paths) - 1} more"


def _database(path: str, table: str | None) -> _Source | None:
    head, sep, tail = path.rpartition(":")
    if sep and head.lower().endswith(DATABASE_SUFFIXES) and os.sep not in tail and "/" not in tail:
        path, table = head, table or tail
    if not path.lower().endswith(DATABASE_SUFFIXES):
        return None
    if not os.path.isfile(path):
        raise LoadError(NOTHING_MATCHED.format(pattern=path))
    import duckdb

    with duckdb.connect(path, read_only=True) as con:
        tables = [str(r[0]) for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    if table is None and len(tables) == 1:
        table = tables[0]
    if table is None:
        raise LoadError(NEEDS_TABLE.format(path=path, tables=", ".join(map(repr, tables)) or "none"))
    if table not in tables:
        raise LoadError(NO_SUCH_TABLE.format(path=path, table=table, tables=", ".join(map(repr, tables)) or "none"))
    name = f"{os.path.basename(path)}:{table}"
    return _Source("table", name, (path,), None, f"SELECT * FROM paritylab_db.{_ident(table)}", database=path)


def _expand(paths: list[str]) -> tuple[list[str], str]:
    files: list[str] = []
    for path in paths:
        if any(ch in path for ch in "*?["):
            found = sorted(f for f in globbing.glob(path, recursive=True) if os.path.isfile(f))
            if not found:
                raise LoadError(NOTHING_MATCHED.format(pattern=path))
            files += found
        elif os.path.isdir(path):
            found = sorted(
                os.path.join(top, f)
                for top, _, names in os.walk(path)
                for f in names
                if f.lower().endswith(PARQUET_SUFFIXES + CSV_SUFFIXES)
            )
            if not found:
                raise LoadError(EMPTY_FOLDER.format(folder=path))
            files += found
        elif os.path.isfile(path):
            if not path.lower().endswith(PARQUET_SUFFIXES + CSV_SUFFIXES):
                raise LoadError(UNKNOWN_SUFFIX.format(path=path))
            files.append(path)
        else:
            raise LoadError(NOTHING_MATCHED.format(pattern=path))
    files = list(dict.fromkeys(files))
    if len(paths) == 1 and os.path.isdir(paths[0]):
        root = paths[0]
    else:
        root = os.path.commonpath([os.path.dirname(os.path.abspath(f)) for f in files])
    return files, root


def _relative(path: str, root: str) -> str:
    return os.path.relpath(os.path.abspath(path), os.path.abspath(root))


def _names(files: Sequence[str], root: str | None, shown: int = 3) -> str:
    names = [_relative(f, root) if root else f for f in files]
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def _arrow_kind(kind: Any) -> str:
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return "string"
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return "binary"
    return str(kind)


_NUMBER_KINDS = re.compile(r"u?int(8|16|32|64)|halffloat|float|double|decimal.*")


def _family(kind: str) -> str:
    """What the loader makes of a Parquet type: any width of integer or float is a number, read alike."""
    return "number" if _NUMBER_KINDS.fullmatch(kind) and kind != "uint64" else kind


def _check_parquet_schemas(files: list[str], root: str) -> None:
    if len(files) < 2:
        return
    import pyarrow.parquet as pq

    schemas = {}
    for path in files:
        try:
            schema = pq.read_schema(path)
        except (OSError, ValueError) as exc:
            reason = str(exc).strip() or type(exc).__name__
            raise LoadError(SOURCE_UNREADABLE.format(name=_relative(path, root), reason=reason + ".")) from None
        schemas[path] = {f.name: _arrow_kind(f.type) for f in schema}
    _check_same_columns(schemas, root)
    first = files[0]
    for path in files[1:]:
        for column, kind in schemas[path].items():
            if _family(kind) != _family(schemas[first][column]):
                raise LoadError(
                    SCHEMA_DIFFERS.format(
                        column=column,
                        type=kind,
                        file=_relative(path, root),
                        first_type=schemas[first][column],
                        first=_relative(first, root),
                    )
                )


def _check_same_columns(schemas: dict[str, Any], root: str) -> None:
    every = list(dict.fromkeys(c for columns in schemas.values() for c in columns))
    for column in every:
        lacking = [f for f, columns in schemas.items() if column not in columns]
        if lacking:
            having = [f for f in schemas if f not in lacking]
            raise LoadError(
                COLUMN_LACKING.format(column=column, having=_names(having, root), lacking=_names(lacking, root))
            )


def _check_csv_headers(files: list[str], root: str) -> None:
    if len(files) < 2:
        return
    import duckdb

    headers = {}
    with duckdb.connect() as con:
        for path in files:
            try:
                scan = f"read_csv({_text(path)}, all_varchar = true, header = true, delim = {_text(_delimiter(path))})"
                described = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
            except duckdb.Error as exc:
                source = _Source("csv", _relative(path, root), (path,))
                raise _read_error(source, exc) from None
            headers[path] = {str(row[0]): "text" for row in described}
    _check_same_columns(headers, root)


# --- hashing ----------------------------------------------------------------------------------------


def _files_sha256(source: _Source) -> str:
    if len(source.files) == 1:
        return file_sha256(source.files[0])
    lines = sorted(f"{_relative(f, source.root)}\t{file_sha256(f)}\n" for f in source.files)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


# --- counting ---------------------------------------------------------------------------------------


def _one_row(session: _Session, items: Sequence[str]) -> list[Any]:
    """The values of a one-row aggregate query, in the order of ``items``."""
    named = ", ".join(f"{item} AS c{i}" for i, item in enumerate(items))
    row = session.sql(f"SELECT {named} FROM src").to_pylist()[0]
    return [row[f"c{i}"] for i in range(len(items))]


def _quantile_points(quantiles: int) -> list[float]:
    return [float(q) for q in np.linspace(0, 1, quantiles + 1)[1:-1]]


@dataclass
class _Plan:
    """What the first pass found: rows, the score's grid, quantile edges, and how each column is grouped."""

    rows: int = 0
    scores: ScoreResolution | None = None
    edges: dict[str, tuple[float, ...]] = field(default_factory=dict)
    expressions: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Text columns grouped by a small integer code: their distinct values, sorted (code i is values[i]).
    codes: dict[str, list[str]] = field(default_factory=dict)


def _plan(session: _Session, spec: AuditSpec, names: tuple[str, ...]) -> _Plan:
    """One pass over the rows for what the grouping needs: rows, score range and distinct count, edges, levels."""
    items = ["count(*)"]
    score = session.numeric(spec.score) if spec.score in names else None
    if score is not None:
        items += [f"count(DISTINCT {score})", f"min({score})", f"max({score})"]
    listed = _listed_columns(session, names)
    tags: list[tuple[str, ProtectedAttribute]] = []
    for attr in spec.protected:
        if attr.column not in names:
            continue
        number = session.numeric(attr.column)
        if attr.quantiles is not None and number is not None:
            points = "[" + ", ".join(_double(q) for q in _quantile_points(attr.quantiles)) + "]"
            items.append(f"quantile_cont({number}, {points}) FILTER (WHERE isfinite({number}))")
            tags.append(("edges", attr))
        if attr.column not in listed:
            items.append(f"approx_count_distinct({_ident(attr.column)})")
            tags.append(("levels", attr))
    # Separate queries: DuckDB computes a DISTINCT beside approximate counts (or lists) many times slower.
    first = 4 if score is not None else 1
    values = _one_row(session, items[:first]) + (_one_row(session, items[first:]) if items[first:] else [])
    plan = _Plan(rows=int(values.pop(0)))
    if score is not None:
        distinct, low, high = values[:3]
        del values[:3]
        if low is None or not (math.isfinite(low) and math.isfinite(high)):
            # Infinities or NaN (NaN sorts highest): count the finite scores only.
            finite = f"FILTER (WHERE isfinite({score}))"
            found = [f"count(DISTINCT {score}) {finite}", f"min({score}) {finite}", f"max({score}) {finite}"]
            distinct, low, high = _one_row(session, found)
        low = math.nan if low is None else float(low)
        high = math.nan if high is None else float(high)
        plan.scores = score_grid(int(distinct), low, high, score_anchor(spec))
    approx: dict[str, int] = {n: len(v) for n, v in listed.items()}
    levels = [a for a in spec.protected if a.column in listed]
    for (tag, attr), value in zip(tags, values, strict=True):
        if tag == "edges":
            plan.edges[attr.column] = tuple(float(e) for e in np.unique(np.asarray(value or [], dtype=float)))
        else:
            approx[attr.column] = int(value)
            levels.append(attr)
    levels.sort(key=spec.protected.index)
    for name in names:
        plan.expressions[name] = _ident(name)
    if plan.scores is not None and not plan.scores.exact:
        anchor, step = _double(plan.scores.anchor), _double(plan.scores.step)
        rounded = f"{anchor} + floor(({score} - {anchor}) / {step}) * {step}"
        plan.expressions[spec.score] = f"CASE WHEN isfinite({score}) THEN {rounded} ELSE {score} END"
    plan.codes = {n: v for n, v in listed.items() if len(v) <= CODED_VALUES}
    for attr in levels:
        if attr.column in (spec.decision, spec.label, spec.score):
            continue  # counted as that role needs
        if attr.binned:
            edges = attr.bins if attr.bins is not None else plan.edges.get(attr.column)
            if edges is not None and approx[attr.column] > BIN_REPRESENTATIVES_FROM:
                plan.expressions[attr.column] = _representatives(session, attr.column, tuple(edges))
        elif approx[attr.column] > spec.max_levels:
            _limit_levels(session, attr.column, spec.max_levels, plan)
    # A column counted through an expression (bins' representatives, limited levels) keeps it.
    plan.codes = {n: v for n, v in plan.codes.items() if plan.expressions[n] == _ident(n)}
    return plan


def _listed_columns(session: _Session, names: Sequence[str]) -> dict[str, list[str]]:
    """Every distinct value of each text column counted, sorted (one query; not for CSV, read as text).

    They give exact levels for validation, and let text of few values be grouped by an integer code: DuckDB
    groups and sorts integers several times faster.
    """
    text = [n for n in names if _TEXT_TYPE.fullmatch(session.types.get(n, ""))]
    if not text or session.source.kind == "csv":
        return {}
    found = session.sql(
        "SELECT " + ", ".join(f"list(DISTINCT {_ident(n)}) AS c{i}" for i, n in enumerate(text)) + " FROM src"
    )
    return {name: sorted(v for v in found.column(f"c{i}")[0].as_py() if v is not None) for i, name in enumerate(text)}


def _coded(column: str, values: Sequence[str]) -> str:
    """SQL giving each value's position in ``values`` (sorted, so the codes sort as the text does); NULL stays NULL."""
    cases = " ".join(f"WHEN {_text(v)} THEN {i}" for i, v in enumerate(values))
    return f"CAST(CASE {_ident(column)} {cases} END AS {'USMALLINT' if len(values) < 65_536 else 'UINTEGER'})"


def _decoded(table: pa.Table, codes: Mapping[str, list[str]], types: Mapping[str, Any]) -> pa.Table:
    """The grouped rows with each coded column turned back into its text."""
    import pyarrow as pa

    for name, values in codes.items():
        i = table.column_names.index(name)
        dictionary = pa.array(values, type=types[name])
        table = table.set_column(i, name, dictionary.take(table.column(i).combine_chunks()))
    return table


def _representatives(session: _Session, column: str, edges: tuple[float, ...]) -> str:
    """SQL putting each row's value as the smallest value of its bin (the bin Python's encoding finds)."""
    number = session.numeric(column)
    if number is None:
        return _ident(column)
    index = _bin_index(number, edges)
    found = session.sql(
        f"SELECT {index} AS bin, arg_min({_ident(column)}, {number}) AS rep FROM src "
        f"WHERE isfinite({number}) GROUP BY bin"
    ).to_pylist()
    sql_type = session.types[column]
    cases = " ".join(f"WHEN {int(r['bin'])} THEN {_literal(r['rep'], sql_type)}" for r in found)
    if not cases:
        return _ident(column)
    return (
        f"CASE WHEN {number} IS NULL OR NOT isfinite({number}) THEN {_ident(column)} ELSE CASE {index} {cases} END END"
    )


def _limit_levels(session: _Session, column: str, max_levels: int, plan: _Plan) -> None:
    """Count only the first ``max_levels + 1`` values of a column with too many (validation refuses it)."""
    raw = _ident(column)
    distinct = int(session.sql(f"SELECT count(DISTINCT {raw}) AS n FROM src").column("n")[0].as_py())
    if distinct <= max_levels:
        return
    kept = session.sql(
        f"SELECT DISTINCT {raw} AS v FROM src WHERE {raw} IS NOT NULL ORDER BY v LIMIT {max_levels + 1}"
    ).column("v")
    sql_type = session.types[column]
    literals = ", ".join(_literal(v, sql_type) for v in kept.to_pylist())
    last = _literal(kept[-1].as_py(), sql_type)
    plan.expressions[column] = f"CASE WHEN {raw} IS NULL OR {raw} IN ({literals}) THEN {raw} ELSE {last} END"
    plan.warnings.append(TOO_MANY_VALUES_NOTE.format(column=column, levels=distinct, kept=max_levels + 1))


def _typed(session: _Session, table: pa.Table, weights: np.ndarray, na_values: Any):
    """The Arrow result typed as the loader types it (a DataFrame source keeps its own dtypes)."""
    if session.source.kind == "dataframe":
        frame = table.to_pandas()
        original = session.source.frame
        for name in frame.columns:
            if frame[name].dtype != original[name].dtype and not frame[name].isna().any():
                frame[name] = frame[name].astype(original[name].dtype)
        return frame, (), ()
    typed = type_counted_columns(
        table, weights, name=session.source.name, file_format=session.file_format, na_values=na_values
    )
    return typed.frame, typed.changes, typed.warnings


def count_duckdb(
    source: Any,
    spec: AuditSpec,
    *,
    name: str | None = None,
    connection: Any = None,
    na_values: Any = None,
    table: str | None = None,
) -> CountedTable:
    """Count the distinct combinations of the spec's columns with DuckDB, out of core.

    Parameters
    ----------
    source
        A Parquet/CSV path, folder, glob or list of paths; ``"file.duckdb:table"``; a DuckDB relation; or a
        pandas DataFrame (see the module's docstring).
    spec
        Whose columns are counted (those present in the source; validation reports the others).
    name
        The source's name for messages and the report (default: the file's name).
    connection
        A DuckDB connection to use (default: a new in-memory one, 2 threads, spilling to a temporary folder).
    na_values
        Extra spellings of missing, as for :func:`analysis.load_table`.
    table
        The table of a DuckDB database file (instead of ``"file.duckdb:table"``).

    Returns
    -------
    CountedTable
        Its frame and weights equal :func:`analysis.engine.compress` of the loaded file.
    """
    resolved = _resolve(source, table)
    with ThreadPoolExecutor(max_workers=1) as pool, _Session(resolved, connection) as session:
        hashing = pool.submit(_files_sha256, resolved) if resolved.files and resolved.kind != "table" else None
        names = counted_columns(spec, session.columns)
        plan = _plan(session, spec, names)
        frame, weights, changes, warnings, counted = _count(session, names, plan, na_values)
        if resolved.kind in ("parquet", "table", "relation"):
            # Columns counted as they are: their cells are in the counts; the others are screened in one pass.
            plain = [n for n in names if plan.expressions.get(n) == _ident(n)]
            changes, warnings = _column_changes(session, na_values, counted=counted, plain=plain)
        elif resolved.kind == "csv":
            warnings = (*warnings, CSV_CHANGES_NOTE)
        sha256 = hashing.result() if hashing is not None else counted_sha256(frame, weights)
    report = None
    if resolved.kind != "dataframe":
        report = _report(resolved, name, plan.rows, len(session.columns), sha256, changes, (*warnings, *plan.warnings))
    return CountedTable(
        frame,
        weights,
        plan.rows,
        session.columns,
        engine="duckdb",
        sha256=sha256,
        name=name or resolved.name,
        load=report,
        scores=plan.scores,
        edges=dict(plan.edges),
    )


def _count(session: _Session, names: tuple[str, ...], plan: _Plan, na_values: Any):
    if not names:
        return pd.DataFrame(index=range(0)), np.zeros(0, np.int64), (), (), None
    expression = {n: _coded(n, plan.codes[n]) if n in plan.codes else plan.expressions[n] for n in names}
    select = ", ".join(f"{expression[n]} AS {_ident(n)}" for n in names)
    # Sorted as compress sorts (text by code point, missing last), so the frame's order is reproducible.
    grouped = f"SELECT {select}, count(*) AS {_ident(WEIGHT)} FROM src GROUP BY ALL"
    # ASC NULLS LAST is DuckDB's default; sorting the grouped rows by their columns is several times cheaper
    # than the same keys named one by one.
    order = ", ".join(_ident(n) for n in names)
    result = session.sql(f"SELECT * FROM ({grouped}) ORDER BY {order}")
    if plan.codes:
        types = session.sql("SELECT " + ", ".join(_ident(n) for n in plan.codes) + " FROM src LIMIT 0").schema
        result = _decoded(result, plan.codes, {n: types.field(n).type for n in plan.codes})
    counted = result
    weights = result.column(WEIGHT).to_numpy().astype(np.int64)
    result = result.drop_columns([WEIGHT])
    typed, changes, warnings = _typed(session, result, weights, na_values)
    if session.file_format == "csv" or _may_merge(result, changes):
        frame, weights = regroup(typed[list(names)], weights)
    else:  # every combination is still distinct, and in compress's order
        frame = typed
    return frame, weights, changes, warnings, counted


def _may_merge(result: pa.Table, changes: Sequence[Change]) -> bool:
    """Whether typing can have made two distinct rows equal: a change to a cell, or NaN beside missing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if changes:
        return True
    for column in result.columns:
        if pa.types.is_floating(column.type) and column.null_count and pc.any(pc.is_nan(column)).as_py():
            return True
    return False


def _column_changes(
    session: _Session, na_values: Any, *, counted: pa.Table | None = None, plain: Sequence[str] = ()
) -> tuple[tuple[Change, ...], tuple[str, ...]]:
    """The loader's changes for every column, from the few cells that can change (counted in rows).

    The columns in ``plain`` are read from ``counted`` (the grouped rows with their counts); every other
    text column is screened in one pass, and only those with a cell that may change are read again.
    """
    import pyarrow as pa

    user = [na_values] if isinstance(na_values, str) else list(na_values or ())
    spellings = list(dict.fromkeys([*ALWAYS_MISSING, *(str(v).strip() for v in user), *AMBIGUOUS_MISSING]))
    listed = ", ".join(_text(s) for s in spellings)
    parts: dict[str, pa.Table] = {}
    if counted is not None:
        for column in plain:
            summed = counted.group_by(column, use_threads=False).aggregate([(WEIGHT, "sum")])
            parts[column] = pa.table({"v": summed.column(column), "n": summed.column(f"{WEIGHT}_sum")})
    numeric, text = [], []
    for column, sql_type in session.types.items():
        if column in parts:
            continue
        if _TEXT_TYPE.fullmatch(sql_type):
            text.append(column)
        elif _NUMERIC_TYPE.fullmatch(sql_type) and not sql_type.startswith("DECIMAL"):
            numeric.append(column)

    def may_change(raw: str) -> str:
        return f"{raw} IN ({listed}) OR {_edge_bytes(raw)}"

    if text:
        screen = ", ".join(f"count(*) FILTER (WHERE {may_change(_ident(c))})" for c in text)
        found = session.sql(f"SELECT {screen} FROM src")
        for i, column in enumerate(text):
            raw = _ident(column)
            if not found.column(i)[0].as_py():
                continue  # no cell of this column can change
            parts[column] = session.sql(
                f"SELECT {raw} AS v, count(*) AS n FROM src WHERE {raw} IN ({listed}) "
                f"OR ({_edge_bytes(raw)} AND regexp_matches({raw}, '^{_EDGE_SPACE}|{_EDGE_SPACE}$')) "
                "GROUP BY v ORDER BY v"
            )
    if numeric and session.source.kind == "parquet":
        for column, found in _footer_numbers(session.source.files, numeric).items():
            parts[column] = _numeric_cells(*found)
        numeric = [c for c in numeric if c not in parts]
    if numeric:
        items = []
        for column in numeric:
            raw = _ident(column)
            infinite = f"count(*) FILTER (WHERE isinf({raw}))" if _FLOAT_TYPE.fullmatch(session.types[column]) else "0"
            items += [f"min({raw})", f"max({raw})", f"count({raw})", f"count(*) - count({raw})", infinite]
        found = session.sql("SELECT " + ", ".join(items) + " FROM src")
        for i, column in enumerate(numeric):
            low, high, valid, nulls, infinite = (found.column(5 * i + k) for k in range(5))
            parts[column] = _numeric_cells(low, high, int(valid[0].as_py()), int(nulls[0].as_py()), infinite)
    changes, warnings = [], []
    for column in session.columns:
        part = parts.get(column)
        if part is None or part.num_rows == 0:
            continue
        cells = pa.table({column: part.column(0)})
        typed = type_counted_columns(cells, part.column(1).to_numpy(), name=session.source.name, na_values=na_values)
        changes += typed.changes
        warnings += typed.warnings
    return tuple(changes), tuple(warnings)


def _footer_numbers(files: Sequence[str], columns: Sequence[str]) -> dict[str, tuple]:
    """Numeric columns' extremes and missing counts from the Parquet files' statistics, where every row group has them.

    A float column whose extremes are infinite is left out (its infinities must be counted from the rows).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    found: dict[str, list] = {c: [None, None, 0, 0] for c in columns}
    kinds: dict[str, Any] = {}
    for path in files:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
        names = parquet.metadata.schema.names
        for g in range(parquet.metadata.num_row_groups):
            group = parquet.metadata.row_group(g)
            for column in list(found):
                if column not in names or column not in schema.names:
                    found.pop(column)
                    continue
                stats = group.column(names.index(column)).statistics
                if stats is None or not stats.has_min_max or stats.null_count is None:
                    if group.num_rows:
                        found.pop(column)
                    continue
                entry = found[column]
                entry[0] = stats.min if entry[0] is None else min(entry[0], stats.min)
                entry[1] = stats.max if entry[1] is None else max(entry[1], stats.max)
                entry[2] += group.num_rows - stats.null_count
                entry[3] += stats.null_count
                kinds[column] = schema.field(column).type
    out = {}
    for column, (low, high, valid, nulls) in found.items():
        if column not in kinds or (isinstance(low, float) and not (math.isfinite(low) and math.isfinite(high))):
            continue
        kind = kinds[column]
        out[column] = (pa.array([low], kind), pa.array([high], kind), valid, nulls, pa.array([0], pa.int64()))
    return out


def _edge_bytes(raw: str) -> str:
    """A cheap first screen: the cell starts or ends with a control, a space or a non-ASCII character."""
    first, last = f"ord(left({raw}, 1))", f"ord(right({raw}, 1))"
    return f"({first} <= 32 OR {last} <= 32 OR {first} >= 127 OR {last} >= 127)"


def _numeric_cells(low, high, valid: int, nulls: int, infinite) -> pa.Table:
    """Cells standing for a numeric column: its extremes (for the width check) and its infinities, with counts."""
    import pyarrow as pa

    infinite = int(infinite[0].as_py())
    kind = low.type
    values = [low[0].as_py(), high[0].as_py(), None]
    counts = [valid, 0, nulls]
    if infinite and pa.types.is_floating(kind):
        values, counts = [math.inf, 1.0, None], [infinite, valid - infinite, nulls]
    return pa.table({"v": pa.array(values, type=kind), "n": pa.array(counts, pa.int64())})


def _report(source: _Source, name, rows, columns, sha256, changes, warnings) -> LoadReport:
    files = source.files
    size = sum(os.path.getsize(f) for f in files)
    fmt = "duckdb" if source.kind == "table" else source.kind
    if source.kind == "relation":
        fmt = "duckdb"
    compressed = bool(files) and all(f.lower().endswith(".gz") for f in files)
    notes = list(warnings)
    if len(files) > 1:
        kind = "Parquet" if source.kind == "parquet" else "CSV"
        notes.insert(0, f"Read {len(files):,} {kind} files: {_names(files, source.root, shown=20)}.")
    return LoadReport(
        name=name or source.name,
        format=fmt,
        compression="gzip" if compressed else None,
        encoding="utf-8" if source.kind == "csv" else None,
        delimiter=_delimiter(files[0]) if source.kind == "csv" else None,
        sheet=None,
        rows=rows,
        columns=columns,
        size_bytes=size,
        sha256=sha256,
        changes=tuple(changes),
        warnings=tuple(notes),
    )


# --- samples ----------------------------------------------------------------------------------------


def _row_hash(session: _Session, seed: int) -> str:
    """A per-row pseudo-random key: the hash of the row's cells and the seed (equal rows are interchangeable)."""
    cells = ", ".join(_ident(c) for c in session.columns)
    return f"hash({cells}, {int(seed)})"


def _group_expression(session: _Session, attr: ProtectedAttribute, edges: Mapping[str, Sequence[float]]) -> str:
    number = session.numeric(attr.column)
    chosen = attr.bins if attr.bins is not None else edges.get(attr.column)
    if attr.binned and number is not None and chosen is not None:
        return f"CASE WHEN isfinite({number}) THEN {_bin_index(number, chosen)} END"
    raw = _ident(attr.column)
    return f"trim(CAST({raw} AS VARCHAR))"


def sample_duckdb(
    source: Any,
    *,
    rows: int | None = None,
    spec: AuditSpec | None = None,
    per_group: int | None = None,
    seed: int = 0,
    na_values: Any = None,
) -> pd.DataFrame:
    """A reproducible random sample of the rows (every column, typed as the loader types it).

    Parameters
    ----------
    rows
        Keep this many rows at random (all when the source has fewer).
    spec, per_group
        Stratify: every group of **each** of the spec's protected attributes keeps up to ``per_group`` of its
        rows (all of a smaller group), so no group is lost to the sample. With ``rows`` too, the sample is
        those rows plus the rows at random.
    seed
        The same seed gives the same sample of the same rows.
    """
    if rows is None and per_group is None:
        raise OptionError("sample_duckdb needs rows=N or spec and per_group=N; got neither. Pass one of them.")
    if per_group is not None and spec is None:
        raise OptionError("per_group needs the spec whose protected attributes are the groups; pass spec=...")
    resolved = _resolve(source)
    with _Session(resolved) as session:
        key = _row_hash(session, seed)
        keep = []
        ranks = [f"{key} AS __key__"]
        if rows is not None:
            ranks.append(f"row_number() OVER (ORDER BY {key}) AS __rank__")
            keep.append(f"__rank__ <= {int(rows)}")
        if per_group is not None:
            plan = _plan(session, spec, counted_columns(spec, session.columns))
            for i, attr in enumerate(a for a in spec.protected if a.column in session.columns):
                group = _group_expression(session, attr, plan.edges)
                ranks.append(f"row_number() OVER (PARTITION BY {group} ORDER BY {key}) AS __rank{i}__")
                keep.append(f"__rank{i}__ <= {int(per_group)}")
        cells = ", ".join(_ident(c) for c in session.columns)
        where = " OR ".join(keep) or "true"
        result = session.sql(
            f"SELECT {cells} FROM (SELECT *, {', '.join(ranks)} FROM src) WHERE {where} ORDER BY __key__"
        )
        frame, _, _ = _typed(session, result, np.ones(result.num_rows, np.int64), na_values)
    return frame.reset_index(drop=True)


# --- column statistics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnStatistics:
    """One column of a large source, summarised without loading it.

    Attributes
    ----------
    name, type
        The column and its DuckDB type (``VARCHAR`` for every CSV column).
    rows, missing
        Rows, and cells that are empty or missing (a text cell spelled as missing, e.g. ``N/A``, counts).
    distinct, distinct_exact
        Distinct non-missing values; exact when ``distinct_exact``, else DuckDB's estimate (over
        :data:`DISTINCT_EXACT_UP_TO`).
    minimum, maximum
        For numbers (None otherwise).
    top
        The most frequent values with their rows (columns with an exact distinct count only).
    """

    name: str
    type: str
    rows: int
    missing: int
    distinct: int
    distinct_exact: bool
    minimum: float | None = None
    maximum: float | None = None
    top: tuple[tuple[Any, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields."""
        return {
            "name": self.name,
            "type": self.type,
            "rows": self.rows,
            "missing": self.missing,
            "distinct": self.distinct,
            "distinct_exact": self.distinct_exact,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "top": [[value, count] for value, count in self.top],
        }


@dataclass(frozen=True)
class TableStatistics:
    """Per-column statistics of a source (see :func:`column_statistics`)."""

    name: str
    rows: int
    columns: tuple[ColumnStatistics, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields."""
        return {"name": self.name, "rows": self.rows, "columns": [c.to_dict() for c in self.columns]}

    def column(self, name: str) -> ColumnStatistics:
        """The statistics of one column."""
        return next(c for c in self.columns if c.name == name)


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def column_statistics(source: Any) -> TableStatistics:
    """Type, missing cells, distinct values, range and the most frequent values of every column."""
    resolved = _resolve(source)
    spellings = ", ".join(_text(s) for s in ALWAYS_MISSING)
    with _Session(resolved) as session:
        items = ["count(*)"]
        for column, sql_type in session.types.items():
            raw = _ident(column)
            missing = f"count(*) - count({raw})"
            if _TEXT_TYPE.fullmatch(sql_type):
                missing += f" + count(*) FILTER (WHERE trim({raw}) IN ({spellings}))"
            number = session.numeric(column) if resolved.kind != "csv" else None
            low, high = (f"min({number})", f"max({number})") if number else ("NULL", "NULL")
            items += [missing, f"approx_count_distinct({raw})", low, high]
        values = _one_row(session, items)
        rows = int(values.pop(0))
        found = []
        for column in session.columns:
            missing, approx, low, high = values[:4]
            del values[:4]
            found.append([column, int(missing), int(approx), low, high])
        exact = [f for f in found if f[2] <= DISTINCT_EXACT_UP_TO]
        if exact:
            counted = _one_row(session, [f"count(DISTINCT {_ident(f[0])})" for f in exact])
            for f, n in zip(exact, counted, strict=True):
                f[2] = int(n)
        stats = []
        for column, missing, distinct, low, high in found:
            is_exact = distinct <= DISTINCT_EXACT_UP_TO
            top = ()
            if is_exact:
                raw = _ident(column)
                top_rows = session.sql(
                    f"SELECT {raw} AS v, count(*) AS n FROM src WHERE {raw} IS NOT NULL "
                    f"GROUP BY v ORDER BY n DESC, v LIMIT {TOP_VALUES}"
                ).to_pylist()
                top = tuple((_plain(r["v"]), int(r["n"])) for r in top_rows)
            stats.append(
                ColumnStatistics(
                    column,
                    session.types[column],
                    rows,
                    missing,
                    distinct,
                    is_exact,
                    None if low is None else float(low),
                    None if high is None else float(high),
                    top,
                )
            )
    return TableStatistics(resolved.name, rows, tuple(stats))


# --- exporting decisions ----------------------------------------------------------------------------


def _output_format(path: str, fmt: str | None) -> str:
    chosen = (fmt or "").lower() or ("parquet" if str(path).lower().endswith(PARQUET_SUFFIXES) else "")
    if not chosen and str(path).lower().endswith((".csv", ".csv.gz")):
        chosen = "csv"
    if chosen not in ("parquet", "csv"):
        raise OptionError(BAD_OUTPUT.format(format=fmt or os.path.basename(str(path))))
    return chosen


def _value_labels(session, counted: CountedTable, spec: AuditSpec, column: str) -> tuple[list, list[str]]:
    """Each raw value of an unbinned attribute → its group label, as the encoding (and variant merge) names it."""
    import pyarrow as pa

    raw = session.sql(f"SELECT DISTINCT {_ident(column)} AS v FROM src WHERE {_ident(column)} IS NOT NULL")
    values = raw.column("v")
    typed, _, _ = _typed(session, pa.table({column: values}), np.ones(len(values), np.int64), None)
    keys = [value_key(v) if not pd.isna(v) else None for v in typed[column]]
    if spec.merge_variants:
        weights = counted.weight
        rows: dict[str, int] = {}
        for value, weight in zip(counted.frame[column], weights, strict=True):
            key = None if pd.isna(value) else value_key(value)
            if key is not None:
                rows[key] = rows.get(key, 0) + int(weight)
        kept = {s: g.kept for g in counted_variants(column, rows) for s, _ in g.spellings}
        keys = [kept.get(k, k) if k is not None else None for k in keys]
    labels = [MISSING_GROUP if k is None else (LITERAL_MISSING_GROUP if k == MISSING_GROUP else k) for k in keys]
    return values.to_pylist(), labels


def _decision_sql(session, spec: AuditSpec) -> str:
    """SQL: 1 for a positive decision, 0 for another, NULL for none (as analysis.counts.outcomes reads it)."""
    if spec.decision is None:
        score = session.numeric(spec.score)
        return f"CASE WHEN isfinite({score}) THEN CAST({score} >= {_double(spec.threshold)} AS INTEGER) END"
    import pyarrow as pa

    column = _ident(spec.decision)
    raw = session.sql(f"SELECT DISTINCT {column} AS v FROM src WHERE {column} IS NOT NULL").column("v")
    typed, _, _ = _typed(session, pa.table({spec.decision: raw}), np.ones(len(raw), np.int64), None)
    positive = matches_any(typed[spec.decision], spec.positive)
    known = typed[spec.decision].notna().to_numpy()
    sql_type = session.types[spec.decision]
    cases = " ".join(
        f"WHEN {column} = {_literal(v, sql_type)} THEN {int(p)}"
        for v, p, k in zip(raw.to_pylist(), positive, known, strict=True)
        if k
    )
    return f"(CASE {cases} END)" if cases else "CAST(NULL AS INTEGER)"


def export_decisions_duckdb(
    source: Any,
    spec: AuditSpec,
    attribute: str | None,
    thresholds: Mapping[str, float],
    path: str | os.PathLike,
    *,
    format: str | None = None,
    na_values: Any = None,
) -> str:
    """Write every source row with its group and new decision, streamed by DuckDB (never held in memory).

    Parameters
    ----------
    source, spec
        The rows (as for :func:`count_duckdb`) and their spec, which must name a score column.
    attribute
        The protected column the thresholds are per group of (None: the spec's first).
    thresholds
        Group label → threshold; a row is positive when its score is at least its group's threshold.
        A row without a finite score keeps its decision (as :func:`analysis.exports.decision_changes`).
    path, format
        Where to write; Parquet or CSV, from ``format`` or the path's extension.

    Returns
    -------
    str
        The path written. Two columns follow the source's: ``group`` and ``new_positive`` (1, 0 or empty),
        each suffixed with ``_`` until its name is new.
    """
    if spec.score is None:
        raise SpecError(NO_SCORE)
    attrs = [a for a in spec.protected if attribute is None or a.column == attribute]
    if not attrs:
        names = ", ".join(repr(a.column) for a in spec.protected) or "none"
        raise SpecError(NO_ATTRIBUTE.format(attribute=attribute, names=names))
    attr = attrs[0]
    chosen = _output_format(os.fspath(path), format)
    counted = count_duckdb(source, spec, na_values=na_values)
    with _Session(_resolve(source)) as session:
        group_sql, labels = _group_labels(session, counted, spec, attr)
        absent = [g for g in labels if g not in thresholds]
        if absent:
            example = ", ".join(f"{g}=0.5" for g in labels[:2])
            raise SpecError(MISSING_THRESHOLDS.format(groups=absent, column=attr.column, example=example))
        cuts = " ".join(f"WHEN {_text(g)} THEN {_double(thresholds[g])}" for g in labels)
        score = session.numeric(spec.score) or "CAST(NULL AS DOUBLE)"
        old = _decision_sql(session, spec)
        new = f"CASE WHEN isfinite({score}) THEN CAST({score} >= (CASE __group__ {cuts} END) AS INTEGER) ELSE {old} END"
        group_name, new_name = _fresh("group", session.columns), _fresh("new_positive", session.columns)
        cells = ", ".join(_ident(c) for c in session.columns)
        query = (
            f"SELECT {cells}, __group__ AS {_ident(group_name)}, {new} AS {_ident(new_name)} "
            f"FROM (SELECT *, {group_sql} AS __group__ FROM src)"
        )
        options = "FORMAT parquet" if chosen == "parquet" else "FORMAT csv, HEADER true"
        if session.con is None:  # a relation: its own connection writes
            written = session.source.relation.query("src", query)
            written.write_parquet(os.fspath(path)) if chosen == "parquet" else written.write_csv(os.fspath(path))
        else:
            session._run(f"COPY ({query}) TO {_text(os.fspath(path))} ({options})", fetch=False)
    return os.fspath(path)


def _fresh(name: str, columns: Sequence[str]) -> str:
    while name in columns:
        name += "_"
    return name


def _group_labels(session, counted: CountedTable, spec: AuditSpec, attr: ProtectedAttribute) -> tuple[str, list[str]]:
    """SQL naming each row's group as the encoding does, and the labels of the groups present."""
    if attr.binned:
        edges = tuple(attr.bins if attr.bins is not None else counted.edges.get(attr.column, ()))
        number = session.numeric(attr.column)
        names = bin_labels(edges) if edges else ["all"]
        cases = " ".join(f"WHEN {i} THEN {_text(label)}" for i, label in enumerate(names))
        binned = f"CASE {_bin_index(number, edges)} {cases} END"
        group = f"CASE WHEN isfinite({number}) THEN ({binned}) ELSE {_text(MISSING_GROUP)} END"
        present = session.sql(f"SELECT DISTINCT {group} AS g FROM src").column("g").to_pylist()
        return group, [label for label in [*names, MISSING_GROUP] if label in present]
    values, labels = _value_labels(session, counted, spec, attr.column)
    raw = _ident(attr.column)
    sql_type = session.types[attr.column]
    cases = " ".join(
        f"WHEN {raw} = {_literal(v, sql_type)} THEN {_text(g)}" for v, g in zip(values, labels, strict=True)
    )
    group = f"CASE {cases} ELSE {_text(MISSING_GROUP)} END" if cases else _text(MISSING_GROUP)
    rows_missing = session.sql(f"SELECT count(*) AS n FROM src WHERE {raw} IS NULL").column("n")[0].as_py()
    present = list(dict.fromkeys(g for g in labels if g != MISSING_GROUP))
    if rows_missing or MISSING_GROUP in labels:
        present.append(MISSING_GROUP)
    return group, present


# --- slice discovery -----------------------------------------------------------------------------------------

RELATION_SLICES = (
    "A slice search reads a DuckDB relation only through its file or table: pass the Parquet/CSV path, folder, glob "
    "or 'file.duckdb:table' instead."
)
SLICE_DISTINCT_LIMIT = 100_000  # a feature with more distinct values is left out (its bins need every value)
_CASE_LIMIT = 64  # up to this many distinct values a column is coded by CASE, beyond by a join


def _distinct_counts(session: _Session, columns: Sequence[str], where: str) -> pa.Table:
    select = ", ".join(_ident(c) for c in columns)
    return session.sql(f"SELECT {select}, count(*) AS {_ident(WEIGHT)} FROM src {where} GROUP BY ALL ORDER BY ALL")


def _typed_values(session: _Session, table: pa.Table, columns: Sequence[str], na_values: Any) -> pd.DataFrame:
    weights = table.column(WEIGHT).to_numpy().astype(np.int64)
    raw = table.select(list(columns))
    if session.source.kind == "dataframe":
        return raw.to_pandas()
    return type_counted_columns(raw, weights, name=session.source.name, file_format=session.file_format,
                                na_values=na_values).frame  # fmt: skip


def _range_sql(session: _Session, column: str, raw: pa.Array, codes: np.ndarray, alias: str) -> str | None:
    """For a number column whose codes rise with its value (bins): SQL by ranges, far cheaper than a join."""
    number = session.numeric(column)
    if number is None or session.source.kind == "csv" or not _NUMERIC_TYPE.fullmatch(session.types[column]):
        return None
    values = np.asarray(raw.to_numpy(zero_copy_only=False), dtype=float)
    known = ~np.isnan(values)
    order = np.argsort(values[known], kind="stable")
    sorted_values, sorted_codes = values[known][order], codes[known][order]
    if sorted_codes.size == 0 or np.any(np.diff(sorted_codes) < 0):
        return None
    missing = codes[~known]
    if missing.size and np.unique(missing).size > 1:
        return None
    starts = np.flatnonzero(np.diff(sorted_codes)) + 1  # first value of each later code
    cases = [f"WHEN {number} IS NULL OR isnan({number}) THEN {int(missing[0]) if missing.size else -1}"]
    cases += [f"WHEN {number} < {_double(sorted_values[i])} THEN {int(sorted_codes[i - 1])}" for i in starts]
    return f"CAST(CASE {' '.join(cases)} ELSE {int(sorted_codes[-1])} END AS INTEGER) AS {alias}"


def _code_sql(session: _Session, column: str, raw: pa.Array, codes: np.ndarray, alias: str) -> tuple[str, str]:
    """SQL giving each row its code from the column's distinct raw values (CASE, ranges, or a join for many)."""
    values = raw.to_pylist()
    ranged = _range_sql(session, column, raw, codes, alias) if len(values) > 2 else None
    if ranged is not None:
        return ranged, ""
    if len(values) <= _CASE_LIMIT:
        sql_type = session.types[column]
        cases = []
        for value, code in zip(values, codes.tolist(), strict=True):
            test = f"{_ident(column)} IS NULL" if value is None else f"{_ident(column)} = {_literal(value, sql_type)}"
            if isinstance(value, float) and math.isnan(value):
                test = f"isnan({_ident(column)})"
            cases.append(f"WHEN {test} THEN {int(code)}")
        return f"CAST(CASE {' '.join(cases)} END AS INTEGER) AS {alias}", ""
    import pyarrow as pa

    name = f"paritylab_map_{alias}"
    session.con.register(name, pa.table({"raw": raw, "code": pa.array(codes, pa.int32())}))
    join = f" LEFT JOIN {name} ON src.{_ident(column)} IS NOT DISTINCT FROM {name}.raw"
    return f"{name}.code AS {alias}", join


def _all_counted_values(session: _Session, columns: Sequence[str], joined: str) -> dict[str, pa.Table]:
    """Each column's distinct values over the rows a search counts, with their rows (one pass: grouping sets)."""
    import pyarrow.compute as pc

    if not columns:
        return {}
    aliases = [f"v{i}" for i in range(len(columns))]
    inner = ", ".join(f"src.{_ident(c)} AS {a}" for c, a in zip(columns, aliases, strict=True))
    sets = ", ".join(f"({a})" for a in aliases)
    found = session.sql(
        f"SELECT GROUPING({', '.join(aliases)}) AS g, {', '.join(aliases)}, count(*) AS w "
        f"FROM (SELECT {inner} FROM {joined}) GROUP BY GROUPING SETS ({sets})"
    )
    out = {}
    width = len(columns)
    for i, column in enumerate(columns):
        grouped = ((1 << width) - 1) ^ (1 << (width - 1 - i))  # every bit set but this column's: grouped by it alone
        part = found.filter(pc.equal(found.column("g"), grouped)).select([aliases[i], "w"])
        part = part.rename_columns([column, WEIGHT])
        out[column] = part.take(pc.sort_indices(part, sort_keys=[(column, "ascending")]))
    return out


class _DuckSlices:
    """A slice search's counts from DuckDB: the coded rows in a temporary table, one query per level."""

    def __init__(self, session: _Session, columns: int, protected: dict[str, tuple[str, tuple[str, ...]]]) -> None:
        self.session, self.columns, self._protected = session, columns, protected
        self.protected = {name: labels for name, (_, labels) in protected.items()}

    def _levels(self, levels: Sequence[int]) -> None:
        self.levels = list(levels)

    def count_many(self, subsets: Sequence[tuple[int, ...]]) -> list[tuple[np.ndarray, np.ndarray]]:
        if not subsets:
            return []
        width = max(len(s) for s in subsets)
        parts = []
        for k, subset in enumerate(subsets):
            keys = [f"c{f}" for f in subset]
            padded = keys + ["NULL"] * (width - len(keys))
            select = ", ".join(f"{v} AS x{i}" for i, v in enumerate(padded))
            grouped = ", ".join(keys)
            parts.append(
                f"SELECT {k} AS s, {select}, sum(w) AS n, sum(w * h) AS h FROM paritylab_coded GROUP BY {grouped}"
            )
        found = self.session.sql(" UNION ALL ".join(parts))
        # Each column to numpy once, rows grouped by subset once: converting the whole result per subset was
        # quadratic (1,140 subsets at depth 3 over 20 features: minutes for 20,000 rows).
        columns = {name: found.column(name).fill_null(-1).to_numpy() for name in found.column_names}
        which = columns["s"].astype(np.int64)
        order = np.argsort(which, kind="stable")
        bounds = np.searchsorted(which[order], np.arange(len(subsets) + 1))
        out = []
        for k, subset in enumerate(subsets):
            shape = tuple(self.levels[f] for f in subset)
            rows = order[bounds[k] : bounds[k + 1]]
            index = tuple(columns[f"x{i}"][rows].astype(np.int64) for i in range(len(subset)))
            n, h = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
            n[index] = columns["n"][rows].astype(np.int64)
            h[index] = columns["h"][rows].astype(np.int64)
            out.append((n, h))
        return out

    def composition(self, subset: tuple[int, ...], cell: tuple[int, ...]):
        where = " AND ".join(f"c{f} = {int(v)}" for f, v in zip(subset, cell, strict=True))
        out = []
        for name, (alias, labels) in self._protected.items():
            found = self.session.sql(
                f"SELECT {alias} AS g, sum(w) FILTER (WHERE {where}) AS inside, sum(w) AS total "
                f"FROM paritylab_coded GROUP BY {alias}"
            ).to_pydict()
            within, overall = np.zeros(len(labels)), np.zeros(len(labels))
            for g, a, b in zip(found["g"], found["inside"], found["total"], strict=True):
                within[int(g)], overall[int(g)] = a or 0, b or 0
            out.append((name, labels, within, overall))
        return out


def slice_data_duckdb(
    source: Any,
    spec: AuditSpec,
    info: Any,
    *,
    features: Sequence[str] | None = None,
    include_protected: bool = True,
    connection: Any = None,
    na_values: Any = None,
    bins: Any = None,
    counted: Any = None,
):
    """What :func:`analysis.find_slices` searches, counted by DuckDB (the levels' grouped counts run there).

    The spec is validated on the engine's counted table; the decision, label and every term are typed as the
    loader types them (from each column's distinct values), so the slices equal those of the loaded table.
    """
    from analysis.slices import SLICE_METRICS, SliceData, encode_feature, feature_columns, row_states, usable_levels
    from analysis.validation import run_checks

    resolved = _resolve(source)
    if resolved.kind == "relation":
        raise OptionError(RELATION_SLICES, option="data")
    if counted is None:  # the caller may have counted the source already (the CLI, for its name and notes)
        counted = count_duckdb(source, spec, connection=connection, na_values=na_values)
    checked = run_checks(counted, spec)
    checked.validation.raise_for_errors()
    spec = checked.spec
    better = next(b for i, b in SLICE_METRICS.values() if i.name == info.name)
    session = _Session(resolved, connection)
    if resolved.kind == "csv":  # read once: every level's query would parse the text again
        session._run("CREATE TEMP TABLE paritylab_csv AS SELECT * FROM src", fetch=False)
        session._run("CREATE OR REPLACE TEMP VIEW src AS SELECT * FROM paritylab_csv", fetch=False)
    roles = [c for c in (spec.decision if spec.decision is not None else spec.score, spec.label) if c is not None]
    found = _distinct_counts(session, roles, "")
    typed = _typed_values(session, found, roles, na_values)
    population, numerator = row_states(typed, spec, info)
    harm = numerator if better == "lower" else population & ~numerator
    import pyarrow as pa

    role_table = found.select(roles).rename_columns([f"r{i}" for i in range(len(roles))])
    role_table = role_table.append_column("counted", pa.array(population)).append_column("harm", pa.array(harm))
    session.con.register("paritylab_roles", role_table)
    on = " AND ".join(f"src.{_ident(c)} IS NOT DISTINCT FROM paritylab_roles.r{i}" for i, c in enumerate(roles))
    joined = f"src JOIN paritylab_roles ON {on} AND paritylab_roles.counted"
    columns = feature_columns(session.columns, spec, features, include_protected)
    selected, joins, used_features = [], [], []
    approx = _one_row(session, [f"approx_count_distinct({_ident(c)})" for c in columns]) if columns else []
    wide = {c for i, c in enumerate(columns) if approx[i] > 2 * SLICE_DISTINCT_LIMIT}
    attributes = [a.column for a in spec.protected if a.column in session.columns]
    listed = _all_counted_values(session, [c for c in dict.fromkeys([*columns, *attributes]) if c not in wide], joined)
    for i, column in enumerate(columns):
        if column in wide:
            why = f"about {approx[i]:,} distinct values: too many for the DuckDB engine's bins (bin it first)"
            used_features.append(encode_feature_skipped(column, why))
            continue
        table = listed[column]
        frame = _typed_values(session, table, [column], na_values)
        weights = table.column(WEIGHT).to_numpy().astype(np.int64)
        feature, codes = encode_feature(
            frame[column], weights=weights, attribute=spec.attribute(column), edges=(bins or {}).get(column)
        )
        used_features.append(feature)
        if codes is None:
            continue
        expression, join = _code_sql(session, column, table.column(column), codes, f"c{len(selected)}")
        selected.append(expression)
        joins.append(join)
    levels = usable_levels(used_features)
    protected: dict[str, tuple[str, tuple[str, ...]]] = {}
    from analysis.groups import encode_groups

    for attr in spec.protected:
        if attr.column not in session.columns:
            continue
        table = listed[attr.column]
        frame = _typed_values(session, table, [attr.column], na_values)
        weights = table.column(WEIGHT).to_numpy().astype(np.int64)
        groups = encode_groups(frame[attr.column], bins=attr.bins, quantiles=attr.quantiles, weights=weights)
        alias = f"p{len(protected)}"
        expression, join = _code_sql(session, attr.column, table.column(attr.column), np.asarray(groups.codes), alias)
        selected.append(expression)
        joins.append(join)
        protected[attr.column] = (alias, tuple(groups.labels))
    session._run(
        "CREATE OR REPLACE TEMP TABLE paritylab_coded AS SELECT " + ", ".join(selected) +
        ", CAST(paritylab_roles.harm AS INTEGER) AS h, count(*) AS w FROM " + joined + "".join(joins) + " GROUP BY ALL",
        fetch=False,
    )  # fmt: skip
    totals = session.sql("SELECT sum(w) AS n, sum(w * h) AS h FROM paritylab_coded").to_pylist()[0]
    counter = _DuckSlices(session, len(levels), protected)
    counter._levels(levels)
    return SliceData(used_features, levels, int(totals["n"] or 0), int(totals["h"] or 0), counter)


def encode_feature_skipped(column: str, why: str):
    """A feature left out of a slice search, with why."""
    from analysis.slices import SliceFeature

    return SliceFeature(column, skipped=why)
