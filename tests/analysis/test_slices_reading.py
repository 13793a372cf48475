"""A path searched by DuckDB with the reading options' missing spellings finds the slices of the table read so; the
bins it cut over every row mark a slice's rows in a sample of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import AuditSpec, SpecError, find_slices, load_table, suggest_roles
from analysis.metrics import SLICE_METRICS
from analysis.slices import row_states, slice_mask

pytest.importorskip("duckdb")

SPEC = AuditSpec.from_dict({"decision": "decision", "positive": ["yes"], "protected": ["group"]})


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    rng = np.random.default_rng(11)
    n = 4000
    channel = rng.choice(["web", "phone", "?"], n, p=[0.5, 0.3, 0.2])  # "?" is this file's spelling of missing
    group = rng.choice(["A", "B"], n)
    decision = np.where(rng.random(n) < np.where(channel == "?", 0.2, 0.6), "yes", "no")
    where = tmp_path_factory.mktemp("reading") / "decisions.csv"
    pd.DataFrame({"channel": channel, "group": group, "decision": decision}).to_csv(where, index=False)
    return where


def without_engine(search) -> dict:
    out = search.to_dict()
    out.pop("engine")
    return out


def test_the_missing_spellings_reach_the_duckdb_search(path):
    read = find_slices(path, SPEC, engine="duckdb", na_values=["?"])
    assert read.slices[0].key == "channel = (missing)"
    in_memory = find_slices(load_table(path, na_values=["?"]).data, SPEC)
    assert without_engine(read) == without_engine(in_memory)
    as_text = find_slices(path, SPEC, engine="duckdb")
    assert as_text.slices[0].key == "channel = ?"  # without them "?" is a value like any other


def test_a_path_read_in_memory_takes_them_too(path):
    read = find_slices(str(path), SPEC, engine="pandas", na_values=["?"])
    assert read.slices[0].key == "channel = (missing)"


LOANS = Path(__file__).resolve().parents[2] / "sample_data" / "loan_approvals.csv"


@pytest.mark.parametrize("metric", ["favorable_rate", "fpr"])
def test_the_searchs_bins_mark_a_slice_s_rows_in_a_sample_as_in_the_whole_table(metric):
    df = load_table(LOANS).data
    spec = suggest_roles(df).spec
    search = find_slices(LOANS, spec, engine="duckdb", metric=metric)
    edges = search.bins
    assert "region" not in edges and edges["age"] == (25.0, 40.0, 60.0)  # values; the spec's own bins
    assert edges == find_slices(df, spec, metric=metric).bins  # over every row, as in memory
    counted = row_states(df, spec, SLICE_METRICS[metric][0])[0]
    rows = np.random.default_rng(0).choice(len(df), 2000, replace=False)
    sample = df.iloc[rows].reset_index(drop=True)
    # The sample's own quartiles are not the source's: cut on its own rows, the terms are other bins.
    with pytest.raises(SpecError, match="names no value of column 'income'"):
        slice_mask(sample, spec, next(s for s in search.slices if s.terms[0].column == "income"), metric=metric)
    for item in search.slices:
        whole = slice_mask(df, spec, item, metric=metric, edges=edges)
        assert int((whole & counted).sum()) == item.n, item.key
        assert whole.tolist() == slice_mask(df, spec, item, metric=metric).tolist(), "the same cut as its own rows"
        # In a sample: the same rows as the whole table's mask (its own rows would cut other bins).
        assert slice_mask(sample, spec, item, metric=metric, edges=edges).tolist() == whole[rows].tolist()
