"""The story of an audit: one verdict per gap, the gaps ranked, and the worst one in a sentence.

An attribute's (or intersection's) *gap* is its worst-treated group — the lowest favourable rate
among the groups compared — against the best-treated one, the highest. Its size is the audit's
four-fifths ratio (``Summary.favorable_rate_ratio``, read, never recomputed), with a Katz interval
and a two-proportion test on the two groups' counts. Its :class:`Verdict` combines the four-fifths
rule, that test and the sample size into one of a few plain statements (:data:`VERDICTS`), which
every surface — the Fairness page, the report, the command line — shows word for word:

- ``fails``: below four-fifths and significant;
- ``fails_inconclusive``: below four-fifths, but the test cannot tell it from chance;
- ``significant_gap``: passes four-fifths, but the pair differs significantly, or the audit found a
  significant error-rate gap (a true- or false-positive rate gap beyond its threshold, with q < alpha);
- ``no_gap``: no gap detected, with the gap these sample sizes could have detected;
- ``not_computable``: with the reason.

q-values. When the best-treated group is the attribute's reference (the usual, automatic case), the
audit already tested the pair: its q-value is used as it is, so a finding and the verdict always
agree. Otherwise (a reference named in the spec that is not the highest group) the pair is tested
here, and its q-value is Benjamini–Hochberg over the audit's own family of tests with these added
ones — the same family, one test larger; the audit's recorded q-values are left as they are.

Gaps are ranked by their four-fifths ratio alone, lowest first: the engine cannot know that a gap
comes through a legitimate channel (on the loan sample, age acts through credit history, by
construction), so such a gap ranks by its size like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.metrics import finite
from analysis.options import FOUR_FIFTHS
from analysis.stats import benjamini_hochberg, katz_interval, minimum_detectable_difference, two_proportion_test
from analysis.words import decision_words

if TYPE_CHECKING:
    from analysis.audit import AttributeAudit, AuditResult
    from analysis.slices import Slice, SliceSearch

__all__ = [
    "VERDICTS",
    "Gap",
    "Verdict",
    "gap_for",
    "headline",
    "rank_gaps",
    "slice_beyond_groups",
    "verdict_for",
    "worst_gap",
]

FAILS = "fails"
FAILS_INCONCLUSIVE = "fails_inconclusive"
SIGNIFICANT_GAP = "significant_gap"
NO_GAP = "no_gap"
NOT_COMPUTABLE = "not_computable"

# Code → statement. "{rule}" is "four-fifths" (or the floor the audit used); the others are filled per gap.
VERDICTS: dict[str, str] = {
    FAILS: "below {rule} and significant",
    FAILS_INCONCLUSIVE: "below {rule} but not conclusive (small groups: a gap this size could be chance)",
    SIGNIFICANT_GAP: "passes {rule}, but with a significant gap in {what}",
    NO_GAP: "no gap detected (a gap of {gap} could have been detected)",
    NOT_COMPUTABLE: "not computable ({reason})",
}
NO_GAP_UNKNOWN = "no gap detected"

# The comparisons whose significant gap (an audit finding) makes a passing attribute "significant_gap".
ERROR_RATES = {"equal_opportunity_difference": "true-positive rates", "fpr_difference": "false-positive rates"}
TESTED = ("disparate_impact", "equal_opportunity_difference", "fpr_difference")  # the audit's family of tests


def _rule(di_threshold: float) -> str:
    return "four-fifths" if di_threshold == FOUR_FIFTHS else f"{di_threshold:g}"


def _fmt_gap(x: float) -> str:
    return "< 0.001" if x < 0.001 else f"{x:#.2g}"


def _fmt_q(q: float) -> str:
    return "q < 0.001" if q < 0.001 else f"q = {q:.3f}"


def _reason(text: str | None) -> str:
    text = (text or "undefined").strip().rstrip(".")
    for prefix in ("not computable: ", "undefined: "):
        text = text.removeprefix(prefix)
    return text


@dataclass(frozen=True)
class Verdict:
    """One gap's verdict: a code of :data:`VERDICTS` and its statement, with what it rests on.

    Attributes
    ----------
    code, text
        ``"fails"`` … and the statement every surface shows as it is.
    four_fifths_pass
        The audit's four-fifths verdict (None when not computable).
    ratio
        The four-fifths ratio.
    q_value, alpha
        The pair's q-value and the level it is compared with.
    detectable_gap, power
        The smallest difference in favourable rate the pair's sizes could detect, at this power.
    significant
        Comparisons with a significant gap the audit found (``"equal_opportunity_difference"`` …).
    reason
        Why it is not computable.
    """

    code: str
    text: str
    four_fifths_pass: bool | None = None
    ratio: float | None = None
    q_value: float | None = None
    alpha: float | None = None
    detectable_gap: float | None = None
    power: float | None = None
    significant: tuple[str, ...] = ()
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict with every field."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return out | {"significant": list(self.significant)}


@dataclass(frozen=True)
class Gap:
    """One attribute's (or intersection's) gap: its worst-treated group against its best-treated one.

    Attributes
    ----------
    attribute
        ``AttributeAudit.name``: a column, or an intersection ``"gender × ethnicity"``.
    intersection
        Whether it is an intersection.
    group, reference
        The lowest and the highest favourable rate among the groups compared (None when not computable).
    ratio, ci_low, ci_high
        The four-fifths ratio (lowest ÷ highest favourable rate) and its Katz interval.
    rate, reference_rate
        The two groups' favourable rates.
    n, reference_n
        Their rows.
    p_value, q_value, test
        The two-proportion test of the pair, its q-value (see the module docstring) and the test used.
    detectable_gap, power
        The smallest difference in favourable rate these sizes detect with ``power``.
    harmful
        Whether the positive decision harms the person; then ``harm_ratio`` (with its interval) is the
        worst-treated group's share given it over the best-treated group's (≥ 1), ``harm_rate`` and
        ``reference_harm_rate`` the two shares.
    verdict, sentence
        The :class:`Verdict`, and one plain sentence with the numbers.
    """

    attribute: str
    intersection: bool
    group: str | None
    reference: str | None
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    rate: float | None
    reference_rate: float | None
    n: int | None
    reference_n: int | None
    p_value: float | None
    q_value: float | None
    test: str | None
    detectable_gap: float | None
    power: float
    harmful: bool
    harm_ratio: float | None
    harm_ci_low: float | None
    harm_ci_high: float | None
    harm_rate: float | None
    reference_harm_rate: float | None
    verdict: Verdict
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict with every field; ``verdict`` as its own dict."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return out | {"verdict": self.verdict.to_dict()}


# --- building the gaps -----------------------------------------------------------------------------------


@dataclass
class _Pair:
    audit: AttributeAudit
    group: str | None = None
    reference: str | None = None
    p: float | None = None
    q: float | None = None
    test: str | None = None


def _pair(audit: AttributeAudit) -> _Pair:
    """The worst- and best-treated groups; the audit's own test of them when the best one is the reference."""
    ratio = audit.summary.metrics.get("favorable_rate_ratio")
    if audit.status != "ok" or ratio is None or ratio.value is None or audit.summary.four_fifths_pass is None:
        return _Pair(audit)
    rates = {g: audit.groups[g].metrics["favorable_rate"].value for g in audit.summary.groups_compared}
    rates = {g: r for g, r in rates.items() if r is not None}
    if len(rates) < 2:
        return _Pair(audit)
    ref, best = audit.reference_group, max(rates.values())
    # The highest group as AttributeAudit.highest_group names it, or the reference when it ties: then the pair is
    # the audit's own comparison. The lowest is never the same group, even when every rate is equal.
    high = ref if rates.get(ref) == best else audit.highest_group()
    low = audit.lowest_group()
    if low == high:
        low = min((g for g in rates if g != high), key=rates.get)
    pair = _Pair(audit, low, high)
    if high == ref and low != ref:
        di = audit.groups[low].metrics["disparate_impact"]
        pair.p, pair.q, pair.test = di.p_value, di.q_value, di.test
    return pair


