"""The Workshop page: a presenter picks a sample, the tour runs end to end (every step revealed), and resets."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from analysis.audit import audit
from analysis.story import gap_for
from tests.app.apptest import new_app, run
from ui.state import DATASET, FOCUS, SPEC, WORKSHOP_REVEALED, Focus, W
from ui.text import md

WORKSHOP = "pages/workshop.py"
STEPS = ("who", "chance", "drivers", "cost")
OWN = "Your own file (loaded on the Data page)"

pytestmark = pytest.mark.slow


def workshop() -> AppTest:
    at = new_app(timeout=240)
    at.switch_page(WORKSHOP)
    return run(at)


def questions(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("## ")]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_without_roles_a_sample_starts_with_its_suggested_roles():
    at = workshop()
    assert SPEC not in at.session_state
    assert at.radio(key=W.WORKSHOP_SAMPLE).value == "Loan approvals"
    run(at.button(key=W.WORKSHOP_USE_SAMPLE).click())
    assert at.session_state[SPEC].protected_columns == ("gender", "age", "ethnicity")
    assert at.session_state[FOCUS] == Focus("ethnicity", "B")
    assert questions(at) == ["## Which group is approved least often?"]
    assert any(m.value == "**Step 1 of 4**" for m in at.markdown)
    assert at.button(key=W.WORKSHOP_PREVIOUS).disabled


def test_the_tour_runs_end_to_end_and_resets():
    at = workshop()
    run(at.button(key=W.WORKSHOP_USE_SAMPLE).click())
    data = at.session_state[DATASET]
    gap = gap_for(audit(data.table.data, at.session_state[SPEC]), "ethnicity")
    # Step 1: who — hidden until revealed, then the group, both rates and the chart.
    assert not at.metric
    run(at.button(key=W.workshop_reveal("who")).click())
    assert metrics(at) == {
        "Group": "B",
        "Share approved: B": f"{gap.rate:.0%}",
        "Share approved: A": f"{gap.reference_rate:.0%}",
    }
    assert len(at.get("vega_lite_chart")) == 1
    run(at.button(key=W.WORKSHOP_NEXT).click())
    # Step 2: is it chance?
    assert questions(at) == ["## Is it chance?"]
    run(at.button(key=W.workshop_reveal("chance")).click())
    shown = metrics(at)
    assert shown["Four-fifths ratio"] == f"{gap.ratio:.2f}"
    assert shown["95% interval"] == f"{gap.ci_low:.2f} – {gap.ci_high:.2f}"
    assert shown["q-value"] == "< 0.001"
    assert any(m.value == "### " + md(gap.verdict.text.capitalize()) for m in at.markdown)
    run(at.button(key=W.WORKSHOP_NEXT).click())
    # Step 3: what drives it? The explanation runs only now.
    assert questions(at) == ["## What drives it?"]
    assert not at.status
    run(at.button(key=W.workshop_reveal("drivers")).click())
    shown = metrics(at)
    assert shown["Strongest proxy for ethnicity"] == "region"
    assert shown["Biggest part of the gap for B"] == "region"
    assert at.status[0].proto.label.startswith("Model of the decisions ready")
    run(at.button(key=W.WORKSHOP_NEXT).click())
    # Step 4: what would fixing it cost?
    assert questions(at) == ["## What would fixing it cost?"]
    run(at.button(key=W.workshop_reveal("cost")).click())
    shown = metrics(at)
    assert shown["Four-fifths ratio of ethnicity today"] == f"{gap.ratio:.2f}"
    changed = int(shown["Decisions changed to pass four-fifths"].replace(",", ""))
    assert 0 < changed < len(data.table.data) // 10
    assert at.button(key=W.WORKSHOP_NEXT).disabled
    assert at.session_state[WORKSHOP_REVEALED] == frozenset(STEPS)
    # Previous keeps the answers revealed; reset hides them all and goes back to step 1.
    run(at.button(key=W.WORKSHOP_PREVIOUS).click())
    assert questions(at) == ["## What drives it?"] and "Strongest proxy for ethnicity" in metrics(at)
    run(at.button(key=W.WORKSHOP_RESET).click())
    assert questions(at) == ["## Which group is approved least often?"]
    assert at.session_state[WORKSHOP_REVEALED] == frozenset()
    assert not at.metric
    assert at.button(key=W.workshop_reveal("who"))


def test_picking_another_sample_loads_it_everywhere():
    at = workshop()
    run(at.radio(key=W.WORKSHOP_SAMPLE).set_value("Support tickets"))
    assert at.session_state[DATASET].name == "support_tickets.csv"
    assert at.session_state[FOCUS] == Focus("customer_language", "Japanese")
    assert questions(at) == ["## Which group is selected least often?"]
    run(at.button(key=W.workshop_reveal("who")).click())
    assert metrics(at)["Group"] == "Japanese"
    # The Data page shows the same sample, with the roles the tour confirmed.
    at.switch_page("pages/data.py")
    run(at)
    assert at.selectbox(key=W.SAMPLE).value == "Support tickets"
    assert any("These roles are confirmed" in s.value for s in at.success)


def test_a_harmful_decision_asks_who_is_flagged_most_often():
    at = new_app(timeout=240)
    run(at.checkbox(key=W.FAVORABLE).uncheck())
    run(at.button(key=W.CONFIRM).click())
    assert at.session_state[SPEC].positive_is_favorable is False
    at.switch_page(WORKSHOP)
    run(at)
    # 'approved' read as a harm: the worst-treated group is the one approved most often.
    assert questions(at) == ["## Which group is approved most often?"]
    run(at.button(key=W.workshop_reveal("who")).click())
    focus = at.session_state[FOCUS]
    gap = gap_for(audit(at.session_state[DATASET].table.data, at.session_state[SPEC]), focus.attribute)
    assert metrics(at)["Group"] == focus.group == gap.group
    assert metrics(at)[f"Share approved: {gap.group}"] == f"{gap.harm_rate:.0%}"
    assert gap.harm_rate > gap.reference_harm_rate
    # The chart under the cards shows the same share, not the favourable rate.
    titles = json.dumps([json.loads(e.proto.spec) for e in at.get("vega_lite_chart")])
    assert "Share approved (with 95% CI)" in titles and "Favourable rate (with" not in titles


def test_own_file_the_tour_runs_on_the_upload_confirmed_on_the_data_page():
    at = workshop()
    run(at.radio(key=W.WORKSHOP_SAMPLE).set_value(OWN))
    # A sample is still loaded: the presenter is sent to the Data page, the choice stays.
    assert any("Load your file on the Data page" in i.value for i in at.info)
    assert at.radio(key=W.WORKSHOP_SAMPLE).value == OWN
    at.switch_page("pages/data.py")
    run(at)
    run(at.radio(key=W.SOURCE).set_value("Upload a file"))
    rows = ["id,group,decision"] + [
        f"{i},{'a' if i % 2 else 'b'},{'yes' if i % (3 if i % 2 else 2) else 'no'}" for i in range(600)
    ]
    run(at.file_uploader(key=W.UPLOAD).set_value(("mine.csv", ("\n".join(rows) + "\n").encode(), "text/csv")))
    run(at.multiselect(key=W.POSITIVE).set_value(["yes"]))
    run(at.multiselect(key=W.PROTECTED).set_value(["group"]))
    run(at.button(key=W.CONFIRM).click())
    at.switch_page(WORKSHOP)
    run(at)
    assert at.radio(key=W.WORKSHOP_SAMPLE).value == OWN
    assert questions(at) == ["## Which group is selected least often?"]
    run(at.button(key=W.workshop_reveal("who")).click())
    gap = gap_for(audit(at.session_state[DATASET].table.data, at.session_state[SPEC]), "group")
    assert metrics(at)["Group"] == gap.group
