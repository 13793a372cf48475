"""compare_audits: changes between two audits, their tests on the recorded counts, regressions, HTML."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from statsmodels.stats.proportion import proportions_ztest

from analysis.audit import AuditResult, audit
from analysis.compare import (
    ONLY_AFTER,
    ONLY_BEFORE,
    AuditComparison,
    compare_audits,
    render_comparison_html,
)
from analysis.errors import ParityLabError
from analysis.spec import AuditSpec
from analysis.stats import z_value

ROOT = Path(__file__).resolve().parents[2]
SPEC = AuditSpec(
    decision="approved", positive=["Y"], label="repaid", label_positive=[1], protected=["ethnicity", "gender"]
)
XSS = "<img src=x onerror=alert(1)>"


def double_the_bias(loans: pd.DataFrame) -> pd.DataFrame:
    """The loans with 40% of group B's and C's approvals turned into refusals, deterministically.

    The approved B and C rows, in file order, lose their approval when their position among them
    is 0 or 1 modulo 5. B's approval rate falls from 0.486 to 0.292, so its gap to A (0.681) goes
    from 0.195 to 0.389: twice as large.
    """
    out = loans.copy()
    approved = np.flatnonzero(out["ethnicity"].isin(["B", "C"]).to_numpy() & (out["approved"] == "Y").to_numpy())
    out.loc[approved[np.arange(approved.size) % 5 < 2], "approved"] = "N"
    return out


@pytest.fixture(scope="module")
def loans():
    return pd.read_csv(ROOT / "sample_data" / "loan_approvals.csv")


@pytest.fixture(scope="module")
def before(loans):
    return audit(loans, SPEC, dataset_name="loans-q1.csv")


@pytest.fixture(scope="module")
def after(loans):
    return audit(double_the_bias(loans), SPEC, dataset_name="loans-q2.csv")


@pytest.fixture(scope="module")
def doubled(before, after):
    return compare_audits(before, after)


def row(comparison, attribute, group, metric):
    (found,) = [r for r in comparison.rows if (r.attribute, r.group, r.metric) == (attribute, group, metric)]
    return found


def test_doubling_the_bias_doubles_the_gap(before, after):
    gap = {
        name: result.attributes["ethnicity"].summary.metrics["demographic_parity_difference"].value
        for name, result in (("before", before), ("after", after))
    }
    assert gap["before"] == pytest.approx(0.195, abs=0.001)
    assert gap["after"] / gap["before"] == pytest.approx(2.0, abs=0.05)


def test_identical_audits_change_nothing(before):
    comparison = compare_audits(before, before)
    assert comparison.regressions == ()
    assert comparison.changed == ()
    assert all(r.change == 0 for r in comparison.rows if r.status == "compared")
    assert all(r.p_value == 1.0 for r in comparison.rows if r.p_value is not None)
    assert comparison.summary.startswith("Nothing changed")
    assert any("same data file" in w for w in comparison.warnings)
    # every group and every metric is there: 3 attributes, rates and disparities
    assert {r.attribute for r in comparison.rows} == {"ethnicity", "gender", "ethnicity × gender"}
    assert {r.metric for r in comparison.rows if r.kind == "rate"} >= {"favorable_rate", "tpr", "fpr", "precision"}


def test_doubled_bias_is_a_regression_of_the_right_metrics(doubled, before, after):
    where = {(r.attribute, r.group, r.metric) for r in doubled.regressions}
    for metric in ("disparate_impact_min", "demographic_parity_difference", "equalized_odds_difference"):
        assert ("ethnicity", None, metric) in where
    for group in ("B", "C"):
        assert ("ethnicity", group, "disparate_impact") in where
    # rates never count as regressions; A and D were not touched
    assert all(r.kind == "disparity" for r in doubled.regressions)
    assert not any(r.group in ("A", "D") for r in doubled.regressions)
    # gender was not touched either, but moving B's and C's refusals shifts its rates by chance beyond the
    # 0.02 tolerance: regressions by default, none of them significant, gone when significance is required
    noise = [r for r in doubled.regressions if r.attribute == "gender"]
    assert noise and not any(r.significant for r in noise)
    strict = compare_audits(before, after, require_significance=True)
    assert not any(r.attribute == "gender" for r in strict.regressions)
    assert {(r.attribute, r.group, r.metric) for r in strict.regressions} == {
        (r.attribute, r.group, r.metric) for r in doubled.regressions if r.significant
    }
    assert any(r.attribute == "ethnicity" and r.group == "B" for r in strict.regressions)
    di = row(doubled, "ethnicity", None, "disparate_impact_min")
    assert (round(di.before, 3), round(di.after, 3)) == (0.714, 0.438)
    assert di.change == pytest.approx(di.after - di.before)
    assert di.significant and di.worse and di.q_value < 1e-30
    assert "lowest group: B before, C after" in di.note
    assert doubled.summary.startswith(f"{len(doubled.regressions)} fairness metrics got worse beyond tolerance")


def test_rate_test_matches_statsmodels(doubled, before, after):
    r = row(doubled, "ethnicity", "B", "favorable_rate")
    b, a = before.attributes["ethnicity"].groups["B"].counts, after.attributes["ethnicity"].groups["B"].counts
    _, p = proportions_ztest([a["favorable"], b["favorable"]], [a["n"], b["n"]])
    assert r.test == "chi-square"
    assert r.p_value == pytest.approx(p, rel=1e-9)
    assert r.after == pytest.approx(a["favorable"] / a["n"])


def test_disparate_impact_test_uses_the_recorded_katz_intervals(doubled, before, after):
    """The log-ratio variance is the Katz interval's: recover it from the recorded CIs."""
    z = z_value(0.95)

    def log_and_variance(result):
        di = result.attributes["ethnicity"].groups["C"].metrics["disparate_impact"]
        se = (math.log(di.ci_high) - math.log(di.ci_low)) / (2 * z)
        return math.log(di.value), se**2

    (lb, vb), (la, va) = log_and_variance(before), log_and_variance(after)
    expected = 2 * norm.sf(abs(la - lb) / math.sqrt(vb + va))
    r = row(doubled, "ethnicity", "C", "disparate_impact")
    assert r.test == "wald z (log ratio)"
    assert r.p_value == pytest.approx(expected, rel=1e-6)


