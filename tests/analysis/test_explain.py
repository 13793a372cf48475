import dataclasses
import io
import json
import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis import AuditSpec, ExplainError, ParityLabError, SpecError, explain, explain_row
from analysis.cli import main
from analysis.errors import OptionError
from analysis.explain import (
    MIN_SAMPLE_PER_GROUP,
    NO_FEATURES,
    PROXY_THRESHOLD,
    _check_target,
    _flip_shares,
    _stratified_sample,
)

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"
TOP_LEVEL_KEYS = {
    "model",
    "fidelity",
    "sample_size",
    "random_state",
    "global_importance",
    "by_group",
    "gap",
    "proxies",
    "recoverability",
    "flip_test",
}


def _load(name: str) -> pd.DataFrame:
    return analysis.load_table(SAMPLES / name).data


@pytest.fixture(scope="module")
def loans() -> pd.DataFrame:
    return _load("loan_approvals.csv")


@pytest.fixture(scope="module")
def tickets() -> pd.DataFrame:
    return _load("support_tickets.csv")


@pytest.fixture(scope="module")
def loan_decision(loans):
    """The loan decision (approved = Y) as target: the spec without its score."""
    spec = dataclasses.replace(analysis.suggest_spec(loans), score=None, label=None, label_positive=())
    return explain(loans, spec, sample_size=2000)


@pytest.fixture(scope="module")
def loan_score(loans):
    return explain(loans, analysis.suggest_spec(loans), sample_size=2000)


@pytest.fixture(scope="module")
def ticket_decision(tickets):
    """Tickets: decision ai_priority in P1/P2, customer language protected."""
    spec = AuditSpec(
        decision="ai_priority",
        positive=("P1", "P2"),
        protected=("customer_language",),
        features=("region", "plan_tier", "channel", "issue_category", "message_length", "sentiment"),
    )
    return explain(tickets, spec, sample_size=2000)


def _synthetic(n: int = 4000, *, seed: int = 1, direct: bool = True) -> pd.DataFrame:
    """Decisions that use group g directly (when ``direct``) and a numeric x; h is independent noise."""
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b"], n, p=[0.7, 0.3])
    x = rng.normal(size=n)
    logit = 1.5 * x + (np.where(g == "a", 1.5, -1.5) if direct else 0.0)
    decision = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "Y", "N")
    return pd.DataFrame({"g": g, "h": rng.choice(["p", "q"], n), "x": x, "z": rng.normal(size=n), "d": decision})


SYNTHETIC_SPEC = AuditSpec(decision="d", positive=("Y",), protected=("g",))


# --- SHAP values --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["loan_decision", "loan_score"])
def test_shap_values_plus_expected_value_equal_the_raw_output(name, loans, request):
    e = request.getfixturevalue(name)
    s = e.sample
    raw = e.surrogate.raw(loans.iloc[s.rows])
    assert s.shap.shape == (s.rows.size, len(e.model.features))
    np.testing.assert_allclose(s.shap.sum(axis=1) + s.expected_value, raw, atol=1e-6, rtol=0)
    np.testing.assert_allclose(s.raw_output, raw, atol=1e-6, rtol=0)


@pytest.mark.slow
def test_lightgbm_contributions_agree_with_shap_tree_explainer(loan_decision, loans):
    shap = pytest.importorskip("shap")
    e = loan_decision
    rows = e.sample.rows[:300]
    explainer = shap.TreeExplainer(e.surrogate.model, feature_perturbation="tree_path_dependent")
    values = np.asarray(explainer.shap_values(e.surrogate.prep.frame(loans.iloc[rows])))
    values = values[-1] if values.ndim == 3 else values
    np.testing.assert_allclose(values, e.sample.shap[:300], atol=1e-6, rtol=0)
    expected = np.ravel(explainer.expected_value)[-1]
    assert expected == pytest.approx(e.sample.expected_value, abs=1e-6)


