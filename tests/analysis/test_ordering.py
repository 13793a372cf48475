"""Decision values that have an order: recognised from the values, overridden by the spec, used by the audit."""

import os
from pathlib import Path

import pandas as pd
import pytest

from analysis import AuditSpec, audit
from analysis.errors import SpecError
from analysis.ordering import ValueOrder, decision_order, order_values, recognize_order
from analysis.validation import validate_spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("values", "order", "how"),
    [
        (["High", "Low", "Medium"], ("Low", "Medium", "High"), "levels"),
        (["medium", "HIGH", "low"], ("low", "medium", "HIGH"), "levels"),
        (["Low", "High"], ("Low", "High"), "levels"),
        (
            ["Very High", "Low", "Very Low", "High", "Medium"],
            ("Very Low", "Low", "Medium", "High", "Very High"),
            "levels",
        ),
        (["urgent", "normal", "low", "high"], ("low", "normal", "high", "urgent"), "levels"),
        (["Critical", "Low", "Moderate", "High"], ("Low", "Moderate", "High", "Critical"), "levels"),
        (["very_low", "low", "high"], ("very_low", "low", "high"), "levels"),
        (["Good", "Bad", "Fair"], ("Bad", "Fair", "Good"), "quality levels"),
        (["Excellent", "Poor", "Good"], ("Poor", "Good", "Excellent"), "quality levels"),
        (["Major", "Minor", "Blocker"], ("Minor", "Major", "Blocker"), "severity levels"),
        (["Agree", "Disagree", "Neutral"], ("Disagree", "Neutral", "Agree"), "agreement levels"),
        (["P2", "P1", "P4", "P3"], ("P4", "P3", "P2", "P1"), "priority codes, P1 the most urgent"),
        (["p0", "p1"], ("p1", "p0"), "priority codes, p0 the most urgent"),
        (["Priority 2", "Priority 1"], ("Priority 2", "Priority 1"), "priority codes, Priority 1 the most urgent"),
        (["Sev-3", "Sev-1", "Sev-2"], ("Sev-3", "Sev-2", "Sev-1"), "priority codes, Sev-1 the most urgent"),
        (["2-Medium", "1-Low", "3-High"], ("1-Low", "2-Medium", "3-High"), "numbered levels, by their words"),
        (
            ["1 - Critical", "3 - Medium", "2 - High", "4 - Low"],
            ("4 - Low", "3 - Medium", "2 - High", "1 - Critical"),
            "numbered levels, by their words",
        ),
        (["2. beta", "1. alpha", "10. omega"], ("1. alpha", "2. beta", "10. omega"), "by their leading numbers"),
        ([3, 1, 2], ("1", "2", "3"), "numbers"),
        (["10", "9", "1"], ("1", "9", "10"), "numbers"),
        ([0.5, -1, 2.0], ("-1", "0.5", "2"), "numbers"),
    ],
)
def test_orders_are_recognised_in_many_spellings(values, order, how):
    assert recognize_order(values) == ValueOrder(order, how)


@pytest.mark.parametrize(
    "values",
    [
        ["Y", "N"],
        ["approved", "denied", "referred"],
        ["Low", "Medium", "Frog"],  # one value off the scale
        ["Low", "low"],  # two spellings of one level
        ["medium", "moderate", "high"],  # two words for one rank
        ["P1", "P2", "other"],
        ["P1", "p1"],
        ["1-Low", "Medium"],
        ["Good", "High"],  # two scales
        ["Low"],
        [],
        [None, "Low"],  # a missing value does not count: one value left
        ["True", "False"],
        ["A", "B", "C"],  # letter grades could go either way
    ],
)
def test_mixed_or_unknown_values_have_no_order(values):
    assert recognize_order(values) is None


