"""Every fairness metric, defined once over per-group counts.

The counts engine (:mod:`analysis.counts`, :mod:`analysis.thresholds`' curves) reduces a table to
per-group counts: rows with a decision, positive and favourable decisions, and with a label the
confusion counts. Everything ParityLab reports is arithmetic on those counts, and this module holds
that arithmetic:

- :data:`METRICS`: the registry — each metric's name, title, meaning, numerator and denominator,
  whether it needs a label, which direction is better, and its fairlearn / aif360 equivalent. The
  app, the HTML report, the exports and the CLI take titles and meanings from it.
- :class:`Counts` and :func:`group_counts` (the array-level entry point: decisions, labels and groups
  as arrays, as fairlearn's ``MetricFrame`` takes them).
- :func:`evaluate`: rates, the compared-group rule, the reference group, every comparison with the
  reference and every summary (ranges, ratios, the four-fifths verdict) — the one function behind
  :func:`analysis.audit.audit`, :func:`analysis.thresholds.what_if` / ``baseline``, the optimizer's
  evaluation and the retraining comparison. The audit adds intervals and tests on top.

Two measures that are easily confused have two names: ``disparate_impact_min`` is the lowest
group's favourable rate over the *reference group's* ("lowest impact ratio vs the reference");
``favorable_rate_ratio`` is the lowest favourable rate over the *highest* among the groups compared
("four-fifths ratio"), and the four-fifths verdict reads the second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.errors import OptionError
from analysis.groups import MISSING_GROUP
from analysis.options import FOUR_FIFTHS, MIN_GROUP_SIZE  # re-exported: the defaults live in analysis.options

__all__ = [
    "COMPARISONS",
    "FOUR_FIFTHS",
    "GLOSSARY",
    "LABEL_COMPARISONS",
    "LABEL_RATES",
    "METRICS",
    "METRIC_NAMES",
    "MIN_GROUP_SIZE",
    "RATES",
    "SLICE_METRICS",
    "SUMMARIES",
    "Counts",
    "MetricInfo",
    "MetricTable",
    "MetricValue",
    "Summary",
    "compared_groups",
    "divide",
    "evaluate",
    "finite",
    "four_fifths_words",
    "group_counts",
    "metric_table",
    "rate_counts",
    "rate_denominator",
    "rate_from_counts",
    "rate_parts",
    "rates",
    "title",
]

OK = "ok"
NOT_COMPUTABLE = "not computable"

REASON_REFERENCE = "this is the reference group"
REASON_ONE_GROUP = "not computable: only one group ({group!r}); there is nothing to compare it with"
REASON_NO_GROUP = "not computable: no group to compare"
REASON_NO_REFERENCE = "not computable: no group has a defined favourable rate"
REASON_FEW_ELIGIBLE = "not computable: fewer than two groups have at least {minimum} rows"
REASON_REFERENCE_ZERO = "undefined: the reference group's favourable rate is 0"
REASON_REFERENCE_RATE = "undefined: {rate} is undefined for the reference group"
REASON_RANGE = "undefined: {rate} is defined for fewer than two groups"
REASON_ALL_ZERO = "{rate} is 0 in every group: the groups are equal, so the ratio is 1 (as fairlearn counts it)"
REASON_NO_DI = "undefined: no group has a defined disparate impact"
RULE_NAMED = "named in the spec"
RULE_NAMED_UNUSABLE = "; the reference named in the spec, {group!r}, has no rows with a decision here"
RULE_HIGHEST = "highest favourable rate among groups with at least {minimum} rows"
RULE_NOT_MISSING = ", not counting the (missing) group"
RULE_NONE_BIG = "highest favourable rate (no group has enough rows to be reliable)"
RULE_NONE_BIG_BUT_MISSING = (
    "highest favourable rate among groups other than (missing) (none of them has at least {minimum} rows)"
)
RULE_ONLY_MISSING = "highest favourable rate (only the missing-value group has a rate)"


# --- the registry ------------------------------------------------------------------------------

Kind = Literal["rate", "score", "comparison", "summary", "outcome"]


@dataclass(frozen=True)
class MetricInfo:
    """What one metric is: its name, title, meaning, how it is computed and its peers' names.

    Attributes
    ----------
    name, title
        The identifier (JSON key) and the plain name every page, report and export shows.
    kind
        ``"rate"`` (a group's share), ``"score"`` (AUC, Brier), ``"comparison"`` (a group against
        the reference), ``"summary"`` (one number per attribute) or ``"outcome"`` (a total).
    meaning
        One sentence saying what it measures.
    numerator, denominator
        For a rate: the counts it divides (``"n"``, ``"positives"``, ``"favorable"``, ``"tp"`` …).
    needs_label
        Whether it needs the true outcome (a label column).
    better
        ``"higher"``, ``"lower"``, ``"closer to 1"``, ``"closer to 0"`` or None (no direction).
    scale, rates, against
        For comparisons and summaries: ``"ratio"`` or ``"difference"``, the rates it is made of, and
        whether it compares with the ``"reference"`` group or takes the ``"range"`` of the groups.
    fairlearn, aif360
        The equivalent in each library (None when there is none), as the cross-check tests use it.
    short
        A shorter name for a card label (the title otherwise).
    """

    name: str
    title: str
    kind: Kind
    meaning: str
    numerator: tuple[str, ...] = ()
    denominator: tuple[str, ...] = ()
    needs_label: bool = False
    better: str | None = None
    scale: str | None = None
    rates: tuple[str, ...] = ()
    against: str | None = None
    fairlearn: str | None = None
    aif360: str | None = None
    short: str | None = None

    @property
    def label(self) -> str:
        """The short name a card or an axis shows (the title when there is no shorter one)."""
        return self.short or self.title

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return out | {k: list(out[k]) for k in ("numerator", "denominator", "rates")}


LABELED = ("tp", "fp", "tn", "fn")
_FL = "fairlearn.metrics."
_CM = "ClassificationMetric."


def _rate(name, title, meaning, num, den, *, label=True, better=None, fl=None, aif=None) -> MetricInfo:
    return MetricInfo(name, title, "rate", meaning, num, den, label, better, fairlearn=fl, aif360=aif)


def _versus(name, title, meaning, scale, rates, *, better, aif=None, fl=None) -> MetricInfo:
    label = any(r not in ("favorable_rate", "selection_rate") for r in rates)
    return MetricInfo(name, title, "comparison", meaning, needs_label=label, better=better, scale=scale, rates=rates,
                      against="reference", fairlearn=fl, aif360=aif)  # fmt: skip


def _summary(name, title, meaning, scale, rates, against="range", *, better, fl=None, aif=None) -> MetricInfo:
    label = any(r not in ("favorable_rate", "selection_rate") for r in rates)
    return MetricInfo(name, title, "summary", meaning, needs_label=label, better=better, scale=scale, rates=rates,
                      against=against, fairlearn=fl, aif360=aif)  # fmt: skip


_REGISTRY = (
    _rate("selection_rate", "selection rate", "Share of the group's rows given the positive decision.",
          ("positives",), ("n",), label=False, fl=_FL + "selection_rate", aif=_CM + "selection_rate"),
    _rate("favorable_rate", "favourable rate", "Share of the group's rows given the favourable outcome (the "
          "positive decision, or the negative one when the positive decision harms the person).",
          ("favorable",), ("n",), label=False, aif=_CM + "selection_rate (favorable label)"),
    _rate("base_rate", "base rate", "Share of the group's labeled rows whose true outcome is positive.",
          ("tp", "fn"), LABELED, fl=_FL + "mean_prediction (of y_true)", aif=_CM + "base_rate"),
    _rate("tpr", "TPR", "True positive rate: of those whose true outcome is positive, the share given the "
          "positive decision.", ("tp",), ("tp", "fn"), better="higher", fl=_FL + "true_positive_rate",
          aif=_CM + "true_positive_rate"),
    _rate("fpr", "FPR", "False positive rate: of those whose true outcome is negative, the share given the "
          "positive decision.", ("fp",), ("fp", "tn"), better="lower", fl=_FL + "false_positive_rate",
          aif=_CM + "false_positive_rate"),
    _rate("tnr", "TNR", "True negative rate: of those whose true outcome is negative, the share given the "
          "negative decision.", ("tn",), ("fp", "tn"), better="higher", fl=_FL + "true_negative_rate",
          aif=_CM + "true_negative_rate"),
    _rate("fnr", "FNR", "False negative rate: of those whose true outcome is positive, the share given the "
          "negative decision.", ("fn",), ("tp", "fn"), better="lower", fl=_FL + "false_negative_rate",
          aif=_CM + "false_negative_rate"),
    _rate("precision", "precision", "Of those given the positive decision, the share whose true outcome is "
          "positive.", ("tp",), ("tp", "fp"), better="higher", fl="sklearn.metrics.precision_score",
          aif=_CM + "positive_predictive_value"),
    _rate("npv", "NPV", "Negative predictive value: of those given the negative decision, the share whose true "
          "outcome is negative.", ("tn",), ("tn", "fn"), better="higher", aif=_CM + "negative_predictive_value"),
    _rate("fdr", "FDR", "False discovery rate: of those given the positive decision, the share whose true "
          "outcome is negative.", ("fp",), ("tp", "fp"), better="lower", aif=_CM + "false_discovery_rate"),
    _rate("for", "FOR", "False omission rate: of those given the negative decision, the share whose true "
          "outcome is positive.", ("fn",), ("tn", "fn"), better="lower", aif=_CM + "false_omission_rate"),
    _rate("accuracy", "accuracy", "Share of labeled rows whose decision matches the true outcome.",
          ("tp", "tn"), LABELED, better="higher", fl="sklearn.metrics.accuracy_score", aif=_CM + "accuracy"),
    MetricInfo("auc", "AUC", "score", "Area under the ROC curve of the score against the label, within the group.",
               needs_label=True, better="higher", fairlearn="sklearn.metrics.roc_auc_score"),
    MetricInfo("brier", "Brier score", "score", "Mean squared difference between the score (a probability) and "
               "the label, within the group.", needs_label=True, better="lower",
               fairlearn="sklearn.metrics.brier_score_loss"),
    MetricInfo("calibration", "calibration", "score", "Observed label rate per score decile, by group.",
               needs_label=True),
    _versus("disparate_impact", "disparate impact", "A group's favourable rate divided by the reference group's "
            "(1 = the same rate).", "ratio", ("favorable_rate",), better="closer to 1",
            aif=_CM + "disparate_impact"),
    _versus("statistical_parity_difference", "statistical parity difference", "A group's favourable rate minus "
            "the reference group's (0 = parity).", "difference", ("favorable_rate",), better="closer to 0",
            aif=_CM + "statistical_parity_difference"),
    _versus("equal_opportunity_difference", "equal opportunity difference (TPR)", "A group's TPR minus the "
            "reference group's.", "difference", ("tpr",), better="closer to 0",
            aif=_CM + "equal_opportunity_difference"),
    _versus("fpr_difference", "FPR difference", "A group's FPR minus the reference group's.", "difference",
            ("fpr",), better="closer to 0", aif=_CM + "false_positive_rate_difference"),
    _versus("average_odds_difference", "average odds difference", "The mean of the TPR difference and the FPR "
            "difference.", "difference", ("tpr", "fpr"), better="closer to 0",
            aif=_CM + "average_odds_difference"),
    _versus("predictive_parity_difference", "predictive parity difference", "A group's precision minus the "
            "reference group's.", "difference", ("precision",), better="closer to 0",
            aif=_CM + "difference(positive_predictive_value)"),
    _summary("disparate_impact_min", "lowest impact ratio vs the reference group", "The lowest disparate impact "
             "of any group compared: its favourable rate over the reference group's.", "ratio",
             ("favorable_rate",), "reference", better="closer to 1",
             aif="min over groups of " + _CM + "disparate_impact"),
    _summary("favorable_rate_ratio", "four-fifths ratio (lowest ÷ highest favourable rate)", "The lowest "
             "favourable rate of the groups compared over the highest; the four-fifths rule asks for at least "
             "0.8.", "ratio", ("favorable_rate",), better="higher",
             fl=_FL + "demographic_parity_ratio (of the favourable outcome)"),
    _summary("demographic_parity_ratio", "demographic parity ratio", "The lowest selection rate of the groups "
             "compared over the highest.", "ratio", ("selection_rate",), better="higher",
             fl=_FL + "demographic_parity_ratio"),
    _summary("demographic_parity_difference", "demographic parity difference", "The highest selection rate of "
             "the groups compared minus the lowest.", "difference", ("selection_rate",), better="lower",
             fl=_FL + "demographic_parity_difference"),
    _summary("equalized_odds_difference", "equalized odds difference", "The larger of the TPR range and the FPR "
             "range over the groups compared.", "difference", ("tpr", "fpr"), better="lower",
             fl=_FL + "equalized_odds_difference"),
    _summary("equalized_odds_ratio", "equalized odds ratio", "The smaller of the TPR ratio and the FPR ratio "
             "(lowest ÷ highest) over the groups compared.", "ratio", ("tpr", "fpr"), better="higher",
             fl=_FL + "equalized_odds_ratio"),
    _summary("equal_opportunity_range", "TPR range", "The highest TPR of the groups compared minus the lowest "
             "(the equal-opportunity constraint's measure).", "difference", ("tpr",), better="lower",
             fl=_FL + "equal_opportunity_difference"),
    _summary("predictive_parity_range", "precision range", "The highest precision of the groups compared minus "
             "the lowest (the predictive-parity constraint's measure).", "difference", ("precision",),
             better="lower"),
    MetricInfo("utility", "net benefit", "outcome", "benefit_tp × true positives − cost_fp × false positives.",
               needs_label=True, better="higher"),
    MetricInfo("flips_to_positive", "decisions newly positive", "outcome", "Rows whose decision changes from "
               "negative to positive (against the current decisions)."),
    MetricInfo("flips_to_negative", "decisions newly negative", "outcome", "Rows whose decision changes from "
               "positive to negative (against the current decisions)."),
)  # fmt: skip
# Metric → (what it means, when it matters): the glossary beside the numbers (titles are the registry's).
GLOSSARY: dict[str, tuple[str, str]] = {
    "favorable_rate_ratio": (
        "The lowest favourable rate of the groups compared divided by the highest: 1 means every group receives "
        "the favourable outcome equally often. The **four-fifths rule** (US EEOC guidelines) reads a ratio below "
        "0.8 as evidence of adverse impact. Unlike the disparate impact of each group, it does not depend on which "
        "group is the reference.",
        "Decisions that hand out an opportunity or a benefit, when the question is whether any group receives it "
        "markedly less often than the best-treated group. It ignores who was qualified: read it with the error "
        "rates when the true outcome is known.",
    ),
    "disparate_impact": (
        "A group's favourable rate divided by the reference group's: 1 means the same rate, 0.5 half as "
        "often. The **four-fifths rule** (US EEOC guidelines) reads a ratio below 0.8 against the group with "
        "the highest rate as evidence of adverse impact.",
        "Decisions that hand out an opportunity or a benefit (hiring, lending, admission), when the question "
        "is whether groups receive it at similar rates. It ignores who was qualified: read it with the error "
        "rates when the true outcome is known.",
    ),
    "statistical_parity_difference": (
        "A group's favourable rate minus the reference group's (0 = parity). The demographic parity "
        "difference of an attribute is the largest gap in selection rate between any two groups compared.",
        "As disparate impact, on an additive scale: a 5-point gap weighs more at a 10% rate than at a 60% "
        "rate, which the ratio shows and the difference hides.",
    ),
    "equal_opportunity_difference": (
        "Among people whose true outcome is positive (the loan would be repaid, the ticket was urgent), the "
        "share who received the positive decision — the true positive rate — of a group minus the reference "
        "group's.",
        "When the costly error is **missing someone who deserved the positive decision**: assistive decisions"
        " such as loans, benefits or priority support.",
    ),
    "fpr_difference": (
        "Among people whose true outcome is negative, the share who received the positive decision anyway — "
        "the false positive rate — of a group minus the reference group's.",
        "When the costly error is **wrongly flagging someone**: punitive decisions such as fraud flags, risk "
        "scores or investigations, where the positive decision is the harmful one.",
    ),
    "average_odds_difference": (
        "The mean of the TPR difference and the FPR difference.",
        "A one-number summary of both error rates. Gaps of opposite sign cancel out in it, so check TPR and "
        "FPR separately.",
    ),
    "predictive_parity_difference": (
        "A group's precision (of those given the positive decision, the share whose true outcome is positive)"
        " minus the reference group's.",
        "When people act on the decision as a prediction (a risk flag read by a case worker): a positive "
        "decision should mean the same for every group. It is the decision-level relative of calibration.",
    ),
    "equalized_odds_difference": (
        "The larger of two gaps: the largest difference in TPR between any two groups compared, and the "
        "largest difference in FPR (fairlearn's definition). 0 means both kinds of error fall equally on "
        "every group.",
        "When both errors matter. It needs the true outcome (a label); a group where a rate is undefined (no "
        "positive or no negative labels) is left out rather than counted as 0.",
    ),
}

_SHORT = {"favorable_rate_ratio": "four-fifths ratio", "disparate_impact_min": "lowest impact ratio vs reference"}
METRICS: dict[str, MetricInfo] = {m.name: replace(m, short=_SHORT.get(m.name)) for m in _REGISTRY}
"""Every metric by name; :func:`title` gives its plain name."""
METRIC_NAMES: dict[str, str] = {name: m.title for name, m in METRICS.items()}
RATES: tuple[str, ...] = tuple(n for n, m in METRICS.items() if m.kind == "rate")
LABEL_RATES: tuple[str, ...] = tuple(n for n in RATES if METRICS[n].needs_label)
COMPARISONS: tuple[str, ...] = tuple(n for n, m in METRICS.items() if m.kind == "comparison")
LABEL_COMPARISONS: tuple[str, ...] = tuple(n for n in COMPARISONS if METRICS[n].needs_label)
SUMMARIES: tuple[str, ...] = tuple(n for n, m in METRICS.items() if m.kind == "summary")

ERROR_RATE = _rate("error_rate", "error rate", "Share of labeled rows whose decision differs from the true outcome "
                   "(1 − accuracy).", ("fp", "fn"), LABELED, better="lower", fl="1 - sklearn.metrics.accuracy_score",
                   aif=_CM + "error_rate")  # fmt: skip
SLICE_METRICS: dict[str, tuple[MetricInfo, str]] = {
    "favorable_rate": (METRICS["favorable_rate"], "higher"),
    "fpr": (METRICS["fpr"], "lower"),
    "fnr": (METRICS["fnr"], "lower"),
    "error_rate": (ERROR_RATE, "lower"),
}
"""The metrics a slice search ranks by, each with the direction that is better for the people in a slice."""


def title(name: str) -> str:
    """The plain name of metric ``name`` (the name itself when it is not a registered metric)."""
    info = METRICS.get(name)
    return name if info is None else info.title


def rate_denominator(name: str, counts: Mapping[str, int]) -> int:
    """The rows in rate ``name``'s denominator, from a group's counts (to say "undefined (n=0)")."""
    return sum(int(counts.get(c, 0)) for c in METRICS[name].denominator)


def rate_counts(name: str, counts: Mapping[str, int]) -> tuple[int, int]:
    """Rate ``name``'s (numerator, denominator) from a group's recorded counts (KeyError when one is absent)."""
    info = METRICS[name]
    return sum(int(counts[c]) for c in info.numerator), sum(int(counts[c]) for c in info.denominator)


def rate_from_counts(name: str, counts: Mapping[str, int]) -> float | None:
    """Rate ``name`` of a group from its recorded counts; None when its denominator is 0 (undefined)."""
    den = rate_denominator(name, counts)
    return sum(int(counts[c]) for c in METRICS[name].numerator) / den if den else None


# --- values ------------------------------------------------------------------------------------


def finite(value: object) -> float | None:
    """A finite Python float, or None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class MetricValue:
    """One reported number with its interval, test and reason.

    ``value`` is None when undefined, and ``reason`` says why; ``reason`` may also explain
    a missing interval. Only fields that are set appear in :meth:`to_dict`, except
    ``value``, which always does.
    """

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    test: str | None = None
    group: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: ``value`` always, other fields when set."""
        out: dict[str, Any] = {"value": self.value}
        for name in ("ci_low", "ci_high", "p_value", "q_value", "test", "group", "reason"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricValue:
        """Read :meth:`to_dict` output."""
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})

    @classmethod
    def undefined(cls, reason: str) -> MetricValue:
        """A null value with its reason."""
        return cls(None, reason=reason)

    @classmethod
    def of(cls, value: object, reason: str | None = None, **fields: Any) -> MetricValue:
        """``value`` as a record: None (with ``reason``, or "undefined") when it is not a finite number."""
        number = finite(value)
        if number is None:
            return cls(None, reason=reason or "undefined", **fields)
        return cls(number, **fields)


@dataclass(frozen=True)
class Summary:
    """One attribute's headline numbers, over the groups in ``groups_compared``.

    ``four_fifths_pass`` is whether the smallest favorable rate is at least ``di_threshold``
    (0.8) times the largest (``favorable_rate_ratio``, the four-fifths ratio); None when not
    computable. ``disparate_impact_min`` is a different measure: the lowest group's favourable
    rate over the reference group's. Demographic parity (of the selection rate) and equalized
    odds follow fairlearn's definitions (ratio = smallest / largest group rate; difference =
    largest − smallest; equalized odds takes the worse of TPR and FPR), but groups where a rate
    is undefined are left out instead of counted as 0.
    """

    status: str
    reason: str | None
    groups_compared: tuple[str, ...]
    four_fifths_pass: bool | None
    metrics: dict[str, MetricValue]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        out: dict[str, Any] = {}
        for name, metric in self.metrics.items():
            out[name] = metric.to_dict()
            if name == "disparate_impact_min":
                out["four_fifths_pass"] = self.four_fifths_pass
        if "four_fifths_pass" not in out:
            out["four_fifths_pass"] = self.four_fifths_pass
        return out | {"status": self.status, "reason": self.reason, "groups_compared": list(self.groups_compared)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Summary:
        """Read :meth:`to_dict` output."""
        fixed = ("status", "reason", "groups_compared", "four_fifths_pass")
        return cls(
            status=data["status"],
            reason=data["reason"],
            groups_compared=tuple(data["groups_compared"]),
            four_fifths_pass=data["four_fifths_pass"],
            metrics={k: MetricValue.from_dict(v) for k, v in data.items() if k not in fixed},
        )


# --- counts ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Counts:
    """Per-group counts, each an int64 array aligned with ``labels``: what every metric is computed from.

    Attributes
    ----------
    labels
        Group names.
    n, positives, favorable
        Rows with a decision; of those, rows with a positive decision and with the favourable one.
    tp, fp, tn, fn
        Confusion counts over rows with a decision and a label (None without a label).
    missing
        Which groups hold rows whose attribute is missing (never the automatic reference).
    """

    labels: tuple[str, ...]
    n: np.ndarray
    positives: np.ndarray
    favorable: np.ndarray
    tp: np.ndarray | None = None
    fp: np.ndarray | None = None
    tn: np.ndarray | None = None
    fn: np.ndarray | None = None
    missing: np.ndarray | None = None

    @classmethod
    def of(
        cls,
        labels: Sequence[str],
        n: Any,
        positives: Any,
        *,
        positive_is_favorable: bool = True,
        tp: Any = None,
        fp: Any = None,
        tn: Any = None,
        fn: Any = None,
        missing: Any = None,
    ) -> Counts:
        """Counts from arrays; ``favorable`` is ``positives`` or ``n − positives``; ``missing`` from the labels."""
        n, positives = np.asarray(n, dtype=np.int64), np.asarray(positives, dtype=np.int64)
        confusion = [None if x is None else np.asarray(x, dtype=np.int64) for x in (tp, fp, tn, fn)]
        if missing is None:
            missing = np.array([MISSING_GROUP in str(label).split(" × ") for label in labels], dtype=bool)
        return cls(
            labels=tuple(labels),
            n=n,
            positives=positives,
            favorable=positives if positive_is_favorable else n - positives,
            tp=confusion[0],
            fp=confusion[1],
            tn=confusion[2],
            fn=confusion[3],
            missing=np.asarray(missing, dtype=bool),
        )

    @property
    def has_label(self) -> bool:
        """Whether confusion counts are available."""
        return self.tp is not None

    @property
    def labeled(self) -> np.ndarray:
        """Rows with a decision and a label."""
        return self.tp + self.fp + self.tn + self.fn

    def count(self, name: str) -> np.ndarray:
        """One count by name (``"n"``, ``"positives"``, ``"favorable"``, ``"tp"`` …)."""
        return getattr(self, name)

    def group(self, i: int) -> dict[str, int]:
        """Group ``i``'s counts by name, as Python ints."""
        names = ("n", "positives", "favorable", *(LABELED if self.has_label else ()))
        return {name: int(self.count(name)[i]) for name in names}


def divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=np.asarray(den) != 0)
    return out


def rate_parts(c: Counts, names: Sequence[str] = RATES) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Rate name → (numerator, denominator) per group, for each of ``names`` the counts allow."""
    out = {}
    for name in names:
        info = METRICS[name]
        if info.needs_label and not c.has_label:
            continue
        num = sum(c.count(x) for x in info.numerator)
        den = sum(c.count(x) for x in info.denominator)
        out[name] = (np.asarray(num, dtype=np.int64), np.asarray(den, dtype=np.int64))
    return out


def rates(c: Counts, names: Sequence[str] = RATES) -> dict[str, np.ndarray]:
    """Rate name → value per group (NaN where the denominator is 0), for each of ``names`` the counts allow."""
    return {name: divide(num, den) for name, (num, den) in rate_parts(c, names).items()}


def _rate_reasons(name: str, label_positive: str, label_negative: str) -> str:
    positive = f" ({label_positive})" if label_positive else ""
    negative = f" ({label_negative})" if label_negative else ""
    den = METRICS[name].denominator
    if den == ("n",):
        return "undefined: no rows with a decision in this group"
    if den == ("tp", "fn"):
        return f"undefined: no rows with a positive label{positive} in this group"
    if den == ("fp", "tn"):
        return f"undefined: no rows with a negative label{negative} in this group"
    if den == ("tp", "fp"):
        return "undefined: no rows with a positive decision and a label in this group"
    if den == ("tn", "fn"):
        return "undefined: no rows with a negative decision and a label in this group"
    return "undefined: no rows with a label in this group"


# --- groups and the reference ------------------------------------------------------------------


def compared_groups(n: np.ndarray, min_group_size: int, shown: np.ndarray | None = None) -> np.ndarray:
    """The groups the summaries and the constraints cover: shown, with at least ``min_group_size`` rows."""
    big = np.asarray(n) >= min_group_size
    return big if shown is None else big & shown


def choose_reference(
    c: Counts, favorable_rate: np.ndarray, shown: np.ndarray, named: str | None, min_group_size: int
) -> tuple[int | None, str | None]:
    """The reference group's index and a true sentence on how it was chosen.

    The group named in the spec when it is shown and has a favourable rate; otherwise the highest favourable rate
    among groups with at least ``min_group_size`` rows, never the (missing) group unless it is the
    only group with a rate. Ties go to the larger group, then to the first.
    """
    defined = shown & np.isfinite(favorable_rate)
    if named is not None and named in c.labels and defined[c.labels.index(named)]:
        return c.labels.index(named), RULE_NAMED
    real = ~c.missing
    big = c.n >= min_group_size
    rule = RULE_HIGHEST.format(minimum=min_group_size)
    candidates = defined & real & big
    if candidates.any():
        best = np.max(favorable_rate[candidates])
        if (defined & c.missing & big & (favorable_rate > best)).any():
            rule += RULE_NOT_MISSING  # the sentence would be false without it
    if not candidates.any():
        candidates, rule = defined & real, RULE_NONE_BIG
        if (defined & c.missing & big).any():  # (missing) is large: the sentence must not say no group is
            rule = RULE_NONE_BIG_BUT_MISSING.format(minimum=min_group_size)
    if not candidates.any():
        candidates, rule = defined, RULE_ONLY_MISSING
    if not candidates.any():
        return None, None
    if named is not None:  # named, but without a row to compare with (or not shown): say why it is not used
        rule += RULE_NAMED_UNUSABLE.format(group=named)
    order = np.lexsort((-c.n, -np.where(candidates, favorable_rate, -np.inf)))
    return int(order[0]), rule


def _versus_reference(rates: Mapping[str, np.ndarray], ref: int) -> dict[str, np.ndarray]:
    fav = rates["favorable_rate"]
    out = {
        "disparate_impact": divide(fav, np.full_like(fav, fav[ref])),
        "statistical_parity_difference": fav - fav[ref],
    }
    if "tpr" in rates:
        eod, fprd = rates["tpr"] - rates["tpr"][ref], rates["fpr"] - rates["fpr"][ref]
        out |= {
            "equal_opportunity_difference": eod,
            "fpr_difference": fprd,
            "average_odds_difference": (eod + fprd) / 2,
            "predictive_parity_difference": rates["precision"] - rates["precision"][ref],
        }
    for values in out.values():
        values[ref] = np.nan
    return out


def _comparison_reasons(
    name: str, rates: Mapping[str, np.ndarray], reasons: Mapping[str, list[str | None]], ref: int
) -> list[str | None]:
    out: list[str | None] = []
    parts = METRICS[name].rates
    for i in range(len(rates["favorable_rate"])):
        if i == ref:
            out.append(REASON_REFERENCE)
            continue
        own = next((reasons[r][i] for r in parts if reasons[r][i] is not None), None)
        if any(not np.isfinite(rates[r][ref]) for r in parts):
            undefined = next(r for r in parts if not np.isfinite(rates[r][ref]))
            out.append(REASON_REFERENCE_RATE.format(rate="the " + title(undefined)))
        elif own is not None:
            out.append(own)
        elif name == "disparate_impact" and rates["favorable_rate"][ref] == 0:
            out.append(REASON_REFERENCE_ZERO)
        else:
            out.append(None)
    return out


# --- summaries ---------------------------------------------------------------------------------


def _range(rate: np.ndarray, groups: np.ndarray, name: str) -> tuple[MetricValue, MetricValue]:
    """fairlearn's between-group difference (max − min) and ratio (min / max) of one rate."""
    values = rate[groups & np.isfinite(rate)]
    if values.size < 2:
        undefined = MetricValue.undefined(REASON_RANGE.format(rate=name))
        return undefined, undefined
    lo, hi = float(values.min()), float(values.max())
    ratio = MetricValue(lo / hi) if hi > 0 else MetricValue(1.0, reason=REASON_ALL_ZERO.format(rate=name))
    return MetricValue(hi - lo), ratio


