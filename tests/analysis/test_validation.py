import re

import numpy as np
import pandas as pd
import pytest

from analysis import AuditSpec, SpecError, validate_spec
from analysis.wording import Remedy


@pytest.fixture
def loans() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 400
    return pd.DataFrame(
        {
            "applicant_id": [f"A{i:04d}" for i in range(n)],
            "gender": rng.choice(["Female", "Male"], n).astype(object),
            "age": rng.integers(18, 80, n),
            "country": rng.choice(["NA", "ZA", "BW", "LS"], n, p=[0.4, 0.4, 0.15, 0.05]),
            "income": rng.normal(50_000, 10_000, n).round(),
            "model_score": rng.random(n).round(4),
            "approved": rng.choice(["Y", "N"], n),
            "repaid": rng.integers(0, 2, n),
        }
    )


def spec(**changes) -> AuditSpec:
    base = {"decision": "approved", "positive": ["Y"], "protected": ["gender"]}
    return AuditSpec.from_dict({**base, **changes})


def messages(result) -> list[str]:
    return [p.text for p in result.problems]


def test_a_good_spec_has_no_problems(loans):
    result = validate_spec(loans, spec(label="repaid", label_positive=[1], score="model_score"))
    assert result.ok
    assert result.problems == ()
    assert sum(result.group_sizes["gender"].values()) == 400


def test_every_problem_is_reported_at_once(loans):
    result = validate_spec(
        loans,
        spec(decision="aproved", label="repaid", label_positive=["yes"], protected=["gendr", "age"], score="gender"),
    )
    texts = messages(result)
    assert not result.ok
    assert any("The decision column 'aproved' is not in the table (did you mean 'approved'?)" in t for t in texts)
    assert any(
        "The protected attribute column 'gendr' is not in the table (did you mean 'gender'?)" in t for t in texts
    )
    assert any("Column 'repaid' has no value 'yes'" in t and "its values are" in t for t in texts)
    assert any("The score column 'gender' must hold numbers, but it has text such as" in t for t in texts)
    assert any("Protected attribute 'age' has 62 distinct values" in t and "set the bins of 'age'" in t for t in texts)
    (levels,) = [p for p in result.errors if "62 distinct values" in p.message]
    assert "--" not in levels.message + levels.fix  # neutral words; the surface names its own option
    assert re.search(r"Bin it into ranges \(or quantiles\)\. To fix it, pass --bins age=31,46,62\.25\.$",
                     levels.text_for("cli"))  # fmt: skip
    assert re.search(r"e\.g\. bins=\[31, 46, 62\.25\]\)\.$", levels.text)
    with pytest.raises(SpecError) as info:
        result.raise_for_errors()
    assert len(info.value.problems) == len(result.errors) >= 5


def test_positive_values_close_match_and_trimmed_values_just_work():
    df = pd.DataFrame({"income": [">50K", "<=50K"] * 40, "sex": ["Male", "Female"] * 40})
    assert validate_spec(df, spec(decision="income", positive=[" >50K"], protected=["sex"])).ok
    result = validate_spec(df, spec(decision="income", positive=[">50k"], protected=["sex"]))
    assert "Column 'income' has no value '>50k' (did you mean '>50K'?)" in result.errors[0].message


def test_missing_positive_set_names_the_values_and_the_option(loans):
    result = validate_spec(loans, spec(positive=[]))
    (problem,) = result.errors
    most_common, other = loans["approved"].value_counts().index
    assert problem.message == (
        f"Column 'approved' has values ['{most_common}', '{other}']; "
        "the spec does not say which of them mean the positive decision."
    )
    assert problem.fix == "Choose which values mean the positive decision."
    assert problem.remedy == Remedy("positive", most_common, column="approved")
    assert problem.text_for("cli").endswith(f"decision. To fix it, pass --positive {most_common}.")
    assert problem.text.endswith(f"decision. To fix it, set positive=['{most_common}'].")
    label = validate_spec(loans, spec(label="repaid", label_positive=[])).errors[0]
    assert label.remedy.option == "label_positive" and "pass --label-positive " in label.text_for("cli")