def _family(result: AuditResult) -> list[float]:
    """The p-values of every test the audit's Benjamini–Hochberg family holds."""
    audits = [*result.attributes.values(), *result.intersections.values()]
    out = []
    for a in audits:
        for g in a.groups.values():
            for name in TESTED:
                m = g.metrics.get(name)
                if m is not None and m.p_value is not None:
                    out.append(m.p_value)
    return out


def _test_new(result: AuditResult, pairs: Sequence[_Pair]) -> None:
    """Test the pairs the audit did not, with q-values over the audit's family plus these tests."""
    new = [p for p in pairs if p.group is not None and p.q is None and p.group != p.reference]
    if not new:
        return
    low = [p.audit.groups[p.group].counts for p in new]
    high = [p.audit.groups[p.reference].counts for p in new]
    pv, methods = two_proportion_test(
        [c["favorable"] for c in low], [c["n"] for c in low], [c["favorable"] for c in high], [c["n"] for c in high]
    )
    family = _family(result)
    q = benjamini_hochberg(np.concatenate([np.asarray(family, dtype=float), pv]))[len(family) :]
    for pair, p_value, q_value, method in zip(new, pv.tolist(), q.tolist(), methods.tolist(), strict=True):
        pair.p, pair.q, pair.test = finite(p_value), finite(q_value), method or None


