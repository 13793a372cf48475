"""Tests of ``python -m analysis slices`` and ``audit --slices``: the text and JSON are find_slices' numbers, every
flag reaches the search, every bad flag is refused with its name and the fix, DuckDB gives the same JSON."""

from __future__ import annotations

import importlib.util
import io
import json

import numpy as np
import pandas as pd
import pytest

from analysis import AuditSpec, find_slices, load_table
from analysis.cli import main
from analysis.compare import load_audit
from analysis.tables import slice_table, text_rows
from analysis.version import __version__
from tests.analysis.test_cli import only_notes

SPEC = AuditSpec.from_dict(
    {
        "decision": "decision",
        "positive": ["yes"],
        "label": "label",
        "label_positive": [1],
        "protected": ["group", {"column": "age", "bins": [30, 50]}],
    }
)
ENVELOPE = ("schema_version", "kind", "created_at", "versions", "dataset", "load", "spec")


def planted_table(n: int = 6000, seed: int = 3, gap: float = 0.35) -> pd.DataFrame:
    """Decisions with a planted slice: phone customers on the free plan are approved ``gap`` less often.

    Group B is over-represented among them, so the slice stands in for it.
    """
    rng = np.random.default_rng(seed)
    channel = rng.choice(["web", "phone", "branch", None], n, p=[0.5, 0.3, 0.15, 0.05])
    plan = rng.choice(["free", "pro"], n)
    planted = (channel == "phone") & (plan == "free")
    group = np.where(planted & (rng.random(n) < 0.6), "B", rng.choice(["A", "B", "C"], n, p=[0.6, 0.2, 0.2]))
    age = rng.integers(18, 80, n)
    income = np.round(rng.lognormal(10, 0.5, n), -2)
    rate = np.where(planted, 0.6 - gap, 0.6)
    decision = np.where(rng.random(n) < rate, "yes", "no").astype(object)
    label = np.where(rng.random(n) < np.where(planted, 0.3, 0.5), 1, 0)
    return pd.DataFrame(
        {"group": group, "age": age, "channel": channel, "plan": plan, "income": income, "decision": decision,
         "label": label}
    )  # fmt: skip


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_slices")
    csv = folder / "decisions.csv"
    planted_table().to_csv(csv, index=False)
    parquet = folder / "decisions.parquet"
    load_table(csv).data.to_parquet(parquet)
    spec = folder / "spec.json"
    SPEC.save(spec)
    unlabeled = folder / "unlabeled.json"
    AuditSpec.from_dict(SPEC.to_dict() | {"label": None, "label_positive": []}).save(unlabeled)
    return {"csv": csv, "parquet": parquet, "spec": spec, "unlabeled": unlabeled}


@pytest.fixture(scope="module")
def loaded(files) -> pd.DataFrame:
    return load_table(files["csv"]).data


def _search_part(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in ENVELOPE}


# ---------------------------------------------------------------- output


def test_text_is_the_searchs_summary_terms_table_and_stands_in_for(files, loaded):
    code, out, err = run(["slices", files["csv"], "--spec", files["spec"], "--max-depth", "2"])
    assert code == 0 and only_notes(err)
    search = find_slices(loaded, SPEC, max_depth=2)
    lines = out.splitlines()
    assert lines[0] == (
        f"ParityLab slices of decisions.csv (6,000 rows; favourable rate over the {search.rows:,} rows it counts: "
        f"{search.overall:.3f})"
    )
    assert lines[1] == search.summary() and lines[2] == search.terms_note()
    assert search.slices[0].key == "channel = phone and plan = free"  # the planted slice, at rank 1
    table = slice_table(search)
    header = lines[4].split()
    assert header[:2] == ["rank", "n"] and header[-1] == "slice"
    for rank, (row, cells) in enumerate(zip(table.itertuples(index=False), text_rows(table), strict=True), start=1):
        line = lines[4 + rank]
        assert line.split()[0] == str(rank) and line.endswith(f"  {row.slice}")
        for cell in (
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            cells[7],
            cells[8],
        ):  # n, value, rest, difference, q, state
            assert f" {cell} " in f" {line} "
    stands = [(i, s) for i, s in enumerate(search.slices, start=1) if s.significant and s.stands_in_for]
    assert stands, "the planted slice holds far more of group B than the data"
    for rank, s in stands:
        assert f"  {rank}. {s.key}: {s.stands_in_for.sentence()}." in lines
    assert "group = B" in search.slices[0].stands_in_for.sentence()


