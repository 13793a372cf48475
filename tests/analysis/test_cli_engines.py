"""Tests of the command line on every engine: ``--engine pandas|duckdb|spark`` give the same JSON (except
``created_at`` and ``engine``), the automatic choice is said on stderr, folders and globs are read, errors are one
line with exit code 2, suggest and explain say what they sampled, and mitigate --export writes every row."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main
from analysis.spec import AuditSpec
from tests.helpers_json import assert_same_json, without

SPEC = {
    "decision": "approved",
    "positive": ["Y"],
    "label": "repaid",
    "label_positive": [1],
    "score": "score",
    "protected": [
        {"column": "gender"},
        {"column": "ethnicity", "reference": "A"},
        {"column": "age", "bins": [30, 50]},
    ],
    "id_columns": ["id"],
}
# A decision of three ordered values, and a protected attribute binned at its quartiles (computed over every row).
TIERS = {
    "decision": "tier",
    "positive": ["High", "Medium"],
    "protected": [{"column": "ethnicity"}, {"column": "income", "quantiles": 4}],
}
VOLATILE = ("created_at", "engine")


def run(argv: list[object]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def decisions(n: int = 3_000, seed: int = 1) -> pd.DataFrame:
    """Decisions with missing values, a missing group, unlabeled rows, a three-valued decision and a numeric age."""
    rng = np.random.default_rng(seed)
    ethnicity = rng.choice(["A", "B", "C"], n, p=[0.6, 0.3, 0.1])
    gender = rng.choice(["F", "M", ""], n, p=[0.46, 0.46, 0.08])  # empty: the (missing) group
    score = np.round(rng.random(n) - 0.08 * (ethnicity == "B"), 3)  # ties, as real scores have
    approved = np.where(score >= 0.5, "Y", "N").astype(object)
    approved[rng.random(n) < 0.03] = None  # undecided rows: left out of the audit, and counted as such
    repaid = np.where(rng.random(n) < 0.4 + 0.4 * score, 1.0, 0.0)
    repaid[rng.random(n) < 0.2] = np.nan  # unlabeled rows
    age = rng.integers(18, 80, n).astype(float)
    age[rng.random(n) < 0.05] = np.nan
    income = np.round(rng.lognormal(10, 0.5, n), 2)
    tier = np.where(score > 0.7, "High", np.where(score > 0.4, "Medium", "Low"))
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "approved": approved,
            "repaid": repaid,
            "score": score,
            "gender": pd.Series(gender).replace("", None),
            "ethnicity": ethnicity,
            "age": age,
            "income": income,
            "tier": tier,
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """The same decisions as CSV, as Parquet, and split into a folder of Parquet parts; the specs beside them."""
    root = tmp_path_factory.mktemp("engines")
    df = decisions()
    df.to_csv(root / "decisions.csv", index=False)
    df.to_parquet(root / "decisions.parquet", index=False)
    parts = root / "parts"
    parts.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(df)), 3)):
        df.iloc[part].to_parquet(parts / f"part-{i}.parquet", index=False)
    AuditSpec.from_dict(SPEC).save(root / "spec.json")
    AuditSpec.from_dict(TIERS).save(root / "tiers.json")
    return {
        "root": root,
        "csv": root / "decisions.csv",
        "parquet": root / "decisions.parquet",
        "parts": parts,
        "spec": root / "spec.json",
        "tiers": root / "tiers.json",
    }


def audit_json(data: Path, spec: Path, *engine: str) -> tuple[dict, str]:
    code, out, err = run(["audit", data, "--spec", spec, "--json", "-", *engine])
    assert code == 0, err
    return json.loads(out), err


def without_source(data: dict) -> dict:
    """The result without what names how it was read (the load report, the file's hash and name)."""
    out = without(data, (*VOLATILE, "load"))
    out["dataset"] = without(out["dataset"], ("sha256", "name"))
    return out


# --- audit: the same JSON on every engine ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize("spec", ["spec", "tiers"])
def test_audit_json_is_the_same_on_pandas_and_duckdb(files, kind, spec):
    pandas_result, pandas_err = audit_json(files[kind], files[spec], "--engine", "pandas")
    duck_result, duck_err = audit_json(files[kind], files[spec], "--engine", "duckdb")
    assert (pandas_result["engine"], duck_result["engine"]) == ("pandas", "duckdb")
    # A CSV file's load report differs as the engine's docstring says (DuckDB sniffs the dialect and types the
    # counted columns only); everything audited is the same, and a Parquet file's report too.
    volatile = (*VOLATILE, "load") if kind == "csv" else VOLATILE
    assert_same_json(without(pandas_result, volatile), without(duck_result, volatile))
    pandas_load, duck_load = pandas_result["load"], duck_result["load"]
    assert [pandas_load[k] for k in ("rows", "columns", "sha256")] == [
        duck_load[k] for k in ("rows", "columns", "sha256")
    ]
    assert pandas_result["dataset"]["rows"] == duck_result["dataset"]["rows"] == 3_000
    assert pandas_result["dataset"]["sha256"] == duck_result["dataset"]["sha256"]
    assert "Using the" not in pandas_err + duck_err  # an engine asked for is not announced


def test_na_values_reach_the_engine(tmp_path):
    df = decisions(600)
    df["ethnicity"] = df["ethnicity"].where(df.index % 7 != 0, "?")
    path, spec = tmp_path / "marked.csv", tmp_path / "spec.json"
    df.to_csv(path, index=False)
    AuditSpec.from_dict(SPEC).save(spec)
    results = [audit_json(path, spec, "--engine", engine, "--na-values", "?")[0] for engine in ("pandas", "duckdb")]
    assert_same_json(without(results[0], (*VOLATILE, "load")), without(results[1], (*VOLATILE, "load")))
    groups = results[1]["attributes"]["ethnicity"]["groups"]
    marked = (df.index % 7 == 0) & df["approved"].notna()  # the group's decided rows: its n
    assert "?" not in groups and groups["(missing)"]["n"] == marked.sum() > 70


def test_the_text_summary_names_the_engine_and_its_rows(files):
    code, out, _ = run(["audit", files["parquet"], "--spec", files["spec"], "--engine", "duckdb"])
    first = out.splitlines()[0]
    assert code == 0 and first.startswith("ParityLab audit of decisions.parquet (3,000 rows counted by DuckDB into ")
    combinations = int(first.split(" into ")[1].split()[0].replace(",", ""))
    assert 1_000 < combinations < 3_000  # fewer than the rows: scores tie within groups
    code, out, _ = run(["audit", files["parquet"], "--spec", files["spec"], "--engine", "pandas"])
    assert out.splitlines()[0] == "ParityLab audit of decisions.parquet (3,000 rows)"


# --- the automatic choice --------------------------------------------------------------------------------------


def test_a_small_file_goes_to_pandas_quietly(files):
    result, err = audit_json(files["parquet"], files["spec"])
    assert result["engine"] == "pandas" and "engine" not in err
    assert all(line.startswith("warning: decisions.parquet: ") for line in err.splitlines())  # the spec's only


def test_a_file_over_the_limit_goes_to_duckdb_and_says_why(files, monkeypatch):
    import analysis.loading

    monkeypatch.setattr(analysis.loading, "DEFAULT_MAX_BYTES", 1_000)  # the in-memory limit the choice reads
    result, err = audit_json(files["parquet"], files["spec"])
    assert result["engine"] == "duckdb"
    choice = [line for line in err.splitlines() if not line.startswith("warning: ")]
    assert choice == [
        "Using the DuckDB engine: decisions.parquet is 0 MB, over the 0 MB in-memory limit "
        "(--engine to choose another)."
    ]
    pandas_result, _ = audit_json(files["parquet"], files["spec"], "--engine", "pandas")
    assert_same_json(without(pandas_result, VOLATILE), without(result, VOLATILE))


def test_too_large_for_pandas_names_the_flag(files, monkeypatch):
    import analysis.loading

    monkeypatch.setattr(analysis.loading, "DEFAULT_MAX_BYTES", 1_000)
    monkeypatch.setattr(analysis.loading.load_table, "__kwdefaults__", {
        **analysis.loading.load_table.__kwdefaults__, "max_bytes": 1_000})  # fmt: skip
    code, out, err = run(["audit", files["csv"], "--spec", files["spec"], "--engine", "pandas"])
    assert (code, out) == (2, "") and len(err.splitlines()) == 1
    assert "the limit is 1,000 bytes for a file read into memory" in err
    assert err.rstrip().endswith(
        "To fix it, pass --engine duckdb, which counts the rows out of core, with no size limit."
    )


# --- tables: the same counts from counted rows -----------------------------------------------------------------


@pytest.mark.parametrize("options", [("--format", "ll144"), ("--format", "four-fifths"),
                                     ("--format", "ll144", "--mode", "scoring")])  # fmt: skip
def test_tables_are_the_same_on_pandas_and_duckdb(files, options):
    results = {}
    for engine in ("pandas", "duckdb"):
        code, out, err = run(["tables", files["parquet"], "--spec", files["spec"], *options, "--json", "-",
                              "--engine", engine])  # fmt: skip
        assert code == 0, err
        results[engine] = json.loads(out)
    assert_same_json(results["pandas"], results["duckdb"])
    code, out, _ = run(["tables", files["parquet"], "--spec", files["spec"], *options, "--engine", "duckdb"])
    assert code == 0 and out.splitlines()[1] == "Counted by DuckDB: 3,000 rows."
    # Every assessed row is in a category or unknown: the decided rows, or in scoring mode the scored ones.
    source = decisions()
    assessed = source["score" if "scoring" in options else "approved"].notna().sum()
    gender = results["duckdb"]["tables"]["gender"]
    assert sum(row["n"] for row in gender) + results["duckdb"]["unknown"]["gender"] == assessed


# --- folders, globs and their errors ---------------------------------------------------------------------------


def test_a_folder_and_a_glob_count_every_part(files):
    whole, _ = audit_json(files["parquet"], files["spec"], "--engine", "duckdb")
    folder, err = audit_json(files["parts"], files["spec"])
    assert folder["engine"] == "duckdb" and err.startswith("Using the DuckDB engine: ")
    globbed, _ = audit_json(files["parts"] / "part-*.parquet", files["spec"])
    assert folder["dataset"]["rows"] == globbed["dataset"]["rows"] == 3_000
    assert_same_json(without_source(whole), without_source(folder))
    assert_same_json(without_source(folder), without_source(globbed))


def test_a_glob_matching_nothing_is_one_line_exit_2(files):
    code, out, err = run(["audit", files["root"] / "nothing-*.parquet", "--spec", files["spec"]])
    assert (code, out) == (2, "") and len(err.splitlines()) == 1
    assert err.startswith("error: No file matches ") and "nothing-*.parquet" in err


def test_parts_of_different_columns_are_one_line_exit_2(files, tmp_path):
    parts = tmp_path / "mixed"
    shutil.copytree(files["parts"], parts)
    decisions(10).rename(columns={"gender": "sex"}).to_parquet(parts / "part-9.parquet", index=False)
    code, out, err = run(["audit", parts, "--spec", files["spec"], "--engine", "duckdb"])
    assert (code, out) == (2, "") and err == (
        "error: Column 'gender' is in part-0.parquet, part-1.parquet, part-2.parquet but not in part-9.parquet: "
        "expected every file to have the same columns. Add the column to those files, or leave them out.\n"
    )


def test_a_folder_with_the_pandas_engine_is_a_usage_error(files):
    code, out, err = run(["audit", files["parts"], "--spec", files["spec"], "--engine", "pandas"])
    assert (code, out) == (2, "") and len(err.splitlines()) == 1
    assert "The pandas engine reads one file into memory" in err and "pass --engine duckdb (or spark)" in err


def test_a_table_of_a_duckdb_database(files, tmp_path):
    import duckdb

    database = tmp_path / "shop.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE TABLE loans AS SELECT * FROM read_parquet(?)", [str(files["parquet"])])
        con.execute("CREATE TABLE other AS SELECT 1 AS x")
    whole, _ = audit_json(files["parquet"], files["spec"], "--engine", "duckdb")
    table, err = audit_json(f"{database}:loans", files["spec"])
    assert table["engine"] == "duckdb" and err.splitlines()[0] == (
        "Using the DuckDB engine: shop.duckdb:loans is a DuckDB database (--engine to choose another)."
    )
    assert_same_json(without_source(whole), without_source(table))
    code, out, err = run(["audit", database, "--spec", files["spec"]])
    assert (code, out) == (2, "") and "is a DuckDB database with tables 'loans', 'other'" in err