def _significant(audit: AttributeAudit) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f.metric for f in audit.findings if f.kind == "gap" and f.metric in ERROR_RATES))


def _what(result: AuditResult, significant: Sequence[str]) -> str:
    """``"the share approved and true-positive rates"``: what differs significantly, in words."""
    names = [
        f"the {decision_words(result.spec).share}" if s == "favorable_rate" else ERROR_RATES[s] for s in significant
    ]
    return " and ".join(names)


def _verdict(result: AuditResult, pair: _Pair, ratio: float | None, mdd: float | None) -> Verdict:
    o, a = result.options, pair.audit
    rule = _rule(o.di_threshold)
    passed = a.summary.four_fifths_pass
    common = {"four_fifths_pass": passed, "ratio": ratio, "q_value": pair.q, "alpha": o.alpha}
    common |= {"detectable_gap": mdd, "power": o.power}
    if pair.group is None:
        if a.status != "ok":
            reason = _reason(a.reason)
        else:
            m = a.summary.metrics.get("favorable_rate_ratio")
            reason = _reason(m.reason if m is not None else None)
        text = VERDICTS[NOT_COMPUTABLE].format(reason=reason)
        return Verdict(NOT_COMPUTABLE, text, passed, ratio, reason=reason, alpha=o.alpha, power=o.power)
    significant = pair.q is not None and pair.q < o.alpha
    if passed is False:
        code = FAILS if significant else FAILS_INCONCLUSIVE
        return Verdict(code, VERDICTS[code].format(rule=rule), **common)
    found = ("favorable_rate",) * significant + _significant(a)
    if found:
        text = VERDICTS[SIGNIFICANT_GAP].format(rule=rule, what=_what(result, found))
        return Verdict(SIGNIFICANT_GAP, text, **common, significant=found)
    text = NO_GAP_UNKNOWN if mdd is None else VERDICTS[NO_GAP].format(gap=_fmt_gap(mdd))
    return Verdict(NO_GAP, text, **common)


def _who(audit: AttributeAudit, group: str) -> str:
    values = audit.groups[group].values
    return " and ".join(f"{column} = {value}" for column, value in values.items())


def _sentence(result: AuditResult, audit: AttributeAudit, gap: dict[str, Any], verdict: Verdict) -> str:
    words = decision_words(result.spec)
    if gap["group"] is None:
        return f"{audit.name}: {verdict.text}."
    who, whom = _who(audit, gap["group"]), _who(audit, gap["reference"])
    conf = f"{result.options.confidence * 100:g}% CI"
    q = f"; {_fmt_q(gap['q_value'])}" if gap["q_value"] is not None else ""
    if not gap["harmful"] and gap["rate"] == 0:
        # "at 0.00x the rate" says less than "none of them" (and a ratio of 0 has no interval to give).
        return (
            f"None of those with {who} {words.are}, against {gap['reference_rate']:.0%} of those with {whom} "
            f"(four-fifths ratio 0{q}): {verdict.text}."
        )
    if not gap["harmful"]:
        ci = f"; {conf} {gap['ci_low']:.2f}–{gap['ci_high']:.2f}" if gap["ci_low"] is not None else ""
        rates = f"{gap['rate']:.0%} vs {gap['reference_rate']:.0%}"
        return (
            f"Those with {who} {words.are} at {gap['ratio']:.2f}x the rate of those with {whom} "
            f"({rates}{ci}{q}): {verdict.text}."
        )
    rates = f"{gap['harm_rate']:.0%} vs {gap['reference_harm_rate']:.0%}"
    ci = f"; {conf} {gap['harm_ci_low']:.2f}–{gap['harm_ci_high']:.2f}" if gap["harm_ci_low"] is not None else ""
    ratio = f"; four-fifths ratio {gap['ratio']:.2f}"
    if gap["harm_ratio"] is None:  # the best-treated group has no one given the decision
        how = f"at a rate of {gap['harm_rate']:.0%}, against none of those with {whom}"
        return f"Those with {who} {words.are} {how} ({ratio.removeprefix('; ')}{q}): {verdict.text}."
    return (
        f"Those with {who} {words.are} at {gap['harm_ratio']:.2f}x the rate of those with {whom} "
        f"({rates}{ci}{q}{ratio}): {verdict.text}."
    )


