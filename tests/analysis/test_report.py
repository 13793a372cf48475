"""The HTML report and the metrics CSV: content, escaping of hostile data, no external reference, PII left out."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis import AuditSpec, LoadReport, load_table
from analysis.audit import AuditResult, audit
from analysis.compare import compare_audits
from analysis.report import CSP, CSV_COLUMNS, metrics_csv, render_html, verdict, without_pii
from analysis.story import gap_for, headline, verdict_for

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
JS_LINK = "javascript:alert(1)"
FORMULA = '=HYPERLINK("http://evil.example/x","click")'
NEGATIVE = "-0.5"
GROUPS = (IMG, SCRIPT, JS_LINK, FORMULA, NEGATIVE)
ROOT = Path(__file__).resolve().parents[2]
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CHART = re.compile(r'<div class="chart"><p class="title">([^<]*)</p><svg ')
SVG_NAMESPACES = re.compile(r'xmlns(?::\w+)?="http://www\.w3\.org/[^"]*"')


def hostile_frame() -> pd.DataFrame:
    """A protected column named like an HTML tag, group labels that are script/link/formula payloads,
    a second attribute for an intersection, and a group whose labels are all negative (TPR undefined, n=0)."""
    rows = []
    for g, group in enumerate(GROUPS):
        for i in range(80):
            approved = "Y" if (i % 10) < (8 - g) else "N"
            outcome = 0 if group == NEGATIVE else int(i % 3 != 0)
            rows.append({"id": f"r{g}-{i}", IMG: group, "site": ["=1+2", "plain"][i % 2]} | {"approved": approved})
            rows[-1]["outcome"] = outcome
    return pd.DataFrame(rows)


def hostile_spec(**changes) -> AuditSpec:
    fields = {
        "decision": "approved",
        "positive": ("Y",),
        "label": "outcome",
        "label_positive": (1,),
        "protected": (IMG, "site"),
        "id_columns": ("id",),
    }
    return AuditSpec(**(fields | changes))


@pytest.fixture(scope="module")
def hostile() -> AuditResult:
    return audit(hostile_frame(), hostile_spec(), dataset_name="<b>bad name</b>.csv")


@pytest.fixture(scope="module")
def hostile_html(hostile) -> str:
    return render_html(hostile, generated_at=WHEN)


@pytest.fixture(scope="module")
def loans():
    table = load_table(ROOT / "sample_data" / "loan_approvals.csv")
    spec = AuditSpec(
        decision="approved",
        positive=("Y",),
        label="repaid",
        label_positive=(1,),
        protected=("gender", "ethnicity"),
        id_columns=("applicant_id",),
    )
    result = audit(table.data, spec, dataset_name=table.report.name, dataset_sha256=table.report.sha256)
    return table, result


@pytest.fixture(scope="module")
def loans_html(loans) -> str:
    table, result = loans
    return render_html(result, load_report=table.report, generated_at=WHEN)


class Elements(HTMLParser):
    """Every start tag with its attributes, as the browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


def read_csv(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), dtype={"group": str, "attribute": str, "metric": str}, keep_default_na=False)


# ---------------------------------------------------------------- content


@pytest.mark.slow
def test_the_report_holds_verdict_dataset_spec_groups_findings_and_versions(loans, loans_html):
    table, result = loans
    html = loans_html
    assert escape(verdict(result)) in html
    assert result.dataset.sha256 in html and len(result.dataset.sha256) == 64
    for line in table.report.summary():
        assert escape(line) in html
    assert escape(result.spec.to_json()) in html
    for audit_ in [*result.attributes.values(), *result.intersections.values()]:
        assert f"<h3>{escape(audit_.name)} " in html
        for group in audit_.groups:
            assert f"<td>{escape(group)}</td>" in html
        for finding in audit_.findings:
            assert f"<li>{escape(finding.text)}</li>" in html
    assert f"<td>ParityLab</td><td>{analysis.__version__}</td>" in html
    assert f"<td>pandas</td><td>{pd.__version__}</td>" in html
    assert "2026-01-02T03:04:05Z" in html
    assert "Benjamini–Hochberg" in html and "Wilson" in html


