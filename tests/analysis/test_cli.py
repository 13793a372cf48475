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
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def only_notes(err: str) -> bool:
    """Whether stderr holds only the loader's notes and the spec's warnings (no error, no gate breach)."""
    return all(line.startswith(("note: ", "warning: ")) for line in err.splitlines())


def test_audit_prints_findings_and_exits_0():
    code, out, err = run(LOAN_ARGS)
    assert code == 0 and only_notes(err)
    assert out.startswith("ParityLab audit of loan_approvals.csv (20,000 rows)")
    assert "Those with ethnicity = B are approved at 0.71x the rate of group A" in out
    lines = out.splitlines()
    assert lines[1] == "Largest gap: " + lines[lines.index("ethnicity: reference group A") + 1].removeprefix(
        "  Verdict: "
    )
    assert lines[1].endswith("(49% vs 68%; 95% CI 0.69–0.74; q < 0.001): below four-fifths and significant.")
    gender = lines[lines.index("gender: reference group Female") + 1]
    assert gender.startswith("  Verdict: Those with gender = ") and ": no gap detected (a gap of " in gender


def test_json_to_stdout_is_only_json_and_round_trips():
    code, out, err = run([*LOAN_ARGS, "--json", "-"])
    assert code == 0 and only_notes(err)
    data = json.loads(out)
    assert data["schema_version"] == 1
    assert data["dataset"]["rows"] == 20_000 and len(data["dataset"]["sha256"]) == 64
    assert data["attributes"]["ethnicity"]["reference_group"] == "A"
    assert set(data["intersections"]) == {"ethnicity × gender"}
    di = data["attributes"]["ethnicity"]["groups"]["B"]["disparate_impact"]
    assert di["ci_low"] < di["value"] < di["ci_high"] < 0.8
    # The ranked gaps ride along under their own key, each with its one verdict; the result reads back without it.
    gaps = data.pop("gaps")
    assert [g["attribute"] for g in gaps] == ["ethnicity", "gender", "ethnicity × gender"]
    assert gaps[0]["verdict"]["text"] == "below four-fifths and significant" and gaps[0]["group"] == "B"
    assert gaps[0]["q_value"] == di["q_value"]
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
        "Gate breached: the lowest impact ratio vs the reference group for 'ethnicity' is 0.714 (group B), "
        "below --fail-below-di 0.8." in err
    )
    assert not [line for line in err.splitlines() if line.startswith("Gate") and "'gender'" in line]
    code, _, err = run([*LOAN_ARGS, "--fail-above-eod", "0.1"])
    assert code == 1 and "equalized odds difference for 'ethnicity'" in err
    code, _, err = run([*LOAN_ARGS, "--fail-below-di", "0.5", "--fail-above-eod", "0.5"])
    assert code == 0 and only_notes(err)