def _gap(result: AuditResult, pair: _Pair) -> Gap:
    a, o = pair.audit, result.options
    harmful = not result.spec.positive_is_favorable
    gap: dict[str, Any] = dict.fromkeys(Gap.__dataclass_fields__)
    gap |= {"attribute": a.name, "intersection": len(a.columns) > 1, "power": o.power, "harmful": harmful}
    gap |= {"group": pair.group, "reference": pair.reference, "p_value": pair.p, "q_value": pair.q, "test": pair.test}
    mdd = None
    if pair.group is not None:
        low, high = a.groups[pair.group], a.groups[pair.reference]
        ratio = a.summary.metrics["favorable_rate_ratio"].value
        lc, hc = low.counts, high.counts
        _, ci_low, ci_high = katz_interval(lc["favorable"], lc["n"], hc["favorable"], hc["n"], confidence=o.confidence)
        rate, ref_rate = low.metrics["favorable_rate"].value, high.metrics["favorable_rate"].value
        mdd = finite(minimum_detectable_difference(lc["n"], hc["n"], ref_rate, alpha=o.alpha, power=o.power))
        gap |= {"ratio": ratio, "ci_low": finite(ci_low), "ci_high": finite(ci_high), "rate": rate}
        gap |= {"reference_rate": ref_rate, "n": low.n, "reference_n": high.n, "detectable_gap": mdd}
        if harmful:
            harm, harm_low, harm_high = katz_interval(
                lc["positives"], lc["n"], hc["positives"], hc["n"], confidence=o.confidence
            )
            gap |= {"harm_ratio": finite(harm), "harm_ci_low": finite(harm_low), "harm_ci_high": finite(harm_high)}
            gap |= {"harm_rate": low.metrics["selection_rate"].value}
            gap |= {"reference_harm_rate": high.metrics["selection_rate"].value}
    verdict = _verdict(result, pair, gap["ratio"], mdd)
    gap["verdict"] = verdict
    gap["sentence"] = _sentence(result, a, gap, verdict)
    return Gap(**gap)


# --- the public functions -----------------------------------------------------------------------------------


def _gaps(result: AuditResult) -> list[Gap]:
    pairs = [_pair(a) for a in [*result.attributes.values(), *result.intersections.values()]]
    _test_new(result, pairs)
    return [_gap(result, p) for p in pairs]


def rank_gaps(result: AuditResult) -> tuple[Gap, ...]:
    """Every attribute's and intersection's gap, most unequal first.

    The attributes by their four-fifths ratio (lowest first, then by q-value), then the intersections in the
    same order, then the gaps that are not computable, in the audit's order. Intersections come after the
    attributes because their extreme cells compound their attributes' gaps (age × ethnicity's worst cell
    against its best is about age's gap times ethnicity's) on fewer rows: ranked together they would lead
    almost every audit while adding little to its story.

    Examples
    --------
    >>> from analysis import AuditSpec, ProtectedAttribute, audit
    >>> import pandas as pd
    >>> approved = ["Y"] * 60 + ["N"] * 40 + ["Y"] * 30 + ["N"] * 70
    >>> df = pd.DataFrame({"approved": approved, "g": ["a"] * 100 + ["b"] * 100})
    >>> spec = AuditSpec(decision="approved", positive=("Y",), protected=(ProtectedAttribute("g"),))
    >>> rank_gaps(audit(df, spec))[0].verdict.text
    'below four-fifths and significant'
    """
    gaps = _gaps(result)
    ranked = sorted(
        (g for g in gaps if g.ratio is not None),
        key=lambda g: (g.intersection, g.ratio, 1.0 if g.q_value is None else g.q_value),
    )
    return (*ranked, *(g for g in gaps if g.ratio is None))


def gap_for(result: AuditResult, attribute: str) -> Gap:
    """The gap of one attribute or intersection, named as ``AttributeAudit.name`` names it.

    Raises
    ------
    KeyError
        When the result has no such attribute or intersection.
    """
    for gap in _gaps(result):
        if gap.attribute == attribute:
            return gap
    known = [*result.attributes, *result.intersections]
    raise KeyError(f"{attribute!r} is not an attribute or intersection of this audit; it has {known}")


def verdict_for(result: AuditResult, attribute: str) -> Verdict:
    """THE verdict of one attribute or intersection: what every page, the report and the CLI say."""
    return gap_for(result, attribute).verdict


