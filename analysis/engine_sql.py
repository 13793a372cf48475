"""What engines that count with SQL share: sources as files, hashes, the score's anchor, exact quantiles.

Pure Python (numpy and pandas only), so that an engine's semantics do not depend on which
database did the counting:

- a source path is a file, a folder (its data files, recursively, skipping names starting with
  ``.`` or ``_`` such as ``_SUCCESS``) or a glob; it matching nothing is an error;
- one file's SHA-256 is that of its bytes; several files' is that of the sorted lines
  ``relative-name\\tsha256\\n`` (names relative to the folder they share, with ``/``);
- a score is rounded down on a grid anchored at the spec's threshold when the decision is taken
  from the score, else at 0 (:func:`score_anchor`);
- quantile edges equal :func:`numpy.quantile` (linear): an engine finds the two order statistics
  around each edge (:func:`quantile_ranks`) and :func:`interpolate` combines them with numpy's arithmetic.
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.errors import LoadError

if TYPE_CHECKING:
    from analysis.spec import AuditSpec

__all__ = [
    "DATA_SUFFIXES",
    "QuantileRank",
    "SourceFiles",
    "counted_sha256",
    "file_sha256",
    "files_sha256",
    "first_line",
    "interpolate",
    "quantile_ranks",
    "regroup",
    "score_anchor",
    "source_files",
]

DATA_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".txt": "csv"}
_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4", ".snappy", ".deflate")
_PARQUET_MAGIC = b"PAR1"
WEIGHT = "__rows__"

NOTHING_MATCHES = "{source!r} matches no file{where}. Check the path, or the pattern's folder and spelling."
EMPTY_FOLDER = (
    "The folder {source!r} holds no data file (.parquet, .csv or .tsv). Check the folder, or name the files with a "
    "pattern such as {example!r}."
)
MIXED_FORMATS = (
    "{source!r} holds both Parquet and CSV files ({parquet} and {csv}); one source is read in one format. "
    "Name the files of one format, e.g. {example!r}."
)
UNKNOWN_FORMAT = (
    "Cannot tell the format of {path!r}: expected a .parquet, .csv or .tsv file. Rename it, or convert it to Parquet."
)


@dataclass(frozen=True)
class SourceFiles:
    """The data files a path, folder or glob names, their shared folder and their format."""

    paths: tuple[str, ...]
    root: str
    format: str  # "parquet" or "csv"

    @property
    def name(self) -> str:
        """A name for messages and the report: the file's, else the folder's."""
        if len(self.paths) == 1:
            return os.path.basename(self.paths[0])
        return os.path.basename(os.path.normpath(self.root)) or self.root

    def relative(self, path: str) -> str:
        """``path`` relative to the shared folder, with ``/``."""
        return os.path.relpath(path, self.root).replace(os.sep, "/")


def source_files(source: str | os.PathLike[str]) -> SourceFiles:
    """Resolve a path, folder or glob to its data files, sorted; raise :class:`LoadError` when none match."""
    text = os.fspath(source)
    if os.path.isdir(text):
        paths = [p for p in _walk(text) if _format_of(p, strict=False)]
        if not paths:
            raise LoadError(EMPTY_FOLDER.format(source=text, example=os.path.join(text, "*.parquet")))
        root = text
    elif os.path.isfile(text):
        paths, root = [text], os.path.dirname(text) or "."
    else:
        paths = sorted(p for p in glob.glob(text, recursive=True) if os.path.isfile(p) and not _hidden(p))
        if not paths:
            folder = os.path.dirname(text)
            where = f" (the folder {folder!r} does not exist)" if folder and not os.path.isdir(folder) else ""
            raise LoadError(NOTHING_MATCHES.format(source=text, where=where))
        root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])
    formats = {p: _format_of(p) for p in paths}
    kinds = set(formats.values())
    if len(kinds) > 1:
        parquet = next(p for p, k in formats.items() if k == "parquet")
        csv = next(p for p, k in formats.items() if k == "csv")
        example = os.path.join(root, "*.parquet")
        raise LoadError(MIXED_FORMATS.format(source=text, parquet=parquet, csv=csv, example=example))
    return SourceFiles(tuple(paths), root, kinds.pop())


def _walk(folder: str) -> list[str]:
    found = []
    for top, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        found += [os.path.join(top, f) for f in sorted(files) if not f.startswith((".", "_"))]
    return found


def _hidden(path: str) -> bool:
    return os.path.basename(path).startswith((".", "_"))


def _format_of(path: str, *, strict: bool = True) -> str | None:
    name = path.lower()
    for suffix in _COMPRESSED:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    kind = DATA_SUFFIXES.get(os.path.splitext(name)[1])
    if kind is None and os.path.splitext(name)[1] in ("", ".crc") and not name.endswith(".crc"):
        with open(path, "rb") as handle:  # Spark's part files: part-00000-…-c000 without a suffix
            kind = "parquet" if handle.read(4) == _PARQUET_MAGIC else None
    if kind is None and strict:
        raise LoadError(UNKNOWN_FORMAT.format(path=path))
    return kind


def file_sha256(path: str) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_sha256(files: SourceFiles) -> str:
    """One file: the SHA-256 of its bytes; several: of the sorted lines ``relative-name\\tsha256\\n``."""
    if len(files.paths) == 1:
        return file_sha256(files.paths[0])
    lines = sorted(f"{files.relative(p)}\t{file_sha256(p)}\n" for p in files.paths)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def counted_sha256(frame: pd.DataFrame, weights: np.ndarray) -> str:
    """SHA-256 of a counted table (its CSV text with the weights as a last column): for a source that is no file."""
    table = frame.copy()
    table[WEIGHT] = np.asarray(weights, dtype=np.int64)
    return hashlib.sha256(table.to_csv(index=False, lineterminator="\n").encode("utf-8")).hexdigest()


def score_anchor(spec: AuditSpec) -> float:
    """Where the score's grid is anchored: the threshold when it takes the decision (no decision column), else 0."""
    if spec.decision is None and spec.threshold is not None:
        return float(spec.threshold)
    return 0.0