def test_multi_valued_decision_without_positive_set():
    df = pd.DataFrame({"ai_priority": ["P1", "P2", "P3", "P4"] * 20, "language": ["en", "de"] * 40})
    result = validate_spec(df, spec(decision="ai_priority", positive=[], protected=["language"]))
    assert "values ['P1', 'P2', 'P3', 'P4']" in result.errors[0].message


def test_all_values_positive_is_an_error(loans):
    result = validate_spec(loans, spec(positive=["Y", "N"]))
    assert "every row would be positive" in result.errors[0].message


def test_score_passed_as_decision_is_caught(loans):
    result = validate_spec(loans, spec(decision="model_score", positive=[1]))
    assert "it looks like a score, not a decision" in result.errors[0].message
    assert result.errors[0].fix == "Use it as the score with a threshold (e.g. 0.5), or pick the decision column."
    assert result.errors[0].text_for("cli").endswith("To fix it, pass --score model_score.")


def test_score_without_decision_needs_threshold(loans):
    result = validate_spec(loans, AuditSpec(score="model_score", protected=["gender"]))
    assert [p.field for p in result.errors] == ["threshold"]
    assert result.errors[0].text_for("cli").endswith("count as positive decisions. To fix it, pass --threshold 0.5.")
    outside = validate_spec(loans, AuditSpec(score="model_score", threshold=3, protected=["gender"]))
    assert outside.ok
    assert "lies outside the scores' range" in outside.warnings[0].message


def test_binned_age_and_numeric_levels(loans):
    result = validate_spec(loans, spec(protected=[{"column": "age", "bins": [25, 40, 60]}]))
    assert result.ok
    assert list(result.group_sizes["age"]) == ["<25", "25–40", "40–60", "≥60"]
    bad = validate_spec(loans, spec(protected=[{"column": "gender", "bins": [1]}]))
    assert "bins apply to numeric columns only" in bad.errors[0].message


def test_missing_protected_values_become_a_group_and_small_groups_warn(loans):
    loans.loc[:9, "gender"] = None
    result = validate_spec(loans, spec(protected=["gender", "country"]))
    assert result.ok
    texts = messages(result)
    assert any("'gender' has 10 missing values; they form an explicit '(missing)' group" in t for t in texts)
    assert result.group_sizes["gender"]["(missing)"] == 10
    assert any("groups under 30 rows: (missing) (n=10)" in t for t in texts)
    assert any("'country' has groups under 30 rows: LS (n=" in t for t in texts)
    # 'NA' is a real country code here, and a group of its own
    assert result.group_sizes["country"]["NA"] > 100


def test_reference_group_must_exist(loans):
    result = validate_spec(loans, spec(protected=[{"column": "gender", "reference": "female"}]))
    assert "Reference group 'female' is not a group of 'gender' (did you mean 'Female'?)" in result.errors[0].message


def test_one_group_and_same_column_twice(loans):
    loans["gender"] = "Female"
    result = validate_spec(loans, spec(protected=["gender", "approved"]))
    texts = messages(result)
    assert any("single group ('Female'); disparities are not computable" in t for t in texts)
    assert any("Column 'approved' is used as both the decision and a protected attribute" in t for t in texts)


def test_features_checks(loans):
    loans["constant"] = 1
    result = validate_spec(
        loans, spec(features=["approved", "gender", "constant", "income", "nope"], pii_columns=["applicant_id"])
    )
    texts = messages(result)
    assert any("The decision column 'approved' is listed as a feature" in t for t in texts)
    assert any("Protected attribute 'gender' is listed as a feature" in t for t in texts)
    assert any("Feature 'constant' has a single value ('1')" in t for t in texts)
    assert any("The feature column 'nope' is not in the table" in t for t in texts)


def test_no_protected_attribute(loans):
    result = validate_spec(loans, AuditSpec(decision="approved", positive=["Y"]))
    assert result.errors[0].fix == "Name at least one protected attribute."
    assert result.errors[0].text_for("cli").endswith("To fix it, pass --protected COLUMN.")


