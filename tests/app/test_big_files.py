"""AppTest: a file or folder opened by its path is read by DuckDB; every page works from the engine's counts."""

from html import escape
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis import encode_groups, load_table, profile_columns
from analysis.audit import audit
from analysis.bias_tables import bias_tables
from analysis.duckdb_engine import sample_duckdb
from analysis.report import render_html
from analysis.story import rank_gaps
from analysis.stratified import StratifiedSample
from tests.app.apptest import new_app, run
from ui import cached, local
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
def local_run(monkeypatch):
    """A local run, with a small preview so that the page shows a sample of the rows."""
    monkeypatch.setenv(LOCAL_PATHS_SETTING, "1")
    monkeypatch.setattr(cached, "PREVIEW_ROWS", PREVIEW)


def open_path(location: Path | str) -> AppTest:
    at = new_app()
    run(at.radio(key=W.SOURCE).set_value(PATH_SOURCE))
    return run(at.text_input(key=W.PATH).set_value(str(location)))


@pytest.mark.slow
def test_a_folder_opened_by_path_shows_a_sample_and_says_so(local_run, folder, loans):
    at = open_path(folder)
    data = at.session_state[DATASET]
    assert (data.source, data.engine, data.rows) == ("path", "duckdb", len(loans))
    assert len(data.table.data) == PREVIEW  # no full table in memory
    statements = [i.value for i in at.info if "Showing a sample" in i.value]
    assert statements == [
        f"Showing a sample of {PREVIEW:,} of {len(loans):,} rows; the audit counts every row with DuckDB. The "
        "preview and the suggested roles are read from the sample; the column profiles count every row."
    ]
    assert not at.error
    assert at.button(key=W.CONFIRM)  # the roles are suggested from the sample
    # A protected attribute's groups are those of every row: quantile bins cut where every row cuts them.
    at.session_state[W.PROTECTED] = ["gender", "age"]
    at.session_state[W.bins("age")] = ""  # instead of the suggested bins
    at.session_state[W.quantiles("age")] = 4
    run(at)
    expected_groups = encode_groups(loans["age"], quantiles=4).labels
    assert at.selectbox(key=W.reference("age")).options[1:] == list(expected_groups)
    # The column profiles count every row, as the loader profiles the whole table.
    profiles = next(d.value for d in at.dataframe if "suggested role" in d.value.columns).set_index("column")
    expected = {p.name: p for p in profile_columns(loans)}
    for column in loans.columns:
        shown = profiles.loc[column]
        assert (shown["distinct"], shown["missing"]) == (expected[column].distinct, expected[column].missing), column
        assert shown["type"] == expected[column].kind, column


def schema_mismatch(tmp_path: Path) -> Path:
    """Two Parquet files of which one lacks a column."""
    folder = tmp_path / "parts"
    folder.mkdir()
    pd.DataFrame({"id": [1, 2], "decision": ["y", "n"]}).to_parquet(folder / "a.parquet", index=False)
    pd.DataFrame({"id": [3]}).to_parquet(folder / "b.parquet", index=False)
    return folder


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda tmp: tmp / "no-such-folder", "No file matches {path}: expected a Parquet or CSV file"),
        (schema_mismatch, "Column 'decision' is in a.parquet but not in b.parquet"),
    ],
)
def test_a_bad_path_is_said_for_the_path_box_with_the_engines_message(local_run, tmp_path, make, said):
    location = make(tmp_path)
    at = open_path(location)
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert errors[0].startswith(md("Could not open the path in 'Path of a file, folder or DuckDB database on this"))
    assert md(said.format(path=location)) in errors[0]  # the engine's message, escaped for Markdown
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
def test_overview_and_fairness_equal_the_pandas_audit_of_the_same_rows(local_run, folder, loans):
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
    assert any(
        c.value.startswith(f"20,000 of 20,000 rows of **{md(folder)}** audited (counted by DuckDB). ")
        for c in at.caption
    )
    for name, attribute in expected.attributes.items():
        at.session_state[W.FAIRNESS_TAB] = md(name)
        run(at)
        lowest = attribute.summary.metrics["disparate_impact_min"].value
        assert next(m for m in at.metric if m.label == "Lowest impact ratio vs reference").value == f"{lowest:.3f}"
        table = next(d.value for d in at.dataframe if "share" in d.value.columns).set_index("group")
        assert table["n"].to_dict() == {g: m.n for g, m in attribute.groups.items()}, name


LOCAL = {"address": "127.0.0.1", "ip": None, "headers": {"Host": "localhost:8501"}}


