"""The slices in the real browser: open the Slices page → its chart and table show the loan sample's slices →
pick the region slice that stands in for ethnicity B → "Explain this slice" opens the Drivers page on it.

Screenshots of the Slices page and the Drivers page's slice view at 1440×1000 and 1280×800 go to the test's output
folder.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import by_key, confirm_roles, exceptions, go_to, shot, wait_for_app
from ui.state import W

pytestmark = [pytest.mark.slow]

SIZES = {"1440x1000": (1440, 1000), "1280x800": (1280, 800)}
SOUTH = "region = South and credit_history_years = <8.8 and debt_to_income = ≥0.387"


def shots(page, output_path: str, name: str, *, parts: int = 3) -> None:
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(400)  # charts re-lay out to the new width
        shot(page, output_path, f"{name}_{label}")
        # The page scrolls inside the app's main area: pictures of its lower parts.
        page.mouse.move(width * 0.6, height * 0.6)
        for part in range(1, parts):
            page.mouse.wheel(0, height - 150)
            page.wait_for_timeout(300)
            shot(page, output_path, f"{name}_{label}_{part}")
        page.mouse.wheel(0, -20 * height)
    page.set_viewport_size({"width": 1440, "height": 1000})


def test_from_a_slice_to_its_drivers(app_page, guard, output_path: str) -> None:
    page = app_page
    page.set_viewport_size({"width": 1440, "height": 1000})
    confirm_roles(page, back_to_data=False)
    # The overview says a slice is worse than every group named, and links to the page.
    expect(page.get_by_text(re.compile(r"^Beyond the groups you named: those with "))).to_be_visible()
    go_to(page, "Slices")
    expect(page.get_by_test_id("stHeading").filter(has_text="Slices").first).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Searched 3,525 slices of up to 3 terms"))).to_be_visible()
    chart = page.get_by_test_id("stVegaLiteChart").filter(has_text="Favourable rate in the slice (with 95% CI)")
    expect(chart.locator("svg.marks")).to_be_visible()
    # The y axis names every slice whole: the longest name is not cut with "…".
    axis = chart.locator("[aria-label^='Y-axis']")
    expect(axis).to_contain_text(SOUTH)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(1)
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()  # drawn on a canvas: its cells are not text
    expect(page.get_by_text("57% of this slice is ethnicity = B, against 22% overall").first).to_be_visible()
    shots(page, output_path, "slices")

    picker = page.get_by_role("combobox", name="Slice", exact=True)
    picker.click()
    page.keyboard.type(SOUTH)  # the list filters as one types; the slice itself comes first
    page.keyboard.press("Enter")
    wait_for_app(page)
    expect(picker).to_have_value(SOUTH)
    by_key(page, W.SLICES_EXPLAIN).get_by_role("button").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stHeading").filter(has_text="Drivers").first).to_be_visible()
    expect(page.get_by_text("Why decisions in this slice differ")).to_be_visible()
    expect(page.get_by_text(re.compile(r"in the slice \(n=246\), against 62\.7% in the rest"))).to_be_visible()
    expect(
        page.get_by_text(re.compile(rf"^Of the -\d\.\d+ gap in predicted score between the slice {SOUTH}"))
    ).to_be_visible()
    waterfall = page.get_by_test_id("stVegaLiteChart").filter(has_text="this slice minus the rest")
    expect(waterfall.locator("svg.marks")).to_be_visible()
    shots(page, output_path, "drivers_slice")
    # Back to the groups: the slice view goes.
    by_key(page, W.DRIVERS_SLICE_CLEAR).get_by_role("button").click()
    wait_for_app(page)
    expect(page.get_by_text("Why decisions in this slice differ")).to_have_count(0)
    assert not exceptions(page)
    assert guard.dialogs == [] and guard.external_requests == []
