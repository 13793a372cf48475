"""The story in the real browser: confirm the roles → the Overview names the worst gap → its links open the
Drivers and Mitigation pages and the focus is carried (the Fairness page opens on it, a tab picked there moves it)
→ the workshop tour runs step by step and resets.

Screenshots of the Overview and the Workshop at 1440×1000 and 1280×800 go to the test's output folder.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import by_key, confirm_roles, exceptions, go_to, shot, wait_for_app
from ui.state import W

pytestmark = [pytest.mark.slow]

SIZES = {"1440x1000": (1440, 1000), "1280x800": (1280, 800)}


def shots(page, output_path: str, name: str) -> None:
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(400)  # charts re-lay out to the new width
        shot(page, output_path, f"{name}_{label}")
        # The page scrolls inside the app's main area: a second picture of its lower part.
        page.mouse.move(width * 0.6, height * 0.6)
        page.mouse.wheel(0, height - 150)
        page.wait_for_timeout(300)
        shot(page, output_path, f"{name}_{label}_lower")
        page.mouse.wheel(0, -20 * height)
    page.set_viewport_size({"width": 1440, "height": 1000})


def selected_tab(page) -> str:
    return page.get_by_role("tab", selected=True).inner_text().strip()


def reveal(page, step: str) -> None:
    by_key(page, W.workshop_reveal(step)).get_by_role("button").click()
    wait_for_app(page)


def test_the_story_from_the_overview_to_the_workshop(app_page, guard, output_path: str) -> None:
    page = app_page
    page.set_viewport_size({"width": 1440, "height": 1000})
    # The loan sample is open; confirming its suggested roles lands on the Overview.
    confirm_roles(page, back_to_data=False)
    headline = page.get_by_role("heading").filter(has_text="Those with ethnicity = B are approved at 0.71x")
    expect(headline).to_be_visible()
    expect(page.get_by_text("In focus: ethnicity")).to_be_visible()
    expect(page.get_by_test_id("stVegaLiteChart").first.locator("svg.marks")).to_be_visible()
    ranking = page.get_by_text(re.compile(r"^\d+\. (age|ethnicity|gender)$"))
    expect(ranking).to_have_count(3)
    shots(page, output_path, "overview")

    # Its links open the drivers and the mitigation of the gap in focus.
    page.get_by_role("link", name="What drives it? → Drivers").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stHeading").filter(has_text="Drivers").first).to_be_visible()
    go_to(page, "Overview")
    page.get_by_role("link", name="What would fixing it cost? → Mitigation").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stHeading").filter(has_text="Mitigation").first).to_be_visible()
    # The focus was carried through both: the Fairness page opens on it.
    go_to(page, "Fairness")
    assert selected_tab(page) == "ethnicity"
    # A tab picked there moves the focus for every page.
    page.get_by_role("tab", name="age", exact=True).click()
    wait_for_app(page)
    go_to(page, "Overview")
    expect(page.get_by_text("In focus: age")).to_be_visible()
    expect(by_key(page, W.overview_focus(0)).get_by_role("button")).to_have_text(re.compile("In focus"))
    # Back to the injected bias, from its row.
    by_key(page, W.overview_focus(1)).get_by_role("button").click()
    wait_for_app(page)
    expect(page.get_by_text("In focus: ethnicity")).to_be_visible()

    # The workshop tour on the same data and focus.
    go_to(page, "Workshop")
    expect(page.get_by_text("Which group is approved least often?")).to_be_visible()
    expect(page.get_by_text("Step 1 of 4")).to_be_visible()
    reveal(page, "who")
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("B")
    shots(page, output_path, "workshop_1_who")
    by_key(page, W.WORKSHOP_NEXT).get_by_role("button").click()
    wait_for_app(page)
    expect(page.get_by_text("Is it chance?")).to_be_visible()
    reveal(page, "chance")
    expect(page.get_by_text("Below four-fifths and significant")).to_be_visible()
    shots(page, output_path, "workshop_2_chance")
    by_key(page, W.WORKSHOP_NEXT).get_by_role("button").click()
    wait_for_app(page)
    reveal(page, "drivers")
    expect(page.get_by_text("Model of the decisions ready")).to_be_visible()
    cards = page.get_by_test_id("stMetric")
    expect(cards.filter(has_text="Strongest proxy for ethnicity")).to_contain_text("region")
    shots(page, output_path, "workshop_3_drivers")
    by_key(page, W.WORKSHOP_NEXT).get_by_role("button").click()
    wait_for_app(page)
    reveal(page, "cost")
    expect(cards.filter(has_text="Decisions changed to pass four-fifths")).to_contain_text(re.compile(r"\d"))
    expect(page.get_by_text("Step 4 of 4")).to_be_visible()
    shots(page, output_path, "workshop_4_cost")
    # One click back to the start, every answer hidden again.
    by_key(page, W.WORKSHOP_RESET).get_by_role("button").click()
    wait_for_app(page)
    expect(page.get_by_text("Which group is approved least often?")).to_be_visible()
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
    assert not exceptions(page)
