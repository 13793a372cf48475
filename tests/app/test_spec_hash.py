"""AppTest: a saved spec records the data's hash; loading it on other data warns but still applies it."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analysis import AuditSpec
from analysis.loading import load_table
from tests.app.apptest import new_app
from ui.state import W

ROOT = Path(__file__).resolve().parents[2]
LOANS_SHA256 = load_table(ROOT / "sample_data" / "loan_approvals.csv").report.sha256
OTHER_HASH = "ab" * 32


@pytest.fixture
def app() -> AppTest:
    return new_app()


def load_spec(app: AppTest, spec: AuditSpec) -> AppTest:
    app.file_uploader(key=W.SPEC_UPLOAD).set_value(("spec.json", spec.to_json().encode(), "application/json")).run()
    assert not app.exception
    return app


def test_a_spec_made_on_other_data_warns_and_is_still_loaded(app):
    load_spec(app, AuditSpec(decision="approved", positive=["Y"], protected=["gender"], dataset_sha256=OTHER_HASH))
    shown = [w.value.replace("\\", "") for w in app.warning]  # md() escapes Markdown characters
    warnings = [w for w in shown if "This spec was made on data with SHA-256" in w]
    assert len(warnings) == 1
    assert f"SHA-256 {OTHER_HASH[:12]}…, but 'loan_approvals.csv' has SHA-256 {LOANS_SHA256[:12]}…" in warnings[0]
    assert app.multiselect(key=W.PROTECTED).value == ["gender"]


def test_a_spec_made_on_this_data_loads_silently(app):
    load_spec(app, AuditSpec(decision="approved", positive=["Y"], protected=["gender"], dataset_sha256=LOANS_SHA256))
    assert not [w for w in app.warning if "SHA\\-256" in w.value or "SHA-256" in w.value]
    assert any("Loaded the spec from" in s.value for s in app.success)