def test_the_verdict_names_the_attributes_with_gaps_and_the_four_fifths_failures(loans):
    _, result = loans
    text = verdict(result)
    failing = [a.name for a in result.attributes.values() if a.summary.four_fifths_pass is False]
    assert failing == ["ethnicity"]  # the loan sample's planted bias
    # The four-fifths verdict quotes the four-fifths ratio, the measure it is decided on.
    ratio = result.attributes["ethnicity"].summary.metrics["favorable_rate_ratio"]
    # The largest gap first, in one sentence; then every attribute's one verdict, most unequal first.
    assert headline(result) in text and headline(result).startswith("Those with ethnicity = B are approved at 0.71x")
    assert (
        f"Verdicts, most unequal first: ethnicity (four-fifths ratio {ratio.value:.2f}): below four-fifths and "
        f"significant; gender (four-fifths ratio 0.98): {verdict_for(result, 'gender').text}; gender × ethnicity "
    ) in text
    assert verdict_for(result, "gender").text.startswith("no gap detected (a gap of ")
    assert f"{result.dataset.rows_audited:,} of {result.dataset.rows:,} rows" in text


def test_a_group_table_shows_rates_with_intervals_and_undefined_rates_as_n_0(hostile, hostile_html):
    group = hostile.attributes[IMG].groups[NEGATIVE]
    assert group.metrics["tpr"].value is None
    row = hostile_html.split(f"<tr><td>{escape(NEGATIVE)}</td>", 1)[1].split("</tr>", 1)[0]
    assert "<td>undefined (n=0)</td>" in row
    rate = group.metrics["favorable_rate"]
    assert f"<td>{rate.value:.3f} ({rate.ci_low:.3f}–{rate.ci_high:.3f})</td>" in row


def test_every_chart_is_inline_svg(loans, loans_html):
    _, result = loans
    audits = len(result.attributes) + len(result.intersections)
    expected = 2 * audits  # favourable rate, and TPR/FPR (the spec has a label)
    assert len(CHART.findall(loans_html)) == expected
    assert f'<meta name="paritylab-charts" content="{expected}">' in loans_html
    assert "<svg" not in render_html(loans[1], charts=False)


@pytest.mark.slow
def test_single_attributes_also_get_calibration_and_decision_value_charts():
    frame = hostile_frame()
    frame["score"] = [(i % 10) / 10 for i in range(len(frame))]
    frame["tier"] = [["P1", "P2", "P3"][i % 3] for i in range(len(frame))]
    result = audit(frame, hostile_spec(decision="tier", positive=("P1",), score="score"))
    titles = CHART.findall(render_html(result))
    per_attribute = [
        "Favourable rate by group",
        "Error rates by group (TPR and FPR: equalized odds)",
        "Calibration by group: observed positive rate per score decile",
        "Share of every decision value by group",
    ]
    assert titles == per_attribute * 2 + per_attribute[:2]  # two attributes, then the intersection
    # A harmful decision's rate chart is drawn as the share given it, and headed so.
    harmful = audit(frame, hostile_spec(decision="tier", positive=("P1",), score="score", positive_is_favorable=False))
    titles = CHART.findall(render_html(harmful, charts=True))
    assert "Favourable rate by group" not in titles
    assert titles[0] == "Share flagged by group"


# ---------------------------------------------------------------- nothing leaves the page


def test_no_reference_to_any_host_except_the_svg_namespaces(loans_html):
    assert SVG_NAMESPACES.search(loans_html)  # the SVG namespaces are there …
    rest = SVG_NAMESPACES.sub("", loans_html)
    assert not re.findall(r"(?:https?:|ftp:|file:)?//[\w.-]+|https?:|url\(", rest, flags=re.I)  # … and nothing else


