"""Reproducible audit records: spec, data hash, versions and timestamp in the JSON; same input, same JSON;
a spec made on other data warns (CLI, validate_spec, audit) but still runs."""

import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest

import analysis
from analysis.audit import AuditResult, audit, library_versions
from analysis.cli import main
from analysis.errors import ParityLabError, SpecError
from analysis.loading import load_table
from analysis.spec import AuditSpec
from analysis.validation import dataset_mismatch, validate_spec
from tests.analysis.test_cli import only_notes

ROOT = Path(__file__).resolve().parents[2]
LOANS = ROOT / "sample_data" / "loan_approvals.csv"
TICKETS = ROOT / "sample_data" / "support_tickets.csv"
SPEC = AuditSpec(
    decision="approved", positive=["Y"], label="repaid", label_positive=[1], protected=["ethnicity", "gender"]
)
OTHER_HASH = "ab" * 32


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def loans_sha256():
    return load_table(LOANS).report.sha256


@pytest.fixture(scope="module")
def small():
    df = pd.DataFrame({"g": ["a", "b"] * 40, "d": ["Y", "N", "Y", "Y"] * 20})
    return df, AuditSpec(decision="d", positive=["Y"], protected=["g"])


# --- the same audit twice ---------------------------------------------------------------


def test_the_cli_reproduces_the_same_json_except_the_timestamp(tmp_path):
    spec_path = tmp_path / "spec.json"
    SPEC.save(spec_path)
    texts = []
    for i in range(2):
        out = tmp_path / f"audit{i}.json"
        code, _, err = run(["audit", LOANS, "--spec", spec_path, "--json", out])
        assert code == 0 and only_notes(err)
        texts.append(out.read_text(encoding="utf-8"))
    first, second = (json.loads(t) for t in texts)
    assert first.pop("created_at") and second.pop("created_at")
    assert first == second
    # as text too: same key order, same float formatting, only the created_at line differs
    lines = [[line for line in t.splitlines() if not line.startswith('  "created_at": ')] for t in texts]
    assert lines[0] == lines[1]
    assert len(lines[0]) == len(texts[0].splitlines()) - 1


@pytest.mark.slow
def test_separate_processes_with_other_hash_seeds_write_the_same_json(tmp_path):
    """Nothing depends on set or dict order that Python randomises per process (score, bins, calibration too)."""
    data = tmp_path / "loans.csv"
    data.write_text("".join(LOANS.read_text().splitlines(keepends=True)[:4001]))
    spec_path = tmp_path / "spec.json"
    spec = AuditSpec.from_dict(
        {**SPEC.to_dict(), "score": "model_score", "protected": ["ethnicity", {"column": "age", "bins": [25, 40, 60]}]}
    )
    spec.save(spec_path)
    texts = []
    for seed in ("1", "2"):
        out = tmp_path / f"audit{seed}.json"
        command = [sys.executable, "-m", "analysis", "audit", str(data), "--spec", str(spec_path), "--json", str(out)]
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT, env=env)
        texts.append([line for line in out.read_text().splitlines() if not line.startswith('  "created_at": ')])
    assert texts[0] == texts[1]
    assert any('"calibration": {' in line for line in texts[0])


