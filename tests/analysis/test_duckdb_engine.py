import hashlib
import os
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import analysis.duckdb_engine as duck
import analysis.engine as engine_module
from analysis import AuditSpec, LoadError, load_table
from analysis.duckdb_engine import (
    column_statistics,
    count_duckdb,
    export_decisions_duckdb,
    sample_duckdb,
)
from analysis.engine import choose_engine, compress, count_table
from analysis.errors import OptionError, SpecError
from analysis.exports import decision_changes
from analysis.groups import encode_groups, quantile_edges


def _table(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Missing values in every role column, a '(missing)' value, rows without labels, several decisions,
    spelling variants, a numeric attribute to bin, and a text column with 'NA' cells."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "decision": rng.choice(["approve", "deny", "review", " approve", "N/A", None], n),
            "label": rng.choice([1.0, 0.0, np.nan], n),
            "score": np.round(rng.random(n), 3),
            "gender": rng.choice(["female", "male", "Female", "(missing)", "NA", None, " male"], n),
            "age": rng.integers(18, 80, n).astype(float),
            "country": rng.choice(["NA", "DE", "FR", " FR", ""], n),
            "amount": rng.integers(0, 10_000, n),
        }
    )
    df.loc[::7, "age"] = np.nan
    df.loc[::13, "score"] = np.nan
    return df


SPEC = AuditSpec.from_dict(
    {
        "decision": "decision",
        "positive": ["approve"],
        "label": "label",
        "label_positive": [1],
        "score": "score",
        "protected": [{"column": "gender"}, {"column": "age", "quantiles": 4}],
    }
)
BINNED = AuditSpec.from_dict(
    {
        "decision": "decision",
        "positive": ["approve"],
        "score": "score",
        "protected": [{"column": "age", "bins": [30, 50]}, {"column": "country"}],
    }
)


def _write(df: pd.DataFrame, path) -> str:
    path = str(path)
    if path.endswith(".parquet"):
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    else:
        df.to_csv(path, index=False)
    return path


def _counts(frame: pd.DataFrame, weights) -> pd.DataFrame:
    out = frame.assign(__w__=np.asarray(weights)).reset_index(drop=True)
    return out.sort_values(list(out.columns)[:-1], na_position="last", ignore_index=True)


def _assert_same_counts(got, want) -> None:
    a, b = _counts(got.frame, got.weights), _counts(want.frame, want.weights)
    assert a.dtypes.to_dict() == b.dtypes.to_dict()
    pd.testing.assert_frame_equal(a, b)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return _table()


@pytest.fixture(scope="module")
def files(table, tmp_path_factory):
    folder = tmp_path_factory.mktemp("duck")
    return {
        "parquet": _write(table, folder / "loans.parquet"),
        "csv": _write(table, folder / "loans.csv"),
        "csv.gz": _write(table, folder / "loans.csv.gz"),
    }


@pytest.mark.parametrize("kind", ["parquet", "csv", "csv.gz"])
@pytest.mark.parametrize("spec", [SPEC, BINNED], ids=["quantiles", "bins"])
def test_counts_equal_compress_of_the_loaded_file(files, kind, spec):
    loaded = load_table(files[kind])
    got = count_duckdb(files[kind], spec)
    _assert_same_counts(got, compress(loaded.data, spec))
    assert got.rows == len(loaded.data) == 3000
    assert got.columns == tuple(loaded.data.columns)
    assert got.engine == "duckdb"
    assert got.sha256 == loaded.report.sha256
    assert got.weights.sum() == 3000


def test_a_parquet_file_gets_the_loaders_report(files):
    loaded = load_table(files["parquet"]).report
    report = count_duckdb(files["parquet"], SPEC).load
    for name in ("name", "format", "rows", "columns", "size_bytes", "sha256", "changes", "warnings"):
        assert getattr(report, name) == getattr(loaded, name), name
    kinds = {(c.kind, c.column) for c in report.changes}
    assert ("trimmed", "country") in kinds  # a column the audit does not read is reported too
    assert ("missing", "decision") in kinds