def test_difference_test_by_hand(doubled, before, after):
    def estimate(result):
        groups = result.attributes["ethnicity"].groups
        g, ref = groups["B"].counts, groups["A"].counts
        tpr = [(c["tp"], c["tp"] + c["fn"]) for c in (g, ref)]
        value = tpr[0][0] / tpr[0][1] - tpr[1][0] / tpr[1][1]
        return value, sum((x / n) * (1 - x / n) / n for x, n in tpr)

    (vb, sb), (va, sa) = estimate(before), estimate(after)
    r = row(doubled, "ethnicity", "B", "equal_opportunity_difference")
    assert (r.before, r.after) == (pytest.approx(vb), pytest.approx(va))
    assert r.p_value == pytest.approx(2 * norm.sf(abs(va - vb) / math.sqrt(sa + sb)), rel=1e-9)


def test_q_values_are_benjamini_hochberg_per_kind(doubled):
    from scipy.stats import false_discovery_control

    for kind in ("rate", "disparity"):
        tested = [r for r in doubled.rows if r.kind == kind and r.p_value is not None]
        q = false_discovery_control([r.p_value for r in tested], method="bh")
        assert [r.q_value for r in tested] == pytest.approx(list(q))


def test_tolerance_and_significance_decide_a_regression(before, after):
    assert compare_audits(before, after, tolerance=0.5).regressions == ()
    wide_di = compare_audits(before, after, di_tolerance=0.5)
    assert not any(r.metric in ("disparate_impact", "disparate_impact_min") for r in wide_di.regressions)
    assert any(r.metric == "demographic_parity_difference" for r in wide_di.regressions)
    with pytest.raises(ParityLabError, match="option tolerance must be a number in"):
        compare_audits(before, after, tolerance=-0.1)
    with pytest.raises(ParityLabError, match="option alpha must be a number strictly between 0 and 1"):
        compare_audits(before, after, alpha=1.5)
    with pytest.raises(ParityLabError, match="compares two AuditResult objects, got dict and AuditResult"):
        compare_audits(before.to_dict(), after)