@pytest.mark.parametrize(
    ("change", "allowed"),
    [
        ({}, True),
        ({"headers": {"Host": "127.0.0.1:8501"}}, True),
        ({"headers": {"Host": "[::1]:8501"}}, True),
        ({"headers": {}}, True),  # no Host header: not a browser's request through a proxy
        ({"address": "0.0.0.0"}, False),  # shared on the network
        ({"address": None}, False),  # Streamlit's default: every interface
        ({"address": "192.168.1.20"}, False),
        ({"ip": "192.168.1.21"}, False),  # a browser on another machine
        ({"headers": {"Host": "paritylab.example.org"}}, False),  # asked for by a public name
        ({"headers": {"Host": "localhost:8501", "X-Forwarded-For": "203.0.113.9"}}, False),  # behind a proxy
    ],
)
def test_opening_paths_is_allowed_only_for_a_browser_on_this_machine(monkeypatch, change, allowed):
    run = LOCAL | change
    context = SimpleNamespace(ip_address=run["ip"], headers=run["headers"])
    monkeypatch.setattr(local, "st", SimpleNamespace(get_option=lambda name: run["address"], context=context))
    monkeypatch.delenv(LOCAL_PATHS_SETTING, raising=False)
    assert local.local_paths_allowed() is allowed
    monkeypatch.setenv(LOCAL_PATHS_SETTING, "1")  # the setting decides, whatever the run looks like
    assert local.local_paths_allowed() is True
    monkeypatch.setenv(LOCAL_PATHS_SETTING, "0")
    assert local.local_paths_allowed() is False


@pytest.mark.slow
def test_drivers_train_on_a_stratified_sample_the_page_and_the_report_say_so(local_run, folder, loans):
    at = open_path(folder)
    run(at.button(key=W.CONFIRM).click())
    at.switch_page("pages/drivers.py")
    at.run(timeout=300)
    assert not at.exception
    data, spec = at.session_state[DATASET], at.session_state[SPEC]
    explanation = state_for_report(at, "explanation")
    drawn = explanation.training_sample
    per_group = at.session_state[W.DRIVERS_SAMPLE_SIZE]
    assert (drawn.source_rows, drawn.per_group, drawn.engine) == (len(loans), per_group, "duckdb")
    assert drawn.rows == explanation.model.n_rows < len(loans)
    sentence = drawn.describe("The surrogate is trained")
    assert sentence.startswith(f"The surrogate is trained on a stratified sample of {drawn.rows:,} of the 20,000 rows")
    assert sentence.endswith(f"every group keeps its rows up to {per_group:,}.")
    assert md(sentence) in [i.value for i in at.info]
    assert explanation.to_dict()["training_sample"] == drawn.to_dict()
    # Every group of every protected attribute keeps min(its rows, per_group) rows.
    sample = sample_duckdb(data.location, spec=spec, per_group=per_group, seed=drawn.seed)
    assert len(sample) == drawn.rows
    for attribute in spec.protected:
        if attribute.binned:
            continue
        kept, every = sample[attribute.column].value_counts(), loans[attribute.column].value_counts()
        assert all(kept[g] >= min(n, per_group) for g, n in every.items()), attribute.column
    html = render_html(audit(loans, spec), explanation=explanation)
    assert escape(drawn.describe("The surrogate was trained")) in html


@pytest.mark.slow
def test_mitigation_and_audit_tables_count_every_row(local_run, folder, loans):
    at = open_path(folder)
    run(at.button(key=W.CONFIRM).click())
    spec = at.session_state[SPEC]
    at.switch_page("pages/mitigation.py")
    at.run(timeout=300)
    assert not at.exception and not at.error
    assert f"Every figure on this page counts all {len(loans):,} rows, as DuckDB counted them." in [
        c.value for c in at.caption
    ]
    at.switch_page("pages/audit_tables.py")
    run(at)
    assert not at.error
    expected = bias_tables(loans, spec, sex="gender", race="ethnicity")
    assert state_for_report(at, "tables").to_dict() == expected.to_dict()


def state_for_report(at: AppTest, kind: str):
    """The record a page remembered for the Report page (an Explanation, BiasTables)."""
    data, spec = at.session_state[DATASET], at.session_state[SPEC]
    results = at.session_state["paritylab.results"]
    stored = results[{"explanation": "explanation", "tables": "bias_tables"}[kind]]
    assert stored[0][:2] == (data.data_key, spec.to_json())
    return stored[1]


