"""AppTest: the Slices page shows the engine's slice search (its numbers, chart, JSON), follows its controls, says
why an error metric needs a label, searches every row of a path with DuckDB, and sends a slice to the Drivers page."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from analysis import find_slices, load_table
from analysis.options import CONFIDENCE
from analysis.slices import default_min_support
from analysis.tables import slice_table
from tests.app.apptest import new_app, run
from ui import cached
from ui.local import LOCAL_PATHS_SETTING
from ui.state import DATASET, SLICE_FOCUS, SPEC, W
from ui.text import md

SLICES, DRIVERS = "pages/slices.py", "pages/drivers.py"
ROOT = Path(__file__).resolve().parents[2]
LOANS = ROOT / "sample_data" / "loan_approvals.csv"

pytestmark = pytest.mark.slow


def slices_page(*, label: bool = True) -> AppTest:
    """The app with the loan sample's suggested roles confirmed (without the label: ``label=False``), on Slices."""
    at = new_app()
    if not label:
        run(at.selectbox(key=W.LABEL).set_value(None))
    run(at.button(key=W.CONFIRM).click())
    at.switch_page(SLICES)
    return run(at)


def engine(at: AppTest, **options):
    """find_slices called directly with the session's data and confirmed spec (the page's defaults otherwise)."""
    data = at.session_state[DATASET]
    return find_slices(data.table.data, at.session_state[SPEC], confidence=CONFIDENCE, **options)


def shown_table(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "stands in for" in d.value.columns)


def test_the_page_shows_the_engine_s_search_its_table_chart_and_who_slices_stand_in_for():
    at = slices_page()
    assert [t.value for t in at.title] == ["Slices"]
    assert not at.error and not at.exception
    expected = engine(at)
    assert md(expected.summary()) in [m.value for m in at.markdown]
    assert md(expected.terms_note()) in [c.value for c in at.caption]
    pd.testing.assert_frame_equal(shown_table(at).reset_index(drop=True), slice_table(expected))
    chart = next(c for c in at.get("vega_lite_chart") if json.loads(c.proto.spec)["usermeta"]["chart"] == "slices")
    drawn = max((dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data) for d in chart.proto.datasets), key=len)
    assert list(drawn["slice"]) == [s.key for s in expected.slices]
    assert list(drawn["value"]) == [s.value for s in expected.slices]
    assert '"labelLimit": 560' in chart.proto.spec  # a slice of three terms reads whole
    cards = {m.label: m.value for m in at.metric}
    assert cards["Slices tested"] == f"{expected.tested:,}"
    assert cards["Slices pruned"] == f"{expected.pruned:,}"
    # The loan sample's region stands in for ethnicity B: said in a sentence, not only in the table.
    south = next(s for s in expected.significant if s.stands_in_for and "ethnicity = B" in s.stands_in_for.sentence())
    assert any(md(south.stands_in_for.sentence()) in m.value for m in at.markdown)
    # The minimum support shown is the engine's default.
    data = at.session_state[DATASET]
    assert expected.min_support == default_min_support(expected.rows, at.session_state[SPEC])
    assert any(f"minimum support {expected.min_support:,} rows" in c.value for c in at.caption)
    assert data.rows == 20_000


def test_the_controls_change_the_search():
    at = slices_page()
    run(at.select_slider(key=W.SLICES_DEPTH).set_value(1))
    run(at.number_input(key=W.SLICES_SUPPORT).set_value(500))
    run(at.number_input(key=W.SLICES_TOP_K).set_value(5))
    expected = engine(at, max_depth=1, min_support=500, top_k=5)
    assert len(expected.slices) == 5 and all(s.depth == 1 for s in expected.slices)
    pd.testing.assert_frame_equal(shown_table(at).reset_index(drop=True), slice_table(expected))
    run(at.multiselect(key=W.SLICES_FEATURES).set_value(["region", "income"]))
    run(at.toggle(key=W.SLICES_PROTECTED).set_value(False))
    expected = engine(at, max_depth=1, min_support=500, top_k=5, features=["region", "income"])
    assert {t.column for s in expected.slices for t in s.terms} <= {"region", "income"}
    pd.testing.assert_frame_equal(shown_table(at).reset_index(drop=True), slice_table(expected))


def test_the_metric_switch_searches_by_the_error_rates():
    at = slices_page()
    run(at.selectbox(key=W.SLICES_METRIC).set_value("fnr"))
    expected = engine(at, metric="fnr")
    assert expected.title == "FNR"
    pd.testing.assert_frame_equal(shown_table(at).reset_index(drop=True), slice_table(expected))
    assert "FNR in the slice" in shown_table(at).columns


def test_an_error_metric_without_a_label_names_the_control():
    at = slices_page(label=False)
    assert at.session_state[SPEC].label is None
    options = at.selectbox(key=W.SLICES_METRIC).options
    assert options == ["favourable rate", "FPR (needs a label column)", "FNR (needs a label column)",
                       "error rate (needs a label column)"]  # fmt: skip
    run(at.selectbox(key=W.SLICES_METRIC).set_value("fpr"))
    assert not at.error
    warning = at.warning[0].value
    assert "**FPR** compares the decisions with the true outcomes" in warning
    assert "Pick **favourable rate** under *Metric* above" in warning
    assert not any("stands in for" in d.value.columns for d in at.dataframe)


def test_a_search_that_finds_nothing_says_so_in_a_sentence(monkeypatch):
    at = slices_page()
    found = engine(at)
    empty = dataclasses.replace(found, slices=())
    monkeypatch.setattr(cached, "slices", lambda *args, **kwargs: empty)
    run(at)
    assert "No slice is worse than the rest of the data: there is nothing to show." in [i.value for i in at.info]
    assert md(empty.summary()) in [m.value for m in at.markdown]
    assert not any("stands in for" in d.value.columns for d in at.dataframe)


