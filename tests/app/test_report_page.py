"""AppTest: the Report page offers the downloads (their bytes are the engine's), resumes from a saved result,
warns on another dataset's result, and compares with an earlier audit."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from html import escape as html_escape

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis import AuditSpec
from analysis.audit import AuditResult, audit
from analysis.explain import explain
from analysis.mitigation import MitigationComparison, MitigationRow
from analysis.report import metrics_csv, render_html
from tests.analysis.test_compare import double_the_bias
from tests.app.apptest import new_app, run
from ui.state import DATASET, SPEC, W
from ui.text import md

REPORT = "pages/report.py"
LABELS = {
    W.REPORT_HTML: "Download the HTML report",
    W.REPORT_CSV: "Download the metrics CSV",
    W.REPORT_JSON: "Download the JSON result",
    W.REPORT_SPEC: "Download the spec JSON",
}
MADE = re.compile(r"Made \S+")


def report_page() -> AppTest:
    """The app with the loan sample's suggested roles confirmed, on the Report page."""
    at = new_app()
    run(at.button(key=W.CONFIRM).click())
    at.switch_page(REPORT)
    return run(at)


def button(at: AppTest, key: str):
    return next(b for b in at.get("download_button") if b.proto.id.endswith(f"-{key}"))


def data_of(at: AppTest, key: str, files: dict) -> bytes:
    """The bytes a download button hands out (a deferred one's maker is called, as a click would)."""
    proto = button(at, key).proto
    if proto.deferred_file_id:
        return files[proto.deferred_file_id]()
    return files[proto.url.rsplit("/", 1)[1].split(".")[0]]


def upload(at: AppTest, key: str, name: str, data: bytes) -> AppTest:
    return run(at.file_uploader(key=key).set_value((name, data, "application/json")))


def engine(at: AppTest) -> AuditResult:
    data = at.session_state[DATASET]
    return audit(
        data.table.data,
        at.session_state[SPEC],
        dataset_name=data.name,
        dataset_sha256=data.sha256,
        load_report=data.table.report,
    )


def without_time(result: AuditResult) -> dict:
    return {k: v for k, v in result.to_dict().items() if k != "created_at"}


# ---------------------------------------------------------------- tests


def test_without_confirmed_roles_the_page_sends_you_to_the_data_page():
    at = new_app()
    at.switch_page(REPORT)
    run(at)
    assert at.title[0].value == "Report"
    assert "Confirm which columns hold the decision" in at.info[0].value
    assert [link.value for link in at.get("page_link")] == ["Go to the Data page"]
    assert not at.get("download_button")


def test_the_page_offers_the_four_downloads_and_says_what_is_not_computed():
    at = report_page()
    assert at.title[0].value == "Report"
    assert {b.proto.id.rsplit("-", 1)[1]: b.proto.label for b in at.get("download_button")} == LABELS
    text = "\n".join(m.value for m in at.markdown)
    assert "Drivers: not computed — visit the Drivers page" in text
    assert "Raw rows are never exported" in "\n".join(c.value for c in at.caption)
    assert at.checkbox(key=W.REPORT_PII).value is False


@pytest.mark.slow
def test_the_download_bytes_are_the_engines_output_for_the_audit(downloads):
    at = report_page()
    assert button(at, W.REPORT_HTML).proto.deferred_file_id  # drawn on click only
    saved = data_of(at, W.REPORT_JSON, downloads)
    result = AuditResult.from_json(saved)
    assert saved == result.to_json().encode("utf-8")  # what the page audited, exactly
    assert without_time(result) == without_time(engine(at))  # … which is audit() of the session's data and spec
    assert data_of(at, W.REPORT_CSV, downloads) == metrics_csv(result)
    assert data_of(at, W.REPORT_SPEC, downloads) == at.session_state[SPEC].to_json().encode("utf-8")
    report = at.session_state[DATASET].table.report
    html = data_of(at, W.REPORT_HTML, downloads).decode("utf-8")
    assert MADE.sub("", html) == MADE.sub("", render_html(result, load_report=report))
    assert 'id="monitoring"' not in html and "not computed — visit the Drivers page" in html


@pytest.mark.slow
def test_the_personal_data_opt_in_changes_the_exports(downloads):
    at = report_page()
    spec = replace(at.session_state[SPEC], pii_columns=("gender",))
    at.session_state[SPEC] = spec
    run(at)
    default = pd.read_csv(io.BytesIO(data_of(at, W.REPORT_CSV, downloads)), keep_default_na=False)
    assert "gender" not in set(default.loc[default["level"] == "group", "attribute"])
    assert "gender" in set(default.loc[default["level"] == "omitted", "attribute"])
    assert "gender" not in json.loads(data_of(at, W.REPORT_JSON, downloads))["attributes"]
    assert "marked as personal data" in data_of(at, W.REPORT_HTML, downloads).decode()

    run(at.checkbox(key=W.REPORT_PII).check())
    opted = pd.read_csv(io.BytesIO(data_of(at, W.REPORT_CSV, downloads)), keep_default_na=False)
    groups = opted[(opted["level"] == "group") & (opted["attribute"] == "gender")]
    assert {"Female", "Male"} <= set(groups["group"])
    assert "omitted" not in set(opted["level"])
    result = AuditResult.from_json(data_of(at, W.REPORT_JSON, downloads))
    assert "gender" in result.attributes
    assert data_of(at, W.REPORT_CSV, downloads) == metrics_csv(result, include_pii=True)


