"""Progress of long steps: every stage reported once, in order, with the time left extrapolated from the stages
timed on the data at hand."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from analysis import AuditSpec, load_table
from analysis.optimizer import frontier
from analysis.progress import Clock, Step
from analysis.thresholds import threshold_curves

ROOT = Path(__file__).resolve().parents[2]
LOANS = ROOT / "sample_data" / "loan_approvals.csv"
SPEC = AuditSpec.from_dict(
    {
        "decision": "approved",
        "positive": ["Y"],
        "label": "repaid",
        "label_positive": [1],
        "score": "model_score",
        "protected": ["ethnicity"],
        "features": ["region", "income", "credit_history_years", "debt_to_income", "loan_amount"],
    }
)


def test_the_clock_extrapolates_the_seconds_of_costed_stages_by_the_costs_still_to_come():
    steps: list[Step] = []
    clock = Clock([0.0, 1.0, 3.0], steps.append)
    time.sleep(0.02)
    clock.stage("libraries")  # costs nothing: no rate yet
    time.sleep(0.05)
    clock.stage("first")
    time.sleep(0.01)
    clock.stage("last")
    assert [s.stage for s in steps] == ["libraries", "first", "last"]
    assert [(s.done, s.total) for s in steps] == [(1, 3), (2, 3), (3, 3)]
    assert steps[0].remaining is None
    # After the first costed stage: its seconds per unit of cost, times the 3 units left.
    assert steps[1].remaining == pytest.approx(steps[1].seconds * 3.0)
    assert steps[2].remaining == 0.0 and steps[2].finished
    assert steps[2].elapsed == pytest.approx(sum(s.seconds for s in steps), rel=1e-6)


def test_without_a_callback_nothing_is_reported():
    clock = Clock([1.0], None)
    clock.stage("only")
    assert clock.done == 1


def test_the_frontier_reports_the_optimum_every_tolerance_and_the_single_threshold():
    curves = threshold_curves(load_table(LOANS).data, SPEC)
    steps: list[Step] = []
    front = frontier(curves, constraint="four_fifths", objective="changes", points=6, progress=steps.append)
    assert [s.stage for s in steps] == [
        "Found the unconstrained optimum",
        *(f"Optimised at tolerance {i} of 6" for i in range(1, 7)),
        "Found the best single threshold",
    ]
    assert all(s.total == 8 for s in steps) and steps[-1].remaining == 0.0
    # The unconstrained optimum is not timed as a tolerance: the estimate starts with the first tolerance.
    assert steps[0].remaining is None and all(s.remaining is not None for s in steps[1:])
    assert front.points  # the same frontier as without progress
    assert front.to_dict() == frontier(curves, constraint="four_fifths", objective="changes", points=6).to_dict()


@pytest.mark.slow
def test_the_comparison_reports_each_stage_once_in_order():
    from analysis.mitigation import compare_mitigations

    steps: list[Step] = []
    df = load_table(LOANS).data.iloc[:4000]
    compare_mitigations(df, SPEC, constraint="four_fifths", progress=steps.append)
    assert [s.stage.split(":")[0] for s in steps] == [
        "Loaded the modelling libraries",
        "Scored the rows",
        "Chose our thresholds on the training rows",
        "Retrained model, no mitigation",
        "Reweighing, then retrained model",
        "Fairlearn ThresholdOptimizer (randomised thresholds)",
        "Fairlearn ExponentiatedGradient, demographic parity",
        "Fairlearn ExponentiatedGradient, equalized odds",
    ]
    assert [s.done for s in steps] == list(range(1, 9)) and steps[-1].remaining == 0.0
    # The first estimate comes once a model has been fitted on these rows (the spec's own score costs nothing).
    assert steps[2].remaining is None and steps[3].remaining is not None
