"""explain_slice: why decisions in a slice differ from the rest's, split by feature, from the slice's own rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import AuditSpec, ExplainError, find_slices
from analysis.explain import explain_slice, explain_surrogate
from analysis.slices import slice_mask

SPEC = AuditSpec.from_dict(
    {"decision": "decision", "positive": ["yes"], "protected": ["group"], "features": ["channel", "plan", "tenure"]}
)


@pytest.fixture(scope="module")
def planted():
    """Phone customers on the free plan are approved far less often; tenure and the group do not matter."""
    rng = np.random.default_rng(7)
    n = 3000
    channel = rng.choice(["web", "phone"], n)
    plan = rng.choice(["free", "pro"], n)
    tenure = rng.integers(0, 30, n)
    rate = np.where((channel == "phone") & (plan == "free"), 0.1, 0.7)
    df = pd.DataFrame(
        {
            "channel": channel,
            "plan": plan,
            "tenure": tenure,
            "group": rng.choice(["A", "B"], n),
            "decision": np.where(rng.random(n) < rate, "yes", "no"),
        }
    )
    return df, explain_surrogate(df, SPEC, random_state=0)


def test_the_slice_s_gap_comes_from_its_terms_and_its_parts_add_up(planted):
    df, stage = planted
    item = find_slices(df, SPEC, max_depth=2).slices[0]
    assert item.key == "channel = phone and plan = free"
    mask = slice_mask(df, SPEC, item)
    gap = explain_slice(stage, mask, name=item.key, sample_size=1000)
    assert gap.reference == "the rest"
    assert (gap.n_group, gap.n_reference) == (500, 500)
    assert gap.total < -1.5  # log-odds: 10% against 70% approved
    assert gap.total_probability == pytest.approx(0.1 - 0.7, abs=0.12)
    assert {f for f, _ in gap.contributions[:2]} == {"channel", "plan"}
    assert sum(v for _, v in gap.contributions) == pytest.approx(gap.total, abs=1e-9)
    assert gap.sentence.startswith(f"Of the {gap.total:+.2f} log-odds gap between the slice {item.key} and the rest")


def test_a_small_slice_is_explained_from_all_its_rows(planted):
    df, stage = planted
    mask = np.zeros(len(df), dtype=bool)
    mask[:40] = True
    gap = explain_slice(stage, mask, name="the first rows", sample_size=1000)
    assert (gap.n_group, gap.n_reference) == (40, 500)


def test_a_mask_that_does_not_fit_or_an_empty_side_is_refused(planted):
    df, stage = planted
    with pytest.raises(ExplainError, match="has 10 entries, but the table explained has 3,000 rows"):
        explain_slice(stage, np.ones(10, dtype=bool), name="x")
    with pytest.raises(ExplainError, match="No row with a decision is outside the slice everyone"):
        explain_slice(stage, np.ones(len(df), dtype=bool), name="everyone")
