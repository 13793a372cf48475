"""Two decision-makers on the same cases, cross-checked against statsmodels' McNemar test."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar

from analysis.errors import OptionError
from analysis.paired import mcnemar_p, paired_by_group, paired_interval


@pytest.mark.parametrize(("b", "c"), [(0, 0), (1, 0), (3, 9), (12, 12), (10, 14), (30, 45), (200, 260)])
def test_mcnemar_matches_statsmodels(b, c):
    table = [[50, b], [c, 40]]
    exact = b + c < 25
    expected = mcnemar(table, exact=exact, correction=False).pvalue
    assert mcnemar_p(b, c) == pytest.approx(expected if b + c else 1.0)


def test_paired_interval_covers_at_its_level():
    rng = np.random.default_rng(7)
    n, p_first_only, p_second_only = 120, 0.15, 0.05
    truth = p_first_only - p_second_only
    covered = 0
    runs = 2000
    for _ in range(runs):
        cells = rng.multinomial(n, [p_first_only, p_second_only, 1 - p_first_only - p_second_only])
        low, high = paired_interval(cells[0], cells[1], n)
        covered += low <= truth <= high
    # 95 % nominal; a binomial margin of 3 standard errors over 2,000 runs is about 1.5 points.
    assert abs(covered / runs - 0.95) < 0.015


def test_groups_rates_agreement_and_the_sentence():
    rng = np.random.default_rng(3)
    n = 4000
    codes = rng.choice(2, n)
    reviewer = rng.random(n) < 0.2
    # The AI escalates group 1 less often: it drops 40 % of the reviewers' escalations there.
    ai = reviewer & ~((codes == 1) & (rng.random(n) < 0.4))
    result = paired_by_group(ai, reviewer, codes, ("English", "Portuguese"), attribute="language",
                             first_name="the AI", second_name="the reviewers")  # fmt: skip
    english, portuguese = result.groups
    rows = codes == 1
    assert portuguese.n == rows.sum()
    assert portuguese.first_rate == pytest.approx(ai[rows].mean())
    assert portuguese.agreement == pytest.approx((ai[rows] == reviewer[rows]).mean())
    assert portuguese.only_second == int((~ai[rows] & reviewer[rows]).sum()) and portuguese.only_first == 0
    assert portuguese.difference_low < -0.4 * reviewer[rows].mean() * 0.8
    assert portuguese.q_value < 0.001 and english.p_value == 1.0
    sentence = portuguese.sentence("language", "the AI", "the reviewers", "escalated")
    assert sentence.startswith("For language = Portuguese, cases are escalated by the AI 4")
    assert "% less often than by the reviewers (" in sentence


def test_cases_one_did_not_decide_are_left_out_and_shapes_checked():
    first = np.array([True, False, True])
    result = paired_by_group(first, first, np.array([0, 0, 0]), ("a",), decided=np.array([True, True, False]))
    assert result.left_out == 1 and result.groups[0].n == 2 and result.groups[0].agreement == 1.0
    with pytest.raises(OptionError, match="one value per case"):
        paired_by_group(first, first[:2], np.array([0, 0, 0]), ("a",))
