"""Read a decision table (CSV/TSV, Parquet or Excel) into a clean DataFrame, and say what was changed.

`load_table` accepts a path, bytes, or a binary file object (such as Streamlit's UploadedFile) and
returns a `LoadedTable`: the DataFrame plus a `LoadReport` listing every change the loader made and
every doubt it has, in plain sentences the app can show as they are.

Output conventions
------------------
- Column names are strings trimmed of surrounding whitespace. An empty name becomes ``column_<n>``
  (1-based position, reported). Columns repeating a name and every cell are kept once (reported);
  other duplicate names are refused.
- Numeric columns are ``int64`` (no missing values) or ``float64`` (missing as NaN). Everything else
  is text in pandas' default ``str`` dtype: booleans (yes/no/TRUE/...), dates, codes, mixed columns.
  The loader never produces an infinity.
- Text cells are trimmed of surrounding whitespace; the count of changed cells is reported per column.

Missing values
--------------
- Always missing, in every column: an empty cell (after trimming), ``N/A``, ``n/a``, ``NULL``,
  ``null``, ``NaN``, ``nan``, ``#N/A``, ``None``, and every spelling passed in ``na_values``.
- Ambiguous: ``NA``, ``?`` and ``-``. ``NA`` is Namibia's country code and ``?`` is a real answer in
  some surveys, so they become missing only in a column whose other values are all numbers (at least
  one). In a text column they stay values, and a warning gives their count and says how to treat them
  as missing (``na_values=["NA"]``).
- Every conversion to missing is reported per column with its count (the ambiguous spellings each
  with their own count). Always-missing spellings are matched as whole cells while the file is parsed,
  which is why they are counted together: per-spelling counts would cost a second pass over the data.
- Blank lines are skipped, as pandas does; in a workbook, blank rows (counted) and empty columns
  (reported) are dropped.

Numbers
-------
- A column becomes numeric only when every non-missing cell is a number. It stays text, with a
  ``kept_text`` change saying why, when a value has a leading zero (``007``, ``01234``: codes, not
  numbers; ``0``, ``0.5`` and ``-0.25`` are numbers), when a value overflows or reads as infinity or
  not-a-number (``1e400``, ``inf``), when a whole number is beyond the int64 range, or when a whole
  number above 2**53 would have to share a float64 column with missing values.
- Thousands separators (``1,234``, ``-1,234,567``, ``12,345.6``) are parsed when every value in the
  column fits that pattern and the reading is unambiguous: a value such as ``1,234,567`` or
  ``1,234.5`` settles it, and in a comma-delimited file ``1,234`` alone means thousands.
- Decimal commas (``3,5``, ``1.234,5``) are parsed only in semicolon-, tab- or pipe-delimited files
  and only when no value contradicts them. A column that could be either (only values like
  ``1,234``) in such a file, or decimal commas in a comma-delimited file, stays text with a warning.
- In such a file, ``1.234.567`` settles '.' as the thousands separator. A column of values such as
  ``12.500`` (12.5, or 12500 with '.' grouping thousands) is read with '.' as the decimal mark, with a
  warning, unless another column of the file uses decimal commas: then it stays text with a warning. The format is
  decided per column, from all its values.

Not plain tables
----------------
Found from the sniffed sample (the first 64 KB) and the last rows, never by a Python loop over every row:

- Title or comment lines above the header (a single filled cell, or a first cell starting with '#',
  followed by a header row without numbers) are skipped and named with their line numbers; so is
  Excel's ``sep=;`` line, whose delimiter is used.
- Up to three rows at the end with a total label in any cell, used nowhere else in its column (Total, Sum,
  Grand total, Subtotal, Average, Mean, Count, All, n=60, ...), or whose first cell is empty, most cells
  empty and every other cell the sum of its column, are removed and named (line and content). A file
  with only a header and such a row is refused.
- Rows repeating the header inside the data (concatenated exports), in any letter case or padding, are removed,
  with their count and lines.
- Columns repeating a name and every value are kept once; an unnamed, empty last column is dropped.
- Markdown pipe tables are read. Printed tables (pandas, R, psql, mysql), space-separated text and JSON,
  HTML, XML, PDF or RTF files are refused saying what they are. A header row that looks like data
  (numbers other than years) is warned about.

Files
-----
CSV with the delimiter sniffed among ``, \\t ; |`` and the encoding detected (BOM, UTF-32 and UTF-16
by their zero bytes, UTF-8, else Windows-1252, else Latin-1; a file with more valid UTF-8 characters
than invalid bytes stays UTF-8, each invalid byte named by line and shown as U+FFFD); gzip and
single-file zip archives (decompressed with a size cap); Parquet; workbooks (``.xlsx``, ``.xlsm``, ``.xls``,
``.xlsb``, ``.ods``: the values last saved, cells written as text first so that workbooks and CSV share one
inference; sheets, title rows, merged cells and formulas are handled in `analysis.excel`). Parquet
columns keep their types: text columns are trimmed and their missing spellings found, but not read as
numbers; infinities in float columns become missing (reported). Nothing that executes code (pickle, joblib, macros) is
ever loaded.

Speed
-----
Arrow's multithreaded CSV reader parses every column as text (marking always-missing cells null as
it goes); columns are then inferred in parallel with Arrow kernels and numpy over the raw buffers,
casting first and checking afterwards. The SHA-256 is computed in a background thread meanwhile.
See ``benchmarks/load.py``.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import itertools
import mmap
import os
import re
import threading
import unicodedata
import zipfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from analysis.errors import LoadError
from analysis.wording import Notice, Remedy, Surface

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_COLUMNS",
    "DEFAULT_MAX_UNCOMPRESSED_BYTES",
    "Change",
    "LoadReport",
    "LoadedTable",
    "TypedColumns",
    "TypedCounts",
    "load_table",
    "type_columns",
    "type_counted_columns",
]

Source = bytes | mmap.mmap  # the source's bytes: read into memory, or a mapped file

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
DEFAULT_MAX_COLUMNS = 2_000
DEFAULT_MAX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024

ALWAYS_MISSING = ("", "N/A", "n/a", "NULL", "null", "NaN", "nan", "#N/A", "None")
AMBIGUOUS_MISSING = ("NA", "?", "-")

# --- messages (expected, got, fix) ------------------------------------------------------------------

NOT_FOUND = "Could not open {path}: {reason}. Check the path and that the file is readable."
# The remedy (a smaller file; on the command line another engine) is worded per surface (analysis.wording).
TOO_LARGE = "{name} is {size}; the limit is {limit} for a file read into memory."
TOO_LARGE_STREAM = "{name} is more than {limit}; the limit is {limit} for a file read into memory."
TOO_LARGE_UNCOMPRESSED = "{name} decompresses to more than {limit}; the limit is {limit} for a file read into memory."
TOO_MANY_COLUMNS = (
    "{name} has {got:,} columns; the limit is {limit:,}. Drop the columns you do not need before loading."
)
ROWS_OVER_LIMIT = "{name} has {got:,} data rows; the limit is {limit:,}. Load a sample of the rows, or raise the limit."
TOO_MANY_ROWS = "{name} has {got:,} data rows; the limit is {limit:,}. Load a sample of the rows."
EMPTY = "{name} is empty: expected a header row and data rows, got {got}. Check that you picked the right file."
HEADER_ONLY = (
    "{name} has a header but no data rows: expected at least one row under its header of {columns}. "
    "Check that the file was exported completely."
)
NOT_A_TABLE = (
    "{name} does not look like a table (CSV, TSV, Parquet or Excel): found binary data ({found}). "
    "Export the data as CSV, Parquet or .xlsx and load that file."
)
PICKLE_REFUSED = (
    "{name} does not look like a table (CSV, TSV, Parquet or Excel): found binary data (a Python "
    "pickle). Pickle and joblib files are never opened, because loading them can run code. Export "
    "the data as CSV or Parquet instead."
)
BAD_ROW = (
    "Line {line} has {got} but the header has {expected} columns (line starts: {start}). "
    "Check for an unquoted delimiter in that line, or quote the field."
)
BAD_ROW_UNLOCATED = (
    "A row has {got} but the header has {expected} columns (row starts: {start}). Check for "
    "an unquoted delimiter in that row, or quote the field."
)
CSV_UNREADABLE = (
    "{name} could not be read as CSV: {reason}. Check that the file is a complete, delimited text "
    "table (for example open it in a spreadsheet and export it as CSV again)."
)
DUPLICATE_COLUMNS = (
    "Column names must be unique, but these appear more than once: {where}. Rename the duplicates in "
    "the header row and load the file again."
)
OTHER_FORMAT = "{name} is {what}, not a delimited table (CSV or TSV): it starts with {start}. {how}"
PRINTED_TABLE = (
    "{name} looks like a table printed for the screen (columns lined up with spaces or drawn with '|' "
    "and '-', as pandas, R or a database console print them), not a delimited file: it starts with "
    "{start}. Export the table as CSV from the program that made it (its CSV export or 'save as CSV'), then "
    "load that file."
)
SPACE_SEPARATED = (
    "{name} has its values separated by spaces ({count} on each line, for example {start}), not by a "
    "comma, tab, semicolon or pipe. Export it as CSV from the program that made it (or open it in a "
    "spreadsheet, split the columns on spaces and save it as CSV), with a header row naming the columns, "
    "then load that file."
)
HEADER_LIKE_DATA = (
    "The first row, read as the header, looks like data: {count} of its {width} names are numbers (for "
    "example {example!r}). If the file has no header row, add one naming the columns; otherwise its first "
    "record is lost and the columns are named after its values."
)
MARKDOWN_NOTE = (
    "Read a Markdown table: the header on line {header}, cells between '|', and the alignment line "
    "{line} ({rule}) skipped."
)
TOTAL_ROWS_REMOVED = (
    "Removed {rows} at the end that {verb} totals or summaries, not records ({shown}). If {pronoun} is a real record, "
    "rename its label in the file."
)
TOTALS_ONLY = (
    "{name} has a header and a totals row ({rows}) but no data rows: expected records under the header. "
    "Check that the file was exported completely."
)
REPEATED_HEADER_REMOVED = (
    "Removed {rows} that {verb} the header inside the data ({where}), as when exports are joined one after another."
)
SKIPPED_ABOVE_HEADER = (
    "Skipped {lines} above the header on line {header}, a title or comments rather than rows of the table: {shown}."
)
DECLARED_DELIMITER_NOTE = (
    "Read the delimiter ({delimiter}) from the file's first line ({line}), as Excel writes it, and skipped that line."
)
DUPLICATE_KEPT_ONCE = (
    "Column {column!r} appears {times} in the header (columns {where}) with the same value in every "
    "row; kept it once (column {first})."
)
EMPTY_COLUMNS_DROPPED = (
    "Dropped {count} at the end with no name and no value in any row (position {where}): a delimiter "
    "at the end of every line, not data."
)
NOT_UTF16 = "{name} starts like {label} text but is not valid {label} ({reason}). Save it as UTF-8 and load it again."
GZIP_BROKEN = (
    "{name} is gzip-compressed but could not be decompressed ({reason}). Check that the download "
    "finished, or load the uncompressed file."
)
ZIP_BROKEN = "{name} is a zip archive that could not be read ({reason}). Extract the data file and load it directly."
ZIP_EMPTY = (
    "{name} is a zip archive with no data file in it; expected exactly one. Check that you zipped the right file."
)
ZIP_MANY = (
    "{name} is a zip archive with {count} files ({files}); expected exactly one data file. Extract "
    "the file you want and load it directly."
)
ZIP_ENCRYPTED = (
    "{name} is an encrypted zip archive; expected an unencrypted one. Extract the file and load it directly."
)
NESTED_ARCHIVE = (
    "{name} holds an archive inside an archive; expected a data file inside at most one zip or gzip "
    "layer. Extract it and load the data file directly."
)
PARQUET_BROKEN = (
    "{name} looks like Parquet but could not be read ({reason}). Write the file again, or export it as CSV."
)
PARQUET_NESTED = (
    "Column {column!r} in {name} holds nested values ({type}); expected flat columns (numbers, text, "
    "dates). Flatten or drop that column before loading."
)
PARQUET_BINARY = (
    "Column {column!r} in {name} holds binary data that is not UTF-8 text; expected numbers, text or "
    "dates. Drop or convert that column before loading."
)
KEPT_WIDE_INTEGERS = (
    "Kept {column!r} as text: its whole numbers do not fit a 64-bit number exactly (for example {example})."
)

KEPT_LEADING_ZERO = (
    "Kept {column!r} as text: {count:,} of its values start with a zero (for example {example!r}), "
    "so they look like codes, not numbers."
)
KEPT_NOT_FINITE = (
    "Kept {column!r} as text: {count:,} of its values do not fit in a number or read as infinity or "
    "not-a-number (for example {example!r}); ParityLab never stores infinities."
)
KEPT_BEYOND_INT64 = (
    "Kept {column!r} as text: {count:,} of its whole numbers are beyond the 64-bit integer range "
    "(for example {example!r})."
)
KEPT_INEXACT = (
    "Kept {column!r} as text: {count:,} of its whole numbers are above 2**53 and cannot be stored "
    "exactly next to missing values (for example {example!r})."
)
MISSING_SPELLED = "empty, or spelled as missing (N/A, NULL, None, NaN, #N/A)"
MISSING_SPELLED_WITH_NA_VALUES = (
    "empty, spelled as missing (N/A, NULL, None, NaN, #N/A), or one of the extra missing spellings"
)
MISSING_NOTE = "Treated {cells} of {column!r} as missing: {how}."
MISSING_AMBIGUOUS_NOTE = (
    "Treated {cells} of {column!r} as missing: {parts}. {spellings} {verb} as missing here because every "
    "other value in the column is a number."
)
ENCODING_NOTE = (
    "The file is not UTF-8 ({where}); decoded it as {label}. If accented letters look wrong, save the "
    "file as UTF-8 and load it again."
)
UTF8_INVALID_NOTE = (
    "The file is UTF-8 except for {count} that {verb} not valid UTF-8 ({where}); shown as '\ufffd'. If "
    "letters are missing there, save the file as UTF-8 again from the program that wrote it."
)
UTF16_NOTE = "The file is {label} text{how}; decoded it to UTF-8."
AMBIGUOUS_KEPT = (
    "Kept {cells} of {column!r} as text values: {spellings}. In a text column they can be real values "
    "(NA is Namibia's country code; '?' is an answer in some surveys), so they were not treated as missing."
)
COMMA_AMBIGUOUS = (
    "Kept {column!r} as text: values such as {example!r} could use the comma for thousands or for "
    "decimals. Save the file with '.' as the decimal mark and no thousands separators, then load it again."
)
DOT_AMBIGUOUS = (
    "Kept {column!r} as text: a value such as {example!r} reads as {as_point} with '.' as the decimal mark, "
    "but as {as_groups} with '.' grouping thousands, as a file with decimal commas writes it ({others}). Save the "
    "file with one decimal mark throughout (and no thousands separators), then load it again."
)
DOT_READ_AS_DECIMALS = (
    "Read {column!r} with '.' as the decimal mark: a value such as {example!r} reads as {as_point}, but as "
    "{as_groups} with '.' grouping thousands, as files with decimal commas write it. If the column holds "
    "thousands, save the file without thousands separators, then load it again."
)
COMMA_DECIMAL_UNSURE = (
    "Kept {column!r} as text: values such as {example!r} look like decimal commas, but decimal commas "
    "are read only from semicolon-, tab- or pipe-delimited files. Save the file with '.' as the decimal "
    "mark, then load it again."
)

_KIND_LABELS = {
    "csv": "CSV",
    "parquet": "Parquet",
    "xlsx": "Excel",
    "xlsm": "Excel with macros (not run)",
    "xlsb": "Excel binary",
    "xls": "Excel 97-2003",
    "ods": "OpenDocument",
}
_DELIMITER_LABELS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "utf-32": "UTF-32",
    "cp1252": "Windows-1252 (cp1252)",
    "latin-1": "Latin-1 (ISO-8859-1)",
}

# --- report types -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One change the loader made to the data, reported to the user.

    Parameters
    ----------
    kind
        ``trimmed``, ``missing``, ``thousands``, ``thousands_dot``, ``decimal_comma``,
        ``renamed_header``, ``kept_text``, ``infinite``, ``duplicate_column``, ``dropped_empty``,
        ``skipped_lines``, ``delimiter_line``, ``total_rows``, ``repeated_header`` or ``markdown``.
    column
        The column concerned, or None for the whole table.
    count
        How many cells (or columns) the change touched.
    detail
        A plain sentence for the user.
    """

    kind: str
    column: str | None
    count: int
    detail: str

    def to_dict(self) -> dict:
        """Return the change as a JSON-safe dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Change:
        """Rebuild a change from `to_dict` output."""
        return cls(**data)


@dataclass(frozen=True)
class LoadReport:
    """What was read, how, and what was changed on the way."""

    name: str
    format: str
    compression: str | None
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    rows: int
    columns: int
    size_bytes: int
    sha256: str
    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()  # sentences; those with a remedy are analysis.wording.Notice
    sheets: tuple[str, ...] = ()  # a workbook's sheet names, in order (the one read is `sheet`)

    def to_dict(self) -> dict:
        """Return the report as a JSON-safe dict (lists, not tuples).

        ``warnings`` holds the Python-worded sentences; ``notices`` the same warnings with their
        structure (message and remedy), so that another surface can word them.
        """
        data = asdict(self)
        data["changes"] = [change.to_dict() for change in self.changes]
        data["warnings"] = [str(warning) for warning in self.warnings]
        data["notices"] = [_notice_of(warning).to_dict() for warning in self.warnings]
        data["sheets"] = list(self.sheets)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> LoadReport:
        """Rebuild a report from `to_dict` output (older dicts without ``notices`` load too)."""
        fields = {key: value for key, value in data.items() if key != "notices"}
        fields["changes"] = tuple(Change.from_dict(c) for c in data.get("changes", ()))
        warnings = [str(w) for w in data.get("warnings", ())]
        notices = data.get("notices")
        if isinstance(notices, list) and len(notices) == len(warnings):
            warnings = [_rebuilt_notice(n, w) for n, w in zip(notices, warnings, strict=True)]
        fields["warnings"] = tuple(warnings)
        fields["sheets"] = tuple(data.get("sheets", ()))  # reports written before sheets were listed
        return cls(**fields)

    def summary(self, surface: Surface = "python") -> list[str]:
        """Return plain sentences: what was read, then one per change and warning.

        Warnings that carry a remedy are worded for ``surface``: "python" (``na_values=[...]``), "cli"
        (``--na-values ...``) or "app" (the message alone: the app words the remedy by its control).
        """
        shape = f"{count_of(self.rows, 'row')} × {count_of(self.columns, 'column')}"
        first = f"Read {shape} from {self.name} ({self._describe_source()})."
        warnings = [w.text_for(surface) if isinstance(w, Notice) else str(w) for w in self.warnings]
        return [first, *(change.detail for change in self.changes), *warnings]

    def change_lines(self) -> list[str]:
        """The changes as lines for a screen: one made in three or more columns is one line naming them."""
        return grouped_changes(self.changes)

    def _describe_source(self) -> str:
        parts = [_KIND_LABELS.get(self.format, self.format)]
        if self.compression:
            parts.append(f"{self.compression}-compressed")
        if self.delimiter is not None:
            parts.append(f"{_DELIMITER_LABELS.get(self.delimiter, repr(self.delimiter))}-delimited")
        if self.encoding is not None:
            parts.append(_ENCODING_LABELS.get(self.encoding, self.encoding))
        if self.sheet is not None:
            parts.append(f"sheet {self.sheet!r}")
        return ", ".join(parts)


def _notice_of(warning: str) -> Notice:
    return warning if isinstance(warning, Notice) else Notice(str(warning))


def _rebuilt_notice(data: Any, warning: str) -> str:
    """A Notice from its dict, or the plain sentence when the dict does not rebuild to that sentence."""
    try:
        remedy = data.get("remedy")
        notice = Notice(data["message"], None if remedy is None else Remedy.from_dict(remedy))
    except (AttributeError, KeyError, TypeError, ValueError):
        return warning
    return notice if notice == warning else warning


@dataclass(frozen=True)
class LoadedTable:
    """A loaded DataFrame and the report describing how it was read."""

    data: pd.DataFrame
    report: LoadReport


# Per-column changes of one kind, said once for many columns on a terminal (the JSON's "load" keeps each one).
_PER_COLUMN_CHANGES = {
    "trimmed": (re.compile(r"Trimmed surrounding spaces in ([\d,]+) cells? of '(.*)'\.", re.S), "Trimmed surrounding "
                "spaces in the cells of {count} columns: {columns}."),
    "missing": (
        re.compile(r"Treated ([\d,]+) cells? of '(.*)' as missing: ([^']*)\.", re.S),
        "Treated cells that are {how} as missing in {count} columns: {columns}.",
    ),
}  # fmt: skip
_GROUPED_FROM = 3
_SHOWN_COLUMNS = 8


def grouped_changes(changes: Sequence[Change]) -> list[str]:
    """The changes as lines; a change of one kind made in three or more columns is one line naming them."""
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    keyed = []
    for change in changes:
        pattern = _PER_COLUMN_CHANGES.get(change.kind, (None,))[0]
        match = pattern.fullmatch(change.detail) if pattern else None
        key = (change.kind, match.group(3) if match and match.re.groups == 3 else "") if match else None
        keyed.append((change, key))
        if key is not None:
            groups.setdefault(key, []).append((match.group(2), match.group(1)))
    lines, said = [], set()
    for change, key in keyed:
        if key is None or len(groups[key]) < _GROUPED_FROM:
            lines.append(change.detail)
        elif key not in said:
            said.add(key)
            columns = [f"'{column}' ({count})" for column, count in groups[key]]
            more = len(columns) - _SHOWN_COLUMNS
            shown = ", ".join(columns[:_SHOWN_COLUMNS]) + (f" and {more} more" if more > 0 else "")
            template = _PER_COLUMN_CHANGES[key[0]][1]
            lines.append(template.format(count=len(columns), columns=shown, how=key[1]))
    return lines


# --- public entry point -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_columns: int
    max_rows: int | None
    max_uncompressed_bytes: int


@dataclass
class Notes:
    """Changes and warnings collected while loading, in the order they were found."""

    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    maybe_decimal_comma: bool = False  # a column kept as text could use decimal commas ('1,234')

    def extend(self, other: Notes) -> None:
        self.changes.extend(other.changes)
        self.warnings.extend(other.warnings)


@dataclass
class RawTable:
    """Columns before inference: header cells as read, and one Arrow column per header cell."""

    header: list[str]
    columns: list[pa.ChunkedArray]
    format: str
    infer_numbers: bool = True
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    notes: Notes = field(default_factory=Notes)
    sheets: tuple[str, ...] = ()  # every sheet of a workbook
    given_nulls: list[int] | None = None  # nulls the source itself held (Parquet), per column


def load_table(
    source: Any,
    *,
    name: str | None = None,
    sheet: str | int | None = None,
    na_values: Any = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    max_rows: int | None = None,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED_BYTES,
) -> LoadedTable:
    """Load a table from a CSV/TSV, Parquet or Excel source and report what was changed.

    Parameters
    ----------
    source
        A path (str or os.PathLike), bytes-like data, or a binary file object with ``.read``.
    name
        Name used in messages and the report; defaults to the file name, else ``"upload"``.
    sheet
        Workbook sheet: a name, a 0-based ``int`` index, or a string of digits naming no sheet, read as a
        1-based position (``"2"``: the second sheet). Default: the first worksheet with cells, with a
        warning naming the others (see `analysis.excel`).
    na_values
        Extra spellings treated as missing in every column (the change is reported).
    max_bytes, max_columns, max_rows, max_uncompressed_bytes
        Limits; exceeding one raises `LoadError` saying how to raise it.

    Returns
    -------
    LoadedTable

    Raises
    ------
    LoadError
        When the source cannot be read as a table, or breaks a limit.
    """
    limits = Limits(max_bytes, max_columns, max_rows, max_uncompressed_bytes)
    raw_bytes, name = read_source(source, name, max_bytes)
    size, digest = len(raw_bytes), _Digest(raw_bytes)
    try:
        payload, compression = unwrap(raw_bytes, name, limits.max_uncompressed_bytes)
        rules = _MissingRules.build(na_values)
        raw = _read_payload(payload, name, sheet, limits, rules)
        frame, notes = _build_frame(raw, name, rules, limits)
        sha256 = digest.hexdigest()
    finally:
        digest.wait()
        _release(raw_bytes)
    report = LoadReport(
        name=name,
        format=raw.format,
        compression=compression,
        encoding=raw.encoding,
        delimiter=raw.delimiter,
        sheet=raw.sheet,
        rows=len(frame),
        columns=frame.shape[1],
        size_bytes=size,
        sha256=sha256,
        changes=tuple(notes.changes),
        warnings=tuple(notes.warnings),
        sheets=raw.sheets,
    )
    return LoadedTable(frame, report)


# --- reading the source -----------------------------------------------------------------------------


def read_source(source: Any, name: str | None, max_bytes: int) -> tuple[Source, str]:
    if isinstance(source, (str, os.PathLike)):
        return _read_path(os.fspath(source), name, max_bytes)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        _check_size(len(data), name or "upload", max_bytes)
        return data, name or "upload"
    if hasattr(source, "read"):
        name = name or _file_object_name(source)
        return _read_file_object(source, name, max_bytes), name
    raise TypeError(f"load_table expects a path, bytes or a binary file object; got {type(source).__name__}.")


def _read_path(path: str, name: str | None, max_bytes: int) -> tuple[Source, str]:
    name = name or os.path.basename(path) or path
    try:
        _check_size(os.stat(path).st_size, name, max_bytes)
        with open(path, "rb") as handle:
            data = _map_or_read(handle, max_bytes)
    except (FileNotFoundError, IsADirectoryError, PermissionError, NotADirectoryError) as exc:
        raise LoadError(NOT_FOUND.format(path=path, reason=exc.strerror or type(exc).__name__)) from None
    _check_size(len(data), name, max_bytes)  # the file may have grown since stat
    return data, name


def _map_or_read(handle, max_bytes: int) -> Source:
    # Mapping a large file saves copying it into memory (about a tenth of the load time). The parsed
    # table holds copies of the values, so the map is closed when loading ends (see _release).
    size = os.fstat(handle.fileno()).st_size
    if _MAP_MIN_BYTES <= size <= max_bytes:
        try:
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            pass  # not mappable (a pipe, some network drives): read it instead
    return handle.read(max_bytes + 1)


def _file_object_name(source: Any) -> str:
    candidate = getattr(source, "name", None)
    if isinstance(candidate, (str, os.PathLike)):
        return os.path.basename(os.fspath(candidate)) or "upload"
    return "upload"


def _read_file_object(source: Any, name: str, max_bytes: int) -> bytes:
    declared = getattr(source, "size", None)  # Streamlit's UploadedFile knows its size
    if isinstance(declared, int) and not isinstance(declared, bool):
        _check_size(declared, name, max_bytes)
    # Read at most one byte past the limit, so an oversized upload is refused without holding it all.
    parts, total = [], 0
    while total <= max_bytes:
        part = source.read(max_bytes + 1 - total)
        if not part:
            break
        if isinstance(part, str):
            raise TypeError("load_table needs a binary file object (open the file with mode 'rb').")
        parts.append(bytes(part))
        total += len(part)
    data = b"".join(parts)
    if len(data) > max_bytes:
        raise LoadError(TOO_LARGE_STREAM.format(name=name, limit=format_size(max_bytes)), remedy=Remedy("max_bytes"))
    return data


def _check_size(size: int, name: str, max_bytes: int) -> None:
    if size > max_bytes:
        raise LoadError(
            TOO_LARGE.format(name=name, size=format_size(size), limit=format_size(max_bytes)),
            remedy=Remedy("max_bytes"),
        )


def format_size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size:,} bytes"
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


class _Digest:
    """SHA-256 of the source, computed in a background thread while the table is parsed."""

    _THREAD_MIN_BYTES = 1 << 20

    def __init__(self, data: Source):
        self._hash = hashlib.sha256()
        self._thread = None
        if len(data) < self._THREAD_MIN_BYTES:
            self._hash.update(data)
            return
        # hashlib releases the GIL on large buffers, so this overlaps with parsing.
        self._thread = threading.Thread(target=self._hash.update, args=(data,), daemon=True)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def hexdigest(self) -> str:
        self.wait()
        return self._hash.hexdigest()


def _release(data: Source) -> None:
    """Unmap a memory-mapped file now rather than whenever it is garbage-collected."""
    if isinstance(data, mmap.mmap):
        # BufferError: Arrow still holds a view into the map (zero-copy data): it closes with the table.
        with contextlib.suppress(BufferError):
            data.close()


# --- containers: gzip and zip -----------------------------------------------------------------------

_MAP_MIN_BYTES = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_ZIP_EMPTY_MAGIC = b"PK\x05\x06"
_PARQUET_MAGIC = b"PAR1"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_IGNORED_ZIP_NAMES = (".DS_Store", "Thumbs.db")


def unwrap(data: Source, name: str, cap: int) -> tuple[Source, str | None]:
    """Decompress a gzip or single-file zip source; return the payload and the compression used."""
    if _starts(data, _GZIP_MAGIC):
        inner = _gunzip(data, name, cap)
        return _refuse_nested(inner, name), "gzip"
    if _starts(data, _ZIP_MAGIC, _ZIP_EMPTY_MAGIC) and not _is_xlsx(data):
        inner = _unzip_single(data, name, cap)
        return _refuse_nested(inner, name), "zip"
    return data, None


def _starts(data: Source, *prefixes: bytes) -> bool:
    """bytes.startswith for bytes and memory maps alike (a map has no startswith)."""
    return any(data[: len(prefix)] == prefix for prefix in prefixes)


def _refuse_nested(inner: bytes, name: str) -> bytes:
    if _starts(inner, _GZIP_MAGIC) or (_starts(inner, _ZIP_MAGIC, _ZIP_EMPTY_MAGIC) and not _is_xlsx(inner)):
        raise LoadError(NESTED_ARCHIVE.format(name=name))
    return inner


def _gunzip(data: Source, name: str, cap: int) -> bytes:
    # Stream with an output bound per call, so a small bomb cannot allocate gigabytes before we notice.
    parts, total, pending = [], 0, data
    while pending:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        while not inflater.eof:
            try:
                part = inflater.decompress(pending, cap + 1 - total)
            except zlib.error as exc:
                raise LoadError(GZIP_BROKEN.format(name=name, reason=exc)) from None
            total += len(part)
            if total > cap:
                raise LoadError(
                    TOO_LARGE_UNCOMPRESSED.format(name=name, limit=format_size(cap)),
                    remedy=Remedy("max_uncompressed_bytes"),
                )
            parts.append(part)
            pending = inflater.unconsumed_tail
            if not part and not pending:
                raise LoadError(GZIP_BROKEN.format(name=name, reason="the data is truncated"))
        pending = inflater.unused_data.lstrip(b"\0")  # concatenated gzip members, or padding
        if pending and not pending.startswith(_GZIP_MAGIC):
            break
    return b"".join(parts)


def _is_xlsx(data: Source) -> bool:
    """Whether a zip archive is a workbook (.xlsx, .xlsm, .xlsb, .ods), read as one rather than unzipped."""
    from analysis.excel import workbook_kind

    return workbook_kind(data) is not None


def _unzip_single(data: Source, name: str, cap: int) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            member = _single_member(archive, name)
            return _read_member(archive, member, name, cap)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, zlib.error) as exc:
        raise LoadError(ZIP_BROKEN.format(name=name, reason=exc)) from None


def _single_member(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    members = [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and not info.filename.startswith("__MACOSX/")
        and os.path.basename(info.filename) not in _IGNORED_ZIP_NAMES
    ]
    if not members:
        raise LoadError(ZIP_EMPTY.format(name=name))
    if len(members) > 1:
        files = ", ".join(repr(info.filename) for info in members[:10])
        more = f" and {len(members) - 10} more" if len(members) > 10 else ""
        raise LoadError(ZIP_MANY.format(name=name, count=len(members), files=files + more))
    return members[0]


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str, cap: int) -> bytes:
    if member.flag_bits & 0x1:
        raise LoadError(ZIP_ENCRYPTED.format(name=name))
    # The declared size can lie, so the read is bounded as well.
    if member.file_size > cap:
        raise LoadError(
            TOO_LARGE_UNCOMPRESSED.format(name=name, limit=format_size(cap)), remedy=Remedy("max_uncompressed_bytes")
        )
    with archive.open(member) as handle:
        data = handle.read(cap + 1)
    if len(data) > cap:
        raise LoadError(
            TOO_LARGE_UNCOMPRESSED.format(name=name, limit=format_size(cap)), remedy=Remedy("max_uncompressed_bytes")
        )
    return data


def _read_payload(payload: Source, name: str, sheet, limits: Limits, rules: _MissingRules) -> RawTable:
    """Read the decompressed source into raw columns, with always-missing spellings already null."""
    if _starts(payload, _PARQUET_MAGIC):
        return _read_parquet(payload, name, limits, rules)
    if _starts(payload, _ZIP_MAGIC, _OLE_MAGIC):
        from analysis.excel import read_workbook, workbook_kind

        # A zip that is not a workbook was unwrapped above; an OLE file is read as an .xls (or named).
        return read_workbook(payload, workbook_kind(payload) or "xls", name, sheet, limits, rules.always)
    if len(payload) >= 2 and payload[0] == 0x80 and 2 <= payload[1] <= 5:
        raise LoadError(PICKLE_REFUSED.format(name=name))
    return _read_csv(payload, name, limits, rules)


# --- CSV: encoding --------------------------------------------------------------------------------

_SAMPLE_BYTES = 64 * 1024
_MAX_SAMPLE_BYTES = 16 * 1024 * 1024
_SNIFF_ROWS = 200
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_MAX_CONTROL_SHARE = 0.02


@dataclass
class _Text:
    """CSV content as UTF-8 bytes for Arrow, plus how it was decoded."""

    data: Source
    start: int  # content begins here (after a UTF-8 byte-order mark)
    encoding: str
    sample: str
    complete: bool  # the sample holds the whole content
    notes: Notes = field(default_factory=Notes)
    skipped_lines: int = 0  # physical lines of the file before `start` (lines above the header)


def _decode(payload: Source, name: str) -> _Text:
    # UTF-32's little-endian mark (FF FE 00 00) starts like UTF-16's (FF FE): test it first.
    if _starts(payload, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE):
        return _wide_text(payload, "utf-32", " (byte-order mark)", name)
    if _starts(payload, codecs.BOM_UTF8):
        try:
            return _utf8_text(payload, len(codecs.BOM_UTF8), "utf-8-sig", name)
        except UnicodeDecodeError:
            return _not_utf8(payload, len(codecs.BOM_UTF8), "utf-8-sig", name)
    if _starts(payload, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return _wide_text(payload, "utf-16", " (byte-order mark)", name)
    codec = _wide_without_bom(payload)
    if codec:
        return _wide_text(payload, codec, " without a byte-order mark (detected from its zero bytes)", name)
    nul = payload.find(b"\0")
    if nul >= 0:
        raise LoadError(NOT_A_TABLE.format(name=name, found=f"a NUL byte at offset {nul:,}"))
    try:
        return _utf8_text(payload, 0, "utf-8", name)
    except UnicodeDecodeError:
        return _not_utf8(payload, 0, "utf-8", name)


def _wide_without_bom(payload: Source) -> str | None:
    """UTF-32 or UTF-16 without a byte-order mark, told by where the zero bytes of ASCII text fall."""
    head = payload[:4096]
    head = head[: len(head) - len(head) % 4]
    if len(head) < 8:
        return _utf16_without_bom(payload)
    share = [head[k::4].count(0) / (len(head) / 4) for k in range(4)]
    if share[0] < 0.05 and min(share[1:]) > 0.3 and share[2] > 0.9:
        return "utf-32-le"
    if share[3] < 0.05 and min(share[:3]) > 0.3 and share[1] > 0.9:
        return "utf-32-be"
    return _utf16_without_bom(payload)


def _utf16_without_bom(payload: Source) -> str | None:
    head = payload[:4096]
    head = head[: len(head) - len(head) % 2]
    if len(head) < 4:
        return None
    even, odd = head[0::2].count(0) / (len(head) / 2), head[1::2].count(0) / (len(head) / 2)
    if odd > 0.3 and even < 0.05:
        return "utf-16-le"
    if even > 0.3 and odd < 0.05:
        return "utf-16-be"
    return None


def _utf8_text(payload: Source, start: int, encoding: str, name: str) -> _Text:
    size, length = _SAMPLE_BYTES, len(payload) - start
    while True:
        complete = size >= length
        # An incremental decoder tolerates a character cut at the sample's end but not invalid bytes.
        sample = codecs.getincrementaldecoder("utf-8")().decode(payload[start : start + size], final=complete)
        if complete or _has_two_lines(sample) or size >= _MAX_SAMPLE_BYTES:
            break
        size *= 4
    _check_text_sample(sample, name)
    return _Text(payload, start, encoding, sample, complete)


def _has_two_lines(sample: str) -> bool:
    return sample.count("\n") + sample.count("\r") >= 2


def _wide_text(payload: Source, codec: str, how: str, name: str) -> _Text:
    family = codec[:6]  # utf-16 or utf-32
    label = _ENCODING_LABELS[family]
    try:
        text = bytes(payload).decode(codec)
    except UnicodeDecodeError as exc:
        raise LoadError(NOT_UTF16.format(name=name, label=label, reason=exc.reason)) from None
    return _transcoded(text, family, UTF16_NOTE.format(label=label, how=how), name)


_INVALID_BYTE = re.compile("[\udc80-\udcff]")  # an undecodable byte, as surrogateescape spells it
_LISTED_LINES = 5


def _not_utf8(payload: Source, start: int, encoding: str, name: str, skipped_lines: int = 0) -> _Text:
    """Decode text that is not all valid UTF-8, naming the lines and bytes where UTF-8 failed.

    Mostly valid UTF-8 (more valid non-ASCII characters than invalid bytes) stays UTF-8, with each
    invalid byte shown as U+FFFD; otherwise the file is in a legacy encoding (cp1252, else Latin-1).
    """
    raw = bytes(payload[start:])
    text = raw.decode("utf-8", errors="surrogateescape")
    invalid = len(_INVALID_BYTE.findall(text))
    valid = len(text) - len(text.encode("ascii", errors="ignore")) - invalid  # valid non-ASCII characters
    if valid >= invalid:
        where = _invalid_utf8_lines(text, invalid, skipped_lines + 1, _LISTED_LINES)
        note = UTF8_INVALID_NOTE.format(
            count=count_of(invalid, "byte"), verb="is" if invalid == 1 else "are", where=where
        )
        decoded = _transcoded(_INVALID_BYTE.sub("\ufffd", text), encoding, note, name)
    else:  # a legacy encoding: its first few lines show why
        decoded = _legacy_text(raw, name, _invalid_utf8_lines(text, invalid, skipped_lines + 1, 3))
    decoded.skipped_lines = skipped_lines
    return decoded


def _invalid_utf8_lines(text: str, invalid: int, first_line: int, limit: int) -> str:
    """'line 2: byte 0xFC; line 9: bytes 0xE9, 0xE4' for the first lines with bytes that are not UTF-8."""
    lines: dict[int, list[str]] = {}
    line, position, listed = first_line, 0, 0
    for match in _INVALID_BYTE.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        if line not in lines and len(lines) == limit:
            break
        lines.setdefault(line, []).append(f"0x{ord(match.group()) - 0xDC00:02X}")
        listed += 1
    parts = [f"line {n:,}: {'byte' if len(b) == 1 else 'bytes'} {', '.join(b)}" for n, b in lines.items()]
    if listed < invalid:
        parts.append(f"and {count_of(invalid - listed, 'more byte')} after line {max(lines):,}")
    return "; ".join(parts)


def _legacy_text(payload: Source, name: str, where: str) -> _Text:
    payload = bytes(payload)
    try:
        text, encoding = payload.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        # Five bytes are undefined in cp1252; Latin-1 decodes every byte.
        text, encoding = payload.decode("latin-1"), "latin-1"
    return _transcoded(text, encoding, ENCODING_NOTE.format(label=_ENCODING_LABELS[encoding], where=where), name)


def _transcoded(text: str, encoding: str, note: str, name: str) -> _Text:
    text = text.removeprefix("\ufeff")
    nul = text.find("\0")
    if nul >= 0:
        raise LoadError(NOT_A_TABLE.format(name=name, found=f"a NUL character at position {nul:,}"))
    sample = text[:_SAMPLE_BYTES]
    _check_text_sample(sample, name)
    return _Text(text.encode("utf-8"), 0, encoding, sample, len(sample) == len(text), Notes(warnings=[note]))


def _check_text_sample(sample: str, name: str) -> None:
    controls = len(_CONTROL_CHARS.findall(sample))
    if sample and controls / len(sample) > _MAX_CONTROL_SHARE:
        share = f"{controls:,} control characters in the first {len(sample):,} characters"
        raise LoadError(NOT_A_TABLE.format(name=name, found=share))


# --- CSV: delimiter, parsing, bad rows ------------------------------------------------------------

_DELIMITERS = (",", "\t", ";", "|")
_BLOCK_SIZE = 4 << 20  # fewer, larger chunks: less per-chunk work afterwards, same parse speed
_MAX_BLOCK_SIZE = (1 << 31) - 1
_EXPECTED_COLUMNS = re.compile(r"Expected (\d+) columns, got (\d+): ?(.*)", re.DOTALL)


def _read_csv(payload: Source, name: str, limits: Limits, rules: _MissingRules) -> RawTable:
    text = _decode(payload, name)
    if not text.sample.strip() and (text.complete or not text.data[text.start :].strip()):
        got = "0 bytes" if not payload else "only whitespace"
        raise LoadError(EMPTY.format(name=name, got=got))
    _refuse_other_formats(text.sample, name)
    if _is_markdown_table(text.sample):
        return _read_markdown(text, name, limits, rules)
    sniffed = _sniff_delimiter(text.sample, text.complete)
    delimiter, sniffed_header = sniffed.delimiter, sniffed.header
    if len(sniffed_header) == 1:
        _refuse_printed_table(text.sample, name)
    _refuse_console_table(text.sample, delimiter, name)
    text = _skip_above_header(text, sniffed)
    if text.complete and not text.sample.strip():
        raise LoadError(EMPTY.format(name=name, got="only a 'sep=' line declaring the delimiter"))
    check_columns(len(sniffed_header), name, limits.max_columns)
    table, text = _parse_csv(text, delimiter, len(sniffed_header), name, rules.always)
    check_columns(table.num_columns, name, limits.max_columns)
    header = _csv_header(table, sniffed_header)
    _warn_header_like_data(header, text.notes)
    columns = [column.slice(1) for column in table.columns]
    columns = _drop_repeated_headers(columns, [column[0] for column in table.columns], text, delimiter, text.notes)
    columns = _drop_total_rows(columns, text, name, text.notes)
    return RawTable(header, columns, "csv", True, text.encoding, delimiter, None, text.notes)


def _warn_header_like_data(header: list[str], notes: Notes) -> None:
    numbers = [cell.strip() for cell in header if _PLAIN_NUMBER.fullmatch(cell.strip())]
    years = [n for n in numbers if re.fullmatch(r"(?:19|20)\d\d", n)]  # columns per year are common headers
    if len(numbers) >= 2 and len(numbers) * 3 >= len(header) and len(years) < len(numbers):
        notes.warnings.append(HEADER_LIKE_DATA.format(count=len(numbers), width=len(header), example=numbers[0]))


def _csv_header(table: pa.Table, sniffed: list[str]) -> list[str]:
    # Arrow read the header as a data row, so a header cell spelled like a missing value ("None")
    # came back null; the sniffer's parse of the same line still has it.
    cells = [column[0].as_py() for column in table.columns]
    if len(sniffed) != len(cells):
        sniffed = [""] * len(cells)
    return [cell if cell is not None else fallback for cell, fallback in zip(cells, sniffed, strict=True)]


def _rows_over_limit(name: str, got: int, limit: int) -> LoadError:
    return LoadError(ROWS_OVER_LIMIT.format(name=name, got=got, limit=limit), remedy=Remedy("max_rows", got))


def check_columns(count: int, name: str, limit: int) -> None:
    if count > limit:
        raise LoadError(TOO_MANY_COLUMNS.format(name=name, got=count, limit=limit), remedy=Remedy("max_columns"))


@dataclass(frozen=True)
class _SampleRow:
    cells: list[str]
    line: int  # physical line where the row starts (1-based, in the sample)

    @property
    def filled(self) -> int:
        return sum(bool(cell.strip()) for cell in self.cells)


@dataclass(frozen=True)
class _Sniffed:
    """The sniffer's reading of the sample: delimiter, header cells, and the rows above the header."""

    delimiter: str
    header: list[str]
    header_line: int = 1  # physical line of the header in the sample
    above: tuple[_SampleRow, ...] = ()  # non-blank rows above the header (title, comments, sep=)
    declared: bool = False  # the delimiter came from a 'sep=' line