def worst_gap(result: AuditResult) -> Gap | None:
    """The most unequal computable gap (lowest four-fifths ratio); None when none is computable."""
    ranked = rank_gaps(result)
    return ranked[0] if ranked and ranked[0].ratio is not None else None


def headline(result: AuditResult, gaps: Sequence[Gap] | None = None) -> str:
    """The audit's story in one plain sentence.

    The worst gap's sentence when it fails four-fifths; else the first gap with a significant error-rate
    gap; else a "no gap detected" sentence naming the closest call and what could have been detected.
    ``gaps`` is :func:`rank_gaps`'s output, when already computed.
    """
    ranked = tuple(rank_gaps(result) if gaps is None else gaps)
    computable = [g for g in ranked if g.ratio is not None]
    if not computable:
        if not ranked:
            return "Nothing to compare: the audit has no attribute."
        return "No gap could be computed: " + "; ".join(f"{g.attribute}: {g.verdict.text}" for g in ranked) + "."
    worst = computable[0]
    if worst.verdict.code in (FAILS, FAILS_INCONCLUSIVE):
        return worst.sentence
    flagged = next((g for g in computable if g.verdict.code == SIGNIFICANT_GAP), None)
    if flagged is not None:
        return flagged.sentence
    words = decision_words(result.spec)
    rule = _rule(result.options.di_threshold)
    return (
        f"No gap detected in how often groups {words.are}: every attribute passes {rule} and no difference is "
        f"significant; the closest is {worst.attribute} ({worst.group} vs {worst.reference}, four-fifths ratio "
        f"{worst.ratio:.2f}): {worst.verdict.text}."
    )


# --- beyond the groups named -----------------------------------------------------------------------------


def _group_value(metrics: Any, metric: str) -> float | None:
    """A group's value of a slice metric, read from the audit (the error rate is one minus the accuracy)."""
    if metric == "error_rate":
        accuracy = metrics.get("accuracy")
        return None if accuracy is None or accuracy.value is None else 1 - accuracy.value
    found = metrics.get(metric)
    return None if found is None else found.value


def worst_named_group(search: SliceSearch, result: AuditResult) -> tuple[str, str, float] | None:
    """The worst value of the search's metric over every group the audit compares, of every attribute and
    intersection: ``(attribute, group, value)``; None when no group has one."""
    worst = None
    for audit in (*result.attributes.values(), *result.intersections.values()):
        for group in audit.summary.groups_compared:
            value = _group_value(audit.groups[group].metrics, search.metric)
            if value is None:
                continue
            worse = worst is None or (value < worst[2] if search.better == "higher" else value > worst[2])
            if worse:
                worst = (audit.name, group, value)
    return worst


def _beyond(item: Slice, search: SliceSearch, worst: float) -> bool:
    named = set(search.protected)
    if not item.significant or all(t.column in named for t in item.terms):
        return False  # a slice of protected terms only is a group the user named (or a cell of their intersection)
    return item.value < worst if search.better == "higher" else item.value > worst


def slice_beyond_groups(search: SliceSearch, result: AuditResult) -> str | None:
    """A sentence on the worst significant slice whose metric is worse than every group the audit names, or None.

    Every attribute's and intersection's groups compared by the audit count (groups too small to conclude do
    not); a slice whose terms are all protected attributes is a named group, not beyond them. Example: "Beyond
    the groups you named: those with region = South and income = <40100 are approved 1% of the time (n=246),
    worse than any group you named (worst: ethnicity = B, 41%); 57% of this slice is ethnicity = B."
    """
    worst = worst_named_group(search, result)
    if worst is None:
        return None
    found = next((s for s in search.slices if _beyond(s, search, worst[2])), None)
    if found is None:
        return None
    attribute, group, value = worst
    words = decision_words(result.spec)
    if search.metric != "favorable_rate":
        article = "an" if search.title[:1] in "aeiouAEFHILMNORSX" else "a"  # "an FPR", "an error rate"
        how = f"have {article} {search.title} of {_pct(found.value)}"
        theirs = _pct(value)
    elif words.harmful:  # said as the share given the harmful decision, as the overview's verdicts say it
        how, theirs = f"{words.are} {_pct(1 - found.value)} of the time", _pct(1 - value)
    else:
        how, theirs = f"{words.are} {_pct(found.value)} of the time", _pct(value)
    text = (
        f"Beyond the groups you named: those with {found.key} {how} (n={found.n:,}), worse than any group you named "
        f"(worst: {attribute} = {group}, {theirs})"
    )
    stand = found.stands_in_for
    return text + (f"; {stand.sentence()}." if stand is not None else ".")


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"