def test_csv_report_counts_the_counted_columns_in_rows(files):
    loaded = load_table(files["csv"]).report
    report = count_duckdb(files["csv"], SPEC).load
    for name in ("name", "format", "compression", "encoding", "delimiter", "rows", "columns", "size_bytes", "sha256"):
        assert getattr(report, name) == getattr(loaded, name), name
    counted = {"decision", "label", "score", "gender", "age"}
    assert [c for c in report.changes] == [c for c in loaded.changes if c.column in counted]
    assert duck.CSV_CHANGES_NOTE in report.warnings


def test_quantile_edges_are_those_of_every_row(files, table):
    got = count_duckdb(files["parquet"], SPEC)
    want = quantile_edges(load_table(files["parquet"]).data["age"], 4)
    np.testing.assert_allclose(got.edges["age"], want, rtol=0, atol=1e-12)
    odd = pd.DataFrame({"x": np.random.default_rng(3).normal(size=1001), "d": "a"})
    spec = AuditSpec(decision="d", positive=["a"], protected=[{"column": "x", "quantiles": 7}])
    np.testing.assert_allclose(count_duckdb(odd, spec).edges["x"], quantile_edges(odd["x"], 7), rtol=0, atol=1e-12)


def test_a_folder_and_a_glob_count_the_sum_of_their_files(tmp_path):
    parts = [_table(500, seed) for seed in range(3)]
    folder = tmp_path / "parts"
    (folder / "year=2024").mkdir(parents=True)
    paths = [_write(parts[0], folder / "a.parquet"), _write(parts[1], folder / "b.parquet")]
    paths.append(_write(parts[2], folder / "year=2024" / "c.parquet"))
    whole = pd.concat([load_table(p).data for p in paths], ignore_index=True)
    for source in (str(folder), str(folder / "**" / "*.parquet"), paths):
        got = count_duckdb(source, SPEC)
        _assert_same_counts(got, compress(whole, SPEC))
        assert got.rows == 1500
    lines = sorted(f"{os.path.relpath(p, folder)}\t{hashlib.sha256(Path(p).read_bytes()).hexdigest()}\n" for p in paths)
    got = count_duckdb(str(folder), SPEC)
    assert got.sha256 == hashlib.sha256("".join(lines).encode()).hexdigest()
    assert "a.parquet" in got.load.warnings[0] and "year=2024/c.parquet" in got.load.warnings[0]
    assert got.load.size_bytes == sum(os.path.getsize(p) for p in paths)


def test_a_pattern_matching_nothing_names_the_pattern(tmp_path):
    with pytest.raises(LoadError, match=r"No file matches .*nothing-\*\.parquet"):
        count_duckdb(str(tmp_path / "nothing-*.parquet"), SPEC)
    with pytest.raises(LoadError, match="holds no Parquet or CSV file"):
        count_duckdb(str(tmp_path), SPEC)


def test_parquet_files_with_different_types_name_the_file_column_and_types(tmp_path):
    df = _table(50)
    _write(df, tmp_path / "a.parquet")
    _write(df.assign(amount=df["amount"].astype(str)), tmp_path / "b.parquet")
    with pytest.raises(LoadError) as caught:
        count_duckdb(str(tmp_path), SPEC)
    message = str(caught.value)
    assert "'amount'" in message and "b.parquet" in message and "string" in message and "int64" in message


def test_parts_written_with_other_number_widths_are_one_table(tmp_path):
    # Tools write the same integer column as int32 in one part and int64 in another; the loader reads both alike.
    df = _table(60)
    _write(df.iloc[:30], tmp_path / "a.parquet")
    narrow = df.iloc[30:].assign(amount=df["amount"].iloc[30:].astype("int32"))
    _write(narrow, tmp_path / "b.parquet")
    got = count_duckdb(str(tmp_path), SPEC)
    assert got.rows == 60 and int(got.weights.sum()) == 60


