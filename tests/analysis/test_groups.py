import numpy as np
import pandas as pd
import pytest

from analysis import MISSING_GROUP, SpecError, encode_groups
from analysis.groups import bin_labels, quantile_edges


def test_text_groups_with_missing_as_explicit_group():
    groups = encode_groups(pd.Series(["b", "a", None, "b", "NA"], name="g"))
    assert groups.labels == ("NA", "a", "b", MISSING_GROUP)
    assert groups.counts == (1, 1, 2, 1)
    assert groups.missing_count == 1
    assert [groups.labels[c] for c in groups.codes] == ["b", "a", MISSING_GROUP, "b", "NA"]


def test_numeric_values_merge_by_canonical_key():
    groups = encode_groups(pd.Series([1.0, 2.0, 1.0], name="x"))
    assert groups.labels == ("1", "2")
    assert groups.sizes() == {"1": 2, "2": 1}


def test_bins_include_their_lower_edge_and_drop_empty_bins():
    ages = pd.Series([18, 25, 39.9, 40, 60, 75, np.nan], name="age")
    groups = encode_groups(ages, bins=(25, 40, 60))
    assert groups.labels == ("<25", "25–40", "40–60", "≥60", MISSING_GROUP)
    assert groups.counts == (1, 2, 1, 2, 1)
    assert groups.edges == (25.0, 40.0, 60.0)
    only_high = encode_groups(pd.Series([70, 80], name="age"), bins=(25, 40, 60))
    assert only_high.labels == ("≥60",)


def test_quantile_bins():
    values = pd.Series(np.arange(100, dtype=float), name="income")
    assert quantile_edges(values, 4) == (24.75, 49.5, 74.25)
    groups = encode_groups(values, quantiles=4)
    assert groups.counts == (25, 25, 25, 25)


def test_bins_on_text_and_unsorted_edges_are_refused():
    with pytest.raises(SpecError, match=r"Column 'g' has text values .* bins apply to numeric columns only"):
        encode_groups(pd.Series(["a", "b"], name="g"), bins=(1,))
    with pytest.raises(SpecError, match=r"must increase strictly, got \[40.0, 25.0\]"):
        encode_groups(pd.Series([1, 2], name="age"), bins=(40, 25))


def test_bin_labels():
    assert bin_labels((0.5,)) == ["<0.5", "≥0.5"]


def test_a_literal_missing_value_is_its_own_group_apart_from_missing_cells():
    from analysis.groups import LITERAL_MISSING_GROUP

    series = pd.Series(["a", "(missing)", None, "(missing)", "b", np.nan], name="g")
    groups = encode_groups(series)
    assert LITERAL_MISSING_GROUP == "(missing) [value]"
    assert groups.sizes() == {"(missing) [value]": 2, "a": 1, "b": 1, MISSING_GROUP: 2}
    assert groups.missing_count == 2
    assert groups.labels[-1] == MISSING_GROUP
    assert [groups.labels[c] for c in groups.codes] == [
        "a",
        "(missing) [value]",
        MISSING_GROUP,
        "(missing) [value]",
        "b",
        MISSING_GROUP,
    ]


def test_a_literal_missing_value_without_missing_cells_is_not_counted_as_missing():
    groups = encode_groups(pd.Series(["(a)", "(missing)", "(missing)"], name="g"))
    assert groups.sizes() == {"(a)": 1, "(missing) [value]": 2}
    assert groups.missing_count == 0


def test_the_literal_groups_name_never_collides_either():
    groups = encode_groups(pd.Series(["(missing)", "(missing) [value]", None], name="g"))
    assert groups.sizes() == {"(missing) [value]": 1, "(missing) [value] [value]": 1, MISSING_GROUP: 1}