_DECLARED_DELIMITER = re.compile(r"\A[\"']?sep=(.)[\"']?[ \t]*(?:\r\n|\r|\n)", re.IGNORECASE)
_MAX_ROWS_ABOVE_HEADER = 20


def _sniff_delimiter(sample: str, complete: bool) -> _Sniffed:
    """Pick the delimiter whose parse of the sample gives the most rows as wide as the header.

    Title and comment rows above the header (a single filled cell, or a cell starting with '#')
    are set aside first, and so is Excel's 'sep=;' line, whose delimiter then wins.
    """
    declared = _DECLARED_DELIMITER.match(sample)
    if declared and declared.group(1) in _DELIMITERS:
        rows = _sample_rows(sample, declared.group(1), complete)
        first = next((i for i, row in enumerate(rows) if row.line > 1), len(rows))
        body = rows[first:] or [_SampleRow([""], 2)]
        return _Sniffed(declared.group(1), body[0].cells, body[0].line, tuple(rows[:first]), declared=True)
    best, best_key = _Sniffed(",", [""]), None
    for rank, candidate in enumerate(_DELIMITERS):
        rows = _sample_rows(sample, candidate, complete)
        if not rows:
            continue
        above = _rows_above_header(rows)
        body = rows[above:]
        width = len(body[0].cells)
        agreeing = sum(len(row.cells) == width for row in body) / len(body)
        key = (width > 1, agreeing, above == 0, width, -rank)  # a reading without rows set aside wins ties
        if best_key is None or key > best_key:
            best = _Sniffed(candidate, body[0].cells, body[0].line, tuple(rows[:above]))
            best_key = key
    return best


