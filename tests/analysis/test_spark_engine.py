"""The Spark engine counts what the loader and compress() count, from Parquet, CSV, folders and DataFrames.

One local Spark session (two cores, four shuffle partitions) serves the whole module, so the JVM starts once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.engine import compress, score_grid
from analysis.engine_sql import interpolate, quantile_ranks
from analysis.errors import LoadError
from analysis.groups import quantile_edges
from analysis.loading import load_table
from analysis.spec import AuditSpec, ProtectedAttribute

HAVE_PYSPARK = importlib.util.find_spec("pyspark") is not None
HAVE_JAVA = bool(shutil.which("java") or os.environ.get("JAVA_HOME"))

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(not HAVE_PYSPARK, reason="pyspark is not installed (pip install -r requirements-spark.txt)"),
    pytest.mark.skipif(not HAVE_JAVA, reason="Java is not installed (apt-get install openjdk-17-jre-headless)"),
]

SPEC = AuditSpec(
    decision="decision",
    positive=("approve", "review"),
    label="repaid",
    label_positive=(1,),
    score="score",
    threshold=0.5,
    protected=(
        ProtectedAttribute("gender"),
        ProtectedAttribute("age", bins=(25, 40, 60)),
        ProtectedAttribute("income", quantiles=4),
        ProtectedAttribute("country"),
    ),
)


def table(n: int = 400, seed: int = 1) -> pd.DataFrame:
    """Missing values in every role column, a missing group, rows without labels, three decisions, "NA" cells."""
    rng = np.random.default_rng(seed)
    decision = rng.choice(np.array(["approve", "review", "deny", None], dtype=object), n, p=[0.4, 0.2, 0.3, 0.1])
    label = rng.choice(np.array([1.0, 0.0, np.nan]), n, p=[0.5, 0.3, 0.2])
    score = np.round(rng.random(n), 3)
    score[rng.random(n) < 0.05] = np.nan
    gender = rng.choice(np.array(["F", "M", " F", "N/A", None], dtype=object), n, p=[0.4, 0.4, 0.05, 0.05, 0.1])
    age = rng.integers(18, 80, n).astype(float)
    age[rng.random(n) < 0.05] = np.nan
    income = np.round(rng.gamma(2.0, 20_000, n), 0)
    income[rng.random(n) < 0.05] = np.nan
    country = rng.choice(np.array(["DE", "NA", "FR", ""], dtype=object), n, p=[0.4, 0.2, 0.3, 0.1])
    flag = rng.random(n) < 0.5
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "decision": decision,
            "repaid": label,
            "score": score,
            "gender": gender,
            "age": age,
            "income": income,
            "country": country,
            "flag": flag,
        }
    )


def write_parquet(df: pd.DataFrame, path) -> str:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    return str(path)


def write_csv(df: pd.DataFrame, path) -> str:
    df.to_csv(path, index=False)
    return str(path)


def expected(df: pd.DataFrame, spec: AuditSpec, counted) -> tuple[pd.DataFrame, np.ndarray]:
    """compress() of the loaded table, binned attributes by bin: the reference the engine must equal."""
    reference = compress(df, spec, scores=counted.scores)
    return by_bins(reference.frame, reference.weights, spec, counted.edges)


def by_bins(frame: pd.DataFrame, weights, spec: AuditSpec, edges) -> tuple[pd.DataFrame, np.ndarray]:
    frame = frame.copy()
    for attribute in spec.protected:
        if attribute.binned and attribute.column in frame:
            cut = np.asarray(attribute.bins if attribute.bins is not None else edges[attribute.column])
            values = frame[attribute.column].to_numpy(dtype=float, na_value=np.nan)
            frame[attribute.column] = np.where(np.isnan(values), np.nan, np.searchsorted(cut, values, side="right"))
    frame["__w__"] = weights
    names = [c for c in frame.columns if c != "__w__"]
    grouped = frame.groupby(names, dropna=False, sort=True)["__w__"].sum().reset_index()
    return grouped.drop(columns="__w__"), grouped["__w__"].to_numpy()


def assert_same_counts(counted, df: pd.DataFrame, spec: AuditSpec) -> None:
    want_frame, want_weights = expected(df, spec, counted)
    got_frame, got_weights = by_bins(counted.frame, counted.weights, spec, counted.edges)
    pd.testing.assert_frame_equal(got_frame, want_frame)
    np.testing.assert_array_equal(got_weights, want_weights)
    unbinned = [c for c in counted.frame.columns if c not in ("age", "income")]
    for column in unbinned:
        assert counted.frame[column].dtype == df[column].dtype, column


@pytest.fixture(scope="module")
def loans(spark, tmp_path_factory):
    """The generated table as Parquet and CSV files, each loaded and counted once for the module."""
    from analysis.spark_engine import count_spark

    df, folder = table(), tmp_path_factory.mktemp("loans")
    paths = {"parquet": write_parquet(df, folder / "loans.parquet"), "csv": write_csv(df, folder / "loans.csv")}
    return df, {kind: (path, load_table(path), count_spark(path, SPEC, session=spark)) for kind, path in paths.items()}


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_counts_equal_compress_of_the_loaded_file(loans, kind):
    df, files = loans
    _, loaded, counted = files[kind]
    assert counted.engine == "spark" and counted.rows == len(df) == loaded.report.rows
    assert counted.columns == tuple(loaded.data.columns)
    assert counted.sha256 == loaded.report.sha256
    assert counted.scores.exact and counted.scores.distinct == loaded.data["score"].dropna().nunique()
    assert counted.edges["income"] == quantile_edges(loaded.data["income"], 4)
    assert int(counted.weights.sum()) == len(df)
    assert_same_counts(counted, loaded.data, SPEC)
    # "NA" stays a country (a text column), "N/A" and the empty cell are missing, " F" is trimmed to "F"
    countries = counted.frame.groupby("country", dropna=False).size().index.tolist()
    assert "NA" in countries and "" not in countries
    assert set(counted.frame["gender"].dropna()) == {"F", "M"}
    if kind == "parquet":
        assert [c for c in loaded.report.changes if c.column in counted.frame] == list(counted.load.changes)
        assert counted.load.warnings == loaded.report.warnings
        assert counted.load.changes and counted.load.warnings
    else:
        assert counted.load is None


def test_every_parquet_type_is_read_as_the_loader_reads_it(spark, tmp_path):
    import datetime as dt
    import decimal

    from analysis.spark_engine import count_spark

    day, noon = dt.date(2020, 1, 1), dt.datetime(2020, 1, 1, 12, 30)
    table = pa.table(
        {
            "d": pa.array([day, dt.date(2021, 5, 3), None, day, dt.date(2022, 2, 2), day]),
            "ts": pa.array([noon, None, noon, dt.datetime(2021, 1, 1), noon, None], pa.timestamp("us")),
            "tz": pa.array([noon, None, noon, dt.datetime(2021, 1, 1), noon, None], pa.timestamp("ms", tz="UTC")),
            "u": pa.array([1, 2, 3, 2**63 + 5, 1, 1], pa.uint64()),  # beyond int64: text
            "dec": pa.array([decimal.Decimal("1.50"), None, decimal.Decimal("2.25")] * 2, pa.decimal128(5, 2)),
            "f32": pa.array([0.1, 0.2, None, 0.1, float("inf"), 0.3], pa.float32()),
            "cat": pa.array(["x", "y", "x", None, "NA", "y"]).dictionary_encode(),
            "b": pa.array([True, None, False, True, True, False]),
            "i8": pa.array([1, None, 3, 1, 2, 2], pa.int8()),
        }
    )
    pq.write_table(table, tmp_path / "types.parquet")
    spec = AuditSpec(
        decision="b", positive=("true",), label="cat", score="f32", protected=("d", "ts", "tz", "u", "dec", "i8")
    )
    loaded = load_table(tmp_path / "types.parquet")
    counted = count_spark(str(tmp_path / "types.parquet"), spec, session=spark)
    reference = compress(loaded.data, spec)
    pd.testing.assert_frame_equal(counted.frame, reference.frame)
    np.testing.assert_array_equal(counted.weights, reference.weights)
    assert counted.load.changes == loaded.report.changes


def test_binned_attribute_is_counted_per_bin_by_its_smallest_value(loans):
    df, files = loans
    counted = files["parquet"][2]
    ages = df["age"].dropna()
    smallest = {ages[ages < 25].min(), ages[(ages >= 25) & (ages < 40)].min(), ages[(ages >= 40) & (ages < 60)].min()}
    smallest.add(ages[ages >= 60].min())
    assert set(counted.frame["age"].dropna()) == smallest
    assert counted.frame["age"].isna().any()


def test_a_folder_of_parquet_files_counts_as_one_table(spark, tmp_path):
    from analysis.spark_engine import count_spark

    df = table(600, seed=2)
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(3):
        write_parquet(df.iloc[i * 200 : (i + 1) * 200], folder / f"part-{i}.parquet")
    (folder / "_SUCCESS").write_bytes(b"")
    counted = count_spark(str(folder), SPEC, session=spark)
    assert counted.rows == 600
    whole = write_parquet(df, tmp_path / "whole.parquet")
    assert_same_counts(counted, load_table(whole).data, SPEC)
    lines = sorted(
        f"part-{i}.parquet\t{hashlib.sha256((folder / f'part-{i}.parquet').read_bytes()).hexdigest()}\n"
        for i in range(3)
    )
    assert counted.sha256 == hashlib.sha256("".join(lines).encode()).hexdigest()
    assert counted.load is None
    globbed = count_spark(str(folder / "*.parquet"), SPEC, session=spark)
    pd.testing.assert_frame_equal(globbed.frame, counted.frame)


def test_a_spark_dataframe_and_a_rounded_score(spark, tmp_path):
    from analysis.spark_engine import count_spark

    n = 100_200  # just over EXACT_SCORES distinct scores
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"score": rng.random(n), "group": rng.choice(["a", "b"], n)})
    spec = AuditSpec(score="score", threshold=0.3, protected=("group",))
    path = write_parquet(df, tmp_path / "scores.parquet")
    counted = count_spark(spark.read.parquet(path), spec, session=spark)
    assert counted.scores == score_grid(n, df["score"].min(), df["score"].max(), 0.3)
    assert not counted.scores.exact and counted.scores.anchor == 0.3
    assert counted.scores.distinct == df["score"].nunique()
    reference = compress(load_table(path).data, spec, scores=counted.scores)
    pd.testing.assert_frame_equal(counted.frame, reference.frame)
    np.testing.assert_array_equal(counted.weights, reference.weights)
    assert counted.load is None and len(counted.sha256) == 64


def test_quantile_edges_match_numpy_linear():
    rng = np.random.default_rng(4)
    for n in (1, 2, 3, 7, 10, 101, 1000):
        values = np.sort(np.round(rng.normal(size=n), 2))
        for q in (2, 3, 4, 5, 10):
            ranks = quantile_ranks(n, q)
            got = [interpolate(values[r.below], values[r.above], r.gamma) for r in ranks]
            want = np.quantile(values, np.linspace(0, 1, q + 1)[1:-1])
            assert got == list(want), (n, q)


def test_errors_name_what_is_wrong(spark, tmp_path):
    from analysis.spark_engine import SparkError, count_spark

    with pytest.raises(LoadError, match="matches no file"):
        count_spark(str(tmp_path / "nothing" / "*.parquet"), SPEC, session=spark)
    folder = tmp_path / "mixed"
    folder.mkdir()
    df = table(20)
    write_parquet(df, folder / "a.parquet")
    write_parquet(df.assign(age=df["age"].astype(str)), folder / "b.parquet")
    with pytest.raises(LoadError, match=r"do not share one schema: a.parquet has 'age' as double, but b.parquet"):
        count_spark(str(folder), SPEC, session=spark)
    (folder / "b.parquet").unlink()
    write_parquet(df.drop(columns=["income", "flag"]), folder / "c.parquet")
    with pytest.raises(LoadError, match=r"Column\(s\) 'income', 'flag' of a.parquet are missing in c.parquet"):
        count_spark(str(folder), SPEC, session=spark)
    broken = tmp_path / "broken.csv"
    broken.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(SparkError, match=r"^Spark could not count the rows of broken.csv: .*3,4,5") as error:
        count_spark(str(broken), AuditSpec(decision="a", positive=("1",)), session=spark)
    assert "\tat " not in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(SparkError, match=r"^Spark could not read the table 'nowhere.loans': .*cannot be found"):
        count_spark("table:nowhere.loans", SPEC, session=spark)


def test_a_semicolon_csv_with_decimal_commas(spark, tmp_path):
    from analysis.spark_engine import count_spark

    path = tmp_path / "semi.csv"
    path.write_text("d;s;g;x\nY;0,5;a;1,5\nN;0,25;b;2,5\nY;NA;a;3\nN;0,75;NA;4\n")  # NA: missing score
    loaded = load_table(path)
    spec = AuditSpec(decision="d", positive=("Y",), score="s", protected=("g",))
    counted = count_spark(str(path), spec, session=spark)
    reference = compress(loaded.data, spec)
    pd.testing.assert_frame_equal(counted.frame, reference.frame)
    assert counted.scores.distinct == 3 and counted.frame["s"].dtype == np.float64
    assert counted.frame["s"].isna().sum() == 1 and "NA" in set(counted.frame["g"])  # NA is a group's value
    binned = AuditSpec(decision="d", positive=("Y",), protected=(ProtectedAttribute("x", quantiles=2),))
    with pytest.raises(LoadError, match=r"Spark reads 2 numbers in column 'x' of semi.csv, the loader 4"):
        count_spark(str(path), binned, session=spark)


def test_missing_java_or_pyspark_is_said_before_the_jvm_starts(spark, monkeypatch):
    import sys

    from pyspark.sql import SparkSession

    from analysis.spark_engine import SparkError, spark_session

    monkeypatch.setattr(SparkSession, "getActiveSession", staticmethod(lambda: None))
    monkeypatch.setenv("JAVA_HOME", "/nonexistent/java")
    with pytest.raises(SparkError, match=r"found none \(JAVA_HOME is '/nonexistent/java'.*apt-get install openjdk-17"):
        spark_session()
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(SparkError, match=r"pip install -r requirements-spark.txt"):
        spark_session()


def test_sample_keeps_at_most_per_group_and_rows(spark, tmp_path):
    from analysis.spark_engine import sample_spark

    df = table(500, seed=5)
    path = write_parquet(df, tmp_path / "loans.parquet")
    spec = AuditSpec(decision="decision", positive=("approve",), protected=("gender",))
    sample = sample_spark(path, spec=spec, per_group=3, session=spark)
    loaded = load_table(path).data
    assert list(sample.dtypes) == list(loaded.dtypes)
    cells = sample.groupby(["gender", "decision"], dropna=False).size()
    assert cells.max() == 3  # " F" is "F", and "N/A" is missing, as the loader reads them
    assert len(cells) == len(loaded.groupby(["gender", "decision"], dropna=False).size())
    again = sample_spark(path, spec=spec, per_group=3, session=spark)
    pd.testing.assert_frame_equal(sample, again)
    with pytest.raises(ValueError, match="A sample needs a bound: pass rows=N"):
        sample_spark(path, session=spark)
    bounded = sample_spark(path, rows=50, seed=1, session=spark)
    assert len(bounded) == 50 and bounded["id"].is_unique
    assert set(bounded["id"]) <= set(df["id"])


def test_export_writes_every_row_with_its_new_decision(spark, tmp_path):
    from analysis.spark_engine import export_decisions_spark

    df = table(300, seed=6)
    path = write_parquet(df, tmp_path / "loans.parquet")
    thresholds = {"<25": 0.2, "25–40": 0.4, "40–60": 0.6, "≥60": 0.8, "(missing)": 0.5}
    out = export_decisions_spark(path, SPEC, "age", thresholds, tmp_path / "out", session=spark)
    written = pd.read_parquet(out).sort_values("id").reset_index(drop=True)
    assert len(written) == len(df) and list(written.columns[:-2]) == list(df.columns)
    age, score = df["age"].to_numpy(), df["score"].to_numpy()
    cut = np.select([np.isnan(age), age < 25, age < 40, age < 60], [0.5, 0.2, 0.4, 0.6], 0.8)
    scored = ~np.isnan(score)
    old = df["decision"].map(lambda d: None if pd.isna(d) else int(d in ("approve", "review")))
    want = np.where(scored, (score >= cut).astype(float), old.astype(float))
    np.testing.assert_array_equal(written["new_decision"].to_numpy(dtype=float, na_value=np.nan), want)
    assert written.loc[np.isnan(age), "group"].eq("(missing)").all()