def test_a_content_security_policy_forbids_every_request_and_script(hostile_html):
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in hostile_html
    assert "default-src 'none'" in CSP and "script" not in CSP
    head = hostile_html.split("<head>", 1)[1]
    assert head.index("Content-Security-Policy") < head.index("<title>")  # before anything it should govern


# ---------------------------------------------------------------- hostile data


def test_hostile_names_and_labels_are_text_never_markup(hostile, hostile_html):
    html = hostile_html
    elements = parse(html)
    tags = {tag for tag, _ in elements.tags}
    assert "img" not in tags and "script" not in tags and "iframe" not in tags and "object" not in tags
    links = [attrs["href"] for tag, attrs in elements.tags if tag == "a"]
    assert links == ["#verdict", "#dataset", "#spec", "#groups", "#drivers", "#method", "#versions"]
    for tag, attrs in elements.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for name, value in attrs.items():
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, name, value)
            if name in ("src", "xlink:href", "action") or (name == "href" and not value.startswith("#")):
                raise AssertionError(f"unexpected link attribute {name}={value!r} on <{tag}>")
    assert IMG not in html and SCRIPT not in html
    assert escape(IMG) in html and escape(SCRIPT) in html and escape(FORMULA) in html
    text = "".join(elements.text)
    for label in GROUPS:
        assert label in text  # shown literally, once unescaped by the parser
    assert "<b>bad name</b>.csv" in text


def test_chart_labels_from_data_are_escaped_inside_the_svg(hostile_html):
    charts = re.findall(r"<svg.*?</svg>", hostile_html, flags=re.S)
    assert charts
    axis = charts[0]
    assert f">{escape(IMG, quote=False)}</text>" in axis
    assert f">{escape(SCRIPT, quote=False)}</text>" in axis
    assert "<script" not in axis and "<img" not in axis


def hostile_with_features() -> tuple[pd.DataFrame, AuditSpec]:
    """The hostile table with two features named like payloads: one stands in for the protected attribute."""
    frame = hostile_frame()
    rng = np.random.default_rng(3)
    code = frame[IMG].map({g: i for i, g in enumerate(GROUPS)}).to_numpy()
    frame[JS_LINK] = code + rng.normal(0, 0.3, len(frame))  # a proxy of the protected attribute
    frame[FORMULA] = rng.normal(0, 1, len(frame))
    frame["score"] = np.clip(0.2 + 0.15 * (frame["approved"] == "Y") + rng.uniform(0, 0.6, len(frame)), 0, 1)
    return frame, hostile_spec(features=(JS_LINK, FORMULA), score="score")


@pytest.mark.slow
def test_drivers_mitigation_and_monitoring_sections_escape_their_data(hostile):
    from analysis.explain import explain
    from analysis.mitigation import compare_mitigations

    frame, spec = hostile_with_features()
    explanation = explain(frame, spec, sample_size=200)
    mitigation = compare_mitigations(frame, spec, attribute=IMG, constraint="four_fifths", tolerance=0.0)
    comparison = compare_audits(hostile, hostile)
    html = render_html(hostile, explanation=explanation, mitigation=mitigation, comparison=comparison, charts=False)
    drivers = html.split('id="drivers"', 1)[1].split("<h2", 1)[0]
    assert f"<td>{escape(JS_LINK)}</td>" in drivers and f"<td>{escape(FORMULA)}</td>" in drivers
    top = explanation.global_importance[0]
    assert f'<td>{escape(top.feature)}</td><td class="num">{top.mean_abs_shap:.4f}</td>' in drivers
    assert escape(f"{JS_LINK} predicts {IMG}") in drivers  # the proxy, flagged
    section = html.split('id="mitigation"', 1)[1].split("<h2", 1)[0]
    for group, threshold in mitigation.thresholds.items():
        assert f"<td>{escape(group)}</td><td>{threshold:.3f}</td>" in section
    baseline = mitigation.row("baseline")
    cells = "".join(f'<td class="num">{"—" if v is None else f"{v:.3f}"}</td>' for v in (
        baseline.accuracy, baseline.disparate_impact_min, baseline.favorable_rate_ratio))  # fmt: skip
    assert f"<td>current decisions</td><td>ok</td>{cells}" in section
    monitoring = html.split('id="monitoring"', 1)[1].split("<h2", 1)[0]
    assert escape(comparison.summary) in monitoring and "Nothing changed" in monitoring
    assert f"<h4>Every metric ({len(comparison.rows):,})</h4>" in monitoring
    row = next(r for r in comparison.rows if r.group is not None and r.metric is not None)
    assert f"<tr><td>{escape(row.attribute)}</td><td>{escape(row.group)}</td><td>{row.metric}</td>" in monitoring
    for payload in (SCRIPT, IMG, FORMULA):
        assert payload not in html
    assert "not computed" not in drivers


