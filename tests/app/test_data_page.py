"""AppTest: the app starts on a sample, uploads work, roles can be edited and confirmed."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analysis import AuditSpec, ProtectedAttribute
from tests.app.apptest import new_app
from ui.state import DATASET, SPEC, W
from ui.text import md

ROOT = Path(__file__).resolve().parents[2]
LOANS = (ROOT / "sample_data" / "loan_approvals.csv").read_bytes()

CSV = (
    "id,sex,age,income,decision,outcome\n"
    + "".join(
        f"{i},{'F' if i % 3 else 'M'},{20 + i % 50},{1000 + i * 7},{'go' if i % 4 else 'stop'},{i % 2}\n"
        for i in range(200)
    )
).encode()


@pytest.fixture
def app() -> AppTest:
    return new_app()


def upload(at: AppTest, name: str, data: bytes, mime: str = "text/csv") -> AppTest:
    if at.radio(key=W.SOURCE).value != "Upload a file":
        at.radio(key=W.SOURCE).set_value("Upload a file").run()
    at.file_uploader(key=W.UPLOAD).set_value((name, data, mime)).run()
    return at


def test_app_opens_with_a_sample_and_suggested_roles(app):
    data = app.session_state[DATASET]
    assert data.name == "loan_approvals.csv"
    assert data.table.report.rows == 20_000
    assert app.title[0].value == "Data"
    assert app.success[0].value.startswith("Read 20,000 rows")
    assert app.selectbox(key=W.DECISION).value == "approved"
    assert app.multiselect(key=W.POSITIVE).value == ["Y"]
    assert app.selectbox(key=W.LABEL).value == "repaid"
    assert app.multiselect(key=W.PROTECTED).value == ["gender", "age", "ethnicity"]
    assert app.text_input(key=W.bins("age")).value == "25, 40, 60"
    profile = next(d.value for d in app.dataframe if "suggested role" in d.value.columns)
    assert list(profile["column"])[:3] == ["applicant_id", "gender", "age"]
    assert profile.set_index("column").loc["approved", "suggested role"] == "decision"
    assert any("Roles not confirmed yet" in c.value for c in app.sidebar.caption)


def test_confirming_suggested_roles_puts_the_spec_in_session(app):
    assert SPEC not in app.session_state
    app.button(key=W.CONFIRM).click().run()
    assert not app.exception
    spec = app.session_state[SPEC]
    assert spec.decision == "approved"
    assert spec.protected_columns == ("gender", "age", "ethnicity")
    assert any("Decision:" in m.value for m in app.sidebar.markdown)


@pytest.mark.slow
def test_switching_sample(app):
    app.selectbox(key=W.SAMPLE).set_value("Support tickets").run()
    assert not app.exception
    assert app.session_state[DATASET].name == "support_tickets.csv"
    assert app.selectbox(key=W.DECISION).value == "ai_priority"
    assert app.multiselect(key=W.POSITIVE).value == ["P1", "P2"]
    assert app.multiselect(key=W.PII).value == ["customer_email"]
    # The sidebar is drawn after the page, so it names the new dataset in the same run.
    assert f"**Dataset:** {md('support_tickets.csv')}" in [m.value for m in app.sidebar.markdown]


@pytest.mark.slow
def test_upload_edit_roles_and_confirm(app):
    upload(app, "mine.csv", CSV)
    assert not app.exception
    assert app.session_state[DATASET].name == "mine.csv"
    assert app.selectbox(key=W.DECISION).value == "decision"
    assert app.multiselect(key=W.POSITIVE).value == []  # go/stop: ParityLab cannot tell, so it asks
    assert any("which values mean the positive decision" in e.value for e in app.error)
    app.multiselect(key=W.POSITIVE).set_value(["go"]).run()
    app.selectbox(key=W.LABEL).set_value("outcome").run()
    assert app.multiselect(key=W.LABEL_POSITIVE).value == ["1"]
    app.multiselect(key=W.PROTECTED).set_value(["sex", "age"]).run()
    app.text_input(key=W.bins("age")).set_value("30, 50").run()
    app.selectbox(key=W.reference("sex")).set_value("M").run()
    assert not app.error
    app.button(key=W.CONFIRM).click().run()
    assert not app.exception
    spec = app.session_state[SPEC]
    assert spec == AuditSpec(
        decision="decision",
        positive=("go",),
        label="outcome",
        label_positive=(1,),
        protected=(ProtectedAttribute("sex", reference="M"), ProtectedAttribute("age", bins=(30, 50))),
        features=("income",),
        id_columns=("id",),
    )


def test_bad_file_shows_its_message_and_the_app_stays_usable(app):
    upload(app, "junk.csv", b"\x00\x01\x02\xff\xfe binary \x00 junk" * 50)
    assert not app.exception
    assert any("does not look like a table" in e.value for e in app.error)
    assert app.session_state[DATASET].name == "loan_approvals.csv"  # the previous data stays
    upload(app, "mine.csv", CSV)
    assert not app.exception
    assert not app.error or all("does not look like a table" not in e.value for e in app.error)
    assert app.session_state[DATASET].name == "mine.csv"


def test_wrong_file_type_is_refused_server_side(app):
    upload(app, "model.pkl", b"\x80\x04K\x01.", "application/octet-stream")
    assert not app.exception
    assert app.session_state[DATASET].name == "loan_approvals.csv"


def test_saved_spec_can_be_loaded(app):
    spec = AuditSpec(decision="approved", positive=["Y"], protected=["ethnicity"], min_group_size=50)
    app.file_uploader(key=W.SPEC_UPLOAD).set_value(("spec.json", spec.to_json().encode(), "application/json")).run()
    assert not app.exception
    assert app.multiselect(key=W.PROTECTED).value == ["ethnicity"]
    assert app.number_input(key=W.MIN_GROUP).value == 50
    app.button(key=W.CONFIRM).click().run()
    confirmed = app.session_state[SPEC]
    assert confirmed.protected_columns == ("ethnicity",)
    assert confirmed.min_group_size == 50


@pytest.mark.slow
def test_roles_survive_a_visit_to_another_page(app):
    app.multiselect(key=W.PROTECTED).set_value(["ethnicity"]).run()
    app.button(key=W.CONFIRM).click().run()
    app.switch_page("pages/fairness.py").run()
    assert not app.exception
    app.switch_page("pages/data.py").run()
    assert not app.exception
    assert app.selectbox(key=W.DECISION).value == "approved"
    assert app.multiselect(key=W.PROTECTED).value == ["ethnicity"]
    assert any("These roles are confirmed" in s.value for s in app.success)


def test_personal_data_is_flagged_with_a_warning(app):
    app.selectbox(key=W.SAMPLE).set_value("Support tickets").run()
    warnings = [w.value for w in app.warning]
    flagged = [w for w in warnings if "customer\\_email" in w and "looks like personal data" in w]
    assert len(flagged) == 1 and "e\\-mail addresses" in flagged[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    "page", ["pages/fairness.py", "pages/slices.py", "pages/drivers.py", "pages/mitigation.py", "pages/report.py"]
)
def test_the_sidebar_is_shown_on_a_page_that_stops_early(app, page):
    """Without confirmed roles these pages stop early (st.stop); the sidebar still names the data and says why."""
    app.switch_page(page).run()
    assert not app.exception
    assert any("Sends nothing anywhere" in c.value for c in app.sidebar.caption)
    assert f"**Dataset:** {md('loan_approvals.csv')}" in [m.value for m in app.sidebar.markdown]
    assert any("Roles not confirmed yet" in c.value for c in app.sidebar.caption)


def two_sheet_workbook() -> bytes:
    import io

    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Cover"
    for row in [["Loan decisions, Q3"], [], ["id", "decision"], [1, "yes"], [2, "no"]]:
        book.active.append(row)
    second = book.create_sheet("Decisions")
    for row in [["case", "outcome", "group"], ["a", "approved", "F"], ["b", "denied", "M"]]:
        second.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_a_workbook_names_its_other_sheets_and_another_sheet_can_be_chosen(app):
    upload(app, "book.xlsx", two_sheet_workbook(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    data = app.session_state[DATASET]
    assert (data.table.report.sheet, data.table.report.sheets) == ("Cover", ("Cover", "Decisions"))
    assert list(data.table.data.columns) == ["id", "decision"]  # the title rows above the header are skipped
    assert any("The others are 'Decisions'" in w.value for w in app.warning)
    [sheets] = [c.value for c in app.caption if c.value.startswith("Sheets in this workbook")]
    assert "Cover" in sheets and "2\\. Decisions" in sheets  # Markdown-escaped
    app.selectbox(key=W.SHEET).set_value("Decisions").run()  # the kept upload is read again, no new upload
    assert not app.exception
    assert list(app.session_state[DATASET].table.data.columns) == ["case", "outcome", "group"]


def variants_csv() -> bytes:
    """approved: 'Yes' mostly, with 'yes' and 'YES ' (padded) spellings; sex: F, M and 'f' in a few rows."""
    lines = ["id,sex,income,approved"]
    for i in range(300):
        sex = "F" if i % 2 else "M"
        if i % 25 == 1:
            sex = "f"
        approved = "No" if i % 3 == 0 else ("yes" if i % 10 == 1 else "YES " if i % 17 == 2 else "Yes")
        lines.append(f"{i},{sex},{1000 + i},{approved}")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.slow
def test_spelling_variants_are_warned_and_merged_with_one_tick(app):
    from analysis import audit
    from tests.app.apptest import run

    upload(app, "variants.csv", variants_csv())
    run(app.selectbox(key=W.DECISION).set_value("approved"))
    run(app.multiselect(key=W.POSITIVE).set_value(["Yes"]))
    run(app.multiselect(key=W.PROTECTED).set_value(["sex"]))
    warnings = [w.value for w in app.warning]
    variants = next(w for w in warnings if md("differ only in letter case") in w and "approved" in w)
    assert md("'Yes' (169), 'yes' (20), 'YES' (11). They are counted as different values.") in variants
    # The remedy names the checkbox, not a Python parameter.
    tick = "tick 'Merge values that differ only in case, spaces or invisible characters' on the Data page"
    assert md(tick) in variants
    split = next(w for w in warnings if md("include 'Yes' but not") in w)
    df = app.session_state[DATASET].table.data
    others = int(df["approved"].isin(["yes", "YES"]).sum())
    assert others == 31 and md(f"{others} rows spelled so count as negative decisions") in split
    checkbox = app.checkbox(key=W.MERGE_VARIANTS)
    assert checkbox.label == "Merge values that differ only in case, spaces or invisible characters"
    assert checkbox.value is False
    run(checkbox.check())
    warnings = [w.value for w in app.warning]
    assert not any(md("counted as different values") in w for w in warnings)
    assert any(md("Merged 'yes' (") in w and md("into 'Yes' in column 'approved'.") in w for w in warnings)
    assert any(md("Merged 'f' (12) into 'F' in column 'sex'.") in w for w in warnings)
    run(app.button(key=W.CONFIRM).click())
    spec = app.session_state[SPEC]
    assert spec.merge_variants is True and spec.positive == ("Yes",)
    # The Fairness page shows the numbers of the table with the spellings fixed by hand.
    fixed = df.assign(approved=df["approved"].replace({"yes": "Yes", "YES": "Yes"}), sex=df["sex"].replace({"f": "F"}))
    expected = audit(fixed, replace_spec(spec, merge_variants=False)).attributes["sex"]
    app.switch_page("pages/fairness.py")
    run(app)
    table = next(d.value for d in app.dataframe if "share" in d.value.columns).set_index("group")
    assert sorted(table.index) == ["F", "M"]
    for group in ("F", "M"):
        assert table.loc[group, "n"] == expected.groups[group].n
        rate = expected.groups[group].metrics["favorable_rate"]
        assert table.loc[group, "favourable rate (95% CI)"].startswith(f"{rate.value:.3f}")
    f_rows = fixed[fixed["sex"] == "F"]
    assert expected.groups["F"].n == len(f_rows) == 156
    assert expected.groups["F"].counts["positives"] == int((f_rows["approved"] == "Yes").sum())


def replace_spec(spec, **changes):
    from dataclasses import replace

    return replace(spec, **changes)
