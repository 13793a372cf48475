"""The story engine: one verdict per gap, the gaps ranked, the worst one in a sentence."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, false_discovery_control

from analysis import AuditSpec, ProtectedAttribute, audit, decision_words, load_table, suggest_spec
from analysis.stats import minimum_detectable_difference
from analysis.story import VERDICTS, gap_for, headline, rank_gaps, verdict_for, worst_gap
from tests.lookalikes import compas_like

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"
NEGATED = ("do not receive", "not flagged", "are not", "positive decision")


@pytest.fixture(scope="module")
def loans() -> pd.DataFrame:
    return load_table(SAMPLE_DIR / "loan_approvals.csv").data


@pytest.fixture(scope="module")
def loan_result(loans):
    return audit(loans, suggest_spec(loans), dataset_name="loan_approvals.csv")


@pytest.fixture(scope="module")
def compas_result():
    df = load_table(compas_like(n=1500), name="compas-scores-two-years.csv").data
    return audit(df, suggest_spec(df))


def two_groups(a: tuple[int, int], b: tuple[int, int], *, min_group_size: int = 30, **spec):
    """Approvals (approved, n) of groups a and b."""
    rows = []
    for name, (yes, n) in (("a", a), ("b", b)):
        rows += [(name, "Y")] * yes + [(name, "N")] * (n - yes)
    df = pd.DataFrame(rows, columns=["g", "approved"])
    protected = (ProtectedAttribute("g", reference=spec.pop("reference", None)),)
    spec = AuditSpec(decision="approved", positive=("Y",), protected=protected, min_group_size=min_group_size, **spec)
    return audit(df, spec)


def test_loan_sample_ranks_attributes_by_their_four_fifths_ratio(loan_result):
    ranked = rank_gaps(loan_result)
    assert [g.attribute for g in ranked] == [
        "age",
        "ethnicity",
        "gender",
        "age × ethnicity",
        "gender × age",
        "gender × ethnicity",
    ]
    for gap in ranked:
        a = {**loan_result.attributes, **loan_result.intersections}[gap.attribute]
        assert gap.ratio == a.summary.metrics["favorable_rate_ratio"].value  # read, not recomputed
        assert (gap.group, gap.intersection) == (a.lowest_group(), len(a.columns) > 1)
    ethnicity = gap_for(loan_result, "ethnicity")
    assert (ethnicity.group, ethnicity.reference) == ("B", "A")
    assert ethnicity.ratio == pytest.approx(0.7138, abs=1e-4)
    assert (ethnicity.ci_low, ethnicity.ci_high) == pytest.approx((0.6908, 0.7375), abs=1e-4)
    assert ethnicity.verdict.code == "fails"
    assert ethnicity.verdict.text == "below four-fifths and significant"
    # The best-treated group is the reference: the audit's own q-value, so findings and verdict agree.
    assert ethnicity.q_value == loan_result.attributes["ethnicity"].groups["B"].metrics["disparate_impact"].q_value
    assert ethnicity.sentence == (
        "Those with ethnicity = B are approved at 0.71x the rate of those with ethnicity = A "
        "(49% vs 68%; 95% CI 0.69–0.74; q < 0.001): below four-fifths and significant."
    )
    # Age acts through credit history by construction, but the engine ranks it by size like any other gap.
    assert worst_gap(loan_result).attribute == "age"
    assert headline(loan_result) == worst_gap(loan_result).sentence


def test_loan_sample_worst_gap_is_ethnicity_without_age(loans):
    spec = AuditSpec(
        decision="approved",
        positive=("Y",),
        protected=(ProtectedAttribute("gender"), ProtectedAttribute("ethnicity")),
    )
    result = audit(loans, spec)
    worst = worst_gap(result)
    assert (worst.attribute, worst.group, worst.reference) == ("ethnicity", "B", "A")
    assert worst.ratio == pytest.approx(0.7138, abs=1e-4)
    assert headline(result).startswith(
        "Those with ethnicity = B are approved at 0.71x the rate of those with ethnicity"
    )


def test_gender_has_no_gap_and_says_what_could_have_been_detected(loan_result):
    gap = gap_for(loan_result, "gender")
    a = loan_result.attributes["gender"]
    assert gap.verdict.code == "no_gap" and gap.verdict.four_fifths_pass is True
    expected = minimum_detectable_difference(a.groups[gap.group].n, a.groups[gap.reference].n, gap.reference_rate)
    assert gap.detectable_gap == pytest.approx(float(expected), rel=1e-12)
    assert gap.verdict.text == f"no gap detected (a gap of {float(expected):#.2g} could have been detected)"
    assert gap.verdict.text == "no gap detected (a gap of 0.12 could have been detected)"
    assert verdict_for(loan_result, "gender") == gap.verdict


def test_katz_interval_matches_a_direct_computation(loan_result):
    gap = gap_for(loan_result, "ethnicity")
    a = loan_result.attributes["ethnicity"]
    x1, n1 = a.groups["B"].counts["favorable"], a.groups["B"].counts["n"]
    x2, n2 = a.groups["A"].counts["favorable"], a.groups["A"].counts["n"]
    ratio = (x1 / n1) / (x2 / n2)
    se = math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    assert gap.ratio == pytest.approx(ratio, rel=1e-12)
    assert gap.ci_low == pytest.approx(math.exp(math.log(ratio) - 1.959963984540054 * se), rel=1e-12)
    assert gap.ci_high == pytest.approx(math.exp(math.log(ratio) + 1.959963984540054 * se), rel=1e-12)


def test_small_groups_below_four_fifths_are_inconclusive():
    result = two_groups((8, 20), (12, 20), min_group_size=5)
    gap = gap_for(result, "g")
    assert (gap.group, gap.reference, gap.ratio) == ("a", "b", pytest.approx(8 / 12))
    assert result.attributes["g"].summary.four_fifths_pass is False
    assert gap.q_value > 0.05
    assert gap.verdict.code == "fails_inconclusive"
    assert gap.verdict.text == ("below four-fifths but not conclusive (small groups: a gap this size could be chance)")
    assert gap.sentence.endswith(": " + gap.verdict.text + ".")
    assert headline(result) == gap.sentence


def test_a_significant_difference_within_four_fifths_is_said():
    result = two_groups((2700, 5000), (3000, 5000))
    gap = gap_for(result, "g")
    assert gap.ratio == pytest.approx(0.9) and gap.q_value < 0.001
    assert gap.verdict.code == "significant_gap"
    assert gap.verdict.text == "passes four-fifths, but with a significant gap in the share approved"
    assert gap.verdict.significant == ("favorable_rate",)


def test_error_rate_gaps_make_a_passing_attribute_significant(loans):
    """An attribute passing four-fifths with a TPR gap the audit found says so."""
    rng = np.random.default_rng(3)
    n = 4000
    g = np.repeat(["a", "b"], n)
    label = rng.random(2 * n) < 0.5
    # Same approval rate in both groups, but b's approvals ignore the label.
    p = np.where(g == "a", np.where(label, 0.8, 0.2), 0.5)
    df = pd.DataFrame({"g": g, "approved": np.where(rng.random(2 * n) < p, "Y", "N"), "repaid": label.astype(int)})
    spec = AuditSpec(
        decision="approved", positive=("Y",), label="repaid", label_positive=(1,), protected=(ProtectedAttribute("g"),)
    )
    gap = gap_for(audit(df, spec), "g")
    assert gap.verdict.four_fifths_pass is True and gap.q_value > 0.05
    assert gap.verdict.code == "significant_gap"
    assert gap.verdict.significant == ("equal_opportunity_difference", "fpr_difference")
    assert gap.verdict.text == (
        "passes four-fifths, but with a significant gap in true-positive rates and false-positive rates"
    )


def test_a_named_reference_that_is_not_highest_gets_its_own_test():
    result = two_groups((30, 100), (60, 100), reference="a")
    gap = gap_for(result, "g")
    assert (gap.group, gap.reference) == ("a", "b")
    p = chi2_contingency([[30, 70], [60, 40]], correction=False)[1]
    assert gap.p_value == pytest.approx(p, rel=1e-9) and gap.test == "chi-square"
    # The audit's family (b vs the reference a) plus this test, Benjamini–Hochberg together.
    family = [result.attributes["g"].groups["b"].metrics["disparate_impact"].p_value, p]
    assert gap.q_value == pytest.approx(false_discovery_control(family, method="bh")[1], rel=1e-9)
    assert gap.verdict.code == "fails"


def test_harmful_decisions_read_as_the_harm(compas_result):
    ranked = rank_gaps(compas_result)
    assert all(g.harmful for g in ranked)
    for gap in ranked:
        for negation in NEGATED:
            assert negation not in gap.sentence, gap.sentence
        assert gap.harm_ratio >= 1
        assert "flagged (score_text in Medium, High) at " in gap.sentence
    race = gap_for(compas_result, "race")
    a = compas_result.attributes["race"]
    worst, best = a.groups[race.group], a.groups[race.reference]
    assert race.harm_rate == worst.metrics["selection_rate"].value
    assert race.harm_ratio == pytest.approx(race.harm_rate / best.metrics["selection_rate"].value, rel=1e-12)
    assert race.sentence == (
        f"Those with race = {race.group} are flagged (score_text in Medium, High) at {race.harm_ratio:.2f}x the rate "
        f"of those with race = {race.reference} ({race.harm_rate:.0%} vs {race.reference_harm_rate:.0%}; 95% CI "
        f"{race.harm_ci_low:.2f}–{race.harm_ci_high:.2f}; q = {race.q_value:.3f}; four-fifths ratio {race.ratio:.2f}): "
        f"{race.verdict.text}."
    )


def test_not_computable_gaps_come_last_with_their_reason():
    df = pd.DataFrame({"g": ["a"] * 40 + ["b"] * 40, "h": ["x"] * 80, "approved": ["Y", "N"] * 40})
    spec = AuditSpec(decision="approved", positive=("Y",), protected=(ProtectedAttribute("h"), ProtectedAttribute("g")))
    result = audit(df, spec, min_cell_size=1)
    ranked = rank_gaps(result)
    assert [(g.attribute, g.verdict.code) for g in ranked] == [
        ("g", "no_gap"),
        ("h × g", "no_gap"),
        ("h", "not_computable"),
    ]
    h = gap_for(result, "h")
    assert h.verdict.code == "not_computable" and h.ratio is None and h.group is None
    assert h.verdict.text == "not computable (only one group ('x'); there is nothing to compare it with)"
    assert h.sentence == "h: " + h.verdict.text + "."

    lone = audit(df, AuditSpec(decision="approved", positive=("Y",), protected=(ProtectedAttribute("h"),)))
    assert worst_gap(lone) is None
    assert headline(lone) == "No gap could be computed: h: " + verdict_for(lone, "h").text + "."
    with pytest.raises(KeyError, match="'nope' is not an attribute"):
        verdict_for(lone, "nope")


def test_no_gap_headline_names_the_closest_call():
    result = two_groups((50, 100), (51, 100))
    assert headline(result) == (
        "No gap detected in how often groups are approved: every attribute passes four-fifths and no difference is "
        "significant; the closest is g (a vs b, four-fifths ratio 0.98): " + verdict_for(result, "g").text + "."
    )


def test_verdicts_and_gaps_are_plain_json(loan_result):
    assert set(VERDICTS) == {"fails", "fails_inconclusive", "significant_gap", "no_gap", "not_computable"}
    data = [g.to_dict() for g in rank_gaps(loan_result)]
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)[1]["verdict"]["code"] == "fails"
    assert data[1]["attribute"] == "ethnicity" and data[1]["verdict"]["q_value"] == data[1]["q_value"]


def test_the_favorable_rate_chart_of_a_harmful_decision_shows_the_share_flagged(compas_result):
    from analysis import charts

    race = compas_result.attributes["race"]
    words = decision_words(compas_result.spec)
    spec = charts.favorable_rate_chart(race, di_threshold=0.8, confidence=0.95, words=words).to_dict()
    bars, _, rule, label = spec["layer"]
    assert bars["encoding"]["x"]["title"] == "Share flagged (with 95% CI)"
    data = charts.favorable_rate_data(race, harmful=True)
    flagged = {g: m.metrics["selection_rate"].value for g, m in race.groups.items()}
    assert dict(zip(data["group"], data["value"], strict=True)) == flagged
    best = race.groups[race.highest_group()].metrics["favorable_rate"].value
    assert rule["encoding"]["x"]["datum"] == pytest.approx(1 - 0.8 * best)
    assert label["encoding"]["text"]["value"] == f"four-fifths line ({1 - 0.8 * best:.3f})"
    # A group right of the line on this scale is exactly a group below four-fifths on the favourable scale.
    for group, m in race.groups.items():
        if group in race.summary.groups_compared:
            assert (flagged[group] > 1 - 0.8 * best) is (m.metrics["favorable_rate"].value < 0.8 * best)


def test_a_failure_that_could_be_chance_reads_the_same_everywhere(tmp_path, capsys):
    """The issue's contradiction ("fails the four-fifths rule" beside "no significant gap") cannot be written."""
    from analysis.cli import main
    from analysis.report import render_html, summary_line

    result = two_groups((8, 20), (12, 20), min_group_size=5)
    statement = VERDICTS["fails_inconclusive"].format(rule="four-fifths")
    g = result.attributes["g"]
    finding = next(f for f in g.findings if f.metric == "disparate_impact")
    assert finding.kind == "no_gap" and finding.text.startswith(
        "Below four-fifths for g (four-fifths ratio 0.67), but no significant gap was found in how often they are "
        "approved: no group is below 0.8x the rate of group b with q < 0.05."
    )
    line = summary_line(g, verdict=verdict_for(result, "g"))
    assert line.startswith(f"Four-fifths ratio (lowest ÷ highest favourable rate) 0.667: {statement};")
    html = render_html(result, charts=False).split('<h2 id="method">')[0]  # the notes list every verdict
    rows = ["g,approved"] + ["a,Y"] * 8 + ["a,N"] * 12 + ["b,Y"] * 12 + ["b,N"] * 8
    (tmp_path / "small.csv").write_text("\n".join(rows) + "\n")
    result.spec.save(tmp_path / "spec.json")
    assert main(["audit", str(tmp_path / "small.csv"), "--spec", str(tmp_path / "spec.json")]) == 0
    cli = capsys.readouterr().out
    for text in (html, cli, line):
        assert statement in text.replace("&#x27;", "'")
        assert "fails the four-fifths rule" not in text and "below four-fifths and significant" not in text


