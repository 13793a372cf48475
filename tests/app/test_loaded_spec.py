"""AppTest: a spec loaded on the Data page is confirmed with every one of its fields, none silently dropped."""

import hashlib
from dataclasses import MISSING, fields
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analysis import AuditSpec, ProtectedAttribute
from tests.app.apptest import back_to_data, new_app, run
from ui.state import SPEC, W

ROOT = Path(__file__).resolve().parents[2]
LOANS = (ROOT / "sample_data" / "loan_approvals.csv").read_bytes()

# Every field away from its default, each valid for the loan sample (age's quartiles are <29, 29–36, 36–44, ≥44).
EVERYTHING = AuditSpec(
    decision="approved",
    positive=("Y",),
    positive_is_favorable=False,
    label="repaid",
    label_positive=(1,),
    score="model_score",
    threshold=0.6,
    protected=(
        ProtectedAttribute("gender", reference="Female"),
        ProtectedAttribute("age", quantiles=4, reference="29–36"),
        ProtectedAttribute("income", bins=(30000, 60000), reference="≥60000"),
    ),
    features=("credit_history_years", "debt_to_income", "loan_amount"),
    intersections=(("gender", "age"), ("age", "income")),
    id_columns=("applicant_id",),
    pii_columns=("region",),
    min_group_size=40,
    max_levels=10,
    dataset_sha256=hashlib.sha256(LOANS).hexdigest(),
    merge_variants=True,
    decision_order=("N", "Y"),
)


def default(field):
    return field.default_factory() if field.default is MISSING else field.default


def plain(text: str) -> str:
    """Markdown-escaped page text as it reads."""
    return text.replace("\\", "")


@pytest.fixture
def app() -> AppTest:
    return new_app()


def load(app: AppTest, spec: AuditSpec) -> AppTest:
    file = ("spec.json", spec.to_json().encode(), "application/json")
    return run(app.file_uploader(key=W.SPEC_UPLOAD).set_value(file))


def test_the_spec_sets_every_field_away_from_its_default():
    # A new field of AuditSpec (or of ProtectedAttribute) fails here until EVERYTHING sets it, so the test
    # below checks that the Data page keeps it too.
    unset = [f.name for f in fields(AuditSpec) if getattr(EVERYTHING, f.name) == default(f)]
    assert unset == []
    attribute_fields = [f for f in fields(ProtectedAttribute) if f.default is not MISSING]
    unset = [f.name for f in attribute_fields if all(getattr(a, f.name) == default(f) for a in EVERYTHING.protected)]
    assert unset == []


def test_a_loaded_spec_is_confirmed_with_every_field(app):
    load(app, EVERYTHING)
    assert not app.error
    assert app.number_input(key=W.quantiles("age")).value == 4
    assert app.text_input(key=W.bins("income")).value == "30000, 60000"
    assert app.selectbox(key=W.reference("age")).value == "29–36"
    assert app.multiselect(key=W.DECISION_ORDER).value == ["N", "Y"]
    kept = [plain(c.value) for c in app.caption if "Kept from the loaded spec" in c.value]
    assert kept == [
        "Kept from the loaded spec (this page has no control for them; confirming keeps them): "
        "intersections gender × age, age × income; at most 10 groups in a protected attribute without bins; "
        f"made on this data (SHA-256 {EVERYTHING.dataset_sha256[:12]}…); score threshold 0.6."
    ]
    run(app.button(key=W.CONFIRM).click())
    confirmed = app.session_state[SPEC]
    for field in fields(AuditSpec):
        assert getattr(confirmed, field.name) == getattr(EVERYTHING, field.name), field.name
    assert confirmed == EVERYTHING
    back_to_data(app)
    assert any("These roles are confirmed" in s.value for s in app.success)


def test_a_spec_without_a_feature_list_keeps_none(app):
    spec = AuditSpec(decision="approved", positive=["Y"], protected=["gender"], features=None)
    load(app, spec)
    run(app.button(key=W.CONFIRM).click())
    assert app.session_state[SPEC].features is None
    assert not any("Kept from the loaded spec" in c.value for c in app.caption)


def test_an_intersection_left_without_its_attribute_is_said_with_the_fix(app):
    load(app, EVERYTHING)
    run(app.multiselect(key=W.PROTECTED).set_value(["gender", "age"]))
    errors = [plain(e.value) for e in app.error]
    assert errors == [
        "Intersection age × income uses 'income', which is not a protected attribute. Intersections combine "
        "protected attributes only. To fix it, add 'income' to 'Protected attributes' on the Data page, or click "
        "'Drop the kept settings' there to remove the loaded spec's intersections."
    ]
    assert app.button(key=W.CONFIRM).disabled
    # The intersection is still kept, and said so, until the user drops it.
    assert any("age × income" in c.value for c in app.caption)
    run(app.button(key=W.DROP_KEPT).click())
    assert not app.error
    assert not any("Kept from the loaded spec" in c.value for c in app.caption)
    run(app.button(key=W.CONFIRM).click())
    confirmed = app.session_state[SPEC]
    assert (confirmed.intersections, confirmed.max_levels, confirmed.threshold) == (None, 50, None)
    assert confirmed.protected == EVERYTHING.protected[:2]


def test_a_reference_that_is_no_group_stays_chosen_and_is_said(app):
    load(app, EVERYTHING)
    run(app.number_input(key=W.quantiles("age")).set_value(0))
    run(app.text_input(key=W.bins("age")).set_value("30, 50"))
    assert app.selectbox(key=W.reference("age")).value == "29–36"
    assert any("Reference group '29–36' is not a group of 'age'" in plain(e.value) for e in app.error)
    assert app.button(key=W.CONFIRM).disabled


def test_bins_and_quantiles_together_are_refused_with_both_named(app):
    load(app, EVERYTHING)
    run(app.text_input(key=W.bins("age")).set_value("30, 50"))
    assert any("has both 'bins' and 'quantiles'; choose one" in plain(e.value) for e in app.error)


def test_what_the_form_cannot_show_of_a_loaded_spec_is_named(app):
    # 'Z' is no value of 'approved', and 'gender' cannot be both protected and a feature.
    spec = AuditSpec(decision="approved", positive=["Y", "Z"], protected=["gender"], features=["gender", "income"])
    load(app, spec)
    changed = [plain(w.value) for w in app.warning if "Not all of the loaded spec" in w.value]
    assert changed == [
        "Not all of the loaded spec fits this table, so the form below differs from it; check before you confirm: "
        'positive ["Y", "Z"] became ["Y"]; features ["gender", "income"] became ["income"].'
    ]
    run(app.button(key=W.CONFIRM).click())
    assert (app.session_state[SPEC].positive, app.session_state[SPEC].features) == (("Y",), ("income",))
    back_to_data(app)
    assert not any("Not all of the loaded spec" in w.value for w in app.warning)  # said once, on loading


def test_a_text_column_binned_by_a_loaded_spec_gets_the_controls_to_undo_it(app):
    load(app, AuditSpec(decision="approved", positive=["Y"], protected=[ProtectedAttribute("gender", quantiles=2)]))
    assert any("bins apply to numeric columns only" in plain(e.value) for e in app.error)
    run(app.number_input(key=W.quantiles("gender")).set_value(0))
    assert not app.error
    assert not [n for n in app.number_input if n.key == W.quantiles("gender")]  # a text column: no control now
    run(app.button(key=W.CONFIRM).click())
    assert app.session_state[SPEC].protected == (ProtectedAttribute("gender"),)