def test_the_spec_overrides_the_recognised_order():
    values = ["High", "Low", "Medium"]
    assert decision_order(None, values) == ValueOrder(("Low", "Medium", "High"), "levels")
    assert decision_order((), values) is None
    assert decision_order(("High", "Medium", "Low"), values) == ValueOrder(("High", "Medium", "Low"), "set in the spec")
    assert decision_order(("b", "a"), ["a", "b"]).shown() == "b < a"
    assert decision_order(None, ["P1", "P2", "P3"]).top(2) == ("P2", "P1")


def test_order_values_puts_unnamed_values_last_as_they_came():
    order = ValueOrder(("Low", "High"), "levels")
    assert order_values(["x", "High", 1, "Low"], order) == ["Low", "High", "x", "1"]
    assert order_values(["b", "a"], None) == ["b", "a"]


# ---------------------------------------------------------------- the spec field


def spec(**kwargs) -> AuditSpec:
    return AuditSpec(decision="risk", positive=["High"], protected=["group"], **kwargs)


def test_the_order_round_trips_through_json():
    for order in (None, (), ("Low", "Medium", "High")):
        made = spec(decision_order=order)
        again = AuditSpec.from_json(made.to_json())
        assert again == made
        assert again.decision_order == order
        assert made.to_dict()["decision_order"] == (None if order is None else list(order))
    assert spec(decision_order=[1, 2.0, "3 "]).decision_order == ("1", "2", "3")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Low", "Spec field 'decision_order' must be a list of the decision column's values, lowest first"),
        ({"Low": 1}, "Spec field 'decision_order' must be a list"),
        (["Low", ["High"]], "Spec field 'decision_order' must be a list"),
        (["Low", ""], "Spec field 'decision_order' must be a list"),
        (["Low", "High", "Low"], "Spec field 'decision_order' names 'Low' more than once"),
    ],
)
def test_a_malformed_order_is_refused_naming_the_field(value, message):
    with pytest.raises(SpecError) as err:
        spec(decision_order=value)
    assert str(err.value).startswith(message)


def test_an_order_without_a_decision_column_is_refused():
    with pytest.raises(SpecError, match="Spec field 'decision_order' orders the values of the decision column, but"):
        AuditSpec(score="s", threshold=0.5, protected=["g"], decision_order=["a", "b"])
    with pytest.raises(SpecError, match=r"Unknown spec field\(s\) 'decision_ordr'.*did you mean 'decision_order'"):
        AuditSpec.from_dict({"decision": "risk", "positive": ["High"], "decision_ordr": []})


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "risk": ["Low", "High", "Medium", "Low", "High", "Medium"] * 10,
            "group": ["a", "a", "a", "b", "b", "b"] * 10,
        }
    )


def test_validation_names_values_the_order_lacks_or_invents():
    problems = validate_spec(frame(), spec(decision_order=["Low", "Huge"])).errors
    assert [(p.field, p.message) for p in problems] == [
        (
            "decision_order",
            "The order of the decision values ('decision_order') names ['Huge'], which is not a value of column "
            "'risk'; its values are ['High', 'Low', 'Medium'].",
        ),
        (
            "decision_order",
            "The order of the decision values ('decision_order') leaves out ['High', 'Medium'] of column 'risk', "
            "so it cannot place every decision.",
        ),
    ]
    assert (
        problems[0]
        .text_for("cli")
        .endswith(
            "To fix it, pass --decision-order Low,Medium,High (lowest first), or --decision-order none for no order."
        )
    )
    assert validate_spec(frame(), spec(decision_order=["High", "Medium", "Low"])).ok
    assert validate_spec(frame(), spec(decision_order=[])).ok


def test_the_audit_lists_decision_values_in_their_order():
    recognised = audit(frame(), spec()).attributes["group"].decision_distribution
    assert (recognised.values, recognised.order) == (("Low", "Medium", "High"), "levels")
    # Each count stays with its value after the values are put in order.
    assert recognised.counts == {"a": (10, 10, 10), "b": (10, 10, 10)}
    override = audit(frame(), spec(decision_order=["High", "Low", "Medium"])).attributes["group"]
    assert (override.decision_distribution.values, override.decision_distribution.order) == (
        ("High", "Low", "Medium"),
        "set in the spec",
    )
    unordered = audit(frame(), spec(decision_order=[])).attributes["group"].decision_distribution
    assert unordered.order is None
    assert set(unordered.values) == {"Low", "Medium", "High"}