def _rows_above_header(rows: list[_SampleRow]) -> int:
    """How many leading rows are a title or comments rather than the header (0 when unsure)."""
    limit = min(len(rows) - 1, _MAX_ROWS_ABOVE_HEADER)
    above = 0
    while above < limit and (rows[above].filled <= 1 or rows[above].cells[0].lstrip().startswith("#")):
        above += 1
    if not above:
        return 0
    header = rows[above]
    numbers = sum(bool(_PLAIN_NUMBER.fullmatch(cell.strip())) for cell in header.cells)
    if header.filled < 2 or numbers:
        return 0  # what follows does not look like a header either
    for index in range(above):
        if rows[index].filled > 1 and len(rows[index].cells) == len(header.cells):
            return index  # '#id,name...': a header that starts with '#'
    return above


def _sample_rows(sample: str, delimiter: str, complete: bool) -> list[_SampleRow]:
    lines = io.StringIO(sample, newline="")
    reader = csv.reader(lines, delimiter=delimiter, quotechar='"')
    rows, previous_end = [], 0
    try:
        for row in itertools.islice(reader, _SNIFF_ROWS + 1):
            if row:
                rows.append(_SampleRow(row, previous_end + 1))
            previous_end = reader.line_num
    except csv.Error:
        return []
    if not complete and len(rows) > 1:
        rows = rows[:-1]  # the sample may end inside the last row
    return rows


