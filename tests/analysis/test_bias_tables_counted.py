"""The audit tables of an engine's counts equal those of the rows they stand for."""

import numpy as np
import pytest

from analysis import load_table
from analysis.bias_tables import bias_tables
from analysis.engine import compress
from analysis.suggest import suggest_roles
from tests.test_sample_data import SAMPLE_DIR


@pytest.fixture(scope="module")
def loans():
    df = load_table(SAMPLE_DIR / "loan_approvals.csv").data
    return df, suggest_roles(df).spec


@pytest.mark.parametrize(
    ("table_format", "mode"), [("ll144", "selection"), ("ll144", "scoring"), ("four-fifths", "selection")]
)
def test_counted_rows_give_the_tables_of_the_rows(loans, table_format, mode):
    df, spec = loans
    options = {"format": table_format, "mode": mode, "sex": "gender", "race": "ethnicity"}
    expected = bias_tables(df, spec, **options).to_dict()
    assert bias_tables(compress(df, spec), spec, **options).to_dict() == expected
    assert [row["n"] for row in expected["tables"]["gender"]][:2] == [9697, 9725]  # the rows were counted


def test_the_median_of_counted_scores_is_the_median_of_the_rows(loans):
    df, spec = loans
    # An even number of rows: the median is the mean of the two middle scores, as np.median takes it.
    even = df.iloc[: 2 * 777]
    expected = float(np.median(even[spec.score].dropna()))
    tables = bias_tables(compress(even, spec), spec, mode="scoring", sex="gender", race="ethnicity")
    assert tables.median_score == expected
