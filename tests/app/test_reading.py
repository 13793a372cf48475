"""AppTest: what the pages show is the data *as read*; a reading option reads the kept upload again.

Every cache is keyed by the file's hash and the reading options (ui.state.Dataset.data_key), so treating '?' as
missing changes the Fairness numbers and the column profile at once, and the Data page still names (and can
read again) the file after a visit to another page.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import ui.cached
from analysis import MISSING_GROUP, AuditSpec, ProtectedAttribute
from analysis.validation import Problem, SpecValidation
from analysis.wording import Remedy
from tests.app.apptest import back_to_data, new_app, run
from ui.state import DATASET, SPEC, UPLOAD, Reading, W


def survey_csv() -> bytes:
    """300 rows; 'region' is '?' in 60 of them (a survey's "no answer"), N/S otherwise."""
    lines = ["id,region,age,decision"]
    for i in range(300):
        region = "?" if i % 5 == 0 else ("N" if i % 2 else "S")
        decision = "yes" if (i % 3 and region != "?") or i % 10 == 0 else "no"
        lines.append(f"{i},{region},{20 + i % 40},{decision}")
    return ("\n".join(lines) + "\n").encode()


SURVEY = survey_csv()
QUESTION_ROWS = 60


@pytest.fixture
def app() -> AppTest:
    return new_app()


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    if at.radio(key=W.SOURCE).value != "Upload a file":
        run(at.radio(key=W.SOURCE).set_value("Upload a file"))
    return run(at.file_uploader(key=W.UPLOAD).set_value((name, data, "text/csv")))


def confirm_survey_roles(at: AppTest) -> None:
    run(at.selectbox(key=W.DECISION).set_value("decision"))
    run(at.multiselect(key=W.POSITIVE).set_value(["yes"]))
    run(at.multiselect(key=W.PROTECTED).set_value(["region"]))
    run(at.button(key=W.CONFIRM).click())
    assert at.session_state[SPEC].protected_columns == ("region",)
    back_to_data(at)


def fairness_groups(at: AppTest) -> pd.DataFrame:
    run(at.switch_page("pages/fairness.py"))
    table = next(d.value for d in at.dataframe if "group" in d.value.columns and "share" in d.value.columns)
    return table.set_index("group")


def profile_row(at: AppTest, column: str) -> pd.Series:
    profile = next(d.value for d in at.dataframe if "suggested role" in d.value.columns)
    return profile.set_index("column").loc[column]


@pytest.mark.slow
def test_treating_question_marks_as_missing_changes_every_number(app):
    upload(app, "survey.csv", SURVEY)
    assert profile_row(app, "region")["missing"] == 0
    confirm_survey_roles(app)
    groups = fairness_groups(app)
    assert groups.loc["?", "n"] == QUESTION_ROWS
    assert MISSING_GROUP not in groups.index
    assert groups["n"].sum() == 300

    run(app.switch_page("pages/data.py"))
    run(app.multiselect(key=W.NA_VALUES).set_value(["?"]))
    assert app.session_state[DATASET].reading == Reading(na_values=("?",))
    assert profile_row(app, "region")["missing"] == QUESTION_ROWS  # the column profile follows the reading
    assert any("read again with the new reading options" in i.value for i in app.info)
    assert any("stay confirmed" in i.value for i in app.info)
    assert app.session_state[SPEC].protected_columns == ("region",)  # every role still applies

    groups = fairness_groups(app)
    assert "?" not in groups.index
    assert groups.loc[MISSING_GROUP, "n"] == QUESTION_ROWS
    assert groups.loc["N", "n"] == 120 and groups.loc["S", "n"] == 120
    # The sidebar describes the same reading.
    assert any("read with ? as missing" in c.value for c in app.sidebar.caption)

    # And back: the '?' group returns, with the same numbers as at first.
    run(app.switch_page("pages/data.py"))
    run(app.multiselect(key=W.NA_VALUES).set_value([]))
    assert fairness_groups(app).loc["?", "n"] == QUESTION_ROWS


def test_a_new_reading_forgets_results_computed_from_the_old_one(app):
    upload(app, "survey.csv", SURVEY)
    confirm_survey_roles(app)
    before = app.session_state[DATASET].data_key
    app.session_state["paritylab.results"] = {"explanation": ((before, "{}", None), "old"), "speed": (None, 1.0)}
    run(app.multiselect(key=W.NA_VALUES).set_value(["?"]))
    after = app.session_state[DATASET].data_key
    assert after != before and after.startswith(app.session_state[DATASET].sha256)
    assert app.session_state["paritylab.results"] == {"speed": (None, 1.0)}


@pytest.mark.slow
def test_the_data_page_names_the_file_after_another_page_and_reads_it_again(app):
    upload(app, "survey.csv", SURVEY)
    confirm_survey_roles(app)
    run(app.switch_page("pages/report.py"))
    run(app.switch_page("pages/data.py"))
    assert app.file_uploader(key=W.UPLOAD).value is None  # Streamlit's uploader has forgotten the file ...
    loaded = [m.value for m in app.markdown if m.value.startswith("Loaded: ")]
    assert len(loaded) == 1 and "survey" in loaded[0] and "KB" in loaded[0]  # ... the page has not
    assert not any("Choose a file to upload" in i.value for i in app.info)
    run(app.multiselect(key=W.NA_VALUES).set_value(["?"]))
    data = app.session_state[DATASET]
    assert data.name == "survey.csv" and data.table.data["region"].isna().sum() == QUESTION_ROWS
    assert app.session_state[UPLOAD].data == SURVEY  # the bytes of this upload only


@pytest.mark.slow
def test_roles_that_no_longer_apply_are_dropped_and_said(app):
    upload(app, "survey.csv", SURVEY)
    run(app.selectbox(key=W.DECISION).set_value("decision"))
    run(app.multiselect(key=W.POSITIVE).set_value(["yes"]))
    run(app.multiselect(key=W.PROTECTED).set_value(["region"]))
    run(app.selectbox(key=W.reference("region")).set_value("?"))
    back_to_data(run(app.button(key=W.CONFIRM).click()))
    run(app.multiselect(key=W.NA_VALUES).set_value(["?"]))
    # The roles are kept in the form; the reference group '?' is gone, so the confirmation is withdrawn.
    assert app.selectbox(key=W.DECISION).value == "decision"
    assert app.multiselect(key=W.POSITIVE).value == ["yes"]
    assert app.multiselect(key=W.PROTECTED).value == ["region"]
    assert SPEC not in app.session_state
    assert any("confirm them again" in i.value for i in app.info)


def test_another_sample_releases_the_uploaded_bytes(app):
    upload(app, "survey.csv", SURVEY)
    assert app.session_state[UPLOAD].name == "survey.csv"
    run(app.radio(key=W.SOURCE).set_value("Sample dataset"))
    assert app.session_state[DATASET].name == "loan_approvals.csv"
    assert UPLOAD not in app.session_state


def test_forgetting_the_file_releases_it_and_reopens_the_sample(app):
    upload(app, "survey.csv", SURVEY)
    run(app.button(key=W.FORGET_UPLOAD).click())
    assert UPLOAD not in app.session_state
    assert app.session_state[DATASET].name == "loan_approvals.csv"
    assert any("Choose a file to upload" in i.value for i in app.info)


def test_reuploading_the_same_file_keeps_the_confirmed_roles(app):
    upload(app, "survey.csv", SURVEY)
    confirm_survey_roles(app)
    key = app.session_state[DATASET].data_key
    upload(app, "survey.csv", SURVEY)
    assert app.session_state[DATASET].data_key == key
    assert app.session_state[SPEC].protected_columns == ("region",)


# ---------------------------------------------------------------- messages name the control, never a flag


def shown(at: AppTest) -> list[str]:
    return [e.value for e in [*at.error, *at.warning, *at.info]]


def test_no_decision_nor_score_names_the_controls(app):
    run(app.selectbox(key=W.DECISION).set_value("(none)"))
    run(app.selectbox(key=W.SCORE).set_value("(none)"))
    messages = [e.value for e in app.error]
    assert any("'Decision column'" in m and "'Score column'" in m for m in messages)
    assert not any("--" in m for m in shown(app))


def test_a_validation_problem_is_worded_by_the_widget_that_fixes_it(app, monkeypatch):
    """The page words a problem's remedy by its control (ui.text.say), whatever the engine's own wording."""
    problem = Problem(
        "error",
        "positive",
        "No value of 'approved' is chosen as the positive decision.",
        "",
        column="approved",
        remedy=Remedy("positive", "Y", column="approved"),
    )
    monkeypatch.setattr(ui.cached, "validate_spec", lambda df, spec, **_: SpecValidation((problem,), {}))
    run(app.multiselect(key=W.PROTECTED).set_value(["gender"]))  # a new spec: validated again
    errors = [e.value for e in app.error]
    assert any("'Values that mean the positive decision' on the Data page" in e for e in errors), errors
    assert not any("--positive" in e or "positive=[" in e for e in errors)
    assert app.button(key=W.CONFIRM).disabled


def test_a_real_bad_spec_shows_no_command_line_flag(app):
    run(app.multiselect(key=W.POSITIVE).set_value([]))
    messages = shown(app)
    assert any("Values that mean the positive decision" in m for m in messages)
    assert not any("--" in m for m in messages), messages


@pytest.mark.slow
def test_fairness_warnings_are_worded_for_the_app(app, monkeypatch):
    """The audit keeps its warnings as text; the Fairness page shows them worded by the control."""
    problem = Problem(
        "warning", "min_group_size", "Group 'x' of 'gender' has 3 rows.", "", remedy=Remedy("min_group_size", 3)
    )
    real = ui.cached.validate_spec

    def with_warning(df, spec, **kwargs):
        check = real(df, spec, **kwargs)
        return SpecValidation((*check.problems, problem), check.group_sizes)

    monkeypatch.setattr(ui.cached, "validate_spec", with_warning)
    original = ui.cached.audit

    def audit_with_warning(*args, **kwargs):
        result = original(*args, **kwargs)
        return replace(result, warnings=(*result.warnings, problem.text))

    monkeypatch.setattr(ui.cached, "audit", audit_with_warning)
    run(app.number_input(key=W.MIN_GROUP).set_value(31))  # a spec not validated yet (the cache has the others)
    run(app.button(key=W.CONFIRM).click())
    run(app.switch_page("pages/fairness.py"))
    warnings = [w.value for w in app.warning]
    assert any("'Minimum group size to draw conclusions' on the Data page" in w for w in warnings), warnings
    assert not any("min_group_size=" in w for w in warnings)


def test_roles_that_apply_keeps_what_fits_and_says_what_does_not():
    from ui.roles import roles_that_apply

    df = pd.DataFrame({"decision": ["yes", "no"], "region": ["N", None], "id": [1, 2], "age": [30, 40]})
    spec = AuditSpec(
        decision="decision",
        positive=("yes", "maybe"),
        protected=(ProtectedAttribute("region"), ProtectedAttribute("sex"), ProtectedAttribute("age")),
        intersections=(("region", "age"), ("region", "sex")),
        id_columns=("id", "row"),
    )
    kept, dropped = roles_that_apply(spec, df)
    assert kept == AuditSpec(
        decision="decision",
        positive=("yes",),
        protected=(ProtectedAttribute("region"), ProtectedAttribute("age")),
        intersections=(("region", "age"),),
        id_columns=("id",),
    )
    assert dropped == (
        "protected column 'sex' (not in the table any more)",
        "identifier column 'row' (not in the table any more)",
        "intersection region × sex (its protected column 'sex' is gone)",
        "positive decision 'maybe' of 'decision' (no row has it any more)",
    )
    assert roles_that_apply(AuditSpec(decision="outcome", positive=("1",)), df)[0] is None


# ---------------------------------------------------------------- the Excel sheet


def workbook() -> bytes:
    """Two sheets of decisions: Q1 with 40 rows, Q2 with 60."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    for title, rows in (("Q1", 40), ("Q2", 60)):
        sheet = book.active if title == "Q1" else book.create_sheet(title)
        sheet.title = title
        sheet.append(["id", "sex", "decision"])
        for i in range(rows):
            sheet.append([i, "F" if i % 2 else "M", "yes" if i % 3 else "no"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def sheets_listed(monkeypatch):
    """LoadReport.sheets (the workbook's sheet names) comes with the Excel loader's work: stand in until then."""
    import copy

    from analysis import LoadReport

    if "sheets" in getattr(LoadReport, "__dataclass_fields__", {}):
        return
    real = ui.cached.load_table

    def load_table(source, **kwargs):
        table = real(source, **kwargs)
        listed = type("ListedSheets", (type(table.report),), {"sheets": ("Q1", "Q2")})
        report = copy.copy(table.report)
        object.__setattr__(report, "__class__", listed)
        return replace(table, report=report)

    monkeypatch.setattr(ui.cached, "load_table", load_table)


def test_a_workbook_with_several_sheets_offers_them_in_a_selectbox(app, sheets_listed):
    data = workbook()
    upload(app, "decisions.xlsx", data)
    assert app.session_state[DATASET].table.report.rows == 40
    sheet = app.selectbox(key=W.SHEET)
    assert sheet.label == "Excel sheet" and sheet.options == ["Q1", "Q2"] and sheet.value == "Q1"
    run(sheet.set_value("Q2"))
    read = app.session_state[DATASET]
    assert (read.table.report.sheet, read.table.report.rows) == ("Q2", 60)
    assert read.reading == Reading(sheet="Q2")
    assert any("read again with the new reading options" in i.value for i in app.info)


def test_a_csv_keeps_the_sheet_text_input(app):
    upload(app, "survey.csv", SURVEY)
    assert app.text_input(key=W.SHEET).label.startswith("Excel sheet")
    assert not [s for s in app.selectbox if s.key == W.SHEET]