def test_the_json_records_spec_hash_versions_and_time(tmp_path, loans_sha256):
    spec_path = tmp_path / "spec.json"
    SPEC.save(spec_path)
    code, out, _ = run(["audit", LOANS, "--spec", spec_path, "--json", "-"])
    assert code == 0
    data = json.loads(out)
    assert data["schema_version"] == 1
    assert AuditSpec.from_dict(data["spec"]) == SPEC
    assert data["dataset"]["sha256"] == loans_sha256
    versions = data["versions"]
    assert list(versions) == ["paritylab", "python", "numpy", "pandas", "pyarrow"]
    assert versions["paritylab"] == analysis.__version__
    assert versions["pandas"] == metadata.version("pandas") == pd.__version__
    assert re.fullmatch(r"3\.\d+\.\d+", versions["python"])
    created = datetime.fromisoformat(data["created_at"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["created_at"])
    assert created.tzinfo is not None and abs(datetime.now(UTC) - created) < timedelta(minutes=5)
    assert list(data)[:3] == ["schema_version", "created_at", "versions"]


def test_versions_of_a_missing_library_say_so():
    assert library_versions(("surely-not-installed-lib",))["surely-not-installed-lib"] == "not installed"


def test_an_old_result_without_the_new_fields_still_reads(small):
    df, spec = small
    data = audit(df, spec).to_dict()
    del data["created_at"], data["versions"], data["spec"]["dataset_sha256"]
    old = AuditResult.from_dict(data)
    assert old.created_at is None and old.versions == {}
    assert old.spec == spec
    # and it writes the new fields as null / empty, then round-trips unchanged
    again = old.to_dict()
    assert again["created_at"] is None and again["versions"] == {}
    assert AuditResult.from_json(json.dumps(again)).to_dict() == again


def test_a_malformed_result_fails_with_a_clear_error(small):
    df, spec = small
    data = audit(df, spec).to_dict()
    del data["dataset"]["rows"]
    with pytest.raises(ParityLabError, match=r"^dataset has no field 'rows'\. The file was edited or damaged"):
        AuditResult.from_dict(data)
    data = audit(df, spec).to_dict()
    data["attributes"]["g"]["groups"] = [1]
    with pytest.raises(ParityLabError, match=r'^attributes\["g"\].groups is a list; it must be an object'):
        AuditResult.from_dict(data)


# --- the spec records the data it was made on -------------------------------------------


def test_spec_hash_round_trips_and_is_checked():
    spec = AuditSpec.from_dict({**SPEC.to_dict(), "dataset_sha256": OTHER_HASH.upper()})
    assert spec.dataset_sha256 == OTHER_HASH
    assert AuditSpec.from_json(spec.to_json()) == spec
    assert SPEC.to_dict()["dataset_sha256"] is None
    assert AuditSpec.from_json('{"decision": "d", "positive": "Y"}').dataset_sha256 is None
    with pytest.raises(SpecError, match="'dataset_sha256' must be the SHA-256 of the data file"):
        AuditSpec(decision="d", dataset_sha256="abc")


def test_suggest_records_the_file_hash():
    code, out, _ = run(["suggest", TICKETS])
    assert code == 0
    assert AuditSpec.from_json(out).dataset_sha256 == load_table(TICKETS).report.sha256


def test_dataset_mismatch_names_both_hashes(loans_sha256):
    spec = AuditSpec(decision="d", dataset_sha256=OTHER_HASH)
    problem = dataset_mismatch(spec, loans_sha256, dataset_name="loans.csv")
    assert problem.severity == "warning" and problem.field == "dataset_sha256"
    assert problem.message == (
        f"This spec was made on data with SHA-256 {OTHER_HASH[:12]}…, but 'loans.csv' has SHA-256 "
        f"{loans_sha256[:12]}…: it is not the same file, so groups, values or rows may differ."
    )
    assert "ParityLab uses the spec anyway" in problem.fix
    assert dataset_mismatch(spec, OTHER_HASH) is None
    assert dataset_mismatch(spec, None) is None
    assert dataset_mismatch(AuditSpec(decision="d"), loans_sha256) is None


def test_validate_spec_warns_on_other_data_but_passes(small):
    df, spec = small
    recorded = AuditSpec.from_dict({**spec.to_dict(), "dataset_sha256": OTHER_HASH})
    check = validate_spec(df, recorded, dataset_sha256="cd" * 32)
    assert check.ok
    (warning,) = [p for p in check.warnings if p.field == "dataset_sha256"]
    assert f"SHA-256 {OTHER_HASH[:12]}…" in warning.message and f"SHA-256 {'cd' * 6}…" in warning.message
    assert not [p for p in validate_spec(df, recorded).problems if p.field == "dataset_sha256"]
    assert not [
        p for p in validate_spec(df, recorded, dataset_sha256=OTHER_HASH).problems if p.field == "dataset_sha256"
    ]


def test_audit_records_the_mismatch_in_its_warnings(small):
    df, spec = small
    recorded = AuditSpec.from_dict({**spec.to_dict(), "dataset_sha256": OTHER_HASH})
    result = audit(df, recorded, dataset_sha256="cd" * 32)
    assert any(w.startswith(f"This spec was made on data with SHA-256 {OTHER_HASH[:12]}") for w in result.warnings)
    # without the file's hash, the table's own hash is not comparable with a file hash: no warning
    assert not any("SHA-256" in w for w in audit(df, recorded).warnings)


def test_cli_audit_warns_on_stderr_and_still_runs(tmp_path, loans_sha256):
    spec_path = tmp_path / "spec.json"
    AuditSpec.from_dict({**SPEC.to_dict(), "dataset_sha256": OTHER_HASH}).save(spec_path)
    code, out, err = run(["audit", LOANS, "--spec", spec_path, "--json", "-"])
    assert code == 0
    assert f"\nwarning: {spec_path}: This spec was made on data with SHA-256 {OTHER_HASH[:12]}…, " in "\n" + err
    assert f"but 'loan_approvals.csv' has SHA-256 {loans_sha256[:12]}…" in err
    assert json.loads(out)["attributes"]["ethnicity"]["reference_group"] == "A"
    # the spec made on this very file: silence
    AuditSpec.from_dict({**SPEC.to_dict(), "dataset_sha256": loans_sha256}).save(spec_path)
    code, _, err = run(["audit", LOANS, "--spec", spec_path])
    assert code == 0 and only_notes(err) and "SHA-256" not in err


@pytest.mark.slow
def test_cli_explain_warns_too(tmp_path):
    rows = pd.DataFrame({"g": ["a", "b"] * 100, "x": list(range(200)), "z": [i % 7 for i in range(200)]})
    rows["d"] = ["Y" if x % 3 else "N" for x in rows["x"]]
    csv, spec_path = tmp_path / "e.csv", tmp_path / "e.json"
    rows.to_csv(csv, index=False)
    AuditSpec(decision="d", positive=["Y"], protected=["g"], dataset_sha256=OTHER_HASH).save(spec_path)
    code, _, err = run(["explain", csv, "--spec", spec_path, "--sample-size", "100"])
    assert code == 0
    assert f"\nwarning: {spec_path}: This spec was made on data with SHA-256 {OTHER_HASH[:12]}…" in "\n" + err
