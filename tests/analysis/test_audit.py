"""Tests of the fairness audit: values against fairlearn and aif360, intervals against the
samples' documented true effects, edge cases of bad-inputs.md (Metrics), and the JSON contract."""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import re
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.stats import false_discovery_control

from analysis import AuditSpec, ParityLabError, SpecError, load_table
from analysis.audit import AuditResult, MetricValue, audit, dataset_sha256

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"
TOL = 1e-12

LOAN_SPEC = AuditSpec.from_dict(
    {
        "decision": "approved",
        "positive": ["Y"],
        "label": "repaid",
        "label_positive": [1],
        "score": "model_score",
        "protected": ["ethnicity", {"column": "gender", "reference": "Male"}, {"column": "age", "bins": [25, 40, 60]}],
    }
)
TICKET_SPEC = AuditSpec.from_dict(
    {
        "decision": "ai_priority",
        "positive": ["P1", "P2"],
        "label": "true_urgency",
        "label_positive": ["P1", "P2"],
        "score": "priority_score",
        "protected": [{"column": "customer_language", "reference": "English"}, "gender", "age_band"],
    }
)


def _documented() -> dict[str, dict[str, float]]:
    spec = importlib.util.spec_from_file_location("paritylab_sample_generate", SAMPLE_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DOCUMENTED_EFFECTS


DOCUMENTED = _documented()


@pytest.fixture(scope="module")
def loans() -> pd.DataFrame:
    return load_table(SAMPLE_DIR / "loan_approvals.csv").data


@pytest.fixture(scope="module")
def tickets() -> pd.DataFrame:
    return load_table(SAMPLE_DIR / "support_tickets.csv").data


@pytest.fixture(scope="module")
def loan_audit(loans) -> AuditResult:
    return audit(loans, LOAN_SPEC, dataset_name="loan_approvals.csv")


@pytest.fixture(scope="module")
def ticket_audit(tickets) -> AuditResult:
    return audit(tickets, TICKET_SPEC, dataset_name="support_tickets.csv")


def walk_numbers(data, path="$"):
    """Every number in a JSON-like structure, with its path."""
    if isinstance(data, bool) or data is None or isinstance(data, str):
        return
    if isinstance(data, (int, float)):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from walk_numbers(value, f"{path}.{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from walk_numbers(value, f"{path}[{i}]")
    else:
        raise AssertionError(f"{path}: {type(data).__name__} is not JSON")


def assert_json_clean(result: AuditResult) -> None:
    data = result.to_dict()
    for path, number in walk_numbers(data):
        assert math.isfinite(number), path
    json.dumps(data, allow_nan=False)
    for path, metric in walk_metrics(data):
        if metric["value"] is None:
            assert metric.get("reason"), f"{path}: null without a reason"


def walk_metrics(data, path="$"):
    if isinstance(data, dict):
        if "value" in data and set(data) <= set(MetricValue.__dataclass_fields__):
            yield path, data
            return
        for key, value in data.items():
            yield from walk_metrics(value, f"{path}.{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from walk_metrics(value, f"{path}[{i}]")


# --- cross-checks against fairlearn and aif360 ---------------------------------------------


def masks(df: pd.DataFrame, spec: AuditSpec) -> tuple[np.ndarray, np.ndarray]:
    y_pred = df[spec.decision].astype(str).isin([str(v) for v in spec.positive]).to_numpy().astype(int)
    y_true = df[spec.label].astype(str).isin([str(v) for v in spec.label_positive]).to_numpy().astype(int)
    return y_true, y_pred


def group_keys(result: AuditResult, name: str, df: pd.DataFrame) -> np.ndarray:
    """Each row's group label, recomputed by pandas from the attribute's values."""
    attr = result.attributes[name]
    column = df[name]
    spec_attr = next(a for a in result.spec.protected if a.column == name)
    if spec_attr.bins is not None:
        labels = list(attr.groups)
        codes = np.searchsorted(np.asarray(spec_attr.bins), column.to_numpy(dtype=float), side="right")
        return np.array([labels[c] for c in codes])
    return column.astype(object).where(column.notna(), "(missing)").astype(str).to_numpy()


def fairlearn_frame(y_true, y_pred, keys):
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_negative_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    metrics = {
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "tnr": true_negative_rate,
        "fnr": false_negative_rate,
        "precision": partial(precision_score, zero_division=0),
        "npv": lambda t, p: precision_score(1 - t, 1 - p, zero_division=0),
        "accuracy": accuracy_score,
        "base_rate": lambda t, p: float(np.mean(t)),
        "n": count,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=keys).by_group


def assert_matches_fairlearn(result: AuditResult, name: str, y_true, y_pred, keys) -> None:
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
    )

    attr = result.attributes[name]
    table = fairlearn_frame(y_true, y_pred, keys)
    for group, row in table.iterrows():
        ours = attr.groups[str(group)]
        assert ours.n == row["n"]
        for metric in ("selection_rate", "tpr", "fpr", "tnr", "fnr", "precision", "npv", "accuracy", "base_rate"):
            value = ours.metrics[metric].value
            if value is None:  # fairlearn reports an undefined rate as 0.0
                assert row[metric] == 0.0, (group, metric)
            else:
                assert value == pytest.approx(row[metric], abs=TOL), (group, metric)
        fdr, precision = ours.metrics["fdr"].value, ours.metrics["precision"].value
        assert fdr is None or fdr == pytest.approx(1 - precision, abs=TOL)
    summary = attr.summary.metrics
    every_rate_defined = all(
        attr.groups[str(g)].metrics[m].value is not None for g in table.index for m in ("tpr", "fpr")
    )
    kwargs = {"sensitive_features": keys}
    dp_ratio = demographic_parity_ratio(y_true, y_pred, **kwargs)
    assert summary["demographic_parity_ratio"].value == pytest.approx(dp_ratio, abs=TOL)
    assert summary["demographic_parity_difference"].value == pytest.approx(
        demographic_parity_difference(y_true, y_pred, **kwargs), abs=TOL
    )
    if every_rate_defined:
        assert summary["equalized_odds_difference"].value == pytest.approx(
            equalized_odds_difference(y_true, y_pred, **kwargs), abs=TOL
        )
        expected = equalized_odds_ratio(y_true, y_pred, **kwargs)
        ours = summary["equalized_odds_ratio"].value
        if math.isnan(expected):
            # fairlearn gives NaN when a rate is 0 in every group (0/0); ours counts equal zero rates as
            # ratio 1, so the other rate's ratio decides.
            def ratio(rate):
                return table[rate].min() / table[rate].max() if table[rate].max() > 0 else 1.0

            assert ours == pytest.approx(min(ratio("tpr"), ratio("fpr")), abs=TOL)
        else:
            assert ours == pytest.approx(expected, abs=TOL)


def aif360_metric(y_true, y_pred, keys, group, reference, *, favorable=1.0):
    logging.getLogger().setLevel(logging.ERROR)
    from aif360.datasets import BinaryLabelDataset
    from aif360.metrics import ClassificationMetric

    rows = (keys == group) | (keys == reference)
    privileged = (keys[rows] == reference).astype(float)

    def dataset(labels):
        df = pd.DataFrame({"privileged": privileged, "y": labels[rows].astype(float)})
        return BinaryLabelDataset(
            df=df,
            label_names=["y"],
            protected_attribute_names=["privileged"],
            favorable_label=favorable,
            unfavorable_label=1.0 - favorable,
        )

    return ClassificationMetric(
        dataset(y_true),
        dataset(y_pred),
        unprivileged_groups=[{"privileged": 0.0}],
        privileged_groups=[{"privileged": 1.0}],
    )


def assert_matches_aif360(result: AuditResult, name: str, y_true, y_pred, keys) -> int:
    attr = result.attributes[name]
    checked = 0
    for group, ours in attr.groups.items():
        if ours.is_reference:
            continue
        m = aif360_metric(y_true, y_pred, keys, group, attr.reference_group)
        pairs = {
            "disparate_impact": m.disparate_impact(),
            "statistical_parity_difference": m.statistical_parity_difference(),
            "equal_opportunity_difference": m.equal_opportunity_difference(),
            "average_odds_difference": m.average_odds_difference(),
            "fpr_difference": m.false_positive_rate_difference(),
            "predictive_parity_difference": m.positive_predictive_value(False) - m.positive_predictive_value(True),
        }
        for metric, expected in pairs.items():
            assert ours.metrics[metric].value == pytest.approx(expected, abs=TOL), (group, metric)
            checked += 1
    return checked


@pytest.mark.slow
@pytest.mark.parametrize("column", ["ethnicity", "gender", "age"])
def test_loans_equal_fairlearn_and_aif360(loans, loan_audit, column):
    y_true, y_pred = masks(loans, LOAN_SPEC)
    keys = group_keys(loan_audit, column, loans)
    assert_matches_fairlearn(loan_audit, column, y_true, y_pred, keys)
    assert assert_matches_aif360(loan_audit, column, y_true, y_pred, keys) >= 12


@pytest.mark.slow
@pytest.mark.parametrize("column", ["customer_language", "gender", "age_band"])
def test_tickets_equal_fairlearn_and_aif360(tickets, ticket_audit, column):
    y_true, y_pred = masks(tickets, TICKET_SPEC)
    keys = group_keys(ticket_audit, column, tickets)
    assert_matches_fairlearn(ticket_audit, column, y_true, y_pred, keys)
    assert assert_matches_aif360(ticket_audit, column, y_true, y_pred, keys) >= 12


def test_unfavorable_decisions_flip_the_favorable_rate_like_aif360s_favorable_label(loans):
    spec = AuditSpec.from_dict({**LOAN_SPEC.to_dict(), "positive_is_favorable": False, "score": None})
    result = audit(loans, spec)
    y_true, y_pred = masks(loans, spec)
    keys = group_keys(result, "ethnicity", loans)
    attr = result.attributes["ethnicity"]
    assert attr.reference_group == "B"  # declined most often: the highest favorable rate is now B's
    for group, ours in attr.groups.items():
        m = ours.metrics
        assert m["favorable_rate"].value == pytest.approx(1 - m["selection_rate"].value, abs=TOL)
        assert ours.counts["favorable"] == ours.n - ours.counts["positives"]
        if not ours.is_reference:
            aif = aif360_metric(y_true, y_pred, keys, group, "B", favorable=0.0)
            assert m["disparate_impact"].value == pytest.approx(aif.disparate_impact(), abs=TOL)
            assert m["statistical_parity_difference"].value == pytest.approx(
                aif.statistical_parity_difference(), abs=TOL
            )
    texts = [f.text for f in attr.findings if f.metric == "disparate_impact"]
    # The harm told as the harm: approved (here harmful) at 1.40x the rate of B, never "are not approved".
    assert texts and all(
        re.match(r"Those with ethnicity = \w are approved at 1\.\d\dx the rate of group B \(", t) for t in texts
    )
    assert all("impact ratio 0." in t and " not " not in t for t in texts)


def _table(draw_rows, groups, p_decision, p_label):
    rows = []
    for g, u, v in draw_rows:
        rows.append((g, "Y" if u < p_decision[g] else "N", "good" if v < p_label[g] else "bad"))
    return pd.DataFrame(rows, columns=["g", "decision", "label"])


generated_tables = st.integers(2, 4).flatmap(
    lambda k: st.tuples(
        st.lists(
            st.tuples(st.integers(0, k - 1), st.floats(0, 1), st.floats(0, 1)),
            min_size=k * 3,
            max_size=150,
        ),
        st.lists(st.sampled_from([0.0, 0.3, 0.6, 1.0]), min_size=k, max_size=k),
        st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=k, max_size=k),
    )
)
GENERATED_SPEC = AuditSpec(
    decision="decision",
    positive=["Y"],
    label="label",
    label_positive=["good"],
    protected=["g"],
    min_group_size=1,
    intersections=(),
)


def _generated(data) -> pd.DataFrame | None:
    rows, p_decision, p_label = data
    df = _table(rows, None, p_decision, p_label)
    df["g"] = df["g"].map(lambda i: f"group{i}")
    # A spec must name values that occur and leave some negative: skip tables without both.
    if df["g"].nunique() < 2 or df["decision"].nunique() < 2 or df["label"].nunique() < 2:
        return None
    return df


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(generated_tables)
def test_generated_tables_equal_fairlearn_and_are_finite_or_null(data):
    df = _generated(data)
    assume(df is not None)
    result = audit(df, GENERATED_SPEC)
    y_true, y_pred = masks(df, GENERATED_SPEC)
    keys = df["g"].to_numpy()
    assert_matches_fairlearn(result, "g", y_true, y_pred, keys)
    assert_json_clean(result)
    for group in result.attributes["g"].groups.values():
        tpr, fpr = group.metrics["tpr"], group.metrics["fpr"]
        positives = group.counts["tp"] + group.counts["fn"]
        assert (tpr.value is None) == (positives == 0)
        assert (fpr.value is None) == (group.counts["fp"] + group.counts["tn"] == 0)


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(generated_tables)
def test_generated_tables_equal_aif360_where_defined(data):
    df = _generated(data)
    assume(df is not None)
    result = audit(df, GENERATED_SPEC)
    y_true, y_pred = masks(df, GENERATED_SPEC)
    attr = result.attributes["g"]
    keys = df["g"].to_numpy()
    for group, ours in attr.groups.items():
        if ours.is_reference:
            continue
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            m = aif360_metric(y_true, y_pred, keys, group, attr.reference_group)
            expected = {
                "disparate_impact": m.disparate_impact(),
                "statistical_parity_difference": m.statistical_parity_difference(),
                "equal_opportunity_difference": m.equal_opportunity_difference(),
                "average_odds_difference": m.average_odds_difference(),
            }
        for metric, value in expected.items():
            ours_value = ours.metrics[metric].value
            if ours_value is None:
                assert not np.isfinite(value) or metric == "disparate_impact", (group, metric)
            else:
                assert ours_value == pytest.approx(value, abs=TOL), (group, metric)


# --- the injected biases, with documented sizes inside the intervals -------------------------


def inside(metric: MetricValue, truth: float) -> bool:
    return metric.ci_low <= truth <= metric.ci_high


def test_loans_find_the_injected_bias_with_the_true_sizes_inside_the_intervals(loan_audit):
    truth = DOCUMENTED["loans"]
    eth = loan_audit.attributes["ethnicity"]
    assert eth.reference_group == "A"
    for g in "BCD":
        assert inside(eth.groups[g].metrics["disparate_impact"], truth[f"disparate_impact_ethnicity_{g}_vs_A"]), g
    for g in "ABCD":
        assert inside(eth.groups[g].metrics["selection_rate"], truth[f"approval_rate_ethnicity_{g}"]), g
    assert inside(eth.groups["B"].metrics["equal_opportunity_difference"], truth["tpr_gap_ethnicity_B_minus_A"])
    assert inside(eth.groups["B"].metrics["tpr"], truth["tpr_ethnicity_B"])
    assert inside(eth.groups["A"].metrics["base_rate"], truth["repaid_rate_ethnicity_A"])
    gender = loan_audit.attributes["gender"]
    assert gender.reference_rule == "named in the spec"
    for g in ("Female", "Non-binary"):
        assert inside(gender.groups[g].metrics["disparate_impact"], truth[f"disparate_impact_gender_{g}_vs_Male"])
    assert eth.summary.four_fifths_pass is False and gender.summary.four_fifths_pass is True
    assert eth.summary.metrics["disparate_impact_min"].group == "B"
    # With the default reference, the four-fifths ratio (lowest / highest rate) is the smallest DI.
    assert eth.summary.metrics["favorable_rate_ratio"].value == pytest.approx(
        eth.summary.metrics["disparate_impact_min"].value, abs=TOL
    )


def test_loan_findings_say_it_in_plain_words(loan_audit):
    eth = loan_audit.attributes["ethnicity"]
    texts = [f.text for f in eth.findings]
    assert texts[0] == (
        "Those with ethnicity = B are approved at 0.71x the rate of group A (95% CI 0.69–0.74; q < 0.001) "
        "— below the four-fifths threshold."
    )
    gaps = {(f.metric, f.group) for f in eth.findings if f.kind == "gap"}
    assert ("disparate_impact", "B") in gaps and ("disparate_impact", "C") in gaps
    assert ("disparate_impact", "D") not in gaps  # 0.99: no disparity
    assert ("equal_opportunity_difference", "B") in gaps
    assert (
        "Among those whose true outcome is positive (repaid = 1), those with ethnicity = B are approved at a rate "
        "0.19 lower than group A (0.60 vs 0.79; 95% CI of the gap -0.22 to -0.17; q < 0.001)."
    ) in texts
    for finding in eth.findings:
        if finding.kind == "gap":
            assert finding.q_value < 0.05 and finding.text.endswith(".")
    quiet = [f for f in loan_audit.attributes["gender"].findings if f.kind == "no_gap"]
    assert {f.metric for f in quiet} == {"disparate_impact", "equal_opportunity_difference", "fpr_difference"}
    assert quiet[0].text.startswith(
        "No gap beyond the thresholds was found between groups of gender in how often they are approved: "
        "no group is below 0.8x the rate of group Male with q < 0.05. With these sample sizes, a gap of 0.0"
    )
    assert "could have been detected (80% power, α = 0.05)" in quiet[0].text
    assert 0 < quiet[0].detectable_gap < 0.2


def test_tickets_find_the_injected_bias_for_every_language(tickets, ticket_audit):
    truth = DOCUMENTED["tickets"]
    language = ticket_audit.attributes["customer_language"]
    english = truth["p1p2_rate_English"]
    for lang in ("Spanish", "German", "French", "Portuguese", "Japanese"):
        di = language.groups[lang].metrics["disparate_impact"]
        assert inside(di, truth[f"p1p2_rate_{lang}"] / english), lang
        assert di.ci_high < 1 and di.q_value < 0.05
    text = next(f.text for f in language.findings if f.group == "Japanese" and f.metric == "disparate_impact")
    assert text.startswith(
        "Those with customer_language = Japanese are selected (ai_priority in P1, P2) at 0.64x "
        "the rate of group English (95% CI "
    )
    # Binned into English / non-English, as the data card states the effect.
    binned = tickets.assign(english=np.where(tickets["customer_language"] == "English", "English", "other"))
    spec = AuditSpec.from_dict(
        {**TICKET_SPEC.to_dict(), "protected": [{"column": "english", "reference": "English"}], "score": None}
    )
    other = audit(binned, spec).attributes["english"].groups["other"].metrics
    assert inside(other["disparate_impact"], truth["p1p2_ratio_non_English_vs_English"])
    gap = truth["urgent_p1p2_rate_non_English"] - truth["urgent_p1p2_rate_English"]
    assert inside(other["equal_opportunity_difference"], gap)
    assert inside(other["base_rate"], truth["urgent_share_non_English"])


def test_multi_valued_decisions_get_their_distribution_by_group(tickets, ticket_audit, loan_audit):
    dist = ticket_audit.attributes["customer_language"].decision_distribution
    # P1 is the most urgent: listed lowest first, as everywhere the values of an ordered decision are listed.
    assert (dist.values, dist.order) == (("P4", "P3", "P2", "P1"), "priority codes, P1 the most urgent")
    expected = pd.crosstab(tickets["customer_language"], tickets["ai_priority"])
    for lang, counts in dist.counts.items():
        assert list(counts) == expected.loc[lang, list(dist.values)].tolist()
        shares = [s.value for s in dist.shares[lang]]
        assert sum(shares) == pytest.approx(1.0, abs=TOL)
        assert all(s.ci_low <= s.value <= s.ci_high for s in dist.shares[lang])
    assert ticket_audit.to_dict()["attributes"]["customer_language"]["decision_distribution"]["groups"]["English"][
        "P1"
    ]["count"] == int(expected.loc["English", "P1"])
    # A binary decision has no distribution.
    assert "decision_distribution" not in loan_audit.to_dict()["attributes"]["ethnicity"]


def test_score_metrics_auc_brier_and_calibration_by_group(loans, loan_audit):
    from sklearn.metrics import brier_score_loss, roc_auc_score

    eth = loan_audit.attributes["ethnicity"]
    for g, group in eth.groups.items():
        rows = loans["ethnicity"] == g
        y, s = loans.loc[rows, "repaid"].eq(1), loans.loc[rows, "model_score"]
        assert group.metrics["auc"].value == pytest.approx(roc_auc_score(y, s), abs=TOL)
        assert group.metrics["brier"].value == pytest.approx(brier_score_loss(y, s), abs=TOL)
        assert group.metrics["auc"].ci_low < group.metrics["auc"].value < group.metrics["auc"].ci_high
    calibration = eth.calibration
    assert len(calibration.edges) == 11
    bins = calibration.groups["B"]
    assert sum(b.n for b in bins) == eth.groups["B"].n
    top = bins[-1]
    rows = (loans["ethnicity"] == "B") & (loans["model_score"] >= calibration.edges[-2])
    assert top.n == rows.sum()
    assert top.observed_rate.value == pytest.approx(loans.loc[rows, "repaid"].mean(), abs=TOL)
    assert top.mean_score == pytest.approx(loans.loc[rows, "model_score"].mean(), abs=TOL)


# --- intersections, reference, q-values ----------------------------------------------------


def test_intersections_have_the_same_shape_and_suppress_small_cells(loans, loan_audit):
    assert set(loan_audit.intersections) == {"ethnicity × gender", "ethnicity × age", "gender × age"}
    cross = loan_audit.intersections["ethnicity × gender"]
    assert cross.columns == ("ethnicity", "gender")
    b_female = cross.groups["B × Female"]
    assert b_female.values == {"ethnicity": "B", "gender": "Female"}
    assert b_female.n == int(((loans["ethnicity"] == "B") & (loans["gender"] == "Female")).sum())
    sizes = loans.assign(gender=loans["gender"].fillna("(missing)")).groupby(["ethnicity", "gender"]).size()
    for (e, g), n in sizes.items():
        label = f"{e} × {g}"
        if n < 10:
            assert label not in cross.groups and label in [s.group for s in cross.suppressed]
        else:
            assert cross.groups[label].n == n
            assert cross.groups[label].status == ("too small to conclude" if n < 30 else "ok")
    gender_age = loan_audit.intersections["gender × age"]
    assert gender_age.suppressed and all(s.n < 10 for s in gender_age.suppressed)
    assert any(f.kind == "suppressed" for f in gender_age.findings)
    assert set(gender_age.calibration.groups) == set(gender_age.groups)


def test_named_intersections_and_a_named_reference(loans):
    spec = AuditSpec.from_dict(
        {
            **LOAN_SPEC.to_dict(),
            "protected": ["ethnicity", {"column": "gender", "reference": "Female"}, "region"],
            "intersections": [["ethnicity", "region", "gender"]],
            "score": None,
        }
    )
    result = audit(loans, spec, min_cell_size=5)
    assert list(result.intersections) == ["ethnicity × region × gender"]
    assert result.attributes["gender"].reference_group == "Female"
    cross = result.intersections["ethnicity × region × gender"]
    assert all(g.n >= 5 for g in cross.groups.values())
    assert all(len(g.values) == 3 for g in cross.groups.values())


def test_q_values_are_benjamini_hochberg_across_every_test_of_the_audit(loan_audit):
    p, q = [], []
    for attr in [*loan_audit.attributes.values(), *loan_audit.intersections.values()]:
        for group in attr.groups.values():
            for name in ("disparate_impact", "equal_opportunity_difference", "fpr_difference"):
                metric = group.metrics[name]
                if metric.p_value is not None:
                    p.append(metric.p_value)
                    q.append(metric.q_value)
            di, spd = group.metrics["disparate_impact"], group.metrics["statistical_parity_difference"]
            assert di.p_value == spd.p_value and di.q_value == spd.q_value
    assert len(p) > 100
    np.testing.assert_allclose(q, false_discovery_control(p, method="bh"), rtol=1e-12, atol=0)


def test_reference_default_is_the_highest_favorable_rate_among_large_groups():
    rng = np.random.default_rng(11)
    groups = np.repeat(["big_low", "big_high", "tiny_perfect", None], [500, 400, 5, 60])
    df = pd.DataFrame({"g": groups, "d": np.where(rng.random(965) < 0.4, "Y", "N")})
    df.loc[df["g"] == "big_high", "d"] = np.where(rng.random(400) < 0.7, "Y", "N")
    df.loc[df["g"] == "tiny_perfect", "d"] = "Y"
    df.loc[df["g"].isna(), "d"] = "Y"  # the missing-value group is never the default reference
    result = audit(df, AuditSpec(decision="d", positive=["Y"], protected=["g"]))
    attr = result.attributes["g"]
    assert attr.reference_group == "big_high"
    # The (missing) group has the highest rate, so the rule says it was not counted.
    assert (
        attr.reference_rule
        == "highest favourable rate among groups with at least 30 rows, not counting the (missing) group"
    )
    assert attr.groups["tiny_perfect"].status == "too small to conclude"
    assert attr.summary.groups_compared == ("big_high", "big_low", "(missing)")
    assert attr.groups["big_high"].is_reference
    assert attr.groups["big_high"].metrics["disparate_impact"].reason == "this is the reference group"


def test_a_named_reference_below_another_group_fails_the_four_fifths_rule():
    df = pd.DataFrame({"g": ["low"] * 200 + ["high"] * 200, "d": ["Y"] * 80 + ["N"] * 120 + ["Y"] * 160 + ["N"] * 40})
    spec = AuditSpec(decision="d", positive=["Y"], protected=[{"column": "g", "reference": "low"}])
    attr = audit(df, spec).attributes["g"]
    assert attr.reference_group == "low"
    high = attr.groups["high"].metrics["disparate_impact"]
    assert high.value == pytest.approx(2.0)
    assert attr.summary.metrics["disparate_impact_min"].value == pytest.approx(2.0)
    assert attr.summary.metrics["favorable_rate_ratio"].value == pytest.approx(0.5)
    assert attr.summary.four_fifths_pass is False
    finding = attr.findings[0]
    assert finding.kind == "gap" and finding.group == "high"
    assert finding.text.endswith("— group low's rate is below 0.8 of theirs.")


# --- edge cases of bad-inputs.md (Metrics) ---------------------------------------------------


def edge_frame() -> pd.DataFrame:
    rng = np.random.default_rng(12)
    n = 600
    df = pd.DataFrame({"g": rng.choice(["a", "b", "c"], n), "d": rng.choice(["Y", "N"], n), "y": rng.integers(0, 2, n)})
    df.loc[df["g"] == "b", "y"] = 0  # no positive labels in b
    df.loc[df["g"] == "c", "y"] = 1  # no negative labels in c
    return df


def test_a_group_without_positive_labels_has_a_null_tpr_not_0(tmp_path):
    df = edge_frame()
    spec = AuditSpec(decision="d", positive=["Y"], label="y", label_positive=[1], protected=["g"])
    result = audit(df, spec)
    b = result.attributes["g"].groups["b"].metrics
    assert b["tpr"].value is None and "no rows with a positive label (y = 1)" in b["tpr"].reason
    assert b["fnr"].value is None and b["equal_opportunity_difference"].value is None
    c = result.attributes["g"].groups["c"].metrics
    assert c["fpr"].value is None and "no rows with a negative label (y ≠ 1)" in c["fpr"].reason
    assert c["tnr"].value is None and c["fpr_difference"].value is None
    table = fairlearn_frame(*masks(df, spec), df["g"].to_numpy())
    assert table.loc["b", "tpr"] == 0.0 and table.loc["c", "fpr"] == 0.0  # what fairlearn reports instead
    # Equalized odds over the groups where each rate is defined, not inflated by a fake 0.
    tpr = [result.attributes["g"].groups[g].metrics["tpr"].value for g in ("a", "c")]
    fpr = [result.attributes["g"].groups[g].metrics["fpr"].value for g in ("a", "b")]
    expected = max(max(tpr) - min(tpr), max(fpr) - min(fpr))
    assert result.attributes["g"].summary.metrics["equalized_odds_difference"].value == pytest.approx(expected)
    assert_json_clean(result)


def test_a_single_group_is_not_computable_never_ratio_1():
    df = pd.DataFrame({"g": ["only"] * 50, "d": ["Y", "N"] * 25})
    result = audit(df, AuditSpec(decision="d", positive=["Y"], protected=["g"]))
    attr = result.attributes["g"]
    assert attr.status == "not computable" and "only one group ('only')" in attr.reason
    assert attr.reference_group is None
    group = attr.groups["only"]
    assert group.metrics["selection_rate"].value == 0.5
    assert group.metrics["disparate_impact"].value is None
    assert attr.summary.status == "not computable" and attr.summary.four_fifths_pass is None
    assert all(m.value is None for m in attr.summary.metrics.values())
    assert [f.kind for f in attr.findings] == ["not_computable"]
    assert attr.findings[0].text.startswith("Disparities for g are not computable: only one group")
    assert_json_clean(result)


def test_missing_protected_values_form_a_counted_missing_group():
    df = pd.DataFrame({"g": ["a"] * 40 + [None] * 35 + ["b"] * 40, "d": ["Y", "N", "N", "Y", "Y"] * 23})
    result = audit(df, AuditSpec(decision="d", positive=["Y"], protected=["g"]))
    groups = result.attributes["g"].groups
    assert list(groups) == ["a", "b", "(missing)"]
    assert groups["(missing)"].n == 35 and groups["(missing)"].share == pytest.approx(35 / 115)
    assert result.attributes["g"].reference_group != "(missing)"
    assert any("35 missing values" in w for w in result.warnings)


def test_string_decisions_and_labels_use_the_positive_values():
    df = pd.DataFrame(
        {
            "g": ["x"] * 40 + ["y"] * 40,
            "status": ["Approved", "Denied", "Denied", "Denied"] * 20,
            "outcome": ["Repaid", "Defaulted"] * 40,
        }
    )
    spec = AuditSpec(
        decision="status", positive=["Approved"], label="outcome", label_positive=["Repaid"], protected="g"
    )
    result = audit(df, spec)
    x = result.attributes["g"].groups["x"].metrics
    assert x["selection_rate"].value == 0.25 and x["tpr"].value == 0.5
    assert "are approved" in " ".join(f.text for f in result.findings())


def test_a_score_passed_as_the_decision_is_refused():
    rng = np.random.default_rng(13)
    df = pd.DataFrame({"g": rng.choice(["a", "b"], 200), "score": rng.random(200).round(3)})
    with pytest.raises(SpecError, match="looks like a score, not a decision"):
        audit(df, AuditSpec(decision="score", positive=[1], protected=["g"]))


def test_many_tiny_groups_are_too_small_to_conclude():
    df = pd.DataFrame({"g": [f"g{i:02d}" for i in range(40)] * 3, "d": ["Y", "N", "N"] * 40})
    result = audit(df, AuditSpec(decision="d", positive=["Y"], protected=["g"]))
    attr = result.attributes["g"]
    assert all(g.status == "too small to conclude" for g in attr.groups.values())
    assert (
        attr.summary.status == "not computable" and "fewer than two groups have at least 30 rows" in attr.summary.reason
    )
    assert not [f for f in attr.findings if f.kind in ("gap", "no_gap")]
    assert [f.kind for f in attr.findings] == ["too_small"]
    assert attr.reference_rule.startswith("highest favourable rate (no group has enough rows")


def test_a_constant_score_has_a_null_auc():
    rng = np.random.default_rng(14)
    df = pd.DataFrame(
        {"g": rng.choice(["a", "b"], 300), "d": rng.choice(["Y", "N"], 300), "y": rng.integers(0, 2, 300), "s": 0.5}
    )
    spec = AuditSpec(decision="d", positive=["Y"], label="y", label_positive=[1], score="s", protected=["g"])
    result = audit(df, spec)
    for group in result.attributes["g"].groups.values():
        assert group.metrics["auc"].value is None
        assert group.metrics["auc"].reason == "undefined: the score is constant in this group"
        assert group.metrics["brier"].value == pytest.approx(0.25)
    assert_json_clean(result)


def test_scores_that_are_not_probabilities_have_no_brier_score():
    rng = np.random.default_rng(15)
    df = pd.DataFrame({"g": rng.choice(["a", "b"], 300), "y": rng.integers(0, 2, 300), "s": rng.normal(0, 3, 300)})
    spec = AuditSpec(score="s", threshold=0.0, label="y", label_positive=[1], protected=["g"])
    group = audit(df, spec).attributes["g"].groups["a"]
    assert group.metrics["brier"].value is None and "not probabilities" in group.metrics["brier"].reason
    assert group.metrics["auc"].value is not None


def test_every_number_is_finite_or_null(loan_audit, ticket_audit):
    assert_json_clean(loan_audit)
    assert_json_clean(ticket_audit)


# --- skipped metrics, left-out rows --------------------------------------------------------


def test_without_a_label_error_metrics_are_absent_and_listed_as_skipped(loans):
    spec = AuditSpec(decision="approved", positive=["Y"], protected=["ethnicity"])
    result = audit(loans, spec)
    group = result.to_dict()["attributes"]["ethnicity"]["groups"]["B"]
    assert "selection_rate" in group and "disparate_impact" in group
    for absent in ("tpr", "fpr", "precision", "equal_opportunity_difference", "auc"):
        assert absent not in group
    skipped = {s["metric"]: s["reason"] for s in result.skipped}
    assert skipped["tpr"] == "no label column" and skipped["auc"] == "no label column"
    assert "equalized_odds_difference" not in result.attributes["ethnicity"].summary.metrics
    with_label = audit(loans, AuditSpec.from_dict({**spec.to_dict(), "label": "repaid", "label_positive": [1]}))
    assert {s["metric"] for s in with_label.skipped} == {"auc", "brier", "calibration"}


def test_rows_without_a_decision_or_label_are_left_out_and_reported():
    df = pd.DataFrame(
        {
            "g": ["a", "b"] * 50,
            "d": (["Y", "N", None, "Y"] * 25),
            "y": ([1, 0, 1, None, 0] * 20),
        }
    )
    spec = AuditSpec(decision="d", positive=["Y"], label="y", label_positive=[1], protected=["g"])
    result = audit(df, spec)
    assert result.dataset.rows == 100 and result.dataset.rows_audited == 75
    reasons = {r["reason"].split(" (")[0]: r["rows"] for r in result.left_out}
    assert reasons == {"no decision": 25, "no label": 15}
    a = result.attributes["g"].groups["a"]
    assert a.n == 25 and a.counts["decision_missing"] == 25
    assert a.counts["label_missing"] + result.attributes["g"].groups["b"].counts["label_missing"] == 15


def test_the_score_and_threshold_can_make_the_decision(loans):
    spec = AuditSpec(score="model_score", threshold=0.5, label="repaid", label_positive=[1], protected=["ethnicity"])
    by_score = audit(loans, spec).attributes["ethnicity"].groups["B"].metrics
    by_decision = audit(loans, AuditSpec.from_dict({**spec.to_dict(), "decision": "approved", "positive": ["Y"]}))
    assert by_score["selection_rate"] == by_decision.attributes["ethnicity"].groups["B"].metrics["selection_rate"]
    text = audit(loans, spec).attributes["ethnicity"].findings[0].text
    assert "are selected (model_score ≥ 0.5)" in text


# --- the JSON contract ---------------------------------------------------------------------


def test_the_json_has_the_documented_shape(loan_audit, loans):
    data = loan_audit.to_dict()
    assert data["schema_version"] == 1
    assert data["dataset"] == {
        "name": "loan_approvals.csv",
        "rows": 20000,
        "rows_audited": 20000,
        "sha256": dataset_sha256(loans),
        "score_resolution": None,
    }
    assert data["engine"] == "pandas"
    assert data["spec"] == LOAN_SPEC.to_dict()
    eth = data["attributes"]["ethnicity"]
    assert eth["reference_group"] == "A"
    group = eth["groups"]["B"]
    for key in ("n", "selection_rate", "favorable_rate", "base_rate", "tpr", "fpr", "tnr", "fnr", "precision"):
        assert key in group
    for key in ("npv", "accuracy", "disparate_impact", "statistical_parity_difference"):
        assert key in group
    for key in ("equal_opportunity_difference", "fpr_difference", "average_odds_difference"):
        assert key in group
    assert set(group["disparate_impact"]) == {"value", "ci_low", "ci_high", "p_value", "q_value", "test"}
    assert set(group["selection_rate"]) == {"value", "ci_low", "ci_high"}
    assert group["counts"] == {
        "n": 4395,
        "positives": 2138,
        "favorable": 2138,
        "tp": 1527,
        "fp": 611,
        "tn": 1229,
        "fn": 1028,
        "label_missing": 0,
        "decision_missing": 0,
    }
    summary = eth["summary"]
    assert list(summary)[:3] == ["disparate_impact_min", "four_fifths_pass", "favorable_rate_ratio"]
    for key in ("demographic_parity_ratio", "demographic_parity_difference"):
        assert key in summary
    assert "equalized_odds_difference" in summary and "equalized_odds_ratio" in summary
    assert set(eth["findings"][0]) >= {"metric", "group", "text", "q_value"}
    assert "ethnicity × gender" in data["intersections"]
    assert data["skipped"] == []


def test_json_round_trip_is_identical(loan_audit, ticket_audit):
    for result in (loan_audit, ticket_audit):
        text = result.to_json()
        again = AuditResult.from_json(text)
        assert again.to_json() == text
        assert again == result


def test_reading_a_result_of_another_schema_or_not_a_result_fails_clearly(loan_audit):
    data = loan_audit.to_dict() | {"schema_version": 2}
    with pytest.raises(ParityLabError, match="schema_version 2; this version of ParityLab reads version 1"):
        AuditResult.from_dict(data)
    with pytest.raises(ParityLabError, match=r"Expected an audit result.*got a list of 2 items"):
        AuditResult.from_dict([1, 2])
    keys = re.escape('got an object with keys ["decision"].')
    with pytest.raises(ParityLabError, match=keys):
        AuditResult.from_dict({"decision": "approved"})
    with pytest.raises(ParityLabError, match="not valid JSON"):
        AuditResult.from_json("{")


def test_dataset_hash_is_passed_through_or_computed_deterministically(loans):
    spec = AuditSpec(decision="approved", positive=["Y"], protected=["ethnicity"], intersections=())
    assert audit(loans, spec, dataset_sha256="abc").dataset.sha256 == "abc"
    assert dataset_sha256(loans) == dataset_sha256(loans.copy())
    changed = loans.copy()
    changed.loc[0, "approved"] = "Y" if loans.loc[0, "approved"] == "N" else "N"
    assert dataset_sha256(changed) != dataset_sha256(loans)


def test_options_are_keyword_only_and_checked(loans):
    spec = AuditSpec(decision="approved", positive=["Y"], protected=["ethnicity"])
    with pytest.raises(TypeError):
        audit(loans, spec, 0.9)
    with pytest.raises(SpecError, match="audit\\(\\) option confidence must be a number strictly between 0 and 1"):
        audit(loans, spec, confidence=95)
    with pytest.raises(SpecError, match="min_cell_size must be a whole number of at least 1"):
        audit(loans, spec, min_cell_size=0)
    result = audit(loans, spec, confidence=0.99, di_threshold=0.75)
    b = result.attributes["ethnicity"].groups["B"].metrics["disparate_impact"]
    wider = audit(loans, spec).attributes["ethnicity"].groups["B"].metrics["disparate_impact"]
    assert b.ci_low < wider.ci_low and b.ci_high > wider.ci_high
    assert "99% CI" in result.attributes["ethnicity"].findings[0].text
    assert "below the 0.75 threshold" in result.attributes["ethnicity"].findings[0].text


def test_huge_scores_leave_the_brier_score_undefined_without_a_warning():
    df = pd.DataFrame(
        {"g": ["a", "b"] * 20, "d": [1, 0] * 20, "y": [1, 1, 0, 0] * 10, "s": [1e308, 0.5, 1e200, 0.2] * 10}
    )
    spec = AuditSpec(decision="d", positive=(1,), label="y", label_positive=(1,), score="s", protected=("g",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = audit(df, spec)
    brier = result.attributes["g"].groups["a"].metrics["brier"]
    assert brier.value is None and brier.reason


# --- spelling variants and the literal '(missing)' -------------------------------------------------


def respelled(loans: pd.DataFrame) -> pd.DataFrame:
    """The loan sample with a minority of its decisions and groups spelled otherwise, as messy exports do."""
    rng = np.random.default_rng(7)
    messy = loans.copy()
    spellings = {
        "approved": {"Y": ["y", "Y\u200b", "y\u00ad"], "N": ["n", "N\ufeff"]},
        "gender": {"Female": ["female", "FEMALE\u200b"], "Male": ["MALE", "male\u00a0"]},
        "ethnicity": {"D": ["d"], "B": ["b\u2060"]},
    }
    for column, variants in spellings.items():
        values = messy[column].astype(object).to_numpy(copy=True)
        for value, others in variants.items():
            rows = np.flatnonzero(values == value)
            chosen = rng.choice(
                rows, size=len(rows) // 5, replace=False
            )  # a fifth: the original stays the most frequent
            values[chosen] = rng.choice(others, size=chosen.size)
        messy[column] = values
    return messy


def comparable(result: AuditResult) -> dict:
    data = result.to_dict()
    return {key: data[key] for key in ("attributes", "intersections", "left_out", "skipped")} | {
        "rows_audited": data["dataset"]["rows_audited"]
    }


@pytest.mark.slow
def test_merged_variants_give_the_numbers_of_the_table_fixed_by_hand(loans, loan_audit):
    from dataclasses import replace

    messy = respelled(loans)
    assert (messy["approved"] != loans["approved"]).sum() > 1000
    # The spec may name any spelling: 'y' is respelled 'Y', the most frequent, and so is the reference 'MALE'.
    spec = replace(
        LOAN_SPEC,
        positive=("y",),
        merge_variants=True,
        protected=tuple(replace(a, reference="MALE") if a.column == "gender" else a for a in LOAN_SPEC.protected),
    )
    merged = audit(messy, spec, dataset_name="loan_approvals.csv")
    assert comparable(merged) == comparable(loan_audit)
    assert merged.spec == spec  # recorded as given
    assert (merged.attributes["gender"].reference_group, merged.attributes["gender"].reference_rule) == (
        "Male",
        "named in the spec",
    )
    notes = [w for w in merged.warnings if w.startswith("Merged ")]
    assert len(notes) == 6  # Y, N; Female, Male; D, B
    y_true, y_pred = masks(loans, LOAN_SPEC)
    assert_matches_fairlearn(merged, "ethnicity", y_true, y_pred, group_keys(loan_audit, "ethnicity", loans))


def test_unmerged_variants_are_counted_apart_and_never_without_a_warning(loans):
    messy = respelled(loans)
    result = audit(messy, LOAN_SPEC)
    others = int(messy["approved"].isin(["y", "Y\u200b", "y\u00ad"]).sum())
    split = [w for w in result.warnings if w.startswith("The positive decision values")]
    assert len(split) == 1 and f": {others:,} rows spelled so count as negative decisions." in split[0]
    assert split[0].remedy.option == "merge_variants"
    positive = sum(g.counts["positives"] for g in result.attributes["ethnicity"].groups.values())
    assert positive == int((messy["approved"] == "Y").sum())
    assert {"female", "FEMALE\u200b", "MALE", "Female", "Male"} <= set(result.attributes["gender"].groups)


def test_a_literal_missing_value_is_audited_apart_from_the_missing_cells():
    df = pd.DataFrame(
        {
            "decision": ["Y", "N"] * 60,
            "group": ["a"] * 40 + ["(missing)"] * 40 + [None] * 40,
        }
    )
    df.loc[40:59, "decision"] = "Y"  # the literal group is approved more often than the missing cells
    result = audit(df, AuditSpec(decision="decision", positive=["Y"], protected=["group"], min_group_size=10))
    groups = result.attributes["group"].groups
    assert {name: g.n for name, g in groups.items()} == {"a": 40, "(missing) [value]": 40, "(missing)": 40}
    assert groups["(missing) [value]"].counts["positives"] == 30
    assert groups["(missing)"].counts["positives"] == 20
    assert any("text '(missing)' in 40 cells" in w for w in result.warnings)


def test_a_significant_gap_inside_the_four_fifths_bounds_is_never_called_no_significant_gap():
    """0.55 vs 0.60 approved on 5,000 rows each: ratio 0.92 (passes) with q < 0.001. The verdict says "passes
    four-fifths, but with a significant gap", so the finding must not say "No significant gap was found"."""
    from analysis.story import verdict_for

    n = 5000
    df = pd.DataFrame(
        {
            "g": ["a"] * n + ["b"] * n,
            "approved": ["Y"] * 3000 + ["N"] * 2000 + ["Y"] * 2750 + ["N"] * 2250,
        }
    )
    result = audit(df, AuditSpec(decision="approved", positive=("Y",), protected=("g",)))
    attribute = result.attributes["g"]
    assert verdict_for(result, "g").code == "significant_gap"
    quiet = [f for f in attribute.findings if f.kind == "no_gap" and f.metric == "disparate_impact"]
    assert len(quiet) == 1
    assert not quiet[0].text.startswith("No significant gap")
    assert "a smaller difference is significant (b vs a, q < 0.001)" in quiet[0].text