def _skip_above_header(text: _Text, sniffed: _Sniffed) -> _Text:
    """Start the text at the header line, reporting the title, comment or 'sep=' lines skipped."""
    if sniffed.header_line <= 1:
        return text
    lines = list(itertools.islice(io.StringIO(text.sample, newline=""), sniffed.header_line - 1))
    skipped = "".join(lines)
    shown = "; ".join(f"line {row.line}: {_line_start(lines[row.line - 1])}" for row in sniffed.above)
    if sniffed.declared:
        detail = DECLARED_DELIMITER_NOTE.format(line=shown, delimiter=_DELIMITER_LABELS[sniffed.delimiter])
        kind, count = "delimiter_line", 1
    else:
        count = len(sniffed.above)
        detail = SKIPPED_ABOVE_HEADER.format(lines=count_of(count, "line"), header=sniffed.header_line, shown=shown)
        kind = "skipped_lines"
    notes = Notes(changes=[*text.notes.changes, Change(kind, None, count, detail)], warnings=list(text.notes.warnings))
    return replace(
        text,
        start=text.start + len(skipped.encode("utf-8")),
        sample=text.sample[len(skipped) :],
        notes=notes,
        skipped_lines=sniffed.header_line - 1,
    )


@dataclass(frozen=True)
class _CsvDialect:
    delimiter: str
    width: int  # columns expected from the header
    quoted: bool  # the file contains a quote character at all
    nulls: tuple[str, ...]  # cells Arrow marks null while parsing


def _parse_csv(text: _Text, delimiter: str, width: int, name: str, nulls: tuple[str, ...]) -> tuple[pa.Table, _Text]:
    """Parse with Arrow, every column as text; return the table and the text as finally decoded."""
    dialect = _CsvDialect(delimiter, width, text.data.find(b'"', text.start) >= 0, nulls)
    attempts = [(False, _BLOCK_SIZE), (True, _BLOCK_SIZE), (True, _MAX_BLOCK_SIZE)]
    for newlines_in_values, block_size in attempts:
        try:
            table = _arrow_read(text, dialect, newlines_in_values, block_size)
        except pa.ArrowInvalid as exc:
            message = str(exc)
            if "UTF8" in message and text.encoding.startswith("utf-8"):
                redecoded = _not_utf8(text.data, text.start, text.encoding, name, text.skipped_lines)
                return _parse_csv(redecoded, delimiter, width, name, nulls)
            if "out of sync" in message or "straddl" in message:
                continue  # a quoted value spans lines or blocks: retry with the slower, safer chunker
            raise _csv_error(exc, text, delimiter, name) from None
        if table.num_columns != dialect.width:
            # Arrow's header parse wins over the sniffer's; read again with every column as text.
            dialect = _CsvDialect(delimiter, table.num_columns, dialect.quoted, nulls)
            table = _arrow_read(text, dialect, newlines_in_values, block_size)
        return table, text
    raise LoadError(CSV_UNREADABLE.format(name=name, reason="a quoted value never ends"))


def _arrow_read(text: _Text, dialect: _CsvDialect, newlines: bool, block_size: int) -> pa.Table:
    # The header is read as a data row so that every row, the first included, is checked against its
    # width (pandas would instead turn an extra field on the first row into an index and shift columns).
    read = pa_csv.ReadOptions(autogenerate_column_names=True, block_size=block_size, use_threads=True)
    parse = pa_csv.ParseOptions(
        delimiter=dialect.delimiter,
        quote_char='"' if dialect.quoted else False,
        double_quote=True,
        newlines_in_values=newlines,
        ignore_empty_lines=True,
    )
    # Always-missing spellings become null during the (parallel) parse: looking them up afterwards
    # would cost more than all the other inference. Arrow matches whole, untrimmed cells.
    convert = pa_csv.ConvertOptions(
        column_types={f"f{i}": pa.large_string() for i in range(dialect.width)},
        null_values=list(dialect.nulls),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    source = pa.BufferReader(pa.py_buffer(text.data)[text.start :])
    return pa_csv.read_csv(source, read, parse, convert)


def _csv_error(exc: pa.ArrowInvalid, text: _Text, delimiter: str, name: str) -> LoadError:
    match = _EXPECTED_COLUMNS.search(str(exc))
    if not match:
        return LoadError(CSV_UNREADABLE.format(name=name, reason=str(exc).strip()))
    expected = int(match.group(1))
    found = _first_bad_row(text.data[text.start :].decode("utf-8", errors="replace"), delimiter, expected)
    if found is None:
        start = _line_start(match.group(3))
        got = count_of(int(match.group(2)), "field")
        return LoadError(BAD_ROW_UNLOCATED.format(got=got, expected=expected, start=start))
    line, got, start = found
    line += text.skipped_lines
    message = BAD_ROW.format(line=line, got=count_of(got, "field"), expected=expected, start=start)
    return LoadError(message, line=line)


def _first_bad_row(content: str, delimiter: str, expected: int) -> tuple[int, int, str] | None:
    """Find the first row whose field count differs from the header's (error path only)."""
    lines = io.StringIO(content, newline="")
    consumed: list[str] = []

    def tap():
        for physical in lines:
            consumed.append(physical)
            yield physical

    reader = csv.reader(tap(), delimiter=delimiter, quotechar='"')
    previous_end = 0
    try:
        for row in reader:
            start_line, previous_end = previous_end + 1, reader.line_num
            first_physical = consumed[0] if consumed else ""
            consumed.clear()
            if row and len(row) != expected:
                return start_line, len(row), _line_start(first_physical)
    except csv.Error:
        return None
    return None


def _line_start(line: str, limit: int = 60) -> str:
    line = line.rstrip("\r\n")
    return repr(line if len(line) <= limit else line[:limit] + "…")


# --- CSV: other formats, printed tables, totals and repeated headers --------------------------------

_JSON_START = re.compile(r'\A\s*(?:\{\s*(?:"|\}|\Z)|\[\s*(?:[\{\["\]\-]|\d|true|false|null|\Z))')
_MARKUP_START = re.compile(r"\A\s*<(?:[!?/]|[A-Za-z])")
_OTHER_FORMATS = (
    # (test on the lower-cased start of the text, what it is, how to get a table from it)
    (
        lambda head: head.startswith("{\\rtf"),
        "an RTF document",
        "Copy the table into a spreadsheet and save it as CSV.",
    ),
    (lambda head: head.startswith("%pdf-"), "a PDF document", "Export the data as CSV from the program that made it."),
)
_HOW_JSON = "Export the table as CSV from the program that made it, then load that file."
_HOW_HTML = "If the page holds the table, open it in a spreadsheet and save the table as CSV."
_HOW_XML = (
    "Export the table as CSV from the program that wrote it, or open the file in a spreadsheet and save it as CSV."
)


def _refuse_other_formats(sample: str, name: str) -> None:
    """Refuse JSON, HTML, XML, RTF or PDF renamed .csv, saying what the file is."""
    head = sample[:2048].lstrip().lower()
    for test, what, how in _OTHER_FORMATS:
        if test(head):
            _refuse_as(name, what, how, sample)
    if _JSON_START.match(sample):
        lines = [line.strip() for line in sample.strip().splitlines()[:3]]
        lines_of_json = len(lines) > 1 and all(line.startswith("{") and line.endswith("}") for line in lines)
        _refuse_as(
            name, "JSON lines (one JSON object per line)" if lines_of_json else "a JSON document", _HOW_JSON, sample
        )
    if _MARKUP_START.match(sample):
        if "<html" in head or "<!doctype html" in head or "<table" in head or "<body" in head:
            tables = sample.lower().count("<table")
            what = "an HTML page" + (f" with {count_of(tables, 'table')} in it" if tables else "")
            _refuse_as(name, what, _HOW_HTML, sample)
        if "<workbook" in head or "urn:schemas-microsoft-com:office:spreadsheet" in head:
            _refuse_as(name, "an Excel 2003 XML spreadsheet", "Open it in Excel and save it as .xlsx or CSV.", sample)
        if head.startswith("<?xml") or "</" in head or "/>" in head:
            _refuse_as(name, "an XML document", _HOW_XML, sample)


def _refuse_as(name: str, what: str, how: str, sample: str) -> None:
    start = _line_start(sample.lstrip().split("\n", 1)[0], 40)
    raise LoadError(OTHER_FORMAT.format(name=name, what=what, start=start, how=how))


_MARKDOWN_RULE = re.compile(r"\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)+\|?\s*|\s*\|\s*:?-+:?\s*\|\s*")
_CONSOLE_RULE = re.compile(r"\s*-+(?:\+-+)+\s*")  # psql's line under the header: ----+-----
_BORDER = re.compile(r"\s*\+(?:-+\+)+\s*")  # mysql's and tabulate's borders: +----+-----+
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_ALIGNED = re.compile(r"\S {2,}\S")


def _first_lines(sample: str, count: int) -> list[tuple[int, str]]:
    """The first `count` non-blank lines of the sample with their (1-based) line numbers."""
    lines = []
    for number, line in enumerate(sample.splitlines(), start=1):
        if line.strip():
            lines.append((number, line))
            if len(lines) == count:
                break
    return lines


def _is_markdown_table(sample: str) -> bool:
    lines = _first_lines(sample, 2)
    return len(lines) == 2 and "|" in lines[0][1] and bool(_MARKDOWN_RULE.fullmatch(lines[1][1]))


def _markdown_cells(line: str) -> list[str]:
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    line = line[:-1] if line.endswith("|") and not line.endswith("\\|") else line
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(line)]