def test_global_importance_is_descending_mean_absolute_shap(loan_decision):
    values = [f.mean_abs_shap for f in loan_decision.global_importance]
    assert values == sorted(values, reverse=True)
    uniform = loan_decision.sample.uniform
    j = loan_decision.model.features.index(loan_decision.global_importance[0].feature)
    assert values[0] == pytest.approx(np.abs(loan_decision.sample.shap[uniform, j]).mean())


# --- by group, gap -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["loan_decision", "loan_score", "ticket_decision"])
def test_gap_contributions_sum_to_the_gap_between_mean_outputs(name, request):
    e = request.getfixturevalue(name)
    s = e.sample
    checked = 0
    for attr, groups in e.gap.items():
        labels = np.array(s.groups[attr])
        for group, gap in groups.items():
            parts = sum(v for _, v in gap.contributions)
            assert parts == pytest.approx(gap.total, abs=1e-9)
            expected = s.raw_output[labels == group].mean() - s.raw_output[labels == gap.reference].mean()
            assert gap.total == pytest.approx(expected, abs=1e-9)
            magnitudes = [abs(v) for _, v in gap.contributions]
            assert magnitudes == sorted(magnitudes, reverse=True)
            checked += 1
    assert checked >= 3


def test_by_group_is_the_mean_shap_of_the_group(loan_decision):
    s = loan_decision.sample
    labels = np.array(s.groups["ethnicity"])
    j = loan_decision.model.features.index("region")
    expected = s.shap[labels == "B", j].mean()
    assert loan_decision.by_group["ethnicity"]["B"]["region"] == pytest.approx(expected)


@pytest.mark.parametrize("name", ["loan_decision", "loan_score"])
def test_loans_region_is_the_proxy_of_ethnicity_and_leads_the_gap_for_b(name, request):
    e = request.getfixturevalue(name)
    assert e.reference["ethnicity"] == "A"
    top = e.proxies["ethnicity"][0]
    assert (top.feature, top.flag) == ("region", True)
    assert all(not p.flag for p in e.proxies["ethnicity"][1:])
    gap = e.gap["ethnicity"]["B"]
    assert gap.reference == "A"
    assert gap.contributions[0][0] == "region"
    assert gap.total < 0 and gap.contributions[0][1] < 0
    assert "between ethnicity = B and A" in gap.sentence and "comes from region" in gap.sentence
    assert e.recoverability["ethnicity"].flag is True
    assert e.recoverability["gender"].flag is False


def test_loan_decision_gap_is_in_log_odds_and_probability(loan_decision):
    gap = loan_decision.gap["ethnicity"]["B"]
    assert loan_decision.model.units == "log-odds"
    assert -1 < gap.total_probability < 0
    assert "log-odds gap" in gap.sentence


def test_tickets_sentiment_leads_the_gap_for_every_non_english_language(ticket_decision):
    e = ticket_decision
    assert e.reference["customer_language"] == "English"
    gaps = e.gap["customer_language"]
    assert set(gaps) == {"Spanish", "German", "French", "Portuguese", "Japanese"}
    for gap in gaps.values():
        assert gap.contributions[0][0] == "sentiment"
        assert gap.contributions[0][1] < 0
    assert e.proxies["customer_language"][0].feature == "region"


def test_fidelity_is_reported_and_high_for_the_samples(loan_decision, loan_score):
    f = loan_decision.fidelity
    assert f.accuracy > 0.9 and f.auc > 0.9 and f.r2 is None and not f.low
    assert "accuracy" in f.message and "describe the surrogate" not in f.message
    assert loan_score.fidelity.r2 > 0.9 and loan_score.fidelity.accuracy is None


def test_low_fidelity_says_the_explanations_describe_the_surrogate():
    rng = np.random.default_rng(3)
    df = _synthetic(1000)
    df["d"] = np.where(rng.random(len(df)) < 0.5, "Y", "N")  # pure noise: no model can reproduce it
    e = explain(df, SYNTHETIC_SPEC, sample_size=200)
    assert e.fidelity.low is True
    assert "describe the surrogate model, not the real decision process" in e.fidelity.message


# --- flip test ------------------------------------------------------------------------------------


