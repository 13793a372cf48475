"""The slice search on the DuckDB engine: the same slices as in memory, from files of every kind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import AuditSpec, OptionError, find_slices, load_table

pytest.importorskip("duckdb")

SPEC = AuditSpec.from_dict(
    {
        "decision": "decision",
        "positive": ["yes"],
        "label": "label",
        "label_positive": [1],
        "protected": ["group", {"column": "age", "quantiles": 3}],
    }
)


def _table(n: int = 6000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(["A", "B", "C"], n, p=[0.5, 0.3, 0.2])
    channel = rng.choice(["web", "phone", "branch", None], n, p=[0.5, 0.3, 0.15, 0.05])
    plan = rng.choice(["free", "pro"], n)
    income = np.round(rng.lognormal(10, 0.5, n), -2)
    income[rng.random(n) < 0.03] = np.nan
    age = rng.integers(18, 80, n)
    # A planted slice: phone customers on the free plan are approved far less often.
    rate = np.where((channel == "phone") & (plan == "free"), 0.25, 0.6) - np.where(group == "B", 0.05, 0.0)
    decision = np.where(rng.random(n) < rate, "yes", "no").astype(object)
    decision[rng.random(n) < 0.02] = None  # undecided rows are left out of every metric
    label = np.where(rng.random(n) < 0.5, 1, 0).astype(float)
    label[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "group": group,
            "age": age,
            "channel": channel,
            "plan": plan,
            "income": income,
            "decision": decision,
            "label": label,
        }
    )


def _without_engine(search) -> dict:
    out = search.to_dict()
    out.pop("engine")
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slices")
    df = _table()
    csv = folder / "decisions.csv"
    df.to_csv(csv, index=False)
    parquet = folder / "decisions.parquet"
    load_table(csv).data.to_parquet(parquet)
    parts = folder / "parts"
    parts.mkdir()
    loaded = load_table(csv).data
    for i, part in enumerate(np.array_split(np.arange(len(loaded)), 3)):
        loaded.iloc[part].to_parquet(parts / f"part-{i}.parquet")
    return {"csv": csv, "parquet": parquet, "folder": parts}


@pytest.mark.parametrize("metric", ["favorable_rate", "fnr", "error_rate"])
@pytest.mark.parametrize("kind", ["csv", "parquet", "folder"])
def test_duckdb_finds_the_same_slices_as_memory(files, kind, metric):
    expected = find_slices(load_table(files["csv"]).data, SPEC, metric=metric, max_depth=2, min_support=100)
    found = find_slices(str(files[kind]), SPEC, metric=metric, max_depth=2, min_support=100, engine="duckdb")
    assert found.engine == "duckdb"
    assert _without_engine(found) == _without_engine(expected)
    assert found.slices, "the planted slice makes some slice worse than the rest"


def test_duckdb_depth_three_and_the_planted_slice(files):
    found = find_slices(str(files["parquet"]), SPEC, max_depth=3, min_support=100, engine="duckdb")
    expected = find_slices(load_table(files["csv"]).data, SPEC, max_depth=3, min_support=100)
    assert _without_engine(found) == _without_engine(expected)
    top = found.slices[0]
    assert {t.describe() for t in top.terms} >= {"channel = phone", "plan = free"}
    assert top.significant


def test_duckdb_missing_values_are_terms(files):
    found = find_slices(str(files["parquet"]), SPEC, max_depth=1, min_support=30, top_k=50, engine="duckdb")
    channel = next(f for f in found.features if f.column == "channel")
    assert "(missing)" in channel.values
    income = next(f for f in found.features if f.column == "income")
    assert income.binned and income.values[-1] == "(missing)"


def test_duckdb_relation_is_refused_with_the_fix():
    import duckdb

    relation = duckdb.sql("SELECT 1 AS x")
    with pytest.raises(OptionError, match="pass the Parquet/CSV path"):
        find_slices(relation, SPEC, engine="duckdb")


def test_a_path_with_the_pandas_engine_is_loaded(files):
    expected = find_slices(load_table(files["csv"]).data, SPEC, max_depth=1, min_support=100)
    found = find_slices(str(files["csv"]), SPEC, max_depth=1, min_support=100, engine="pandas")
    assert found.to_dict() == expected.to_dict()


def test_unknown_engine_and_counted_tables_are_refused(files):
    from analysis.engine import count_table

    with pytest.raises(OptionError, match="engine"):
        find_slices(str(files["csv"]), SPEC, engine="spark")
    counted = count_table(str(files["parquet"]), SPEC, engine="duckdb")
    with pytest.raises(OptionError, match="counted table"):
        find_slices(counted, SPEC)


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_spellings_of_missing_apply_to_a_path(tmp_path, engine):
    """A reading option's spelling of missing ("not given") makes the same "(missing)" term on both engines."""
    df = _table(3000, seed=5)
    df["channel"] = df["channel"].fillna("not given")
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    search = find_slices(str(path), SPEC, engine=engine, max_depth=1, na_values=["not given"], top_k=50)
    channel = next(f for f in search.features if f.column == "channel")
    assert "(missing)" in channel.values and "not given" not in channel.values
    plain = find_slices(str(path), SPEC, engine=engine, max_depth=1, top_k=50)
    assert "not given" in next(f for f in plain.features if f.column == "channel").values