def small_audit(rates: dict[str, float], n: int = 40, name: str = "small.csv"):
    rows = []
    for group, rate in rates.items():
        yes = round(rate * n)
        rows += [{"g": group, "d": "Y" if i < yes else "N"} for i in range(n)]
    return audit(pd.DataFrame(rows), AuditSpec(decision="d", positive=["Y"], protected=["g"]), dataset_name=name)


def test_a_worsening_beyond_tolerance_is_a_regression_unless_significance_is_required():
    before = small_audit({"a": 0.6, "b": 0.55})
    after = small_audit({"a": 0.6, "b": 0.45})
    default = compare_audits(before, after)
    assert default.require_significance is False
    r = row(default, "g", "b", "disparate_impact")
    # the test is still run and shown: not significant, but worse beyond tolerance, so a regression
    assert r.worse and r.significant is False and r.q_value > 0.05 and r.regression
    assert ("g", "b", "disparate_impact") in {(x.attribute, x.group, x.metric) for x in default.regressions}
    assert "got worse beyond tolerance (0.02; disparate impact 0.02)." in default.summary
    assert "significantly" not in default.summary
    strict = compare_audits(before, after, require_significance=True)
    r = row(strict, "g", "b", "disparate_impact")
    assert r.worse and not r.significant and not r.regression
    assert strict.regressions == ()
    assert strict.summary.startswith(
        "No fairness metric got worse beyond tolerance (0.02; disparate impact 0.02) and significantly (q < 0.05)."
    )
    assert [x.q_value for x in strict.rows] == [x.q_value for x in default.rows]  # same tests either way
    assert "a regression need not be significant (q-values shown for information)" in render_comparison_html(default)
    assert "a regression must also be significant (q &lt; alpha)" in render_comparison_html(strict)


def test_a_worsening_that_cannot_be_tested_is_counted_but_not_a_regression():
    before = small_audit({"a": 1.0, "b": 1.0, "c": 0.5})  # c: the decision has two values
    after = small_audit({"a": 1.0, "b": 0.0, "c": 0.5})
    strict = compare_audits(before, after, require_significance=True)
    r = row(strict, "g", "b", "statistical_parity_difference")
    assert (r.before, r.after, r.worse, r.p_value, r.regression) == (0.0, -1.0, True, None, False)
    assert r.note == "not tested: every rate involved is 0 or 1, so the change has no variance"
    # b's own disparities cannot be tested; the summaries can (c's rate has a variance) and do regress
    assert not any(x.group == "b" for x in strict.regressions)
    assert ("g", None, "demographic_parity_difference") in {
        (x.attribute, x.group, x.metric) for x in strict.regressions
    }
    assert any("could not be tested" in w and "they are not counted as regressions" in w for w in strict.warnings)
    assert r in [x for x in strict.rows if x.worse]
    loose = compare_audits(before, after)
    assert row(loose, "g", "b", "statistical_parity_difference").regression
    assert not any("could not be tested" in w for w in loose.warnings)


def test_a_ratio_above_one_is_worse_when_it_moves_away_from_one():
    named = AuditSpec(decision="d", positive=["Y"], protected=[{"column": "g", "reference": "a"}])

    def run(rate_b):
        rows = [{"g": "a", "d": "Y" if i < 100 else "N"} for i in range(1000)]
        rows += [{"g": "b", "d": "Y" if i < rate_b else "N"} for i in range(1000)]
        return audit(pd.DataFrame(rows), named)

    comparison = compare_audits(run(100), run(200))  # b: DI 1.0 → 2.0 against the named reference a
    r = row(comparison, "g", "b", "disparate_impact")
    assert (r.before, r.after) == (1.0, 2.0)
    assert r.worse and r.regression