def test_flip_test_is_none_unless_protected_attributes_are_included():
    e = explain(_synthetic(), SYNTHETIC_SPEC, sample_size=300)
    assert e.flip_test is None and "g" not in e.model.features


def test_flip_test_changes_decisions_when_the_data_uses_the_attribute_directly():
    e = explain(_synthetic(), SYNTHETIC_SPEC, sample_size=300, include_protected=True)
    assert "g" in e.model.features
    assert e.reference["g"] == "a"
    assert e.flip_test["g"]["a"] == 0.0
    assert e.flip_test["g"]["b"] > 0.2


def test_flip_test_changes_nothing_when_the_surrogate_cannot_see_the_attribute():
    df = _synthetic()
    e = explain(df, SYNTHETIC_SPEC, sample_size=300)
    codes = (df["g"] == "b").to_numpy().astype(np.int64)
    shares = _flip_shares(e.surrogate, df, "g", "a", codes, ("a", "b"))
    assert shares == {"a": 0.0, "b": 0.0}


# --- sampling, determinism ------------------------------------------------------------------------------


def test_stratified_sample_keeps_every_group_with_its_minimum():
    rng = np.random.default_rng(0)
    codes = np.repeat([0, 1, 2], [19_800, 150, 50])
    rng.shuffle(codes)
    other = rng.integers(0, 2, codes.size)
    rows, uniform = _stratified_sample(codes.size, [codes, other], 500, np.random.default_rng(1))
    counts = np.bincount(codes[rows], minlength=3)
    assert counts[1] >= MIN_SAMPLE_PER_GROUP and counts[2] == 50
    assert uniform.sum() == 500 and rows.size == np.unique(rows).size
    assert np.all(np.diff(rows) > 0)


def test_explanation_sample_keeps_small_groups(loans):
    spec = analysis.suggest_spec(loans)
    e = explain(loans, dataclasses.replace(spec, score=None), sample_size=300)
    sizes = pd.Series(e.sample.groups["gender"]).value_counts()
    assert sizes["Non-binary"] >= MIN_SAMPLE_PER_GROUP
    assert sizes["(missing)"] >= min(MIN_SAMPLE_PER_GROUP, int(loans["gender"].isna().sum()))
    assert e.sample_size == 300 and e.sample.rows.size > 300


def test_same_seed_gives_the_same_result():
    df = _synthetic(2000)
    first = explain(df, SYNTHETIC_SPEC, sample_size=300, include_protected=True, random_state=5)
    second = explain(df, SYNTHETIC_SPEC, sample_size=300, include_protected=True, random_state=5)
    assert json.dumps(first.to_dict()) == json.dumps(second.to_dict())
    np.testing.assert_array_equal(first.sample.rows, second.sample.rows)


# --- contract -----------------------------------------------------------------------------------------------


def _numbers(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)
    elif isinstance(value, float):
        yield value


def test_to_dict_is_json_safe_with_the_fixed_names(loan_decision):
    d = loan_decision.to_dict()
    assert set(d) >= TOP_LEVEL_KEYS
    text = json.dumps(d, allow_nan=False)
    assert all(math.isfinite(x) for x in _numbers(json.loads(text)))
    assert d["model"]["kind"] == "lightgbm" and d["model"]["target"] == "decision"
    assert {"accuracy", "auc", "r2"} <= set(d["fidelity"]) and d["fidelity"]["r2"] is None
    assert d["sample_size"] == 2000 and d["random_state"] == 0
    assert set(d["global_importance"][0]) == {"feature", "mean_abs_shap"}
    assert set(d["by_group"]["ethnicity"]["B"]) == set(d["model"]["features"])
    gap = d["gap"]["ethnicity"]["B"]
    assert {"total", "contributions", "reference", "total_probability", "sentence"} <= set(gap)
    assert set(gap["contributions"][0]) == {"feature", "value"}
    assert set(d["proxies"]["ethnicity"][0]) == {"feature", "score", "flag"}
    assert d["proxies"]["ethnicity"][0]["score"] >= PROXY_THRESHOLD
    assert {"score", "metric", "flag", "sentence"} <= set(d["recoverability"]["ethnicity"])
    assert d["flip_test"] is None


