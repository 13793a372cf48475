"""Checks on a saved audit result before any number in it is used.

A result JSON may have been edited by hand, cut short or damaged. :func:`check_audit_data` walks it
once and refuses the first problem with the path of the field (``attributes["ethnicity"].groups["B"]
.counts.tp``): a missing field, a wrong type (a rate written as the text ``"0.5"``), a number that is
not finite, a count that is negative or fractional, or counts that disagree with the group's ``n``.
:meth:`analysis.audit.AuditResult.from_dict` calls it, so ``compare``, the Report page's resume and
its monitoring upload all go through the same checks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from analysis.errors import ParityLabError
from analysis.metrics import METRICS, RATES, rate_from_counts

__all__ = ["DAMAGED", "check_audit_data", "damaged", "json_kind"]

DAMAGED = (
    "{where} {problem}. The file was edited or damaged: export the audit result from ParityLab again (its JSON result)."
)
RATE_TOLERANCE = 1e-9
COUNT = "counts must be whole numbers of at least 0"
SHOWN_KEY = 40
# The keys json_kind names when a JSON file is not what was expected: enough to recognise it, not all of a
# large object.
SHOWN_KEYS = 10
SHOWN_VALUE = 40
# Keys of a group that are not metrics; every other key of a group is a metric object.
GROUP_FIXED = ("n", "share", "status", "is_reference", "values", "counts")
SUMMARY_FIXED = ("status", "reason", "groups_compared", "four_fifths_pass")
METRIC_NUMBERS = ("value", "ci_low", "ci_high", "p_value", "q_value")
METRIC_TEXTS = ("test", "group", "reason")
PROBABILITIES = ("p_value", "q_value")
FINDING_NUMBERS = ("q_value", "value", "ci_low", "ci_high", "detectable_gap")
CONFUSION = ("tp", "fp", "tn", "fn")


class _Damaged(Exception):
    def __init__(self, where: str, problem: str):
        super().__init__(where, problem)
        self.where, self.problem = where, problem


def _key(name: object) -> str:
    text = json.dumps(str(name)[:SHOWN_KEY], ensure_ascii=True)  # escapes control characters
    return f"[{text}]"


def _shown(value: object) -> str:
    if isinstance(value, str):
        text = json.dumps(value[:SHOWN_VALUE], ensure_ascii=True)
        return f"the text {text}"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "infinite"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


class _Walker:
    """Typed reads of a parsed JSON value, each naming its path when it fails."""

    def __init__(self, data: Any, where: str):
        self.data = data
        self.where = where

    def fail(self, problem: str) -> None:
        raise _Damaged(self.where, problem)

    def field(self, name: str, *, required: bool = True) -> _Walker | None:
        if not isinstance(self.data, Mapping):
            self.fail(f"is {_shown(self.data)}; it must be an object")
        if name not in self.data:
            if required:
                raise _Damaged(self.where or "The result", f"has no field '{name}'")
            return None
        return _Walker(self.data[name], f"{self.where}.{name}" if self.where else name)

    def items(self) -> list[tuple[str, _Walker]]:
        """The entries of an object keyed by data (attribute and group names): ``groups["B"]``."""
        self.object()
        return [(k, _Walker(v, f"{self.where}{_key(k)}")) for k, v in self.data.items()]

    def fields(self) -> list[tuple[str, _Walker]]:
        """The entries of an object keyed by field names: ``counts.tp``."""
        self.object()
        return [(k, _Walker(v, f"{self.where}.{k}")) for k, v in self.data.items()]

    def elements(self) -> list[_Walker]:
        if not isinstance(self.data, list):
            self.fail(f"is {_shown(self.data)}; it must be a list")
        return [_Walker(v, f"{self.where}[{i}]") for i, v in enumerate(self.data)]

    def object(self) -> Mapping[str, Any]:
        if not isinstance(self.data, Mapping):
            self.fail(f"is {_shown(self.data)}; it must be an object")
        return self.data

    def text(self, *, optional: bool = False) -> str | None:
        if self.data is None and optional:
            return None
        if not isinstance(self.data, str):
            self.fail(f"is {_shown(self.data)}; it must be text{' or null' if optional else ''}")
        return self.data

    def flag(self, *, optional: bool = False) -> bool | None:
        if self.data is None and optional:
            return None
        if not isinstance(self.data, bool):
            self.fail(f"is {_shown(self.data)}; it must be true or false{' or null' if optional else ''}")
        return self.data

    def number(self, *, optional: bool = False, low: float | None = None, high: float | None = None) -> float | None:
        value = self.data
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(f"is {_shown(value)}; it must be a number{' or null' if optional else ''}")
        if not math.isfinite(value):
            self.fail(f"is {_shown(value)}; every number must be finite")
        if (low is not None and value < low) or (high is not None and value > high):
            self.fail(f"is {value!r}; it must be between {low:g} and {high:g}")
        return float(value)

    def count(self) -> int:
        value = self.data
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(f"is {_shown(value)}; {COUNT}")
        return int(value)


def damaged(where: str, problem: str) -> ParityLabError:
    """The error for a damaged result: ``where`` (a field's path) ``problem``, and how to get a good file."""
    return ParityLabError(DAMAGED.format(where=where, problem=problem))


def check_audit_data(data: Mapping[str, Any]) -> None:
    """Check a parsed audit result (``AuditResult.to_dict()`` output) before it is read.

    Raises
    ------
    ParityLabError
        The first problem found, with the path of the field, what it holds and what it must hold.
    """
    try:
        _check_result(_Walker(data, ""))
    except _Damaged as exc:
        raise damaged(exc.where, exc.problem) from None


def _check_result(root: _Walker) -> None:
    created_at = root.field("created_at", required=False)
    if created_at is not None:
        created_at.text(optional=True)
    versions = root.field("versions", required=False)
    if versions is not None and versions.data is not None:
        for _, version in versions.items():
            version.text()
    dataset = root.field("dataset")
    rows = dataset.field("rows").count()
    audited = dataset.field("rows_audited")
    if audited.count() > rows:
        audited.fail(f"is {audited.data:,}, more than the dataset's {rows:,} rows")
    dataset.field("name").text(optional=True)
    dataset.field("sha256").text()
    resolution = dataset.field("score_resolution", required=False)
    if resolution is not None and resolution.data is not None:
        resolution.field("distinct").count()
        for name in ("step", "anchor"):
            value = resolution.field(name, required=False)
            if value is not None:
                value.number(optional=True)
    engine = root.field("engine", required=False)
    if engine is not None:
        engine.text(optional=True)
    root.field("spec").object()  # AuditSpec.from_dict checks its fields
    for name, option in root.field("options").fields():
        option.count() if name.startswith("min_") else option.number()
    for part in ("attributes", "intersections"):
        for _, audit in root.field(part).items():
            _check_audit(audit, rows)
    for part in ("skipped", "left_out"):
        block = root.field(part, required=False)
        for item in block.elements() if block is not None else ():
            item.object()
            if part == "left_out":
                item.field("rows").count()
    warnings = root.field("warnings", required=False)
    for warning in warnings.elements() if warnings is not None else ():
        warning.text()
    load = root.field("load", required=False)
    if load is not None and load.data is not None:
        load.field("rows").count()
        for part in ("changes", "warnings"):
            for item in load.field(part).elements():
                item.object() if part == "changes" else item.text()
    slices = root.field("slices", required=False)  # results saved without a slice search have none
    if slices is not None and slices.data is not None:
        _check_slices(slices)


def _check_slices(search: _Walker) -> None:
    """A recorded slice search: the numbers ``compare`` tests (counts, rates, q-values) typed and consistent."""
    for name in ("metric", "title", "better", "engine"):
        search.field(name).text()
    for name in ("rows", "events", "max_depth", "min_support", "top_k", "tested", "pruned"):
        search.field(name).count()
    search.field("overall").number(optional=True, low=0, high=1)
    search.field("alpha").number(low=0, high=1)
    for feature in search.field("features").elements():
        feature.field("column").text()
    for one in search.field("slices").elements():
        for term in one.field("terms").elements():
            term.field("column").text()
            term.field("value").text()
        for n, events in (("n", "events"), ("rest_n", "rest_events")):
            total, part = one.field(n).count(), one.field(events)
            if part.count() > total:
                part.fail(f"is {part.data:,}, more than the slice's {n} ({total:,})")
        for name in ("value", "low", "high", "p_value", "q_value"):
            one.field(name).number(low=0, high=1)
        for name in ("rest_value", "difference", "difference_low", "difference_high", "ratio", "ratio_low",
                     "ratio_high"):  # fmt: skip
            one.field(name).number(optional=True)
        one.field("harm").number()
        one.field("significant").flag()
        one.field("folded").count()


def _check_audit(audit: _Walker, rows: int) -> None:
    audit.field("name").text()
    for column in audit.field("columns").elements():
        column.text()
    audit.field("status").text()
    for name in ("reason", "reference_group", "reference_rule"):
        audit.field(name).text(optional=True)
    for _, group in audit.field("groups").items():
        _check_group(group, rows)
    summary = audit.field("summary")
    for name, item in summary.fields():
        if name not in SUMMARY_FIXED:
            _check_metric(item)
    summary.field("status").text()
    summary.field("reason").text(optional=True)
    summary.field("four_fifths_pass").flag(optional=True)
    for group in summary.field("groups_compared").elements():
        group.text()
    for finding in audit.field("findings").elements():
        finding.field("kind").text()
        finding.field("text").text()
        for name in FINDING_NUMBERS:
            item = finding.field(name, required=False)
            if item is not None:
                item.number(optional=True)
    for cell in audit.field("suppressed").elements():
        cell.field("group").text()
        cell.field("n").count()
        cell.field("values").object()
    calibration = audit.field("calibration", required=False)
    if calibration is not None and calibration.data is not None:
        for edge in calibration.field("edges").elements():
            edge.number()
        for _, bins in calibration.field("groups").items():
            for item in bins.elements():
                item.field("bin").count()
                item.field("n").count()
                for name in ("low", "high", "mean_score"):
                    item.field(name).number()
                _check_metric(item.field("observed_rate"))
    distribution = audit.field("decision_distribution", required=False)
    if distribution is not None and distribution.data is not None:
        values = [v.text() for v in distribution.field("values").elements()]
        for _, cells in distribution.field("groups").items():
            for value in values:
                cell = cells.field(value)
                cell.field("count").count()
                _check_metric(cell.field("share"))


def _check_group(group: _Walker, rows: int) -> None:
    n = group.field("n").count()
    if n > rows:
        group.field("n").fail(f"is {n:,}, more than the dataset's {rows:,} rows")
    group.field("share").number(low=0, high=1)
    group.field("status").text()
    group.field("is_reference").flag()
    for _, value in group.field("values").items():
        value.text()
    _check_counts(group.field("counts"), n)
    for name, item in group.fields():
        if name not in GROUP_FIXED:
            _check_metric(item)
    _check_rates(group)


def _check_rates(group: _Walker) -> None:
    """Refuse a rate that its group's counts do not give (a hand-edited ``value``)."""
    counts = dict(group.data["counts"])
    for name in RATES:
        needed = (*METRICS[name].numerator, *METRICS[name].denominator)
        if name not in group.data or not all(c in counts for c in needed):
            continue
        value, expected = group.data[name].get("value"), rate_from_counts(name, counts)
        if expected is None and value is None:
            continue
        if expected is None or value is None or abs(value - expected) > RATE_TOLERANCE:
            given = "null" if expected is None else f"{expected:.6g}"
            group.field(name).field("value").fail(f"is {_shown(value)} but its counts give {given}")


def _check_counts(counts: _Walker, n: int) -> None:
    values = {name: item.count() for name, item in counts.fields()}
    for name in ("n", "positives", "favorable"):
        if name not in values:
            counts.fail(f"has no count '{name}'")
    if values["n"] != n:
        counts.field("n").fail(f"is {values['n']:,} but the group's n is {n:,}; they must agree")
    for name in ("positives", "favorable"):
        if values[name] > n:
            counts.field(name).fail(f"is {values[name]:,}, more than the group's n of {n:,}")
    present = [name for name in (*CONFUSION, "label_missing") if name in values]
    if not present:
        return
    if len(present) < len(CONFUSION) + 1:
        missing = next(name for name in (*CONFUSION, "label_missing") if name not in values)
        counts.fail(f"has no count '{missing}' (it has the other confusion counts)")
    labeled = sum(values[name] for name in CONFUSION)
    if labeled + values["label_missing"] != n:
        counts.fail(f"has tp + fp + tn + fn + label_missing = {labeled + values['label_missing']:,}, not n = {n:,}")
    if values["tp"] + values["fp"] > values["positives"]:
        counts.fail(f"has tp + fp = {values['tp'] + values['fp']:,}, more than positives = {values['positives']:,}")


def _check_metric(metric: _Walker) -> None:
    metric.object()
    if "value" not in metric.data:
        metric.fail("has no field 'value'")
    for name in METRIC_NUMBERS:
        item = metric.field(name, required=False)
        if item is not None:
            bounds = {"low": 0, "high": 1} if name in PROBABILITIES else {}
            item.number(optional=True, **bounds)
    for name in METRIC_TEXTS:
        item = metric.field(name, required=False)
        if item is not None:
            item.text(optional=True)


def json_kind(data: object) -> str:
    """What a parsed JSON value is, in words: ``an object with keys ["rows", "settings"]``, ``a list``, …."""
    if isinstance(data, dict):
        # json.dumps escapes control characters, so a hostile key cannot drive the terminal.
        keys = json.dumps([str(k)[:40] for k in list(data)[:SHOWN_KEYS]], ensure_ascii=True)
        more = f" and {len(data) - SHOWN_KEYS} more" if len(data) > SHOWN_KEYS else ""
        return f"an object with keys {keys}{more}"
    if isinstance(data, list):
        return f"a list of {len(data)} item{'' if len(data) == 1 else 's'}"
    if isinstance(data, bool):
        return f"the value {json.dumps(data)}"
    if isinstance(data, (int, float)):
        return "a number"
    if isinstance(data, str):
        return "a string"
    return "null"