def test_the_report_takes_records_not_dicts(hostile):
    comparison = compare_audits(hostile, hostile)
    with pytest.raises(TypeError, match=r"render_html\(comparison=\.\.\.\) takes a AuditComparison"):
        render_html(hostile, comparison=comparison.to_dict(), charts=False)
    with pytest.raises(TypeError, match=r"takes a MitigationComparison \(compare_mitigations"):
        render_html(hostile, mitigation={"what": [{"a": SCRIPT, "b": 1.5}]}, charts=False)
    with pytest.raises(TypeError, match="takes a LoadReport"):
        render_html(hostile, load_report={"rows": 1}, charts=False)


def test_without_drivers_the_report_says_where_to_compute_them(hostile_html):
    assert "not computed — visit the Drivers page" in hostile_html


def test_metrics_that_were_skipped_are_listed_with_the_reason():
    result = audit(hostile_frame(), hostile_spec(label=None, label_positive=()))
    html = render_html(result, charts=False)
    assert "Not computed (no label column): base rate, TPR, FPR" in html


# ---------------------------------------------------------------- metrics CSV


def test_metrics_csv_has_one_row_per_attribute_group_and_metric_with_the_results_values(hostile):
    frame = read_csv(metrics_csv(hostile))
    assert list(frame.columns) == list(CSV_COLUMNS)
    groups = frame[frame["level"] == "group"]
    expected = sum(
        len(g.metrics)
        for a in [*hostile.attributes.values(), *hostile.intersections.values()]
        for g in a.groups.values()
    )
    assert len(groups) == expected
    site = hostile.attributes["site"]
    for group, g in site.groups.items():
        shown = "'" + group if group.startswith("=") else group
        rows = groups[(groups["attribute"] == "site") & (groups["group"] == shown)].set_index("metric")
        for name, m in g.metrics.items():
            cell = rows.loc[name]
            if m.value is None:
                assert cell["value"] == "" and cell["reason"] == m.reason
            else:
                assert float(cell["value"]) == m.value
                assert int(cell["n"]) == g.n
                if m.ci_low is not None:
                    assert float(cell["ci_low"]) == m.ci_low and float(cell["ci_high"]) == m.ci_high
    summary = frame[(frame["level"] == "summary") & (frame["attribute"] == "site")].set_index("metric")
    assert float(summary.loc["disparate_impact_min", "value"]) == site.summary.metrics["disparate_impact_min"].value


def test_metrics_csv_neutralizes_formula_cells_and_keeps_negative_numbers_numeric(hostile):
    data = metrics_csv(hostile)
    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    groups = set(frame.loc[frame["attribute"] == IMG, "group"])
    assert "'" + FORMULA in groups and FORMULA not in groups
    assert NEGATIVE in groups  # a number written as text stays a number
    assert "'=1+2" in set(frame.loc[frame["attribute"] == "site", "group"])
    for column in ("value", "ci_low", "ci_high"):
        numbers = frame.loc[frame[column] != "", column]
        assert not numbers.str.startswith("'").any()
        assert np.isfinite(numbers.astype(float)).all()
    negative = frame.loc[(frame["metric"] == "statistical_parity_difference") & frame["value"].str.startswith("-")]
    assert len(negative) > 0
    every_cell = [c for row in frame.itertuples(index=False) for c in row]
    assert not any(c.startswith(("=", "+", "@")) for c in every_cell)
    assert not any(c.startswith("-") and not re.fullmatch(r"-[\d.e+-]+", c) for c in every_cell)