def _read_markdown(text: _Text, name: str, limits: Limits, rules: _MissingRules) -> RawTable:
    """Read a Markdown pipe table: cells between '|', the alignment line under the header skipped."""
    content = bytes(text.data[text.start :]).decode("utf-8", errors="replace")
    lines = [(n, line) for n, line in enumerate(content.splitlines(), start=text.skipped_lines + 1) if line.strip()]
    (header_line, header_text), (rule_line, rule_text) = lines[0], lines[1]
    header = _markdown_cells(header_text)
    check_columns(len(header), name, limits.max_columns)
    rows = []
    for number, line in lines[2:]:
        cells = _markdown_cells(line)
        if len(cells) != len(header):
            got = count_of(len(cells), "field")
            message = BAD_ROW.format(line=number, got=got, expected=len(header), start=_line_start(line))
            raise LoadError(message, line=number)
        rows.append(cells)
    if limits.max_rows is not None and len(rows) > limits.max_rows:
        raise _rows_over_limit(name, len(rows), limits.max_rows)
    nulls = frozenset(rules.always)
    columns = [
        pa.chunked_array([pa.array([None if cell in nulls else cell for cell in cells], pa.large_string())])
        for cells in (zip(*rows, strict=True) if rows else [()] * len(header))
    ]
    detail = MARKDOWN_NOTE.format(header=header_line, line=rule_line, rule=_line_start(rule_text))
    notes = Notes(
        changes=[*text.notes.changes, Change("markdown", None, 1, detail)], warnings=list(text.notes.warnings)
    )
    return RawTable(header, columns, "csv", True, text.encoding, "|", None, notes)


def _refuse_printed_table(sample: str, name: str) -> None:
    """Refuse text lined up in columns with spaces (pandas', R's or a console's print-out)."""
    lines = _first_lines(sample, 50)
    if len(lines) < 2:
        return
    widths = [len(line.split()) for _, line in lines]
    spread = sum(width >= 2 for width in widths) / len(widths)
    aligned = sum(bool(_ALIGNED.search(line.strip())) for _, line in lines) / len(lines)
    if widths[0] >= 2 and spread >= 0.8 and aligned >= 0.5:
        raise LoadError(PRINTED_TABLE.format(name=name, start=_line_start(lines[0][1])))
    if widths[0] >= 3 and sum(width == widths[0] for width in widths) >= 0.9 * len(widths):
        message = SPACE_SEPARATED.format(name=name, count=widths[0], start=_line_start(lines[0][1]))
        raise LoadError(message)


def _refuse_console_table(sample: str, delimiter: str, name: str) -> None:
    """Refuse psql's or mysql's printed tables (a ----+---- rule or +----+ borders), which are not CSV."""
    lines = _first_lines(sample, 3)
    if len(lines) < 2:
        return
    bordered = bool(_BORDER.fullmatch(lines[0][1]))
    ruled = delimiter == "|" and bool(_CONSOLE_RULE.fullmatch(lines[1][1]))
    if bordered or ruled:
        raise LoadError(PRINTED_TABLE.format(name=name, start=_line_start(lines[0][1])))


_TOTAL_WORD = re.compile(
    r"(?:(?:grand[ _-]?|sub[ _-]?)?(?:total|totals|sum|summe|gesamt|insgesamt|totaal|totale|totaux)"
    r"|average|mean|avg|count|all)\s*:?|n\s*=\s*\d[\d,]*",
    re.IGNORECASE,
)
_MAX_TOTAL_ROWS = 3


def _drop_total_rows(columns: list[pa.ChunkedArray], text: _Text, name: str, notes: Notes) -> list[pa.ChunkedArray]:
    """Remove rows at the end that are totals (a 'Total' label, or sums of the columns), reporting them."""
    rows = len(columns[0]) if columns else 0
    found = 0
    while found < min(_MAX_TOTAL_ROWS, rows) and _is_total_row(columns, rows - found - 1):
        found += 1
    if not found:
        return columns
    shown = _last_lines(text, found)
    if found == rows:
        raise LoadError(TOTALS_ONLY.format(name=name, rows=shown))
    verb, pronoun = ("is", "it") if found == 1 else ("are", "one")
    detail = TOTAL_ROWS_REMOVED.format(rows=count_of(found, "row"), verb=verb, pronoun=pronoun, shown=shown)
    notes.changes.append(Change("total_rows", None, found, detail))
    return [column.slice(0, rows - found) for column in columns]


def _is_total_row(columns: list[pa.ChunkedArray], row: int) -> bool:
    cells = [column[row].as_py() for column in columns]
    if len(cells) < 2:
        return False
    # A total label in any cell ('60,Sum,,2882', 'n=60,,,2882'), used nowhere else in its column:
    # a label found elsewhere in the column is a real category, and then the row is a record.
    labels = [i for i, cell in enumerate(cells) if cell is not None and _TOTAL_WORD.fullmatch(cell.strip())]
    if labels:
        return all(not (pc.sum(pc.equal(columns[i].slice(0, row), cells[i])).as_py() or 0) for i in labels)
    return _is_sum_row(columns, cells, row)


def _is_sum_row(columns: list[pa.ChunkedArray], cells: list[str | None], row: int) -> bool:
    """A row with its first cell empty, most cells empty, and every other cell the sum of its column."""
    if row < 2 or (cells[0] is not None and cells[0].strip()):
        return False
    filled = [i for i, cell in enumerate(cells) if cell is not None and cell.strip()]
    if not filled or len(filled) * 2 > len(cells):
        return False
    for index in filled:
        try:
            total = float(cells[index])
            above = pc.cast(pc.utf8_trim_whitespace(columns[index].slice(0, row)), pa.float64())
        except (ValueError, pa.ArrowInvalid):
            return False
        expected = pc.sum(above).as_py()
        if expected is None or above.null_count > row // 2 or not np.isclose(total, expected, rtol=1e-9, atol=1e-6):
            return False
    return True


def _last_lines(text: _Text, count: int) -> str:
    """The last `count` non-blank lines of the text with their line numbers: "line 12: 'Total,,1234'"."""
    data = text.data
    tail_start = max(text.start, len(data) - _SAMPLE_BYTES)
    tail = bytes(data[tail_start:]).decode("utf-8", errors="replace")
    lines_before = _count_newlines(data, text.start, tail_start) + text.skipped_lines
    numbered = [(n, line) for n, line in enumerate(tail.split("\n"), start=lines_before + 1) if line.strip()]
    return "; ".join(f"line {n:,}: {_line_start(line)}" for n, line in numbered[-count:])


def _count_newlines(data: Source, start: int, end: int) -> int:
    if end <= start:
        return 0
    return int(np.count_nonzero(np.frombuffer(data, np.uint8, count=end - start, offset=start) == 10))


def _drop_repeated_headers(columns: list[pa.ChunkedArray], header: list, text: _Text, delimiter: str, notes: Notes):
    """Remove rows that repeat the header (files concatenated with their headers), reporting their lines.

    A repeat may differ from the header in letter case, surrounding spaces or Unicode form ('ID' under 'id').
    """
    wanted = [_header_key(cell.as_py()) if cell.is_valid else None for cell in header]
    key = next((i for i, cell in enumerate(wanted) if cell is not None and len(cell.encode("utf-8")) > 1), None)
    if key is None or not columns or len(columns[0]) == 0:
        return columns
    # Screen by byte length and leading byte first: comparing every cell to the header's, or taking
    # cells out of a chunked column, would cost a copy of the column.
    expected = wanted[key].encode("utf-8")
    lengths, (lead,) = _leading_bytes(columns[key], 1)
    if expected.isascii():
        same = (lengths >= len(expected)) & (lengths <= len(expected) + _HEADER_PADDING)
        first = expected[0]
        if 97 <= first <= 122:  # an ASCII letter, in either case
            same &= ((lead | 0x20) == first) | (lead == 32) | (lead == 9)
        else:
            same &= (lead == first) | (lead == 32) | (lead == 9)
    else:  # lower case and normal forms may change the byte length a little
        same = (lengths >= len(expected) // 2) & (lengths <= 2 * len(expected) + _HEADER_PADDING)
    candidates = np.flatnonzero(same)
    if candidates.size == 0:
        return columns
    repeats = candidates
    for column, cell in zip(columns, wanted, strict=True):
        taken = column.take(repeats)
        same = pc.is_null(taken) if cell is None else pc.fill_null(pc.equal(_header_keys(taken), cell), False)
        repeats = repeats[_numpy(same, False)]
        if repeats.size == 0:
            return columns
    keep = np.ones(len(columns[0]), dtype=bool)
    keep[repeats] = False
    spellings = {
        delimiter.join("" if cell is None else cell for cell in row)
        for row in zip(*(column.take(repeats[:_LISTED_SPELLINGS]).to_pylist() for column in columns), strict=True)
    }
    where = _repeated_header_lines(text, spellings, repeats.size)
    where = where or f"data rows {and_list([f'{r + 1:,}' for r in repeats[:10]])}"
    verb = "repeats" if repeats.size == 1 else "repeat"
    detail = REPEATED_HEADER_REMOVED.format(rows=count_of(repeats.size, "row"), verb=verb, where=where)
    notes.changes.append(Change("repeated_header", None, int(repeats.size), detail))
    mask = pa.array(keep)
    return [column.filter(mask) for column in columns]


_HEADER_PADDING = 8  # spaces around a repeated header's cell that are still taken as padding
_LISTED_SPELLINGS = 50


def _header_key(cell: str) -> str:
    return unicodedata.normalize("NFKC", cell).strip().lower()


def _header_keys(cells: pa.Array) -> pa.Array:
    return pc.utf8_lower(pc.utf8_trim_whitespace(pc.utf8_normalize(cells, "NFKC")))


def _repeated_header_lines(text: _Text, spellings: set[str], count: int) -> str | None:
    """The line numbers where the header's line appears again, when exactly `count` copies are found.

    `spellings` are the repeated rows' cells joined by the delimiter: the lines as written, unless quoted.
    """
    first = text.sample.split("\n", 1)[0].rstrip("\r")
    data, found = text.data, []
    for spelling in {first} | spellings:
        needle, position = b"\n" + spelling.encode("utf-8"), text.start
        while len(found) <= count:
            position = data.find(needle, position)
            if position < 0:
                break
            after = position + len(needle)
            if after == len(data) or data[after : after + 1] in (b"\r", b"\n"):
                found.append(position)
            position = after
    if len(found) != count:
        return None
    found.sort()
    lines = [_count_newlines(data, text.start, at + 1) + 1 + text.skipped_lines for at in found]
    shown = and_list([f"{n:,}" for n in lines[:10]]) + (f" and {count - 10:,} more" if count > 10 else "")
    return ("line " if count == 1 else "lines ") + shown


# --- Parquet ----------------------------------------------------------------------------------------


def _read_parquet(payload: Source, name: str, limits: Limits, rules: _MissingRules) -> RawTable:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(pa.py_buffer(payload)))
        _check_parquet_limits(parquet, name, limits)
        table = parquet.read(use_pandas_metadata=False)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise LoadError(PARQUET_BROKEN.format(name=name, reason=str(exc).strip() or type(exc).__name__)) from None
    columns = [_parquet_column(table.column(i), table.column_names[i], name) for i in range(table.num_columns)]
    given_nulls = [column.null_count for column in columns]  # missing in the file itself: not a change
    columns = [_null_spellings(column, rules) for column in columns]
    header = [str(n) for n in table.column_names]
    return RawTable(header, columns, "parquet", infer_numbers=False, given_nulls=given_nulls)


def _null_spellings(column: pa.ChunkedArray, rules: _MissingRules) -> pa.ChunkedArray:
    """Mark whole cells spelled as always-missing null, as Arrow's CSV reader does while parsing."""
    if not pa.types.is_large_string(column.type):
        return column
    spelled = pc.is_in(column, value_set=pa.array(rules.always, pa.large_string()))
    if not pc.any(spelled).as_py():
        return column
    return pc.if_else(spelled, pa.scalar(None, pa.large_string()), column)