def test_a_group_missing_from_one_audit_is_a_row_not_a_crash(loans, before):
    without_d = audit(loans[loans["ethnicity"] != "D"], SPEC, dataset_name="no-d.csv")
    comparison = compare_audits(before, without_d)
    r = row(comparison, "ethnicity", "D", None)
    assert r.status == ONLY_BEFORE
    assert r.n_before == before.attributes["ethnicity"].groups["D"].n and r.n_after is None
    assert r.note == "group D has no rows in the after audit"
    back = compare_audits(without_d, before)
    assert row(back, "ethnicity", "D", None).status == ONLY_AFTER
    json.dumps(comparison.to_dict(), allow_nan=False)


def test_other_attributes_and_specs_are_reported(loans, before):
    only_ethnicity = audit(
        loans, AuditSpec(decision="approved", positive=["Y"], protected=["ethnicity"]), dataset_name="x.csv"
    )
    comparison = compare_audits(before, only_ethnicity)
    gender = row(comparison, "gender", None, None)
    assert gender.status == ONLY_BEFORE and gender.note == "'gender' is audited only in the before result."
    assert any("'label'" in w and 'before "repaid", after null' in w for w in comparison.warnings)
    # label metrics exist only before
    tpr = row(comparison, "ethnicity", "B", "tpr")
    assert tpr.status == ONLY_BEFORE and tpr.p_value is None
    assert row(comparison, "ethnicity", "B", "favorable_rate").status == "compared"


def test_a_changed_decision_meaning_warns(loans, before):
    flipped = AuditSpec.from_dict({**SPEC.to_dict(), "positive_is_favorable": False})
    comparison = compare_audits(before, audit(loans, flipped))
    assert any("'positive_is_favorable'" in w for w in comparison.warnings)


def test_a_changed_reference_is_noted(loans, before):
    spec = AuditSpec.from_dict({**SPEC.to_dict(), "protected": [{"column": "ethnicity", "reference": "D"}]})
    comparison = compare_audits(before, audit(loans, spec))
    assert any("reference group of 'ethnicity' changed from 'A' to 'D'" in w for w in comparison.warnings)
    assert "reference group changed from A to D" in row(comparison, "ethnicity", "B", "disparate_impact").note


def test_dict_round_trip_and_json_safety(doubled):
    data = doubled.to_dict()
    text = json.dumps(data, allow_nan=False)
    again = AuditComparison.from_dict(json.loads(text))
    assert again == doubled
    assert again.to_dict() == data
    assert data["regression_count"] == len(doubled.regressions) > 0
    with pytest.raises(ParityLabError, match="Expected a ParityLab comparison"):
        AuditComparison.from_dict({"rows": []})


def test_an_old_result_without_timestamp_or_versions_compares(before):
    data = before.to_dict()
    del data["created_at"], data["versions"], data["spec"]["dataset_sha256"]
    old = AuditResult.from_dict(data)
    comparison = compare_audits(old, before)
    assert comparison.before.created_at is None and comparison.after.created_at == before.created_at
    assert comparison.regressions == ()


def test_html_is_escaped_and_self_contained():
    before = small_audit({"a": 0.6, XSS: 0.55}, n=200, name=f"{XSS}.csv")
    after = small_audit({"a": 0.6, XSS: 0.2}, n=200, name="q2.csv")
    comparison = compare_audits(before, after)
    assert any(r.group == XSS for r in comparison.regressions)
    page = render_comparison_html(comparison)
    assert XSS not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script" not in page and "src=" not in page.replace("&lt;img src=x", "")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<h2>Regressions</h2>" in page
    assert page.count("<tr") == len(comparison.rows) + len(comparison.regressions) + 2


