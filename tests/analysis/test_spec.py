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
        ({"decision": "a", "protected": [{"column": "age", "bins": ["x"]}]}, "'age' must be finite numbers"),
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


# --- spec files as editors write them, and hostile ones --------------------------------------------

SPEC_TEXT = '{"decision": "Entscheidung", "positive": ["ja"], "protected": ["Geschlecht", "âge"]}'


@pytest.mark.parametrize(
    "encoded",
    [
        SPEC_TEXT.encode("utf-8"),
        b"\xef\xbb\xbf" + SPEC_TEXT.encode("utf-8"),  # Notepad's "UTF-8 with BOM"
        b"\xff\xfe" + SPEC_TEXT.encode("utf-16-le"),  # Notepad's "UTF-16 LE" (BOM)
        b"\xfe\xff" + SPEC_TEXT.encode("utf-16-be"),
        SPEC_TEXT.encode("utf-16-le"),  # no BOM
        SPEC_TEXT.encode("utf-32"),
        SPEC_TEXT.encode("cp1252"),  # an old Windows editor: 'â' is one byte 0xe2
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "utf-16-le", "utf-32", "cp1252"],
)
def test_spec_files_in_every_common_encoding_load(tmp_path, encoded):
    path = tmp_path / "spec.json"
    path.write_bytes(encoded)
    spec = AuditSpec.load(path)
    assert spec.protected_columns == ("Geschlecht", "âge")
    assert (spec.decision, spec.positive) == ("Entscheidung", ("ja",))
    assert AuditSpec.from_json(encoded) == spec  # the app passes the uploaded bytes


def test_text_that_is_no_known_encoding_is_named():
    with pytest.raises(SpecError, match=r"not text in UTF-8, UTF-16 or Windows-1252 \(byte 0x81 at position 14"):
        AuditSpec.from_json(b'{"decision": "\x81"}')


def test_deep_nesting_is_refused_at_once_naming_the_field():
    deep = '{"decision": "a", "protected": ' + "[" * 200 + "]" * 200 + "}"
    with pytest.raises(SpecError, match="more than 4 levels deep in field 'protected'"):
        AuditSpec.from_json(deep)
    deeper = "[" * 100_000 + "]" * 100_000  # past Python's recursion limit: no RecursionError escapes
    with pytest.raises(SpecError, match="more than 4 levels deep"):
        AuditSpec.from_json(deeper)


