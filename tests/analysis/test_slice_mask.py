"""A slice's rows (slice_mask): the search's own bins, so the mask holds exactly the slice's n rows of the metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import AuditSpec, SpecError, find_slices, load_table, suggest_roles
from analysis.metrics import SLICE_METRICS
from analysis.slices import SliceTerm, row_states, slice_mask

LOANS = Path(__file__).resolve().parents[2] / "sample_data" / "loan_approvals.csv"


@pytest.fixture(scope="module")
def loans():
    df = load_table(LOANS).data
    return df, suggest_roles(df).spec


def counts(df, spec, item, metric):
    """Rows of the mask the metric counts, and of those its numerator's (as find_slices counts a slice)."""
    counted, numerator = row_states(df, spec, SLICE_METRICS[metric][0])
    mask = slice_mask(df, spec, item, metric=metric)
    return int((mask & counted).sum()), int((mask & numerator).sum())


@pytest.mark.parametrize("metric", list(SLICE_METRICS))
def test_the_mask_holds_every_slice_s_rows_exactly(loans, metric):
    df, spec = loans
    search = find_slices(df, spec, metric=metric)
    assert len(search.slices) == 20
    binned = {t.column for s in search.slices for t in s.terms if "<" in t.value or "≥" in t.value}
    assert binned  # the number bins ("<40100", "≥0.387") are among the terms checked
    for item in search.slices:  # events: the favourable decisions, or the errors
        assert counts(df, spec, item, metric) == (item.n, item.events), item.key


def test_a_binned_protected_attribute_and_a_missing_value_are_terms_of_their_own(loans):
    df, spec = loans
    search = find_slices(df, spec, max_depth=1, min_support=30, top_k=60)
    keys = {s.key: s for s in search.slices}
    age = next(s for k, s in keys.items() if k.startswith("age = "))  # the spec's bins (25, 40, 60)
    assert counts(df, spec, age, "favorable_rate")[0] == age.n
    terms = [SliceTerm("employment_years", "(missing)")]
    mask = slice_mask(df, spec, terms)
    assert mask.sum() == df["employment_years"].isna().sum() > 0


def test_rows_the_metric_does_not_count_are_in_the_mask_by_their_values():
    df = pd.DataFrame(
        {
            "decision": ["yes", "no", None, "yes", "no", None] * 50,
            "channel": ["web", "web", "web", "phone", "phone", "phone"] * 50,
            "group": ["A", "B"] * 150,
        }
    )
    spec = AuditSpec.from_dict({"decision": "decision", "positive": ["yes"], "protected": ["group"]})
    mask = slice_mask(df, spec, [SliceTerm("channel", "web")])
    assert mask.tolist() == (df["channel"] == "web").tolist()


def test_a_count_that_is_mostly_zero_is_split_at_its_second_smallest_value():
    rng = np.random.default_rng(5)
    n = 2000
    claims = np.where(rng.random(n) < 0.85, 0, rng.integers(1, 40, n))
    decision = np.where(rng.random(n) < np.where(claims > 0, 0.2, 0.7), "yes", "no")
    df = pd.DataFrame({"claims": claims, "decision": decision, "group": rng.choice(["A", "B"], n)})
    spec = AuditSpec.from_dict({"decision": "decision", "positive": ["yes"], "protected": ["group"]})
    search = find_slices(df, spec, max_depth=1)
    item = next(s for s in search.slices if s.terms[0].column == "claims")
    assert item.terms[0].value == "≥1"
    assert slice_mask(df, spec, item).sum() == item.n == (claims >= 1).sum()


def test_a_term_the_table_does_not_have_is_refused_with_its_values(loans):
    df, spec = loans
    with pytest.raises(SpecError, match=r"'region = Atlantis' names no value of column 'region'.*East"):
        slice_mask(df, spec, [SliceTerm("region", "Atlantis")])
    with pytest.raises(SpecError, match="'planet' is not a column"):
        slice_mask(df, spec, [SliceTerm("planet", "Mars")])
