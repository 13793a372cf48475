"""The AuditSpec: which column is the decision, which values are favourable, who is protected.

One contract shared by the app, the CLI and the library. It is a frozen dataclass that
round-trips through JSON (``to_dict``/``from_dict``, ``save``/``load``). Whether it fits
a given table is answered by :func:`analysis.validation.validate_spec`.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from difflib import get_close_matches
from typing import Any

from analysis.errors import SpecError
from analysis.options import MIN_GROUP_SIZE
from analysis.values import Scalar, value_key
from analysis.wording import Remedy

__all__ = ["SPEC_SCHEMA_VERSION", "AuditSpec", "ProtectedAttribute"]

SPEC_SCHEMA_VERSION = 1
# A spec is a few kilobytes; a cap keeps a wrong file (a data file, a dump) from being parsed at all.
MAX_SPEC_BYTES = 5_000_000
# The deepest a spec nests: {"protected": [{"bins": [25]}]} is 4 levels (object, list, object, list).
MAX_SPEC_DEPTH = 4
SHOWN_CHARS = 60
SHOWN_UNKNOWN = 5

NOT_A_MAPPING = "A spec must be a JSON object (mapping of field names to values), got {kind}."
UNKNOWN_FIELDS = "Unknown spec field(s) {names}{hint}. Known fields: {known}."
WRONG_TYPE = "Spec field '{name}' must be {expected}, got {got}."
NEEDS_DECISION = (
    "The spec names neither a decision column nor a score column. Name the decision column, "
    "or a score column with a threshold."
)
SPEC_TOO_LARGE = (
    "The spec {what} is {size:,} bytes; a spec is a few kilobytes and at most {limit:,} bytes are read. "
    "Is this the spec file? Save the spec again from ParityLab."
)
SPEC_TOO_DEEP = (
    "The spec nests values more than {limit} levels deep{where}; the deepest a spec goes is a "
    'protected attribute\'s bins, e.g. "protected": [{{"column": "age", "bins": [25, 40, 60]}}].'
)
SPEC_NOT_TEXT = (
    "The spec file is not text in UTF-8, UTF-16 or Windows-1252 (byte {byte} at position {position:,} "
    "cannot be read). Save it as UTF-8 JSON."
)
SPEC_NOT_JSON = (
    "The spec is not valid JSON ({problem}). Check the file around that position, or save it again from ParityLab."
)
SPEC_EMPTY = (
    'The spec is empty; expected a JSON object such as {"decision": "approved", "positive": ["Y"], '
    '"protected": ["gender"]}. Save the spec again from ParityLab.'
)
SPEC_SCHEMA = (
    "This spec has schema_version {got}; this version of ParityLab reads version {expected}. "
    "Save the spec again with this version of ParityLab."
)
WRONG_BINS = "The bins of protected attribute '{column}' must be {expected}, e.g. [25, 40, 60]; got {got}."
BINS_NOT_INCREASING = (
    "The bins of protected attribute '{column}' must be edges in increasing order without repeats, "
    "e.g. [25, 40, 60]; got {got}. Sort them and drop repeats."
)
NOT_AN_INTERSECTION = (
    "Spec field 'intersections' must be a list of lists of at least two protected columns, "
    'e.g. [["ethnicity", "gender"]]; got {got}.'
)
BAD_SHA256 = (
    "Spec field 'dataset_sha256' must be the SHA-256 of the data file (64 hexadecimal characters), got {got}. "
    "Remove the field, or save the spec again from ParityLab."
)
BAD_ORDER = (
    "Spec field 'decision_order' must be a list of the decision column's values, lowest first, e.g. "
    '["Low", "Medium", "High"], or [] when they have no order; got {got}.'
)
ORDER_REPEATS = (
    "Spec field 'decision_order' names {value} more than once; name each value of the decision column once, "
    "lowest first."
)
ORDER_WITHOUT_DECISION = (
    "Spec field 'decision_order' orders the values of the decision column, but the spec names no decision column. "
    "Remove 'decision_order', or name the decision column."
)
BINS_AND_QUANTILES = (
    "Protected attribute '{column}' has both 'bins' and 'quantiles'; choose one "
    "(bins are fixed edges such as [25, 40, 60]; quantiles is a number of equal-size groups)."
)


def _shown(value: object) -> str:
    """A value for a message: its repr, cut short (a hand-edited spec may hold anything)."""
    try:
        text = repr(value)
    except RecursionError:  # a structure nested past Python's limit
        return "a deeply nested value"
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _is_scalar(value: object) -> bool:
    return isinstance(value, (str, int, float, bool)) and not (isinstance(value, float) and not math.isfinite(value))


def _scalars(name: str, values: object) -> tuple[Scalar, ...]:
    """Normalise a value list: trimmed text, no repeats (by canonical key), order kept."""
    if values is None:
        return ()
    if _is_scalar(values):
        values = [values]
    if not isinstance(values, Iterable) or isinstance(values, Mapping):
        raise SpecError(WRONG_TYPE.format(name=name, expected="a list of values", got=_shown(values)))
    out: list[Scalar] = []
    seen: set[str | None] = set()
    for value in values:
        if not _is_scalar(value):
            raise SpecError(WRONG_TYPE.format(name=name, expected="a list of text or numbers", got=_shown(value)))
        key = value_key(value)
        if key in seen or key in (None, ""):
            continue
        seen.add(key)
        out.append(value.strip() if isinstance(value, str) else value)
    return tuple(out)


def _order(value: object) -> tuple[str, ...] | None:
    """A decision order: None (recognise it), () (no order) or distinct values, lowest first (as canonical text)."""
    if value is None:
        return None
    if isinstance(value, (str, Mapping)) or not isinstance(value, Iterable):
        raise SpecError(BAD_ORDER.format(got=_shown(value)))
    out: list[str] = []
    for item in value:
        key = value_key(item) if _is_scalar(item) else None
        if not key:
            raise SpecError(BAD_ORDER.format(got=_shown(list(value) if not isinstance(value, list) else value)))
        if key in out:
            raise SpecError(ORDER_REPEATS.format(value=_shown(key)))
        out.append(key)
    return tuple(out)


def _sha256(value: object) -> str | None:
    if value is None:
        return None
    text = value.strip().lower() if isinstance(value, str) else ""
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise SpecError(BAD_SHA256.format(got=_shown(value)))
    return text


def _column(name: str, value: object, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SpecError(WRONG_TYPE.format(name=name, expected="a column name", got=_shown(value)))
    return value.strip()


def _columns(name: str, values: object) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, Iterable) or isinstance(values, Mapping):
        raise SpecError(WRONG_TYPE.format(name=name, expected="a list of column names", got=_shown(values)))
    out: list[str] = []
    for value in values:
        column = _column(name, value, optional=False)
        if column not in out:
            out.append(column)
    return tuple(out)


def _number(name: str, value: object, *, optional: bool = True) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(WRONG_TYPE.format(name=name, expected="a finite number", got=_shown(value)))
    return float(value)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(WRONG_TYPE.format(name=name, expected="a whole number of at least 1", got=_shown(value)))
    return value


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise SpecError(WRONG_TYPE.format(name=name, expected="true or false", got=_shown(value)))
    return value


def _edges(column: str, bins: object) -> tuple[float, ...]:
    """Bin edges: finite numbers in increasing order (checked here, so a hand-edited spec fails at once)."""
    if isinstance(bins, (str, bytes)) or not isinstance(bins, Iterable) or isinstance(bins, Mapping):
        raise SpecError(WRONG_BINS.format(column=column, expected="a list of numbers", got=_shown(bins)))
    edges = []
    for edge in bins:
        if isinstance(edge, bool) or not isinstance(edge, (int, float)) or not math.isfinite(edge):
            raise SpecError(WRONG_BINS.format(column=column, expected="finite numbers", got=_shown(list(bins))))
        edges.append(float(edge))
    if not edges:
        raise SpecError(WRONG_BINS.format(column=column, expected="at least one edge", got="[]"))
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise SpecError(BINS_NOT_INCREASING.format(column=column, got=_shown(list(bins))))
    return tuple(edges)


def _intersections(values: object) -> tuple[tuple[str, ...], ...]:
    if isinstance(values, (str, Mapping)) or not isinstance(values, Iterable):
        raise SpecError(NOT_AN_INTERSECTION.format(got=_shown(values)))
    out = []
    for names in values:
        if isinstance(names, (str, Mapping)) or not isinstance(names, Iterable):
            raise SpecError(NOT_AN_INTERSECTION.format(got=_shown(values)))
        columns = _columns("intersections", names)
        if len(columns) < 2:
            raise SpecError(NOT_AN_INTERSECTION.format(got=_shown(values)))
        out.append(columns)
    return tuple(out)


def _check_unknown(data: Mapping[str, Any], known: Sequence[str], where: str = "") -> None:
    unknown = sorted(set(data) - set(known))
    if not unknown:
        return
    shown = unknown[:SHOWN_UNKNOWN]
    close = [m for name in shown for m in get_close_matches(name, known, n=1)]
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    names = ", ".join(_shown(u) for u in shown)
    if len(unknown) > len(shown):
        names += f" and {len(unknown) - len(shown):,} more"
    raise SpecError(UNKNOWN_FIELDS.format(names=names + where, hint=hint, known=", ".join(known)))


@dataclass(frozen=True)
class ProtectedAttribute:
    """A protected attribute: a column, optional binning, optional reference group.

    Parameters
    ----------
    column
        Column holding the attribute (e.g. ``"gender"``, ``"age"``).
    bins
        Inner bin edges for a numeric column: ``(25, 40, 60)`` makes
        ``<25``, ``25–40``, ``40–60``, ``≥60`` (each bin includes its lower edge).
    quantiles
        Alternatively, the number of equal-frequency bins.
    reference
        The group others are compared with. Default: the group with the highest
        favourable rate among groups of at least the minimum size.
    """

    column: str
    bins: tuple[float, ...] | None = None
    quantiles: int | None = None
    reference: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "column", _column("protected.column", self.column, optional=False))
        if self.bins is not None:
            object.__setattr__(self, "bins", _edges(self.column, self.bins))
        if self.quantiles is not None:
            object.__setattr__(self, "quantiles", _positive_int("quantiles", self.quantiles))
        if self.bins is not None and self.quantiles is not None:
            raise SpecError(BINS_AND_QUANTILES.format(column=self.column))
        if self.reference is not None:
            reference = value_key(self.reference) if _is_scalar(self.reference) else None
            if not reference:
                got = _shown(self.reference)
                raise SpecError(WRONG_TYPE.format(name="reference", expected="a group name", got=got))
            object.__setattr__(self, "reference", reference)

    @property
    def binned(self) -> bool:
        """Whether the column is cut into bins."""
        return self.bins is not None or self.quantiles is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; omits unset options."""
        out: dict[str, Any] = {"column": self.column}
        if self.bins is not None:
            out["bins"] = [int(b) if b.is_integer() else b for b in self.bins]
        if self.quantiles is not None:
            out["quantiles"] = self.quantiles
        if self.reference is not None:
            out["reference"] = self.reference
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | str) -> ProtectedAttribute:
        """Build from a dict (or a bare column name)."""
        if isinstance(data, str):
            return cls(column=data)
        if not isinstance(data, Mapping):
            raise SpecError(WRONG_TYPE.format(name="protected", expected="a column name or object", got=_shown(data)))
        _check_unknown(data, [f.name for f in fields(cls)], where=" in a protected attribute")
        if "column" not in data:
            raise SpecError(WRONG_TYPE.format(name="protected.column", expected="a column name", got=None))
        return cls(**dict(data))