def test_undefined_numbers_become_null():
    e = explain(_synthetic(), SYNTHETIC_SPEC, sample_size=200)
    nan_fidelity = dataclasses.replace(e.fidelity, auc=float("nan"))
    assert dataclasses.replace(e, fidelity=nan_fidelity).to_dict()["fidelity"]["auc"] is None


def test_explanation_pickles_and_explains_rows_after_a_round_trip(loan_decision, loans):
    e = pickle.loads(pickle.dumps(loan_decision))
    declined = int(np.flatnonzero(loans["approved"].to_numpy() == "N")[0])
    local = explain_row(e, loans, declined)
    assert local.row == declined
    assert sum(s for _, _, s in local.contributions) + local.base_value == pytest.approx(local.output, abs=1e-6)
    assert local.probability == pytest.approx(1 / (1 + math.exp(-local.output)))
    assert [abs(s) for _, _, s in local.contributions] == sorted(
        (abs(s) for _, _, s in local.contributions), reverse=True
    )
    assert local.sentence.startswith("This row's predicted chance of being approved is")
    assert "largest push down" in local.sentence
    json.dumps(local.to_dict(), allow_nan=False)


def test_explain_row_of_a_score_surrogate_has_no_probability(loan_score, loans):
    local = explain_row(loan_score, loans, 0)
    assert local.probability is None and "predicted score" in local.sentence


# --- bad input ------------------------------------------------------------------------------------------------


def test_no_feature_columns_is_refused():
    df = _synthetic(200)[["g", "d"]]
    with pytest.raises(ExplainError, match="Expected at least one feature column"):
        explain(df, SYNTHETIC_SPEC)


def test_constant_and_all_missing_features_are_left_out_with_a_note():
    df = _synthetic(1000)
    df["one"] = 7
    df["empty"] = np.nan
    e = explain(df, SYNTHETIC_SPEC, sample_size=200)
    assert "one" not in e.model.features and "empty" not in e.model.features
    notes = " ".join(e.model.notes)
    assert "Feature 'one' was left out: it has a single value ('7')" in notes
    assert "Feature 'empty' was left out: every value is missing" in notes


def test_any_column_name_works_as_a_feature():
    df = _synthetic(600).rename(columns={"x": 'loan, amount: {"$"} [k]', "z": "naïve score"})
    e = explain(df, SYNTHETIC_SPEC, sample_size=100)
    assert e.global_importance[0].feature == 'loan, amount: {"$"} [k]'
    assert explain_row(e, df, 0).contributions[0][0] in e.model.features


def test_only_unusable_features_is_refused_with_the_reasons():
    df = _synthetic(200)[["g", "d"]].assign(one="same", empty=np.nan)
    with pytest.raises(ExplainError, match="after leaving out: Feature 'one'"):
        explain(df, SYNTHETIC_SPEC)


def test_a_decision_with_one_class_is_refused():
    with pytest.raises(ExplainError, match="got only negative decisions"):
        _check_target("decision", np.zeros(100, dtype=bool), SYNTHETIC_SPEC)
    df = _synthetic(200).assign(d="Y")
    with pytest.raises(ParityLabError, match="positive"):
        explain(df, SYNTHETIC_SPEC)


def test_a_constant_score_is_refused():
    df = _synthetic(200).assign(s=0.5)
    spec = AuditSpec(score="s", threshold=0.4, protected=("g",), features=("x", "z"))
    with pytest.raises(ParityLabError, match="score"):
        explain(df, spec)


def test_too_few_rows_is_refused():
    with pytest.raises(ExplainError, match=r"at least 50 rows with a decision.*got 40"):
        explain(_synthetic(40), SYNTHETIC_SPEC)


def test_a_spec_that_does_not_fit_is_a_spec_error():
    with pytest.raises(SpecError, match="not in the table"):
        explain(_synthetic(200), AuditSpec(decision="nope", positive=("Y",), protected=("g",)))


