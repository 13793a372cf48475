"""Deterministic generator of ParityLab's two synthetic sample datasets.

``loan_approvals.csv``
    A lender's decisions. Its model never sees ethnicity, but it penalises two
    regions where groups B and C mostly live, so approval is biased by ethnicity.
``support_tickets.csv``
    An AI triage queue. Its sentiment model reads non-English tickets as calmer than
    they are, so they get a lower priority for the same true urgency.

Run ``python sample_data/generate.py`` to rewrite both CSVs next to this file;
``--measure N`` prints the effects measured on an N-row run instead (this is how the
true sizes in ``DOCUMENTED_EFFECTS`` and the data card were obtained). Importing
this module has no side effects. The bytes are reproducible with the numpy and
pandas versions pinned in ``requirements.txt``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "DOCUMENTED_EFFECTS",
    "LOANS_FILE",
    "LOANS_SEED",
    "MEASUREMENT_ROWS",
    "MEASUREMENT_SEED",
    "TICKETS_FILE",
    "TICKETS_SEED",
    "generate_loans",
    "generate_tickets",
    "loan_effects",
    "measure",
    "ticket_effects",
    "to_csv_bytes",
    "write_samples",
]

LOANS_FILE = "loan_approvals.csv"
TICKETS_FILE = "support_tickets.csv"
LOANS_SEED = 20_250_601
TICKETS_SEED = 20_250_602
# The true sizes below were measured on runs of this size and seed (loans: seed,
# tickets: seed + 1), far from the seeds of the committed files.
MEASUREMENT_ROWS = 2_000_000
MEASUREMENT_SEED = 7_000_001

# True effect sizes of the generating process, measured as above and rounded to 3 decimals;
# the gender ratios are exactly 1 by construction. See README.md for definitions.
DOCUMENTED_EFFECTS: dict[str, dict[str, float]] = {
    "loans": {
        "approval_rate": 0.625,
        "approval_rate_ethnicity_A": 0.689,
        "approval_rate_ethnicity_B": 0.494,
        "approval_rate_ethnicity_C": 0.529,
        "approval_rate_ethnicity_D": 0.664,
        "disparate_impact_ethnicity_B_vs_A": 0.717,
        "disparate_impact_ethnicity_C_vs_A": 0.767,
        "disparate_impact_ethnicity_D_vs_A": 0.963,
        "repaid_rate_ethnicity_A": 0.611,
        "repaid_rate_ethnicity_B": 0.595,
        "tpr_ethnicity_A": 0.792,
        "tpr_ethnicity_B": 0.611,
        "tpr_gap_ethnicity_B_minus_A": -0.181,
        "disparate_impact_gender_Female_vs_Male": 1.000,
        "disparate_impact_gender_Non-binary_vs_Male": 1.000,
    },
    "tickets": {
        "p1p2_rate_English": 0.358,
        "p1p2_rate_Spanish": 0.273,
        "p1p2_rate_German": 0.275,
        "p1p2_rate_French": 0.274,
        "p1p2_rate_Portuguese": 0.267,
        "p1p2_rate_Japanese": 0.228,
        "p1p2_rate_non_English": 0.267,
        "p1p2_ratio_non_English_vs_English": 0.746,
        "urgent_share_English": 0.259,
        "urgent_share_non_English": 0.260,
        "urgent_p1p2_rate_English": 0.830,
        "urgent_p1p2_rate_non_English": 0.676,
        "urgent_p1p2_ratio_non_English_vs_English": 0.814,
    },
}

# --- loans --------------------------------------------------------------------------

GENDERS = ("Female", "Male", "Non-binary")
GENDER_SHARES = (0.49, 0.49, 0.02)
LOAN_GENDER_MISSING = 0.01
ETHNICITIES = ("A", "B", "C", "D")
ETHNICITY_SHARES = (0.60, 0.22, 0.12, 0.06)
LOAN_REGIONS = ("North", "South", "East", "West", "Central")
# Residential segregation: B and C live mostly in the two regions the lender penalises.
LOAN_REGION_SHARES = {
    "A": (0.30, 0.08, 0.08, 0.30, 0.24),
    "B": (0.08, 0.45, 0.30, 0.07, 0.10),
    "C": (0.10, 0.25, 0.40, 0.10, 0.15),
    "D": (0.25, 0.12, 0.10, 0.25, 0.28),
}
PENALISED_REGIONS = ("South", "East")
REGION_PENALTY = 0.58
# B and C applicants are a little younger, so they have shorter credit and job histories.
AGE_GAMMA_SCALE = {"A": 6.6, "B": 6.0, "C": 6.1, "D": 6.4}
EMPLOYMENT_MISSING = 0.03
# The lender fills a missing employment length with a fixed value, not the truth.
EMPLOYMENT_IMPUTED = 5.0
APPROVAL_THRESHOLD = 0.5
CREDIT_INTERCEPT = -0.4


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _draw(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """Draw one category code per row from a row-wise probability matrix."""
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative[:, -1] = 1.0
    return (rng.random(len(probabilities))[:, None] >= cumulative).sum(axis=1)


def _codes(rng: np.random.Generator, shares: Sequence[float], n_rows: int) -> np.ndarray:
    """Draw ``n_rows`` category codes with fixed ``shares``."""
    return _draw(rng, np.tile(shares, (n_rows, 1)))


def _codes_given(
    rng: np.random.Generator, parent: np.ndarray, table: dict[str, Sequence[float]], parents: Sequence[str]
) -> np.ndarray:
    """Draw one category code per row with shares that depend on the ``parent`` code."""
    return _draw(rng, np.array([table[name] for name in parents])[parent])


def _per_code(table: dict[str, float], categories: Sequence[str], codes: np.ndarray) -> np.ndarray:
    """Look up a number per row from a table keyed by category name."""
    return np.array([table[name] for name in categories])[codes]


def _labels(categories: Sequence[str], codes: np.ndarray) -> np.ndarray:
    return np.array(categories, dtype=object)[codes]


def _with_missing(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    """Blank out a random ``share`` of ``values`` (missing completely at random)."""
    values = values.copy()
    values[rng.random(len(values)) < share] = None
    return values


def _loan_people(rng: np.random.Generator, n_rows: int) -> dict[str, np.ndarray]:
    ethnicity = _codes(rng, ETHNICITY_SHARES, n_rows)
    region = _codes_given(rng, ethnicity, LOAN_REGION_SHARES, ETHNICITIES)
    gender = _labels(GENDERS, _codes(rng, GENDER_SHARES, n_rows))
    scale = _per_code(AGE_GAMMA_SCALE, ETHNICITIES, ethnicity)
    age = np.minimum(18 + np.floor(rng.gamma(3.2, scale)), 80).astype(int)
    return {
        "gender": _with_missing(rng, gender, LOAN_GENDER_MISSING),
        "age": age,
        "ethnicity": _labels(ETHNICITIES, ethnicity),
        "region": _labels(LOAN_REGIONS, region),
    }


def _loan_finances(rng: np.random.Generator, age: np.ndarray) -> dict[str, np.ndarray]:
    adult_years = age - 18 + rng.random(len(age))
    first_credit = rng.exponential(3.0, len(age))
    credit_history = np.round(np.clip(adult_years - first_credit, 0.0, None), 1)
    employment = np.round(adult_years * rng.beta(1.6, 3.2, len(age)), 1)
    career = 1.0 - np.exp(-adult_years / 12.0)
    log_income = np.log(32_000) + 0.6 * career + 0.012 * employment + rng.normal(0, 0.42, len(age))
    income = np.round(np.exp(log_income), -2).astype(int)
    debt_to_income = np.round(np.clip(rng.beta(2.2, 5.5, len(age)), 0.0, 0.95), 3)
    loan_amount = np.maximum(np.round(income * np.exp(rng.normal(np.log(0.35), 0.5, len(age))), -2), 1_000)
    return {
        "income": income,
        "credit_history_years": credit_history,
        "debt_to_income": debt_to_income,
        "loan_amount": loan_amount.astype(int),
        "employment_years": employment,
    }


def _creditworthiness(finances: dict[str, np.ndarray], employment: np.ndarray) -> np.ndarray:
    """Log-odds of repayment explained by the legitimate factors."""
    burden = np.log(finances["loan_amount"] / finances["income"] / 0.35)
    return (
        CREDIT_INTERCEPT
        + 0.9 * np.log(finances["income"] / 55_000)
        + 0.045 * np.minimum(finances["credit_history_years"], 20)
        - 3.0 * (finances["debt_to_income"] - 0.29)
        - 0.8 * burden
        + 0.05 * np.minimum(employment, 20)
    )


def generate_loans(n_rows: int = 20_000, *, seed: int = LOANS_SEED) -> pd.DataFrame:
    """Generate the loan-approval sample.

    Parameters
    ----------
    n_rows
        Number of applicants.
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same frame.

    Returns
    -------
    pandas.DataFrame
        One row per applicant, columns as in ``sample_data/README.md``.
    """
    rng = np.random.default_rng(seed)
    people = _loan_people(rng, n_rows)
    finances = _loan_finances(rng, people["age"])
    true_logit = _creditworthiness(finances, finances["employment_years"]) + rng.normal(0, 0.8, n_rows)
    # Repayment depends on creditworthiness only: no group, region or gender term.
    repaid = (rng.random(n_rows) < _sigmoid(true_logit)).astype(int)
    employment = np.where(rng.random(n_rows) < EMPLOYMENT_MISSING, np.nan, finances["employment_years"])
    observed = _creditworthiness(finances, np.nan_to_num(employment, nan=EMPLOYMENT_IMPUTED))
    penalty = REGION_PENALTY * np.isin(people["region"], PENALISED_REGIONS)
    # 0.85 shrinks the log-odds for the unobserved noise, so the score stays roughly calibrated.
    model_score = np.round(_sigmoid(0.85 * observed - penalty), 4)
    width = max(6, len(str(n_rows)))
    return pd.DataFrame(
        {
            "applicant_id": [f"A{i:0{width}d}" for i in range(1, n_rows + 1)],
            **people,
            **finances,
            "employment_years": employment,
            "model_score": model_score,
            # Exactly this rule, on the rounded score, so thresholds can be moved later.
            "approved": np.where(model_score >= APPROVAL_THRESHOLD, "Y", "N"),
            "repaid": repaid,
        }
    )


# --- tickets ------------------------------------------------------------------------

LANGUAGES = ("English", "Spanish", "German", "French", "Portuguese", "Japanese")
LANGUAGE_SHARES = (0.60, 0.14, 0.08, 0.07, 0.06, 0.05)
# "NAM", not "NA": pandas and most spreadsheet readers turn a bare "NA" into a missing value.
TICKET_REGIONS = ("NAM", "EMEA", "APAC", "LATAM")
TICKET_REGION_SHARES = {
    "English": (0.55, 0.30, 0.13, 0.02),
    "French": (0.12, 0.85, 0.03, 0.00),
    "German": (0.03, 0.95, 0.02, 0.00),
    "Japanese": (0.03, 0.02, 0.95, 0.00),
    "Portuguese": (0.02, 0.23, 0.00, 0.75),
    "Spanish": (0.25, 0.15, 0.00, 0.60),
}
# How strongly the sentiment model passes on real frustration (1 = as for English).
SENTIMENT_ATTENUATION = {
    "English": 1.0,
    "French": 0.67,
    "German": 0.67,
    "Japanese": 0.42,
    "Portuguese": 0.62,
    "Spanish": 0.67,
}
# ... and how much calmer than neutral it reads a non-English text.
SENTIMENT_CALM_SHIFT = 0.08
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_BAND_SHARES = (0.13, 0.27, 0.23, 0.17, 0.12, 0.08)
TICKET_GENDER_SHARES = (0.48, 0.49, 0.03)
TICKET_GENDER_MISSING = 0.04
PLAN_TIERS = ("Free", "Pro", "Enterprise")
PLAN_TIER_SHARES = (0.55, 0.35, 0.10)
CHANNELS = ("email", "chat", "phone", "web")
CHANNEL_SHARES = {
    "Enterprise": (0.30, 0.30, 0.30, 0.10),
    "Free": (0.35, 0.25, 0.05, 0.35),
    "Pro": (0.35, 0.35, 0.12, 0.18),
}
CATEGORIES = ("billing", "outage", "login", "bug", "how-to", "cancellation")
CATEGORY_SHARES = (0.20, 0.08, 0.17, 0.20, 0.25, 0.10)
CATEGORY_FRUSTRATION = {
    "billing": 0.3,
    "outage": 0.8,
    "login": 0.3,
    "bug": 0.2,
    "how-to": -0.4,
    "cancellation": 0.5,
}
CATEGORY_URGENCY = {
    "billing": 0.3,
    "outage": 2.2,
    "login": 0.5,
    "bug": 0.6,
    "how-to": -0.6,
    "cancellation": 0.4,
}
TIER_URGENCY = {"Free": -0.3, "Pro": 0.2, "Enterprise": 0.8}
# Cut points on the latent urgency (human review) and on priority_score (AI triage).
URGENCY_CUTS = (2.4, 1.4, 0.3)
PRIORITY_CUTS = (0.75, 0.55, 0.30)
PRIORITIES = ("P1", "P2", "P3", "P4")
ESCALATION_RATE = {"P1": 0.85, "P2": 0.50, "P3": 0.15, "P4": 0.05}
RESPONSE_HOURS = {"P1": 0.75, "P2": 3.0, "P3": 10.0, "P4": 26.0}
TIER_RESPONSE_FACTOR = {"Free": 1.6, "Pro": 1.0, "Enterprise": 0.5}


def _priority(values: np.ndarray, cuts: Sequence[float]) -> np.ndarray:
    """Map values to P1..P4 codes (0..3): P1 at or above the first cut, and so on down."""
    return (values[:, None] < np.array(cuts)).sum(axis=1)


def _ticket_people(rng: np.random.Generator, n_rows: int) -> dict[str, np.ndarray]:
    language = _codes(rng, LANGUAGE_SHARES, n_rows)
    region = _codes_given(rng, language, TICKET_REGION_SHARES, LANGUAGES)
    age_band = _codes(rng, AGE_BAND_SHARES, n_rows)
    gender = _labels(GENDERS, _codes(rng, TICKET_GENDER_SHARES, n_rows))
    return {
        "customer_language": language,
        "region": _labels(TICKET_REGIONS, region),
        "age_band": _labels(AGE_BANDS, age_band),
        "gender": _with_missing(rng, gender, TICKET_GENDER_MISSING),
    }


def _emails(rng: np.random.Generator, n_rows: int) -> list[str]:
    pool = max(100_000, 10 * n_rows)
    width = len(str(pool - 1))
    numbers = rng.choice(pool, size=n_rows, replace=False).tolist()
    domains = np.where(rng.random(n_rows) < 0.75, "example.com", "example.org").tolist()
    return [f"user{k:0{width}d}@{d}" for k, d in zip(numbers, domains, strict=True)]


def _ticket_needs(rng: np.random.Generator, n_rows: int) -> dict[str, np.ndarray]:
    """Plan, channel, issue, the customer's real frustration and the true urgency."""
    tier = _codes(rng, PLAN_TIER_SHARES, n_rows)
    channel = _codes_given(rng, tier, CHANNEL_SHARES, PLAN_TIERS)
    category = _codes(rng, CATEGORY_SHARES, n_rows)
    frustration = _per_code(CATEGORY_FRUSTRATION, CATEGORIES, category) + rng.normal(0, 1, n_rows)
    # True urgency is language-blind: category, tier and real frustration only.
    urgency = (
        _per_code(CATEGORY_URGENCY, CATEGORIES, category)
        + _per_code(TIER_URGENCY, PLAN_TIERS, tier)
        + 0.9 * frustration
        + rng.normal(0, 0.6, n_rows)
    )
    chat_or_phone = np.isin(channel, (CHANNELS.index("chat"), CHANNELS.index("phone")))
    log_length = np.log(380) + 0.25 * frustration - 0.6 * chat_or_phone + rng.normal(0, 0.6, n_rows)
    return {
        "plan_tier": tier,
        "channel": channel,
        "issue_category": category,
        "message_length": np.maximum(np.round(np.exp(log_length)), 15).astype(int),
        "frustration": frustration,
        "urgency": urgency,
    }