def test_without_a_spec_duckdb_suggests_one_from_a_sample(files):
    code, out, err = run(["audit", files["parquet"], "--engine", "duckdb"])
    assert (code, out) == (2, "") and err.startswith("error: Name the decision and the protected attributes")
    assert "--decision approved --positive Y --label repaid --label-positive 1 --score score" in err


def test_spark_master_conflicts_with_another_engine(files):
    code, out, err = run(["audit", files["csv"], "--spec", files["spec"], "--engine", "duckdb",
                          "--spark-master", "local[1]"])  # fmt: skip
    assert (code, out) == (2, "") and "--spark-master runs the command on Spark, but --engine duckdb" in err


def test_sheet_with_duckdb_is_a_usage_error(files):
    code, out, err = run(["audit", files["csv"], "--spec", files["spec"], "--engine", "duckdb", "--sheet", "1"])
    assert (code, out) == (2, "") and "--sheet applies to a file read into memory" in err


def test_max_rows_is_checked_on_duckdb(files):
    code, out, err = run(["audit", files["parquet"], "--spec", files["spec"], "--engine", "duckdb",
                          "--max-rows", "100"])  # fmt: skip
    assert (code, out) == (2, "") and "has 3,000 data rows; the limit is 100" in err and "--max-rows 3000" in err


