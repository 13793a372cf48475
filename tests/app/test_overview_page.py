"""The Overview page: lands after the roles are confirmed, leads with the injected bias of each sample, sets the focus
that the Fairness page opens on, and lets the user move that focus once."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from analysis.audit import audit
from analysis.story import rank_gaps
from tests.app.apptest import new_app, run
from ui.state import DATASET, FOCUS, SPEC, Focus, W
from ui.text import md

OVERVIEW, FAIRNESS = "pages/overview.py", "pages/fairness.py"
LOANS, TICKETS = "Loan approvals", "Support tickets"

pytestmark = pytest.mark.slow


def confirmed(sample: str = LOANS) -> AppTest:
    """The app right after 'Confirm roles' on the sample's suggested roles."""
    at = new_app()
    if sample != LOANS:
        run(at.selectbox(key=W.SAMPLE).set_value(sample))
    return run(at.button(key=W.CONFIRM).click())


def engine_gaps(at: AppTest):
    """rank_gaps on audit() called directly with the session's data and confirmed spec."""
    data = at.session_state[DATASET]
    return rank_gaps(audit(data.table.data, at.session_state[SPEC], dataset_name=data.name))


def test_without_confirmed_roles_it_says_what_to_do():
    at = new_app()
    at.switch_page(OVERVIEW)
    run(at)
    assert [t.value for t in at.title] == ["Overview"]
    assert any("Confirm which columns hold the decision" in i.value for i in at.info)
    assert FOCUS not in at.session_state


@pytest.mark.parametrize(
    ("sample", "attribute", "group", "reference"),
    [(LOANS, "ethnicity", "B", "A"), (TICKETS, "customer_language", "Japanese", "English")],
)
def test_confirming_lands_on_the_overview_which_leads_with_the_injected_bias(sample, attribute, group, reference):
    at = confirmed(sample)
    assert [t.value for t in at.title] == ["Overview"]
    headline = next(m.value for m in at.markdown if m.value.startswith("### "))
    assert f"Those with {md(attribute)} \\= {md(group)}" in headline
    assert f"those with {md(attribute)} \\= {md(reference)}" in headline
    assert at.session_state[FOCUS] == Focus(attribute, group)
    gaps = engine_gaps(at)
    lead = next(g for g in gaps if g.attribute == attribute)
    assert md(lead.sentence) in headline
    assert lead.verdict.code == "fails"
    # The chart that proves it is the favourable-rate chart of that attribute.
    chart = at.get("vega_lite_chart")
    assert len(chart) == 1
    # One row per gap, every attribute and intersection, with its focus button; the one in focus is disabled.
    rows = {b.key: b for b in at.button if b.key.startswith("overview_focus_")}
    assert len(rows) == len(gaps)
    assert [b.label for b in rows.values()].count("In focus") == 1
    for gap in gaps:
        if gap.ratio is not None:
            assert any(f"ratio {gap.ratio:.2f}".replace(".", "\\.") in m.value for m in at.markdown), gap.attribute
    # The Fairness page opens on the focus.
    at.switch_page(FAIRNESS)
    run(at)
    assert at.session_state[W.FAIRNESS_TAB] == md(attribute)


def test_the_loan_overview_says_why_age_ranks_above_the_injected_bias():
    at = confirmed(LOANS)
    gaps = [g for g in engine_gaps(at) if not g.intersection]
    assert gaps[0].attribute == "age"  # by size alone
    note = next(c.value for c in at.caption if "injected on purpose" in c.value)
    assert "Ranked by size alone, age comes first" in note
    assert "legitimate channel by construction" in note
    # Its rows: attributes in the engine's order first.
    names = [m.value.split("**")[1] for m in at.markdown if m.value.startswith("**") and ". " in m.value[:6]]
    assert names[: len(gaps)] == [f"{i + 1}. {md(g.attribute)}" for i, g in enumerate(gaps)]


def test_a_row_moves_the_focus_once_for_every_page():
    at = confirmed(LOANS)
    gaps = engine_gaps(at)
    attributes = [g for g in gaps if not g.intersection]
    age = next(i for i, g in enumerate(attributes) if g.attribute == "age")
    run(at.button(key=W.overview_focus(age)).click())
    assert at.session_state[FOCUS] == Focus("age", attributes[age].group)
    assert at.button(key=W.overview_focus(age)).label == "In focus"
    assert any(s.value == md("In focus: age") for s in at.subheader)
    at.switch_page(FAIRNESS)
    run(at)
    assert at.session_state[W.FAIRNESS_TAB] == "age"
    # An intersection in focus opens the Intersections tab on it.
    at.switch_page(OVERVIEW)
    run(at)
    first = len(attributes)
    run(at.button(key=W.overview_focus(first)).click())
    name = gaps[[g.intersection for g in gaps].index(True)].attribute
    assert at.session_state[FOCUS].attribute == name
    at.switch_page(FAIRNESS)
    run(at)
    assert at.session_state[W.FAIRNESS_TAB] == "Intersections"
    assert at.selectbox(key=W.INTERSECTION).value == name


def test_the_overview_links_to_drivers_and_mitigation():
    at = confirmed(LOANS)
    links = {link.proto.page for link in at.get("page_link")}
    assert {"drivers", "mitigation", "fairness"} <= links


def test_a_harmful_decision_is_drawn_as_the_share_flagged_as_its_verdict_says_it():
    """COMPAS: the verdict says "flagged at 4.19x … (65% vs 16%)"; the chart beside it must not show the share
    not flagged (35% vs 84%) under the title "Favourable rate", as the Fairness page does not."""
    import json

    from tests.lookalikes import compas_like

    at = new_app()
    run(at.radio(key=W.SOURCE).set_value("Upload a file"))
    run(at.file_uploader(key=W.UPLOAD).set_value(("compas-scores-two-years.csv", compas_like(n=1500), "text/csv")))
    run(at.button(key=W.CONFIRM).click())
    assert at.session_state[SPEC].positive_is_favorable is False
    titles = json.dumps([json.loads(e.proto.spec) for e in at.get("vega_lite_chart")])
    assert "Share flagged (with 95% CI)" in titles and "Favourable rate (with" not in titles
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Share flagged of each group of") and "a group right of it fails" in c for c in captions)