def test_missing_decisions_warn_with_count(loans):
    loans.loc[:3, "approved"] = None
    result = validate_spec(loans, spec())
    assert result.ok
    assert "Column 'approved' has 4 missing values (1.0% of rows); those rows are left out of the audit." in [
        p.message for p in result.warnings
    ]


def test_intersection_must_use_protected_columns(loans):
    result = validate_spec(loans, spec(intersections=[["gender", "country"]]))
    assert "uses 'country', which is not a protected attribute" in result.errors[0].message


def test_to_dict_is_json_safe(loans):
    import json

    result = validate_spec(loans, spec(positive=[]))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["ok"] is False
    assert data["problems"][0]["field"] == "positive"


def test_rejects_non_dataframes():
    with pytest.raises(SpecError, match="expects a pandas DataFrame, got list"):
        validate_spec([1, 2], spec())


def test_an_object_column_of_python_numbers_is_a_usable_score():
    df = pd.DataFrame(
        {
            "g": ["a", "b"] * 50,
            "d": [1, 0, 0, 1] * 25,
            "s": pd.Series([0.1, 0.5, None, 0.9] * 25, dtype=object),
        }
    )
    spec = AuditSpec(decision="d", positive=(1,), score="s", protected=("g",))
    assert validate_spec(df, spec).errors == ()
    df["s"] = pd.Series([True, False, None, True] * 25, dtype=object)
    (problem,) = validate_spec(df, spec).errors
    assert problem.message == "The score column 's' must hold numbers, but it has text such as ['True', 'False']."


# --- spelling variants and the literal '(missing)' -------------------------------------------------


@pytest.fixture
def messy() -> pd.DataFrame:
    approved = ["Yes"] * 120 + ["yes"] * 37 + ["YES\u200b"] * 2 + ["No"] * 100 + ["no"] * 3
    gender = (["Female", "Male"] * 131)[: len(approved)]
    gender[:5] = ["female\u200b"] * 5
    return pd.DataFrame({"approved": approved, "gender": gender, "repaid": (["Y", "y", "N"] * 100)[: len(approved)]})


def test_variants_in_the_decision_and_a_protected_column_are_reported_with_counts(messy):
    result = validate_spec(messy, spec(positive=["Yes"]))
    assert result.ok
    variants = [p for p in result.warnings if p.message.startswith("Column ")]
    by_column = {p.column: p for p in variants}
    assert [p.field for p in variants] == ["positive", "protected"]
    assert by_column["approved"].message == (
        "Column 'approved' has values that differ only in letter case, spaces, invisible characters or Unicode "
        "form: 'Yes' (120), 'yes' (37), 'YES\\u200b' (2); 'No' (100), 'no' (3). They are counted as different values."
    )
    assert by_column["gender"].message.endswith(
        "'Female' (128), 'female\\u200b' (5). They are counted as different values."
    )
    assert by_column["approved"].text_for("cli").endswith("To fix it, pass --merge-variants.")
    # The groups stay apart without the merge.
    assert result.group_sizes["gender"] == {"Female": 128, "Male": 129, "female\u200b": 5}


def test_a_positive_value_that_leaves_its_other_spellings_negative_is_warned_with_the_rows(messy):
    result = validate_spec(messy, spec(positive=["Yes"], label="repaid", label_positive=["y"]))
    split = [p for p in result.warnings if "include" in p.message]
    assert [p.message for p in split] == [
        "The positive decision values of 'approved' include 'Yes' but not 'yes' (37), 'YES\\u200b' (2): "
        "39 rows spelled so count as negative decisions.",
        "The positive outcome values of 'repaid' include 'y' but not 'Y' (88): "
        "88 rows spelled so count as negative outcomes.",
    ]
    assert [p.field for p in split] == ["positive", "label_positive"]
    assert all(p.remedy.option == "merge_variants" for p in split)
    # Naming every spelling leaves nothing negative by accident.
    every = validate_spec(messy, spec(positive=["Yes", "yes", "YES\u200b"]))
    assert not [p for p in every.warnings if "include" in p.message]