def test_the_in_memory_limits_name_the_engine_on_the_command_line():
    from analysis.wording import Remedy

    assert (
        Remedy("max_bytes").text("cli") == "pass --engine duckdb, which counts the rows out of core, with no size limit"
    )
    assert Remedy("max_uncompressed_bytes").text("cli").startswith("pass --engine duckdb, which counts CSV, ")
    assert Remedy("max_bytes").text("python") == "pass a larger max_bytes, or audit the file with engine='duckdb'"


# --- compare: results of two engines ---------------------------------------------------------------------------


def test_compare_a_pandas_result_with_a_duckdb_result(files, tmp_path):
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    assert run(["audit", files["csv"], "--spec", files["spec"], "--engine", "pandas", "--json", before])[0] == 0
    assert run(["audit", files["parquet"], "--spec", files["spec"], "--engine", "duckdb", "--json", after])[0] == 0
    code, out, err = run(["compare", before, after, "--fail-on-regression", "--json", "-"])
    assert code == 0, err
    comparison = json.loads(out)
    assert comparison["regression_count"] == 0 and len(comparison["rows"]) > 100
    assert {r["status"] for r in comparison["rows"]} == {"compared"}
    changes = [r["change"] for r in comparison["rows"] if r["change"] is not None]
    assert changes and max(abs(c) for c in changes) < 1e-12


