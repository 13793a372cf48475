"""A path searched by DuckDB with the reading options' missing spellings finds the slices of the table read so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import AuditSpec, find_slices, load_table

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