# --- damaged results are refused before any arithmetic, naming the field --------------------------

B = ("attributes", "ethnicity", "groups", "B")


def _set(path, value):
    def change(data):
        *head, last = path
        for key in head:
            data = data[key]
        if value is KeyError:
            del data[last]
        else:
            data[last] = value

    return change


DAMAGE = [
    (_set((*B, "counts", "tp"), -3), r'^attributes\["ethnicity"\].groups\["B"\].counts.tp is -3; counts must be whole'),
    (_set((*B, "counts", "fp"), 611.5), r'groups\["B"\].counts.fp is 611.5; counts must be whole numbers'),
    (_set((*B, "counts", "tn"), float("nan")), r'groups\["B"\].counts.tn is NaN; counts must be whole'),
    (_set((*B, "counts", "fn"), "1028"), r'groups\["B"\].counts.fn is the text "1028"; counts must be whole'),
    (_set((*B, "counts", "fn"), 1029), r"counts has tp \+ fp \+ tn \+ fn \+ label_missing = 4,396, not n = 4,395"),
    (_set((*B, "counts", "n"), 4000), r"counts.n is 4,000 but the group's n is 4,395; they must agree"),
    (_set((*B, "counts", "positives"), 9999), r"counts.positives is 9,999, more than the group's n of 4,395"),
    (_set((*B, "counts", "positives"), 2000), r"tp \+ fp = 2,138, more than positives = 2,000"),
    (_set((*B, "counts", "tp"), KeyError), r"counts has no count 'tp'"),
    (_set((*B, "counts", "n"), KeyError), r"counts has no count 'n'"),
    (_set((*B, "n"), -1), r'groups\["B"\].n is -1; counts must be whole numbers of at least 0'),
    (_set((*B, "n"), 10**9), r'groups\["B"\].n is 1,000,000,000, more than the dataset\'s 20,000 rows'),
    (_set((*B, "share"), 1.5), r'groups\["B"\].share is 1.5; it must be between 0 and 1'),
    (_set((*B, "selection_rate", "value"), "0.5"), r'selection_rate.value is the text "0.5"; it must be a number'),
    (_set((*B, "selection_rate", "value"), float("inf")), r"selection_rate.value is infinite; every number must be"),
    (_set((*B, "disparate_impact", "q_value"), 3.0), r"disparate_impact.q_value is 3.0; it must be between 0 and 1"),
    (_set((*B, "tpr"), 0.5), r'groups\["B"\].tpr is 0.5; it must be an object'),
    (_set((*B, "tpr"), {"ci_low": 0.1}), r'groups\["B"\].tpr has no field \'value\''),
    (_set((*B, "counts"), KeyError), r'groups\["B"\] has no field \'counts\''),
    (_set(("attributes", "ethnicity", "summary", "disparate_impact_min", "value"), float("nan")), r"summary.disp"),
    (_set(("attributes", "ethnicity", "summary", "four_fifths_pass"), "no"), r"four_fifths_pass is the text"),
    (_set(("attributes", "ethnicity", "findings"), {}), r'attributes\["ethnicity"\].findings is an object; it must'),
    (_set(("dataset", "rows"), -5), r"^dataset.rows is -5; counts must be whole numbers of at least 0"),
    (_set(("dataset", "rows_audited"), 30_000), r"dataset.rows_audited is 30,000, more than the dataset's 20,000"),
    (_set(("dataset",), KeyError), r"^The result has no field 'dataset'"),
    (_set(("options", "confidence"), float("nan")), r"^options.confidence is NaN; every number must be finite"),
    (_set(("options", "confidence"), 5), r"^The recorded options cannot be read: audit\(\) option confidence must"),
    (_set(("spec", "protected"), [{"column": "age", "bins": [60, 25]}]), r"^The recorded spec cannot be read: The"),
    (_set(("attributes", "ethnicity", "groups"), []), r'attributes\["ethnicity"\].groups is a list; it must be an'),
    (_set(("warnings",), [3]), r"^warnings\[0\] is 3; it must be text"),
]