@pytest.mark.slow
def test_resuming_from_a_saved_result_restores_its_spec():
    at = report_page()
    spec = at.session_state[SPEC]
    saved_spec = replace(spec, protected=spec.protected[:1], min_group_size=50)
    data = at.session_state[DATASET]
    saved = audit(data.table.data, saved_spec, dataset_name=data.name, dataset_sha256=data.sha256)
    upload(at, W.REPORT_RESUME, "saved.json", saved.to_json().encode())
    text = "\n".join(m.value for m in at.markdown)
    assert "Saved audit of loan" in text
    assert not at.warning  # same data: no hash warning
    run(at.button(key=W.REPORT_RESTORE).click())
    assert at.session_state[SPEC] == saved_spec
    assert "Its spec is the one in use." in [c.value for c in at.caption]
    # The Data page now shows the restored roles, so confirming there again keeps them.
    at.switch_page("pages/data.py")
    run(at)
    assert at.multiselect(key=W.PROTECTED).value == list(saved_spec.protected_columns)
    assert at.number_input(key=W.MIN_GROUP).value == 50
    run(at.button(key=W.CONFIRM).click())
    assert at.session_state[SPEC].protected_columns == saved_spec.protected_columns
    assert at.session_state[SPEC].min_group_size == 50


@pytest.mark.slow
def test_a_result_of_other_data_warns_and_names_both_hashes():
    at = report_page()
    data = at.session_state[DATASET]
    saved = json.loads(engine(at).to_json())
    saved["dataset"]["sha256"] = "ab" * 32
    upload(at, W.REPORT_RESUME, "other.json", json.dumps(saved).encode())
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1
    assert "ab" * 32 in warnings[0] and data.sha256 in warnings[0]


def test_a_file_that_is_not_a_result_is_refused_with_the_reason():
    at = report_page()
    upload(at, W.REPORT_RESUME, "spec.json", AuditSpec(decision="approved", positive=("Y",)).to_json().encode())
    assert at.error[0].value.startswith(md("Could not read 'spec.json': Expected an audit result"))
    assert "got an object with keys" in at.error[0].value and "decision" in at.error[0].value


@pytest.mark.slow
@pytest.mark.parametrize("key", [W.REPORT_RESUME, W.REPORT_BEFORE])
def test_a_damaged_result_is_refused_naming_the_field(key):
    at = report_page()
    saved = json.loads(engine(at).to_json())
    attribute, groups = next((k, a["groups"]) for k, a in saved["attributes"].items() if a["groups"])
    group = next(iter(groups))
    groups[group]["counts"]["n"] = -3
    upload(at, key, "before.json", json.dumps(saved).encode())
    (error,) = [e.value.replace("\\", "") for e in at.error]  # shown through md(): Markdown-escaped
    assert error.startswith(
        f'Could not read \'before.json\': attributes["{attribute}"].groups["{group}"].counts.n is -3; counts must '
        "be whole numbers of at least 0. The file was edited or damaged"
    )
    assert not at.exception


def test_the_audit_json_download_records_how_the_file_was_read(downloads):
    at = report_page()
    data = json.loads(data_of(at, W.REPORT_JSON, downloads))
    report = at.session_state[DATASET].table.report
    assert data["load"] == json.loads(json.dumps(report.to_dict())) and data["load"]["rows"] == report.rows


@pytest.mark.slow
def test_comparing_with_an_identical_earlier_result_finds_no_change_and_adds_monitoring(downloads):
    at = report_page()
    earlier = AuditResult.from_json(data_of(at, W.REPORT_JSON, downloads))
    upload(at, W.REPORT_BEFORE, "earlier.json", earlier.to_json().encode())
    assert "Nothing changed" in at.success[0].value
    table = next(d.value for d in at.dataframe if "metric" in d.value.columns)
    assert list(table.columns)[:6] == ["attribute", "group", "metric", "before", "after", "change"]
    assert len(table) > 0 and (table["change"].fillna(0) == 0).all() and not table["regression"].any()
    html = data_of(at, W.REPORT_HTML, downloads).decode()
    assert 'id="monitoring"' in html and "Nothing changed" in html
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download the comparison (HTML)" in labels and "Download the comparison (JSON)" in labels