def _check_parquet_limits(parquet, name: str, limits: Limits) -> None:
    metadata = parquet.metadata
    check_columns(len(parquet.schema_arrow), name, limits.max_columns)
    if limits.max_rows is not None and metadata.num_rows > limits.max_rows:
        raise _rows_over_limit(name, metadata.num_rows, limits.max_rows)
    expanded = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if expanded > limits.max_uncompressed_bytes:
        raise LoadError(
            TOO_LARGE_UNCOMPRESSED.format(name=name, limit=format_size(limits.max_uncompressed_bytes)),
            remedy=Remedy("max_uncompressed_bytes"),
        )


def _parquet_column(column: pa.ChunkedArray, column_name: str, name: str) -> pa.ChunkedArray:
    """Bring a Parquet column to string, int64 or float64; the frame builder does the rest."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        return _parquet_column(column.cast(kind.value_type), column_name, name)
    if pa.types.is_string(kind) or pa.types.is_string_view(kind) or pa.types.is_null(kind):
        return column.cast(pa.large_string())
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        try:
            return column.cast(pa.large_string())
        except pa.ArrowInvalid:
            raise LoadError(PARQUET_BINARY.format(column=column_name, name=name)) from None
    if pa.types.is_nested(kind):
        raise LoadError(PARQUET_NESTED.format(column=column_name, name=name, type=kind))
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_large_string(kind):
        return column
    if pa.types.is_decimal(kind):
        return column.cast(pa.float64())
    return column.cast(pa.large_string())  # booleans, dates, times: text the user maps later


# --- typing columns read by another engine --------------------------------------------------------


@dataclass(frozen=True)
class TypedColumns:
    """Columns typed as :func:`load_table` types a file's, with the changes made on the way.

    ``changes`` and ``warnings`` count source rows when the columns came with weights.
    """

    data: pd.DataFrame
    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()


def type_columns(
    table: pa.Table,
    *,
    format: str = "parquet",
    delimiter: str | None = None,
    na_values: Any = None,
    weights: np.ndarray | None = None,
) -> TypedColumns:
    """Type the columns of an Arrow table as :func:`load_table` types those of a file: for engines that read files.

    Parameters
    ----------
    table
        Columns as the file holds them (``format="parquet"``: typed; ``"csv"``: every cell as text).
    format
        ``"parquet"``: the columns keep their types, text is trimmed and its missing spellings found;
        ``"csv"``: text is inferred as the loader infers a CSV file's columns (numbers, missing values).
    delimiter
        The CSV file's delimiter (decimal commas are read only in files not delimited by commas).
    na_values
        Extra spellings of missing, as in :func:`load_table`.
    weights
        Source rows per row of ``table`` (a counted table, ``format="parquet"`` only): the changes are then
        counted in source rows. Without weights every row is one source row.
    """
    if weights is not None and format != "parquet":
        raise ValueError("type_columns counts changes in source rows for format='parquet' only; pass weights=None.")
    rules = _MissingRules.build(na_values)
    names = [str(n) for n in table.column_names]
    if format == "parquet":
        raw = [_parquet_column(table.column(i), names[i], "the table") for i in range(table.num_columns)]
    else:
        raw = [table.column(i).cast(pa.large_string()) for i in range(table.num_columns)]
    given = [column.null_count for column in raw] if format == "parquet" else [0] * len(raw)
    spelled = [_null_spellings(column, rules) for column in raw]
    context = _ColumnContext(rules, format != "parquet", delimiter)
    jobs = list(zip(spelled, names, given, strict=True))
    results = [_infer_column(*job, context) for job in jobs]
    if format != "parquet":
        _keep_dot_groups_as_text(results, jobs, names, context)
    frame = pa.table([result.values for result in results], names=names).to_pandas()
    if weights is not None and format == "parquet":
        notes = Notes()
        for column, result, name in zip(raw, results, names, strict=True):
            notes.extend(_weighted_notes(column, result.values, name, rules, np.asarray(weights, dtype=np.int64)))
    else:
        notes = Notes()
        for result in results:
            notes.extend(result.notes)
    return TypedColumns(frame, tuple(notes.changes), tuple(notes.warnings))


def _weighted_notes(raw: pa.ChunkedArray, values: pa.ChunkedArray, name: str, rules: _MissingRules, weights):
    """A Parquet column's changes as the loader words them, each counted in source rows (``weights`` per row)."""
    notes = Notes()
    valid = _valid(raw) & np.ones(len(raw), dtype=bool)
    if pa.types.is_large_string(raw.type) and pa.types.is_large_string(values.type):
        always = pa.array(rules.always, pa.large_string())
        spelled = _numpy(pc.is_in(raw, value_set=always), False) & valid
        trimmed = pc.utf8_trim_whitespace(raw)
        changed = valid & ~spelled & (_cell_lengths(raw) != _cell_lengths(trimmed))
        if changed.any():
            notes.changes.append(_trimmed_change(name, int(weights[changed].sum())))
        revealed = changed & _numpy(pc.is_in(trimmed, value_set=always), False)
        _note_missing(notes, name, rules, int(weights[spelled | revealed].sum()), {})
        kept = {}
        for spelling in rules.ambiguous:
            count = int(weights[_numpy(pc.equal(trimmed, spelling), False) & valid].sum())
            if count:
                kept[spelling] = count
        _warn_ambiguous_kept(notes, name, kept)
    elif pa.types.is_floating(raw.type):
        infinite = _numpy(pc.is_inf(raw.cast(pa.float64())), False)
        if infinite.any():
            notes.changes.append(_infinite_change(name, int(weights[infinite].sum())))
    elif pa.types.is_integer(raw.type) and pa.types.is_large_string(values.type):
        counted = Notes()
        _finish_integers(raw, name, counted)  # the loader's sentence, then its count in source rows
        notes.changes.extend(replace(c, count=int(weights[valid].sum())) for c in counted.changes)
    return notes


@dataclass(frozen=True)
class TypedCounts:
    """Distinct rows typed as :func:`load_table` types their columns, with the changes counted in rows.

    Attributes
    ----------
    frame
        The rows, typed (text as ``str``, int64, float64); the same length and order as the input.
    changes, warnings
        What the loader would report for a table holding each row ``weights`` times.
    """

    frame: pd.DataFrame
    changes: tuple[Change, ...]
    warnings: tuple[str, ...]


def type_counted_columns(
    table: pa.Table, weights: np.ndarray, *, name: str, file_format: str = "parquet", na_values: Any = None
) -> TypedCounts:
    """Type an engine's distinct rows column by column as :func:`load_table` types a file's columns.

    Parameters
    ----------
    table
        Distinct rows as the engine read them: typed columns (``file_format="parquet"``: text, numbers,
        booleans, dates) or text cells (``"csv"``, whose numbers are then inferred).
    weights
        Source rows per row of ``table``: the changes' counts are of source rows.
    name
        The source's name, for messages.
    na_values
        Extra spellings of missing, as for :func:`load_table`.

    Returns
    -------
    TypedCounts
        Values equal to the loader's for the same cells; changes and warnings counted with ``weights``.
    """
    rules = _MissingRules.build(na_values)
    context = _ColumnContext(rules, file_format != "parquet", None)
    weights = np.asarray(weights, dtype=np.int64)
    values, notes = [], Notes()
    for index, column_name in enumerate(table.column_names):
        column = table.column(index)
        if file_format == "parquet":
            column = _parquet_column(column, column_name, name)
        elif not pa.types.is_large_string(column.type):
            column = column.cast(pa.large_string())
        # A text file has no missing cells of its own: an empty cell is spelled missing, and reported.
        given = column.null_count if file_format == "parquet" else 0
        result = _infer_column(_null_spellings(column, rules), column_name, given, context)
        values.append(result.values)
        notes.extend(_weighted_cell_notes(result, column, column_name, rules, weights, given == 0))
    frame = pa.table(values, names=list(table.column_names)).to_pandas() if values else pd.DataFrame()
    return TypedCounts(frame, tuple(notes.changes), tuple(notes.warnings))


def _weighted_cell_notes(
    result: _ColumnResult, column: pa.ChunkedArray, column_name: str, rules, weights, empty
) -> Notes:
    """``result``'s notes with each count of distinct cells replaced by the rows those cells stand for."""
    notes = Notes()
    if not result.notes.changes and not result.notes.warnings:
        return notes
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    text = pa.types.is_large_string(column.type)
    trimmed = pc.utf8_trim_whitespace(column) if text else None

    def rows(mask) -> int:
        return int(weights[np.asarray(mask, dtype=bool)].sum())

    def spelled_as(spellings, cells) -> np.ndarray:
        return _numpy(pc.is_in(cells, value_set=pa.array(list(spellings), pa.large_string())), False)

    numeric_result = not pa.types.is_large_string(result.values.type)
    ambiguous = {}
    if text:
        for spelling in rules.ambiguous:
            count = rows(valid & _numpy(pc.equal(trimmed, spelling), False))
            if count:
                ambiguous[spelling] = count
    for change in result.notes.changes:
        if change.kind == "trimmed":
            changed = valid & ~spelled_as(rules.always, column) & _numpy(pc.not_equal(trimmed, column), False)
            count = rows(changed)
            detail = f"Trimmed surrounding spaces in {_cells(count)} of {column_name!r}."
            notes.changes.append(Change("trimmed", column_name, count, detail))
        elif change.kind == "missing" and text:
            spelled = rows(valid & spelled_as(rules.always, trimmed)) + (rows(~valid) if empty else 0)
            _note_missing(notes, column_name, rules, spelled, ambiguous if numeric_result else {})
        elif change.kind == "infinite":
            infinite = _numpy(pc.is_inf(column.cast(pa.float64())), False)
            count = rows(valid & infinite)
            detail = f"Treated {_cells(count)} of {column_name!r} holding an infinite value as missing."
            notes.changes.append(Change("infinite", column_name, count, detail))
        elif change.kind == "kept_text" and not text:  # integers too wide for int64 or float64
            notes.changes.append(replace(change, count=rows(valid)))
        else:  # CSV number parsing: counted in distinct cells, and said so
            detail = f"{change.detail} (counted in distinct values, not rows)"
            notes.changes.append(replace(change, detail=detail))
    kept = ambiguous if not numeric_result else {}
    unweighted = Notes()
    if text and not numeric_result:
        counts = {s: int(_numpy(pc.equal(trimmed, s), False)[valid].sum()) for s in rules.ambiguous}
        _warn_ambiguous_kept(unweighted, column_name, {s: n for s, n in counts.items() if n})
    for warning in result.notes.warnings:
        if unweighted.warnings and warning == unweighted.warnings[0]:
            _warn_ambiguous_kept(notes, column_name, kept)
        else:
            notes.warnings.append(warning)
    return notes


# --- from raw columns to a DataFrame --------------------------------------------------------------

_PARALLEL_MIN_CELLS = 200_000


def _build_frame(raw: RawTable, name: str, rules: _MissingRules, limits: Limits) -> tuple[pd.DataFrame, Notes]:
    notes = Notes()
    names = _column_names(raw.header, notes)
    check_columns(len(names), name, limits.max_columns)
    if not names:
        raise LoadError(EMPTY.format(name=name, got="no columns"))
    names, raw.columns, raw.given_nulls = _drop_redundant_columns(raw, names, notes)
    rows = len(raw.columns[0])
    if rows == 0:
        raise LoadError(HEADER_ONLY.format(name=name, columns=count_of(len(names), "column")))
    if limits.max_rows is not None and rows > limits.max_rows:
        raise _rows_over_limit(name, rows, limits.max_rows)
    notes.extend(raw.notes)
    context = _ColumnContext(rules, raw.infer_numbers, raw.delimiter)
    given = raw.given_nulls or [0] * len(names)
    jobs = list(zip(raw.columns, names, given, strict=True))
    results = _infer_all(jobs, context, rows * len(names))
    _keep_dot_groups_as_text(results, jobs, names, context)
    for result in results:
        notes.extend(result.notes)
    table = pa.table([result.values for result in results], names=names)
    return table.to_pandas(), notes


def _keep_dot_groups_as_text(results: list[_ColumnResult], jobs: list[tuple], names: list[str], context) -> None:
    """In a file whose other columns use decimal commas, '12.500' may mean 12500: keep such columns as text."""
    commas = [
        name
        for name, result in zip(names, results, strict=True)
        if _has_change(result, "decimal_comma") or result.notes.maybe_decimal_comma
    ]
    if not commas:
        # No column settles the file's decimal mark: '12.500' is read as 12.5, and said so.
        for index, result in enumerate(results):
            if result.dot_groups is not None:
                example = result.dot_groups
                as_point, as_groups = f"{float(example):g}", f"{int(example.replace('.', '')):,}"
                result.notes.warnings.append(
                    DOT_READ_AS_DECIMALS.format(
                        column=names[index], example=example, as_point=as_point, as_groups=as_groups
                    )
                )
        return
    text_context = replace(context, infer_numbers=False)
    for index, result in enumerate(results):
        if result.dot_groups is None:
            continue
        example = result.dot_groups
        as_point = float(example)
        as_groups = int(example.replace(".", ""))
        kept = _infer_column(*jobs[index], text_context)
        message = DOT_AMBIGUOUS.format(
            column=names[index],
            example=example,
            as_point=f"{as_point:g}",
            as_groups=f"{as_groups:,}",
            others=and_list([repr(n) for n in commas[:3]]),
        )
        kept.notes.warnings.append(message)
        results[index] = kept


def _has_change(result: _ColumnResult, kind: str) -> bool:
    return any(change.kind == kind for change in result.notes.changes)


def _infer_all(jobs: list[tuple], context: _ColumnContext, cells: int) -> list[_ColumnResult]:
    workers = min(len(jobs), os.cpu_count() or 1)
    if cells < _PARALLEL_MIN_CELLS or workers < 2:
        return [_infer_column(*job, context) for job in jobs]
    # Arrow kernels and most numpy work release the GIL, so columns are inferred in parallel, the
    # biggest first so that the workers finish at about the same time.
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i][0].get_total_buffer_size())
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = dict(zip(order, pool.map(lambda i: _infer_column(*jobs[i], context), order), strict=True))
    return [done[i] for i in range(len(jobs))]


