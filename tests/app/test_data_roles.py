"""AppTest: the Data page's form starts from every role the suggestion found, with or without a spec."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analysis import AuditSpec, ProtectedAttribute
from tests.app.apptest import new_app
from tests.lookalikes import german_like
from ui.state import SPEC, W

ROOT = Path(__file__).resolve().parents[2]

# No decision, label or score can be recognised, but the protected attributes, the ID and the e-mails can.
NO_DECISION = (
    "applicant_id,email,sex,race,age,amount,region\n"
    + "".join(
        f"A{i:04d},p{i}@example.org,{'FM'[i % 5 < 2]},{'abc'[i % 3]},{20 + i % 50},{1000 + 7 * i},"
        f"{'nsew'[i // 3 % 4]}\n"
        for i in range(200)
    )
).encode()


@pytest.fixture
def app() -> AppTest:
    return new_app()


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.radio(key=W.SOURCE).set_value("Upload a file").run()
    at.file_uploader(key=W.UPLOAD).set_value((name, data, "text/csv")).run()
    assert not at.exception
    return at


def test_form_keeps_the_roles_found_when_no_decision_is(app):
    upload(app, "nodecision.csv", NO_DECISION)
    assert app.selectbox(key=W.DECISION).value == "(none)"
    assert app.multiselect(key=W.PROTECTED).value == ["sex", "race", "age"]
    assert app.text_input(key=W.bins("age")).value == "25, 40, 60"
    assert app.multiselect(key=W.IDS).value == ["applicant_id"]
    assert app.multiselect(key=W.PII).value == ["email"]
    assert app.multiselect(key=W.FEATURES).value == ["amount", "region"]
    assert any("No decision or score column was recognised" in i.value for i in app.info)


def test_german_lookalike_roles_complete_in_the_form(app):
    upload(app, "german_credit_data.csv", german_like(n=600))
    assert app.selectbox(key=W.DECISION).value == "Risk"
    assert app.multiselect(key=W.POSITIVE).value == ["good"]
    assert app.checkbox(key=W.FAVORABLE).value is True
    assert app.multiselect(key=W.PROTECTED).value == ["Age", "Sex"]
    assert app.multiselect(key=W.IDS).value == ["column_1"]
    assert "column_1" not in app.multiselect(key=W.FEATURES).value
    app.button(key=W.CONFIRM).click().run()
    assert not app.exception
    spec = app.session_state[SPEC]
    assert (spec.decision, spec.positive, spec.positive_is_favorable) == ("Risk", ("good",), True)
    assert spec.protected[0] == ProtectedAttribute("Age", bins=spec.protected[0].bins)
    assert isinstance(spec, AuditSpec) and spec.id_columns == ("column_1",)