@dataclass(frozen=True)
class QuantileRank:
    """The order statistics (0-based ranks among ``n`` sorted values) around one linear quantile."""

    below: int
    above: int
    gamma: float


def quantile_ranks(n: int, quantiles: int) -> list[QuantileRank]:
    """For ``n`` values, the ranks :func:`numpy.quantile` (linear) interpolates between for each inner edge."""
    probabilities = np.linspace(0, 1, quantiles + 1)[1:-1]
    virtual = (n - 1) * probabilities
    ranks = []
    for index in virtual:
        if index >= n - 1:
            ranks.append(QuantileRank(n - 1, n - 1, 0.0))
            continue
        below = int(np.floor(index))
        ranks.append(QuantileRank(below, below + 1, float(index - below)))
    return ranks


def interpolate(below: float, above: float, gamma: float) -> float:
    """numpy's linear interpolation between two order statistics, with its rounding (``numpy._lerp``)."""
    a, b, t = np.float64(below), np.float64(above), np.float64(gamma)
    diff = b - a
    return float(b - diff * (1 - t) if t >= 0.5 else a + diff * t)


def regroup(frame: pd.DataFrame, weights: np.ndarray, dtypes: Any = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Merge rows of a counted table that became equal (after typing), summing their weights, sorted as
    :func:`analysis.engine.compress` sorts; columns keep ``dtypes`` (default: the frame's) where nothing is missing."""
    names = list(frame.columns)
    dtypes = frame.dtypes if dtypes is None else dtypes
    table = frame.copy()
    table[WEIGHT] = np.asarray(weights, dtype=np.int64)
    if not names:
        return frame.iloc[:0], np.zeros(0, np.int64)
    counted = table.groupby(names, dropna=False, sort=True, observed=True)[WEIGHT].sum().reset_index()
    out = counted.pop(WEIGHT).to_numpy(dtype=np.int64)
    for name in names:
        if counted[name].dtype != dtypes[name] and not counted[name].isna().any():
            counted[name] = counted[name].astype(dtypes[name])
    return counted, out


def first_line(message: Any) -> str:
    """The first non-empty line of an error message (a database's message, without its plan or stack trace)."""
    for line in str(message).splitlines():
        if line.strip():
            return line.strip()
    return type(message).__name__