@dataclass(frozen=True)
class AuditSpec:
    """Which columns play which role in an audit.

    Parameters
    ----------
    decision
        Column holding the decision (e.g. ``"approved"``, ``"ai_priority"``).
    positive
        Decision values that count as the positive decision: ``("Y",)``, ``("P1", "P2")``.
    positive_is_favorable
        True when the positive decision benefits the person (an approval); False when it
        harms them (flagged as high risk).
    label, label_positive
        Optional column with the true outcome, and its positive values.
    score, threshold
        Optional score column (higher = more likely positive). Without a decision
        column, ``threshold`` turns the score into the decision (score ≥ threshold).
    protected
        Protected attributes, each a :class:`ProtectedAttribute`.
    features
        Columns that may explain decisions; None means every other column except IDs
        and PII.
    intersections
        Tuples of protected columns to audit jointly; None means every pair.
    id_columns, pii_columns
        Columns that identify people; never used as features, never exported by default.
    min_group_size
        Groups smaller than this are marked too small to conclude.
    max_levels
        More groups than this in an unbinned protected attribute is refused.
    dataset_sha256
        SHA-256 of the data file the spec was made on (the app's spec download and the ``suggest``
        command record it). Using the spec on other data is allowed, with a warning that names both.
    merge_variants
        Treat values of the decision, label and (unbinned) protected columns that differ only by letter
        case, spaces, invisible characters or Unicode form (``'Yes'``, ``'yes'``, ``'YES\\u200b'``) as one
        value, spelled as its most frequent spelling; validation lists every merge. Default False: they
        are different values, and validation warns about them.
    decision_order
        The decision's values lowest first (``("Low", "Medium", "High")``; ``("P4", "P3", "P2", "P1")``), shown
        in that order everywhere. None (the default) recognises the order from the values
        (:func:`analysis.ordering.recognize_order`); ``()`` says they have no order.
    """

    decision: str | None = None
    positive: tuple[Scalar, ...] = ()
    positive_is_favorable: bool = True
    label: str | None = None
    label_positive: tuple[Scalar, ...] = ()
    score: str | None = None
    threshold: float | None = None
    protected: tuple[ProtectedAttribute, ...] = ()
    features: tuple[str, ...] | None = None
    intersections: tuple[tuple[str, ...], ...] | None = None
    id_columns: tuple[str, ...] = ()
    pii_columns: tuple[str, ...] = ()
    min_group_size: int = MIN_GROUP_SIZE
    max_levels: int = 50
    dataset_sha256: str | None = None
    merge_variants: bool = False
    decision_order: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "decision", _column("decision", self.decision))
        set_(self, "label", _column("label", self.label))
        set_(self, "score", _column("score", self.score))
        set_(self, "positive", _scalars("positive", self.positive))
        set_(self, "label_positive", _scalars("label_positive", self.label_positive))
        set_(self, "positive_is_favorable", _flag("positive_is_favorable", self.positive_is_favorable))
        set_(self, "threshold", _number("threshold", self.threshold))
        set_(self, "protected", self._protected(self.protected))
        if self.features is not None:
            set_(self, "features", _columns("features", self.features))
        if self.intersections is not None:
            set_(self, "intersections", _intersections(self.intersections))
        set_(self, "id_columns", _columns("id_columns", self.id_columns))
        set_(self, "pii_columns", _columns("pii_columns", self.pii_columns))
        set_(self, "min_group_size", _positive_int("min_group_size", self.min_group_size))
        set_(self, "max_levels", _positive_int("max_levels", self.max_levels))
        set_(self, "dataset_sha256", _sha256(self.dataset_sha256))
        set_(self, "merge_variants", _flag("merge_variants", self.merge_variants))
        set_(self, "decision_order", _order(self.decision_order))
        if self.decision is None and self.score is None:
            raise SpecError(NEEDS_DECISION, remedy=Remedy("decision"))
        if self.decision is None and self.decision_order is not None:
            raise SpecError(ORDER_WITHOUT_DECISION, remedy=Remedy("decision"))

    @staticmethod
    def _protected(values: object) -> tuple[ProtectedAttribute, ...]:
        if isinstance(values, (str, ProtectedAttribute, Mapping)):
            values = [values]
        if not isinstance(values, Iterable):
            raise SpecError(WRONG_TYPE.format(name="protected", expected="a list of attributes", got=_shown(values)))
        out: list[ProtectedAttribute] = []
        for value in values:
            attr = value if isinstance(value, ProtectedAttribute) else ProtectedAttribute.from_dict(value)
            if attr.column not in [a.column for a in out]:
                out.append(attr)
        return tuple(out)

    @property
    def protected_columns(self) -> tuple[str, ...]:
        """The protected attributes' column names."""
        return tuple(a.column for a in self.protected)

    def attribute(self, column: str) -> ProtectedAttribute | None:
        """The protected attribute of ``column``, or None when it is not protected."""
        return next((a for a in self.protected if a.column == column), None)

    def role_columns(self) -> tuple[str, ...]:
        """Columns with a role other than feature: decision, label, score, protected, IDs, PII."""
        named = (self.decision, self.label, self.score, *self.protected_columns, *self.id_columns)
        return tuple(dict.fromkeys(c for c in (*named, *self.pii_columns) if c is not None))

    def feature_columns(self, columns: Iterable[str]) -> tuple[str, ...]:
        """The feature columns among ``columns``: the spec's list, or every column without a role."""
        columns = [str(c) for c in columns]
        if self.features is not None:
            return tuple(c for c in self.features if c in columns)
        taken = set(self.role_columns())
        return tuple(c for c in columns if c not in taken)

    def intersection_sets(self) -> tuple[tuple[str, ...], ...]:
        """Attribute tuples to audit jointly: the spec's list, else every pair."""
        if self.intersections is not None:
            return self.intersections
        cols = self.protected_columns
        return tuple((a, b) for i, a in enumerate(cols) for b in cols[i + 1 :])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict with every field (a stable, documented shape)."""
        return {
            "schema_version": SPEC_SCHEMA_VERSION,
            "decision": self.decision,
            "positive": list(self.positive),
            "positive_is_favorable": self.positive_is_favorable,
            "label": self.label,
            "label_positive": list(self.label_positive),
            "score": self.score,
            "threshold": self.threshold,
            "protected": [a.to_dict() for a in self.protected],
            "features": None if self.features is None else list(self.features),
            "intersections": None if self.intersections is None else [list(t) for t in self.intersections],
            "id_columns": list(self.id_columns),
            "pii_columns": list(self.pii_columns),
            "min_group_size": self.min_group_size,
            "max_levels": self.max_levels,
            "dataset_sha256": self.dataset_sha256,
            "merge_variants": self.merge_variants,
            "decision_order": None if self.decision_order is None else list(self.decision_order),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditSpec:
        """Build a spec from :meth:`to_dict` output (or a hand-written subset of it)."""
        if not isinstance(data, Mapping):
            raise SpecError(NOT_A_MAPPING.format(kind=type(data).__name__))
        version = data.get("schema_version", SPEC_SCHEMA_VERSION)
        if isinstance(version, bool) or version != SPEC_SCHEMA_VERSION:
            raise SpecError(SPEC_SCHEMA.format(got=_shown(version), expected=SPEC_SCHEMA_VERSION))
        known = [f.name for f in fields(cls)]
        data = {k: v for k, v in data.items() if k != "schema_version"}
        _check_unknown(data, known)
        return cls(**data)

    def to_json(self) -> str:
        """The spec as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> AuditSpec:
        """Parse a spec from JSON text, or from the bytes of a file in UTF-8 (with or without BOM), UTF-16,
        UTF-32 or Windows-1252; at most :data:`MAX_SPEC_BYTES`.

        Raises
        ------
        SpecError
            When the text is too large, not JSON, nested deeper than a spec goes, or not a spec.
        """
        if isinstance(text, (bytes, bytearray, memoryview)):
            text = _decode(bytes(text))
        if len(text) > MAX_SPEC_BYTES:
            raise SpecError(SPEC_TOO_LARGE.format(what="text", size=len(text.encode("utf-8")), limit=MAX_SPEC_BYTES))
        text = text.removeprefix("\ufeff")
        if not text.strip():
            raise SpecError(SPEC_EMPTY)
        try:
            data = json.loads(text)
        except RecursionError:
            raise SpecError(SPEC_TOO_DEEP.format(limit=MAX_SPEC_DEPTH, where="")) from None
        except ValueError as exc:
            raise SpecError(SPEC_NOT_JSON.format(problem=exc)) from exc
        _check_depth(data)
        return cls.from_dict(data)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the spec to a ``.json`` file."""
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AuditSpec:
        """Read a spec from a ``.json`` file."""
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_SPEC_BYTES + 1)  # never more: a huge file is refused without reading it
                size = os.fstat(handle.fileno()).st_size
        except OSError as exc:
            raise SpecError(f"Cannot read spec file '{path}': {exc.strerror}. Check the path.") from exc
        if len(data) > MAX_SPEC_BYTES:
            raise SpecError(SPEC_TOO_LARGE.format(what=f"file '{path}'", size=size, limit=MAX_SPEC_BYTES))
        try:
            return cls.from_json(data)
        except SpecError as exc:
            raise SpecError(f"{path}: {exc.message}", remedy=exc.remedy) from exc


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def _decode(data: bytes) -> str:
    """The text of a spec file as an editor saved it: a BOM decides; else UTF-16 by its NUL bytes, UTF-8, cp1252."""
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(SPEC_TOO_LARGE.format(what="file", size=len(data), limit=MAX_SPEC_BYTES))
    encodings = ["utf-8", "cp1252"]
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            data, encodings = data[len(bom) :], [encoding]
            break
    else:
        if b"\x00" in data[:64]:  # JSON text starts with ASCII: UTF-16 puts a NUL next to each such byte
            encodings = ["utf-16-le" if data[:1] != b"\x00" else "utf-16-be"]
    error: UnicodeDecodeError | None = None
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            error = error or exc
    assert error is not None
    byte = data[error.start : error.start + 1].hex()
    raise SpecError(SPEC_NOT_TEXT.format(byte=f"0x{byte}", position=error.start))


def _check_depth(data: object) -> None:
    """Refuse structures nested deeper than a spec goes, naming the top-level field."""
    if not isinstance(data, dict):
        return
    for name, value in data.items():
        stack = [(value, 2)]
        while stack:
            item, depth = stack.pop()
            children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
            for child in children:
                if isinstance(child, (dict, list)):
                    if depth + 1 > MAX_SPEC_DEPTH:
                        raise SpecError(SPEC_TOO_DEEP.format(limit=MAX_SPEC_DEPTH, where=f" in field {_shown(name)}"))
                    stack.append((child, depth + 1))