def test_a_column_lacking_in_some_files_names_the_column_and_the_files(tmp_path):
    df = _table(50)
    _write(df, tmp_path / "a.parquet")
    _write(df.drop(columns="country"), tmp_path / "b.parquet")
    with pytest.raises(LoadError, match=r"Column 'country' is in a\.parquet but not in b\.parquet"):
        count_duckdb(str(tmp_path), SPEC)
    _write(df, tmp_path / "c.csv")
    _write(df.drop(columns="label"), tmp_path / "d.csv")
    with pytest.raises(LoadError, match=r"Column 'label' is in c\.csv but not in d\.csv"):
        count_duckdb([str(tmp_path / "c.csv"), str(tmp_path / "d.csv")], SPEC)
    with pytest.raises(LoadError, match="mix Parquet"):
        count_duckdb([str(tmp_path / "a.parquet"), str(tmp_path / "c.csv")], SPEC)


def test_a_csv_duckdb_cannot_parse_says_which_line(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text("a,b\n1,2\n" + "3,4\n" * 50 + "5,6,7,8\n9,10\n")
    expected = r"broken\.csv could not be read as CSV: line 53 has 4 cells but the header has 2"
    with pytest.raises(LoadError, match=expected):
        count_duckdb(str(path), AuditSpec(decision="a", positive=[1], protected=["b"]))


def test_spec_columns_absent_are_left_to_validation(files):
    spec = AuditSpec(decision="decision", positive=["approve"], protected=["gender", "religion"])
    got = count_duckdb(files["parquet"], spec)
    assert list(got.frame.columns) == ["decision", "gender"]
    assert "religion" not in got.columns


def test_scores_beyond_the_exact_limit_are_counted_on_the_grid(monkeypatch, tmp_path):
    monkeypatch.setattr(engine_module, "EXACT_SCORES", 200)
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"score": rng.normal(0.5, 0.2, 5000), "group": rng.choice(["a", "b"], 5000)})
    df["decision"] = np.where(df["score"] >= 0.55, "yes", "no")
    path = _write(df, tmp_path / "scores.parquet")
    for spec in (
        AuditSpec(decision="decision", positive=["yes"], score="score", protected=["group"]),
        AuditSpec(score="score", threshold=0.55, protected=["group"]),
    ):
        got = count_duckdb(path, spec)
        assert not got.scores.exact and got.scores.distinct == 5000
        assert got.scores.anchor == (0.55 if spec.decision is None else 0.0)
        _assert_same_counts(got, compress(load_table(path).data, spec, scores=got.scores))
        assert len(got.frame) < 2 * 200 * 2


def test_a_binned_attribute_with_many_values_is_counted_by_one_value_per_bin(monkeypatch, files):
    monkeypatch.setattr(duck, "BIN_REPRESENTATIVES_FROM", 5)
    df = load_table(files["parquet"]).data
    for spec in (SPEC, BINNED):
        got = count_duckdb(files["parquet"], spec)
        attr = next(a for a in spec.protected if a.column == "age")
        edges = attr.bins if attr.bins is not None else got.edges["age"]
        full = encode_groups(df["age"], bins=edges)
        counted = encode_groups(got.frame["age"], bins=edges)
        weighted = np.bincount(counted.codes, weights=got.weights, minlength=len(counted.labels)).astype(int)
        assert counted.labels == full.labels
        assert tuple(weighted) == full.counts
        assert got.frame["age"].nunique() == len(full.labels) - 1  # one value per bin, plus missing
        assert got.frame["age"].dtype == df["age"].dtype


def test_an_attribute_with_too_many_values_keeps_enough_for_validation(tmp_path):
    df = pd.DataFrame({"d": ["y", "n"] * 500, "zip": [f"{i:05d}" for i in range(1000)]})
    path = _write(df, tmp_path / "zips.parquet")
    spec = AuditSpec(decision="d", positive=["y"], protected=["zip"], max_levels=10)
    got = count_duckdb(path, spec)
    assert got.frame["zip"].nunique() == 11
    assert got.weights.sum() == 1000
    assert any("1,000 distinct values" in w for w in got.load.warnings)