def test_huge_spec_file_is_refused_quickly_without_reading_it(tmp_path):
    import time

    path = tmp_path / "big.json"
    with open(path, "wb") as handle:
        handle.write(b'{"decision": "a", "features": [')
        handle.write(b'"column_name_padding",' * 1_400_000)  # about 30 MB
        handle.write(b'"x"]}')
    assert path.stat().st_size > 30_000_000
    start = time.perf_counter()
    with pytest.raises(SpecError, match=r"big.json' is 3\d,\d{3},\d{3} bytes; .* at most 5,000,000 bytes are read"):
        AuditSpec.load(path)
    assert time.perf_counter() - start < 1.0
    with pytest.raises(SpecError, match="at most 5,000,000 bytes"):
        AuditSpec.from_json("[" + " " * 5_000_001 + "]")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"decision": "a", "positive": {"a": 1}}, r"'positive' must be a list of values, got \{'a': 1\}"),
        ({"decision": "a", "positive": [[1]]}, r"'positive' must be a list of text or numbers, got \[1\]"),
        ({"decision": "a", "label_positive": [float("nan")]}, "'label_positive' must be a list of text or numbers"),
        ({"decision": "a", "protected": [{"column": "age", "bins": "25,40"}]}, "must be a list of numbers.*'25,40'"),
        ({"decision": "a", "protected": [{"column": "age", "bins": [60, 25]}]}, r"increasing order .*got \[60, 25\]"),
        ({"decision": "a", "protected": [{"column": "age", "bins": [25, 25]}]}, "without repeats"),
        ({"decision": "a", "protected": [{"column": "age", "bins": [float("nan")]}]}, "must be finite numbers"),
        ({"decision": "a", "protected": [{"column": "age", "bins": [True]}]}, "must be finite numbers"),
        ({"decision": "a", "protected": [{"column": "age", "bins": []}]}, "at least one edge"),
        ({"decision": "a", "protected": [{"column": "g", "reference": ["A"]}]}, "'reference' must be a group name"),
        ({"decision": "a", "protected": [{"column": "g", "quantiles": 2.5}]}, "'quantiles' must be a whole number"),
        ({"decision": "a", "protected": 5}, "'protected' must be a list of attributes, got 5"),
        ({"decision": "a", "protected": [7]}, "'protected' must be a column name or object, got 7"),
        ({"decision": "a", "min_group_size": float("inf")}, "'min_group_size' must be a whole number.*got inf"),
        ({"decision": "a", "min_group_size": True}, "'min_group_size' must be a whole number"),
        ({"decision": "a", "threshold": float("nan")}, "'threshold' must be a finite number, got nan"),
        ({"decision": "a", "features": {"x": 1}}, "'features' must be a list of column names"),
        ({"decision": "a", "id_columns": 3}, "'id_columns' must be a list of column names, got 3"),
        ({"decision": "a", "intersections": "ab"}, "'intersections' must be a list of lists"),
        ({"decision": "a", "intersections": ["a", "b"]}, "'intersections' must be a list of lists"),
        ({"decision": "a", "intersections": [["a"]]}, "at least two protected columns"),
        ({"decision": "a", "dataset_sha256": 12}, "'dataset_sha256' must be the SHA-256"),
        ({"decision": "a", "schema_version": 2}, "schema_version 2; this version of ParityLab reads version 1"),
        ({"decision": "a", "schema_version": True}, "schema_version True"),
        ({"decision": "x" * 10_000, "positive": {"k": "v" * 10_000}}, r"got \{'k': 'vvvv[v]*…\.$"),
    ],
)
def test_wrong_types_get_a_clear_message(data, message):
    with pytest.raises(SpecError, match=message) as caught:
        AuditSpec.from_dict(data)
    assert len(str(caught.value)) < 400  # a hostile value is quoted short, never whole


def test_json_nan_and_huge_numbers_are_refused_by_field():
    with pytest.raises(SpecError, match="'min_group_size' must be a whole number of at least 1, got inf"):
        AuditSpec.from_json('{"decision": "a", "min_group_size": 1e309}')
    with pytest.raises(SpecError, match="bins of protected attribute 'age' must be finite numbers"):
        AuditSpec.from_json('{"decision": "a", "protected": [{"column": "age", "bins": [NaN]}]}')
    with pytest.raises(SpecError, match="'threshold' must be a finite number, got inf"):
        AuditSpec.from_json('{"score": "s", "threshold": Infinity}')


def test_many_unknown_fields_are_summarized():
    data = {"decision": "a"} | {f"field{i}": i for i in range(10_000)}
    with pytest.raises(SpecError, match="and 9,995 more") as caught:
        AuditSpec.from_dict(data)
    assert len(str(caught.value)) < 600


def test_bare_column_names_are_accepted_where_lists_are_expected():
    spec = AuditSpec.from_json('{"decision": "d", "positive": "Y", "protected": "gender", "id_columns": "id"}')
    assert (spec.positive, spec.protected_columns, spec.id_columns) == (("Y",), ("gender",), ("id",))


def test_truncated_spec_says_where():
    with pytest.raises(SpecError, match=r"not valid JSON \(Expecting .*line 1 column \d+"):
        AuditSpec.from_json('{"decision": "a", "protected": ["g"')


def test_no_decision_names_the_option_per_surface():
    with pytest.raises(SpecError) as caught:
        AuditSpec(positive=["Y"])
    assert "--" not in caught.value.message
    assert caught.value.message_for("cli").endswith("To fix it, pass --decision COLUMN.")


@pytest.mark.parametrize("text", ["", "  \n", "\ufeff", b"", b"\xef\xbb\xbf\n"])
def test_an_empty_spec_says_so(text):
    with pytest.raises(SpecError, match=r"^The spec is empty; expected a JSON object such as"):
        AuditSpec.from_json(text)