def test_counts_follow_their_values_when_reordered():
    df = pd.DataFrame({"risk": ["Low"] * 5 + ["High"] * 3 + ["Medium"] * 2, "group": ["a"] * 5 + ["b"] * 5})
    dist = audit(df, spec(min_group_size=1)).attributes["group"].decision_distribution
    assert dist.values == ("Low", "Medium", "High")
    assert dist.counts == {"a": (5, 0, 0), "b": (0, 2, 3)}
    assert [s.value for s in dist.shares["b"]] == [0.0, 0.4, 0.6]


def test_the_support_tickets_priorities_are_in_order():
    df = pd.read_csv(ROOT / "sample_data" / "support_tickets.csv")
    result = audit(df, AuditSpec(decision="ai_priority", positive=["P1", "P2"], protected=["customer_language"]))
    dist = result.attributes["customer_language"].decision_distribution
    assert (dist.values, dist.order) == (("P4", "P3", "P2", "P1"), "priority codes, P1 the most urgent")
    assert type(dist).from_dict(dist.to_dict()) == dist


@pytest.mark.slow
def test_compas_score_text_is_low_medium_high():
    folder = os.environ.get("PARITYLAB_DATASETS")
    path = Path(folder or "") / "compas.csv"
    if not folder or not path.exists():
        pytest.skip("compas.csv not found: set PARITYLAB_DATASETS to a folder holding the public datasets")
    from analysis import load_table, suggest_spec

    df = load_table(path).data
    suggested = suggest_spec(df)
    assert suggested.decision == "score_text"
    assert suggested.positive == ("Medium", "High")
    dist = audit(df, suggested).attributes["race"].decision_distribution
    assert (dist.values, dist.order) == (("Low", "Medium", "High"), "levels")


def run_cli(*argv: str) -> tuple[int, str, str]:
    import io

    from analysis.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_the_command_line_honours_the_order(tmp_path):
    import json

    data = tmp_path / "risk.csv"
    frame().to_csv(data, index=False)
    base = ["audit", str(data), "--decision", "risk", "--positive", "High", "--protected", "group", "--json", "-"]
    for flag, values, order in (
        ([], ["Low", "Medium", "High"], "levels"),
        (["--decision-order", "High,Medium,Low"], ["High", "Medium", "Low"], "set in the spec"),
        (["--decision-order", "none"], ["High", "Low", "Medium"], None),
    ):
        code, out, _ = run_cli(*base, *flag)
        result = json.loads(out)
        dist = result["attributes"]["group"]["decision_distribution"]
        assert (dist["values"], dist["order"]) == (values, order), flag
        assert result["spec"]["decision_order"] == (None if not flag else [] if order is None else values)
    spec = tmp_path / "spec.json"
    spec.write_text(
        AuditSpec(decision="risk", positive=["High"], protected=["group"], decision_order=["Low"]).to_json()
    )
    code, _, err = run_cli("audit", str(data), "--spec", str(spec))
    assert code != 0
    assert "leaves out ['High', 'Medium'] of column 'risk'" in err
    assert "pass --decision-order Low,Medium,High (lowest first), or --decision-order none for no order" in err


def test_the_report_states_the_order():
    from analysis.report import render_html

    for order, shown in (
        (None, "<td>Order of the decision values</td><td>Low &lt; Medium &lt; High (levels)</td>"),
        ((), "<td>Order of the decision values</td><td>not ordered</td>"),
        (
            ("High", "Medium", "Low"),
            "<td>Order of the decision values</td><td>High &lt; Medium &lt; Low (set in the spec)</td>",
        ),
    ):
        assert shown in render_html(audit(frame(), spec(decision_order=order)), charts=False)