def test_eod_gate_without_label_is_a_usage_error_not_a_breach():
    code, out, err = run(["audit", LOANS, "--decision", "approved", "--positive", "Y", "--protected", "gender",
                          "--fail-above-eod", "0.1", "--json", "-"])  # fmt: skip
    assert (code, out) == (2, "")
    assert err.endswith(
        "error: --fail-above-eod checks the equalized odds difference, which needs the true outcome, but the spec "
        "names no label column. Add --label COLUMN --label-positive VALUE (or 'label' in the spec file), or leave "
        "out --fail-above-eod.\n"
    )


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
            "Choose which values mean the positive decision. To fix it, pass --positive ",
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
        (["audit", LOANS, "--confidence", "high"], "argument --confidence: expects a number such as 0.95, got 'high'"),
        (["audit"], "the following arguments are required: DATA"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_exits_2_with_message_on_stderr_and_nothing_on_stdout(argv, message):
    code, out, err = run(argv)
    assert code == 2
    assert out == ""
    notes, _, error = err.partition("error: ")
    assert only_notes(notes) and error  # the loader's notes may come first; then the error
    assert message.lower() in error.lower()


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


@pytest.mark.slow
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
    assert "argument --confidence: expects a number between 0 and 1 (exclusive), such as 0.95; got '95'" in err


@pytest.mark.slow
def test_html_report_from_the_command_line_is_the_engines_report(tmp_path):
    from analysis.loading import load_table
    from analysis.report import render_html

    target = tmp_path / "report.html"
    code, out, err = run([*LOAN_ARGS, "--json", str(tmp_path / "a.json"), "--html", str(target)])
    assert code == 0 and only_notes(err) and out.startswith("ParityLab audit of")
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
    assert re.search(r"warning: (?:messy\.csv: )?Merged 'y' \([\d,]+\) into 'Y' in column 'approved'\.", err)
    assert "pass --merge-variants" not in err
    merged = json.loads(out)
    assert merged["spec"]["merge_variants"] is True
    code, out, _ = run(
        ["audit", LOANS, "--decision", "approved", "--positive", "Y", "--protected", "gender", "--json", "-"]
    )
    clean = json.loads(out)
    assert merged["attributes"] == clean["attributes"]


# --- numeric options: finite, in range, or a usage error ----------------------------------------------

NUMBER_CASES = [
    (["audit", LOANS, "--threshold", "nan"], "--threshold", "expects a finite number such as 0.5, got 'nan'"),
    (["audit", LOANS, "--confidence", "inf"], "--confidence", "expects a finite number such as 0.95, got 'inf'"),
    (["audit", LOANS, "--confidence", "0"], "--confidence", "between 0 and 1 (exclusive), such as 0.95; got '0'"),
    (["audit", LOANS, "--confidence", "1"], "--confidence", "between 0 and 1 (exclusive), such as 0.95; got '1'"),
    (["audit", *LOAN_ARGS[1:], "--fail-below-di", "nan"], "--fail-below-di", "finite number such as 0.8, got 'nan'"),
    (["audit", LOANS, "--fail-below-di", "NaN"], "--fail-below-di", "got 'NaN': NaN or infinity would make the check"),
    (["audit", LOANS, "--fail-below-di", "-0.1"], "--fail-below-di", "of at least 0, such as 0.8; got '-0.1'"),
    (["audit", LOANS, "--fail-above-eod=-inf"], "--fail-above-eod", "finite number such as 0.1, got '-inf'"),
    (["audit", LOANS, "--fail-above-eod", "x"], "--fail-above-eod", "expects a number such as 0.1, got 'x'"),
    (["compare", "a.json", "b.json", "--tolerance", "nan"], "--tolerance", "finite number such as 0.02, got 'nan'"),
    (["compare", "a.json", "b.json", "--tolerance", "2"], "--tolerance", "between 0 and 1, such as 0.02; got '2'"),
    (["compare", "a.json", "b.json", "--di-tolerance", "inf"], "--di-tolerance", "finite number such as 0.05"),
    (["compare", "a.json", "b.json", "--alpha", "nan"], "--alpha", "finite number such as 0.05, got 'nan'"),
    (["compare", "a.json", "b.json", "--alpha", "0"], "--alpha", "between 0 and 1 (exclusive), such as 0.05; got '0'"),
    (["mitigate", LOANS, "--spec", "s.json", "--tolerance", "nan"], "--tolerance", "finite number such as 0.05"),
    (["mitigate", LOANS, "--spec", "s.json", "--cost-fp", "inf"], "--cost-fp", "finite number such as 5, got 'inf'"),
    (["mitigate", LOANS, "--spec", "s.json", "--cost-fp", "-1"], "--cost-fp", "of at least 0, such as 5; got '-1'"),
    (["mitigate", LOANS, "--spec", "s.json", "--benefit-tp", "nan"], "--benefit-tp", "finite number such as 1"),
]


@pytest.mark.parametrize(("argv", "flag", "message"), NUMBER_CASES)
def test_numeric_options_refuse_nan_infinity_and_out_of_range(argv, flag, message):
    code, out, err = run(argv)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: argument {flag}: ") and message in err
    assert len(err.splitlines()) == 1  # refused before any file is read


def test_every_float_option_uses_the_finite_number_type():
    from analysis.cli import _parser

    floats = []
    for action in _parser()._subparsers._group_actions[0].choices.values():
        floats += [a for a in action._actions if a.type is float]
    assert floats == []


def test_a_gate_on_an_attribute_that_cannot_be_audited_does_not_pass(tmp_path):
    data = tmp_path / "one.csv"
    data.write_text("g,d\n" + "a,Y\na,N\n" * 40)
    code, _, err = run(["audit", data, "--decision", "d", "--positive", "Y", "--protected", "g",
                        "--fail-below-di", "0.8"])  # fmt: skip
    assert code == 1
    assert "Gate --fail-below-di could not be checked for 'g': not computable: only one group ('a')" in err


# --- the loader's report: stderr and JSON ----------------------------------------------------------


@pytest.fixture
def padded(tmp_path):
    path = tmp_path / "padded.csv"
    rows = [" Male ,Y", "Female,N", " Male,N", "Female,Y", "?,Y", "Female,Y"] * 20
    path.write_text("gender,approved\n" + "\n".join(rows) + "\n")
    return path


def test_the_loaders_changes_go_to_stderr_and_into_the_json(padded):
    code, out, err = run(["audit", padded, "--decision", "approved", "--positive", "Y", "--protected", "gender",
                          "--json", "-"])  # fmt: skip
    assert code == 0
    assert "note: padded.csv: Trimmed surrounding spaces in 40 cells of 'gender'.\n" in err
    load = json.loads(out)["load"]
    assert (load["format"], load["encoding"], load["delimiter"], load["rows"]) == ("csv", "utf-8", ",", 120)
    assert load["changes"] == [
        {"kind": "trimmed", "column": "gender", "count": 40, "detail": "Trimmed surrounding spaces in 40 cells of "
         "'gender'."}
    ]  # fmt: skip
    assert list(json.loads(out)["attributes"]["gender"]["groups"]) == ["?", "Female", "Male"]  # " Male" is "Male"
    again = AuditResult.from_json(out)
    data = json.loads(out)
    assert data.pop("gaps")[0]["attribute"] == "gender"  # the ranked gaps, which the result does not hold
    assert again.load.changes[0].count == 40 and json.loads(again.to_json()) == data


def test_na_values_are_repeatable_and_reported(padded):
    code, out, err = run(["audit", padded, "--decision", "approved", "--positive", "Y", "--protected", "gender",
                          "--na-values", "?", "--na-values", "-", "--json", "-"])  # fmt: skip
    assert code == 0
    groups = json.loads(out)["attributes"]["gender"]["groups"]
    assert list(groups) == ["Female", "Male", "(missing)"] and groups["(missing)"]["n"] == 20
    assert "note: padded.csv: Treated 20 cells of 'gender' as missing" in err
    assert "warning: padded.csv: Protected attribute 'gender' has 20 missing values" in err
    code, out, _ = run(["suggest", padded, "--na-values", "?"])
    assert code == 0 and AuditSpec.from_json(out).dataset_sha256 is not None


@pytest.fixture
def workbook(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Notes"
    book.active.append(["just", "text"])
    for title, decisions in (("Decisions", "YN"), ("2024", "YYN")):
        sheet = book.create_sheet(title)
        sheet.append(["gender", "approved"])
        for i in range(60):
            sheet.append(["F" if i % 2 else "M", decisions[i % len(decisions)]])
    path = tmp_path / "book.xlsx"
    book.save(path)
    return path


@pytest.mark.parametrize(("sheet", "rows"), [("Decisions", 60), ("2", 60), ("2024", 60), ("3", 60)])
def test_sheet_by_name_or_position(workbook, sheet, rows):
    code, out, _ = run(["audit", workbook, "--sheet", sheet, "--decision", "approved", "--positive", "Y",
                        "--protected", "gender", "--json", "-"])  # fmt: skip
    assert code == 0
    data = json.loads(out)
    assert data["dataset"]["rows"] == rows
    assert data["load"]["sheet"] == ("2024" if sheet in ("2024", "3") else "Decisions")  # a number names no sheet


def test_a_missing_sheet_is_named(workbook):
    code, out, err = run(["audit", workbook, "--sheet", "Nope", "--decision", "approved", "--protected", "gender"])
    assert (code, out) == (2, "") and "has no sheet 'Nope'" in err and "'Decisions'" in err
    code, _, err = run(["audit", workbook, "--sheet", "7", "--decision", "approved", "--protected", "gender"])
    assert code == 2 and "has no sheet '7'" in err  # neither a name nor an index: the name is reported


@pytest.mark.slow
def test_reading_options_on_every_command_that_reads_data():
    for command in ("suggest", "audit", "explain", "mitigate"):
        text = subprocess.run([sys.executable, "-m", "analysis", command, "--help"], capture_output=True, text=True,
                              cwd=ROOT, check=True).stdout  # fmt: skip
        assert "--sheet NAME|N" in text and "--na-values SPELLING" in text


def test_loader_notices_are_worded_for_the_command_line(monkeypatch, padded):
    from dataclasses import replace

    import analysis.loading
    from analysis.wording import Notice, Remedy

    real = analysis.loading.load_table

    def with_notice(*args, **kwargs):
        table = real(*args, **kwargs)
        notice = Notice("'gender' has 20 '?' cells.", Remedy("na_values", "?"))
        return replace(table, report=replace(table.report, warnings=(notice,)))

    monkeypatch.setattr(analysis.loading, "load_table", with_notice)
    code, _, err = run(["audit", padded, "--decision", "approved", "--positive", "Y", "--protected", "gender"])
    assert code == 0
    assert "warning: padded.csv: 'gender' has 20 '?' cells. To fix it, pass --na-values '?'.\n" in err


# --- engine messages in command-line words ------------------------------------------------------------


def test_validation_problems_name_the_flag(tmp_path):
    code, _, err = run(["audit", LOANS, "--decision", "approved", "--protected", "gender"])
    assert code == 2
    assert err.splitlines()[-2:] == [
        "error: The spec does not fit the table:",
        "- Column 'approved' has values ['Y', 'N']; the spec does not say which of them mean the positive decision. "
        "Choose which values mean the positive decision. To fix it, pass --positive Y.",
    ]
    code, _, err = run(["audit", LOANS, "--decision", "model_score", "--positive", "1", "--protected", "gender"])
    assert code == 2 and "or pick the decision column. To fix it, pass --score model_score." in err
    assert "positive=[" not in err and "set score=" not in err


def test_spec_file_problems_name_the_file(tmp_path):
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(
        '{"decision": "approved", "positive": "Y", "protected": [{"column": "age", "bins": [60, 25]}]}'
    )
    code, out, err = run(["audit", LOANS, "--spec", spec_path])
    assert (code, out) == (2, "")
    assert err == (
        f"error: {spec_path}: The bins of protected attribute 'age' must be edges in increasing order without "
        "repeats, e.g. [25, 40, 60]; got [60, 25]. Sort them and drop repeats.\n"
    )


def test_a_spec_saved_by_notepad_as_utf16_works(tmp_path):
    spec_path = tmp_path / "spec.json"
    text = '{"decision": "approved", "positive": ["Y"], "protected": ["gender"]}'
    spec_path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    code, out, _ = run(["audit", LOANS, "--spec", spec_path, "--json", "-"])
    assert code == 0 and list(json.loads(out)["attributes"]) == ["gender"]


def test_per_column_loader_notes_are_said_once_for_many_columns(tmp_path):
    rows = ["g , a , b , c , d"] + [
        f" {'x' if i % 2 else 'y'} , p{i % 3} , q , r{i % 2} , {'YN'[i % 2]}" for i in range(60)
    ]
    rows[5] = " x , , , , Y"  # empty cells in a, b and c: missing in three columns
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(rows) + "\n")
    code, _, err = run(["audit", str(path), "--decision", "d", "--positive", "Y", "--protected", "g", "--json", "-"])
    assert code == 0
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert (  # fewer columns than the shown limit: every column is named
        "note: wide.csv: Trimmed surrounding spaces in the cells of 5 columns: 'g' (60), 'a' (60), 'b' (60), "
        "'c' (60), 'd' (60)." in notes
    )
    assert (
        "note: wide.csv: Treated cells that are empty, or spelled as missing (N/A, NULL, None, NaN, #N/A) as missing "
        "in 3 columns: 'a' (1), 'b' (1), 'c' (1)." in notes
    )
    assert not [line for line in notes if "Trimmed surrounding spaces in 60 cells" in line]


def test_grouped_changes_keep_changes_of_fewer_columns_apart():
    from analysis.loading import Change
    from analysis.loading import grouped_changes as _grouped_changes

    changes = [
        Change("trimmed", "a", 2, "Trimmed surrounding spaces in 2 cells of 'a'."),
        Change("kept_text", "z", 1, "Kept 'z' as text."),
        Change("trimmed", "b", 1, "Trimmed surrounding spaces in 1 cell of 'b'."),
    ]
    assert _grouped_changes(changes) == [c.detail for c in changes]


def test_max_rows_caps_the_file_and_its_remedy_is_the_flag(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("g,d\n" + "a,Y\nb,N\n" * 50)
    args = ["audit", str(path), "--decision", "d", "--positive", "Y", "--protected", "g"]
    code, out, err = run([*args, "--max-rows", "10"])
    assert (code, out) == (2, "") and "has 100 data rows; the limit is 10" in err and "pass --max-rows 100." in err
    code, out, _ = run([*args, "--max-rows", "100", "--json", "-"])
    assert code == 0 and json.loads(out)["dataset"]["rows"] == 100
    code, out, err = run([*args, "--max-rows", "0"])
    assert (code, out) == (2, "") and "--max-rows: expects a whole number of at least 1" in err


def test_suggest_says_each_role_and_why_on_stderr_and_keeps_stdout_the_spec():
    code, out, err = run(["suggest", LOANS])
    assert code == 0 and AuditSpec.from_json(out).decision == "approved"
    roles = [line for line in err.splitlines() if line.startswith("role: ")]
    assert len(roles) == 13  # one per column of the loan sample
    assert "role: 'applicant_id': identifier: every row has its own value" in roles
    assert "role: 'gender': protected attribute: name contains 'gender'; 3 groups" in roles
    assert any(line.startswith("role: 'approved': decision: ") for line in roles)


def test_the_four_fifths_gate_reads_the_four_fifths_ratio_whatever_the_reference(capsys):
    """With reference C the lowest impact ratio vs C is 0.936 (above 0.8), but the four-fifths ratio is 0.714."""
    args = [
        "audit",
        LOANS,
        "--decision",
        "approved",
        "--positive",
        "Y",
        "--protected",
        "ethnicity",
        "--reference",
        "ethnicity=C",
    ]
    assert main([*args, "--fail-below-di", "0.8"]) == 0
    assert main([*args, "--fail-four-fifths"]) == 1
    out, err = capsys.readouterr()
    assert "its four-fifths ratio (lowest ÷ highest favourable rate) is 0.714, below 0.8 (--fail-four-fifths)" in err
    assert "Four-fifths ratio (lowest ÷ highest favourable rate) 0.714: below four-fifths and significant" in out
    # The verdict compares the worst-treated group with the best-treated one, whatever the reference.
    assert "  Verdict: Those with ethnicity = B are approved at 0.71x the rate of those with ethnicity = A (" in out
    assert "lowest impact ratio vs the reference group 0.936" in out


def test_an_attribute_with_one_group_says_not_computable_once_per_line(tmp_path):
    data, spec = tmp_path / "one.csv", tmp_path / "one-spec.json"
    data.write_text("sex,g,approved\n" + "".join(f"F,{'ab'[i % 2]},{'YN'[i % 3 == 0]}\n" for i in range(60)))
    AuditSpec(decision="approved", positive=("Y",), protected=("sex", "g")).save(spec)
    code, out, _ = run(["audit", data, "--spec", spec])
    assert code == 0
    assert "  not computable: only one group ('F'); there is nothing to compare it with" in out
    assert "not computable: not computable" not in out


@pytest.mark.parametrize("command", ["audit", "suggest"])
def test_an_unrecognised_argument_points_to_its_commands_help(command):
    code, out, err = run([command, "data.csv", "--bogus"])
    assert code == 2 and out == ""
    assert f"unrecognized arguments: --bogus. See 'python -m analysis {command} --help'." in err
    code, _, err = run([])
    assert code == 2 and "See 'python -m analysis --help'." in err
