import json

import pytest

from analysis import AuditSpec, ProtectedAttribute, SpecError


def full_spec() -> AuditSpec:
    return AuditSpec(
        decision="ai_priority",
        positive=["P1", "P2"],
        positive_is_favorable=True,
        label="true_urgency",
        label_positive=["P1", "P2"],
        score="priority_score",
        protected=[
            "customer_language",
            {"column": "age", "bins": [25, 40, 60], "reference": "25–40"},
            ProtectedAttribute("income", quantiles=4),
        ],
        features=["channel", "plan_tier"],
        intersections=[["customer_language", "age"]],
        id_columns=["ticket_id"],
        pii_columns=["customer_email"],
        min_group_size=50,
    )


def test_json_round_trip_is_lossless(tmp_path):
    spec = full_spec()
    path = tmp_path / "spec.json"
    spec.save(path)
    loaded = AuditSpec.load(path)
    assert loaded == spec
    assert loaded.to_dict() == spec.to_dict()
    assert json.loads(path.read_text())["protected"][1] == {"column": "age", "bins": [25, 40, 60], "reference": "25–40"}
    # dump → load → dump is unchanged
    assert AuditSpec.from_json(spec.to_json()).to_json() == spec.to_json()


def test_values_are_trimmed_and_deduplicated():
    spec = AuditSpec(decision=" income ", positive=[" >50K", ">50K", "1", 1, 1.0], protected=[" sex "])
    assert spec.decision == "income"
    assert spec.positive == (">50K", "1")
    assert spec.protected_columns == ("sex",)


def test_minimal_spec_from_hand_written_json():
    spec = AuditSpec.from_json('{"decision": "approved", "positive": "Y", "protected": ["gender"]}')
    assert spec.positive == ("Y",)
    assert spec.protected == (ProtectedAttribute("gender"),)
    assert spec.positive_is_favorable is True
    assert spec.min_group_size == 30


def test_unknown_field_is_refused_with_a_suggestion():
    with pytest.raises(SpecError, match=r"Unknown spec field\(s\) 'protcted' \(did you mean 'protected'\?\)"):
        AuditSpec.from_dict({"decision": "approved", "protcted": ["gender"]})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"positive": ["Y"]}, "names neither a decision column nor a score column"),
        ({"decision": "a", "min_group_size": 0}, "'min_group_size' must be a whole number of at least 1, got 0"),
        ({"decision": "a", "threshold": "high"}, "'threshold' must be a finite number, got 'high'"),
        ({"decision": "a", "positive_is_favorable": "yes"}, "'positive_is_favorable' must be true or false"),
        ({"decision": "a", "protected": [{"column": "age", "bins": [1], "quantiles": 4}]}, "both 'bins' and"),
        ({"decision": "a", "protected": [{"column": "age", "bins": ["x"]}]}, "'bins' must be a finite number"),
        ({"decision": 5}, "'decision' must be a column name, got 5"),
    ],
)
def test_malformed_specs_raise_spec_error(data, message):
    with pytest.raises(SpecError, match=message):
        AuditSpec.from_dict(data)


def test_invalid_json_and_non_object():
    with pytest.raises(SpecError, match="not valid JSON"):
        AuditSpec.from_json("{decision")
    with pytest.raises(SpecError, match="must be a JSON object"):
        AuditSpec.from_json("[1, 2]")


def test_load_missing_file_names_the_path(tmp_path):
    with pytest.raises(SpecError, match=r"Cannot read spec file .*nope.json"):
        AuditSpec.load(tmp_path / "nope.json")


def test_feature_columns_default_excludes_roles_ids_and_pii():
    spec = full_spec()
    columns = ["ticket_id", "customer_email", "customer_language", "age", "channel", "plan_tier", "ai_priority"]
    assert spec.feature_columns(columns) == ("channel", "plan_tier")
    default = AuditSpec(decision="d", positive=["1"], protected=["g"], id_columns=["id"], pii_columns=["mail"])
    assert default.feature_columns(["id", "mail", "g", "d", "x", "y"]) == ("x", "y")


def test_intersections_default_to_every_pair():
    spec = AuditSpec(decision="d", positive=["1"], protected=["a", "b", "c"])
    assert spec.intersection_sets() == (("a", "b"), ("a", "c"), ("b", "c"))
    assert full_spec().intersection_sets() == (("customer_language", "age"),)
