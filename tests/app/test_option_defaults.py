"""AppTest: the pages' widgets start at the engine's defaults (analysis.options), not at copies of them."""

from __future__ import annotations

import pytest

from analysis.audit import AuditResult
from analysis.options import COMPARE_TOLERANCE, CONFIDENCE, MIN_GROUP_SIZE, SAMPLE_SIZE, SEED
from tests.app.apptest import new_app, run
from tests.app.test_report_page import engine, report_page, upload
from ui.state import W


def test_the_data_page_starts_at_the_minimum_group_size():
    at = new_app()
    assert at.number_input(key=W.MIN_GROUP).value == MIN_GROUP_SIZE


def test_the_fairness_page_starts_at_the_confidence_level():
    at = new_app()
    run(at.button(key=W.CONFIRM).click())
    at.switch_page("pages/fairness.py")
    run(at)
    assert at.radio(key=W.CONFIDENCE).value == CONFIDENCE
    assert at.session_state[W.CONFIDENCE] == CONFIDENCE


def test_the_report_pages_comparison_starts_at_the_compare_tolerance():
    at = report_page()
    earlier: AuditResult = engine(at)
    upload(at, W.REPORT_BEFORE, "earlier.json", earlier.to_json().encode())
    assert at.number_input(key=W.REPORT_TOLERANCE).value == COMPARE_TOLERANCE


@pytest.mark.slow
def test_the_drivers_page_starts_at_the_sample_size_and_seed():
    at = new_app(timeout=180)
    run(at.button(key=W.CONFIRM).click())
    at.switch_page("pages/drivers.py")
    run(at)
    assert at.number_input(key=W.DRIVERS_SAMPLE_SIZE).value == SAMPLE_SIZE
    assert at.number_input(key=W.DRIVERS_SEED).value == SEED