def test_equal_rates_still_compare_two_groups():
    result = two_groups((50, 100), (50, 100))
    gap = gap_for(result, "g")
    assert gap.group != gap.reference and {gap.group, gap.reference} == {"a", "b"}
    assert gap.ratio == 1 and gap.p_value == pytest.approx(1.0) and gap.verdict.code == "no_gap"


def test_a_group_never_given_a_favourable_decision_reads_as_none_of_them_not_as_0_00x():
    df = pd.DataFrame({"age": ["young"] * 100 + ["old"] * 100, "hired": ["no"] * 100 + ["yes", "no"] * 50})
    result = audit(df, AuditSpec(decision="hired", positive=("yes",), protected=("age",)))
    gap = gap_for(result, "age")
    assert gap.sentence == (
        "None of those with age = young are hired, against 50% of those with age = old (four-fifths ratio 0; "
        "q < 0.001): below four-fifths and significant."
    )
    assert "0.00x" not in headline(result)


def test_the_finding_about_a_group_never_given_the_decision_says_none_of_them_too():
    df = pd.DataFrame({"age": ["young"] * 100 + ["old"] * 100, "hired": ["no"] * 100 + ["yes", "no"] * 50})
    result = audit(df, AuditSpec(decision="hired", positive=("yes",), protected=("age",)))
    (finding,) = [f for f in result.attributes["age"].findings if f.metric == "disparate_impact"]
    assert finding.text == (
        "None of those with age = young are hired, unlike group old (q < 0.001) — below the four-fifths threshold."
    )
