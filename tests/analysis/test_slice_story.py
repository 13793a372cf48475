"""slice_beyond_groups: the overview's sentence on a significant slice worse than every group the roles name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import AuditSpec, find_slices, load_table, suggest_roles
from analysis.audit import audit
from analysis.story import slice_beyond_groups, worst_named_group

LOANS = Path(__file__).resolve().parents[2] / "sample_data" / "loan_approvals.csv"


@pytest.fixture(scope="module")
def loans():
    df = load_table(LOANS).data
    spec = suggest_roles(df).spec
    return df, spec, audit(df, spec)


def lowest_rate(result) -> tuple[str, str, float]:
    """The lowest favourable rate of any group the audit compares (every attribute and intersection)."""
    rows = [
        (a.name, g, a.groups[g].metrics["favorable_rate"].value)
        for a in (*result.attributes.values(), *result.intersections.values())
        for g in a.summary.groups_compared
    ]
    return min(rows, key=lambda r: r[2])


def test_the_loan_sample_s_worst_slice_is_worse_than_every_named_group(loans):
    df, spec, result = loans
    search = find_slices(df, spec)
    attribute, group, value = lowest_rate(result)
    assert worst_named_group(search, result) == (attribute, group, value)
    first = search.slices[0]
    assert first.significant and first.value < value
    stand = first.stands_in_for.sentence()
    assert slice_beyond_groups(search, result) == (
        f"Beyond the groups you named: those with {first.key} are approved {100 * first.value:.0f}% of the time "
        f"(n={first.n:,}), worse than any group you named (worst: {attribute} = {group}, {100 * value:.0f}%); "
        f"{stand}."
    )


def test_no_sentence_when_no_significant_slice_is_worse(loans):
    df, spec, result = loans
    search = find_slices(df, spec)
    quiet = dataclasses.replace(search, slices=tuple(dataclasses.replace(s, significant=False) for s in search.slices))
    assert slice_beyond_groups(quiet, result) is None
    _, _, value = lowest_rate(result)
    better = tuple(dataclasses.replace(s, value=value + 0.01) for s in search.slices)
    assert slice_beyond_groups(dataclasses.replace(search, slices=better), result) is None


def test_a_slice_of_protected_terms_only_is_a_named_group_not_beyond_them(loans):
    df, spec, result = loans
    search = find_slices(df, spec, features=["gender", "age", "ethnicity"], max_depth=3)
    assert search.slices and all(t.column in search.protected for s in search.slices for t in s.terms)
    assert slice_beyond_groups(search, result) is None


def test_an_error_rate_and_a_harmful_decision_are_worded_as_they_are(loans):
    df, spec, result = loans
    fpr = find_slices(df, spec, metric="fpr")
    assert slice_beyond_groups(fpr, result).startswith(f"Beyond the groups you named: those with {fpr.slices[0].key} "
                                                       f"have an FPR of {100 * fpr.slices[0].value:.0f}%")  # fmt: skip
    rng = np.random.default_rng(3)
    n = 4000
    channel = rng.choice(["web", "phone"], n)
    group = rng.choice(["A", "B"], n)
    flagged = rng.random(n) < np.where(channel == "phone", 0.6, 0.1)
    frame = pd.DataFrame({"channel": channel, "group": group, "fraud_flag": np.where(flagged, "yes", "no")})
    harmful = AuditSpec.from_dict(
        {"decision": "fraud_flag", "positive": ["yes"], "positive_is_favorable": False, "protected": ["group"]}
    )
    search = find_slices(frame, harmful)
    phone = search.slices[0]
    assert phone.key == "channel = phone"
    sentence = slice_beyond_groups(search, audit(frame, harmful))
    # Said as the share flagged (the harmful decision), the verb with its condition as the overview says it.
    assert sentence.startswith(f"Beyond the groups you named: those with channel = phone are flagged (fraud_flag = "
                               f"yes) {100 * (1 - phone.value):.0f}% of the time (n={phone.n:,})")  # fmt: skip
