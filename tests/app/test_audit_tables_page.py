"""AppTest: the Audit tables page shows the tables and the rule's notes, its downloads are the command line's
bytes, the pickers follow the spec's protected attributes, and the Report's HTML then includes the tables."""

from __future__ import annotations

import json
import re

import pytest

from analysis.bias_tables import bias_tables
from analysis.exports import csv_bytes
from tests.app.apptest import new_app, run
from tests.app.test_report_page import REPORT, data_of
from ui.state import DATASET, SPEC, W

PAGE = "pages/audit_tables.py"
pytestmark = pytest.mark.slow


def tables_page():
    at = new_app()
    run(at.button(key=W.CONFIRM).click())
    at.switch_page(PAGE)
    return run(at)


def plain(texts) -> str:
    """Markdown elements' text without the escapes ``ui.text.md`` adds."""
    return re.sub(r"\\(.)", r"\1", "\n".join(t.value for t in texts))


def engine(at, **options):
    return bias_tables(at.session_state[DATASET].table.data, at.session_state[SPEC], **options)


def test_without_confirmed_roles_the_page_sends_you_to_the_data_page():
    at = new_app()
    at.switch_page(PAGE)
    run(at)
    assert at.title[0].value == "Audit tables"
    assert "Confirm which columns hold the decision" in at.info[0].value
    assert not at.get("download_button")


def test_the_ll144_tables_their_notes_and_downloads(downloads):
    at = tables_page()
    assert at.selectbox(key=W.TABLES_SEX).value == "gender"
    assert at.selectbox(key=W.TABLES_RACE).value == "ethnicity"
    assert at.selectbox(key=W.TABLES_SEX).options == list(at.session_state[SPEC].protected_columns)
    expected = engine(at, sex="gender", race="ethnicity")
    frames = [d.value for d in at.dataframe]
    assert len(frames) == 3
    ethnicity = frames[1].set_index("category")
    assert ethnicity.loc["B", "rate"] == "48.6%" and ethnicity.loc["B", "impact ratio"] == "0.714"
    gender = frames[0].set_index("category")
    assert gender.loc["Non-binary", "impact ratio"] == "excluded" and gender.loc["Non-binary", "rate"] == "61.4%"
    text = plain(at.markdown)
    assert "bias audit rules 6 RCNY § 5-300 and § 5-301" in text
    assert "197 individuals with an unknown category" in text
    assert "still shown with their count and rate" in text
    assert "What these tables do not establish" in text
    assert "'gender' and 'ethnicity' guessed from their names among the protected attributes" in plain(at.caption)
    assert data_of(at, W.TABLES_CSV, downloads) == csv_bytes(expected.to_frame())
    assert json.loads(data_of(at, W.TABLES_JSON, downloads)) == expected.to_dict()


def test_four_fifths_scoring_and_the_pickers():
    at = tables_page()
    run(at.selectbox(key=W.TABLES_FORMAT).set_value("four-fifths"))
    captions = plain(at.caption)
    assert "Four-fifths ratio 0.714: fails the four-fifths rule" in captions
    assert not at.get("radio")  # the four-fifths table compares selection rates only
    run(at.selectbox(key=W.TABLES_FORMAT).set_value("ll144"))
    run(at.radio(key=W.TABLES_MODE).set_value("scoring"))
    expected = engine(at, mode="scoring")
    assert f"Median score of the full sample:** {expected.median_score:.6g}" in plain(at.markdown)
    run(at.selectbox(key=W.TABLES_RACE).set_value("gender"))
    assert "both 'gender'" in at.error[0].value
    assert "Race/ethnicity column" in at.error[0].value  # the fix names the page's control


def test_the_report_includes_the_tables(downloads):
    at = tables_page()
    run(at.selectbox(key=W.TABLES_FORMAT).set_value("four-fifths"))
    at.switch_page(REPORT)
    run(at)
    assert "Audit tables: the EEOC four-fifths table (from the Audit tables page)" in "\n".join(
        m.value for m in at.markdown
    )
    html = data_of(at, W.REPORT_HTML, downloads).decode("utf-8")
    assert '<h2 id="audit-tables">Audit tables</h2>' in html
    assert "EEOC four-fifths table" in html and "fails the four-fifths rule" in html


def test_without_a_race_column_the_page_asks_for_one():
    """The support tickets name no race/ethnicity column: the page says so, and tabulates the column chosen."""
    at = new_app()
    run(at.selectbox(key=W.SAMPLE).set_value("Support tickets"))
    run(at.button(key=W.CONFIRM).click())
    at.switch_page(PAGE)
    run(at)
    assert at.selectbox(key=W.TABLES_RACE).value is None
    assert not at.dataframe
    assert "Choose the protected attribute that holds race/ethnicity" in at.info[0].value
    protected = at.session_state[SPEC].protected_columns
    other = next(c for c in protected if c != at.selectbox(key=W.TABLES_SEX).value)
    run(at.selectbox(key=W.TABLES_RACE).set_value(other))
    assert len(at.dataframe) == 3
    assert f"The race/ethnicity column is '{other}' (as named)." in plain(at.markdown)
