import numpy as np
import pandas as pd
import pytest

from analysis.values import distinct_keys, matches_any, value_key


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (1, "1"),
        (1.0, "1"),
        ("1", "1"),
        (" >50K", ">50K"),
        (0.25, "0.25"),
        (True, "True"),
        (np.int64(3), "3"),
        (float("nan"), None),
        (None, None),
        (pd.NA, None),
    ],
)
def test_value_key(value, key):
    assert value_key(value) == key


def test_matches_any_across_dtypes():
    assert matches_any(pd.Series([1, 0, 1]), ["1"]).tolist() == [True, False, True]
    assert matches_any(pd.Series([1.0, 0.0, np.nan]), [1]).tolist() == [True, False, False]
    assert matches_any(pd.Series(["Y", " Y", None, "N"]), ["Y"]).tolist() == [True, True, False, False]
    assert matches_any(pd.Series([True, False]), ["True"]).tolist() == [True, False]
    assert matches_any(pd.Series(["a"]), []).tolist() == [False]


def test_distinct_keys_merges_equal_values_and_orders_by_frequency():
    assert distinct_keys(pd.Series([1.0, 2.0, 2.0, np.nan, 1])) == ["1", "2"]
    assert distinct_keys(pd.Series(["b", "a", "b", None])) == ["b", "a"]