def test_json_is_the_search_in_the_audits_envelope(files, loaded):
    code, out, err = run(["slices", files["csv"], "--spec", files["spec"], "--max-depth", "2", "--json", "-"])
    assert code == 0 and only_notes(err)
    data = json.loads(out)  # only the JSON on stdout
    assert _search_part(data) == find_slices(loaded, SPEC, max_depth=2).to_dict()
    report = load_table(files["csv"]).report
    assert data["kind"] == "paritylab slices" and data["schema_version"] == 1
    assert data["dataset"] == {"name": "decisions.csv", "rows": 6000, "sha256": report.sha256}
    assert data["versions"]["paritylab"] == __version__ and data["created_at"].endswith("Z")
    assert data["spec"] == SPEC.to_dict() and data["load"]["rows"] == 6000 and data["engine"] == "pandas"


def test_json_to_a_file_keeps_the_text_on_stdout(files, tmp_path):
    path = tmp_path / "slices.json"
    code, out, _ = run(["slices", files["csv"], "--spec", files["spec"], "--max-depth", "1", "--json", path])
    assert code == 0 and out.startswith("ParityLab slices of decisions.csv")
    assert json.loads(path.read_text(encoding="utf-8"))["max_depth"] == 1


FLAGS = [
    (["--metric", "fnr"], {"metric": "fnr"}),
    (["--metric", "error_rate", "--max-depth", "1"], {"metric": "error_rate", "max_depth": 1}),
    (["--metric", "fpr"], {"metric": "fpr"}),
    (["--max-depth", "1"], {"max_depth": 1}),
    (["--min-support", "400"], {"min_support": 400}),
    (["--top-k", "3"], {"top_k": 3}),
    (["--alpha", "0.001"], {"alpha": 0.001}),
    (["--features", "channel, plan"], {"features": ["channel", "plan"]}),
    (["--no-protected"], {"include_protected": False}),
    (["--confidence", "0.9"], {"confidence": 0.9}),
]


@pytest.mark.parametrize(("flags", "options"), FLAGS, ids=[" ".join(f) for f, _ in FLAGS])
def test_every_flag_reaches_the_search(files, loaded, flags, options):
    options = {"max_depth": 2} | options
    argv = ["slices", files["csv"], "--spec", files["spec"], "--json", "-", *flags]
    if "--max-depth" not in flags:
        argv += ["--max-depth", "2"]
    code, out, _ = run(argv)
    assert code == 0
    expected = find_slices(loaded, SPEC, **options).to_dict()
    assert _search_part(json.loads(out)) == expected
    for name, value in options.items():
        if name == "features":
            assert [f["column"] for f in expected["features"]] == value
        elif name in expected:
            assert expected[name] == value


def test_an_option_changes_what_is_found(files):
    """The flags are not ignored: the JSON differs from the default search."""
    base = json.loads(run(["slices", files["csv"], "--spec", files["spec"], "--max-depth", "1", "--json", "-"])[1])
    fewer = json.loads(
        run(["slices", files["csv"], "--spec", files["spec"], "--max-depth", "1", "--top-k", "2", "--json", "-"])[1]
    )
    assert len(fewer["slices"]) == 2 < len(base["slices"])


def test_a_deep_search_is_said_on_stderr(files):
    code, _, err = run(["slices", files["csv"], "--spec", files["spec"], "--max-depth", "4", "--features",
                        "channel,plan,group,age", "--json", "-"])  # fmt: skip
    assert code == 0
    assert "note: --max-depth 4: a search of more than 3 terms can take much longer" in err


