"""AppTest: the Data page shows an ordered decision in its order, and lets the user set or clear the order."""

import pytest
from streamlit.testing.v1 import AppTest

from analysis import AuditSpec
from tests.app.apptest import back_to_data, new_app, run
from ui.state import SPEC, W

PRIORITIES = ["P4", "P3", "P2", "P1"]


def plain(text: str) -> str:
    return text.replace("\\", "")


@pytest.fixture
def tickets() -> AppTest:
    at = new_app()
    return run(at.selectbox(key=W.SAMPLE).set_value("Support tickets"))


def captions(at: AppTest) -> list[str]:
    return [plain(c.value) for c in at.caption]


def confirm(at: AppTest) -> AuditSpec:
    """Confirm the roles (the app then opens the Overview) and come back to the Data page."""
    run(at.button(key=W.CONFIRM).click())
    back_to_data(at)
    return at.session_state[SPEC]


def test_the_priorities_are_recognised_and_listed_in_order(tickets):
    order = tickets.multiselect(key=W.DECISION_ORDER)
    assert order.label == "Order of the decision values, lowest first"
    assert order.value == PRIORITIES
    assert tickets.multiselect(key=W.POSITIVE).options == PRIORITIES
    assert tickets.multiselect(key=W.POSITIVE).value == ["P1", "P2"]
    assert (
        "Recognised from the values as priority codes, P1 the most urgent: P4 < P3 < P2 < P1. "
        "The suggested positive values are its top 2 levels: P2, P1." in captions(tickets)
    )
    assert confirm(tickets).decision_order is None  # the recognised order: nothing to record


def test_an_order_set_on_the_page_is_confirmed_and_orders_the_pickers(tickets):
    run(tickets.multiselect(key=W.DECISION_ORDER).set_value(["P1", "P2", "P3", "P4"]))
    assert tickets.multiselect(key=W.POSITIVE).options == ["P1", "P2", "P3", "P4"]
    assert "Your order: P1 < P2 < P3 < P4." in captions(tickets)
    assert confirm(tickets).decision_order == ("P1", "P2", "P3", "P4")


def test_clearing_the_order_confirms_values_without_one(tickets):
    run(tickets.multiselect(key=W.DECISION_ORDER).set_value([]))
    assert "Not ordered (the values look ordered, P4 < P3 < P2 < P1; pick them to order them again)." in captions(
        tickets
    )
    assert confirm(tickets).decision_order == ()


def test_an_incomplete_order_is_refused_naming_the_control(tickets):
    run(tickets.multiselect(key=W.DECISION_ORDER).set_value(["P4", "P3"]))
    errors = [plain(e.value) for e in tickets.error]
    assert errors == [
        "The order of the decision values ('decision_order') leaves out ['P2', 'P1'] of column 'ai_priority', so "
        "it cannot place every decision. Name every value of the decision column once, lowest first, or no value "
        "when they have no order. To fix it, pick every value of 'ai_priority', lowest first, in 'Order of the "
        "decision values' on the Data page (clear it when they have no order)."
    ]
    assert tickets.button(key=W.CONFIRM).disabled


def test_a_loaded_order_is_kept_as_written(tickets):
    base = dict(decision="ai_priority", positive=["P1"], protected=["customer_language"])
    for order in (("P4", "P3", "P2", "P1"), ("P1", "P2", "P3", "P4"), ()):
        spec = AuditSpec(**base, decision_order=order)
        run(tickets.file_uploader(key=W.SPEC_UPLOAD).set_value((f"{order}.json", spec.to_json().encode(), "x/json")))
        assert tickets.multiselect(key=W.DECISION_ORDER).value == list(order)
        assert not [w for w in tickets.warning if "Not all of the loaded spec" in w.value]
        assert confirm(tickets).decision_order == order


def test_choosing_another_decision_shows_its_own_order(tickets):
    run(tickets.selectbox(key=W.DECISION).set_value("true_urgency"))
    assert tickets.multiselect(key=W.DECISION_ORDER).value == PRIORITIES
    run(tickets.selectbox(key=W.DECISION).set_value("escalated_to_human"))
    assert not [m for m in tickets.multiselect if m.key == W.DECISION_ORDER]  # yes / no: nothing to order
    assert confirm(tickets).decision_order is None