def _column_names(header: list[str], notes: Notes) -> list[str]:
    names, trimmed = [], 0
    for position, cell in enumerate(header, start=1):
        name = str(cell).strip()
        trimmed += name != str(cell)
        if not name:
            name = f"column_{position}"
            detail = f"Named the column with an empty header at position {position} {name!r}."
            notes.changes.append(Change("renamed_header", name, 1, detail))
        names.append(name)
    if trimmed:
        detail = f"Trimmed surrounding spaces in {count_of(trimmed, 'column name')}."
        notes.changes.append(Change("trimmed", None, trimmed, detail))
    return names


def _drop_redundant_columns(raw: RawTable, names: list[str], notes: Notes):
    """Keep once the columns that repeat a name and every value; drop empty unnamed trailing columns.

    Columns sharing a name but not every value are refused, naming them. Returns the names, columns
    and given nulls that remain.
    """
    given = raw.given_nulls or [0] * len(names)
    keep = _keep_unique_columns(raw.columns, names, notes)
    keep = _drop_empty_trailing(raw, names, keep, notes)
    if len(keep) == len(names):
        return names, raw.columns, raw.given_nulls
    return [names[i] for i in keep], [raw.columns[i] for i in keep], [given[i] for i in keep]


def _keep_unique_columns(columns: list[pa.ChunkedArray], names: list[str], notes: Notes) -> list[int]:
    positions: dict[str, list[int]] = {}
    for index, column_name in enumerate(names):
        positions.setdefault(column_name, []).append(index)
    repeated = {n: p for n, p in positions.items() if len(p) > 1}
    if not repeated:
        return list(range(len(names)))
    # Cells are compared as read (untrimmed text), so "equal" means equal in the file.
    differing = {n: p for n, p in repeated.items() if not all(columns[i].equals(columns[p[0]]) for i in p[1:])}
    if differing:
        where = "; ".join(f"{n!r} at columns {and_list([i + 1 for i in p])}" for n, p in differing.items())
        raise LoadError(DUPLICATE_COLUMNS.format(where=where), column=next(iter(differing)))
    dropped = set()
    for column_name, where in repeated.items():
        dropped.update(where[1:])
        detail = DUPLICATE_KEPT_ONCE.format(
            column=column_name, times=_times(len(where)), where=and_list([i + 1 for i in where]), first=where[0] + 1
        )
        notes.changes.append(Change("duplicate_column", column_name, len(where) - 1, detail))
    return [i for i in range(len(names)) if i not in dropped]


def _times(count: int) -> str:
    return {2: "twice", 3: "three times"}.get(count, f"{count} times")


def _drop_empty_trailing(raw: RawTable, names: list[str], keep: list[int], notes: Notes) -> list[int]:
    # A trailing delimiter on every line makes a last column with no name and no value: not data.
    empty = []
    while len(keep) - len(empty) > 1:
        index = keep[len(keep) - len(empty) - 1]
        header = raw.header[index]
        column = raw.columns[index]
        if str(header).strip() or column.null_count < len(column):
            break
        empty.append(index)
    if not empty:
        return keep
    notes.changes[:] = [
        c for c in notes.changes if not (c.kind == "renamed_header" and c.column in {names[i] for i in empty})
    ]
    where = and_list(sorted(i + 1 for i in empty))
    detail = EMPTY_COLUMNS_DROPPED.format(count=count_of(len(empty), "column"), where=where)
    notes.changes.append(Change("dropped_empty", None, len(empty), detail))
    return keep[: len(keep) - len(empty)]


def and_list(items: list[Any]) -> str:
    words = [str(item) for item in items]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# --- missing values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _MissingRules:
    """Spellings of missing: always (built in, plus the user's) and ambiguous (numeric columns only)."""

    always: tuple[str, ...]
    ambiguous: tuple[str, ...]
    user: tuple[str, ...]

    @classmethod
    def build(cls, na_values: Any) -> _MissingRules:
        user = _user_spellings(na_values)
        always = tuple(dict.fromkeys([*ALWAYS_MISSING, *user]))
        ambiguous = tuple(s for s in AMBIGUOUS_MISSING if s not in always)
        return cls(always, ambiguous, tuple(user))


def _user_spellings(na_values: Any) -> list[str]:
    if na_values is None:
        return []
    values = [na_values] if isinstance(na_values, str) else list(na_values)
    # Cells are compared after trimming, so the spellings are trimmed too.
    return list(dict.fromkeys(str(value).strip() for value in values))


@dataclass(frozen=True)
class _Spelled:
    """Cells spelled like one of some spellings: their positions and the count per spelling."""

    positions: np.ndarray
    counts: dict[str, int]


_NO_POSITIONS = np.empty(0, np.intp)
_NOTHING_SPELLED = _Spelled(_NO_POSITIONS, {})


def _find_spelled(column: pa.ChunkedArray, spellings: tuple[str, ...]) -> _Spelled:
    """Find the cells equal to one of `spellings`, screening by length before any hash lookup."""
    if not spellings:
        return _NOTHING_SPELLED
    longest = max(len(s.encode("utf-8")) for s in spellings)
    short = np.flatnonzero(_cell_lengths(column) <= longest)  # null cells are looked up, and not found
    if short.size == 0:
        return _NOTHING_SPELLED
    value_set = pa.array(spellings, pa.large_string())
    looked_up = column if short.size * 4 > len(column) else column.take(short)
    codes = _numpy(pc.index_in(looked_up, value_set=value_set), -1)
    hits = np.flatnonzero(codes >= 0)
    positions = hits if looked_up is column else short[hits]
    counts = np.bincount(codes[hits], minlength=len(spellings))
    return _Spelled(positions, {spellings[i]: int(counts[i]) for i in np.flatnonzero(counts)})


def _numpy(array: pa.ChunkedArray | pa.Array, fill: Any) -> np.ndarray:
    """An Arrow array as numpy, with nulls replaced by `fill`."""
    if array.null_count:
        array = pc.fill_null(array, fill)
    return array.to_numpy()


def _with_nulls(column: pa.ChunkedArray, positions: np.ndarray) -> pa.ChunkedArray:
    """Mark cells missing by rewriting only the validity bitmaps (the strings are not copied)."""
    if positions.size == 0:
        return column
    mask = np.zeros(len(column), dtype=bool)
    mask[positions] = True
    chunks, start = [], 0
    for chunk in column.chunks:
        chunks.append(_chunk_with_nulls(chunk, mask[start : start + len(chunk)]))
        start += len(chunk)
    return pa.chunked_array(chunks, type=column.type)


def _chunk_with_nulls(chunk: pa.Array, missing: np.ndarray) -> pa.Array:
    if not missing.any():
        return chunk
    valid = ~missing
    if chunk.null_count:
        valid &= chunk.is_valid().to_numpy(zero_copy_only=False)
    # Bitmap bits count from the buffers' start, so pad for the chunk's offset.
    padded = np.concatenate([np.ones(chunk.offset, dtype=bool), valid])
    bitmap = pa.py_buffer(np.packbits(padded, bitorder="little"))
    buffers = chunk.buffers()
    nulls = int(valid.size - np.count_nonzero(valid))
    return pa.Array.from_buffers(chunk.type, len(chunk), [bitmap, *buffers[1:]], null_count=nulls, offset=chunk.offset)


def _valid(column: pa.ChunkedArray) -> np.ndarray | bool:
    return column.is_valid().to_numpy() if column.null_count else True


# --- per-column inference ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _ColumnContext:
    rules: _MissingRules
    infer_numbers: bool
    delimiter: str | None


@dataclass
class _ColumnResult:
    values: pa.ChunkedArray
    notes: Notes
    dot_groups: str | None = None  # read with '.' as the decimal mark, but every value could group thousands


_SAMPLE_VALUES = 256
# Anything the number parsers below could accept; a value outside this is text for certain.
_NUMBER_LIKE = re.compile(r"[+-]?(?:\d[\d,.]*|[.,]\d[\d,.]*|inf(?:inity)?|nan)(?:[eE][+-]?\d+)?", re.IGNORECASE)
_PLAIN_INT = re.compile(r"-?\d+")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _infer_column(column: pa.ChunkedArray, column_name: str, given_nulls: int, context: _ColumnContext):
    """Trim, find missing values and numbers in one column; return a _ColumnResult."""
    notes = Notes()
    if not pa.types.is_large_string(column.type):
        return _ColumnResult(_finish_typed(column, column_name, notes), notes)
    spelled = column.null_count - given_nulls  # always-missing cells, marked null while reading
    sample = [value for value in column.slice(0, _SAMPLE_VALUES).to_pylist() if value is not None]
    clean = _parse_clean_numbers(column, sample, column_name, notes) if context.infer_numbers else None
    if clean is not None:
        _note_missing(notes, column_name, context.rules, spelled, {})
        return _ColumnResult(clean, notes, _dot_groups_example(column, clean, sample, context))
    values = _infer_text_or_numbers(column, sample, spelled, column_name, context, notes)
    return _ColumnResult(values, notes, _dot_groups_example(column, values, sample, context))


_DOT_GROUPS = r"[+-]?[1-9]\d{0,2}(?:\.\d{3})+"  # a leading 0 group (0.406) never groups thousands
_DOT_GROUPS_OR_WHOLE = re.compile(rf"\s*(?:{_DOT_GROUPS}|[+-]?\d+|NA|\?|-)?\s*")


def _dot_groups_example(column: pa.ChunkedArray, values: pa.ChunkedArray, sample: list[str], context) -> str | None:
    """A value such as '12.500' when every value of a float column read with '.' as the decimal mark
    could instead group thousands with '.' ('12.500' = 12500), in a file that may use decimal commas."""
    if context.delimiter in (",", None) or not pa.types.is_floating(values.type):
        return None
    if not all(_DOT_GROUPS_OR_WHOLE.fullmatch(value) for value in sample):
        return None
    valid = column.filter(column.is_valid()) if column.null_count else column
    pattern = f"^\\s*(?:{_DOT_GROUPS}|[+-]?\\d+|NA|\\?|-)?\\s*$"
    if not pc.all(pc.match_substring_regex(valid, pattern)).as_py():
        return None
    dotted = valid.filter(pc.match_substring(valid, "."))
    return dotted[0].as_py().strip() if len(dotted) else None


def _parse_clean_numbers(column, sample: list[str], column_name: str, notes: Notes) -> pa.ChunkedArray | None:
    """Fast path for a column of plain numbers: cast first, check afterwards (None: take the full path).

    A successful cast proves there is nothing to trim and no ambiguous missing value. Spellings such
    as "NAN" that the float cast turns into NaN send the column down the full path.
    """
    if not sample or not all(_PLAIN_NUMBER.fullmatch(value) for value in sample):
        return None
    kinds = [pa.int64(), pa.float64()] if all(_PLAIN_INT.fullmatch(value) for value in sample) else [pa.float64()]
    numbers = _try_casts(column, kinds)
    if numbers is None or (pa.types.is_floating(numbers.type) and np.isnan(_numpy(numbers, 0.0)).any()):
        return None
    accepted = _accept_numbers(column, numbers, column_name, notes)
    return column if accepted is None else accepted  # kept as text: already clean


def _try_casts(values: pa.ChunkedArray, kinds: list[pa.DataType]) -> pa.ChunkedArray | None:
    for kind in kinds:
        try:
            return pc.cast(values, kind)
        except pa.ArrowInvalid:
            continue
    return None


def _infer_text_or_numbers(column, sample, spelled: int, column_name: str, context: _ColumnContext, notes: Notes):
    rules = context.rules
    column, changed = _trim(column, column_name, notes)
    if changed.size:
        # " N/A " is missing once trimmed; unchanged cells were already looked at while reading.
        revealed = changed[_numpy(pc.is_in(column.take(changed), pa.array(rules.always, pa.large_string())), False)]
        column, spelled = _with_nulls(column, revealed), spelled + revealed.size
    ambiguous = _find_spelled(column, rules.ambiguous)
    screen = _number_screen(column, sample, ambiguous, rules) if context.infer_numbers else None
    if screen is not None:
        parsed = _parse_numbers(column, ambiguous, screen, column_name, context, notes)
        if parsed is not None:
            _note_missing(notes, column_name, rules, spelled, ambiguous.counts)
            return parsed
    _note_missing(notes, column_name, rules, spelled, {})
    _warn_ambiguous_kept(notes, column_name, ambiguous.counts)
    return column


def _trim(column: pa.ChunkedArray, column_name: str, notes: Notes) -> tuple[pa.ChunkedArray, np.ndarray]:
    """Return the column trimmed of surrounding whitespace, and the positions of the cells that changed."""
    suspects = [_chunk_trim_suspects(chunk) for chunk in column.chunks]
    if not any(edges for edges, _ in suspects):
        return column, _NO_POSITIONS
    # Only non-ASCII text can hold Unicode spaces; the ASCII trim is faster.
    ascii_only = not any(wide for _, wide in suspects)
    trimmed = pc.ascii_trim_whitespace(column) if ascii_only else pc.utf8_trim_whitespace(column)
    # Null slots may keep old bytes, so only valid cells count.
    changed = np.flatnonzero((_cell_lengths(column) != _cell_lengths(trimmed)) & _valid(column))
    if not changed.size:
        return column, _NO_POSITIONS
    notes.changes.append(_trimmed_change(column_name, int(changed.size)))
    return trimmed, changed


def _trimmed_change(column_name: str, count: int) -> Change:
    return Change("trimmed", column_name, count, f"Trimmed surrounding spaces in {_cells(count)} of {column_name!r}.")


def _cells(count: int) -> str:
    return count_of(count, "cell")