@pytest.mark.parametrize(("damage", "message"), DAMAGE)
def test_a_damaged_result_is_refused_naming_the_field(before, damage, message):
    data = json.loads(before.to_json())
    damage(data)
    with pytest.raises(ParityLabError, match=message) as caught:
        AuditResult.from_dict(data)
    assert str(caught.value).endswith(
        "The file was edited or damaged: export the audit result from ParityLab again (its JSON result)."
    )


def test_load_audit_names_the_file_and_the_field(before, tmp_path):
    from analysis.compare import load_audit

    data = json.loads(before.to_json())
    data["attributes"]["ethnicity"]["groups"]["B"]["counts"]["tp"] = -3
    path = tmp_path / "before.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ParityLabError) as caught:
        load_audit(path)
    assert str(caught.value).startswith(
        f"Cannot use '{path}' as a ParityLab audit result: "
        'attributes["ethnicity"].groups["B"].counts.tp is -3; counts must be whole numbers of at least 0.'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("TRUNCATE", r"not valid JSON \(.*line \d+ column \d+ .*\): it may have been cut short"),
        ('{"schema_version": 2, "dataset": {}, "attributes": {}}', "has schema_version 2; this version of ParityLab"),
        ('{"schema_version": "1", "dataset": {}, "attributes": {}}', "has schema_version '1'"),
        ('{"schema_version": true, "dataset": {}, "attributes": {}}', "has schema_version True"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON \\(nested deeper than Python reads\\)"),
    ],
)
def test_truncated_other_schema_or_absurdly_nested_results(before, text, message):
    if text == "TRUNCATE":
        text = before.to_json()[: len(before.to_json()) // 2]
    with pytest.raises(ParityLabError, match=message):
        AuditResult.from_json(text)


def test_a_result_saved_with_a_bom_or_as_utf16_is_read(before):
    text = before.to_json()
    assert AuditResult.from_json("\ufeff" + text) == before
    assert AuditResult.from_json(text.encode("utf-16")) == before
    assert AuditResult.from_json(b"\xef\xbb\xbf" + text.encode("utf-8")) == before


@pytest.mark.parametrize(
    "rate", ["selection_rate", "favorable_rate", "tpr", "fpr", "fnr", "precision", "npv", "base_rate"]
)
def test_a_hand_edited_rate_is_refused_naming_the_field_and_what_the_counts_give(before, rate):
    data = json.loads(before.to_json())
    attribute, body = next(iter(data["attributes"].items()))
    name, group = next((k, g) for k, g in body["groups"].items() if g.get(rate, {}).get("value") is not None)
    AuditResult.from_dict(json.loads(before.to_json()))  # the untouched result loads
    group[rate]["value"] = 0.99
    where = f'attributes["{attribute}"].groups["{name}"].{rate}.value is 0.99 but its counts give'
    with pytest.raises(ParityLabError, match=re.escape(where)):
        AuditResult.from_dict(data)


def test_an_undefined_rate_must_match_a_zero_denominator(before):
    data = json.loads(before.to_json())
    group = next(iter(next(iter(data["attributes"].values()))["groups"].values()))
    group["tpr"]["value"] = None
    with pytest.raises(ParityLabError, match=r"tpr\.value is null but its counts give"):
        AuditResult.from_dict(data)
    from analysis.audit_json import _check_rates, _Damaged, _Walker

    counts = {"n": 3, "positives": 0, "favorable": 0, "tp": 0, "fp": 0, "tn": 3, "fn": 0, "label_missing": 0}
    _check_rates(_Walker({"counts": counts, "tpr": {"value": None}, "fpr": {"value": 0.0}}, "g"))
    with pytest.raises(_Damaged) as caught:
        _check_rates(_Walker({"counts": counts, "tpr": {"value": 0.5}}, "g"))
    assert caught.value.args == ("g.tpr.value", "is 0.5 but its counts give null")