BAD = [
    (["--max-depth", "0"], "argument --max-depth: expects a whole number of at least 1 such as 2, got '0'"),
    (["--max-depth", "two"], "argument --max-depth: expects a whole number of at least 1 such as 2, got 'two'"),
    (["--min-support", "-5"], "argument --min-support: expects a whole number of at least 1 such as 100"),
    (["--top-k", "0"], "argument --top-k: expects a whole number of at least 1 such as 20, got '0'"),
    (["--alpha", "1.5"], "argument --alpha: expects a number between 0 and 1 (exclusive), such as 0.05; got '1.5'"),
    (["--alpha", "0"], "argument --alpha: expects a number between 0 and 1 (exclusive), such as 0.05; got '0'"),
    (["--alpha", "nan"], "argument --alpha: expects a finite number such as 0.05"),
    (["--confidence", "95"], "argument --confidence: expects a number between 0 and 1 (exclusive)"),
    (["--metric", "auc"], "argument --metric: invalid choice: 'auc' (choose from 'favorable_rate', 'fpr', 'fnr'"),
    (["--engine", "spark"], "argument --engine: invalid choice: 'spark' (choose from 'pandas', 'duckdb')"),
    (
        ["--features", "channel,zip"],
        "--features names 'zip', which is not a column of decisions.csv. Name columns of the data separated by "
        "commas, e.g. --features channel,plan. Columns: group, age, channel, plan, income, decision, label.",
    ),
    (["--features", " , "], "--features expects column names separated by commas, e.g. --features region,channel"),
    (["--features", "channel", "--no-protected"], "--no-protected leaves the protected attributes out"),
]


@pytest.mark.parametrize(("flags", "message"), BAD, ids=[" ".join(f) for f, _ in BAD])
def test_a_bad_flag_is_refused_with_its_name_and_the_fix(files, flags, message):
    code, out, err = run(["slices", files["csv"], "--spec", files["spec"], *flags])
    assert code == 2 and out == ""
    assert f"error: {message}" in err
    if message.startswith("argument"):
        assert err.rstrip().endswith("See 'python -m analysis slices --help'.")


@pytest.mark.parametrize("metric", ["fpr", "fnr", "error_rate"])
def test_an_error_metric_without_a_label_names_the_flag_and_the_spec(files, metric):
    code, out, err = run(["slices", files["csv"], "--spec", files["unlabeled"], "--metric", metric])
    assert code == 2 and out == ""
    assert err.startswith(f"error: --metric {metric} (")  # said before the data is read: no loader notes
    assert f'Add "label" and "label_positive" to {files["unlabeled"]}, or leave out --metric to search by' in err


def test_the_spec_is_required(files):
    code, out, err = run(["slices", files["csv"]])
    assert code == 2 and out == "" and "the following arguments are required: --spec" in err


# ---------------------------------------------------------------- engines

needs_duckdb = pytest.mark.skipif(importlib.util.find_spec("duckdb") is None, reason="duckdb is not installed")


@needs_duckdb
def test_duckdb_on_parquet_gives_the_same_json_but_the_engine(files, loaded):
    argv = ["--spec", files["spec"], "--max-depth", "2", "--json", "-"]
    code, out, err = run(["slices", files["parquet"], "--engine", "duckdb", *argv])
    assert code == 0 and only_notes(err)
    duck = json.loads(out)
    memory = json.loads(run(["slices", files["csv"], *argv])[1])
    assert duck.pop("engine") == "duckdb" and memory.pop("engine") == "pandas"
    assert _search_part(duck) == _search_part(memory)
    assert duck["dataset"]["rows"] == 6000 and duck["dataset"]["name"] == "decisions.parquet"
    assert duck["slices"][0]["slice"] == "channel = phone and plan = free"


@needs_duckdb
def test_duckdb_reads_na_values_and_refuses_an_unknown_feature(files):
    """--na-values reaches the DuckDB search: the same slices as the pandas engine reading the file with it."""
    found = {}
    for engine in ("duckdb", "pandas"):
        code, out, err = run(["slices", files["csv"], "--spec", files["spec"], "--engine", engine,
                              "--na-values", "phone", "--json", "-"])  # fmt: skip
        assert code == 0, err
        found[engine] = json.loads(out)
    channel = next(f for f in found["duckdb"]["features"] if f["column"] == "channel")
    assert "phone" not in channel["values"] and "(missing)" in channel["values"]
    assert _search_part(found["duckdb"]) | {"engine": None} == _search_part(found["pandas"]) | {"engine": None}
    code, _, err = run(["slices", files["parquet"], "--spec", files["spec"], "--engine", "duckdb", "--features", "zip"])
    assert code == 2 and "error: --features names 'zip', which is not a column of decisions.parquet" in err


# ---------------------------------------------------------------- audit --slices


def test_audit_slices_keeps_the_search_in_the_audit_json(files, loaded, tmp_path):
    path = tmp_path / "audit.json"
    code, out, err = run(["audit", files["csv"], "--spec", files["spec"], "--slices", "--slice-depth", "2",
                          "--slice-metric", "fnr", "--json", path])  # fmt: skip
    assert code == 0 and only_notes(err)
    expected = find_slices(loaded, SPEC, metric="fnr", max_depth=2)
    assert json.loads(path.read_text(encoding="utf-8"))["slices"] == expected.to_dict()
    assert load_audit(path).slices == expected  # read back whole
    assert f"Worst-treated slices: {expected.summary()}" in out