def test_a_dataframe_a_relation_and_a_database_table(table, tmp_path):
    want = compress(table, SPEC)
    _assert_same_counts(count_duckdb(table, SPEC), want)
    database = str(tmp_path / "shop.duckdb")
    loaded = load_table(_write(table, tmp_path / "t.parquet")).data
    with duckdb.connect(database) as con:
        con.execute(f"CREATE TABLE loans AS SELECT * FROM read_parquet('{tmp_path / 't.parquet'}')")
        con.execute("CREATE TABLE other AS SELECT 1 AS x")
    for source, kwargs in ((f"{database}:loans", {}), (database, {"table": "loans"})):
        got = count_duckdb(source, SPEC, **kwargs)
        _assert_same_counts(got, compress(loaded, SPEC))
        assert got.load.format == "duckdb" and got.name == "shop.duckdb:loans"
    with pytest.raises(LoadError, match="'loans', 'other'"):
        count_duckdb(database, SPEC)
    con = duckdb.connect()
    relation = con.read_parquet(str(tmp_path / "t.parquet"))
    _assert_same_counts(count_duckdb(relation, SPEC), compress(loaded, SPEC))


def test_a_bounded_sample_is_reproducible_and_typed_as_the_loader_types(files):
    df = load_table(files["parquet"]).data
    first = sample_duckdb(files["parquet"], rows=100, seed=7)
    again = sample_duckdb(files["parquet"], rows=100, seed=7)
    other = sample_duckdb(files["parquet"], rows=100, seed=8)
    assert len(first) == 100
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    assert first.dtypes.to_dict() == df.dtypes.to_dict()
    assert len(sample_duckdb(files["parquet"], rows=10**6)) == 3000
    with pytest.raises(OptionError):
        sample_duckdb(files["parquet"])


def test_a_stratified_sample_keeps_every_group_up_to_the_cap(files):
    df = load_table(files["parquet"]).data
    spec = AuditSpec(decision="decision", positive=["approve"], protected=["gender"])
    sample = sample_duckdb(files["parquet"], spec=spec, per_group=40, seed=1)
    sizes = df["gender"].value_counts(dropna=False)
    kept = sample["gender"].value_counts(dropna=False)
    assert kept.to_dict() == {g: min(n, 40) for g, n in sizes.items()}
    binned = sample_duckdb(files["parquet"], spec=BINNED, per_group=25, seed=1)
    groups = encode_groups(binned["age"], bins=(30, 50)).sizes()
    assert all(n >= 25 for n in groups.values())


@pytest.mark.parametrize(
    ("source", "suffix", "merge"), [("parquet", "parquet", True), ("parquet", "csv", True), ("csv", "parquet", False)]
)
def test_exported_decisions_match_the_pandas_computation(files, tmp_path, source, suffix, merge):
    spec = AuditSpec.from_dict({**SPEC.to_dict(), "merge_variants": merge})
    df = load_table(files[source]).data
    thresholds = {"female": 0.4, "male": 0.6, "(missing)": 0.5, "(missing) [value]": 0.3, "NA": 0.2, "Female": 0.1}
    want = decision_changes(df, spec, thresholds, attribute="gender")
    out = export_decisions_duckdb(files[source], spec, "gender", thresholds, tmp_path / f"out.{suffix}")
    written = pd.read_parquet(out) if suffix == "parquet" else pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert len(written) == 3000
    assert written["group"].tolist() == want["group"].tolist()
    assert written["new_positive"].astype("Int64").tolist() == want["new_positive"].tolist()
    assert list(written.columns)[: len(df.columns)] == list(df.columns)
    with pytest.raises(SpecError, match="No threshold for group"):
        export_decisions_duckdb(files["parquet"], spec, "gender", {"female": 0.5}, tmp_path / "x.parquet")


def test_exported_binned_groups_match_the_encoding(files, tmp_path):
    df = load_table(files["parquet"]).data
    spec = AuditSpec.from_dict({**BINNED.to_dict()})
    thresholds = {"<30": 0.3, "30–50": 0.5, "≥50": 0.7, "(missing)": 0.5}
    want = decision_changes(df, spec, thresholds, attribute="age")
    out = export_decisions_duckdb(files["parquet"], spec, "age", thresholds, tmp_path / "binned.parquet")
    written = pd.read_parquet(out)
    assert written["group"].tolist() == want["group"].tolist()
    assert written["new_positive"].astype("Int64").tolist() == want["new_positive"].tolist()