@pytest.mark.parametrize(
    ("options", "match"),
    [({"sample_size": 0}, "sample_size"), ({"sample_size": 2.5}, "sample_size"), ({"random_state": -1}, "random")],
)
def test_bad_options_are_refused(options, match):
    with pytest.raises(OptionError, match=match):
        explain(_synthetic(200), SYNTHETIC_SPEC, **options)


def test_explain_row_refuses_a_row_outside_the_table(loan_decision, loans):
    with pytest.raises(ExplainError, match="between 0 and 19999"):
        explain_row(loan_decision, loans, len(loans))
    with pytest.raises(ExplainError, match="lacks the feature column"):
        explain_row(loan_decision, loans.drop(columns="region"), 0)


def test_no_features_message_has_expected_got_fix():
    text = NO_FEATURES.format(dropped="")
    assert "Expected" in text and "got none" in text and "List the columns" in text


# --- CLI and imports ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ticket_spec_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "tickets.json"
    AuditSpec(
        decision="ai_priority",
        positive=("P1", "P2"),
        protected=("customer_language",),
        features=("region", "plan_tier", "issue_category", "sentiment"),
    ).save(path)
    return path


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    return main(argv, stdout=out, stderr=err), out.getvalue(), err.getvalue()


def test_cli_explain_prints_json(ticket_spec_file):
    data = str(SAMPLES / "support_tickets.csv")
    code, out, err = _run(["explain", data, "--spec", str(ticket_spec_file), "--sample-size", "500", "--json", "-"])
    assert code == 0, err
    result = json.loads(out)
    assert set(result) >= TOP_LEVEL_KEYS
    assert result["sample_size"] == 500 and result["model"]["target"] == "decision"
    assert result["gap"]["customer_language"]["Japanese"]["contributions"][0]["feature"] == "sentiment"
    assert result["load"]["rows"] == 30_000 and result["load"]["changes"][0]["column"] == "gender"
    assert "note: support_tickets.csv: Treated 1,143 cells of 'gender' as missing" in err


def test_cli_explain_prints_a_summary(ticket_spec_file):
    data = str(SAMPLES / "support_tickets.csv")
    code, out, _ = _run(["explain", data, "--spec", str(ticket_spec_file), "--sample-size", "300"])
    assert code == 0
    assert "reproduces the real decisions" in out and "Top drivers" in out
    assert "gap between customer_language" in out and "Strongest proxy: region" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["explain", str(SAMPLES / "support_tickets.csv")],
        ["explain", str(SAMPLES / "support_tickets.csv"), "--spec", "/nonexistent/spec.json"],
        ["explain", str(SAMPLES / "support_tickets.csv"), "--spec", "SPEC", "--sample-size", "0"],
    ],
)
def test_cli_explain_bad_input_exits_2_with_nothing_on_stdout(argv, ticket_spec_file):
    argv = [str(ticket_spec_file) if a == "SPEC" else a for a in argv]
    code, out, err = _run(argv)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1].startswith("error: ")  # after the loader's notes, if the data was read


def test_importing_the_engine_loads_no_model_library():
    code = "import sys, analysis; print([m for m in ('lightgbm', 'shap', 'sklearn') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_merged_spelling_variants_explain_like_the_table_fixed_by_hand():
    clean = _synthetic(2000)
    messy = clean.copy()
    messy.loc[::9, "g"] = messy.loc[::9, "g"].str.upper()  # 'A', 'B' in a ninth of rows
    messy.loc[1::11, "d"] = messy.loc[1::11, "d"] + "\u200b"
    spec = dataclasses.replace(SYNTHETIC_SPEC, merge_variants=True)
    merged, expected = explain(messy, spec, sample_size=500), explain(clean, SYNTHETIC_SPEC, sample_size=500)
    assert set(merged.by_group["g"]) == {"a", "b"}
    assert merged.model.n_rows == expected.model.n_rows
    assert np.allclose(merged.sample.shap, expected.sample.shap)
    apart = explain(messy, SYNTHETIC_SPEC, sample_size=500)
    assert set(apart.by_group["g"]) == {"a", "b", "A", "B"}


