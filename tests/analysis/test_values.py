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


# --- spelling variants ---------------------------------------------------------------------------

from analysis.values import VariantGroup, merge_spellings, shown_spelling, value_variants, variant_key  # noqa: E402


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Yes", "YES"),
        ("Female", "female\u200b"),  # zero-width space
        ("Zo\u00eb", "Zoe\u0308"),  # NFC vs NFD
        ("Jos\u00e9", "JOSE\u0301"),
        ("no", "n\u00adO"),  # soft hyphen
        ("New York", "new\u00a0york"),  # no-break space inside
        ("New York", "New  York"),
        ("a b", "a\u202fb"),  # narrow no-break space
        ("x", "\ufeffx"),  # byte-order mark
        ("Yes", "\uff39\uff45\uff53"),  # full-width letters
        ("\u0130STANBUL", "\u0130stanbul"),  # the same dotted capital I
    ],
)
def test_variant_key_joins_spellings_of_one_value(a, b):
    assert variant_key(a) == variant_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Stra\u00dfe", "STRASSE"),  # ß/SS: case folding would also join Maße and Masse
        ("Ma\u00dfe", "Masse"),
        ("\u0130stanbul", "istanbul"),  # Turkish dotted capital I is not i
        ("\u0131", "i"),  # Turkish dotless i
        ("1", "1.0"),
        ("Zoe", "Zo\u00eb"),  # an accent is a different letter
        ("ab", "a b"),
    ],
)
def test_variant_key_keeps_different_values_apart(a, b):
    assert variant_key(a) != variant_key(b)


def test_value_variants_counts_each_spelling_most_frequent_first():
    series = pd.Series(["Yes"] * 5 + ["yes"] * 2 + ["YES "] + ["No"] * 3 + [None, "Zo\u00eb", "Zoe\u0308"], name="ok")
    groups = value_variants(series)
    assert groups == (
        VariantGroup("ok", (("Yes", 5), ("yes", 2), ("YES", 1))),
        VariantGroup("ok", (("Zo\u00eb", 1), ("Zoe\u0308", 1))),  # a tie goes to the composed spelling
    )
    assert groups[0].kept == "Yes" and groups[0].merged_rows == 3
    assert groups[0].shown() == "'Yes' (5), 'yes' (2), 'YES' (1)"
    assert groups[1].shown() == "'Zoë' (1), 'Zoe\\u0308' (1)"  # the decomposed spelling is shown escaped


def test_value_variants_ignores_numbers_booleans_and_one_spelling():
    assert value_variants(pd.Series([1, 1.0, 2])) == ()
    assert value_variants(pd.Series([True, False])) == ()
    assert value_variants(pd.Series(["a", "b", None])) == ()
    assert value_variants(pd.Series(["1", "1.0"])) == ()


def test_value_variants_of_a_categorical_column():
    series = pd.Series(pd.Categorical(["F", "f", "F", "M"]), name="g")
    assert value_variants(series) == (VariantGroup("g", (("F", 2), ("f", 1))),)


def test_shown_spelling_makes_invisible_characters_visible():
    assert shown_spelling("female\u200b") == "'female\\u200b'"
    assert shown_spelling("a\u00a0b") == "'a\\xa0b'"
    assert shown_spelling("Zo\u00eb") == "'Zoë'"


def test_merge_spellings_rewrites_variants_to_the_kept_spelling():
    series = pd.Series(["Yes", "yes", "YES\u200b", None, "No", " Yes", "Yes"], name="ok")
    merged = merge_spellings(series, value_variants(series))
    assert merged.tolist()[:3] == ["Yes", "Yes", "Yes"]
    assert pd.isna(merged.iloc[3])
    assert merged.tolist()[4:] == ["No", " Yes", "Yes"]  # ' Yes' already is 'Yes' to every comparison
    assert merged.index.equals(series.index) and merged.name == "ok"
    assert merge_spellings(series, ()) is series


def test_merge_spellings_keeps_a_categorical_column_categorical():
    series = pd.Series(pd.Categorical(["F", "f", "F", "M", None]), name="g")
    merged = merge_spellings(series, value_variants(series))
    assert isinstance(merged.dtype, pd.CategoricalDtype)
    assert list(merged.cat.categories) == ["F", "M"]
    assert merged.value_counts().to_dict() == {"F": 3, "M": 1}