def _worst(a: MetricValue, b: MetricValue, pick, bound: float) -> MetricValue:
    """The worse of two parts; an undefined part could only lie in [0, 1], so a known part at ``bound`` decides."""
    if a.value is None and b.value is None:
        return a
    if a.value is None or b.value is None:
        known, unknown = (b, a) if a.value is None else (a, b)
        if known.value == bound:
            return MetricValue(bound, reason=f"decided by one part alone; the other is {unknown.reason}")
        return unknown
    return MetricValue(pick(a.value, b.value))


def _summaries(
    rates: Mapping[str, np.ndarray], di: np.ndarray | None, labels: Sequence[str], groups: np.ndarray
) -> dict[str, MetricValue]:
    if di is None:
        di_min = MetricValue.undefined(REASON_NO_DI)
    else:
        candidates = np.flatnonzero(groups & np.isfinite(di))
        if candidates.size:
            worst = int(candidates[np.argmin(di[candidates])])
            di_min = MetricValue(float(di[worst]), group=labels[worst])
        else:
            di_min = MetricValue.undefined(REASON_NO_DI)
    _, favorable_ratio = _range(rates["favorable_rate"], groups, "the favourable rate")
    dp_diff, dp_ratio = _range(rates["selection_rate"], groups, "the selection rate")
    out = {
        "disparate_impact_min": di_min,
        "favorable_rate_ratio": favorable_ratio,
        "demographic_parity_ratio": dp_ratio,
        "demographic_parity_difference": dp_diff,
    }
    if "tpr" in rates:
        tpr_diff, tpr_ratio = _range(rates["tpr"], groups, "the TPR")
        fpr_diff, fpr_ratio = _range(rates["fpr"], groups, "the FPR")
        pp_diff, _ = _range(rates["precision"], groups, "the precision")
        out |= {
            "equalized_odds_difference": _worst(tpr_diff, fpr_diff, max, 1.0),
            "equalized_odds_ratio": _worst(tpr_ratio, fpr_ratio, min, 0.0),
            "equal_opportunity_range": tpr_diff,
            "predictive_parity_range": pp_diff,
        }
    return out