# --- suggest on a large source: a sample, checked against every row ------------------------------------------


def priorities(n: int = 5_000, seed: int = 3) -> pd.DataFrame:
    """Ticket priorities Low/Medium/High, with two Critical tickets and two of ethnicity D: rare enough to miss."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "ticket_id": np.arange(1, n + 1),
            "priority": rng.choice(["Low", "Medium", "High"], n),
            "gender": rng.choice(["F", "M"], n),
            "ethnicity": rng.choice(["A", "B", "C"], n),
        }
    )
    df.loc[[17, 4_321], "priority"] = "Critical"
    df.loc[[99, 3_000], "ethnicity"] = "D"
    return df


def test_suggest_on_a_large_file_says_sample_and_checks_every_row(tmp_path, monkeypatch):
    import analysis.cli
    import analysis.loading

    path = tmp_path / "tickets.parquet"
    priorities().to_parquet(path, index=False)
    monkeypatch.setattr(analysis.loading, "DEFAULT_MAX_BYTES", 1_000)  # a stand-in for a large file
    monkeypatch.setattr(analysis.cli, "SAMPLE_ROWS", 100)
    code, out, err = run(["suggest", path])
    assert code == 0, err
    lines = err.splitlines()
    assert lines[0].startswith("Using the DuckDB engine: tickets.parquet is ")
    assert lines[1] == (
        "note: tickets.parquet: Suggested from a sample of 100 of 5,000 rows drawn by DuckDB; column statistics over "
        "every row, and the suggested columns' values counted over every row."
    )
    spec = AuditSpec.from_json(out)
    assert spec.decision == "priority" and spec.protected_columns == ("gender", "ethnicity")
    # The sample's values are Low < Medium < High (positive: the upper half, Medium and High); over every row
    # Critical is there too, and the upper half is High and Critical.
    assert spec.positive == ("High", "Critical")
    assert "note: 'priority' has values found only outside the sample: 'Critical' (2 rows)." in lines
    assert "note: The positive values of 'priority' are chosen from every value: High, Critical (the sample's: " \
        "Medium, High)." in lines  # fmt: skip
    assert "note: 'ethnicity' has groups found only outside the sample: 'D' (2 rows)." in lines
    # The spec records the file it was made on: the audit of that file (by either engine) does not warn.
    for engine in ("duckdb", "pandas"):
        result, err = audit_json(path, _saved(tmp_path, spec), "--engine", engine)
        assert result["dataset"]["sha256"] == spec.dataset_sha256 and "other data" not in err


def _saved(tmp_path: Path, spec: AuditSpec) -> Path:
    path = tmp_path / "suggested.json"
    spec.save(path)
    return path


def test_suggest_on_duckdb_reads_every_row_of_a_small_file_and_agrees_with_pandas(files):
    code, duck, err = run(["suggest", files["parquet"], "--engine", "duckdb"])
    assert code == 0 and "note: decisions.parquet: Suggested from all 3,000 rows, read by DuckDB." in err
    code, pandas_spec, _ = run(["suggest", files["parquet"]])
    assert code == 0 and AuditSpec.from_json(duck) == AuditSpec.from_json(pandas_spec)


# --- mitigate: the same thresholds from counted rows; --export writes every row ------------------------------


def mitigate_json(data: Path, spec: Path, *more: object) -> tuple[dict, str]:
    code, out, err = run(["mitigate", data, "--spec", spec, "--attribute", "ethnicity", "--json", "-", *more])
    assert code == 0, err
    return json.loads(out), err


def test_mitigate_decisions_csv_needs_the_pandas_engine(files, tmp_path):
    code, out, err = run(["mitigate", files["parquet"], "--spec", files["spec"], "--engine", "duckdb",
                          "--decisions", tmp_path / "x.csv"])  # fmt: skip
    assert (code, out) == (2, "") and "pass --export PATH" in err and not (tmp_path / "x.csv").exists()


def test_mitigate_json_is_the_same_on_pandas_and_duckdb(files):
    pandas_result, _ = mitigate_json(files["parquet"], files["spec"], "--engine", "pandas")
    duck_result, _ = mitigate_json(files["parquet"], files["spec"], "--engine", "duckdb")
    assert (pandas_result["engine"], duck_result["engine"]) == ("pandas", "duckdb")
    assert_same_json(without(pandas_result, ("engine",)), without(duck_result, ("engine",)))
    assert duck_result["scores"]["exact"] is True and duck_result["scores"]["note"].startswith("Scores are exact (")
    code, out, _ = run(["mitigate", files["parquet"], "--spec", files["spec"], "--engine", "duckdb"])
    assert code == 0 and f"  {duck_result['scores']['note']}" in out.splitlines()


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_mitigate_export_writes_every_row_with_its_new_decision(files, tmp_path, engine, suffix):
    path = tmp_path / f"decisions{suffix}"
    result, err = mitigate_json(files["parquet"], files["spec"], "--engine", engine, "--export", path)
    assert f"note: {files['parquet']}: wrote {path}: every row with its group of 'ethnicity' and its new " \
        "decision (new_positive)." in err.splitlines()  # fmt: skip
    written = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    source = decisions()
    assert list(written.columns) == [*source.columns, "group", "new_positive"]
    assert len(written) == len(source) and written["id"].tolist() == source["id"].tolist()
    thresholds = result["thresholds"]["ethnicity"]
    score = source["score"].to_numpy()
    assert (written["group"] == source["ethnicity"]).all()
    expected = (score >= source["ethnicity"].map(thresholds).to_numpy()).astype(int)
    assert written["new_positive"].tolist() == expected.tolist()
    # Against today's decisions, the new ones change as many as the flips the JSON counts.
    old = source["approved"].map({"Y": 1, "N": 0})
    decided = old.notna().to_numpy()
    to_positive = (decided & (old.to_numpy() == 0) & (expected == 1)).sum()
    to_negative = (decided & (old.to_numpy() == 1) & (expected == 0)).sum()
    flips = result["flips"]
    assert to_positive == sum(f["to_positive"] for f in flips.values())
    assert to_negative == sum(f["to_negative"] for f in flips.values())


# --- explain: on a stratified sample the engine draws ----------------------------------------------------------


@pytest.mark.slow
def test_explain_on_duckdb_says_which_sample(files, tmp_path, monkeypatch):
    import analysis.cli

    spec = tmp_path / "explain-spec.json"
    AuditSpec.from_dict(SPEC | {"features": ["income", "tier"]}).save(spec)
    monkeypatch.setattr(analysis.cli, "SAMPLE_ROWS", 500)
    code, out, err = run(["explain", files["parquet"], "--spec", spec, "--engine", "duckdb", "--sample-size", "150",
                          "--json", "-"])  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    drawn = data["engine_sample"]
    assert (data["engine"], drawn["engine"], drawn["of"], drawn["per_group"], drawn["seed"]) == (
        "duckdb", "duckdb", 3_000, 150, 0)  # fmt: skip
    # 500 rows at random, and every group of every attribute keeps 150 of its rows: more than 500, fewer than all.
    assert 500 < drawn["rows"] < 3_000 and data["sample_size"] == 150
    assert (
        f"note: decisions.parquet: the surrogate model and its SHAP values are on a stratified sample of "
        f"{drawn['rows']:,} of 3,000 rows drawn by DuckDB (every group keeps its rows up to 150; seed 0)."
    ) in err.splitlines()


# --- Spark ----------------------------------------------------------------------------------------------------

HAVE_PYSPARK = importlib.util.find_spec("pyspark") is not None
HAVE_JAVA = bool(shutil.which("java") or os.environ.get("JAVA_HOME"))
HAVE_ENGINE = importlib.util.find_spec("analysis.spark_engine") is not None
needs_spark = pytest.mark.skipif(
    not (HAVE_PYSPARK and HAVE_JAVA and HAVE_ENGINE),
    reason="the Spark engine needs pyspark and Java (pip install -r requirements-spark.txt; Java 17)",
)


@pytest.mark.parametrize("engine", [("--engine", "spark"), ("--spark-master", "local[2]")])
@pytest.mark.usefixtures("spark")
@pytest.mark.spark
@pytest.mark.slow
@needs_spark
def test_audit_json_is_the_same_on_spark(files, engine):
    pandas_result, _ = audit_json(files["parquet"], files["spec"], "--engine", "pandas")
    spark_result, err = audit_json(files["parquet"], files["spec"], *engine)
    assert spark_result["engine"] == "spark" and "Using the" not in err
    assert_same_json(without(pandas_result, (*VOLATILE, "load")), without(spark_result, (*VOLATILE, "load")))
    code, out, _ = run(["audit", files["parts"], "--spec", files["spec"], *engine])
    assert code == 0 and out.startswith("ParityLab audit of parts (3,000 rows counted by Spark into ")


@pytest.mark.usefixtures("spark")
@pytest.mark.spark
@pytest.mark.slow
@needs_spark
def test_mitigate_on_spark_exports_every_row(files, tmp_path):
    pandas_result, _ = mitigate_json(files["parquet"], files["spec"], "--engine", "pandas")
    path = tmp_path / "decisions.parquet"
    spark_result, err = mitigate_json(files["parquet"], files["spec"], "--engine", "spark", "--export", path)
    assert_same_json(without(pandas_result, ("engine", "load")), without(spark_result, ("engine", "load")))
    assert "its new decision (new_decision)." in err
    written = pd.read_parquet(path).sort_values("id", ignore_index=True)
    source = decisions()
    assert len(written) == len(source) and written["id"].tolist() == source["id"].tolist()
    cut = source["ethnicity"].map(spark_result["thresholds"]["ethnicity"]).to_numpy()
    assert written["new_decision"].tolist() == (source["score"].to_numpy() >= cut).astype(int).tolist()


@pytest.mark.slow
def test_mitigate_without_a_score_on_duckdb_trains_on_a_sample(files, tmp_path, monkeypatch):
    import analysis.cli

    spec = tmp_path / "no-score.json"
    AuditSpec.from_dict({k: v for k, v in SPEC.items() if k != "score"} | {"features": ["income", "tier"]}).save(spec)
    monkeypatch.setattr(analysis.cli, "SAMPLE_ROWS", 1_000)
    monkeypatch.setattr(analysis.cli, "SAMPLE_PER_GROUP", 300)
    code, out, err = run(["mitigate", spec.parent / "missing.parquet", "--spec", spec, "--engine", "duckdb",
                          "--export", tmp_path / "x.parquet"])  # fmt: skip
    assert (code, out) == (2, "") and "--export on the DuckDB engine applies the thresholds" in err
    code, out, err = run(["mitigate", files["parquet"], "--spec", spec, "--engine", "duckdb"])
    assert code == 0, err
    line = next(line for line in out.splitlines() if "stratified sample" in line)
    sampled = int(line.split("stratified sample of ")[1].split()[0].replace(",", ""))
    assert 1_000 < sampled < 3_000 and line.endswith(
        f"of {sampled:,} rows (of 3,000 source rows); the thresholds were found and measured on that sample."
    )


def test_a_score_counted_on_a_grid_is_said(files, monkeypatch):
    import analysis.engine

    monkeypatch.setattr(analysis.engine, "EXACT_SCORES", 100)  # the test's 990 distinct scores: past the limit
    audit_result, _ = audit_json(files["parquet"], files["spec"], "--engine", "duckdb")
    resolution = audit_result["dataset"]["score_resolution"]
    assert resolution["exact"] is False and resolution["distinct"] > 100 and resolution["step"] > 0
    result, _ = mitigate_json(files["parquet"], files["spec"], "--engine", "duckdb")
    assert result["scores"] == resolution | {"note": result["scores"]["note"]}
    assert f"rounded down to multiples of {resolution['step']:g}" in result["scores"]["note"]
    code, out, _ = run(["mitigate", files["parquet"], "--spec", files["spec"], "--engine", "duckdb"])
    assert code == 0 and f"  {result['scores']['note']}" in out.splitlines()


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_a_spec_of_other_data_is_said_once(files, tmp_path, engine):
    spec = AuditSpec.from_dict({**SPEC, "dataset_sha256": "0" * 64})
    spec.save(tmp_path / "other.json")
    code, _, err = run(["audit", files["parquet"], "--spec", tmp_path / "other.json", "--engine", engine])
    assert code in (0, 1) and err.count("This spec was made on data with SHA-256 000000000000") == 1