def test_column_statistics(files):
    stats = column_statistics(files["parquet"])
    assert stats.rows == 3000
    amount = stats.column("amount")
    df = _table()
    assert amount.minimum == df["amount"].min() and amount.maximum == df["amount"].max()
    assert amount.distinct == df["amount"].nunique() and amount.distinct_exact
    country = stats.column("country")
    assert country.missing == int((df["country"] == "").sum())
    top = df["country"].value_counts()
    assert country.top[0] == (top.index[0], int(top.iloc[0]))
    assert stats.to_dict()["columns"][0]["name"] == "decision"


def test_choose_engine(monkeypatch, files, tmp_path, table):
    assert choose_engine(table)[0] == "pandas"
    assert choose_engine(duckdb.connect().sql("SELECT 1"))[0] == "duckdb"
    fake = type("DataFrame", (), {"__module__": "pyspark.sql.dataframe"})()
    assert choose_engine(fake)[0] == "spark"
    assert choose_engine(files["parquet"])[0] == "pandas"
    assert choose_engine(str(tmp_path))[0] == "duckdb"
    assert choose_engine(str(tmp_path / "*.parquet"))[0] == "duckdb"
    assert choose_engine([files["parquet"], files["csv"]])[0] == "duckdb"
    assert choose_engine("shop.duckdb:loans")[0] == "duckdb"
    assert choose_engine(table, "spark") == ("spark", "Using the Spark engine, as asked.")
    monkeypatch.setattr("analysis.loading.DEFAULT_MAX_BYTES", 1000)
    engine, reason = choose_engine(files["parquet"])
    assert engine == "duckdb" and "loans.parquet is" in reason and "in-memory limit" in reason
    with pytest.raises(OptionError, match="expected one of pandas, duckdb, spark"):
        choose_engine(table, "polars")


def test_count_table_dispatches(files, table):
    by_pandas = count_table(files["parquet"], SPEC)
    assert by_pandas.weights is None and by_pandas.engine == "pandas"
    assert by_pandas.sha256 == load_table(files["parquet"]).report.sha256 and by_pandas.load.format == "parquet"
    in_memory = count_table(table, SPEC)
    assert in_memory.weights is None and in_memory.frame is table and in_memory.rows == 3000
    by_duckdb = count_table(files["parquet"], SPEC, engine="duckdb")
    _assert_same_counts(by_duckdb, compress(by_pandas.frame, SPEC))
    with pytest.raises(OptionError):
        count_table(table, SPEC, engine="nope")


def test_the_frame_is_in_compress_order(tmp_path):
    rng = np.random.default_rng(5)
    df = pd.DataFrame(
        {"d": rng.choice(["b", "a", "é", "Z"], 400), "g": rng.choice(["x", "y"], 400), "s": rng.integers(0, 9, 400)}
    )
    path = _write(df, tmp_path / "plain.parquet")
    spec = AuditSpec(decision="d", positive=["a"], score="s", protected=["g"])
    got, want = count_duckdb(path, spec), compress(load_table(path).data, spec)
    pd.testing.assert_frame_equal(got.frame.reset_index(drop=True), want.frame.reset_index(drop=True))
    np.testing.assert_array_equal(got.weights, want.weights)


def test_columns_the_audit_does_not_read_are_reported_from_footers_or_rows(tmp_path):
    # A feature with infinities, a wide unsigned integer and a plain number: the loader's report, counted alike
    # whether the footer's statistics answer (no infinity) or the rows must be read (infinities).
    df = _table(200)
    table = pa.Table.from_pandas(df, preserve_index=False)
    ratio = np.linspace(0, 1, len(df))
    ratio[[3, 7]] = np.inf
    table = table.append_column("ratio", pa.array(ratio))
    table = table.append_column("big", pa.array(np.full(len(df), 2**63 + 5, dtype=np.uint64)))
    table = table.append_column("plain", pa.array(np.arange(len(df), dtype=np.int32)))
    path = tmp_path / "features.parquet"
    pq.write_table(table, path, row_group_size=64)
    loaded = load_table(path).report
    report = count_duckdb(str(path), SPEC).load
    assert report.changes == loaded.changes and report.warnings == loaded.warnings
    kinds = {(c.kind, c.column) for c in report.changes}
    assert ("infinite", "ratio") in kinds and ("kept_text", "big") in kinds