@pytest.mark.slow
def test_without_a_score_the_mitigation_models_train_on_a_stratified_sample_and_say_so(
    local_run, folder, loans, monkeypatch
):
    per_group = 2_000
    monkeypatch.setattr(cached, "MODEL_PER_GROUP", per_group)
    at = open_path(folder)
    run(at.selectbox(key=W.SCORE).set_value("(none)"))  # the thresholds then act on a model score
    run(at.button(key=W.CONFIRM).click())
    at.switch_page("pages/mitigation.py")
    at.run(timeout=300)
    assert not at.exception and not at.error
    spec = at.session_state[SPEC]
    rows = len(sample_duckdb(str(folder), spec=spec, per_group=per_group))
    assert rows < len(loans)
    drawn = StratifiedSample(rows, len(loans), per_group, "duckdb")
    assert md(drawn.describe("The model score is trained and every figure below measured")) in [
        i.value for i in at.info
    ]
    at.button(key=W.MITIGATION_COMPARE).click()
    at.run(timeout=600)
    assert not at.exception and not at.error
    comparison = at.session_state["paritylab.results"]["mitigation_comparison"][1]
    assert comparison.to_dict()["notes"][-1] == drawn.describe("Compared")
    assert comparison.train_rows + comparison.test_rows == rows


@pytest.mark.parametrize(("setting", "remedy"), [("1", "Open it by its path instead"), ("0", "--engine duckdb")])
def test_a_file_over_the_upload_limit_points_to_opening_it_by_path_or_the_command_line(monkeypatch, setting, remedy):
    monkeypatch.setenv(LOCAL_PATHS_SETTING, setting)
    monkeypatch.setattr("analysis.loading.DEFAULT_MAX_BYTES", 2**20)  # 1 MB, read by the page on each run
    at = new_app()
    run(at.radio(key=W.SOURCE).set_value("Upload a file"))
    run(at.file_uploader(key=W.UPLOAD).set_value(("big.csv", b"a,b\n" + b"1,2\n" * 300_000, "text/csv")))
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("'big\\.csv' is 1\\.1 MB; the limit is 1 MB\\."), errors
    assert md(remedy) in errors[0]


@pytest.mark.slow
def test_a_table_of_a_duckdb_database_opens_by_path(local_run, tmp_path, loans):
    import duckdb

    database = tmp_path / "audit.duckdb"
    with duckdb.connect(str(database)) as con:
        con.register("loans", loans)
        con.execute("CREATE TABLE decisions AS SELECT * FROM loans")
        con.execute("CREATE TABLE other AS SELECT 1 AS x")
    at = open_path(f"{database}:decisions")
    data = at.session_state[DATASET]
    assert (data.rows, data.name, len(data.table.data)) == (len(loans), "audit.duckdb:decisions", PREVIEW)
    assert not at.error
    at = open_path(database)  # two tables: the engine asks for one, named in the path box
    assert [md("Could not open the path in")] == [e.value[: len(md("Could not open the path in"))] for e in at.error]
    assert md("expected one named") in at.error[0].value


@pytest.mark.slow
def test_reading_options_read_the_path_again(local_run, tmp_path):
    csv = tmp_path / "decisions.csv"
    rows = [f"{i},{'unknown' if i % 10 == 0 else i % 7},{'yes' if i % 3 else 'no'},{'AB'[i % 2]}" for i in range(400)]
    csv.write_text("id,income,approved,group\n" + "\n".join(rows) + "\n")
    at = open_path(csv)
    before = at.session_state[DATASET]
    assert not pd.api.types.is_numeric_dtype(before.table.data["income"])  # 'unknown' is a value of a text column
    run(at.multiselect(key=W.NA_VALUES).set_value(["unknown"]))
    after = at.session_state[DATASET]
    assert after.data_key != before.data_key and after.rows == before.rows == 400
    assert after.reading.na_values == ("unknown",)
    assert pd.api.types.is_numeric_dtype(after.table.data["income"])
    assert int(after.table.data["income"].isna().sum()) == 40


@pytest.mark.slow
def test_read_it_again_reads_files_that_changed_on_disk(local_run, folder, loans):
    at = open_path(folder)
    assert at.session_state[DATASET].rows == len(loans)
    loans.iloc[:100].to_parquet(folder / "part-9.parquet", index=False)  # a file added since
    run(at)
    assert at.session_state[DATASET].rows == len(loans)  # kept until asked
    run(at.button(key=W.PATH_REREAD).click())
    data = at.session_state[DATASET]
    assert data.rows == len(loans) + 100
    assert f"Read {len(loans) + 100:,} rows" in at.success[0].value