def four_fifths_words(passed: bool | None, di_threshold: float = FOUR_FIFTHS) -> str:
    """The verdict in words: "passes the four-fifths rule", "fails …" or "…: not computable", naming the floor."""
    rule = "four-fifths rule" if di_threshold == FOUR_FIFTHS else f"{di_threshold:g} rule"
    if passed is None:
        return f"{rule}: not computable"
    return f"passes the {rule}" if passed else f"fails the {rule}"


def four_fifths_pass(ratio: MetricValue, di_threshold: float = FOUR_FIFTHS) -> bool | None:
    """The four-fifths verdict: whether the four-fifths ratio is at least ``di_threshold`` (None if undefined)."""
    return None if ratio.value is None else bool(ratio.value >= di_threshold)


# --- one grouping, evaluated -------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MetricTable:
    """Every metric of one grouping's counts: rates, the reference, comparisons and the summary.

    Attributes
    ----------
    counts
        The counts evaluated.
    rates
        Rate name → value per group (NaN undefined); ``rate_reasons`` say why, per group.
    status, reason
        ``"ok"``, or ``"not computable"`` and why (one group shown, no group with a rate).
    reference, reference_rule
        The reference group's index and how it was chosen (None when not computable).
    comparisons
        Comparison name → value per group against the reference (NaN for the reference itself and
        when undefined); ``comparison_reasons`` say why.
    compared
        Which groups enter the summary: shown, with at least ``min_group_size`` rows.
    summary
        The :class:`Summary` over the compared groups, with the four-fifths verdict.
    """

    counts: Counts
    rates: dict[str, np.ndarray]
    rate_reasons: dict[str, list[str | None]]
    status: str
    reason: str | None
    reference: int | None
    reference_rule: str | None
    comparisons: dict[str, np.ndarray]
    comparison_reasons: dict[str, list[str | None]]
    shown: np.ndarray
    compared: np.ndarray
    summary: Summary
    min_group_size: int = MIN_GROUP_SIZE
    di_threshold: float = FOUR_FIFTHS

    @property
    def labels(self) -> tuple[str, ...]:
        """Group names."""
        return self.counts.labels

    @property
    def reference_group(self) -> str | None:
        """The reference group's name."""
        return None if self.reference is None else self.labels[self.reference]

    def metric(self, group: str, name: str) -> MetricValue:
        """One group's rate or comparison as a record (with the reason when undefined)."""
        i = self.labels.index(group)
        if name in self.rates:
            return MetricValue.of(self.rates[name][i], self.rate_reasons[name][i])
        reasons = self.comparison_reasons.get(name)
        values = self.comparisons.get(name)
        if values is None:
            return MetricValue.undefined(self.reason or f"undefined: {title(name)} needs a label")
        return MetricValue.of(values[i], reasons[i] if reasons else None)

    def group_metrics(self, group: str) -> dict[str, MetricValue]:
        """One group's rates then comparisons, by name."""
        return self.every_group_metrics()[group]

    def every_group_metrics(self) -> dict[str, dict[str, MetricValue]]:
        """Every group's rates then comparisons, by name (each array read once: what-if queries are hot)."""
        columns = [(name, values.tolist(), self.rate_reasons[name]) for name, values in self.rates.items()]
        columns += [(name, values.tolist(), self.comparison_reasons[name]) for name, values in self.comparisons.items()]
        return {
            group: {name: MetricValue.of(values[i], reasons[i]) for name, values, reasons in columns}
            for i, group in enumerate(self.labels)
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: groups (counts, rates, comparisons), the reference and the summary."""
        return {
            "status": self.status,
            "reason": self.reason,
            "reference_group": self.reference_group,
            "reference_rule": self.reference_rule,
            "min_group_size": self.min_group_size,
            "groups": {
                g: {"counts": self.counts.group(i), "compared": bool(self.compared[i])}
                | {k: m.to_dict() for k, m in metrics.items()}
                for i, (g, metrics) in enumerate(self.every_group_metrics().items())
            },
            "summary": self.summary.to_dict(),
        }


def evaluate(
    counts: Counts,
    *,
    min_group_size: int = MIN_GROUP_SIZE,
    reference: str | None = None,
    di_threshold: float = FOUR_FIFTHS,
    shown: np.ndarray | None = None,
    reason: str | None = None,
    label_positive: str = "",
    label_negative: str = "",
) -> MetricTable:
    """Every rate, the reference group, every comparison and the summary of one grouping's counts.

    Parameters
    ----------
    counts
        Per-group counts (:class:`Counts`, e.g. from :func:`group_counts`).
    min_group_size
        Groups with fewer rows are too small to conclude: they enter no summary and are not the
        automatic reference.
    reference
        A group named as the reference (else the highest favourable rate, see :func:`choose_reference`).
    di_threshold
        The four-fifths floor of the verdict.
    shown
        Which groups may be compared at all (intersection cells under the minimum cell size are not);
        default every group.
    reason
        Why the grouping is not computable, when the caller knows (e.g. fewer than two intersection
        cells shown); otherwise found here.
    label_positive, label_negative
        The label's conditions ("repaid = 1"), to word the reasons of undefined error rates.
    """
    n_groups = len(counts.labels)
    shown = np.ones(n_groups, dtype=bool) if shown is None else np.asarray(shown, dtype=bool)
    parts = rate_parts(counts)
    values = {name: divide(num, den) for name, (num, den) in parts.items()}
    rate_reasons = {
        name: [None if d else _rate_reasons(name, label_positive, label_negative) for d in den.tolist()]
        for name, (_, den) in parts.items()
    }
    if reason is None and shown.sum() < 2:
        visible = np.flatnonzero(shown)
        reason = REASON_ONE_GROUP.format(group=counts.labels[visible[0]]) if visible.size else REASON_NO_GROUP
    ref = rule = None
    if reason is None:
        ref, rule = choose_reference(counts, values["favorable_rate"], shown, reference, min_group_size)
        reason = None if ref is not None else REASON_NO_REFERENCE
    names = COMPARISONS if counts.has_label else tuple(c for c in COMPARISONS if c not in LABEL_COMPARISONS)
    if reason is None:
        comparisons = _versus_reference(values, ref)
        comparison_reasons = {name: _comparison_reasons(name, values, rate_reasons, ref) for name in comparisons}
    else:
        comparisons = {name: np.full(n_groups, np.nan) for name in names}
        comparison_reasons = {name: [reason] * n_groups for name in names}
    compared = compared_groups(counts.n, min_group_size, shown)
    summary_names = ("disparate_impact_min", "favorable_rate_ratio", "demographic_parity_ratio")
    summary_names += ("demographic_parity_difference",)
    if counts.has_label:
        summary_names += ("equalized_odds_difference", "equalized_odds_ratio")
        summary_names += ("equal_opportunity_range", "predictive_parity_range")
    summary_reason = reason
    if summary_reason is None and compared.sum() < 2:
        summary_reason = REASON_FEW_ELIGIBLE.format(minimum=min_group_size)
    if summary_reason is not None:
        metrics = {name: MetricValue.undefined(summary_reason) for name in summary_names}
        summary = Summary(NOT_COMPUTABLE, summary_reason, (), None, metrics)
    else:
        metrics = _summaries(values, comparisons["disparate_impact"], counts.labels, compared)
        groups = tuple(counts.labels[i] for i in np.flatnonzero(compared))
        passed = four_fifths_pass(metrics["favorable_rate_ratio"], di_threshold)
        summary = Summary(OK, None, groups, passed, metrics)
    return MetricTable(
        counts=counts,
        rates=values,
        rate_reasons=rate_reasons,
        status=OK if reason is None else NOT_COMPUTABLE,
        reason=reason,
        reference=ref,
        reference_rule=rule,
        comparisons=comparisons,
        comparison_reasons=comparison_reasons,
        shown=shown,
        compared=compared,
        summary=summary,
        min_group_size=min_group_size,
        di_threshold=di_threshold,
    )


# --- the array-level entry point ---------------------------------------------------------------


def _known(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(is known, as bool) for a 0/1 / bool array where NaN, None or pandas' NA means unknown."""
    arr = np.asarray(values, dtype=object)
    known = ~pd.isna(arr).astype(bool)
    out = np.zeros(arr.size, dtype=bool)
    out[known] = arr[known].astype(float) != 0
    return known, out


def group_counts(
    y_pred: Any,
    groups: Any,
    y_true: Any = None,
    *,
    positive_is_favorable: bool = True,
    labels: Sequence[str] | None = None,
) -> Counts:
    """Per-group counts from arrays, as fairlearn's ``MetricFrame`` takes them.

    Parameters
    ----------
    y_pred
        The decision per row: 1/True positive, 0/False negative; NaN or None for no decision (left out).
    groups
        The group of each row; None or NaN is the ``(missing)`` group.
    y_true
        The label per row (1/0, NaN or None unknown), or None for no label.
    positive_is_favorable
        Whether the positive decision benefits the person.
    labels
        The groups, in order (e.g. bins in their order); default the groups found, sorted, ``(missing)`` last.
    """
    decided, positive = _known(y_pred)
    raw = np.asarray(groups, dtype=object)
    names = np.where(pd.isna(raw), MISSING_GROUP, raw.astype(str)).astype(object)
    sizes = {"y_pred": decided.size, "groups": names.size}
    if y_true is not None:
        sizes["y_true"] = np.asarray(y_true, dtype=object).size
    if len(set(sizes.values())) > 1:
        got = ", ".join(f"{k} {v:,}" for k, v in sizes.items())
        raise OptionError(f"group_counts() takes one value per row in each array, got {got}. Pass equal lengths.")
    found = {str(g) for g in names.tolist()}
    if labels is None:
        labels = sorted(found - {MISSING_GROUP}) + ([MISSING_GROUP] if MISSING_GROUP in found else [])
    elif found - set(labels):
        unknown = sorted(found - set(labels))
        raise OptionError(
            f"group_counts() option labels must list every group, got {list(labels)}; {unknown} are not among them. "
            "Add them to labels, or leave labels out."
        )
    labels = tuple(labels)
    index = {g: i for i, g in enumerate(labels)}
    codes = np.array([index[g] for g in names.tolist()], dtype=np.int64)
    k = len(labels)
    n = np.bincount(codes[decided], minlength=k)
    selected = np.bincount(codes[decided & positive], minlength=k)
    confusion: dict[str, np.ndarray] = {}
    if y_true is not None:
        known, truth = _known(y_true)
        both = decided & known
        for name, mask in (("tp", positive & truth), ("fp", positive & ~truth), ("tn", ~positive & ~truth),
                           ("fn", ~positive & truth)):  # fmt: skip
            confusion[name] = np.bincount(codes[both & mask], minlength=k)
    return Counts.of(labels, n, selected, positive_is_favorable=positive_is_favorable, **confusion)


def metric_table(
    y_pred: Any,
    groups: Any,
    y_true: Any = None,
    *,
    positive_is_favorable: bool = True,
    min_group_size: int = MIN_GROUP_SIZE,
    reference: str | None = None,
    di_threshold: float = FOUR_FIFTHS,
    labels: Sequence[str] | None = None,
) -> MetricTable:
    """Every metric of decisions ``y_pred`` by ``groups`` and labels ``y_true``: :func:`evaluate` of their counts.

    The numbers equal the audit's for a table with these columns (the audit adds intervals and tests).
    """
    counts = group_counts(y_pred, groups, y_true, positive_is_favorable=positive_is_favorable, labels=labels)
    return evaluate(counts, min_group_size=min_group_size, reference=reference, di_threshold=di_threshold)
