"""The fairness audit: per-group rates, comparisons with a reference group, summaries and findings.

``audit(df, spec)`` returns an :class:`AuditResult`. Its ``to_dict()`` is ParityLab's public
JSON contract (``schema_version`` 1) and ``AuditResult.from_dict`` reads it back, so that
dump → load → dump is unchanged. The same data and spec give the same JSON, except
``created_at``. Layout::

    AuditResult
    ├── created_at         when the audit ran (UTC, ISO 8601); None in results saved before it was recorded
    ├── versions           ParityLab, Python and the libraries the audit used
    ├── engine             what counted the rows: "pandas", "duckdb" or "spark" (see analysis.engine)
    ├── dataset            DatasetInfo: name, rows, rows_audited, sha256, score_resolution
    ├── load               how the file was read (LoadReport: format, encoding, changes, warnings); None if not given
    ├── spec               the AuditSpec
    ├── options            AuditOptions: confidence, thresholds, minimum sizes
    ├── attributes         {column: AttributeAudit}
    ├── intersections      {"a × b": AttributeAudit}
    ├── skipped            metrics left out (no label / no score), with the reason
    ├── left_out           rows left out (missing decision / label / score), with the reason
    └── warnings           the spec validation's warnings

    AttributeAudit
    ├── groups             {group: GroupMetrics}: n, share, counts, rates and comparisons
    ├── summary            Summary: disparate_impact_min, four_fifths_pass, demographic parity, equalized odds
    ├── findings           plain sentences with their numbers and q-values
    ├── suppressed         intersection cells under the minimum cell size (not in groups)
    ├── calibration        observed label rate per score decile and group (score and label only)
    └── decision_distribution  share of every decision value per group (multi-valued decisions only)

Every number is computed from per-group counts (:mod:`analysis.counts`), with intervals and
tests from :mod:`analysis.stats`. An undefined value is ``{"value": null, "reason": ...}``;
no reported number is ever infinite or NaN.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.audit_json import check_audit_data, damaged, json_kind
from analysis.counts import (
    GroupCounts,
    Grouping,
    Outcomes,
    ScoreCounts,
    ScoredRows,
    count_groups,
    count_scores,
    count_values,
    intersect,
    outcomes,
    scored_rows,
)
from analysis.errors import ParityLabError, SpecError
from analysis.groups import MISSING_GROUP, GroupCodes, encode_groups
from analysis.metrics import (
    LABEL_COMPARISONS,
    LABEL_RATES,
    Counts,
    MetricTable,
    MetricValue,
    Summary,
    divide,
    evaluate,
    finite,
    rate_parts,
)
from analysis.options import (
    ALPHA,
    CONFIDENCE,
    FOUR_FIFTHS,
    GAP_THRESHOLD,
    MIN_CELL_SIZE,
    MIN_GROUP_SIZE,
    POWER,
    check_fraction,
    check_whole,
)
from analysis.ordering import decision_order, order_values
from analysis.spec import AuditSpec
from analysis.stats import (
    auc_by_group,
    benjamini_hochberg,
    hanley_mcneil_interval,
    katz_interval,
    minimum_detectable_difference,
    mover_average_interval,
    newcombe_interval,
    two_proportion_test,
    wilson_interval,
)
from analysis.validation import run_checks
from analysis.values import condition
from analysis.version import __version__
from analysis.wording import Notice
from analysis.words import DecisionWords, decision_words

if TYPE_CHECKING:
    from analysis.engine import CountedTable, ScoreResolution
    from analysis.loading import LoadReport
    from analysis.slices import SliceSearch

__all__ = [
    "AUDIT_SCHEMA_VERSION",
    "AttributeAudit",
    "AuditOptions",
    "AuditResult",
    "Calibration",
    "CalibrationBin",
    "DatasetInfo",
    "DecisionDistribution",
    "Finding",
    "GroupMetrics",
    "MetricValue",
    "Summary",
    "SuppressedCell",
    "audit",
    "dataset_sha256",
    "library_versions",
    "utc_timestamp",
]

AUDIT_SCHEMA_VERSION = 1

SCORE_METRICS = ("auc", "brier")
LABEL_SUMMARY = ("equalized_odds_difference", "equalized_odds_ratio")
# Comparison → the rate its significance test compares (DI and SPD share one test).
TESTED_RATE = {
    "disparate_impact": "favorable_rate",
    "statistical_parity_difference": "favorable_rate",
    "equal_opportunity_difference": "tpr",
    "fpr_difference": "fpr",
}

OK = "ok"
TOO_SMALL = "too small to conclude"
NOT_COMPUTABLE = "not computable"

NO_DECISIONS = (
    "No row has a decision: the {column} column is empty in every row. "
    "Choose a decision column with values, or fill it in the source data."
)
NOT_AN_AUDIT = (
    "Expected an audit result: a JSON object with 'schema_version', 'dataset' and 'attributes' (as "
    "ParityLab exports an audit result), got {kind}."
)
MALFORMED_AUDIT = (
    "This JSON looks like an audit result but cannot be read: {problem}. "
    "It may have been edited by hand or cut short; export it again from ParityLab."
)
NOT_JSON = (
    "The audit result is not valid JSON ({problem}): it may have been cut short or edited by hand. "
    "Export it again from ParityLab."
)
WRONG_SCHEMA = (
    "This audit result has schema_version {got!r}; this version of ParityLab reads version {expected}. "
    "Re-run the audit with this version, or open it with the version that wrote it."
)

REASON_FEW_CELLS = "not computable: fewer than two intersection cells have at least {minimum} rows"
REASON_KATZ_ZERO = "interval undefined: a rate of 0 has no log interval (Katz)"
REASON_NO_AUC_CLASS = "undefined: scored rows of this group hold only one label class"
REASON_CONSTANT_SCORE = "undefined: the score is constant in this group"
REASON_NO_SCORED = "undefined: no rows of this group have both a score and a label"
REASON_NOT_PROBABILITY = "undefined: scores outside [0, 1] are not probabilities"
REASON_SUPPRESSED = "fewer than {minimum} rows: suppressed from charts and exports"


# --- result records ---------------------------------------------------------------------


@dataclass(frozen=True)
class GroupMetrics:
    """One group's size, counts, rates, score metrics and comparisons with the reference.

    Attributes
    ----------
    n
        Rows with a decision.
    share
        ``n`` over all audited rows.
    status
        ``"ok"``, or ``"too small to conclude"`` under the minimum group size.
    is_reference
        Whether this is the attribute's reference group.
    values
        The group's value of each protected column (one entry; several for an intersection).
    counts
        Raw counts: n, positives, favorable, and with a label tp, fp, tn, fn, label_missing;
        decision_missing (rows left out). Enough to redo any two-proportion test.
    metrics
        Rates (``selection_rate`` … ``accuracy``), ``auc``/``brier``, and comparisons
        (``disparate_impact`` …), by name.
    """

    n: int
    share: float
    status: str
    is_reference: bool
    values: dict[str, str]
    counts: dict[str, int]
    metrics: dict[str, MetricValue]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: fixed fields, then every metric by name."""
        head = {
            "n": self.n,
            "share": self.share,
            "status": self.status,
            "is_reference": self.is_reference,
            "values": dict(self.values),
            "counts": dict(self.counts),
        }
        return head | {name: metric.to_dict() for name, metric in self.metrics.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupMetrics:
        """Read :meth:`to_dict` output."""
        fixed = ("n", "share", "status", "is_reference", "values", "counts")
        metrics = {k: MetricValue.from_dict(v) for k, v in data.items() if k not in fixed}
        return cls(**{k: data[k] for k in fixed}, metrics=metrics)


@dataclass(frozen=True)
class Finding:
    """A plain sentence about one attribute, with the numbers it states.

    ``kind`` is ``"gap"`` (an effect beyond the threshold with q < 0.05), ``"no_gap"`` (none
    found, with the gap the sample could have detected), ``"too_small"``, ``"suppressed"``
    or ``"not_computable"``.
    """

    kind: str
    metric: str | None
    group: str | None
    text: str
    q_value: float | None = None
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    detectable_gap: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict with every field."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Read :meth:`to_dict` output."""
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class SuppressedCell:
    """An intersection cell with too few rows to show."""

    group: str
    values: dict[str, str]
    n: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"group": self.group, "values": dict(self.values), "n": self.n, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SuppressedCell:
        """Read :meth:`to_dict` output."""
        return cls(**{k: data[k] for k in ("group", "values", "n", "reason")})


@dataclass(frozen=True)
class CalibrationBin:
    """One score bin of one group: rows, mean score and observed rate of positive labels."""

    bin: int
    low: float
    high: float
    n: int
    mean_score: float
    observed_rate: MetricValue

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        head = {k: getattr(self, k) for k in ("bin", "low", "high", "n", "mean_score")}
        return head | {"observed_rate": self.observed_rate.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationBin:
        """Read :meth:`to_dict` output."""
        head = {k: data[k] for k in ("bin", "low", "high", "n", "mean_score")}
        return cls(**head, observed_rate=MetricValue.from_dict(data["observed_rate"]))


@dataclass(frozen=True)
class Calibration:
    """Observed rate of positive labels per score decile, per group (bins without rows omitted).

    ``edges`` are the bin boundaries (deciles of the score over all scored rows, fewer when
    scores repeat); bin ``i`` spans ``edges[i]`` to ``edges[i + 1]``.
    """

    edges: tuple[float, ...]
    groups: dict[str, tuple[CalibrationBin, ...]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        groups = {g: [b.to_dict() for b in bins] for g, bins in self.groups.items()}
        return {"edges": list(self.edges), "groups": groups}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Read :meth:`to_dict` output."""
        groups = {g: tuple(CalibrationBin.from_dict(b) for b in bins) for g, bins in data["groups"].items()}
        return cls(edges=tuple(data["edges"]), groups=groups)


@dataclass(frozen=True)
class DecisionDistribution:
    """For a decision with more than two values: each value's count and share per group.

    ``values`` are in the decision's order, lowest first, when it has one (``order`` then says how it was
    found: ``"levels"``, ``"set in the spec"``, …; see :mod:`analysis.ordering`), else in sort order.
    """

    values: tuple[str, ...]
    counts: dict[str, tuple[int, ...]]
    shares: dict[str, tuple[MetricValue, ...]]
    order: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: ``{"values": [...], "groups": {group: {value: {"count", "share"}}}}``."""
        groups = {
            g: {
                v: {"count": c, "share": s.to_dict()}
                for v, c, s in zip(self.values, self.counts[g], self.shares[g], strict=True)
            }
            for g in self.counts
        }
        return {"values": list(self.values), "order": self.order, "groups": groups}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionDistribution:
        """Read :meth:`to_dict` output."""
        values = tuple(data["values"])
        groups = data["groups"]
        return cls(
            values=values,
            counts={g: tuple(cells[v]["count"] for v in values) for g, cells in groups.items()},
            shares={g: tuple(MetricValue.from_dict(cells[v]["share"]) for v in values) for g, cells in groups.items()},
            order=data.get("order"),
        )


@dataclass(frozen=True)
class AttributeAudit:
    """The audit of one protected attribute, or of one intersection of attributes.

    Attributes
    ----------
    name, columns
        ``"ethnicity"`` and ``("ethnicity",)``; ``"ethnicity × gender"`` for an intersection.
    status, reason
        ``"ok"``, or ``"not computable"`` (e.g. a single group) with the reason.
    reference_group, reference_rule
        The group others are compared with, and how it was chosen.
    groups
        Group name → :class:`GroupMetrics`, in the attribute's group order.
    summary, findings, suppressed, calibration, decision_distribution
        As described in the module docstring; the last two are None when not applicable.
    """

    name: str
    columns: tuple[str, ...]
    status: str
    reason: str | None
    reference_group: str | None
    reference_rule: str | None
    groups: dict[str, GroupMetrics]
    summary: Summary
    findings: tuple[Finding, ...]
    suppressed: tuple[SuppressedCell, ...] = ()
    calibration: Calibration | None = None
    decision_distribution: DecisionDistribution | None = None

    def highest_group(self) -> str | None:
        """The group with the highest favourable rate among the groups compared (the four-fifths rule's yardstick)."""
        rates = self._compared_rates()
        return max(rates, key=rates.get) if rates else None

    def lowest_group(self) -> str | None:
        """The group with the lowest favourable rate among the groups compared (the four-fifths ratio's numerator)."""
        rates = self._compared_rates()
        return min(rates, key=rates.get) if rates else None

    def _compared_rates(self) -> dict[str, float]:
        rates = {g: self.groups[g].metrics["favorable_rate"].value for g in self.summary.groups_compared}
        return {g: r for g, r in rates.items() if r is not None}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        out = {
            "name": self.name,
            "columns": list(self.columns),
            "status": self.status,
            "reason": self.reason,
            "reference_group": self.reference_group,
            "reference_rule": self.reference_rule,
            "groups": {g: m.to_dict() for g, m in self.groups.items()},
            "summary": self.summary.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
            "suppressed": [s.to_dict() for s in self.suppressed],
        }
        if self.calibration is not None:
            out["calibration"] = self.calibration.to_dict()
        if self.decision_distribution is not None:
            out["decision_distribution"] = self.decision_distribution.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AttributeAudit:
        """Read :meth:`to_dict` output."""
        calibration = data.get("calibration")
        distribution = data.get("decision_distribution")
        return cls(
            name=data["name"],
            columns=tuple(data["columns"]),
            status=data["status"],
            reason=data["reason"],
            reference_group=data["reference_group"],
            reference_rule=data["reference_rule"],
            groups={g: GroupMetrics.from_dict(m) for g, m in data["groups"].items()},
            summary=Summary.from_dict(data["summary"]),
            findings=tuple(Finding.from_dict(f) for f in data["findings"]),
            suppressed=tuple(SuppressedCell.from_dict(s) for s in data["suppressed"]),
            calibration=None if calibration is None else Calibration.from_dict(calibration),
            decision_distribution=None if distribution is None else DecisionDistribution.from_dict(distribution),
        )


@dataclass(frozen=True)
class DatasetInfo:
    """Which table was audited: its name, rows, rows with a decision, and content hash.

    ``score_resolution`` is None when every distinct score was kept; when an engine rounded a score
    with very many distinct values to a grid (:class:`analysis.engine.ScoreResolution`), that grid.
    """

    name: str | None
    rows: int
    rows_audited: int
    sha256: str
    score_resolution: ScoreResolution | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        resolution = None if self.score_resolution is None else self.score_resolution.to_dict()
        return {
            "name": self.name,
            "rows": self.rows,
            "rows_audited": self.rows_audited,
            "sha256": self.sha256,
            "score_resolution": resolution,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetInfo:
        """Read :meth:`to_dict` output (results saved before ``score_resolution`` read as exact)."""
        from analysis.engine import ScoreResolution

        resolution = data.get("score_resolution")
        return cls(
            **{k: data[k] for k in ("name", "rows", "rows_audited", "sha256")},
            score_resolution=None if resolution is None else ScoreResolution.from_dict(resolution),
        )


@dataclass(frozen=True)
class AuditOptions:
    """The audit's settings, recorded in the result.

    Attributes
    ----------
    confidence
        Coverage of every interval.
    di_threshold
        A disparate impact below this (or above its inverse) is a finding: 0.8, the four-fifths rule.
    gap_threshold
        A TPR or FPR difference larger than this in absolute value is a finding.
    min_group_size
        From the spec: smaller groups are "too small to conclude".
    min_cell_size
        Intersection cells with fewer rows are suppressed.
    alpha, power
        A finding needs q < alpha; the detectable gap is stated at this power.
    """

    confidence: float = CONFIDENCE
    di_threshold: float = FOUR_FIFTHS
    gap_threshold: float = GAP_THRESHOLD
    min_group_size: int = MIN_GROUP_SIZE
    min_cell_size: int = MIN_CELL_SIZE
    alpha: float = ALPHA
    power: float = POWER

    def __post_init__(self) -> None:
        check_fraction("audit()", "confidence", self.confidence, f"Use e.g. confidence={CONFIDENCE:g}.")
        rule = f"Use e.g. di_threshold={FOUR_FIFTHS:g} (the four-fifths rule)."
        check_fraction("audit()", "di_threshold", self.di_threshold, rule)
        check_fraction("audit()", "gap_threshold", self.gap_threshold, f"Use e.g. gap_threshold={GAP_THRESHOLD:g}.")
        check_fraction("audit()", "alpha", self.alpha, f"Use e.g. alpha={ALPHA:g}.")
        check_fraction("audit()", "power", self.power, f"Use e.g. power={POWER:g}.")
        check_whole("audit()", "min_group_size", self.min_group_size, 1, f"Use e.g. min_group_size={MIN_GROUP_SIZE}.")
        check_whole("audit()", "min_cell_size", self.min_cell_size, 1, f"Use e.g. min_cell_size={MIN_CELL_SIZE}.")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditOptions:
        """Read :meth:`to_dict` output."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class AuditResult:
    """Everything an audit found; ``to_dict()`` is the public JSON contract (see module docstring).

    Attributes
    ----------
    dataset, spec, options
        What was audited, how.
    attributes, intersections
        Name → :class:`AttributeAudit`.
    skipped
        ``{"metric", "reason"}`` for every metric left out (e.g. TPR without a label).
    left_out
        ``{"rows", "reason"}`` for rows left out of all or some metrics.
    warnings
        The spec validation's warnings, as sentences.
    created_at
        When the audit ran: UTC, ISO 8601 to the second (``"2026-11-27T04:49:50Z"``). None in
        results saved before ParityLab recorded it.
    versions
        ParityLab, Python and library versions the audit ran with (see :func:`library_versions`);
        empty in results saved before ParityLab recorded them.
    load
        How the data file was read (:class:`analysis.LoadReport`: format, encoding, delimiter, rows,
        the loader's changes and warnings); None when the audit was given a DataFrame without it.
    engine
        What counted the rows (``"pandas"``, ``"duckdb"``, ``"spark"``); ``"pandas"`` in results saved
        before it was recorded. Every engine gives the same numbers.
    slices
        The slice search run with the audit (:func:`analysis.find_slices`, e.g. ``audit --slices``), so that
        ``compare`` can track its slices; None when none was run (the JSON then has no ``"slices"`` key).
    """

    dataset: DatasetInfo
    spec: AuditSpec
    options: AuditOptions
    attributes: dict[str, AttributeAudit]
    intersections: dict[str, AttributeAudit]
    skipped: tuple[dict[str, str], ...] = ()
    left_out: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()
    schema_version: int = AUDIT_SCHEMA_VERSION
    created_at: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    load: LoadReport | None = None
    engine: str = "pandas"
    slices: SliceSearch | None = None

    def findings(self) -> list[Finding]:
        """Every finding, attributes first, then intersections."""
        audits = [*self.attributes.values(), *self.intersections.values()]
        return [finding for a in audits for finding in a.findings]

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-safe data (every number finite or None)."""
        return {
            "schema_version": self.schema_version,
            "created_at": self.created_at,
            "versions": dict(self.versions),
            "engine": self.engine,
            "dataset": self.dataset.to_dict(),
            "load": None if self.load is None else self.load.to_dict(),
            "spec": self.spec.to_dict(),
            "options": self.options.to_dict(),
            "attributes": {k: a.to_dict() for k, a in self.attributes.items()},
            "intersections": {k: a.to_dict() for k, a in self.intersections.items()},
            "skipped": [dict(s) for s in self.skipped],
            "left_out": [dict(r) for r in self.left_out],
            "warnings": list(self.warnings),
        } | ({} if self.slices is None else {"slices": self.slices.to_dict()})

    def to_json(self) -> str:
        """The result as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditResult:
        """Read :meth:`to_dict` output (e.g. a saved JSON report), with or without ``created_at``/``versions``.

        Raises
        ------
        ParityLabError
            When ``data`` is not an audit result, has another ``schema_version``, or is malformed.
        """
        if not isinstance(data, Mapping) or "attributes" not in data:
            raise ParityLabError(NOT_AN_AUDIT.format(kind=json_kind(data)))
        version = data.get("schema_version")
        if isinstance(version, bool) or version != AUDIT_SCHEMA_VERSION:
            raise ParityLabError(WRONG_SCHEMA.format(got=version, expected=AUDIT_SCHEMA_VERSION))
        check_audit_data(data)  # every field typed, finite and consistent before any arithmetic
        try:
            return cls._read(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problem = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ParityLabError(MALFORMED_AUDIT.format(problem=problem)) from exc

    @classmethod
    def _read(cls, data: Mapping[str, Any]) -> AuditResult:
        from analysis.loading import LoadReport  # pyarrow is imported by the loader only
        from analysis.slices import SliceSearch

        versions = data.get("versions") or {}
        spec = _recorded("spec", AuditSpec.from_dict, data["spec"])
        options = _recorded("options", AuditOptions.from_dict, data["options"])
        return cls(
            dataset=DatasetInfo.from_dict(data["dataset"]),
            spec=spec,
            options=options,
            attributes={k: AttributeAudit.from_dict(a) for k, a in data["attributes"].items()},
            intersections={k: AttributeAudit.from_dict(a) for k, a in data["intersections"].items()},
            skipped=tuple(dict(s) for s in data.get("skipped", ())),
            left_out=tuple(dict(r) for r in data.get("left_out", ())),
            warnings=tuple(data.get("warnings", ())),
            created_at=data.get("created_at"),
            versions={str(k): str(v) for k, v in dict(versions).items()},
            load=None if data.get("load") is None else LoadReport.from_dict(data["load"]),
            engine=str(data.get("engine") or "pandas"),
            slices=None if data.get("slices") is None else SliceSearch.from_dict(data["slices"]),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> AuditResult:
        """Parse :meth:`to_json` output."""
        if isinstance(text, str):
            text = text.removeprefix("\ufeff")  # a BOM left by an editor (bytes are decoded with it in mind)
        try:
            data = json.loads(text)
        except RecursionError:
            raise ParityLabError(NOT_JSON.format(problem="nested deeper than Python reads")) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParityLabError(NOT_JSON.format(problem=exc)) from exc
        return cls.from_dict(data)


def _recorded(name: str, read: Any, data: Any) -> Any:
    """A result's recorded spec or options, read by their own checks; a bad one names the part."""
    try:
        return read(data)
    except SpecError as exc:
        raise damaged(f"The recorded {name}", f"cannot be read: {exc.message.rstrip('.')}") from exc


# --- per-group arrays ----------------------------------------------------------------------


@dataclass
class _Series:
    """One metric for every group of a grouping, as arrays; NaN is undefined."""

    value: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    p: np.ndarray | None = None
    test: np.ndarray | None = None
    q: np.ndarray | None = None
    reasons: list[str | None] = field(default_factory=list)

    def at(self, i: int, *, group: str | None = None) -> MetricValue:
        """The metric of group ``i`` as a record."""

        def pick(arr: np.ndarray | None) -> float | None:
            return None if arr is None else finite(arr[i])

        value = pick(self.value)
        test = None if self.test is None or value is None or not self.test[i] else str(self.test[i])
        reason = self.reasons[i] if self.reasons else None
        if value is None:
            return MetricValue(None, group=group, reason=reason or "undefined")
        return MetricValue(
            value,
            ci_low=pick(self.low),
            ci_high=pick(self.high),
            p_value=pick(self.p),
            q_value=pick(self.q),
            test=test,
            group=group,
            reason=reason,
        )


@dataclass(frozen=True)
class _Words:
    """How the sentences name the decision and the label, from the spec (the decision's words are
    :func:`analysis.words.decision_words`': a harmful decision reads as the harm, never a negated benefit)."""

    decision: DecisionWords
    label_positive: str
    label_negative: str
    confidence: str

    @property
    def are(self) -> str:
        """``"are approved"``, ``"are flagged (score_text in Medium, High)"``."""
        return self.decision.are

    @property
    def harmful(self) -> bool:
        return self.decision.harmful


def _words(spec: AuditSpec, confidence: float) -> _Words:
    label_pos = label_neg = ""
    if spec.label is not None:
        label_pos = condition(spec.label, spec.label_positive)
        label_neg = condition(spec.label, spec.label_positive, negate=True)
    return _Words(
        decision=decision_words(spec),
        label_positive=label_pos,
        label_negative=label_neg,
        confidence=f"{confidence * 100:g}%",
    )


def _rates(table: MetricTable, confidence: float) -> dict[str, _Series]:
    """Every rate of the table, with its Wilson interval."""
    out = {}
    for name, (num, den) in rate_parts(table.counts).items():
        low, high = wilson_interval(num, den, confidence=confidence)
        out[name] = _Series(table.rates[name], low, high, reasons=list(table.rate_reasons[name]))
    return out


# --- comparisons with the reference: the values are the metrics module's, the intervals and tests ours --


def _is_missing_group(values: tuple[str, ...]) -> bool:
    return MISSING_GROUP in values


def _test(num: np.ndarray, den: np.ndarray, ref: int, compared: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, methods = two_proportion_test(num, den, num[ref], den[ref])
    return np.where(compared, p, np.nan), np.where(compared, methods, "")


def _comparisons(
    c: Counts, table: MetricTable, rates: dict[str, _Series], compared: np.ndarray, confidence: float
) -> dict[str, _Series]:
    """Every group against the reference, with intervals; ``compared`` marks the groups that get a test."""
    ref = table.reference
    out = {
        name: _Series(values.copy(), reasons=list(table.comparison_reasons[name]))
        for name, values in table.comparisons.items()
    }
    if ref is None:
        return out
    fav = c.favorable
    di = out["disparate_impact"]
    _, di.low, di.high = katz_interval(fav, c.n, fav[ref], c.n[ref], confidence=confidence)
    for i, reason in enumerate(di.reasons):
        if reason is None and fav[i] == 0 and np.isfinite(di.value[i]):
            di.reasons[i] = REASON_KATZ_ZERO  # the ratio is 0; only its log interval is undefined
    p, test = _test(fav, c.n, ref, compared)
    for name in ("disparate_impact", "statistical_parity_difference"):
        out[name].p, out[name].test = p, test
    spd = out["statistical_parity_difference"]
    _, spd.low, spd.high = newcombe_interval(fav, c.n, fav[ref], c.n[ref], confidence=confidence)
    if c.has_label:
        parts = {
            "equal_opportunity_difference": (c.tp, c.tp + c.fn),
            "fpr_difference": (c.fp, c.fp + c.tn),
            "predictive_parity_difference": (c.tp, c.tp + c.fp),
        }
        for name, (num, den) in parts.items():
            _, out[name].low, out[name].high = newcombe_interval(num, den, num[ref], den[ref], confidence=confidence)
        for name in ("equal_opportunity_difference", "fpr_difference"):
            num, den = parts[name]
            out[name].p, out[name].test = _test(num, den, ref, compared)
        eod, fprd, aod = out["equal_opportunity_difference"], out["fpr_difference"], out["average_odds_difference"]
        _, aod.low, aod.high = mover_average_interval(eod.value, eod.low, eod.high, fprd.value, fprd.low, fprd.high)
    return out


# --- score metrics --------------------------------------------------------------------------


def _score_metrics(grouping: Grouping, scored: ScoredRows, confidence: float) -> tuple[dict[str, _Series], ScoreCounts]:
    codes = scored.select(grouping.codes)
    auc, n_pos, n_neg, constant = auc_by_group(
        codes, scored.scores, scored.positive, grouping.n_groups, ranks=scored.ranks
    )
    low, high = hanley_mcneil_interval(auc, n_pos, n_neg, confidence=confidence)
    reasons = []
    for p, q, k in zip(n_pos.tolist(), n_neg.tolist(), constant.tolist(), strict=True):
        if p + q == 0:
            reasons.append(REASON_NO_SCORED)
        elif p == 0 or q == 0:
            reasons.append(REASON_NO_AUC_CLASS)
        else:
            reasons.append(REASON_CONSTANT_SCORE if k else None)
    sums = count_scores(grouping, scored)
    brier = divide(sums.squared_error, sums.n)
    brier_reasons = [None if k else REASON_NO_SCORED for k in sums.n.tolist()]
    if not scored.is_probability:
        brier, brier_reasons = np.full(grouping.n_groups, np.nan), [REASON_NOT_PROBABILITY] * grouping.n_groups
    metrics = {"auc": _Series(auc, low, high, reasons=reasons), "brier": _Series(brier, reasons=brier_reasons)}
    return metrics, sums


def _calibration(
    grouping: Grouping, scored: ScoredRows, sums: ScoreCounts, shown: np.ndarray, confidence: float
) -> Calibration:
    low, high = wilson_interval(sums.bin_positives, sums.bin_n, confidence=confidence)
    observed = divide(sums.bin_positives, sums.bin_n)
    mean_score = divide(sums.bin_score, sums.bin_n)
    edges = scored.edges if len(scored.edges) > 1 else scored.edges * 2
    groups = {}
    for g in np.flatnonzero(shown):
        bins = []
        for b in np.flatnonzero(sums.bin_n[g]):
            rate = MetricValue(finite(observed[g, b]), finite(low[g, b]), finite(high[g, b]))
            bins.append(
                CalibrationBin(int(b), edges[b], edges[b + 1], int(sums.bin_n[g, b]), finite(mean_score[g, b]), rate)
            )
        groups[grouping.labels[g]] = tuple(bins)
    return Calibration(edges=tuple(edges), groups=groups)


def _distribution(
    grouping: Grouping,
    value_codes: np.ndarray,
    values: tuple[str, ...],
    order: str | None,
    shown: np.ndarray,
    confidence: float,
    weights: np.ndarray | None = None,
) -> DecisionDistribution:
    table = count_values(grouping, value_codes, len(values), weights)
    totals = np.repeat(table.sum(axis=1, keepdims=True), len(values), axis=1)
    low, high = wilson_interval(table, totals, confidence=confidence)
    share = divide(table, totals)
    counts, shares = {}, {}
    for g in np.flatnonzero(shown):
        label = grouping.labels[g]
        counts[label] = tuple(int(x) for x in table[g])
        shares[label] = tuple(
            MetricValue(finite(share[g, v]), finite(low[g, v]), finite(high[g, v])) for v in range(len(values))
        )
    return DecisionDistribution(values=values, counts=counts, shares=shares, order=order)


# --- one grouping, before q-values ------------------------------------------------------------


@dataclass
class _Draft:
    """A grouping's numbers before the audit-wide q-values and the sentences."""

    grouping: Grouping
    intersection: bool
    counts: GroupCounts
    table: MetricTable
    rates: dict[str, _Series]
    comparisons: dict[str, _Series]
    score: dict[str, _Series] = field(default_factory=dict)
    calibration: Calibration | None = None
    distribution: DecisionDistribution | None = None

    @property
    def favorable(self) -> np.ndarray:
        return self.table.counts.favorable

    @property
    def shown(self) -> np.ndarray:
        return self.table.shown

    @property
    def small(self) -> np.ndarray:
        return self.counts.n < self.table.min_group_size

    @property
    def status(self) -> str:
        return self.table.status

    @property
    def reason(self) -> str | None:
        return self.table.reason

    @property
    def reference(self) -> int | None:
        return self.table.reference

    @property
    def reference_rule(self) -> str | None:
        return self.table.reference_rule


def _draft(
    grouping: Grouping,
    state: Outcomes,
    spec: AuditSpec,
    options: AuditOptions,
    words: _Words,
    *,
    named: str | None = None,
) -> _Draft:
    c = count_groups(grouping, state)
    intersection = len(grouping.columns) > 1
    shown = c.n >= options.min_cell_size if intersection else np.ones(grouping.n_groups, dtype=bool)
    reason = REASON_FEW_CELLS.format(minimum=options.min_cell_size) if intersection and shown.sum() < 2 else None
    table = evaluate(
        c.for_metrics(spec.positive_is_favorable),
        min_group_size=spec.min_group_size,
        reference=named,
        di_threshold=options.di_threshold,
        shown=shown,
        reason=reason,
        label_positive=words.label_positive,
        label_negative=words.label_negative,
    )
    rates = _rates(table, options.confidence)
    compared = shown.copy()
    if table.reference is not None:
        compared[table.reference] = False
    comparisons = _comparisons(table.counts, table, rates, compared, options.confidence)
    return _Draft(grouping=grouping, intersection=intersection, counts=c, table=table, rates=rates,
                  comparisons=comparisons)  # fmt: skip


def _assign_q_values(drafts: Sequence[_Draft]) -> None:
    """Benjamini–Hochberg across every test of the audit (DI and SPD share one test)."""
    tested = [(d, name) for d in drafts for name in TESTED_RATE if name in d.comparisons]
    families = [(d, name) for d, name in tested if name != "statistical_parity_difference"]
    p = np.concatenate([d.comparisons[name].p for d, name in families if d.comparisons[name].p is not None] or [[]])
    q = benjamini_hochberg(p)
    start = 0
    for d, name in families:
        series = d.comparisons[name]
        if series.p is None:
            continue
        series.q = q[start : start + series.p.size]
        start += series.p.size
        if name == "disparate_impact":
            d.comparisons["statistical_parity_difference"].q = series.q


# --- summary ------------------------------------------------------------------------------

AUDIT_SUMMARY = (
    "disparate_impact_min",
    "favorable_rate_ratio",
    "demographic_parity_ratio",
    "demographic_parity_difference",
    *LABEL_SUMMARY,
)


def _summary(d: _Draft) -> Summary:
    """The metrics module's summary, the lowest impact ratio with its interval and q-value."""
    summary = d.table.summary
    metrics = {name: m for name, m in summary.metrics.items() if name in AUDIT_SUMMARY}
    lowest = metrics.get("disparate_impact_min")
    if lowest is not None and lowest.group is not None:
        i = d.grouping.labels.index(lowest.group)
        metrics["disparate_impact_min"] = d.comparisons["disparate_impact"].at(i, group=lowest.group)
    return replace(summary, metrics=metrics)


# --- findings -----------------------------------------------------------------------------


def _fmt_q(q: float) -> str:
    return "q < 0.001" if q < 0.001 else f"q = {q:.3f}"


def _fmt_gap(x: float) -> str:
    return "< 0.001" if x < 0.001 else f"{x:#.2g}"


def _who(d: _Draft, i: int) -> str:
    pairs = zip(d.grouping.columns, d.grouping.values[i], strict=True)
    return " and ".join(f"{column} = {value}" for column, value in pairs)


def _reference_is_highest(d: _Draft) -> bool:
    """Whether the reference has the highest favourable rate of the groups compared (then DI is the rule's ratio)."""
    rate = d.table.rates["favorable_rate"]
    compared = d.table.compared & np.isfinite(rate)
    return bool(compared.any()) and rate[d.reference] >= rate[compared].max()


def _rule_name(options: AuditOptions) -> str:
    return "four-fifths" if options.di_threshold == FOUR_FIFTHS else f"{options.di_threshold:g}"


def _di_sentence(d: _Draft, i: int, words: _Words, options: AuditOptions) -> str:
    m = d.comparisons["disparate_impact"].at(i)
    ref, t = d.grouping.labels[d.reference], options.di_threshold
    if m.value < t and _reference_is_highest(d):
        verdict = f"below the {_rule_name(options)} threshold"
    elif m.value < t:  # against a reference that is not the highest group: not the rule itself
        verdict = (
            f"an impact ratio below {t:g} against group {ref}"
            if words.harmful
            else f"below {t:g} of group {ref}'s rate"
        )
    elif words.harmful:
        verdict = f"group {ref}'s impact ratio against them is below {t:g}"
    else:
        verdict = f"group {ref}'s rate is below {t:g} of theirs"
    if words.harmful:
        return _harm_sentence(d, i, words, m, verdict, options.confidence)
    if m.value == 0:  # as the verdict says it: "none of them", not "at 0.00x the rate"
        return f"None of those with {_who(d, i)} {words.are}, unlike group {ref} ({_fmt_q(m.q_value)}) — {verdict}."
    ci = f"{words.confidence} CI {m.ci_low:.2f}–{m.ci_high:.2f}; " if m.ci_low is not None else ""
    return (
        f"Those with {_who(d, i)} {words.are} at {m.value:.2f}x the rate of group {ref} "
        f"({ci}{_fmt_q(m.q_value)}) — {verdict}."
    )


def _harm_sentence(d: _Draft, i: int, words: _Words, m: MetricValue, verdict: str, confidence: float) -> str:
    """A harmful decision's disparate impact told as the harm: flagged at 1.74x the rate of group …"""
    c, r = d.table.counts, d.reference
    ref, rate = d.grouping.labels[r], d.rates["selection_rate"].value
    harm, low, high = katz_interval(c.positives[i], c.n[i], c.positives[r], c.n[r], confidence=confidence)
    tail = f"{_fmt_q(m.q_value)}; impact ratio {m.value:.2f}"
    if not np.isfinite(harm):  # no one in the reference group is given the decision
        how = f"at a rate of {rate[i]:.0%}, against none of group {ref}"
        return f"Those with {_who(d, i)} {words.are} {how} ({tail}) — {verdict}."
    ci = f"; {words.confidence} CI {float(low):.2f}–{float(high):.2f}" if np.isfinite(low) else ""
    return (
        f"Those with {_who(d, i)} {words.are} at {float(harm):.2f}x the rate of group {ref} "
        f"({rate[i]:.0%} vs {rate[r]:.0%}{ci}; {tail}) — {verdict}."
    )


GAP_RATES = {"equal_opportunity_difference": "tpr", "fpr_difference": "fpr"}


def _gap_sentence(d: _Draft, i: int, name: str, words: _Words) -> str:
    m, rate, r = d.comparisons[name].at(i), d.rates[GAP_RATES[name]].value, d.reference
    outcome = "positive" if name == "equal_opportunity_difference" else "negative"
    among = words.label_positive if outcome == "positive" else words.label_negative
    gap = f"{abs(m.value):.2f} {'lower' if m.value < 0 else 'higher'}"
    numbers = f"{rate[i]:.2f} vs {rate[r]:.2f}; {words.confidence} CI of the gap {m.ci_low:+.2f} to {m.ci_high:+.2f}"
    return (
        f"Among those whose true outcome is {outcome} ({among}), those with {_who(d, i)} {words.are} "
        f"at a rate {gap} than group {d.grouping.labels[r]} ({numbers}; {_fmt_q(m.q_value)})."
    )


def _passes(d: _Draft, name: str, i: int, options: AuditOptions) -> bool:
    s = d.comparisons[name]
    value, q = s.value[i], s.q[i] if s.q is not None else np.nan
    if not (np.isfinite(value) and np.isfinite(q) and q < options.alpha):
        return False
    if name == "disparate_impact":
        return value < options.di_threshold or value > 1 / options.di_threshold
    return abs(value) > options.gap_threshold


def _gap_finding(d: _Draft, name: str, i: int, words: _Words, options: AuditOptions) -> Finding:
    m = d.comparisons[name].at(i)
    text = _di_sentence(d, i, words, options) if name == "disparate_impact" else _gap_sentence(d, i, name, words)
    return Finding("gap", name, d.grouping.labels[i], text, m.q_value, m.value, m.ci_low, m.ci_high)


def _detectable(d: _Draft, name: str, targets: np.ndarray, options: AuditOptions) -> np.ndarray:
    c, ref = d.counts, d.reference
    if name == "disparate_impact":
        size, rate = c.n, d.rates["favorable_rate"].value
    elif name == "equal_opportunity_difference":
        size, rate = c.tp + c.fn, d.rates["tpr"].value
    else:
        size, rate = c.fp + c.tn, d.rates["fpr"].value
    mdd = minimum_detectable_difference(size, size[ref], rate[ref], alpha=options.alpha, power=options.power)
    return np.where(targets, mdd, np.nan)


def _no_gap_text(d: _Draft, name: str, words: _Words, options: AuditOptions) -> str:
    ref = d.grouping.labels[d.reference]
    t = options.di_threshold
    if name == "disparate_impact":
        how = f"how often they {words.are}"
        if words.harmful:
            rule = f"no group's impact ratio against group {ref} is below {t:g} or above {1 / t:.3g}"
        else:
            rule = f"no group is below {t:g}x the rate of group {ref}"
    else:
        outcome = "positive" if name == "equal_opportunity_difference" else "negative"
        condition = words.label_positive if outcome == "positive" else words.label_negative
        how = f"how often those whose true outcome is {outcome} ({condition}) {words.are}"
        rule = f"no group differs from group {ref} by more than {options.gap_threshold:g}"
    ratio = d.table.summary.metrics.get("favorable_rate_ratio")
    if name == "disparate_impact" and d.table.summary.four_fifths_pass is False and ratio is not None:
        # The rule fails but no test is significant: say both, so no reader sees "no gap" beside "fails".
        return (
            f"Below {_rule_name(options)} for {d.grouping.name} (four-fifths ratio {ratio.value:.2f}), but no "
            f"significant gap was found in {how}: {rule} with q < {options.alpha:g}."
        )
    q = d.comparisons[name].q
    shown = np.flatnonzero(d.shown & ~d.small & (np.arange(len(d.grouping.labels)) != d.reference))
    small = [int(i) for i in shown if q is not None and np.isfinite(q[i]) and q[i] < options.alpha]
    if small:
        # A difference inside the bounds can still be significant (the verdict then says "passes …, but with a
        # significant gap"): say so here too, so "no significant gap" never stands beside it.
        i = min(small, key=lambda j: q[j])
        return (
            f"No gap beyond the thresholds was found between groups of {d.grouping.name} in {how}: {rule} with "
            f"q < {options.alpha:g}; a smaller difference is significant ({d.grouping.labels[i]} vs {ref}, "
            f"{_fmt_q(q[i])})."
        )
    return (
        # "Beyond the thresholds": a smaller gap can still be significant, and the verdict then says so.
        f"No gap beyond the thresholds was found between groups of {d.grouping.name} in {how}: {rule} "
        f"with q < {options.alpha:g}."
    )


def _no_gap_finding(d: _Draft, name: str, targets: np.ndarray, words: _Words, options: AuditOptions) -> Finding:
    text = _no_gap_text(d, name, words, options)
    mdd = _detectable(d, name, targets, options)
    known = np.flatnonzero(np.isfinite(mdd))
    if not known.size:
        return Finding("no_gap", name, None, text)
    lo, hi = known[np.argmin(mdd[known])], known[np.argmax(mdd[known])]
    label, ref = d.grouping.labels, d.grouping.labels[d.reference]
    span = f"{_fmt_gap(mdd[lo])} ({label[lo]} vs {ref})"
    if hi != lo:
        span += f" to {_fmt_gap(mdd[hi])} ({label[hi]} vs {ref})"
    text += (
        f" With these sample sizes, a gap of {span} could have been detected "
        f"({options.power:.0%} power, α = {options.alpha:g})."
    )
    return Finding("no_gap", name, None, text, detectable_gap=float(mdd[hi]))


def _note_findings(d: _Draft, spec: AuditSpec, options: AuditOptions) -> list[Finding]:
    out = []
    if d.status == NOT_COMPUTABLE:
        text = f"Disparities for {d.grouping.name} are {d.reason}."
        out.append(Finding("not_computable", None, None, text))
    small = np.flatnonzero(d.small & d.shown)
    if small.size:
        listed = ", ".join(f"{d.grouping.labels[i]} (n={int(d.counts.n[i]):,})" for i in small)
        text = f"Too small to conclude (fewer than {spec.min_group_size} rows) in {d.grouping.name}: {listed}."
        out.append(Finding("too_small", None, None, text))
    hidden = int((~d.shown & (d.counts.n > 0)).sum())
    if hidden:
        text = (
            f"{hidden} cell{'s' if hidden > 1 else ''} of {d.grouping.name} with fewer than "
            f"{options.min_cell_size} rows {'are' if hidden > 1 else 'is'} suppressed."
        )
        out.append(Finding("suppressed", None, None, text))
    return out


def _findings(d: _Draft, spec: AuditSpec, options: AuditOptions, words: _Words) -> tuple[Finding, ...]:
    if d.status == NOT_COMPUTABLE:
        return tuple(_note_findings(d, spec, options))
    targets = d.shown & ~d.small
    targets[d.reference] = False
    gaps, quiet = [], []
    for name in ("disparate_impact", *GAP_RATES):
        if name not in d.comparisons:
            continue
        hits = [i for i in np.flatnonzero(targets) if _passes(d, name, int(i), options)]
        gaps += [_gap_finding(d, name, int(i), words, options) for i in hits]
        if not hits and targets.any():
            quiet.append(_no_gap_finding(d, name, targets, words, options))
    order = ("disparate_impact", *GAP_RATES)
    gaps.sort(key=lambda f: (order.index(f.metric), f.q_value))
    return tuple(gaps + quiet + _note_findings(d, spec, options))


# --- assembly -----------------------------------------------------------------------------


def _counts_record(d: _Draft, i: int) -> dict[str, int]:
    c = d.counts
    out = {"n": c.n[i], "positives": c.positives[i], "favorable": d.favorable[i]}
    if c.has_label:
        out |= {"tp": c.tp[i], "fp": c.fp[i], "tn": c.tn[i], "fn": c.fn[i], "label_missing": c.label_missing[i]}
    out["decision_missing"] = c.decision_missing[i]
    return {k: int(v) for k, v in out.items()}


def _group_record(d: _Draft, i: int, total: int) -> GroupMetrics:
    metrics = {name: s.at(i) for name, s in d.rates.items()}
    metrics |= {name: s.at(i) for name, s in d.score.items()}
    metrics |= {name: s.at(i) for name, s in d.comparisons.items()}
    return GroupMetrics(
        n=int(d.counts.n[i]),
        share=float(d.counts.n[i] / total) if total else 0.0,
        status=TOO_SMALL if d.small[i] else OK,
        is_reference=d.reference == i,
        values=dict(zip(d.grouping.columns, d.grouping.values[i], strict=True)),
        counts=_counts_record(d, i),
        metrics=metrics,
    )


def _suppressed(d: _Draft, options: AuditOptions) -> tuple[SuppressedCell, ...]:
    reason = REASON_SUPPRESSED.format(minimum=options.min_cell_size)
    return tuple(
        SuppressedCell(
            d.grouping.labels[i],
            dict(zip(d.grouping.columns, d.grouping.values[i], strict=True)),
            int(d.counts.n[i]),
            reason,
        )
        for i in np.flatnonzero(~d.shown & (d.counts.n > 0))
    )


def _attribute(d: _Draft, spec: AuditSpec, options: AuditOptions, words: _Words, total: int) -> AttributeAudit:
    return AttributeAudit(
        name=d.grouping.name,
        columns=d.grouping.columns,
        status=d.status,
        reason=d.reason,
        reference_group=None if d.reference is None else d.grouping.labels[d.reference],
        reference_rule=d.reference_rule,
        groups={d.grouping.labels[i]: _group_record(d, int(i), total) for i in np.flatnonzero(d.shown)},
        summary=_summary(d),
        findings=_findings(d, spec, options, words),
        suppressed=_suppressed(d, options),
        calibration=d.calibration,
        decision_distribution=d.distribution,
    )


def _skipped(spec: AuditSpec) -> tuple[dict[str, str], ...]:
    out = []
    if spec.label is None:
        names = (*LABEL_RATES, *LABEL_COMPARISONS, *LABEL_SUMMARY, *SCORE_METRICS, "calibration")
        out += [{"metric": name, "reason": "no label column"} for name in names]
    elif spec.score is None:
        out += [{"metric": name, "reason": "no score column"} for name in (*SCORE_METRICS, "calibration")]
    return tuple(out)


def _left_out(state: Outcomes, scored: ScoredRows | None, spec: AuditSpec) -> tuple[dict[str, Any], ...]:
    out = []
    missing = state.total(~state.decided)
    if missing:
        what = f"the {spec.decision} column" if spec.decision else f"the score {spec.score}"
        out.append({"rows": missing, "reason": f"no decision ({what} is missing): left out of the audit"})
    if state.has_label:
        unlabeled = state.total(state.decided & ~state.labeled)
        if unlabeled:
            reason = f"no label ({spec.label} is missing): left out of error-rate metrics"
            out.append({"rows": unlabeled, "reason": reason})
    if scored is not None:
        unscored = state.total(state.labeled) - scored.total
        if unscored:
            reason = f"no score ({spec.score} is missing): left out of AUC, Brier score and calibration"
            out.append({"rows": unscored, "reason": reason})
    return tuple(out)


def dataset_sha256(df: pd.DataFrame) -> str:
    """SHA-256 of a DataFrame's column names, dtypes and values (not of any file).

    Deterministic for the same content and pandas version; pass the loader's file hash to
    :func:`audit` instead when the table came from a file.
    """
    digest = hashlib.sha256()
    header = [[str(c), str(t)] for c, t in zip(df.columns, df.dtypes, strict=True)]
    digest.update(json.dumps(header, ensure_ascii=False).encode("utf-8"))
    for _, column in df.items():
        if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biufcmM":
            # Plain numpy columns: their bytes are their content, and hashing them is fast.
            values = column.to_numpy()
        else:
            values = pd.util.hash_pandas_object(column, index=False).to_numpy()
        digest.update(np.ascontiguousarray(values).view(np.uint8))
    return digest.hexdigest()


_hash = dataset_sha256  # audit() has a parameter of the same name

# The libraries an audit runs on: pandas and numpy compute it, pyarrow parses the files it reads.
AUDIT_LIBRARIES = ("numpy", "pandas", "pyarrow")


def library_versions(libraries: Sequence[str] = AUDIT_LIBRARIES) -> dict[str, str]:
    """ParityLab's, Python's and the named libraries' versions, read from package metadata (nothing imported).

    A library that is not installed is recorded as ``"not installed"``.
    """
    out = {"paritylab": __version__, "python": platform.python_version()}
    for name in libraries:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def utc_timestamp() -> str:
    """The current UTC time, ISO 8601 to the second: ``2026-11-27T04:49:50Z``."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def groupings(
    df: pd.DataFrame,
    spec: AuditSpec,
    encoded: dict[str, GroupCodes] | None = None,
    *,
    weights: np.ndarray | None = None,
    edges: Mapping[str, Sequence[float]] | None = None,
) -> tuple[list[Grouping], list[Grouping]]:
    """The audit's groupings of ``df``: one per protected attribute, then one per intersection."""
    encoded, edges = encoded or {}, edges or {}
    singles = [
        Grouping.from_codes(
            encoded[a.column]
            if a.column in encoded
            else encode_groups(
                df[a.column], bins=a.bins, quantiles=a.quantiles, weights=weights, edges=edges.get(a.column)
            )
        )
        for a in spec.protected
    ]
    by_column = {g.name: g for g in singles}
    crossed = [intersect([by_column[c] for c in names]) for names in spec.intersection_sets()]
    return singles, crossed


def _decision_values(df: pd.DataFrame, spec: AuditSpec) -> tuple[np.ndarray, tuple[str, ...], str | None] | None:
    """Value codes of a decision column with more than two values, in its order when it has one (else None)."""
    if spec.decision is None:
        return None
    column = df[spec.decision]
    if pd.api.types.is_bool_dtype(column.dtype):
        return None
    encoded = encode_groups(column)
    labels = encoded.labels[:-1] if encoded.missing_count else encoded.labels
    if len(labels) <= 2:
        return None
    order = decision_order(spec.decision_order, labels)
    ordered = order_values(labels, order)
    # Codes renumbered so that code i is ordered[i].
    position = np.array([ordered.index(label) for label in labels], dtype=np.int64)
    codes = np.where(encoded.codes < len(labels), position[np.minimum(encoded.codes, len(labels) - 1)], -1)
    return codes, tuple(ordered), None if order is None else order.how


def _counted(source: Any, spec: AuditSpec, engine: str | None, name: str | None) -> CountedTable | None:
    """The counted table to audit, or None for a DataFrame audited in memory (today's path, unweighted)."""
    from analysis.engine import CountedTable

    if isinstance(source, CountedTable):
        return source
    if isinstance(source, pd.DataFrame) and engine in (None, "pandas"):
        return None
    from analysis.engine import count_table  # paths, globs, relations and Spark DataFrames: read by an engine

    return count_table(source, spec, engine=engine, name=name)


def audit(
    source: pd.DataFrame | CountedTable | Any,
    spec: AuditSpec,
    *,
    engine: str | None = None,
    confidence: float = CONFIDENCE,
    di_threshold: float = FOUR_FIFTHS,
    gap_threshold: float = GAP_THRESHOLD,
    min_cell_size: int = MIN_CELL_SIZE,
    dataset_name: str | None = None,
    dataset_sha256: str | None = None,
    load_report: LoadReport | None = None,
) -> AuditResult:
    """Audit decisions for differences between protected groups.

    Parameters
    ----------
    source
        The table (as :func:`analysis.load_table` returns it); or a :class:`analysis.engine.CountedTable`
        (its distinct combinations with their counts: the same result as the rows they stand for); or
        anything an engine reads (a path, glob, DuckDB relation or Spark DataFrame, see
        :func:`analysis.engine.count_table`).
    spec
        Which columns are the decision, label, score and protected attributes.
    engine
        ``"pandas"``, ``"duckdb"`` or ``"spark"`` to count ``source`` with; None chooses (a DataFrame is
        audited in memory).
    confidence
        Coverage of every interval.
    di_threshold, gap_threshold
        A finding needs a disparate impact below ``di_threshold`` (four-fifths: 0.8), or a TPR
        or FPR gap beyond ``gap_threshold``, and a q-value below 0.05.
    min_cell_size
        Intersection cells with fewer rows are suppressed from the groups.
    dataset_name, dataset_sha256
        Recorded in the result; the name defaults to the counted table's, the hash to its
        ``sha256`` or to :func:`dataset_sha256` of the table. When given and the spec records
        another hash, the result's warnings say so.
    load_report
        How the table was read (:attr:`analysis.LoadedTable.report`): recorded as the result's ``load``,
        so the JSON says what the loader changed (the app and the CLI pass it); defaults to the counted
        table's ``load``.

    Returns
    -------
    AuditResult

    Raises
    ------
    SpecError
        When the spec does not fit the table (every problem listed).
    """
    options = AuditOptions(
        confidence=confidence,
        di_threshold=di_threshold,
        gap_threshold=gap_threshold,
        min_group_size=spec.min_group_size,
        min_cell_size=min_cell_size,
    )
    created_at = utc_timestamp()
    table = _counted(source, spec, engine, dataset_name)
    df = source if table is None else table.frame
    weights = None if table is None else table.weights
    if table is not None:
        dataset_name = table.name if dataset_name is None else dataset_name
        dataset_sha256 = table.sha256 if dataset_sha256 is None else dataset_sha256
        load_report = table.load if load_report is None else load_report
    columns = None if table is None else table.columns
    edges = None if table is None else table.edges
    checked = run_checks(df, spec, dataset_sha256=dataset_sha256, weights=weights, columns=columns, edges=edges)
    validation, encoded = checked.validation, checked.encoded
    validation.raise_for_errors()
    # With merge_variants, counted on the merged table and spec; the result records the spec as given.
    given, given_df, df, spec = spec, df, checked.df, checked.spec
    state = outcomes(df, spec, weights=weights)
    if not state.decided.any():
        raise SpecError(NO_DECISIONS.format(column=spec.decision or spec.score))
    words = _words(spec, confidence)
    singles, crossed = groupings(df, spec, encoded, weights=weights, edges=edges)
    named = {a.column: a.reference for a in spec.protected}
    drafts = [_draft(g, state, spec, options, words, named=named[g.name]) for g in singles]
    drafts += [_draft(g, state, spec, options, words) for g in crossed]
    _assign_q_values(drafts)
    scored = None
    if spec.label is not None and spec.score is not None:
        scored = scored_rows(df[spec.score].to_numpy(dtype=float, na_value=np.nan), state)
    values = _decision_values(df, spec)
    for d in drafts:
        if scored is not None:
            d.score, sums = _score_metrics(d.grouping, scored, confidence)
            d.calibration = _calibration(d.grouping, scored, sums, d.shown, confidence)
        if values is not None:
            d.distribution = _distribution(d.grouping, *values, d.shown, confidence, weights)
    total = state.total(state.decided)
    audits = [_attribute(d, spec, options, words, total) for d in drafts]
    resolution = None if table is None or table.scores is None or table.scores.exact else table.scores
    return AuditResult(
        dataset=DatasetInfo(
            name=dataset_name,
            rows=len(df) if table is None else table.rows,
            rows_audited=total,
            sha256=dataset_sha256 if dataset_sha256 is not None else _hash(given_df),
            score_resolution=resolution,
        ),
        spec=given,
        options=options,
        attributes={a.name: a for a in audits[: len(singles)]},
        intersections={a.name: a for a in audits[len(singles) :]},
        skipped=_skipped(spec),
        left_out=_left_out(state, scored, spec),
        # Notices: each prints as its Python wording and can be worded for the command line or the app.
        warnings=tuple(Notice(f"{p.message} {p.fix}".strip(), p.remedy) for p in validation.warnings),
        created_at=created_at,
        versions=library_versions(),
        load=load_report,
        engine="pandas" if table is None else table.engine,
    )