def _sentiment(rng: np.random.Generator, frustration: np.ndarray, language: np.ndarray) -> np.ndarray:
    """Model sentiment: faithful for English, attenuated and calmer for other languages."""
    attenuation = _per_code(SENTIMENT_ATTENUATION, LANGUAGES, language)
    shift = SENTIMENT_CALM_SHIFT * (language != LANGUAGES.index("English"))
    raw = attenuation * (-0.55 * frustration) + shift + rng.normal(0, 0.35, len(language))
    return np.round(np.tanh(raw), 3)


def _priority_score(needs: dict[str, np.ndarray], sentiment: np.ndarray) -> np.ndarray:
    """The triage model: category, tier, sentiment and length, never language."""
    logit = (
        -0.9
        + 0.9 * _per_code(CATEGORY_URGENCY, CATEGORIES, needs["issue_category"])
        + 0.9 * _per_code(TIER_URGENCY, PLAN_TIERS, needs["plan_tier"])
        - 2.4 * sentiment
        + 0.2 * np.log(needs["message_length"] / 380)
    )
    return np.round(_sigmoid(logit), 4)


def _ticket_handling(
    rng: np.random.Generator, ai_priority: np.ndarray, tier: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Escalation and first-response time, both driven by the AI priority and the plan."""
    enterprise = tier == PLAN_TIERS.index("Enterprise")
    escalation = np.minimum(_per_code(ESCALATION_RATE, PRIORITIES, ai_priority) + 0.1 * enterprise, 1.0)
    hours = (
        _per_code(RESPONSE_HOURS, PRIORITIES, ai_priority)
        * _per_code(TIER_RESPONSE_FACTOR, PLAN_TIERS, tier)
        * np.exp(rng.normal(0, 0.45, len(tier)))
    )
    escalated = np.where(rng.random(len(tier)) < escalation, "yes", "no")
    return escalated, np.maximum(np.round(hours, 2), 0.05)


def generate_tickets(n_rows: int = 30_000, *, seed: int = TICKETS_SEED) -> pd.DataFrame:
    """Generate the support-ticket triage sample.

    Parameters
    ----------
    n_rows
        Number of tickets.
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same frame.

    Returns
    -------
    pandas.DataFrame
        One row per ticket, columns as in ``sample_data/README.md``.
    """
    rng = np.random.default_rng(seed)
    people = _ticket_people(rng, n_rows)
    email = _emails(rng, n_rows)
    needs = _ticket_needs(rng, n_rows)
    sentiment = _sentiment(rng, needs["frustration"], people["customer_language"])
    priority_score = _priority_score(needs, sentiment)
    ai_priority = _priority(priority_score, PRIORITY_CUTS)
    escalated, hours = _ticket_handling(rng, ai_priority, needs["plan_tier"])
    width = max(6, len(str(n_rows)))
    return pd.DataFrame(
        {
            "ticket_id": [f"T-{i:0{width}d}" for i in range(1, n_rows + 1)],
            "customer_email": email,
            **people,
            "customer_language": _labels(LANGUAGES, people["customer_language"]),
            "plan_tier": _labels(PLAN_TIERS, needs["plan_tier"]),
            "channel": _labels(CHANNELS, needs["channel"]),
            "issue_category": _labels(CATEGORIES, needs["issue_category"]),
            "message_length": needs["message_length"],
            "sentiment": sentiment,
            "priority_score": priority_score,
            "ai_priority": _labels(PRIORITIES, ai_priority),
            "true_urgency": _labels(PRIORITIES, _priority(needs["urgency"], URGENCY_CUTS)),
            "escalated_to_human": escalated,
            "first_response_hours": hours,
        }
    )


# --- measurement --------------------------------------------------------------------


def loan_effects(loans: pd.DataFrame) -> dict[str, float]:
    """Measure the documented loan effects on a frame shaped like ``loan_approvals.csv``.

    Parameters
    ----------
    loans
        The loan sample, as generated or as read back from the CSV.

    Returns
    -------
    dict of str to float
        One value per key of ``DOCUMENTED_EFFECTS["loans"]``.
    """
    approved = loans["approved"].eq("Y")
    ethnicity, gender = loans["ethnicity"], loans["gender"]
    repaid = loans["repaid"].eq(1)
    rate = {g: approved[ethnicity.eq(g)].mean() for g in ETHNICITIES}
    tpr = {g: approved[ethnicity.eq(g) & repaid].mean() for g in ("A", "B")}
    gender_rate = {g: approved[gender.eq(g)].mean() for g in GENDERS}
    effects = {"approval_rate": approved.mean()}
    effects |= {f"approval_rate_ethnicity_{g}": rate[g] for g in ETHNICITIES}
    effects |= {f"disparate_impact_ethnicity_{g}_vs_A": rate[g] / rate["A"] for g in ("B", "C", "D")}
    effects |= {f"repaid_rate_ethnicity_{g}": repaid[ethnicity.eq(g)].mean() for g in ("A", "B")}
    effects |= {"tpr_ethnicity_A": tpr["A"], "tpr_ethnicity_B": tpr["B"]}
    effects["tpr_gap_ethnicity_B_minus_A"] = tpr["B"] - tpr["A"]
    for g in ("Female", "Non-binary"):
        effects[f"disparate_impact_gender_{g}_vs_Male"] = gender_rate[g] / gender_rate["Male"]
    return {key: float(value) for key, value in effects.items()}


def ticket_effects(tickets: pd.DataFrame) -> dict[str, float]:
    """Measure the documented ticket effects on a frame shaped like ``support_tickets.csv``.

    Parameters
    ----------
    tickets
        The ticket sample, as generated or as read back from the CSV.

    Returns
    -------
    dict of str to float
        One value per key of ``DOCUMENTED_EFFECTS["tickets"]``; "p1p2" is the share
        of tickets the AI triage put in P1 or P2.
    """
    high = tickets["ai_priority"].isin(("P1", "P2"))
    urgent = tickets["true_urgency"].isin(("P1", "P2"))
    language = tickets["customer_language"]
    english = language.eq("English")
    effects = {f"p1p2_rate_{lang}": high[language.eq(lang)].mean() for lang in LANGUAGES}
    effects["p1p2_rate_non_English"] = high[~english].mean()
    english_rate = effects["p1p2_rate_English"]
    effects["p1p2_ratio_non_English_vs_English"] = effects["p1p2_rate_non_English"] / english_rate
    effects["urgent_share_English"] = urgent[english].mean()
    effects["urgent_share_non_English"] = urgent[~english].mean()
    effects["urgent_p1p2_rate_English"] = high[urgent & english].mean()
    effects["urgent_p1p2_rate_non_English"] = high[urgent & ~english].mean()
    effects["urgent_p1p2_ratio_non_English_vs_English"] = (
        effects["urgent_p1p2_rate_non_English"] / effects["urgent_p1p2_rate_English"]
    )
    return {key: float(value) for key, value in effects.items()}


# --- writing ------------------------------------------------------------------------

# Fixed decimals per float column, so the CSV bytes do not depend on float repr.
FLOAT_DECIMALS = {
    "credit_history_years": 1,
    "debt_to_income": 3,
    "employment_years": 1,
    "model_score": 4,
    "sentiment": 3,
    "priority_score": 4,
    "first_response_hours": 2,
}


def _fixed(values: pd.Series, decimals: int) -> list[str]:
    # "+ 0.0" turns -0.0 into 0.0, so no "-0.000" appears.
    return ["" if np.isnan(v) else f"{v + 0.0:.{decimals}f}" for v in values]


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """Serialise a sample frame exactly as the committed CSVs are written.

    Parameters
    ----------
    frame
        A frame from ``generate_loans`` or ``generate_tickets``.

    Returns
    -------
    bytes
        UTF-8 CSV with a header, no index, "\\n" line ends and fixed float decimals.
    """
    fixed = {col: _fixed(frame[col], d) for col, d in FLOAT_DECIMALS.items() if col in frame}
    return frame.assign(**fixed).to_csv(index=False, lineterminator="\n").encode("utf-8")


def write_samples(directory: str | Path) -> list[Path]:
    """Write both sample CSVs, byte for byte as committed, into ``directory``.

    Parameters
    ----------
    directory
        An existing folder.

    Returns
    -------
    list of pathlib.Path
        The loan file, then the ticket file.
    """
    directory = Path(directory)
    frames = {LOANS_FILE: generate_loans(), TICKETS_FILE: generate_tickets()}
    for name, frame in frames.items():
        (directory / name).write_bytes(to_csv_bytes(frame))
    return [directory / name for name in frames]


def measure(n_rows: int = MEASUREMENT_ROWS, *, seed: int = MEASUREMENT_SEED) -> dict[str, dict[str, float]]:
    """Measure every documented effect on a fresh run of ``n_rows`` rows per dataset."""
    return {
        "loans": loan_effects(generate_loans(n_rows, seed=seed)),
        "tickets": ticket_effects(generate_tickets(n_rows, seed=seed + 1)),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Write the samples next to this file, or print a measurement run as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", type=int, metavar="N", help="print effects measured on N rows")
    args = parser.parse_args(argv)
    if args.measure is not None:
        rounded = {k: {e: round(v, 4) for e, v in d.items()} for k, d in measure(args.measure).items()}
        json.dump(rounded, sys.stdout, indent=2)
        print()
        return 0
    for path in write_samples(Path(__file__).resolve().parent):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
