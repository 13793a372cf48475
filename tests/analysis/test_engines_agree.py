"""The same audit from every engine: pandas, DuckDB and Spark give one JSON but for ``created_at`` and ``engine``.

Each source is audited from its file by each engine (the pandas engine loads it; DuckDB and Spark count it
where it lies). Counts must be equal exactly, every derived number to 1e-12, every sentence word for word.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.audit import audit
from analysis.loading import load_table
from analysis.spec import AuditSpec, ProtectedAttribute

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from helpers_json import assert_same_json, without

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"
IGNORED = ("created_at", "engine")

LOANS = AuditSpec(
    decision="approved",
    positive=("Y",),
    label="repaid",
    label_positive=(1,),
    score="model_score",
    protected=(
        ProtectedAttribute("gender"),
        ProtectedAttribute("ethnicity"),
        ProtectedAttribute("age", bins=(25, 40, 60)),
        ProtectedAttribute("income", quantiles=4),
    ),
)

# Three decisions (two favourable), a label with gaps, a score with ties and gaps, binned and quantile-cut
# numbers, text with a "(missing)" value, "NA" cells and stray spaces.
GENERATED = AuditSpec(
    decision="decision",
    positive=("approve", "review"),
    label="repaid",
    label_positive=(1,),
    score="score",
    protected=(
        ProtectedAttribute("gender"),
        ProtectedAttribute("age", bins=(25, 40, 60)),
        ProtectedAttribute("income", quantiles=4),
        ProtectedAttribute("country"),
    ),
    intersections=(("gender", "country"),),
)
BY_SCORE = AuditSpec(score="score", threshold=0.5, label="repaid", label_positive=(1,), protected=("gender", "country"))


def generated(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    decision = rng.choice(np.array(["approve", "review", "deny", None], dtype=object), n, p=[0.4, 0.15, 0.35, 0.1])
    label = rng.choice(np.array([1.0, 0.0, np.nan]), n, p=[0.5, 0.35, 0.15])
    score = np.round(rng.random(n), 2)
    score[rng.random(n) < 0.05] = np.nan
    gender = rng.choice(np.array(["F", "M", " F", "(missing)", None], dtype=object), n, p=[0.4, 0.4, 0.05, 0.05, 0.1])
    age = rng.integers(18, 80, n).astype(float)
    age[rng.random(n) < 0.05] = np.nan
    income = np.round(rng.gamma(2.0, 20_000, n), 0)
    income[rng.random(n) < 0.05] = np.nan
    country = rng.choice(np.array(["DE", "NA", "FR", "IT", None], dtype=object), n, p=[0.35, 0.15, 0.3, 0.1, 0.1])
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
        }
    )


def parquet(df: pd.DataFrame, path: Path) -> str:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    return str(path)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, tuple[str, AuditSpec]]:
    folder = tmp_path_factory.mktemp("engines")
    loans = load_table(SAMPLES / "loan_approvals.csv").data
    df = generated()
    csv = folder / "generated.csv"
    df.to_csv(csv, index=False)
    return {
        "loans.parquet": (parquet(loans, folder / "loans.parquet"), LOANS),
        "loans.csv": (str(SAMPLES / "loan_approvals.csv"), LOANS),
        "generated.parquet": (parquet(df, folder / "generated.parquet"), GENERATED),
        "generated.csv": (str(csv), GENERATED),
        "by-score.parquet": (parquet(df, folder / "by-score.parquet"), BY_SCORE),
    }


def _audits(path: str, spec: AuditSpec, engines, **kwargs) -> dict[str, dict]:
    return {engine: audit(path, spec, engine=engine, **kwargs).to_dict() for engine in engines}


@pytest.mark.parametrize(
    "name", ["loans.parquet", "loans.csv", "generated.parquet", "generated.csv", "by-score.parquet"]
)
def test_duckdb_gives_the_pandas_json(sources, name):
    path, spec = sources[name]
    results = _audits(path, spec, ("pandas", "duckdb"))
    assert results["duckdb"]["engine"] == "duckdb" and results["pandas"]["engine"] == "pandas"
    assert results["pandas"]["dataset"]["rows"] == results["duckdb"]["dataset"]["rows"] > 0
    if name.endswith(".csv"):
        _check_csv_load(results["pandas"]["load"], results["duckdb"]["load"], spec)
        assert_same_json(without(results["pandas"], (*IGNORED, "load")), without(results["duckdb"], (*IGNORED, "load")))
    else:
        assert_same_json(without(results["pandas"], IGNORED), without(results["duckdb"], IGNORED))


def _check_csv_load(loaded: dict, counted: dict, spec: AuditSpec) -> None:
    """A CSV file counted where it lies: the loader's changes in the columns the audit reads, and a note saying so."""
    from analysis.duckdb_engine import CSV_CHANGES_NOTE
    from analysis.engine import counted_columns

    read = set(counted_columns(spec))
    assert counted["changes"] == [c for c in loaded["changes"] if c["column"] in read]
    assert CSV_CHANGES_NOTE in counted["warnings"]
    same = ("name", "format", "encoding", "delimiter", "rows", "columns", "size_bytes", "sha256")
    assert {k: counted[k] for k in same} == {k: loaded[k] for k in same}


def test_the_samples_tickets_agree_on_duckdb(tmp_path):
    from analysis.suggest import suggest_spec

    df = load_table(SAMPLES / "support_tickets.csv").data
    suggestion = suggest_spec(df)
    spec = getattr(suggestion, "spec", suggestion)
    path = parquet(df, tmp_path / "tickets.parquet")
    results = _audits(path, spec, ("pandas", "duckdb"))
    assert_same_json(without(results["pandas"], IGNORED), without(results["duckdb"], IGNORED))


def test_an_engine_that_ignored_a_row_would_be_caught(sources, tmp_path):
    path, spec = sources["generated.parquet"]
    df = pd.read_parquet(path)
    fewer = parquet(df.iloc[1:], tmp_path / "fewer.parquet")
    left = audit(path, spec, engine="pandas", dataset_sha256="0" * 64).to_dict()
    right = audit(fewer, spec, engine="duckdb", dataset_sha256="0" * 64).to_dict()
    with pytest.raises(AssertionError):
        assert_same_json(without(left, IGNORED), without(right, IGNORED))


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("name", ["loans.parquet", "generated.parquet", "generated.csv", "by-score.parquet"])
def test_spark_gives_the_pandas_json(sources, spark, name):
    path, spec = sources[name]
    pandas = audit(path, spec, engine="pandas").to_dict()
    counted = audit(path, spec, engine="spark").to_dict()
    assert counted["engine"] == "spark"
    # Spark reads a CSV file's cells itself: its audit has no loader's report to give.
    ignored = (*IGNORED, "load") if name.endswith(".csv") else IGNORED
    assert_same_json(without(pandas, ignored), without(counted, ignored))