def count_of(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _chunk_trim_suspects(chunk: pa.Array) -> tuple[bool, bool]:
    """Whether any cell of the chunk may start or end with whitespace, and whether it has non-ASCII bytes.

    First scans the chunk's characters once: most columns have no whitespace or non-ASCII byte at
    all. Only then are the first and last bytes of each cell looked at. Non-ASCII bytes may belong to
    Unicode spaces, so they count as suspect and the real trim decides.
    """
    offsets, data = _string_buffers(chunk)
    used = data[offsets[0] : offsets[-1]]
    if not _any_suspect(used):
        return False, False
    nonempty = offsets[1:] > offsets[:-1]
    first = data.take(offsets[:-1][nonempty], mode="clip")
    last = data.take(offsets[1:][nonempty] - 1, mode="clip")
    edges = bool(_SUSPECT_BYTE[first].any() or _SUSPECT_BYTE[last].any())
    return edges, bool(edges and (used >= 0x80).any())


_SUSPECT_BYTE = np.ones(256, dtype=bool)
_SUSPECT_BYTE[ord("!") : 0x7F] = False  # printable ASCII is never whitespace


def _any_suspect(data: np.ndarray) -> bool:
    # One comparison finds bytes below '!' (whitespace, controls) and from DEL up (non-ASCII): the
    # subtraction wraps the low ones round to the top of the uint8 range.
    return bool((np.subtract(data, 0x21, dtype=np.uint8) >= 0x5E).any())


def _string_buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and the whole character buffer of a large_string chunk, as numpy views (no copies).

    Offsets index into the buffer directly; a sliced chunk's cells need not start at byte 0.
    """
    buffers = chunk.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64, count=chunk.offset + len(chunk) + 1)[chunk.offset :]
    if buffers[2] is None:
        return offsets, np.empty(0, np.uint8)
    return offsets, np.frombuffer(buffers[2], dtype=np.uint8)


def _cell_lengths(column: pa.ChunkedArray) -> np.ndarray:
    """Byte length of every cell, straight from the offsets (no copy of the strings, no null handling)."""
    lengths, _ = _leading_bytes(column, 0)
    return lengths


def _leading_bytes(column: pa.ChunkedArray, count: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Byte lengths of the cells, and their first `count` bytes (past a cell's end: whatever follows).

    Writes into arrays allocated once per column: fresh numpy temporaries per chunk cost more in
    page faults than the arithmetic itself.
    """
    size = len(column)
    lengths = np.empty(size, dtype=np.int32)
    leads = [np.zeros(size, dtype=np.uint8) for _ in range(count)]
    position = 0
    for chunk in column.chunks:
        offsets, data = _string_buffers(chunk)
        end = position + len(chunk)
        np.subtract(offsets[1:], offsets[:-1], out=lengths[position:end], casting="unsafe")
        for k, lead in enumerate(leads):
            if data.size > k:
                data[k:].take(offsets[:-1], out=lead[position:end], mode="clip")
        position = end
    return lengths, leads


def _number_screen(column: pa.ChunkedArray, sample: list[str], ambiguous: _Spelled, rules: _MissingRules):
    """Screen the first values: None when they prove the column is text, else whether they are all
    whole numbers (so that an integer cast is worth trying)."""
    spellings = {*rules.always, *rules.ambiguous}
    values = [value.strip() for value in sample if value.strip() not in spellings]
    if not all(_NUMBER_LIKE.fullmatch(value) for value in values):
        return None
    if column.null_count + ambiguous.positions.size >= len(column):
        return None  # no number at all: a column of only "NA" is text
    return all(_PLAIN_INT.fullmatch(value) for value in values)


def _note_missing(notes: Notes, column_name: str, rules: _MissingRules, spelled: int, ambiguous: dict) -> None:
    total = spelled + sum(ambiguous.values())
    if not total:
        return
    how = MISSING_SPELLED_WITH_NA_VALUES if rules.user else MISSING_SPELLED
    if not ambiguous:
        detail = MISSING_NOTE.format(cells=_cells(total), column=column_name, how=how)
    else:
        parts = [f"{spelled:,} {how}"] if spelled else []
        parts += [f"{s!r} ({n:,})" for s, n in ambiguous.items()]
        spellings = and_list([repr(s) for s in ambiguous])
        verb = "counts" if len(ambiguous) == 1 else "count"
        detail = MISSING_AMBIGUOUS_NOTE.format(
            cells=_cells(total), column=column_name, parts=", ".join(parts), spellings=spellings, verb=verb
        )
    notes.changes.append(Change("missing", column_name, total, detail))


def _warn_ambiguous_kept(notes: Notes, column_name: str, ambiguous: dict) -> None:
    if not ambiguous:
        return
    spelled = ", ".join(f"{s!r} ({n:,})" for s, n in ambiguous.items())
    total = sum(ambiguous.values())
    message = AMBIGUOUS_KEPT.format(cells=_cells(total), column=column_name, spellings=spelled)
    # na_values applies to every column, so the remedy names no column.
    notes.warnings.append(Notice(message, Remedy("na_values", list(ambiguous))))


# --- numbers ----------------------------------------------------------------------------------------

_EXACT_FLOAT_LIMIT = 2**53
_THOUSANDS = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_DECIMAL_COMMA = r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?"
_WHOLE_NUMBER = re.compile(r"[+-]?\d+")


def _parse_numbers(values, ambiguous: _Spelled, integers: bool, column_name: str, context, notes: Notes):
    """Return the column as int64/float64, or None when it stays text (with the reason noted)."""
    values = _with_nulls(values, ambiguous.positions)
    numbers = _try_casts(values, [pa.int64(), pa.float64()] if integers else [pa.float64()])
    if numbers is not None:
        return _accept_numbers(values, numbers, column_name, notes)
    return _parse_separated(values, column_name, context, notes)


def _accept_numbers(values: pa.ChunkedArray, numbers: pa.ChunkedArray, column_name: str, notes: Notes):
    """Return `numbers`, or None (noting why) when the column must stay text."""
    reason = _text_reason(values, numbers)
    if reason is None:
        return numbers
    template, positions = reason
    example = values[int(positions[0])].as_py()
    detail = template.format(column=column_name, count=positions.size, example=example)
    notes.changes.append(Change("kept_text", column_name, int(positions.size), detail))
    return None


def _text_reason(values: pa.ChunkedArray, numbers: pa.ChunkedArray) -> tuple[str, np.ndarray] | None:
    """Why numbers that parsed must stay text (a message template and the offending positions)."""
    if pa.types.is_integer(numbers.type):
        checks = [(KEPT_LEADING_ZERO, lambda: _leading_zero_positions(values))]
        if numbers.null_count:
            checks.append((KEPT_INEXACT, lambda: _inexact_positions(numbers)))
    else:
        floats = _numpy(numbers, 0.0)
        checks = [
            (KEPT_NOT_FINITE, lambda: _not_finite_positions(floats)),
            (KEPT_LEADING_ZERO, lambda: _leading_zero_positions(values)),
            (KEPT_BEYOND_INT64, lambda: _whole_numbers_beyond_int64(values, floats)),
        ]
    for template, find in checks:
        positions = find()
        if positions.size:
            return template, positions
    return None


_FOLLOWS_ZERO_IN_NUMBERS = np.zeros(256, dtype=bool)
_FOLLOWS_ZERO_IN_NUMBERS[[ord("."), ord("e"), ord("E")]] = True


def _leading_zero_positions(values: pa.ChunkedArray) -> np.ndarray:
    """Positions of values like '007', '-01' or '0x1F': a sign, a zero, then not '.', 'e' or the end."""
    found, start = [], 0
    for chunk in values.chunks:
        hits = _chunk_leading_zeros(*_string_buffers(chunk))
        if chunk.null_count and hits.size:
            hits = hits[chunk.is_valid().to_numpy(zero_copy_only=False)[hits]]
        found.append(hits + start)
        start += len(chunk)
    return np.concatenate(found) if found else _NO_POSITIONS


def _chunk_leading_zeros(offsets: np.ndarray, data: np.ndarray) -> np.ndarray:
    # Chunk by chunk, so the temporaries stay small enough to live in cache. Bytes read past a
    # cell's end (clipped reads, the next cell's bytes) are ruled out by the cell's length.
    if data.size == 0:
        return _NO_POSITIONS
    starts = offsets[:-1]
    first = data.take(starts, mode="clip")
    zero = first == ord("0")
    signed = (first == ord("-")) | (first == ord("+"))
    if not zero.any() and not signed.any():
        return _NO_POSITIONS
    lengths = offsets[1:] - starts
    second = data[1:].take(starts, mode="clip") if data.size > 1 else first
    leading = zero & (lengths > 1) & ~_FOLLOWS_ZERO_IN_NUMBERS[second]
    signs = np.flatnonzero(signed)
    if signs.size:
        third = data[2:].take(starts[signs], mode="clip") if data.size > 2 else first[signs]
        leading[signs] = (second[signs] == ord("0")) & (lengths[signs] > 2) & ~_FOLLOWS_ZERO_IN_NUMBERS[third]
    return np.flatnonzero(leading)


def _not_finite_positions(floats: np.ndarray) -> np.ndarray:
    if np.isfinite(floats).all():
        return _NO_POSITIONS
    return np.flatnonzero(~np.isfinite(floats))


def _inexact_positions(numbers: pa.ChunkedArray) -> np.ndarray:
    return np.flatnonzero(np.abs(_numpy(numbers, 0)).view(np.uint64) > _EXACT_FLOAT_LIMIT)


def _whole_numbers_beyond_int64(values: pa.ChunkedArray, floats: np.ndarray) -> np.ndarray:
    if max(-floats.min(), floats.max()) < 2.0**63:
        return _NO_POSITIONS
    beyond = np.flatnonzero(np.abs(floats) >= 2.0**63)
    texts = values.take(beyond).to_pylist()
    return beyond[[bool(_WHOLE_NUMBER.fullmatch(text)) for text in texts]]


def _parse_separated(values: pa.ChunkedArray, column_name: str, context: _ColumnContext, notes: Notes):
    """Parse numbers written with thousands separators or decimal commas, when unambiguous."""
    valid = values.filter(values.is_valid()) if values.null_count else values
    with_comma = valid.filter(pc.match_substring(valid, ","))
    if len(with_comma) == 0:
        return _parse_dot_groups(values, valid, column_name, context, notes)
    thousands = bool(pc.all(pc.match_substring_regex(valid, f"^{_THOUSANDS}$")).as_py())
    decimal = bool(pc.all(pc.match_substring_regex(valid, f"^{_DECIMAL_COMMA}$")).as_py())
    example = with_comma[0].as_py()
    comma_file = context.delimiter in (",", None)
    if thousands and decimal and not comma_file:
        notes.warnings.append(COMMA_AMBIGUOUS.format(column=column_name, example=example))
        notes.maybe_decimal_comma = True
        return None
    if thousands:
        cleaned = pc.replace_substring(values, ",", "")
        return _separated_result(cleaned, "thousands", len(with_comma), column_name, notes)
    if decimal and comma_file:
        notes.warnings.append(COMMA_DECIMAL_UNSURE.format(column=column_name, example=example))
        return None
    if decimal:
        cleaned = pc.replace_substring(pc.replace_substring(values, ".", ""), ",", ".")
        return _separated_result(cleaned, "decimal_comma", len(with_comma), column_name, notes)
    return None


def _parse_dot_groups(values, valid, column_name: str, context: _ColumnContext, notes: Notes):
    """'1.234.567' can only group thousands with '.': parse such a column in a file that may use decimal commas."""
    if context.delimiter in (",", None):
        return None
    if not pc.all(pc.match_substring_regex(valid, f"^(?:{_DOT_GROUPS}|[+-]?\\d+)$")).as_py():
        return None
    settled = valid.filter(pc.match_substring_regex(valid, r"\.\d{3}\."))
    if len(settled) == 0:
        return None  # only values like '12.500': decided with the other columns (_keep_dot_groups_as_text)
    dotted = int(pc.sum(pc.match_substring(valid, ".")).as_py())
    cleaned = pc.replace_substring(values, ".", "")
    return _separated_result(cleaned, "thousands_dot", dotted, column_name, notes)


_SEPARATOR_NAMES = {
    "thousands": "thousands separators",
    "decimal_comma": "decimal commas",
    "thousands_dot": "'.' as the thousands separator",
}


def _separated_result(cleaned, kind: str, count: int, column_name: str, notes: Notes):
    numbers = _try_casts(cleaned, [pa.int64(), pa.float64()])
    if numbers is None:
        return None
    accepted = _accept_numbers(cleaned, numbers, column_name, notes)
    if accepted is not None:
        detail = f"Parsed {column_name!r} as numbers with {_SEPARATOR_NAMES[kind]} ({_cells(count)})."
        notes.changes.append(Change(kind, column_name, count, detail))
    return accepted


# --- typed (Parquet) columns ------------------------------------------------------------------------


def _finish_typed(column: pa.ChunkedArray, column_name: str, notes: Notes) -> pa.ChunkedArray:
    """Bring a typed numeric column to int64/float64, never holding an infinity."""
    if pa.types.is_integer(column.type):
        return _finish_integers(column, column_name, notes)
    floats = column.cast(pa.float64())
    infinite = pc.fill_null(pc.is_inf(floats), False)
    count = int(pc.sum(infinite).as_py() or 0)
    if not count:
        return floats
    notes.changes.append(_infinite_change(column_name, count))
    return pc.if_else(infinite, pa.scalar(None, pa.float64()), floats)


def _infinite_change(column_name: str, count: int) -> Change:
    detail = f"Treated {_cells(count)} of {column_name!r} holding an infinite value as missing."
    return Change("infinite", column_name, count, detail)


def _finish_integers(column: pa.ChunkedArray, column_name: str, notes: Notes) -> pa.ChunkedArray:
    low, high = (-_EXACT_FLOAT_LIMIT, _EXACT_FLOAT_LIMIT) if column.null_count else (-(2**63), 2**63 - 1)
    smallest, largest = pc.min(column).as_py(), pc.max(column).as_py()
    if largest is None or (low <= smallest and largest <= high):
        return column.cast(pa.int64())
    example = largest if largest > high else smallest
    detail = KEPT_WIDE_INTEGERS.format(column=column_name, example=example)
    notes.changes.append(Change("kept_text", column_name, len(column) - column.null_count, detail))
    return column.cast(pa.large_string())
