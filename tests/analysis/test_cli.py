import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.audit import AuditResult
from analysis.cli import main
from analysis.spec import AuditSpec

ROOT = Path(__file__).resolve().parents[2]
LOANS = str(ROOT / "sample_data" / "loan_approvals.csv")
TICKETS = str(ROOT / "sample_data" / "support_tickets.csv")
LOAN_ARGS = [
    "audit", LOANS, "--decision", "approved", "--positive", "Y", "--label", "repaid", "--label-positive", "1",
    "--protected", "ethnicity", "--protected", "gender",
]  # fmt: skip


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_audit_prints_findings_and_exits_0():
    code, out, err = run(LOAN_ARGS)
    assert (code, err) == (0, "")
    assert out.startswith("ParityLab audit of loan_approvals.csv (20,000 rows)")
    assert "Those with ethnicity = B are approved at 0.71x the rate of group A" in out


def test_json_to_stdout_is_only_json_and_round_trips():
    code, out, err = run([*LOAN_ARGS, "--json", "-"])
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["schema_version"] == 1
    assert data["dataset"]["rows"] == 20_000 and len(data["dataset"]["sha256"]) == 64
    assert data["attributes"]["ethnicity"]["reference_group"] == "A"
    assert set(data["intersections"]) == {"ethnicity × gender"}
    di = data["attributes"]["ethnicity"]["groups"]["B"]["disparate_impact"]
    assert di["ci_low"] < di["value"] < di["ci_high"] < 0.8
    assert AuditResult.from_dict(data).to_dict() == data


def test_json_file_and_spec_file(tmp_path):
    spec_path = tmp_path / "spec.json"
    AuditSpec(decision="approved", positive=["Y"], protected=["ethnicity"]).save(spec_path)
    out_path = tmp_path / "audit.json"
    code, out, _ = run(["audit", LOANS, "--spec", str(spec_path), "--json", str(out_path)])
    assert code == 0
    data = json.loads(out_path.read_text())
    assert list(data["attributes"]) == ["ethnicity"]
    assert "ethnicity" in out  # the human summary still goes to stdout
    # command-line options override the spec file's fields
    code, out, _ = run(["audit", LOANS, "--spec", str(spec_path), "--protected", "gender", "--json", "-"])
    assert list(json.loads(out)["attributes"]) == ["gender"]


def test_bins_and_reference():
    code, out, _ = run([*LOAN_ARGS[:2], "--decision", "approved", "--positive", "Y", "--protected", "age",
                        "--bins", "age=25,40,60", "--reference", "age=40–60", "--json", "-"])  # fmt: skip
    assert code == 0
    age = json.loads(out)["attributes"]["age"]
    assert list(age["groups"]) == ["<25", "25–40", "40–60", "≥60"]
    assert age["reference_group"] == "40–60"


def test_gates_exit_1_and_name_the_breach():
    code, _out, err = run([*LOAN_ARGS, "--fail-below-di", "0.8"])
    assert code == 1
    assert (
        "Gate breached: disparate impact for 'ethnicity' is 0.714 (lowest group B), below --fail-below-di 0.8." in err
    )
    assert "'gender'" not in err
    code, _, err = run([*LOAN_ARGS, "--fail-above-eod", "0.1"])
    assert code == 1 and "equalized odds difference for 'ethnicity'" in err
    code, _, err = run([*LOAN_ARGS, "--fail-below-di", "0.5", "--fail-above-eod", "0.5"])
    assert (code, err) == (0, "")


