"""Monitoring: compare two audit results of the same kind of decisions, e.g. last quarter and this one.

``compare_audits(before, after)`` returns an :class:`AuditComparison`: one :class:`ComparisonRow` per
attribute (or intersection), group and metric, with the value before and after, the change, whether
the change is significant, and whether it is a *regression* (a fairness metric got worse beyond a
tolerance). ``render_comparison_html`` writes it as a self-contained HTML page.

The tests use only what the audit JSON records: every group's counts (``n``, ``favorable``,
``positives``, ``tp``, ``fp``, ``tn``, ``fn``). The two audits are taken to be independent samples
(different periods of decisions):

- a rate (favourable rate, TPR, …) of one group: two-proportion test on the counts before and after
  (:func:`analysis.stats.two_proportion_test`: Pearson chi-square, Fisher's exact test for small cells);
- a disparity (a difference or ratio between groups): Wald z-test of the change, with the variance
  of each audit's estimate from its groups' counts — differences of rates on their own scale,
  ratios on the log scale (the delta method, as the Katz interval). Within one audit the groups
  are disjoint, so their rates are independent. A summary disparity (e.g. the lowest disparate
  impact) is tested through the groups that attain it in each audit, which ignores that those
  groups were picked as the extremes: read its p-value as approximate.

p-values are adjusted by Benjamini–Hochberg, separately for the rates and for the disparities;
``significant`` is q < ``alpha``.

Slices: when both audits recorded a slice search (``audit --slices``) by the same metric, every slice in both
top-k lists is compared as a group's rate is (two-proportion test on its counts then and now, its own
Benjamini–Hochberg family); a slice in one top-k only is listed as new in, or no longer in, the top-k,
which is not proof that it improved (:class:`SliceTracking`).
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.audit import AttributeAudit, AuditResult, GroupMetrics, MetricValue
from analysis.audit_json import json_kind
from analysis.errors import ParityLabError
from analysis.metrics import COMPARISONS, METRICS, rate_counts
from analysis.options import ALPHA, COMPARE_TOLERANCE, check_fraction, check_number
from analysis.stats import benjamini_hochberg, two_proportion_test

if TYPE_CHECKING:
    from analysis.slices import Slice, SliceSearch

__all__ = [
    "COMPARISON_SCHEMA_VERSION",
    "AuditComparison",
    "ComparedAudit",
    "ComparisonRow",
    "SliceChange",
    "SliceTracking",
    "compare_audits",
    "load_audit",
    "render_comparison_html",
    "track_slices",
]

COMPARISON_SCHEMA_VERSION = 1
# Two recorded numbers are "the same" when they differ by less than this (they are JSON floats).
SAME = 1e-9

RATE, DISPARITY = "rate", "disparity"
COMPARED, UNDEFINED, ONLY_BEFORE, ONLY_AFTER = "compared", "undefined", "only in before", "only in after"
WALD_DIFFERENCE = "wald z (difference)"
WALD_LOG_RATIO = "wald z (log ratio)"
WALD_FALLBACK = "wald z (difference; a rate of 0 has no log ratio)"

# What is compared, from the metrics registry: the rates (successes and total from a group's recorded
# counts), each group's disparities against the reference ((scale, rates); a difference over several rates
# is their mean) and each attribute's summary disparities ((scale, rates, "reference" or "range")).
RATES = ("favorable_rate", "selection_rate", "base_rate", "tpr", "fpr", "fnr", "precision", "npv", "accuracy")
GROUP_DISPARITIES = {name: (METRICS[name].scale, METRICS[name].rates) for name in COMPARISONS}
SUMMARY_DISPARITIES = {
    name: (METRICS[name].scale, METRICS[name].rates, METRICS[name].against)
    for name in (
        "disparate_impact_min",
        "favorable_rate_ratio",
        "demographic_parity_ratio",
        "demographic_parity_difference",
        "equalized_odds_difference",
        "equalized_odds_ratio",
    )
}
RATIOS = {name for name, spec in (GROUP_DISPARITIES | SUMMARY_DISPARITIES).items() if spec[0] == "ratio"}
# Spec fields that change what a metric means when they differ between the audits.
MEANING_FIELDS = (
    "decision",
    "positive",
    "positive_is_favorable",
    "label",
    "label_positive",
    "score",
    "threshold",
    "min_group_size",
)

NOT_AUDIT_RESULTS = (
    "compare_audits() compares two AuditResult objects, got {before} and {after}. "
    "Read saved results with load_audit(path) or AuditResult.from_json(text)."
)
NOT_A_RESULT = "Cannot use '{path}' as a ParityLab audit result: {problem}"
NOT_AN_AUDIT_FILE = (
    "'{path}' is not a ParityLab audit result: expected a JSON object with 'schema_version', 'dataset' and "
    "'attributes' (written by `python -m analysis audit DATA --spec SPEC.json --json OUT`), got {got}."
)
SLICES_NOT_AUDIT = (
    "'{path}' is a slice search ('python -m analysis slices ... --json'), not an audit result. compare tracks "
    "slices through audit results: run 'python -m analysis audit DATA --spec SPEC.json --slices --json OUT' for "
    "each period and compare those."
)
CANNOT_READ = "Cannot read '{path}': {reason}. Check the path; it should be a JSON result from 'audit --json'."
NOT_A_COMPARISON = "Expected a ParityLab comparison (a JSON object with 'rows' and 'settings'), got {kind}."
SPEC_DIFFERS = (
    "The specs differ in '{field}' (before {before}, after {after}): the two audits may not measure the same "
    "thing, so read the changes with care."
)
OPTIONS_DIFFER = "The audit options differ in '{field}' (before {before}, after {after})."
ONLY_ONE_ATTRIBUTE = "'{name}' is audited only in the {side} result."
REFERENCE_CHANGED = (
    "The reference group of '{name}' changed from {before!r} to {after!r}: comparisons with the reference "
    "are not like for like."
)
SAME_DATA = "Both audits are of the same data file (SHA-256 {sha}…)."
SLICES_COMPARED, NEW_IN_TOP, NO_LONGER_IN_TOP = "compared", "new in the top-k", "no longer in the top-k"
METRICS_DIFFER = (
    "The slice searches are by different metrics ({before} before, {after} after): their slices are not compared. "
    "Run both audits with the same --slice-metric."
)
SLICES_ONE_SIDE = (
    "Only the {side} audit has a slice search: no slice is tracked. Run both audits with --slices to track them."
)
SLICE_SETTINGS_DIFFER = "The slice searches differ in {field} (before {before}, after {after})."
NOT_PROOF = (
    "A slice no longer in the top-k may be as bad as before: other slices outranked it, or it fell below the "
    "minimum support. Absence from the top-k is not proof that it improved."
)
SLICE_SETTINGS = ("max_depth", "min_support", "top_k", "alpha")
BINS_DIFFER = (
    "The searches cut {columns} into other bins (each search bins a number at its own data's quartiles), so a "
    "slice with such a term has another name in each search and is listed as new in, or no longer in, the top-k "
    "rather than compared. Cut the later search where the earlier one cut (audit --slices --slice-bins-from "
    "EARLIER.json; find_slices(..., bins=earlier.bins)) to track it."
)
OTHER_BINS = "{columns} binned at other cuts in the {side} search: the same rows may be there under another name"
UNTESTABLE_WORSE = (
    "{count} metric(s) got worse beyond tolerance but could not be tested (rates of 0 or 1, or counts "
    "that do not reproduce the value); they are not counted as regressions. See the rows marked worse."
)


# --- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComparedAudit:
    """Which audit a side of the comparison is: data name and hash, rows, when, which ParityLab."""

    name: str | None
    sha256: str
    rows_audited: int
    created_at: str | None
    paritylab: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComparedAudit:
        """Read :meth:`to_dict` output."""
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})

    @classmethod
    def of(cls, result: AuditResult) -> ComparedAudit:
        """The stamp of an audit result."""
        d = result.dataset
        return cls(d.name, d.sha256, d.rows_audited, result.created_at, result.versions.get("paritylab"))


@dataclass(frozen=True)
class ComparisonRow:
    """One metric of one group (or, with ``group`` None, of the whole attribute), before and after.

    Attributes
    ----------
    scope
        ``"attribute"`` or ``"intersection"``.
    attribute, group, metric
        Where: the attribute's name (``"ethnicity × gender"`` for an intersection), the group
        (None for the attribute's summary disparities), the metric (None when the whole
        attribute is in one audit only).
    kind
        ``"rate"`` (one group's rate) or ``"disparity"`` (between groups); None without a metric.
    before, after, change
        The recorded values and ``after − before``; None when undefined.
    n_before, n_after
        The group's rows with a decision in each audit (None for summaries and missing groups).
    p_value, q_value, test
        The test of the change (see the module docstring); None when not tested, ``note`` says why.
    significant
        ``q_value < alpha``; None when not tested.
    worse
        For a disparity: got worse by more than the tolerance (ratios: ``min(v, 1/v)`` fell by
        more than the DI tolerance; differences: ``|v|`` grew by more than the tolerance).
        None for rates and when undefined.
    regression
        ``worse``; with ``require_significance``, also ``significant``.
    status
        ``"compared"``, ``"undefined"`` (a value is undefined), ``"only in before"``, ``"only in after"``.
    note
        Plain words on anything worth knowing (why undefined, reference changed, group too small).
    """

    scope: str
    attribute: str
    group: str | None
    metric: str | None
    kind: str | None
    before: float | None
    after: float | None
    change: float | None
    n_before: int | None
    n_after: int | None
    p_value: float | None
    q_value: float | None
    test: str | None
    significant: bool | None
    worse: bool | None
    regression: bool
    status: str
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict with every field."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComparisonRow:
        """Read :meth:`to_dict` output."""
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})

    @property
    def where(self) -> str:
        """``ethnicity, group B, disparate_impact`` — for messages."""
        parts = [self.attribute]
        if self.group is not None:
            parts.append(f"group {self.group}")
        if self.metric is not None:
            parts.append(self.metric)
        return ", ".join(parts)


@dataclass(frozen=True)
class SliceChange:
    """One slice of the slice searches, before and after.

    Attributes
    ----------
    slice
        Its key (``"region = East and channel = phone"``).
    status
        ``"compared"`` (in both top-k lists), ``"new in the top-k"`` or ``"no longer in the top-k"``.
    before, after, change
        The metric in the slice then and now, and ``after − before`` (None on the side it is missing).
    n_before, n_after
        Rows the metric counts in the slice then and now.
    significant_before, significant_after
        Whether each search called it significantly worse than the rest (q < its alpha).
    p_value, q_value, test, significant
        The test of the change, as a group's rate is tested (two proportions on the counts); q is
        Benjamini–Hochberg over the slices compared; None when not tested.
    direction
        ``"worse"``, ``"better"`` or ``"same"`` for the metric (a lower favourable rate, a higher error rate
        is worse); None when not compared.
    note
        Why a slice in one top-k only may still exist in the other search (its number terms were binned at other
        cuts), or None.
    """

    slice: str
    status: str
    before: float | None
    after: float | None
    change: float | None
    n_before: int | None
    n_after: int | None
    significant_before: bool | None
    significant_after: bool | None
    p_value: float | None
    q_value: float | None
    test: str | None
    significant: bool | None
    direction: str | None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict with every field."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SliceChange:
        """Read :meth:`to_dict` output."""
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})


@dataclass(frozen=True)
class SliceTracking:
    """The slices of two audits' slice searches, tracked: those in both top-k lists compared, the others listed.

    ``metric_before``/``metric_after`` are the searches' metrics (None for an audit without a search);
    ``rows`` is empty when only one audit has a search or the metrics differ (``warnings`` says so).
    """

    metric_before: str | None
    metric_after: str | None
    title: str | None
    rows: tuple[SliceChange, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def compared(self) -> tuple[SliceChange, ...]:
        """Slices in both top-k lists."""
        return tuple(r for r in self.rows if r.status == SLICES_COMPARED)

    @property
    def summary(self) -> str:
        """One plain sentence: how many slices were compared, how many changed significantly, how many moved."""
        if not self.rows:
            return self.warnings[0] if self.warnings else "No slice to track."
        compared = self.compared
        changed = sum(1 for r in compared if r.significant)
        new = sum(1 for r in self.rows if r.status == NEW_IN_TOP)
        gone = sum(1 for r in self.rows if r.status == NO_LONGER_IN_TOP)
        return (
            f"Slices by {self.title}: {len(compared)} in both top-k lists, {changed} of them changed significantly; "
            f"{new} new in the top-k, {gone} no longer in it."
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "metric_before": self.metric_before,
            "metric_after": self.metric_after,
            "title": self.title,
            "summary": self.summary,
            "note": NOT_PROOF if any(r.status == NO_LONGER_IN_TOP for r in self.rows) else None,
            "warnings": list(self.warnings),
            "rows": [r.to_dict() for r in self.rows],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SliceTracking:
        """Read :meth:`to_dict` output."""
        return cls(
            metric_before=data.get("metric_before"),
            metric_after=data.get("metric_after"),
            title=data.get("title"),
            rows=tuple(SliceChange.from_dict(r) for r in data.get("rows", ())),
            warnings=tuple(data.get("warnings", ())),
        )


@dataclass(frozen=True)
class AuditComparison:
    """Two audits side by side: every row, the regressions, warnings and a summary sentence.

    Attributes
    ----------
    before, after
        Which audits were compared.
    tolerance, di_tolerance, alpha, require_significance
        The settings that decide a regression.
    rows
        Every compared metric, attributes first, then intersections (see :class:`ComparisonRow`).
    warnings
        Differences between the audits that make the comparison less than like for like.
    slices
        The audits' slice searches tracked (:class:`SliceTracking`); None when neither audit has one.
    """

    before: ComparedAudit
    after: ComparedAudit
    tolerance: float
    di_tolerance: float
    alpha: float
    require_significance: bool
    rows: tuple[ComparisonRow, ...]
    warnings: tuple[str, ...] = ()
    slices: SliceTracking | None = None

    @property
    def regressions(self) -> tuple[ComparisonRow, ...]:
        """Rows where a fairness metric got worse beyond tolerance (and significantly, if required)."""
        return tuple(r for r in self.rows if r.regression)

    @property
    def changed(self) -> tuple[ComparisonRow, ...]:
        """Rows whose value changed, or that exist in one audit only."""
        return tuple(
            r for r in self.rows if r.status in (ONLY_BEFORE, ONLY_AFTER) or (r.change is not None and r.change != 0)
        )

    @property
    def summary(self) -> str:
        """One plain sentence: regressions, or how much changed."""
        rule = self._rule()
        regressions = self.regressions
        if regressions:
            worst = max(regressions, key=lambda r: abs(r.change or 0.0))
            return (
                f"{len(regressions)} fairness metric{'s' if len(regressions) > 1 else ''} got worse {rule}. "
                f"Largest: {worst.where} went from {_fmt(worst.before)} to {_fmt(worst.after)}."
            )
        changed = self.changed
        if not changed:
            return "Nothing changed: the two audits give the same numbers for every group and metric."
        significant = sum(1 for r in self.rows if r.significant)
        return (
            f"No fairness metric got worse {rule}. {len(changed)} of {len(self.rows)} rows changed, "
            f"{significant} of them significantly (q < {self.alpha:g})."
        )

    def _rule(self) -> str:
        tolerance = f"beyond tolerance ({self.tolerance:g}; disparate impact {self.di_tolerance:g})"
        return f"{tolerance} and significantly (q < {self.alpha:g})" if self.require_significance else tolerance

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: stamps, settings, summary, warnings, every row."""
        return {
            "schema_version": COMPARISON_SCHEMA_VERSION,
            "kind": "paritylab comparison",
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "settings": {
                "tolerance": self.tolerance,
                "di_tolerance": self.di_tolerance,
                "alpha": self.alpha,
                "require_significance": self.require_significance,
            },
            "summary": self.summary,
            "regression_count": len(self.regressions),
            "warnings": list(self.warnings),
            "rows": [r.to_dict() for r in self.rows],
        } | ({} if self.slices is None else {"slices": self.slices.to_dict()})

    def to_json(self) -> str:
        """The comparison as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditComparison:
        """Read :meth:`to_dict` output."""
        if not isinstance(data, Mapping) or "rows" not in data or "settings" not in data:
            raise ParityLabError(NOT_A_COMPARISON.format(kind=type(data).__name__))
        settings = data["settings"]
        return cls(
            before=ComparedAudit.from_dict(data["before"]),
            after=ComparedAudit.from_dict(data["after"]),
            tolerance=settings["tolerance"],
            di_tolerance=settings["di_tolerance"],
            alpha=settings["alpha"],
            require_significance=settings["require_significance"],
            rows=tuple(ComparisonRow.from_dict(r) for r in data["rows"]),
            warnings=tuple(data.get("warnings", ())),
            slices=None if data.get("slices") is None else SliceTracking.from_dict(data["slices"]),
        )


# --- loading -------------------------------------------------------------------------------


def load_audit(path: str | os.PathLike[str]) -> AuditResult:
    """Read a saved audit result (``python -m analysis audit ... --json PATH``).

    Raises
    ------
    ParityLabError
        When the file cannot be read, is not JSON, is not a ParityLab audit result, has
        another schema version, or is damaged (a count that is negative, fractional or disagrees
        with its group's n, a number that is not finite, a missing field); the message names the
        file and the field.
    """
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except OSError as exc:
        raise ParityLabError(CANNOT_READ.format(path=path, reason=exc.strerror or exc)) from exc
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        data = _NOT_JSON  # AuditResult.from_json below says what is wrong with it
    if isinstance(data, dict) and data.get("kind") == "paritylab slices" and "attributes" not in data:
        raise ParityLabError(SLICES_NOT_AUDIT.format(path=path))
    if data is not _NOT_JSON and not (isinstance(data, dict) and "schema_version" in data and "attributes" in data):
        raise ParityLabError(NOT_AN_AUDIT_FILE.format(path=path, got=json_kind(data)))
    try:
        return AuditResult.from_json(text) if data is _NOT_JSON else AuditResult.from_dict(data)
    except ParityLabError as exc:
        raise ParityLabError(NOT_A_RESULT.format(path=path, problem=exc)) from exc


_NOT_JSON = object()


# --- tests of a change ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Estimate:
    """A disparity on its test scale (difference, or log ratio) with its variance."""

    value: float
    variance: float
    scale: str


def _proportion(group: GroupMetrics, rate: str) -> tuple[int, int] | None:
    try:
        return rate_counts(rate, group.counts)
    except KeyError:  # no label: the counts hold no confusion matrix
        return None


def _variance(x: int, n: int) -> float:
    p = x / n
    return p * (1 - p) / n


def _difference(pairs: Sequence[tuple[tuple[int, int], tuple[int, int]]]) -> _Estimate | None:
    """Mean over ``pairs`` of (rate 1 − rate 2), and its variance."""
    if any(n1 == 0 or n2 == 0 for (_, n1), (_, n2) in pairs):
        return None
    k = len(pairs)
    value = sum(x1 / n1 - x2 / n2 for (x1, n1), (x2, n2) in pairs) / k
    variance = sum(_variance(x1, n1) + _variance(x2, n2) for (x1, n1), (x2, n2) in pairs) / k**2
    return _Estimate(value, variance, "difference")


def _log_ratio(top: tuple[int, int], bottom: tuple[int, int]) -> _Estimate | None:
    """log(rate top / rate bottom) with the delta-method variance 1/x − 1/n for each (as Katz)."""
    (x1, n1), (x2, n2) = top, bottom
    if min(x1, x2, n1, n2) == 0:
        return None
    return _Estimate(math.log(x1 / n1) - math.log(x2 / n2), 1 / x1 - 1 / n1 + 1 / x2 - 1 / n2, "log ratio")


def _matches(estimate: _Estimate | None, recorded: float | None) -> bool:
    if estimate is None or recorded is None:
        return False
    value = math.exp(estimate.value) if estimate.scale == "log ratio" else estimate.value
    return abs(value - recorded) <= SAME * max(1.0, abs(recorded))


def _pair_estimates(scale: str, top: tuple[int, int], bottom: tuple[int, int]) -> tuple[_Estimate | None, ...]:
    """(log-ratio estimate, difference estimate) of one pair of groups for a ratio; (difference,) otherwise."""
    if scale == "ratio":
        return _log_ratio(top, bottom), _difference([(top, bottom)])
    return (_difference([(top, bottom)]),)


def _group_pairs(
    audit: AttributeAudit, group: str, rates: Sequence[str]
) -> list[tuple[tuple[int, int], tuple[int, int]]] | None:
    ref = audit.groups.get(audit.reference_group) if audit.reference_group is not None else None
    g = audit.groups.get(group)
    if ref is None or g is None:
        return None
    pairs = [(_proportion(g, r), _proportion(ref, r)) for r in rates]
    return None if any(a is None or b is None for a, b in pairs) else pairs


def _group_estimates(audit: AttributeAudit, group: str, metric: str) -> tuple[_Estimate | None, _Estimate | None]:
    """(on the natural scale, on the difference scale) for one group's disparity in one audit."""
    scale, rates = GROUP_DISPARITIES[metric]
    pairs = _group_pairs(audit, group, rates)
    if pairs is None:
        return None, None
    if scale == "ratio":
        return _log_ratio(*pairs[0]), _difference(pairs)
    estimate = _difference(pairs)
    return estimate, estimate


def _extremes(audit: AttributeAudit, rate: str) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Counts of the groups with the highest and the lowest ``rate`` among the summary's groups."""
    found = []
    for name in audit.summary.groups_compared:
        group = audit.groups.get(name)
        counts = None if group is None else _proportion(group, rate)
        if counts is not None and counts[1] > 0:
            found.append(counts)
    if len(found) < 2:
        return None
    hi = max(found, key=lambda c: c[0] / c[1])
    lo = min(found, key=lambda c: c[0] / c[1])
    return hi, lo


def _summary_estimates(audit: AttributeAudit, metric: str) -> tuple[_Estimate | None, _Estimate | None]:
    """The estimates of the pair of groups that reproduces the recorded summary value."""
    scale, rates, how = SUMMARY_DISPARITIES[metric]
    recorded = audit.summary.metrics.get(metric, MetricValue(None)).value
    candidates: list[tuple[_Estimate | None, ...]] = []
    if how == "reference":
        group = audit.summary.metrics[metric].group if metric in audit.summary.metrics else None
        pairs = None if group is None else _group_pairs(audit, group, rates)
        if pairs is not None:
            candidates.append(_pair_estimates(scale, *pairs[0]))
    else:
        for rate in rates:
            extremes = _extremes(audit, rate)
            if extremes is not None:
                hi, lo = extremes
                candidates.append(
                    _pair_estimates(scale, lo, hi) if scale == "ratio" else _pair_estimates(scale, hi, lo)
                )
    for found in candidates:
        natural, fallback = found[0], found[-1]
        if _matches(natural, recorded):
            return natural, fallback
        # A ratio of 0 has no log ratio; the difference of the same two rates still tests the change.
        if scale == "ratio" and natural is None and fallback is not None and recorded == 0:
            return None, fallback
    return None, None


def _wald(before: _Estimate, after: _Estimate) -> float | None:
    variance = before.variance + after.variance
    change = after.value - before.value
    if variance <= 0:
        return 1.0 if change == 0 else None
    return math.erfc(abs(change) / math.sqrt(2 * variance))


# --- the comparison --------------------------------------------------------------------------


@dataclass
class _Row:
    """A row under construction (p-values are adjusted once every row is known)."""

    scope: str
    attribute: str
    group: str | None
    metric: str | None
    kind: str | None
    before: float | None = None
    after: float | None = None
    n_before: int | None = None
    n_after: int | None = None
    p_value: float | None = None
    test: str | None = None
    status: str = COMPARED
    notes: list[str] | None = None

    def note(self, text: str) -> None:
        self.notes = [*(self.notes or []), text]


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def _undefined_note(side: str, metric: MetricValue | None) -> str | None:
    if metric is None:
        return f"not in the {side} audit"
    if metric.value is None:
        return f"{side}: {metric.reason or 'undefined'}"
    return None


def _set_values(row: _Row, before: MetricValue | None, after: MetricValue | None) -> None:
    row.before = None if before is None else before.value
    row.after = None if after is None else after.value
    if before is None and after is None:
        row.status = UNDEFINED
    elif before is None:
        row.status = ONLY_AFTER
    elif after is None:
        row.status = ONLY_BEFORE
    elif row.before is None or row.after is None:
        row.status = UNDEFINED
    for side, metric in (("before", before), ("after", after)):
        text = _undefined_note(side, metric)
        if text is not None and row.status == UNDEFINED:
            row.note(text)


def _rate_test(row: _Row, before: GroupMetrics, after: GroupMetrics, rate: str) -> None:
    b, a = _proportion(before, rate), _proportion(after, rate)
    if b is None or a is None or b[1] == 0 or a[1] == 0:
        row.note("not tested: no rows for this rate in one of the audits")
        return
    p, method = two_proportion_test(a[0], a[1], b[0], b[1])
    row.p_value, row.test = float(p), str(method)


def _disparity_test(
    row: _Row, before: tuple[_Estimate | None, _Estimate | None], after: tuple[_Estimate | None, _Estimate | None]
) -> None:
    (b_natural, b_diff), (a_natural, a_diff) = before, after
    if b_natural is not None and a_natural is not None:
        b, a = b_natural, a_natural
        test = WALD_LOG_RATIO if b.scale == "log ratio" else WALD_DIFFERENCE
    elif row.metric in RATIOS and b_diff is not None and a_diff is not None:
        b, a, test = b_diff, a_diff, WALD_FALLBACK
    else:
        row.note("not tested: the recorded counts do not give this value in both audits")
        return
    p = _wald(b, a)
    if p is None:
        row.note("not tested: every rate involved is 0 or 1, so the change has no variance")
        return
    row.p_value, row.test = p, test


def _group_rows(scope: str, before: AttributeAudit, after: AttributeAudit) -> list[_Row]:
    rows: list[_Row] = []
    for name in [*after.groups, *(g for g in before.groups if g not in after.groups)]:
        b, a = before.groups.get(name), after.groups.get(name)
        if b is None or a is None:
            rows.append(_missing_group(scope, before, after, name))
        else:
            rows += _one_group_rows(scope, before, after, name)
    return rows


def _one_group_rows(scope: str, before: AttributeAudit, after: AttributeAudit, name: str) -> list[_Row]:
    b, a = before.groups[name], after.groups[name]
    rows: list[_Row] = []
    for rate in (r for r in RATES if r in b.metrics or r in a.metrics):
        row = _Row(scope, after.name, name, rate, RATE, n_before=b.n, n_after=a.n)
        _set_values(row, b.metrics.get(rate), a.metrics.get(rate))
        if row.status == COMPARED:
            _rate_test(row, b, a, rate)
        rows.append(row)
    # The reference group's disparities are undefined by definition: no rows for them.
    both_reference = b.is_reference and a.is_reference
    for metric in (m for m in GROUP_DISPARITIES if not both_reference and (m in b.metrics or m in a.metrics)):
        row = _Row(scope, after.name, name, metric, DISPARITY, n_before=b.n, n_after=a.n)
        _set_values(row, b.metrics.get(metric), a.metrics.get(metric))
        if before.reference_group != after.reference_group:
            row.note(f"reference group changed from {before.reference_group} to {after.reference_group}")
        if row.status == COMPARED:
            _disparity_test(row, _group_estimates(before, name, metric), _group_estimates(after, name, metric))
        rows.append(row)
    small = [f"{side} (n={g.n:,})" for side, g in (("before", b), ("after", a)) if g.status != "ok"]
    for row in rows if small else ():
        row.note(f"too small to conclude in {' and '.join(small)}")
    return rows


def _missing_group(scope: str, before: AttributeAudit, after: AttributeAudit, name: str) -> _Row:
    present, absent = (before, after) if name in before.groups else (after, before)
    side = "before" if present is before else "after"
    other = "after" if side == "before" else "before"
    row = _Row(scope, after.name, name, None, None, status=ONLY_BEFORE if side == "before" else ONLY_AFTER)
    group = present.groups[name]
    if side == "before":
        row.n_before = group.n
    else:
        row.n_after = group.n
    suppressed = next((s for s in absent.suppressed if s.group == name), None)
    if suppressed is not None:
        row.note(f"group {name} is in the {other} audit only as a suppressed cell (n={suppressed.n:,})")
    else:
        row.note(f"group {name} has no rows in the {other} audit")
    return row


def _summary_rows(scope: str, before: AttributeAudit, after: AttributeAudit) -> list[_Row]:
    rows = []
    for metric in SUMMARY_DISPARITIES:
        b, a = before.summary.metrics.get(metric), after.summary.metrics.get(metric)
        if b is None and a is None:
            continue
        row = _Row(scope, after.name, None, metric, DISPARITY)
        _set_values(row, b, a)
        if row.status == COMPARED:
            _disparity_test(row, _summary_estimates(before, metric), _summary_estimates(after, metric))
            if metric == "disparate_impact_min":
                _four_fifths_note(row, before, after, b, a)
        rows.append(row)
    return rows


def _four_fifths_note(row: _Row, before: AttributeAudit, after: AttributeAudit, b: MetricValue, a: MetricValue) -> None:
    verdict = {True: "passed", False: "failed", None: "not computable"}
    was, now = before.summary.four_fifths_pass, after.summary.four_fifths_pass
    if was != now:
        row.note(f"four-fifths rule: {verdict[was]} before, {verdict[now]} after")
    if b.group != a.group:
        row.note(f"lowest group: {b.group} before, {a.group} after")


def _attribute_rows(scope: str, name: str, before: AttributeAudit | None, after: AttributeAudit | None) -> list[_Row]:
    if before is None or after is None:
        side = "before" if after is None else "after"
        row = _Row(scope, name, None, None, None, status=ONLY_BEFORE if after is None else ONLY_AFTER)
        row.note(ONLY_ONE_ATTRIBUTE.format(name=name, side=side))
        return [row]
    return _summary_rows(scope, before, after) + _group_rows(scope, before, after)


def _worse(row: _Row, tolerance: float, di_tolerance: float) -> bool | None:
    if row.kind != DISPARITY or row.before is None or row.after is None:
        return None
    if row.metric in RATIOS:

        def level(v: float) -> float:
            return min(v, 1 / v) if v > 0 else 0.0

        return level(row.before) - level(row.after) > di_tolerance + SAME
    return abs(row.after) - abs(row.before) > tolerance + SAME


def _spec_warnings(before: AuditResult, after: AuditResult) -> list[str]:
    out = []
    b, a = before.spec.to_dict(), after.spec.to_dict()
    for name in MEANING_FIELDS:
        if b.get(name) != a.get(name):
            out.append(SPEC_DIFFERS.format(field=name, before=json.dumps(b.get(name)), after=json.dumps(a.get(name))))
    bins = {p["column"]: p for p in b.get("protected", [])}
    for attr in a.get("protected", []):
        old = bins.get(attr["column"])
        if old is not None and {k: v for k, v in old.items() if k != "reference"} != {
            k: v for k, v in attr.items() if k != "reference"
        }:
            out.append(
                SPEC_DIFFERS.format(field=f"protected {attr['column']}", before=json.dumps(old), after=json.dumps(attr))
            )
    ob, oa = before.options.to_dict(), after.options.to_dict()
    out += [OPTIONS_DIFFER.format(field=k, before=ob[k], after=oa.get(k)) for k in ob if k in oa and ob[k] != oa.get(k)]
    return out


def _attribute_warnings(before: AuditResult, after: AuditResult) -> list[str]:
    out = []
    for kind in ("attributes", "intersections"):
        b, a = getattr(before, kind), getattr(after, kind)
        for name in [*a, *(n for n in b if n not in a)]:
            if name not in a or name not in b:
                out.append(ONLY_ONE_ATTRIBUTE.format(name=name, side="before" if name in b else "after"))
            elif b[name].reference_group != a[name].reference_group:
                out.append(
                    REFERENCE_CHANGED.format(name=name, before=b[name].reference_group, after=a[name].reference_group)
                )
    return out


def _check_settings(tolerance: object, di_tolerance: object, alpha: object) -> None:
    for name, value in (("tolerance", tolerance), ("di_tolerance", di_tolerance)):
        fix = f"Use e.g. {name}={COMPARE_TOLERANCE:g} (0 flags any worsening)."
        check_number("compare_audits()", name, value, low=0, high=1, fix=fix)
    check_fraction("compare_audits()", "alpha", alpha, f"Use e.g. alpha={ALPHA:g}.")


def _adjust(rows: list[_Row]) -> dict[int, float]:
    """Benjamini–Hochberg q-values, one family per kind of row; row index → q."""
    q: dict[int, float] = {}
    for kind in (RATE, DISPARITY):
        index = [i for i, r in enumerate(rows) if r.kind == kind and r.p_value is not None]
        if index:
            adjusted = benjamini_hochberg(np.array([rows[i].p_value for i in index]))
            q |= {i: float(v) for i, v in zip(index, adjusted, strict=True)}
    return q


def compare_audits(
    before: AuditResult,
    after: AuditResult,
    *,
    tolerance: float = COMPARE_TOLERANCE,
    di_tolerance: float | None = None,
    alpha: float = ALPHA,
    require_significance: bool = False,
) -> AuditComparison:
    """Compare two audits: every group's rates and disparities, before and after, with tests on the counts.

    Parameters
    ----------
    before, after
        Audit results, e.g. of last quarter's and this quarter's decisions (:func:`load_audit` reads saved ones).
    tolerance
        A difference metric (statistical parity, equal opportunity, demographic parity and equalized odds
        differences, …) is worse when its absolute value grew by more than this.
    di_tolerance
        A ratio metric (disparate impact and the parity ratios) is worse when ``min(v, 1/v)`` fell by more
        than this; default ``tolerance``.
    alpha
        A change is significant when its Benjamini–Hochberg q-value is below ``alpha``.
    require_significance
        False (default): a fairness metric that got worse beyond tolerance is a regression; its test is
        still reported on the row. True: it must also be significant (q < ``alpha``), for when
        period-to-period noise exceeds the tolerance. Changes that cannot be tested then never count.

    Returns
    -------
    AuditComparison
        Groups, metrics or attributes in one audit only become rows with a status and a note; specs
        or options that differ become warnings. Never raises for a difference between the audits.

    Raises
    ------
    ParityLabError
        When a setting is out of range, or ``before``/``after`` is not an :class:`AuditResult`.
    """
    if not (isinstance(before, AuditResult) and isinstance(after, AuditResult)):
        raise ParityLabError(NOT_AUDIT_RESULTS.format(before=type(before).__name__, after=type(after).__name__))
    di_tolerance = tolerance if di_tolerance is None else di_tolerance
    _check_settings(tolerance, di_tolerance, alpha)
    rows: list[_Row] = []
    for scope, kind in (("attribute", "attributes"), ("intersection", "intersections")):
        b, a = getattr(before, kind), getattr(after, kind)
        for name in [*a, *(n for n in b if n not in a)]:
            rows += _attribute_rows(scope, name, b.get(name), a.get(name))
    q = _adjust(rows)
    finished = [_finish(r, q.get(i), tolerance, di_tolerance, alpha, require_significance) for i, r in enumerate(rows)]
    warnings = _spec_warnings(before, after) + _attribute_warnings(before, after)
    untestable = sum(1 for r in finished if r.worse and r.p_value is None)
    if untestable and require_significance:
        warnings.append(UNTESTABLE_WORSE.format(count=untestable))
    if before.dataset.sha256 == after.dataset.sha256:
        warnings.append(SAME_DATA.format(sha=before.dataset.sha256[:12]))
    slices = None
    if before.slices is not None or after.slices is not None:
        slices = track_slices(before.slices, after.slices, alpha=alpha)
    return AuditComparison(
        before=ComparedAudit.of(before),
        after=ComparedAudit.of(after),
        tolerance=float(tolerance),
        di_tolerance=float(di_tolerance),
        alpha=float(alpha),
        require_significance=require_significance,
        rows=tuple(finished),
        warnings=tuple(warnings),
        slices=slices,
    )


def _finish(
    row: _Row, q: float | None, tolerance: float, di_tolerance: float, alpha: float, require_significance: bool
) -> ComparisonRow:
    change = None if row.before is None or row.after is None else row.after - row.before
    significant = None if q is None else bool(q < alpha)
    worse = _worse(row, tolerance, di_tolerance)
    regression = bool(worse) and (bool(significant) or not require_significance)
    return ComparisonRow(
        scope=row.scope,
        attribute=row.attribute,
        group=row.group,
        metric=row.metric,
        kind=row.kind,
        before=row.before,
        after=row.after,
        change=change,
        n_before=row.n_before,
        n_after=row.n_after,
        p_value=row.p_value,
        q_value=q,
        test=row.test,
        significant=significant,
        worse=worse,
        regression=regression,
        status=row.status,
        note="; ".join(row.notes) if row.notes else None,
    )


# --- slices ------------------------------------------------------------------------------------


def track_slices(before: SliceSearch | None, after: SliceSearch | None, *, alpha: float = ALPHA) -> SliceTracking:
    """The slices of two slice searches: those in both top-k lists compared, those in one listed.

    A slice's metric is compared as a group's rate is: a two-proportion test on its counts then and now;
    the q-values are Benjamini–Hochberg over the slices compared.
    """
    metric_before = None if before is None else before.metric
    metric_after = None if after is None else after.metric
    title = (after or before).title if (after or before) is not None else None
    if before is None or after is None:
        side = "before" if after is None else "after"
        return SliceTracking(metric_before, metric_after, title, warnings=(SLICES_ONE_SIDE.format(side=side),))
    if before.metric != after.metric:
        warning = METRICS_DIFFER.format(before=before.title, after=after.title)
        return SliceTracking(metric_before, metric_after, None, warnings=(warning,))
    warnings = [
        SLICE_SETTINGS_DIFFER.format(field=name, before=getattr(before, name), after=getattr(after, name))
        for name in SLICE_SETTINGS
        if getattr(before, name) != getattr(after, name)
    ]
    used = [sorted(f.column for f in search.features if f.skipped is None) for search in (before, after)]
    if used[0] != used[1]:
        warnings.append(SLICE_SETTINGS_DIFFER.format(field="the columns used as terms", before=", ".join(used[0]),
                                                     after=", ".join(used[1])))  # fmt: skip
    rebinned = _rebinned(before, after)
    if rebinned:
        warnings.append(BINS_DIFFER.format(columns=_names(sorted(rebinned))))
    rows = [_slice_change(s, after.slice(s.key), before.better, rebinned) for s in before.slices]
    rows += [_slice_change(None, s, before.better, rebinned) for s in after.slices if before.slice(s.key) is None]
    tested = [i for i, r in enumerate(rows) if r.p_value is not None]
    if tested:
        q = benjamini_hochberg(np.array([rows[i].p_value for i in tested]))
        for i, value in zip(tested, q, strict=True):
            rows[i] = replace(rows[i], q_value=float(value), significant=bool(value < alpha))
    order = {SLICES_COMPARED: 0, NEW_IN_TOP: 1, NO_LONGER_IN_TOP: 2}
    rows.sort(key=lambda r: order[r.status])  # stable: each search's own order within a status
    return SliceTracking(metric_before, metric_after, after.title, tuple(rows), tuple(warnings))


def _rebinned(before: SliceSearch, after: SliceSearch) -> dict[str, tuple[set[str], set[str]]]:
    """Number columns both searches binned at other cuts: column → (its terms before, its terms after)."""
    cuts = {f.column: f.values for f in before.features if f.binned and f.skipped is None}
    return {
        f.column: (set(cuts[f.column]), set(f.values))
        for f in after.features
        if f.binned and f.skipped is None and f.column in cuts and cuts[f.column] != f.values
    }


def _names(columns: Sequence[str]) -> str:
    quoted = [f"'{c}'" for c in columns]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


def _slice_change(
    before: Slice | None, after: Slice | None, better: str, rebinned: Mapping[str, tuple[set[str], set[str]]]
) -> SliceChange:
    status = SLICES_COMPARED if before and after else NEW_IN_TOP if after else NO_LONGER_IN_TOP
    change = p = test = direction = note = None
    one = after or before
    other = 0 if status == NEW_IN_TOP else 1  # the search the slice is not in: does it have its terms?
    terms = one.terms  # type: ignore[union-attr]
    moved = sorted({t.column for t in terms if t.column in rebinned and t.value not in rebinned[t.column][other]})
    if status != SLICES_COMPARED and moved:
        side = "before" if status == NEW_IN_TOP else "after"
        note = OTHER_BINS.format(columns=_names(moved), side=side)
    if before is not None and after is not None:
        change = after.value - before.value
        p_value, method = two_proportion_test(after.events, after.n, before.events, before.n)
        p, test = float(p_value), str(method)
        worse = change < 0 if better == "higher" else change > 0
        direction = "same" if abs(change) <= SAME else "worse" if worse else "better"
    key = (after or before).key  # type: ignore[union-attr]
    return SliceChange(
        slice=key,
        status=status,
        before=None if before is None else before.value,
        after=None if after is None else after.value,
        change=change,
        n_before=None if before is None else before.n,
        n_after=None if after is None else after.n,
        significant_before=None if before is None else before.significant,
        significant_after=None if after is None else after.significant,
        p_value=p,
        q_value=None,
        test=test,
        significant=None,
        direction=direction,
        note=note,
    )


# --- HTML ----------------------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1f2328;max-width:80rem}
table{border-collapse:collapse;font-size:.85rem;margin:1rem 0}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.regression td{background:#ffebe9}tr.worse td{background:#fff8c5}
.summary{font-size:1.1rem}.warnings li{color:#9a6700}.meta{color:#57606a}
"""
# No script, image, font or connection may load, whatever the page holds.
CSP = "default-src 'none'; style-src 'unsafe-inline'"
HTML_COLUMNS = (
    "Attribute",
    "Group",
    "Metric",
    "Before",
    "After",
    "Change",
    "n before",
    "n after",
    "p",
    "q",
    "Test",
    "Status",
    "Note",
)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float | None, digits: int = 3, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _html_row(r: ComparisonRow) -> str:
    css = "regression" if r.regression else "worse" if r.worse else ""
    n_before = "—" if r.n_before is None else f"{r.n_before:,}"
    n_after = "—" if r.n_after is None else f"{r.n_after:,}"
    status = r.status + (" · regression" if r.regression else " · worse" if r.worse else "")
    cells = [
        (r.attribute, ""),
        (r.group if r.group is not None else "(all groups)", ""),
        (r.metric or "—", ""),
        (_num(r.before), "num"),
        (_num(r.after), "num"),
        (_num(r.change, signed=True), "num"),
        (n_before, "num"),
        (n_after, "num"),
        (_p(r.p_value), "num"),
        (_p(r.q_value), "num"),
        (r.test or "—", ""),
        (status, ""),
        (r.note or "", ""),
    ]
    tds = "".join(f'<td class="{c}">{_e(v)}</td>' if c else f"<td>{_e(v)}</td>" for v, c in cells)
    return f'<tr class="{css}">{tds}</tr>' if css else f"<tr>{tds}</tr>"


def _html_table(rows: Sequence[ComparisonRow]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in HTML_COLUMNS)
    body = "\n".join(_html_row(r) for r in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _html_stamp(label: str, audit: ComparedAudit) -> str:
    return (
        f"<li><strong>{_e(label)}</strong>: {_e(audit.name or 'unnamed data')} "
        f"({audit.rows_audited:,} rows audited; SHA-256 <code>{_e(audit.sha256[:12])}…</code>; "
        f"audited {_e(audit.created_at or 'at an unrecorded time')}; ParityLab {_e(audit.paritylab or 'unknown')})</li>"
    )


SLICE_HTML_COLUMNS = (
    "Slice",
    "Status",
    "Before",
    "After",
    "Change",
    "n before",
    "n after",
    "Significant then",
    "Significant now",
    "q (change)",
    "Note",
)


def _slices_html(tracking: SliceTracking) -> str:
    """The tracked slices: the summary and warnings, then one row per slice of either top-k."""

    def called(flag: bool | None) -> str:
        return "—" if flag is None else "yes" if flag else "no"

    parts = [f"<h2>Slices</h2><p>{_e(tracking.summary)}</p>"]
    warnings = [w for w in tracking.warnings if w != tracking.summary]
    if warnings:
        parts.append('<ul class="warnings">' + "".join(f"<li>{_e(w)}</li>" for w in warnings) + "</ul>")
    if not tracking.rows:
        return "\n".join(parts)
    head = "".join(f"<th>{_e(c)}</th>" for c in SLICE_HTML_COLUMNS)
    body = []
    for r in tracking.rows:
        status = r.status + ("" if r.direction is None else f" · {r.direction}")
        cells = [(r.slice, ""), (status, ""), (_num(r.before), "num"), (_num(r.after), "num"),
                 (_num(r.change, signed=True), "num"), ("—" if r.n_before is None else f"{r.n_before:,}", "num"),
                 ("—" if r.n_after is None else f"{r.n_after:,}", "num"), (called(r.significant_before), ""),
                 (called(r.significant_after), ""), (_p(r.q_value), "num"), (r.note or "", "")]  # fmt: skip
        body.append("<tr>" + "".join(f'<td class="{c}">{_e(v)}</td>' if c else f"<td>{_e(v)}</td>" for v, c in cells)
                    + "</tr>")  # fmt: skip
    parts.append(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{chr(10).join(body)}\n</tbody>\n</table>")
    if any(r.status == NO_LONGER_IN_TOP for r in tracking.rows):
        parts.append(f"<p>{_e(NOT_PROOF)}</p>")
    return "\n".join(parts)


def render_comparison_html(comparison: AuditComparison) -> str:
    """A self-contained HTML page of a comparison: summary, warnings, regressions, then every row.

    Every data-derived string is escaped, and a Content-Security-Policy forbids any script or
    request, so the page is safe to open offline and to attach to a ticket.
    """
    c = comparison
    settings = f"tolerance {c.tolerance:g}, disparate impact tolerance {c.di_tolerance:g}, alpha {c.alpha:g}, " + (
        "a regression must also be significant (q < alpha)"
        if c.require_significance
        else "a regression need not be significant (q-values shown for information)"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        "<title>ParityLab comparison</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>ParityLab comparison</h1>",
        f'<p class="summary">{_e(c.summary)}</p>',
        f'<ul class="meta">{_html_stamp("Before", c.before)}{_html_stamp("After", c.after)}',
        f"<li>Settings: {_e(settings)}</li></ul>",
    ]
    if c.warnings:
        items = "".join(f"<li>{_e(w)}</li>" for w in c.warnings)
        parts.append(f'<h2>Warnings</h2><ul class="warnings">{items}</ul>')
    if c.regressions:
        parts += ["<h2>Regressions</h2>", _html_table(c.regressions)]
    parts += [
        "<h2>Every metric</h2>",
        "<p>Rates are tested with a two-proportion test on the recorded counts; disparities with a Wald z-test "
        "of the change. q-values are Benjamini–Hochberg adjusted, separately for rates and disparities.</p>",
        _html_table(c.rows),
    ]
    if c.slices is not None:
        parts.append(_slices_html(c.slices))
    parts += [
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
