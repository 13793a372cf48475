"""AppTest: a file or folder opened by its path is read by DuckDB; every page works from the engine's counts."""

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis import load_table
from analysis.audit import audit
from analysis.story import rank_gaps
from tests.app.apptest import new_app, run
from ui import cached
from ui.local import LOCAL_PATHS_SETTING
from ui.state import DATASET, SPEC, W
from ui.text import md

ROOT = Path(__file__).resolve().parents[2]
LOANS = ROOT / "sample_data" / "loan_approvals.csv"
PATH_SOURCE = "Open a file or folder on this computer"
PREVIEW = 1_000


@pytest.fixture(scope="module")
def loans() -> pd.DataFrame:
    return load_table(LOANS).data


@pytest.fixture
def folder(tmp_path: Path, loans: pd.DataFrame) -> Path:
    """The loan sample as a folder of four Parquet files (what a data lake export looks like)."""
    out = tmp_path / "decisions"
    out.mkdir()
    for part, rows in enumerate(range(0, len(loans), 5_000)):
        loans.iloc[rows : rows + 5_000].to_parquet(out / f"part-{part}.parquet", index=False)
    return out


@pytest.fixture
def local(monkeypatch):
    """A local run, with a small preview so that the page shows a sample of the rows."""
    monkeypatch.setenv(LOCAL_PATHS_SETTING, "1")
    monkeypatch.setattr(cached, "PREVIEW_ROWS", PREVIEW)


def open_path(location: Path | str) -> AppTest:
    at = new_app()
    run(at.radio(key=W.SOURCE).set_value(PATH_SOURCE))
    return run(at.text_input(key=W.PATH).set_value(str(location)))


@pytest.mark.slow
def test_a_folder_opened_by_path_shows_a_sample_and_says_so(local, folder, loans):
    at = open_path(folder)
    data = at.session_state[DATASET]
    assert (data.source, data.engine, data.rows) == ("path", "duckdb", len(loans))
    assert len(data.table.data) == PREVIEW  # no full table in memory
    statements = [i.value for i in at.info if "Showing a sample" in i.value]
    assert statements == [
        f"Showing a sample of {PREVIEW:,} of {len(loans):,} rows (the preview, the column profiles and the "
        "suggested roles are read from it); the audit counts every row with DuckDB."
    ]
    assert not at.error
    assert at.button(key=W.CONFIRM)  # the roles are suggested from the sample


def test_nothing_at_the_path_is_said_in_the_path_box(local, tmp_path):
    missing = tmp_path / "no-such-folder"
    at = open_path(missing)
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert errors[0].startswith("Could not open the path in 'Path of a file, folder or DuckDB database")
    assert "no\\-such\\-folder" in errors[0]  # the engine's message names the path (escaped for Markdown)
    assert at.session_state[DATASET].source == "sample"  # the sample stays loaded


@pytest.mark.parametrize("setting", ["0", None])
def test_the_path_box_is_offered_only_on_a_local_run(monkeypatch, setting):
    if setting is None:  # the default: decided by the server's address (here: shared on the network)
        monkeypatch.delenv(LOCAL_PATHS_SETTING, raising=False)
        monkeypatch.setattr("ui.local.st.get_option", lambda name: "0.0.0.0")
    else:
        monkeypatch.setenv(LOCAL_PATHS_SETTING, setting)
    at = new_app()
    assert at.radio(key=W.SOURCE).options == ["Sample dataset", "Upload a file"]
    assert W.PATH not in [t.key for t in at.text_input]  # no path box anywhere


@pytest.mark.slow
def test_overview_and_fairness_equal_the_pandas_audit_of_the_same_rows(local, folder, loans):
    at = open_path(folder)
    run(at.button(key=W.CONFIRM).click())
    assert [t.value for t in at.title] == ["Overview"]
    spec = at.session_state[SPEC]
    expected = audit(pd.concat([pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))]), spec)
    assert expected.dataset.rows == len(loans)
    # The Overview ranks the pandas audit's gaps, each with its ratio, interval, q-value and sizes.
    shown = [m.value for m in at.markdown]
    for gap in rank_gaps(expected):
        if gap.ratio is not None:
            ratio, sizes = md(f"ratio {gap.ratio:.2f} "), md(f"n = {gap.n:,} vs {gap.reference_n:,}")
            assert any(text.startswith(ratio) and sizes in text for text in shown), gap.attribute
    at.switch_page("pages/fairness.py")
    run(at)
    for name, attribute in expected.attributes.items():
        at.session_state[W.FAIRNESS_TAB] = md(name)
        run(at)
        lowest = attribute.summary.metrics["disparate_impact_min"].value
        assert next(m for m in at.metric if m.label == "Lowest impact ratio vs reference").value == f"{lowest:.3f}"
        table = next(d.value for d in at.dataframe if "share" in d.value.columns).set_index("group")
        assert table["n"].to_dict() == {g: m.n for g, m in attribute.groups.items()}, name
