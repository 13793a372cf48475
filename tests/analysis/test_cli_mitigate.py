"""Tests of ``python -m analysis mitigate``: its JSON equals the engine's, infeasible is exit 0, bad input exit 2,
and the decisions CSV matches the flips with formula cells neutralised."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import AuditSpec, load_table
from analysis.audit import audit
from analysis.cli import main
from analysis.mitigation import MODEL_SCORE_LABEL, model_scores
from analysis.optimizer import optimize
from analysis.thresholds import threshold_curves, what_if
from tests.analysis.test_cli import only_notes

ROOT = Path(__file__).resolve().parents[2]
LOANS = ROOT / "sample_data" / "loan_approvals.csv"
FEATURES = ["region", "income", "credit_history_years", "debt_to_income", "loan_amount", "employment_years"]
SPEC = AuditSpec.from_dict(
    {
        "decision": "approved",
        "positive": ["Y"],
        "label": "repaid",
        "label_positive": [1],
        "score": "model_score",
        "protected": ["ethnicity", "gender"],
        "features": FEATURES,
        "id_columns": ["applicant_id"],
    }
)


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def loans() -> pd.DataFrame:
    return load_table(LOANS).data


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "loans-spec.json"
    SPEC.save(path)
    return path


def _redecided(df: pd.DataFrame, column: str, thresholds: dict[str, float]) -> pd.DataFrame:
    out = df.copy()
    out["approved"] = np.where(df["model_score"] >= df[column].map(thresholds), "Y", "N")
    return out


def test_json_equals_the_engine(loans, spec_path):
    code, out, err = run(["mitigate", LOANS, "--spec", spec_path, "--constraint", "four_fifths", "--tolerance", "0",
                          "--json", "-"])  # fmt: skip
    assert code == 0 and only_notes(err)
    load = json.loads(out)["load"]
    assert (load["rows"], load["format"], load["changes"][0]["column"]) == (20_000, "csv", "gender")
    data = json.loads(out)  # standard output holds only the JSON
    curves = threshold_curves(loans, SPEC)
    expected = optimize(curves, constraint="four_fifths", tolerance=0.0, objective="accuracy")
    assert data["constraint"] == "four_fifths" and data["tolerance"] == 0.0 and data["objective"] == "accuracy"
    assert data["feasible"] is True and data["reason"] is None
    assert data["attribute"] == "ethnicity" and data["score_source"] == "spec"
    assert data["thresholds"] == {"ethnicity": expected.thresholds}
    assert data["flips"] == what_if(curves, expected.thresholds).flips
    assert sum(f["to_positive"] for f in data["flips"].values()) > 0
    assert data["before"] == audit(loans, SPEC).attributes["ethnicity"].to_dict()
    after = audit(_redecided(loans, "ethnicity", expected.thresholds), SPEC).attributes["ethnicity"]
    assert data["after"] == after.to_dict()
    assert data["before"]["summary"]["four_fifths_pass"] is False
    assert data["after"]["summary"]["four_fifths_pass"] is True
    assert data["objective_value"] == pytest.approx(expected.objective_value)


def test_text_output_and_another_attribute(loans, spec_path, tmp_path):
    target = tmp_path / "m.json"
    argv = ["mitigate", LOANS, "--spec", spec_path, "--attribute", "gender", "--constraint", "demographic_parity"]
    code, out, err = run([*argv, "--json", target])
    assert code == 0 and only_notes(err)
    data = json.loads(target.read_text())
    groups = threshold_curves(loans, SPEC, attribute="gender").labels
    assert set(data["thresholds"]["gender"]) == set(groups)
    assert data["constraint"] == "demographic_parity" and data["tolerance"] == 0.05 and data["goal"] is None
    assert out.startswith("ParityLab mitigation of loan_approvals.csv: gender, demographic_parity within 0.05")
    assert "Feasible on these data: yes." in out
    assert "disparate-treatment" in out
    for g in groups:
        assert f"  {g}: " in out


def _crafted(tmp_path: Path) -> tuple[Path, Path]:
    """Group a's labels all positive (precision 1), b's all negative (precision 0); ids that look like formulas."""
    df = pd.DataFrame(
        {
            "id": ["=1+1", "+cmd", "@sum", "-2", "ok", "=A1", "x", "y", "z", "w"],
            "g": ["a"] * 5 + ["b"] * 5,
            "s": np.linspace(0.1, 0.9, 10),
            "y": [1] * 5 + [0] * 5,
        }
    )
    data, spec = tmp_path / "crafted.csv", tmp_path / "crafted-spec.json"
    df.to_csv(data, index=False)
    AuditSpec(score="s", threshold=0.5, label="y", label_positive=(1,), protected=("g",), id_columns=("id",),
              min_group_size=1).save(spec)  # fmt: skip
    return data, spec


def test_infeasible_constraint_is_exit_0_with_the_reason(tmp_path):
    data, spec = _crafted(tmp_path)
    argv = ["mitigate", data, "--spec", spec, "--constraint", "predictive_parity", "--tolerance", "0"]
    code, out, _ = run([*argv, "--json", "-"])
    assert code == 0
    result = json.loads(out)
    assert result["feasible"] is False
    assert "cannot be met" in result["reason"] and "smallest achievable range is 1" in result["reason"]
    assert set(result["thresholds"]["g"]) == {"a", "b"}
    code, out, _ = run(["mitigate", data, "--spec", spec, "--constraint", "predictive_parity", "--tolerance", "0"])
    assert code == 0 and "Feasible on these data: NO." in out


def test_decisions_csv_rows_and_neutralized_cells(tmp_path):
    data, spec = _crafted(tmp_path)
    target = tmp_path / "decisions.csv"
    code, out, _ = run(["mitigate", data, "--spec", spec, "--decisions", target, "--json", "-"])
    assert code == 0
    result = json.loads(out)
    text = target.read_text(encoding="utf-8")
    rows = pd.read_csv(target, dtype={"row_id": str})
    assert len(rows) == 10
    assert rows["row_id"].tolist() == ["'=1+1", "'+cmd", "'@sum", "-2", "ok", "'=A1", "x", "y", "z", "w"]
    assert "\n'=1+1,a," in text
    flips = result["flips"]
    assert int(rows["changed"].sum()) == sum(f["to_positive"] + f["to_negative"] for f in flips.values())
    for g, f in flips.items():
        part = rows[rows["group"] == g]
        assert f["to_positive"] == int(((part.old_positive == 0) & (part.new_positive == 1)).sum())
        assert f["to_negative"] == int(((part.old_positive == 1) & (part.new_positive == 0)).sum())
    cut = rows["group"].map(result["thresholds"]["g"])
    assert (rows["new_positive"] == (rows["score"] >= cut).astype(int)).all()


@pytest.mark.slow
def test_without_a_score_the_model_score_is_used(loans, tmp_path):
    data = tmp_path / "loans-2000.csv"
    loans.iloc[:2000].to_csv(data, index=False)
    spec_file = tmp_path / "no-score.json"
    spec = AuditSpec.from_dict(SPEC.to_dict() | {"score": None, "protected": ["ethnicity"]})
    spec.save(spec_file)
    target = tmp_path / "m.json"
    argv = ["mitigate", data, "--spec", spec_file, "--constraint", "demographic_parity"]
    code, out, err = run([*argv, "--json", target])
    assert code == 0 and only_notes(err)
    assert f"Score: {MODEL_SCORE_LABEL}, as the spec has no score" in out
    result = json.loads(target.read_text())
    assert result["score_source"] == "model" and result["score_label"] == MODEL_SCORE_LABEL
    assert result["model_score"]["folds"] == 5
    df = load_table(data).data
    scored_df, scored_spec = model_scores(df, spec).apply(df, spec)
    expected = optimize(threshold_curves(scored_df, scored_spec), constraint="demographic_parity", tolerance=0.05)
    assert result["thresholds"]["ethnicity"] == expected.thresholds
    assert result["before"] == audit(scored_df, scored_spec).attributes["ethnicity"].to_dict()
    # The start is the engine's on the model score: today's counts kept where the most agreement would be worse.
    from analysis.mitigate import starting_point

    assert result["start"] == starting_point(threshold_curves(scored_df, scored_spec))[0].to_dict()
    assert result["start"]["total_unreproducible"] > 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--attribute", "region"], "not a protected attribute"),
        (["--constraint", "parity"], "invalid choice"),
        (["--tolerance", "-1"], "argument --tolerance: expects a number of at least 0, such as 0.05; got '-1'"),
    ],
)
def test_bad_input_is_exit_2(spec_path, extra, message):
    code, out, err = run(["mitigate", LOANS, "--spec", spec_path, *extra])
    assert code == 2 and out == ""
    assert err.splitlines()[-1].startswith("error: ") and message in err


def test_error_rate_constraint_without_label_is_exit_2(tmp_path):
    data, _ = _crafted(tmp_path)
    spec = tmp_path / "no-label.json"
    AuditSpec(score="s", threshold=0.5, protected=("g",), min_group_size=1).save(spec)
    code, out, err = run(["mitigate", data, "--spec", spec, "--constraint", "equal_opportunity"])
    assert code == 2 and out == "" and "need the true outcome" in err


def test_four_fifths_defaults_to_the_rule_and_says_when_rates_grow_less_equal(spec_path):
    code, out, err = run(
        ["mitigate", LOANS, "--spec", spec_path, "--attribute", "gender", "--constraint", "four_fifths"]
    )
    assert code == 0 and only_notes(err)
    assert "four_fifths (lowest / highest favourable rate >= 0.8)" in out
    # On gender the current decisions are nearly equal (four-fifths ratio 0.976); maximising accuracy uses the
    # room down to 0.8. The note reads the constraint's own measure, as the Mitigation page does.
    assert (
        "today's decisions do better on its measure (four-fifths ratio (lowest ÷ highest favourable rate) 0.976 now"
        in out
    )
    code, out, _ = run(
        ["mitigate", LOANS, "--spec", spec_path, "--attribute", "ethnicity", "--constraint", "four_fifths"]
    )
    assert code == 0 and "four-fifths rule: fail -> pass" in out and "do better on its measure" not in out


@pytest.mark.parametrize(("flag", "value"), [("--cost-fp", "nan"), ("--benefit-tp", "inf"), ("--cost-fp", "-5")])
def test_mitigate_refuses_a_cost_that_is_not_a_finite_non_negative_number(spec_path, flag, value):
    code, out, err = run(["mitigate", LOANS, "--spec", spec_path, "--objective", "cost", flag, value])
    assert code == 2
    assert err.startswith(f"error: argument {flag}: expects a ") and f"got '{value}'" in err
    assert "Traceback" not in err and out == ""


def test_merge_variants_flag_on_mitigate_and_explain_is_read_into_the_spec(loans, spec_path, tmp_path):
    messy = loans.copy()
    groups = messy["ethnicity"].astype(object).to_numpy(copy=True)
    groups[::8] = np.char.lower(groups[::8].astype(str)).astype(object)
    messy["ethnicity"] = groups
    path = tmp_path / "messy.csv"
    messy.to_csv(path, index=False)
    code, out, err = run(["mitigate", path, "--spec", spec_path, "--json", "-"])
    assert code == 0 and "To fix it, pass --merge-variants." in err
    assert set(json.loads(out)["thresholds"]["ethnicity"]) == {"A", "B", "C", "D", "a", "b", "c", "d"}
    code, out, err = run(["mitigate", path, "--spec", spec_path, "--json", "-", "--merge-variants"])
    assert code == 0 and "warning: Merged 'a' (" in err
    merged, (_, clean, _) = json.loads(out), run(["mitigate", LOANS, "--spec", spec_path, "--json", "-"])
    assert merged["thresholds"] == json.loads(clean)["thresholds"]
    assert merged["before"] == json.loads(clean)["before"]
    from analysis.cli import _parser, _with_merge_variants

    args = _parser().parse_args(["explain", str(path), "--spec", str(spec_path), "--merge-variants"])
    assert _with_merge_variants(SPEC, args).merge_variants is True
    assert _with_merge_variants(SPEC, _parser().parse_args(["explain", str(path), "--spec", "x"])) is SPEC


def test_by_default_the_command_starts_from_today_and_changes_nothing_on_an_attribute_that_passes(loans, spec_path):
    code, out, err = run(["mitigate", LOANS, "--spec", spec_path, "--attribute", "gender", "--json", "-"])
    assert code == 0 and only_notes(err)
    data = json.loads(out)
    # The loan sample's decision is exactly model_score >= 0.5: the start reproduces every decision.
    assert data["goal"] == "nothing" and data["mode"] == "start" and data["constraint"] is None
    assert data["start"]["total_unreproducible"] == 0 and data["start"]["rule"] == "most_agreement"
    assert set(data["start"]["thresholds"].values()) == {0.5}
    assert data["thresholds"]["gender"] == data["start"]["thresholds"]
    assert all(f == {"to_positive": 0, "to_negative": 0} for f in data["changed"].values())
    assert data["after"]["summary"]["favorable_rate_ratio"] == data["before"]["summary"]["favorable_rate_ratio"]
    code, text, _ = run(["mitigate", LOANS, "--spec", spec_path, "--attribute", "gender"])
    assert "nothing to do (goal 'nothing')" in text
    assert "0 of 20,000 decisions no threshold on this score reproduces" in text
    assert "today's decisions already pass the four-fifths rule; they are kept." in text


def test_by_default_a_failing_attribute_passes_with_the_fewest_changes_counted_from_the_start(loans, spec_path):
    from analysis.mitigate import starting_point

    code, out, err = run(["mitigate", LOANS, "--spec", spec_path, "--attribute", "ethnicity", "--json", "-"])
    assert code == 0 and only_notes(err)
    data = json.loads(out)
    assert (data["goal"], data["constraint"], data["objective"], data["tolerance"]) == (
        "four_fifths_fewest", "four_fifths", "changes", 0.0)  # fmt: skip
    curves = threshold_curves(loans, SPEC, attribute="ethnicity")
    start, today = starting_point(curves)
    assert data["start"] == start.to_dict()
    expected = optimize(curves, constraint="four_fifths", tolerance=0.0, objective="changes")
    assert data["thresholds"]["ethnicity"] == expected.thresholds
    # Nothing is unreproducible on this score, so the changes are the flips against today's decisions.
    assert data["changed"] == data["flips"] == expected.what_if.flips
    assert data["objective_value"] == sum(f["to_positive"] + f["to_negative"] for f in data["flips"].values())
    assert today.value("favorable_rate_ratio") < 0.8 <= data["after"]["summary"]["favorable_rate_ratio"]["value"]


def test_goal_and_constraint_together_or_a_goal_needing_a_label_is_exit_2(tmp_path, spec_path):
    code, out, err = run(["mitigate", LOANS, "--spec", spec_path, "--goal", "nothing", "--constraint", "four_fifths"])
    assert code == 2 and out == "" and "takes a goal or a constraint, not both" in err
    data, _ = _crafted(tmp_path)
    spec = tmp_path / "no-label.json"
    AuditSpec(score="s", threshold=0.5, protected=("g",), min_group_size=1).save(spec)
    code, out, err = run(["mitigate", data, "--spec", spec, "--goal", "equal_tpr"])
    assert code == 2 and out == "" and "goal='equal_tpr' needs the true outcome" in err


def test_the_thresholds_lines_name_a_harmful_decision_as_the_harm(tmp_path):
    """Risk 'High' flags the person: the lines say "newly flagged" / "no longer flagged", not "to positive"."""
    rng = np.random.default_rng(3)
    score = rng.integers(1, 11, 400)
    group = np.where(np.arange(400) < 200, "a", "b")
    score = np.where(group == "a", np.minimum(score + 3, 10), score)  # group a is flagged far more often
    df = pd.DataFrame({"g": group, "s": score, "risk": np.where(score >= 5, "High", "Low")})
    data, spec = tmp_path / "risk.csv", tmp_path / "risk-spec.json"
    df.to_csv(data, index=False)
    AuditSpec(decision="risk", positive=("High",), positive_is_favorable=False, score="s", protected=("g",)).save(spec)
    code, out, err = run(["mitigate", data, "--spec", spec])
    assert code == 0, err
    assert "Thresholds (flagged when score >= threshold)" in out
    assert "to positive" not in out and "to negative" not in out
    assert "newly flagged" in out and "no longer flagged" in out
    assert "favorable" not in out