def test_audit_without_slices_has_no_slices_key(files, tmp_path):
    path = tmp_path / "audit.json"
    assert run(["audit", files["csv"], "--spec", files["spec"], "--json", path])[0] == 0
    data = json.loads(path.read_text(encoding="utf-8"))
    assert "slices" not in data and load_audit(path).slices is None


def test_audit_slices_by_an_error_metric_needs_a_label(files):
    code, out, err = run(["audit", files["csv"], "--spec", files["unlabeled"], "--slices", "--slice-metric", "fpr"])
    assert code == 2 and out == ""
    assert err.startswith("error: --slice-metric fpr (")
    code, _, err = run(["audit", files["csv"], "--decision", "decision", "--positive", "yes", "--protected", "group",
                        "--slices", "--slice-metric", "fnr"])  # fmt: skip
    assert code == 2 and "Add --label COLUMN --label-positive VALUE, or leave out --slice-metric" in err


@needs_duckdb
def test_audit_slices_on_duckdb_equals_memory(files, loaded):
    code, out, _ = run(["audit", files["parquet"], "--spec", files["spec"], "--engine", "duckdb", "--slices",
                        "--slice-depth", "2", "--json", "-"])  # fmt: skip
    assert code == 0
    found = json.loads(out)["slices"]
    expected = find_slices(loaded, SPEC, max_depth=2).to_dict()
    assert found.pop("engine") == "duckdb" and expected.pop("engine") == "pandas"
    assert found == expected


def test_a_support_above_every_row_is_said(files):
    code, out, err = run(["slices", files["csv"], "--spec", files["spec"], "--min-support", "100000"])
    assert code == 0 and "none is worse than the rest of the data." in out
    assert "note: --min-support 100,000 is more than the 6,000 rows the favourable rate counts, so no slice can" in err


def test_no_column_to_use_as_a_term_names_the_flags(files, tmp_path):
    path = tmp_path / "no-features.json"
    AuditSpec.from_dict(SPEC.to_dict() | {"features": []}).save(path)
    code, out, err = run(["slices", files["csv"], "--spec", path, "--no-protected"])
    assert code == 2 and out == ""
    assert (
        "error: No column can be a slice term: the spec names no feature column, and --no-protected leaves out the "
        "protected attributes. Pass --features COL,COL (e.g. --features channel,plan), or name features in "
    ) in err
    assert run(["slices", files["csv"], "--spec", path, "--features", "channel", "--max-depth", "1"])[0] == 0


def test_compare_says_a_slices_json_is_not_an_audit(files, tmp_path):
    path = tmp_path / "slices.json"
    assert run(["slices", files["csv"], "--spec", files["spec"], "--max-depth", "1", "--json", path])[0] == 0
    code, out, err = run(["compare", path, path])
    assert code == 2 and out == ""
    assert "is a slice search ('python -m analysis slices ... --json'), not an audit result" in err
    assert "--slices --json OUT' for each period" in err


def test_the_slices_json_reads_back_as_the_search(files, loaded):
    from analysis.slices import SliceSearch

    code, out, _ = run(["slices", files["csv"], "--spec", files["spec"], "--max-depth", "2", "--json", "-"])
    assert code == 0
    assert SliceSearch.from_dict(json.loads(out)) == find_slices(loaded, SPEC, max_depth=2)


@needs_duckdb
@pytest.mark.parametrize("command", ["slices", "audit"])
def test_the_duckdb_path_counts_the_source_once(files, monkeypatch, command):
    """The command's own count (name, hash, reading notes) is the one the search validates on."""
    import analysis.duckdb_engine as duckdb_engine

    calls = []
    original = duckdb_engine.count_duckdb

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(duckdb_engine, "count_duckdb", counting)
    extra = ["--slices"] if command == "audit" else []
    code, out, err = run([command, files["parquet"], "--spec", files["spec"], "--engine", "duckdb", *extra,
                          "--json", "-"])  # fmt: skip
    assert code == 0, err
    found = json.loads(out)
    assert (found["slices"] if command == "audit" else found)["slices"][0]["slice"] == "channel = phone and plan = free"
    assert len(calls) == 1