# ---------------------------------------------------------------- personal data


def test_a_personal_data_attribute_is_left_out_of_both_exports_unless_asked_for():
    result = audit(hostile_frame(), hostile_spec(pii_columns=("site",)))
    kept, notes = without_pii(result)
    assert list(kept.attributes) == [IMG] and not kept.intersections
    assert len(notes) == 2 and "site" in notes[0]

    frame = read_csv(metrics_csv(result))
    assert "'=1+2" not in set(frame["group"]) and "plain" not in set(frame["group"])
    omitted = frame[frame["level"] == "omitted"]
    assert set(omitted["attribute"]) == {"site", f"{IMG} × site"}
    assert omitted["reason"].str.contains("personal data").all()
    full = read_csv(metrics_csv(result, include_pii=True))
    assert {"'=1+2", "plain"} <= set(full["group"]) and "omitted" not in set(full["level"])

    html = render_html(result, charts=False)
    assert "<td>plain</td>" not in html and escape("=1+2") not in html
    assert "marked as personal data" in html
    before = compare_audits(result, result)
    from analysis.mitigation import compare_mitigations

    frame, _ = hostile_with_features()
    mitigation = compare_mitigations(frame, hostile_spec(features=(JS_LINK,), score="score"), attribute="site")
    monitored = render_html(result, comparison=before, mitigation=mitigation, charts=False)
    monitoring = monitored.split('id="monitoring"', 1)[1].split("<h2", 1)[0]
    assert "<tr><td>site</td>" not in monitoring and "<tr><td>" + escape(IMG) + "</td>" in monitoring
    assert "The mitigation comparison for site is left out" in monitored
    assert "<td>plain</td>" in render_html(result, charts=False, include_pii=True)


def test_loader_notes_about_personal_data_columns_are_left_out_by_default():
    data = b"email,g,d\n" + b"".join(f"u{i}@x.org ,{'ab'[i % 2]},{'YN'[i % 3 == 0]}\n".encode() for i in range(80))
    table = load_table(data, name="t.csv")
    spec = AuditSpec(decision="d", positive=("Y",), protected=("g",), pii_columns=("email",))
    result = audit(table.data, spec)
    trimmed = [c.detail for c in table.report.changes if c.column == "email"]
    assert trimmed  # the loader trimmed the e-mail cells, and said so
    html = render_html(result, load_report=table.report, charts=False)
    assert escape(trimmed[0]) not in html and "loader note about personal-data columns left out" in html
    assert escape(trimmed[0]) in render_html(result, load_report=table.report, charts=False, include_pii=True)


# ---------------------------------------------------------------- reproducible


@pytest.mark.slow
def test_the_same_result_gives_the_same_report_after_a_json_round_trip(hostile):
    again = AuditResult.from_json(hostile.to_json())
    assert render_html(again, generated_at=WHEN) == render_html(hostile, generated_at=WHEN)
    assert metrics_csv(again) == metrics_csv(hostile)


def test_the_load_report_read_back_from_its_dict_gives_the_same_report(loans):
    table, result = loans
    as_object = render_html(result, load_report=table.report, charts=False, generated_at=WHEN)
    again = LoadReport.from_dict(table.report.to_dict())
    assert render_html(result, load_report=again, charts=False, generated_at=WHEN) == as_object
    assert "<td>Columns</td><td>13</td>" in as_object