def test_the_json_download_is_the_search_s_dict(downloads):
    at = slices_page()
    proto = next(b for b in at.get("download_button") if b.proto.id.endswith(f"-{W.SLICES_JSON}")).proto
    made = (
        downloads[proto.deferred_file_id]()
        if proto.deferred_file_id
        else downloads[proto.url.rsplit("/", 1)[1].split(".")[0]]
    )
    assert json.loads(made) == json.loads(json.dumps(engine(at).to_dict()))


def test_explain_this_slice_opens_the_drivers_page_on_that_slice():
    at = slices_page()
    expected = engine(at)
    south = next(s for s in expected.slices if s.key.startswith("region = South"))
    run(at.selectbox(key=W.SLICES_PICK).set_value(south.key))
    run(at.button(key=W.SLICES_EXPLAIN).click())
    assert [t.value for t in at.title] == ["Drivers"]
    focus = at.session_state[SLICE_FOCUS]
    assert (focus.item, focus.metric) == (south, "favorable_rate")
    assert "Why decisions in this slice differ" in [s.value for s in at.subheader]
    assert any(m.value.startswith(md("Of the ")) and md(f"between the slice {south.key} and the rest") in m.value
               for m in at.markdown)  # fmt: skip
    assert any(f"(n={south.n:,})" in m.value for m in at.markdown)
    assert not at.error
    at.switch_page(DRIVERS)
    run(at.button(key=W.DRIVERS_SLICE_CLEAR).click())
    assert SLICE_FOCUS not in at.session_state
    assert "Why decisions in this slice differ" not in [s.value for s in at.subheader]


@pytest.fixture
def local_run(monkeypatch):
    monkeypatch.setenv(LOCAL_PATHS_SETTING, "1")
    monkeypatch.setattr(cached, "PREVIEW_ROWS", 1_000)


def test_a_path_is_searched_by_duckdb_over_every_row_with_the_reading_options(local_run, tmp_path):
    loans = load_table(LOANS).data
    csv = tmp_path / "loans.csv"
    with_gaps = loans.astype({"region": object})
    with_gaps.loc[with_gaps.index % 9 == 0, "region"] = "unknown"  # this file's spelling of a missing region
    with_gaps.to_csv(csv, index=False)
    at = new_app()
    run(at.radio(key=W.SOURCE).set_value("Open a file or folder on this computer"))
    run(at.text_input(key=W.PATH).set_value(str(csv)))
    run(at.multiselect(key=W.NA_VALUES).set_value(["unknown"]))
    run(at.button(key=W.CONFIRM).click())
    at.switch_page(SLICES)
    run(at)
    data = at.session_state[DATASET]
    assert data.sampled and len(data.table.data) == 1_000
    assert any(f"Every one of the {len(loans):,} rows" in i.value for i in at.info)
    expected = find_slices(load_table(csv, na_values=["unknown"]).data, at.session_state[SPEC])
    shown = shown_table(at).reset_index(drop=True)
    pd.testing.assert_frame_equal(shown, slice_table(expected))
    assert any("(DuckDB)" in c.value for c in at.caption)
    # A slice of number bins is explained on the Drivers page's stratified sample, cut where the search cut it.
    binned = next(s for s in expected.slices if any("<" in t.value or "≥" in t.value for t in s.terms))
    run(at.selectbox(key=W.SLICES_PICK).set_value(binned.key))
    run(at.button(key=W.SLICES_EXPLAIN).click())
    assert [t.value for t in at.title] == ["Drivers"]
    assert not at.error
    assert any(md(f"between the slice {binned.key} and the rest") in m.value for m in at.markdown)
    assert any("cut where the search cut them, over every row of the source" in c.value for c in at.caption)


def test_a_slice_of_values_from_a_path_is_explained_on_the_drivers_page_s_sample(local_run, tmp_path):
    loans = load_table(LOANS).data
    csv = tmp_path / "loans.csv"
    loans.to_csv(csv, index=False)
    at = new_app()
    run(at.radio(key=W.SOURCE).set_value("Open a file or folder on this computer"))
    run(at.text_input(key=W.PATH).set_value(str(csv)))
    run(at.button(key=W.CONFIRM).click())
    at.switch_page(SLICES)
    run(at)
    run(at.multiselect(key=W.SLICES_FEATURES).set_value(["region"]))
    shown = shown_table(at)
    values_only = next(k for k in shown["slice"] if not any(c in k for c in "<≥–"))
    assert values_only.startswith("region = ")
    run(at.selectbox(key=W.SLICES_PICK).set_value(values_only))
    run(at.button(key=W.SLICES_EXPLAIN).click())
    assert [t.value for t in at.title] == ["Drivers"]
    assert not at.error
    assert any(md(f"between the slice {values_only} and the rest") in m.value for m in at.markdown)
    assert any("of the stratified sample drawn at random in the slice" in c.value for c in at.caption)


def test_the_intervals_follow_the_app_s_one_confidence_level():
    at = slices_page()
    at.switch_page("pages/fairness.py")
    run(at)
    run(at.radio(key=W.CONFIDENCE).set_value(0.99))
    at.switch_page(SLICES)
    run(at)
    data = at.session_state[DATASET]
    expected = find_slices(data.table.data, at.session_state[SPEC], confidence=0.99)
    assert slice_table(expected).iloc[0, 3] != slice_table(engine(at)).iloc[0, 3]  # the level changes the interval
    pd.testing.assert_frame_equal(shown_table(at).reset_index(drop=True), slice_table(expected))
    assert any("with its 99% interval (Wilson)" in c.value for c in at.caption)
