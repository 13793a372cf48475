"""Tests of ``python -m analysis tables``: the JSON and CSV are the engine's, text by default, exit 2 on bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from analysis import AuditSpec, load_table
from analysis.bias_tables import bias_tables
from analysis.cli import main
from analysis.exports import csv_bytes
from tests.analysis.test_cli import only_notes

ROOT = Path(__file__).resolve().parents[2]
LOANS = ROOT / "sample_data" / "loan_approvals.csv"
SPEC = AuditSpec(decision="approved", positive=("Y",), score="model_score", protected=("gender", "ethnicity", "region"))


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def spec_path(tmp_path) -> Path:
    path = tmp_path / "spec.json"
    SPEC.save(path)
    return path


@pytest.fixture(scope="module")
def loans() -> pd.DataFrame:
    return load_table(LOANS).data


@pytest.mark.parametrize("fmt", ["ll144", "four-fifths"])
def test_json_and_csv_are_the_engines(fmt, spec_path, tmp_path, loans):
    json_path, csv_path = tmp_path / "t.json", tmp_path / "t.csv"
    code, out, err = run(
        ["tables", LOANS, "--spec", spec_path, "--format", fmt, "--json", json_path, "--csv", csv_path]
    )
    assert code == 0 and only_notes(err)
    expected = bias_tables(loans, SPEC, format=fmt)
    assert json.loads(json_path.read_text(encoding="utf-8")) == json.loads(expected.to_json())
    assert csv_path.read_bytes() == csv_bytes(expected.to_frame())
    assert "note: sex column 'gender', guessed from its name (--sex COL to choose)" in err
    assert out.startswith(f"ParityLab {expected.title} of loan_approvals.csv (selection mode; selection rate")
    assert "Note: gender: 197 individuals with an unknown category" in out


def test_text_shows_every_table_and_the_four_fifths_verdict(spec_path):
    code, out, _ = run(["tables", LOANS, "--spec", spec_path, "--format", "four-fifths"])
    assert code == 0
    assert "ethnicity  (0 of unknown category, left out): four-fifths ratio 0.714, fails the four-fifths rule" in out
    assert "gender × ethnicity  (197 of unknown category, left out)" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("B "))
    assert "48.6%" in line and "0.714" in line and "below four-fifths" in line


def test_json_to_stdout_is_only_json(spec_path, loans):
    code, out, _ = run(["tables", LOANS, "--spec", spec_path, "--format", "ll144", "--race", "region", "--json", "-"])
    assert code == 0
    data = json.loads(out)
    assert data == bias_tables(loans, SPEC, race="region").to_dict()
    assert list(data["tables"]) == ["gender", "region", "gender × region"]


def test_scoring_mode_reports_the_median(spec_path, loans):
    code, out, _ = run(["tables", LOANS, "--spec", spec_path, "--format", "ll144", "--mode", "scoring", "--json", "-"])
    assert code == 0
    data = json.loads(out)
    median = float(loans["model_score"].median())
    assert data["mode"] == "scoring" and data["median_score"] == pytest.approx(median)


def test_csv_neutralises_formulas(tmp_path):
    df = pd.DataFrame({"sex": ["=cmd()", "F"] * 40, "race": ["a", "b"] * 40, "hired": ["Y", "N", "N", "Y"] * 20})
    data, spec = tmp_path / "d.csv", tmp_path / "s.json"
    df.to_csv(data, index=False)
    AuditSpec(decision="hired", positive=("Y",), protected=("sex", "race")).save(spec)
    code, out, _ = run(["tables", data, "--spec", spec, "--format", "ll144", "--csv", "-"])
    assert code == 0
    assert "\n" + "sex,'=cmd()," in out and "\nsex,=cmd()" not in out


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (
            ["--format", "ll144", "--sex", "age"],
            "error: Sex column 'age' is not one of the spec's protected attributes",
        ),
        (["--format", "ll144", "--sex", "age"], "pass --sex"),
        (["--format", "ll144", "--race", "gender"], "are both 'gender'"),
        (["--format", "eeoc"], "argument --format: invalid choice: 'eeoc'"),
        ([], "the following arguments are required: --format"),
        (["--format", "four-fifths", "--mode", "scoring"], "for scoring rates use format='ll144'"),
        (["--format", "ll144", "--json", "-", "--csv", "-"], "cannot both write to standard output"),
    ],
)
def test_bad_options_exit_2_with_nothing_on_stdout(extra, words, spec_path):
    code, out, err = run(["tables", LOANS, "--spec", spec_path, *extra])
    assert code == 2 and out == ""
    assert words in err


def test_a_missing_spec_file_exits_2(tmp_path):
    code, out, err = run(["tables", LOANS, "--spec", tmp_path / "none.json", "--format", "ll144"])
    assert code == 2 and out == "" and "Cannot read spec file" in err
