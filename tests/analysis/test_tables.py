"""The group and comparison tables the Fairness page and the report share: cells as text, undefined never 0."""

import pandas as pd
import pytest

from analysis import AuditSpec
from analysis.audit import audit
from analysis.tables import comparison_table, group_table, q_text, text_rows


def frame() -> pd.DataFrame:
    """Groups A (large), B (large) and N (all labels negative: TPR undefined), with a score."""
    rows = []
    for g, group in enumerate(("A", "B", "N")):
        for i in range(200):
            approved = "Y" if (i % 10) < (7 - 2 * g) else "N"
            outcome = 0 if group == "N" else int(i % 3 != 0)
            rows.append({"g": group, "approved": approved, "outcome": outcome, "score": (i % 10) / 10})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def result():
    spec = AuditSpec(
        decision="approved", positive=("Y",), label="outcome", label_positive=(1,), score="score", protected=("g",)
    )
    return audit(frame(), spec, confidence=0.9)


def test_the_group_table_has_a_row_per_group_with_rates_and_their_intervals(result):
    g = result.attributes["g"]
    table = group_table(g, 0.9).set_index("group")
    assert list(table.index) == ["A", "B", "N"]
    assert list(table.columns[:3]) == ["n", "share", "status"]
    assert "favourable rate (90% CI)" in table.columns and "Brier score" in table.columns
    b = g.groups["B"]
    rate = b.metrics["favorable_rate"]
    assert table.loc["B", "favourable rate (90% CI)"] == f"{rate.value:.3f} ({rate.ci_low:.3f}–{rate.ci_high:.3f})"
    assert table.loc["B", "n"] == 200 and table.loc["B", "share"] == pytest.approx(1 / 3)
    assert table.loc["N", "TPR (90% CI)"] == "undefined (n=0)"
    assert table.loc["A", "status"] == "reference group"
    assert table.loc["A", f"disparate impact vs {g.reference_group} (90% CI)"] == "reference"
    assert table.loc["A", "q (disparate impact)"] == "—"
    di = b.metrics["disparate_impact"]
    assert table.loc["B", "q (disparate impact)"] == q_text(di.q_value)
    assert table.loc["B", "Brier score"] == f"{b.metrics['brier'].value:.3f}"


def test_the_comparison_table_signs_differences_and_gives_q_for_tested_comparisons(result):
    g = result.attributes["g"]
    table = comparison_table(g, 0.9).set_index("group")
    spd = g.groups["N"].metrics["statistical_parity_difference"]
    cell = table.loc["N", "statistical parity difference (90% CI)"]
    assert cell == f"{spd.value:+.3f} ({spd.ci_low:+.3f} to {spd.ci_high:+.3f})"
    assert "q (statistical parity difference)" not in table.columns  # it shares disparate impact's test
    eo = g.groups["B"].metrics["equal_opportunity_difference"]
    assert table.loc["B", "q (equal opportunity difference (TPR))"] == q_text(eo.q_value)
    assert table.loc["A", "equal opportunity difference (TPR) (90% CI)"] == "reference"


def test_text_rows_write_counts_shares_and_empty_cells_as_the_report_shows_them():
    table = pd.DataFrame(
        [["A", 12345, 0.4861, None], ["B", 7, 0.5, "0.500 (0.4–0.6)"]], columns=["group", "n", "share", "x"]
    )
    assert text_rows(table) == [["A", "12,345", "48.6%", "—"], ["B", "7", "50.0%", "0.500 (0.4–0.6)"]]


def test_q_values_below_a_thousandth_are_not_rounded_to_zero():
    assert (q_text(None), q_text(0.0004), q_text(0.0421)) == ("—", "< 0.001", "0.042")