def test_the_verdict_says_where_no_gap_was_found(hostile):
    text = verdict(hostile)
    assert f"were found for {IMG} (" in text and "site (four-fifths ratio " in text
    assert (
        f"; site (four-fifths ratio {gap_for(hostile, 'site').ratio:.2f}): {verdict_for(hostile, 'site').text}" in text
    )
    frame = pd.DataFrame({"g": ["a", "b"] * 100, "d": ["Y", "Y", "N", "N"] * 50})
    calm_result = audit(frame, AuditSpec(decision="d", positive=("Y",), protected=("g",)))
    calm = verdict(calm_result)
    assert headline(calm_result).startswith("No gap detected in how often groups are selected (d = Y)") and (
        headline(calm_result) in calm
    )
    assert "g (four-fifths ratio 1.00): no gap detected (a gap of " in calm
    assert "below four-fifths" not in calm and "Significant gaps" not in calm and "not proof of intent or cause" in calm


def _mitigation_comparison(groups: list[str]):
    """A comparison record as ``compare_mitigations`` returns it, with distinct flips per group and method."""
    from analysis.mitigation import MitigationComparison, MitigationRow

    def row(method: str, offset: int) -> MitigationRow:
        flips = {g: {"to_positive": 10 * i + offset, "to_negative": i + 2 * offset} for i, g in enumerate(groups)}
        return MitigationRow(method=method, label=method, status="ok", accuracy=0.8, flips=flips)

    rows = (row("baseline", 0), row("thresholds", 1), row("reweighing", 3))
    rows += (MitigationRow(method="exponentiated_gradient_dp", label="eg", status="not available", reason="no"),)
    return MitigationComparison(
        rows=rows, attribute="ethnicity", constraint="demographic_parity", tolerance=0.02, objective="accuracy",
        target="label", score_source="spec", train_rows=70, test_rows=30, random_state=0, thresholds={},
        thresholds_feasible=True, thresholds_reason=None,
    )  # fmt: skip


def _mitigation_table(html: str) -> list[list[str]]:
    """The method table of the mitigation section: header cells, then each row's cells (HTML as written)."""
    section = html.split('id="mitigation"', 1)[1].split("<h2", 1)[0]
    table = next(t for t in re.findall(r"<table>.*?</table>", section, flags=re.S) if "<th>method</th>" in t)
    header = re.findall(r"<th>(.*?)</th>", table)
    return [header] + [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", table)[1:]]


def test_the_mitigation_table_shows_flips_per_group_as_the_comparison_counts_them(hostile):
    groups = ["A", "B", FORMULA, "D"]
    comparison = _mitigation_comparison(groups)
    header, *rows = _mitigation_table(render_html(hostile, mitigation=comparison, charts=False))
    assert header[-4:] == [escape(f"flips: {g}") for g in sorted(groups)]
    column = header.index(escape(f"flips: {FORMULA}"))
    for method, cells in zip(("baseline", "thresholds", "reweighing"), rows, strict=False):
        f = comparison.row(method).flips[FORMULA]
        assert cells[0] == method and cells[column] == f"+{f['to_positive']} / −{f['to_negative']}"
    assert rows[1][header.index("flips: B")] == "+11 / −3"  # thresholds: B is group 1, offset 1
    assert rows[1][header.index("decisions changed")] == "64 to positive, 14 to negative"
    assert rows[3][column] == "—"  # a method that did not run has no flips


def test_with_many_groups_the_flips_share_one_column():
    groups = [f"g{i}" for i in range(7)] + [SCRIPT]
    comparison = _mitigation_comparison(groups)
    result = audit(hostile_frame(), hostile_spec())
    header, *rows = _mitigation_table(render_html(result, mitigation=comparison, charts=False))
    assert header[-1] == "flips by group" and not any(h.startswith("flips: ") for h in header)
    f = comparison.row("reweighing").flips
    expected = " · ".join(f"{g} +{f[g]['to_positive']}/−{f[g]['to_negative']}" for g in sorted(groups))
    assert rows[2][-1] == escape(expected) and "g3 +33/−9" in expected
    assert rows[3][-1] == "—"