# --- the stages ------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("include_protected", [False, True])
def test_the_stages_run_one_by_one_with_progress_give_explains_result(loans, include_protected):
    from analysis.explain import explain_flips, explain_proxies, explain_shap, explain_surrogate, explanation_from

    spec = dataclasses.replace(analysis.suggest_spec(loans), score=None, label=None, label_positive=())
    whole = explain(loans, spec, sample_size=1500, include_protected=include_protected)
    seen: dict[str, list] = {"fit": [], "shap": [], "proxies": [], "flips": []}
    stage = explain_surrogate(
        loans, spec, include_protected=include_protected, progress=lambda d, t: seen["fit"].append((d, t))
    )
    shap = explain_shap(stage, sample_size=1500, progress=lambda d, t: seen["shap"].append((d, t)))
    first = explanation_from(stage, shap)  # the page's first views: no proxies yet
    assert first.proxies == {} and first.recoverability == {}
    proxies = explain_proxies(stage, shap, progress=lambda d, t: seen["proxies"].append((d, t)))
    flips = explain_flips(stage, progress=lambda d, t: seen["flips"].append((d, t)))
    staged = explanation_from(stage, shap, proxies, flips)
    assert json.dumps(staged.to_dict(), sort_keys=True) == json.dumps(whole.to_dict(), sort_keys=True)
    # Chunked SHAP values (the progress path) are the same numbers, and still add up to the raw output.
    np.testing.assert_array_equal(staged.sample.shap, whole.sample.shap)
    np.testing.assert_allclose(
        staged.sample.shap.sum(axis=1) + staged.sample.expected_value, staged.sample.raw_output, atol=1e-12
    )
    rows = whole.sample.rows.size
    assert seen["fit"][0] == (1, 100) and seen["fit"][-1] == (100, 100)
    assert seen["shap"][0] == (250, rows) and seen["shap"][-1] == (rows, rows)
    assert seen["proxies"] == [(1, 3), (2, 3), (3, 3)]
    assert seen["flips"] == ([(1, 3), (2, 3), (3, 3)] if include_protected else [])
    assert (whole.flip_test is not None) == include_protected


def test_estimates_scale_with_the_measured_fit(loan_decision, loans):
    from analysis.explain import estimate_seconds, explain_surrogate, proxy_units

    spec = dataclasses.replace(analysis.suggest_spec(loans), score=None, label=None, label_positive=())
    stage = explain_surrogate(loans, spec)
    assert stage.seconds > 0 and stage.fit_units == stage.model.n_train * len(stage.model.features) * 100
    # Multiclass fits (more than two groups) grow with the classes.
    rows, features = min(len(loans), 20_000) * 0.75, len(stage.model.features) - 1
    classes = sum(len(g.labels) if len(g.labels) > 2 else 1 for g in stage.groupings)
    assert classes >= 3 * 3
    assert proxy_units(stage) == pytest.approx(rows * features * 30 * classes)
    assert estimate_seconds(stage, "proxies") == pytest.approx(stage.seconds / stage.fit_units * proxy_units(stage))
    assert estimate_seconds(stage, "flip") == pytest.approx(2 * len(loans) * 3 * stage.predict_seconds_per_row)


def test_group_sizes_are_the_audits_and_small_groups_are_too_small(loan_decision, loans):
    audit = analysis.audit(loans, dataclasses.replace(analysis.suggest_spec(loans), score=None))
    for name, attribute in audit.attributes.items():
        expected = {g: m.n for g, m in attribute.groups.items()}
        assert {g: n for g, n in loan_decision.group_sizes[name].items() if g in expected} == expected
    sizes = loan_decision.group_sizes["gender"]
    assert loan_decision.min_group_size == 30
    assert [g for g in sizes if loan_decision.too_small("gender", g)] == [g for g, n in sizes.items() if n < 30]
    assert loan_decision.to_dict()["group_sizes"] == loan_decision.group_sizes
