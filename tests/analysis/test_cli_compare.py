"""``python -m analysis compare BEFORE.json AFTER.json``: text, JSON, HTML, the regression gate, bad input."""

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.audit import audit
from analysis.cli import main
from analysis.compare import AuditComparison
from analysis.spec import AuditSpec
from tests.analysis.test_cli import only_notes
from tests.analysis.test_compare import XSS, double_the_bias, small_audit

ROOT = Path(__file__).resolve().parents[2]
LOANS = ROOT / "sample_data" / "loan_approvals.csv"
SPEC_ARGS = ["--decision", "approved", "--positive", "Y", "--label", "repaid", "--label-positive", "1",
             "--protected", "ethnicity", "--protected", "gender"]  # fmt: skip


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Audit JSONs of the loans (before) and of the loans with the bias doubled (after)."""
    folder = tmp_path_factory.mktemp("compare")
    after_csv = folder / "loans-q2.csv"
    double_the_bias(pd.read_csv(LOANS)).to_csv(after_csv, index=False)
    paths = {}
    for name, data in (("before", LOANS), ("after", after_csv)):
        paths[name] = folder / f"{name}.json"
        code, _, err = run(["audit", data, *SPEC_ARGS, "--json", paths[name]])
        assert code == 0 and only_notes(err)
    return paths


@pytest.mark.parametrize("strict", [[], ["--require-significance"]])
def test_identical_audits_exit_0_with_no_changes(results, strict):
    code, out, err = run(["compare", results["before"], results["before"], "--fail-on-regression", *strict])
    assert (code, err) == (0, "")
    assert out.startswith("ParityLab comparison: loan_approvals.csv (20,000 rows, ")
    assert "Nothing changed: the two audits give the same numbers for every group and metric." in out
    assert "REGRESSION" not in out


@pytest.mark.parametrize("strict", [[], ["--require-significance"]])
def test_doubled_bias_fails_the_gate_with_one_message_per_regression(results, strict):
    code, out, err = run(["compare", results["before"], results["after"], "--fail-on-regression", *strict])
    assert code == 1
    messages = err.splitlines()
    assert messages and all(m.startswith("Regression: ") for m in messages)
    assert messages[0].startswith(
        "Regression: ethnicity, disparate_impact_min went from 0.714 to 0.438 (change -0.276; significant, q = "
    )
    assert messages[0].endswith("worse than the tolerance 0.02.")
    # gender's chance shifts beyond the tolerance count by default, not when significance is required
    noise = [m for m in messages if m.startswith("Regression: gender,")]
    assert all("not significant, q = " in m for m in noise)
    assert bool(noise) is not bool(strict)
    assert "REGRESSION" in out and "fairness metrics got worse beyond tolerance" in out
    assert ("and significantly (q < 0.05)" in out) is bool(strict)
    # without the flag the same comparison exits 0; with a wide tolerance there is no regression
    assert run(["compare", results["before"], results["after"]])[0] == 0
    code, out, err = run(["compare", results["before"], results["after"], "--fail-on-regression", "--tolerance", "0.5"])
    assert (code, err) == (0, "")
    assert "No fairness metric got worse beyond tolerance (0.5; disparate impact 0.5)" in out


def test_di_tolerance_applies_to_ratios_only(results):
    code, _, err = run(
        ["compare", results["before"], results["after"], "--fail-on-regression", "--di-tolerance", "0.9"]
    )
    assert code == 1
    assert "disparate_impact" not in err and "demographic_parity_difference" in err


def test_json_to_stdout_round_trips(results):
    code, out, err = run(["compare", results["before"], results["after"], "--json", "-"])
    assert (code, err) == (0, "")
    data = json.loads(out)  # only JSON on stdout
    assert data["kind"] == "paritylab comparison" and data["regression_count"] > 0
    assert data["before"]["name"] == "loan_approvals.csv" and data["after"]["name"] == "loans-q2.csv"
    assert AuditComparison.from_dict(data).to_dict() == data


def test_json_and_html_files(results, tmp_path):
    json_path, html_path = tmp_path / "c.json", tmp_path / "c.html"
    code, out, _ = run(["compare", results["before"], results["after"], "--json", json_path, "--html", html_path])
    assert code == 0 and out.startswith("ParityLab comparison")
    assert json.loads(json_path.read_text())["settings"]["tolerance"] == 0.02
    page = html_path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<h2>Regressions</h2>" in page


def test_all_prints_every_row(results):
    _, short, _ = run(["compare", results["before"], results["before"]])
    _, full, _ = run(["compare", results["before"], results["before"], "--all"])
    assert "more rows without a significant change" in short
    assert "more rows" not in full
    assert len(full.splitlines()) > len(short.splitlines()) + 300


def test_html_escapes_a_hostile_group_name(tmp_path):
    def rows(approved_in_group):
        counts = (("a", 120), (XSS, approved_in_group))
        return [{"group": g, "decision": "Y" if i < k else "N"} for g, k in counts for i in range(200)]

    paths = []
    for name, data in (("before", rows(110)), ("after", rows(40))):
        csv = tmp_path / f"{name}.csv"
        pd.DataFrame(data).to_csv(csv, index=False)
        paths.append(tmp_path / f"{name}.json")
        args = ["audit", csv, "--decision", "decision", "--positive", "Y", "--protected", "group", "--json", paths[-1]]
        assert run(args)[0] == 0
    html_path = tmp_path / "c.html"
    code, _, err = run(["compare", *paths, "--html", html_path, "--fail-on-regression"])
    assert code == 1 and XSS in err  # the terminal shows the name as text
    page = html_path.read_text()
    assert XSS not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_control_characters_are_not_printed(tmp_path):
    # The loader refuses such files; a hand-made or other tool's result JSON could still hold them.
    name = "evil\x1b[2Jgroup"
    rows = pd.DataFrame([{"g": g, "d": "Y" if i % 2 else "N"} for g in ("a", name) for i in range(60)])
    path = tmp_path / "x.json"
    path.write_text(audit(rows, AuditSpec(decision="d", positive=["Y"], protected=["g"])).to_json())
    _, out, _ = run(["compare", path, path, "--all"])
    assert "\x1b" not in out and "evil?[2Jgroup" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "Cannot read '{path}': No such file or directory"),
        ("{not json", "Cannot use '{path}' as a ParityLab audit result: The audit result is not valid JSON"),
        ('{"schema_version": 2, "attributes": {}}', "has schema_version 2; this version of ParityLab reads version 1"),
        ('{"schema_version": 1, "attributes": {}}', "as a ParityLab audit result: The result has no field 'dataset'"),
    ],
)
def test_bad_input_exits_2_naming_the_file(results, tmp_path, content, message):
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    code, out, err = run(["compare", results["before"], bad])
    assert (code, out) == (2, "")
    assert err.startswith("error: ") and message.format(path=bad) in err
    assert str(bad) in err


def test_bad_options_exit_2(results):
    code, out, err = run(["compare", results["before"], results["before"], "--tolerance", "-1"])
    assert (code, out) == (2, "")
    assert "argument --tolerance: expects a number between 0 and 1, such as 0.02; got '-1'" in err
    code, out, err = run(["compare", results["before"], results["before"], "--json", "-", "--html", "-"])
    assert (code, out) == (2, "") and "cannot both write to standard output" in err
    code, _, err = run(["compare", results["before"]])
    assert code == 2 and "the following arguments are required: AFTER.json" in err


def test_a_worsening_beyond_tolerance_that_is_not_significant_fails_unless_significance_is_required(tmp_path):
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(small_audit({"a": 0.6, "b": 0.55}).to_json())  # 40 rows a group: b's DI 0.917 -> 0.75
    after.write_text(small_audit({"a": 0.6, "b": 0.45}).to_json())
    code, out, err = run(["compare", before, after, "--fail-on-regression"])
    assert code == 1
    assert (
        "Regression: g, group b, disparate_impact went from 0.917 to 0.750 (change -0.167; not significant, q = " in err
    )
    assert "got worse beyond tolerance (0.02; disparate impact 0.02)." in out
    code, out, err = run(["compare", before, after, "--fail-on-regression", "--require-significance"])
    assert (code, err) == (0, "")
    assert "No fairness metric got worse beyond tolerance (0.02; disparate impact 0.02) and significantly" in out
    settings = json.loads(run(["compare", before, after, "--require-significance", "--json", "-"])[1])["settings"]
    assert settings["require_significance"] is True
    assert json.loads(run(["compare", before, after, "--json", "-"])[1])["settings"]["require_significance"] is False


def test_the_old_ignore_significance_flag_is_accepted_and_said_to_be_the_default(results):
    code, out, err = run(["compare", results["before"], results["after"], "--ignore-significance"])
    default = run(["compare", results["before"], results["after"]])
    assert code == default[0] == 0 and out == default[1]
    assert "--ignore-significance is the default now" in err


EXPECTED_AUDIT = (
    "is not a ParityLab audit result: expected a JSON object with 'schema_version', 'dataset' and 'attributes' "
    "(written by `python -m analysis audit DATA --spec SPEC.json --json OUT`), got "
)


@pytest.mark.parametrize(
    ("content", "got"),
    [
        ("{}", "an object with keys []."),
        ('{"rows": [], "settings": {}}', 'an object with keys ["rows", "settings"].'),
        ('{"attributes": {}}', 'an object with keys ["attributes"].'),
        ('{"k\\u001b[2J": 1}', 'an object with keys ["k\\u001b[2J"].'),
        (
            json.dumps({f"k{i}": i for i in range(12)}),
            f"an object with keys {json.dumps([f'k{i}' for i in range(10)])} and 2 more.",
        ),
        ("[1, 2]", "a list of 2 items."),
        ("[]", "a list of 0 items."),
        ("42", "a number."),
        ("-0.5", "a number."),
        ('"audit"', "a string."),
        ("true", "the value true."),
        ("null", "null."),
    ],
)
def test_a_file_that_is_not_an_audit_result_says_what_it_holds(results, tmp_path, content, got):
    bad = tmp_path / "BEFORE.json"
    bad.write_text(content)
    for argv in (["compare", bad, results["after"]], ["compare", results["before"], bad, "--fail-on-regression"]):
        code, out, err = run(argv)
        assert (code, out) == (2, "")
        assert err.startswith(f"error: '{bad}' {EXPECTED_AUDIT}") and err.endswith(f", got {got}\n")
        assert len(err.splitlines()) == 1
        assert "\x1b" not in err


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d["attributes"]["ethnicity"]["groups"]["B"]["counts"].update(tp=-3), '"B"].counts.tp is -3; counts'),
        (lambda d: d["attributes"]["ethnicity"]["groups"]["B"]["counts"].update(tp=1.5), '"B"].counts.tp is 1.5;'),
        (lambda d: d["attributes"]["ethnicity"]["groups"]["B"]["counts"].update(n=7), "counts.n is 7 but the group's"),
        (lambda d: d["attributes"]["ethnicity"]["groups"]["B"]["favorable_rate"].update(value="0.5"), 'the text "0.5"'),
        (lambda d: d["attributes"]["ethnicity"]["summary"].pop("status"), '"ethnicity"].summary has no field'),
        (lambda d: d.update(schema_version=3), "has schema_version 3; this version of ParityLab reads version 1"),
    ],
)
def test_a_damaged_result_exits_2_naming_the_file_and_field(results, tmp_path, damage, message):
    data = json.loads(Path(results["before"]).read_text())
    damage(data)
    bad = tmp_path / "before.json"
    bad.write_text(json.dumps(data))  # NaN would be written as the literal NaN, which Python's json reads
    for argv in (["compare", bad, results["after"]], ["compare", results["after"], bad, "--fail-on-regression"]):
        code, out, err = run(argv)
        assert (code, out) == (2, "")
        assert err.startswith(f"error: Cannot use '{bad}' as a ParityLab audit result: ") and message in err
        assert "Traceback" not in err and len(err.splitlines()) == 1


def test_a_result_with_nan_written_by_hand_exits_2(results, tmp_path):
    text = Path(results["before"]).read_text()
    bad = tmp_path / "before.json"
    bad.write_text(text.replace('"n": 4395', '"n": NaN', 1))
    code, out, err = run(["compare", bad, results["after"]])
    assert (code, out) == (2, "") and '.groups["B"].n is NaN; counts must be whole numbers of at least 0' in err


def test_a_truncated_result_exits_2(results, tmp_path):
    text = Path(results["before"]).read_text()
    bad = tmp_path / "before.json"
    bad.write_text(text[: len(text) * 2 // 3])
    code, out, err = run(["compare", bad, results["after"]])
    assert (code, out) == (2, "") and "is not valid JSON (" in err and "it may have been cut short" in err