def test_merge_variants_merges_and_lists_every_merge(messy):
    result = validate_spec(
        messy, spec(positive=["yes"], merge_variants=True, protected=[{"column": "gender", "reference": "FEMALE"}])
    )
    assert result.ok, messages(result)
    merged = [p.message for p in result.warnings if p.field == "merge_variants"]
    assert merged == [
        "Merged 'yes' (37) and 'YES\\u200b' (2) into 'Yes' in column 'approved'.",
        "Merged 'no' (3) into 'No' in column 'approved'.",
        "Merged 'female\\u200b' (5) into 'Female' in column 'gender'.",
    ]
    assert result.group_sizes["gender"] == {"Female": 133, "Male": 129}
    assert not [p for p in result.warnings if p.remedy is not None and p.remedy.option == "merge_variants"]


def test_merge_variants_is_a_spec_field_that_round_trips_and_old_specs_load():
    merged = spec(merge_variants=True)
    assert merged.to_dict()["merge_variants"] is True
    assert AuditSpec.from_dict(merged.to_dict()) == merged
    assert spec().merge_variants is False
    with pytest.raises(SpecError, match="merge_variants"):
        spec(merge_variants="yes")


def test_a_literal_missing_value_is_warned_and_kept_apart(messy):
    messy.loc[:3, "gender"] = "(missing)"
    messy.loc[4:5, "gender"] = None
    result = validate_spec(messy, spec())
    assert result.group_sizes["gender"]["(missing) [value]"] == 4
    assert result.group_sizes["gender"]["(missing)"] == 2
    literal = next(p for p in result.warnings if "text '(missing)'" in p.message)
    assert literal.message == (
        "Protected attribute 'gender' has the text '(missing)' in 4 cells: a value, kept as its own group "
        "'(missing) [value]', apart from the 2 empty cells (the '(missing)' group)."
    )
    assert literal.remedy.option == "na_values" and literal.remedy.value == "(missing)"


def test_with_the_merge_a_spec_value_spelled_otherwise_than_the_column_is_respelled(messy):
    from analysis import merge_variants

    clean = messy.assign(approved=messy["approved"].str.strip("\u200b").str.capitalize())
    clean = clean.assign(gender=clean["gender"].str.strip("\u200b").str.capitalize())
    assert set(clean["approved"]) == {"Yes", "No"}
    given = spec(positive=["YES"], merge_variants=True, protected=[{"column": "gender", "reference": "male"}])
    result = validate_spec(clean, given)
    assert result.ok, messages(result)
    merged = merge_variants(clean, given)
    assert merged.spec.positive == ("Yes",) and merged.spec.protected[0].reference == "Male"
    assert merged.df is clean and merged.groups == {}
    # Without the merge the spelling must match (up to surrounding spaces).
    assert not validate_spec(clean, spec(positive=["YES"])).ok


def test_an_ordered_decision_without_positive_values_suggests_its_highest_value_not_its_most_frequent():
    df = pd.DataFrame({"ticket_priority": ["P10"] * 40 + ["P4", "P 3", "p2", "P1"] * 10, "language": ["en", "de"] * 40})
    (problem,) = validate_spec(df, spec(decision="ticket_priority", positive=[], protected=["language"])).errors
    assert problem.remedy == Remedy("positive", "P1", column="ticket_priority")  # P1 the most urgent
    df = pd.DataFrame({"risk": ["Low"] * 50 + ["Medium", "High"] * 15, "race": ["a", "b"] * 40})
    (problem,) = validate_spec(df, spec(decision="risk", positive=[], protected=["race"])).errors
    assert problem.remedy == Remedy("positive", "High", column="risk")
    # An order set in the spec is the one used.
    ordered = spec(decision="risk", positive=[], protected=["race"], decision_order=["High", "Medium", "Low"])
    (problem,) = validate_spec(df, ordered).errors
    assert problem.remedy == Remedy("positive", "Low", column="risk")