def test_eod_gate_without_label_cannot_pass_silently():
    code, _, err = run(["audit", LOANS, "--decision", "approved", "--positive", "Y", "--protected", "gender",
                        "--fail-above-eod", "0.1"])  # fmt: skip
    assert code == 1
    assert "could not be checked for 'gender'" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["audit", "nope.csv", "--decision", "a", "--protected", "b"], "Could not open nope.csv"),
        (
            ["audit", LOANS, "--decision", "aproved", "--positive", "Y", "--protected", "gender"],
            "The decision column 'aproved' is not in the table (did you mean 'approved'?)",
        ),
        (
            ["audit", LOANS, "--decision", "approved", "--protected", "gender"],
            "choose which values mean the positive decision (e.g. --positive",
        ),
        (["audit", LOANS], "Suggested from the columns of loan_approvals.csv:\n  --decision approved --positive Y"),
        (
            ["audit", LOANS, "--decision", "approved", "--positive", "Y", "--protected", "gender", "--bins", "age"],
            "--bins expects COLUMN=VALUE",
        ),
        (
            ["audit", LOANS, "--decision", "approved", "--positive", "Y", "--protected", "age", "--bins", "age=a,b"],
            "--bins for 'age' expects numbers separated by commas",
        ),
        (["audit", LOANS, "--confidence", "high"], "invalid float value: 'high'"),
        (["audit"], "the following arguments are required: DATA"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_exits_2_with_message_on_stderr_and_nothing_on_stdout(argv, message):
    code, out, err = run(argv)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert message.lower() in err.lower()


def test_suggest_prints_a_usable_spec(tmp_path):
    code, out, _ = run(["suggest", TICKETS])
    assert code == 0
    spec = AuditSpec.from_json(out)
    assert (spec.decision, spec.positive) == ("ai_priority", ("P1", "P2"))
    spec_path = tmp_path / "s.json"
    spec_path.write_text(out)
    code, out, _ = run(["audit", TICKETS, "--spec", str(spec_path), "--json", "-"])
    assert code == 0
    assert "customer_language" in json.loads(out)["attributes"]


def test_module_entry_point_help_and_exit_codes():
    help_text = subprocess.run(
        [sys.executable, "-m", "analysis", "audit", "--help"], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    for option in ("--decision", "--positive", "--unfavorable", "--label-positive", "--threshold", "--bins",
                   "--reference", "--spec", "--json", "--fail-below-di", "--fail-above-eod"):  # fmt: skip
        assert option in help_text
    assert "examples:" in help_text and "--bins age=25,40,60" in help_text
    bad = subprocess.run([sys.executable, "-m", "analysis", "audit", "missing.csv"], capture_output=True, text=True,
                         cwd=ROOT)  # fmt: skip
    assert (bad.returncode, bad.stdout) == (2, "")


def test_bad_option_value_is_bad_input():
    code, out, err = run([*LOAN_ARGS, "--confidence", "95"])
    assert (code, out) == (2, "")
    assert "confidence must be a number between 0 and 1, got 95.0" in err


def test_html_report_from_the_command_line_is_the_engines_report(tmp_path):
    from analysis.loading import load_table
    from analysis.report import render_html

    target = tmp_path / "report.html"
    code, out, err = run([*LOAN_ARGS, "--json", str(tmp_path / "a.json"), "--html", str(target)])
    assert (code, err) == (0, "") and out.startswith("ParityLab audit of")
    html = target.read_text(encoding="utf-8")
    result = AuditResult.from_json((tmp_path / "a.json").read_text())
    expected = render_html(result, load_report=load_table(LOANS).report)
    # Identical but for the moment each was made.
    strip = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|\+00:00)?")
    assert strip.sub("T", html) == strip.sub("T", expected)
    assert result.dataset.sha256 in html and "default-src 'none'" in html


def test_json_and_html_cannot_both_go_to_standard_output():
    code, out, err = run([*LOAN_ARGS, "--json", "-", "--html", "-"])
    assert (code, out) == (2, "") and "Only one of --json and --html" in err


def test_merge_variants_flag_merges_and_the_warnings_say_so(tmp_path):
    lines = Path(LOANS).read_text().splitlines()
    header, rows = lines[0], lines[1:]
    # Every 10th approval spelled 'y', every 13th gender with a zero-width space: counted apart unless merged.
    messy = [r[:-3] + "y" + r[-2:] if i % 10 == 0 and r[-3] == "Y" else r for i, r in enumerate(rows)]
    messy = [r.replace(",Female,", ",Female\u200b,", 1) if i % 13 == 0 else r for i, r in enumerate(messy)]
    path = tmp_path / "messy.csv"
    path.write_text("\n".join([header, *messy]) + "\n", encoding="utf-8")
    args = ["audit", str(path), "--decision", "approved", "--positive", "Y", "--protected", "gender"]
    code, out, err = run([*args, "--json", "-"])
    assert code == 0
    assert "include 'Y' but not 'y' (" in err and "To fix it, pass --merge-variants." in err
    assert "'Female\\u200b' (" in err
    apart = json.loads(out)
    assert "Female\u200b" in apart["attributes"]["gender"]["groups"]
    code, out, err = run([*args, "--json", "-", "--merge-variants"])
    assert code == 0
    assert re.search(r"warning: Merged 'y' \([\d,]+\) into 'Y' in column 'approved'\.", err)
    assert "pass --merge-variants" not in err
    merged = json.loads(out)
    assert merged["spec"]["merge_variants"] is True
    code, out, _ = run(
        ["audit", LOANS, "--decision", "approved", "--positive", "Y", "--protected", "gender", "--json", "-"]
    )
    clean = json.loads(out)
    assert merged["attributes"] == clean["attributes"]