@pytest.mark.slow
def test_a_worsening_beyond_tolerance_is_a_regression_unless_the_significance_box_is_ticked(downloads):
    at = report_page()
    data, spec = at.session_state[DATASET], at.session_state[SPEC]
    # Earlier decisions with doubled bias: now some metrics got worse by chance, beyond the tolerance
    earlier = audit(double_the_bias(data.table.data), spec, dataset_name="earlier.csv")
    upload(at, W.REPORT_BEFORE, "earlier.json", earlier.to_json().encode())
    box = at.checkbox(key=W.REPORT_SIGNIFICANCE)
    assert box.label == "A regression must also be significant" and box.value is False
    loose = json.loads(data_of(at, W.REPORT_COMPARISON_JSON, downloads))
    assert loose["settings"]["require_significance"] is False
    regressions = [r for r in loose["rows"] if r["regression"]]
    assert len(regressions) == loose["regression_count"] > 0
    assert any(r["significant"] is False for r in regressions)  # not significant, still a regression
    assert at.error[0].value == md(loose["summary"])
    assert "got worse beyond tolerance (0.02; disparate impact 0.02)." in loose["summary"]
    run(at.checkbox(key=W.REPORT_SIGNIFICANCE).check())
    strict = json.loads(data_of(at, W.REPORT_COMPARISON_JSON, downloads))
    assert strict["settings"]["require_significance"] is True
    assert 0 < strict["regression_count"] < loose["regression_count"]
    assert all(r["significant"] for r in strict["rows"] if r["regression"])
    assert {(r["attribute"], r["group"], r["metric"]) for r in strict["rows"] if r["regression"]} == {
        (r["attribute"], r["group"], r["metric"]) for r in regressions if r["significant"]
    }
    assert at.error[0].value == md(strict["summary"]) and "and significantly (q < 0.05)" in strict["summary"]


@pytest.mark.slow
def test_a_drivers_explanation_kept_for_the_report_goes_into_it(downloads):
    at = report_page()
    data, spec = at.session_state[DATASET], at.session_state[SPEC]
    explanation = explain(data.table.data, spec, sample_size=300)
    context = (data.data_key, spec.to_json(), "options")
    at.session_state["paritylab.results"] = {"explanation": (context, explanation)}
    run(at)
    assert "Drivers: included" in "\n".join(m.value for m in at.markdown)
    html = data_of(at, W.REPORT_HTML, downloads).decode()
    top = explanation.global_importance[0]
    assert html_escape(explanation.fidelity.message) in html
    assert f'<td>{html_escape(top.feature)}</td><td class="num">{top.mean_abs_shap:.4f}</td>' in html


@pytest.mark.slow
def test_the_mitigation_pages_comparison_for_this_spec_goes_into_the_report(downloads):
    at = report_page()
    data, spec = at.session_state[DATASET], at.session_state[SPEC]
    row = MitigationRow(method="thresholds", label="our per-group thresholds", status="ok", accuracy=0.75)
    comparison = MitigationComparison(
        rows=(row,),
        attribute="ethnicity",
        constraint="four_fifths",
        tolerance=0.0,
        objective="accuracy",
        target="label",
        score_source="spec",
        train_rows=14_000,
        test_rows=6_000,
        random_state=0,
        thresholds={},
        thresholds_feasible=True,
        thresholds_reason=None,
    )
    other_spec = replace(spec, min_group_size=99).to_json()
    at.session_state["paritylab.results"] = {
        "mitigation_comparison": ((data.data_key, other_spec, "ethnicity"), comparison)
    }
    run(at)
    assert "Mitigation comparison: not computed" in "\n".join(m.value for m in at.markdown)  # another spec's
    context = (data.data_key, spec.to_json(), "x")
    at.session_state["paritylab.results"] = {"mitigation_comparison": (context, comparison)}
    run(at)
    assert "Mitigation comparison: included" in "\n".join(m.value for m in at.markdown)
    html = data_of(at, W.REPORT_HTML, downloads).decode()
    assert 'id="mitigation"' in html
    assert '<td>our per-group thresholds</td><td>ok</td><td class="num">0.750</td>' in html


@pytest.mark.slow
def test_visiting_the_drivers_page_puts_its_explanation_into_the_report(downloads):
    at = new_app()
    run(at.button(key=W.CONFIRM).click())
    at.switch_page("pages/drivers.py")
    run(at)
    assert not at.exception
    at.switch_page(REPORT)
    run(at)
    assert "Drivers: included" in "\n".join(m.value for m in at.markdown)
    explanation = at.session_state["paritylab.results"]["explanation"][1]
    html = data_of(at, W.REPORT_HTML, downloads).decode()
    assert html_escape(explanation.fidelity.message) in html
    assert f"<td>{html_escape(explanation.global_importance[0].feature)}</td>" in html
    assert "were not computed for this report" not in html


@pytest.mark.slow
def test_visiting_the_slices_page_puts_its_search_into_the_report(downloads):
    at = new_app()
    run(at.button(key=W.CONFIRM).click())
    assert "Slices: not searched" in "\n".join(m.value for m in run_report(at).markdown)
    at.switch_page("pages/slices.py")
    run(at)
    assert not at.exception
    search = at.session_state["paritylab.results"]["slices"][1]
    run_report(at)
    assert f"Slices: the top {len(search.slices)} by {search.title}" in "\n".join(m.value for m in at.markdown)
    html = data_of(at, W.REPORT_HTML, downloads).decode()
    assert 'id="slices"' in html
    assert html_escape(search.summary()) in html
    assert html_escape(search.slices[0].key) in html


def run_report(at: AppTest) -> AppTest:
    at.switch_page(REPORT)
    return run(at)
