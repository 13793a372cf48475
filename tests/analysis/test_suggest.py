from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import ProtectedAttribute, SpecError, load_table, suggest_roles, suggest_spec, validate_spec
from analysis.suggest import name_tokens, positive_values
from analysis.wording import Remedy

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


def test_loan_sample_roles():
    table = load_table(SAMPLES / "loan_approvals.csv")
    suggestion = suggest_roles(table.data)
    spec = suggestion.spec
    assert spec.decision == "approved"
    assert spec.positive == ("Y",)
    assert spec.positive_is_favorable is True
    assert spec.label == "repaid"
    assert spec.label_positive == (1,)
    assert spec.score == "model_score"
    assert spec.protected == (
        ProtectedAttribute("gender"),
        ProtectedAttribute("age", bins=(25, 40, 60)),
        ProtectedAttribute("ethnicity"),
    )
    assert spec.id_columns == ("applicant_id",)
    assert "region" in spec.features and "approved" not in spec.features
    assert suggestion.reason_of("approved") == "decision: name contains 'approved'; 2 values (Y, N)"
    assert suggestion.role_of("region") == "feature"
    assert validate_spec(table.data, spec).ok


def test_ticket_sample_roles():
    table = load_table(SAMPLES / "support_tickets.csv")
    suggestion = suggest_roles(table.data)
    spec = suggestion.spec
    assert spec.decision == "ai_priority"
    assert spec.positive == ("P1", "P2")
    assert spec.label == "true_urgency"
    assert spec.label_positive == ("P1", "P2")
    assert spec.score == "priority_score"
    assert spec.protected_columns == ("customer_language", "age_band", "gender")
    assert spec.pii_columns == ("customer_email",)
    assert spec.id_columns == ("ticket_id",)
    assert suggestion.role_of("customer_email") == "pii"
    assert "e-mail addresses" in suggestion.reason_of("customer_email")
    # what happens after the decision must not explain it
    assert suggestion.role_of("first_response_hours") == "unused"
    assert suggestion.role_of("escalated_to_human") == "unused"
    assert "first_response_hours" not in spec.features
    assert validate_spec(table.data, spec).ok


def test_pii_found_by_values_not_only_names():
    rng = np.random.default_rng(0)
    n = 300
    firsts = [
        "Anna",
        "Ben",
        "Carla",
        "Dev",
        "Emil",
        "Fatima",
        "Gus",
        "Hana",
        "Ivo",
        "Jin",
        "Kemal",
        "Lena",
        "Mona",
        "Nils",
        "Omar",
        "Pia",
        "Quinn",
        "Rosa",
        "Sami",
        "Tove",
    ]
    lasts = [
        "Smith",
        "Okafor",
        "Nguyen",
        "Garcia",
        "Kowalski",
        "Haddad",
        "Lee",
        "Brown",
        "Jensen",
        "Rossi",
        "Silva",
        "Tanaka",
        "Meyer",
        "Novak",
        "Khan",
        "Dubois",
        "Moreau",
        "Costa",
        "Berg",
        "Ito",
    ]
    names = [f"{f} {w}" for f in firsts for w in lasts]
    df = pd.DataFrame(
        {
            "col_a": rng.choice(names, n, replace=False),
            "contact": [f"+44 20 7946 {i:04d}" for i in range(n)],
            "addr": [f"{i + 1} High Street" for i in range(n)],
            "decision": rng.choice(["yes", "no"], n),
            "sex": rng.choice(["f", "m"], n),
        }
    )
    suggestion = suggest_roles(df)
    assert suggestion.role_of("col_a") == "pii"
    assert "personal names" in suggestion.reason_of("col_a")
    assert suggestion.role_of("contact") == "pii"
    assert "phone numbers" in suggestion.reason_of("contact")
    assert suggestion.role_of("addr") == "pii"
    assert "street addresses" in suggestion.reason_of("addr")
    assert suggestion.spec.positive == ("yes",)


def test_harmful_decision_is_marked_unfavourable():
    df = pd.DataFrame({"fraud_flag": ["1", "0"] * 50, "gender": ["f", "m"] * 50})
    suggestion = suggest_roles(df)
    assert suggestion.spec.decision == "fraud_flag"
    assert suggestion.spec.positive_is_favorable is False
    assert any("harms the person" in note for note in suggestion.notes)


def test_score_only_table_gets_a_threshold():
    df = pd.DataFrame({"risk_score": np.linspace(0, 1, 100), "race": ["a", "b"] * 50})
    spec = suggest_spec(df)
    assert spec.decision is None
    assert (spec.score, spec.threshold) == ("risk_score", 0.5)


def test_no_decision_or_score_raises_with_fix():
    df = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    assert suggest_roles(df).spec is None
    with pytest.raises(SpecError, match=r"No decision or score column was recognised") as raised:
        suggest_spec(df)
    assert raised.value.remedy == Remedy("decision", column="COLUMN")
    assert "--decision COLUMN" in raised.value.message_for("cli")
    assert "--decision" not in raised.value.message


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["Y", "N"], ["Y"]),
        (["0", "1"], ["1"]),
        (["False", "True"], ["True"]),
        (["P3", "P1", "P4", "P2"], ["P1", "P2"]),
        (["Low", "Medium", "High"], ["Medium", "High"]),
        (["red", "blue"], []),
    ],
)
def test_positive_values(values, expected):
    assert positive_values(values) == expected


def test_name_tokens():
    assert {"true", "urgency", "trueurgency"} <= name_tokens("TrueUrgency")
    assert {"ai", "priority"} <= name_tokens("ai_priority")
