"""Real browser at 1280×800: no chart text (legend, axis label, four-fifths words) is drawn outside its chart,
and an intersection's cells can be read a few at a time."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import confirm_roles, exceptions, go_to, shot, wait_for_app

# Text of a chart, with its box and the box of the chart's drawing, in page pixels.
OUTSIDE = """
(chart) => {
  const svg = chart.querySelector("svg");
  if (!svg) return null;
  const box = svg.getBoundingClientRect();
  const out = [];
  for (const t of svg.querySelectorAll("text")) {
    const r = t.getBoundingClientRect();
    if (!t.textContent || r.width === 0) continue;
    // A text's box includes its font's line spacing, a few pixels beyond the glyphs: a cut-off legend entry
    // or label lies tens of pixels outside.
    const slack = 4;
    if (r.left < box.left - slack || r.right > box.right + slack || r.top < box.top - slack
        || r.bottom > box.bottom + slack) {
      out.push(t.textContent);
    }
  }
  return out;
}
"""


def clipped(page) -> dict[int, list[str]]:
    """Chart number → the texts drawn outside it, for every chart on the page that has any."""
    found = {}
    charts = page.get_by_test_id("stVegaLiteChart")
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        chart.locator("svg text").first.wait_for()
        texts = chart.evaluate(OUTSIDE)
        if texts:
            found[i] = texts
    return found


@pytest.mark.slow
def test_charts_fit_and_intersections_read_a_few_cells_at_a_time(app_page, guard, output_path: str) -> None:
    page = app_page
    page.set_viewport_size({"width": 1280, "height": 800})
    confirm_roles(page)
    go_to(page, "Fairness")
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    assert clipped(page) == {}
    page.get_by_role("tab", name="Intersections").click()
    wait_for_app(page)
    page.get_by_role("combobox", name="Intersection").click()
    page.get_by_role("option", name="gender × age", exact=True).click()
    wait_for_app(page)
    expect(page.get_by_text("One small chart per group of gender, a line per cell, coloured by age.")).to_be_visible()
    assert clipped(page) == {}
    shot(page, output_path, "intersections-every-cell")
    cells = page.get_by_role("combobox", name="Cells shown in the charts and the table")
    cells.scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # the page stops scrolling before the dropdown opens, or it closes again
    cells.click()
    page.get_by_role("option", name=re.compile(r"^gender = Female \(\d+ cells\)$")).click()
    wait_for_app(page)
    axis = page.get_by_test_id("stVegaLiteChart").first.locator("g[aria-label^='Y-axis']").first
    expect(axis).to_have_attribute("aria-label", re.compile(r"with \d+ values: Female × <25, Female × 25–40"))
    assert clipped(page) == {}
    shot(page, output_path, "intersections-female")
    assert exceptions(page) == []
