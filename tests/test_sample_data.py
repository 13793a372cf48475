"""Tests of the sample datasets, their generator and their data card.

The bias checks recompute every documented effect here, independently of the
generator's own measurement code, with a standard error (delta method for ratios).
"""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data"
GENERATOR_PATH = SAMPLE_DIR / "generate.py"

LOAN_COLUMNS = [
    "applicant_id",
    "gender",
    "age",
    "ethnicity",
    "region",
    "income",
    "credit_history_years",
    "debt_to_income",
    "loan_amount",
    "employment_years",
    "model_score",
    "approved",
    "repaid",
]
TICKET_COLUMNS = [
    "ticket_id",
    "customer_email",
    "customer_language",
    "region",
    "age_band",
    "gender",
    "plan_tier",
    "channel",
    "issue_category",
    "message_length",
    "sentiment",
    "priority_score",
    "ai_priority",
    "true_urgency",
    "escalated_to_human",
    "first_response_hours",
]
GENDERS = {"Female", "Male", "Non-binary"}
PRIORITIES = {"P1", "P2", "P3", "P4"}
LANGUAGES = ["English", "Spanish", "German", "French", "Portuguese", "Japanese"]


def _load_generator():
    # By path, so sample_data/ needs no __init__.py and no sys.path entry.
    spec = importlib.util.spec_from_file_location("paritylab_sample_data_generate", GENERATOR_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load_generator()
DOCUMENTED = generate.DOCUMENTED_EFFECTS


@pytest.fixture(scope="module")
def loans() -> pd.DataFrame:
    return pd.read_csv(SAMPLE_DIR / "loan_approvals.csv")


@pytest.fixture(scope="module")
def tickets() -> pd.DataFrame:
    return pd.read_csv(SAMPLE_DIR / "support_tickets.csv")


@pytest.fixture(scope="module")
def committed(loans, tickets) -> dict[str, pd.DataFrame]:
    return {"loans": loans, "tickets": tickets}


# --- independent estimates with standard errors --------------------------------------


@dataclass(frozen=True)
class Estimate:
    value: float
    se: float


def _rate(events: pd.Series) -> Estimate:
    p = float(events.mean())
    return Estimate(p, math.sqrt(p * (1 - p) / len(events)))


def _ratio(numerator: Estimate, denominator: Estimate) -> Estimate:
    # Delta method on the log ratio; numerator and denominator come from disjoint rows.
    value = numerator.value / denominator.value
    relative = math.hypot(numerator.se / numerator.value, denominator.se / denominator.value)
    return Estimate(value, value * relative)


def _difference(a: Estimate, b: Estimate) -> Estimate:
    return Estimate(a.value - b.value, math.hypot(a.se, b.se))


def loan_estimates(df: pd.DataFrame) -> dict[str, Estimate]:
    approved, repaid, ethnicity = df["approved"].eq("Y"), df["repaid"].eq(1), df["ethnicity"]
    rate = {g: _rate(approved[ethnicity.eq(g)]) for g in "ABCD"}
    tpr = {g: _rate(approved[ethnicity.eq(g) & repaid]) for g in "AB"}
    by_gender = {g: _rate(approved[df["gender"].eq(g)]) for g in GENDERS}
    out = {"approval_rate": _rate(approved)}
    out |= {f"approval_rate_ethnicity_{g}": rate[g] for g in "ABCD"}
    out |= {f"disparate_impact_ethnicity_{g}_vs_A": _ratio(rate[g], rate["A"]) for g in "BCD"}
    out |= {f"repaid_rate_ethnicity_{g}": _rate(repaid[ethnicity.eq(g)]) for g in "AB"}
    out |= {f"tpr_ethnicity_{g}": tpr[g] for g in "AB"}
    out["tpr_gap_ethnicity_B_minus_A"] = _difference(tpr["B"], tpr["A"])
    for g in ("Female", "Non-binary"):
        out[f"disparate_impact_gender_{g}_vs_Male"] = _ratio(by_gender[g], by_gender["Male"])
    return out


def ticket_estimates(df: pd.DataFrame) -> dict[str, Estimate]:
    high = df["ai_priority"].isin(["P1", "P2"])
    urgent = df["true_urgency"].isin(["P1", "P2"])
    english = df["customer_language"].eq("English")
    out = {f"p1p2_rate_{lang}": _rate(high[df["customer_language"].eq(lang)]) for lang in LANGUAGES}
    out["p1p2_rate_non_English"] = _rate(high[~english])
    out["p1p2_ratio_non_English_vs_English"] = _ratio(out["p1p2_rate_non_English"], out["p1p2_rate_English"])
    out["urgent_share_English"] = _rate(urgent[english])
    out["urgent_share_non_English"] = _rate(urgent[~english])
    out["urgent_p1p2_rate_English"] = _rate(high[urgent & english])
    out["urgent_p1p2_rate_non_English"] = _rate(high[urgent & ~english])
    out["urgent_p1p2_ratio_non_English_vs_English"] = _ratio(
        out["urgent_p1p2_rate_non_English"], out["urgent_p1p2_rate_English"]
    )
    return out


ESTIMATORS = {"loans": loan_estimates, "tickets": ticket_estimates}
# Documented values are rounded to 3 decimals.
ROUNDING = 0.0005


# --- determinism and import -----------------------------------------------------------


@pytest.mark.slow
def test_generator_is_deterministic_and_matches_committed_files(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    generate.write_samples(first)
    generate.write_samples(second)
    for name in ("loan_approvals.csv", "support_tickets.csv"):
        committed_bytes = (SAMPLE_DIR / name).read_bytes()
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
        assert (first / name).read_bytes() == committed_bytes, f"{name} differs from a fresh generation"


def test_different_seeds_give_different_data():
    assert not generate.generate_loans(500, seed=1).equals(generate.generate_loans(500, seed=2))
    assert not generate.generate_tickets(500, seed=1).equals(generate.generate_tickets(500, seed=2))


def test_csv_bytes_are_utf8_with_unix_line_ends():
    for name in ("loan_approvals.csv", "support_tickets.csv"):
        data = (SAMPLE_DIR / name).read_bytes()
        assert b"\r" not in data
        assert data.endswith(b"\n")
        data.decode("utf-8")


@pytest.mark.slow
def test_import_has_no_side_effects_and_no_app_imports(tmp_path):
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('g', {str(GENERATOR_PATH)!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('streamlit', 'analysis')]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


# --- shape, columns and values --------------------------------------------------------


def test_loans_shape_columns_and_ids(loans):
    assert list(loans.columns) == LOAN_COLUMNS
    assert len(loans) == 20_000
    assert loans["applicant_id"].is_unique
    assert loans["applicant_id"].str.fullmatch(r"A\d{6}").all()


def test_tickets_shape_columns_ids_and_synthetic_emails(tickets):
    assert list(tickets.columns) == TICKET_COLUMNS
    assert len(tickets) == 30_000
    assert tickets["ticket_id"].is_unique
    assert tickets["ticket_id"].str.fullmatch(r"T-\d{6}").all()
    assert tickets["customer_email"].is_unique
    assert tickets["customer_email"].str.fullmatch(r"user\d{5,}@example\.(com|org)").all()


@pytest.mark.parametrize(
    ("dataset", "column", "allowed"),
    [
        ("loans", "gender", GENDERS),
        ("loans", "ethnicity", {"A", "B", "C", "D"}),
        ("loans", "region", {"North", "South", "East", "West", "Central"}),
        ("loans", "approved", {"Y", "N"}),
        ("loans", "repaid", {0, 1}),
        ("tickets", "customer_language", set(LANGUAGES)),
        ("tickets", "region", {"NAM", "EMEA", "APAC", "LATAM"}),
        ("tickets", "age_band", {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}),
        ("tickets", "gender", GENDERS),
        ("tickets", "plan_tier", {"Free", "Pro", "Enterprise"}),
        ("tickets", "channel", {"email", "chat", "phone", "web"}),
        ("tickets", "issue_category", {"billing", "outage", "login", "bug", "how-to", "cancellation"}),
        ("tickets", "ai_priority", PRIORITIES),
        ("tickets", "true_urgency", PRIORITIES),
        ("tickets", "escalated_to_human", {"yes", "no"}),
    ],
)
def test_categorical_columns_use_exactly_the_documented_values(committed, dataset, column, allowed):
    # Every value occurs, and nothing else does (missing cells aside).
    assert set(committed[dataset][column].dropna().unique()) == allowed


@pytest.mark.parametrize(
    ("dataset", "column", "low", "high"),
    [
        ("loans", "age", 18, 80),
        ("loans", "income", 1, None),
        ("loans", "credit_history_years", 0, None),
        ("loans", "debt_to_income", 0, 1),
        ("loans", "loan_amount", 1, None),
        ("loans", "employment_years", 0, None),
        ("loans", "model_score", 0, 1),
        ("tickets", "message_length", 1, None),
        ("tickets", "sentiment", -1, 1),
        ("tickets", "priority_score", 0, 1),
        ("tickets", "first_response_hours", 0.01, None),
    ],
)
def test_numeric_columns_lie_in_their_documented_range(committed, dataset, column, low, high):
    values = committed[dataset][column].dropna()
    assert values.between(low, high if high is not None else float("inf")).all()


@pytest.mark.parametrize(
    ("file", "column", "pattern"),
    [
        ("loan_approvals.csv", "age", r"\d+"),
        ("loan_approvals.csv", "income", r"\d+"),
        ("loan_approvals.csv", "loan_amount", r"\d+"),
        ("loan_approvals.csv", "credit_history_years", r"\d+\.\d"),
        ("loan_approvals.csv", "debt_to_income", r"0\.\d{3}"),
        ("loan_approvals.csv", "employment_years", r"\d+\.\d"),
        ("loan_approvals.csv", "model_score", r"0\.\d{4}"),
        ("support_tickets.csv", "message_length", r"\d+"),
        ("support_tickets.csv", "sentiment", r"(?!-0\.000)-?[01]\.\d{3}"),
        ("support_tickets.csv", "priority_score", r"0\.\d{4}"),
        ("support_tickets.csv", "first_response_hours", r"\d+\.\d{2}"),
    ],
)
def test_numbers_are_written_with_fixed_decimals(file, column, pattern):
    text = pd.read_csv(SAMPLE_DIR / file, dtype=str, keep_default_na=False, usecols=[column])[column]
    present = text[text != ""]
    assert present.str.fullmatch(pattern).all(), present[~present.str.fullmatch(pattern)].head()


@pytest.mark.parametrize(
    ("dataset", "column", "share"),
    [
        ("loans", "gender", generate.LOAN_GENDER_MISSING),
        ("loans", "employment_years", generate.EMPLOYMENT_MISSING),
        ("tickets", "gender", generate.TICKET_GENDER_MISSING),
    ],
)
def test_missing_share_is_as_documented(committed, dataset, column, share):
    missing = _rate(committed[dataset][column].isna())
    assert abs(missing.value - share) <= 3 * math.sqrt(share * (1 - share) / len(committed[dataset]))


@pytest.mark.parametrize("dataset", ["loans", "tickets"])
def test_only_the_documented_columns_have_missing_values(committed, dataset):
    expected = {"loans": {"gender", "employment_years"}, "tickets": {"gender"}}[dataset]
    df = committed[dataset]
    assert set(df.columns[df.isna().any()]) == expected


def test_approval_is_exactly_model_score_at_least_one_half(loans):
    assert (loans["approved"].eq("Y") == (loans["model_score"] >= 0.5)).all()


def test_ai_priority_follows_the_documented_cut_points(tickets):
    score = tickets["priority_score"]
    expected = pd.Series("P4", index=tickets.index)
    expected[score >= 0.30] = "P3"
    expected[score >= 0.55] = "P2"
    expected[score >= 0.75] = "P1"
    assert (tickets["ai_priority"] == expected).all()


def test_first_response_is_slower_for_lower_ai_priority(tickets):
    medians = tickets.groupby("ai_priority")["first_response_hours"].median()
    assert medians["P1"] < medians["P2"] < medians["P3"] < medians["P4"]


def test_region_penalty_moves_approvals_but_not_repayment(loans):
    penalized = loans["region"].isin(["South", "East"])
    approved, repaid = loans["approved"].eq("Y"), loans["repaid"]
    approval_gap = _difference(_rate(approved[~penalized]), _rate(approved[penalized]))
    repaid_gap = _difference(_rate(repaid[~penalized]), _rate(repaid[penalized]))
    assert approval_gap.value > 0.2
    # The only repayment difference is the small legitimate one (B and C are younger).
    assert abs(repaid_gap.value) < 0.01 + 3 * repaid_gap.se


# --- the injected bias has its documented size ----------------------------------------


@pytest.mark.parametrize("dataset", ["loans", "tickets"])
def test_every_documented_effect_is_checked(committed, dataset):
    assert set(ESTIMATORS[dataset](committed[dataset])) == set(DOCUMENTED[dataset])


@pytest.mark.parametrize("dataset", ["loans", "tickets"])
def test_committed_effects_are_within_three_standard_errors_of_documented(committed, dataset):
    estimates = ESTIMATORS[dataset](committed[dataset])
    far = {
        key: (round(est.value, 4), DOCUMENTED[dataset][key], round(est.se, 4))
        for key, est in estimates.items()
        if abs(est.value - DOCUMENTED[dataset][key]) > 3 * est.se + ROUNDING
    }
    assert not far, f"measured, documented, standard error: {far}"


def test_loans_fail_the_four_fifths_rule_for_ethnicity_but_not_gender(loans):
    est = loan_estimates(loans)
    assert 0.55 <= est["approval_rate"].value <= 0.65
    assert 0.65 <= est["disparate_impact_ethnicity_B_vs_A"].value < 0.8
    assert est["disparate_impact_ethnicity_C_vs_A"].value < 0.8
    assert est["disparate_impact_gender_Female_vs_Male"].value > 0.9
    assert est["tpr_gap_ethnicity_B_minus_A"].value < -0.1


def test_tickets_under_prioritize_non_english_with_equal_true_urgency(tickets):
    est = ticket_estimates(tickets)
    assert 0.65 <= est["p1p2_ratio_non_English_vs_English"].value <= 0.85
    assert est["urgent_p1p2_ratio_non_English_vs_English"].value < 0.9
    same_need = _difference(est["urgent_share_non_English"], est["urgent_share_English"])
    assert abs(same_need.value) < 3 * same_need.se


@pytest.mark.parametrize("dataset", ["loans", "tickets"])
def test_generator_measurement_agrees_with_independent_estimates(committed, dataset):
    measure = {"loans": generate.loan_effects, "tickets": generate.ticket_effects}[dataset]
    ours = {key: est.value for key, est in ESTIMATORS[dataset](committed[dataset]).items()}
    assert measure(committed[dataset]) == pytest.approx(ours, abs=1e-12)


@pytest.mark.slow
def test_large_run_reproduces_the_documented_true_effects():
    rows, seed = 400_000, 990_001
    frames = {
        "loans": generate.generate_loans(rows, seed=seed),
        "tickets": generate.generate_tickets(rows, seed=seed),
    }
    shrink = math.sqrt(rows / generate.MEASUREMENT_ROWS)
    far = {}
    for dataset, frame in frames.items():
        for key, est in ESTIMATORS[dataset](frame).items():
            # Both this run and the documenting run are noisy; the latter is 5x larger.
            tolerance = 4 * est.se * math.hypot(1, shrink) + ROUNDING
            if abs(est.value - DOCUMENTED[dataset][key]) > tolerance:
                far[key] = (round(est.value, 4), DOCUMENTED[dataset][key], round(tolerance, 4))
    assert not far, f"measured, documented, tolerance: {far}"


# --- the data card --------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["loans", "tickets"])
def test_data_card_states_true_and_committed_sizes(committed, dataset):
    card = (SAMPLE_DIR / "README.md").read_text(encoding="utf-8")
    estimates = ESTIMATORS[dataset](committed[dataset])
    missing = []
    for key, true_value in DOCUMENTED[dataset].items():
        row = rf"\|\s*`{re.escape(key)}`\s*\|\s*{true_value:.3f}\s*\|\s*{estimates[key].value:.3f}\b"
        if not re.search(row, card):
            missing.append(key)
    assert not missing, f"no table row '| `key` | true | committed ...' for {missing}"


def test_data_card_documents_every_column_and_regeneration():
    card = (SAMPLE_DIR / "README.md").read_text(encoding="utf-8")
    assert "python sample_data/generate.py" in card
    for column in LOAN_COLUMNS + TICKET_COLUMNS:
        assert re.search(rf"^\|\s*`{column}`\s*\|", card, flags=re.MULTILINE), column
