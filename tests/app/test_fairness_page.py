"""AppTest: the Fairness page shows what audit() computes, with charts, for both samples and awkward data."""

import json
import re
from html import escape, unescape
from pathlib import Path

import pandas as pd
import pytest
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from analysis.audit import AuditResult, audit
from analysis.story import gap_for
from tests.app.apptest import new_app, run
from ui.state import DATASET, SPEC, W
from ui.text import md

ROOT = Path(__file__).resolve().parents[2]
FAIRNESS = "pages/fairness.py"
LOANS, TICKETS = "Loan approvals", "Support tickets"
LINK = "[x](javascript:alert(1))"

LOWEST = "Lowest impact ratio vs reference"
FOUR_FIFTHS = "Four-fifths ratio"


def edge_csv() -> bytes:
    """sex: F, M and a group named like a Markdown link whose labels are all negative (TPR undefined);
    site: one value (not computable); band: a fifth band of 10 rows, so 3 intersection cells are tiny."""
    lines = ["id,sex,site,band,decision,outcome"]
    for i in range(600):
        sex = ["F", "M", LINK][i % 3]
        band = "abcd"[i % 4] if i < 590 else "e"
        decision = "go" if (i % 5 != 0 if sex == "F" else i % 2 == 0) else "stop"
        outcome = 0 if sex == LINK else (i // 3) % 2
        lines.append(f'{i},"{sex}",north,{band},{decision},{outcome}')
    return ("\n".join(lines) + "\n").encode()


# ---------------------------------------------------------------- driving the app


def fairness_page(sample: str = LOANS) -> AppTest:
    """The app with the sample's suggested roles confirmed, on the Fairness page."""
    at = new_app()
    if sample != LOANS:
        run(at.selectbox(key=W.SAMPLE).set_value(sample))
    run(at.button(key=W.CONFIRM).click())
    at.switch_page(FAIRNESS)
    return run(at)


def open_tab(at: AppTest, label: str) -> AppTest:
    at.session_state[W.FAIRNESS_TAB] = label
    return run(at)


def engine(at: AppTest, confidence: float = 0.95) -> AuditResult:
    """audit() called directly on the session's data and confirmed spec."""
    data = at.session_state[DATASET]
    return audit(data.table.data, at.session_state[SPEC], confidence=confidence)


def metric(at: AppTest, label: str):
    return next(m for m in at.metric if m.label == label)


def group_table(at: AppTest) -> pd.DataFrame:
    frame = next(d.value for d in at.dataframe if "share" in d.value.columns)
    return frame.set_index("group")


def comparison_table(at: AppTest) -> pd.DataFrame:
    frame = next(d.value for d in at.dataframe if "share" not in d.value.columns and "status" in d.value.columns)
    return frame.set_index("group")


def charts(at: AppTest) -> dict[str, tuple[dict, pd.DataFrame]]:
    """Chart kind → (Vega-Lite spec, the data it draws), for the charts on the page."""
    out = {}
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        frames = [dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data) for d in element.proto.datasets]
        data = next(f for f in frames if "group" in f.columns)
        out[spec["usermeta"]["chart"]] = (spec, data)
    return out


def ci(value: float, low: float, high: float) -> str:
    return f"{value:.3f} ({low:.3f}–{high:.3f})"


def bounds(cell: str) -> tuple[float, float]:
    low, high = re.search(r"\((\S+)–(\S+)\)", cell).groups()
    return float(low), float(high)


# ---------------------------------------------------------------- tests


def test_without_confirmed_roles_the_page_sends_you_to_the_data_page():
    at = new_app()
    at.switch_page(FAIRNESS)
    run(at)
    assert at.title[0].value == "Fairness"
    assert "Confirm which columns hold the decision" in at.info[0].value
    links = at.get("page_link")
    assert len(links) == 1
    assert links[0].value == "Go to the Data page"
    # The link targets the Data page as st.navigation registered it (resolved the way switch_page resolves paths).
    assert links[0].proto.page_script_hash == at._resolve_page_hash("pages/data.py")
    assert not at.metric and not at.dataframe and not at.get("vega_lite_chart") and not at.tabs
    assert not at.radio  # no controls either: nothing to control yet


@pytest.mark.slow
@pytest.mark.parametrize("sample", [LOANS, TICKETS])
def test_every_tab_and_intersection_renders_for_both_samples(sample):
    at = fairness_page(sample)
    result = engine(at)
    labels = [md(name) for name in result.attributes]
    assert [t.label for t in at.tabs] == [*labels, "Intersections"]
    for label, name in zip(labels, result.attributes, strict=True):
        open_tab(at, label)
        expected = result.attributes[name].summary.metrics["disparate_impact_min"].value
        assert metric(at, LOWEST).value == f"{expected:.3f}"
        assert list(group_table(at).index) == list(result.attributes[name].groups)
        assert {"favorable_rate", "error_rates", "calibration"} <= set(charts(at))
    open_tab(at, "Intersections")
    for name, crossed in result.intersections.items():
        run(at.selectbox(key=W.INTERSECTION).set_value(name))
        expected = crossed.summary.metrics["disparate_impact_min"].value
        assert metric(at, LOWEST).value == f"{expected:.3f}"
        assert list(group_table(at).index) == list(crossed.groups)


def test_loans_ethnicity_shows_the_engines_numbers():
    at = open_tab(fairness_page(LOANS), "ethnicity")
    ethnicity = engine(at).attributes["ethnicity"]
    lowest = ethnicity.summary.metrics["disparate_impact_min"]
    assert (lowest.group, f"{lowest.value:.3f}") == ("B", "0.714")  # the injected bias, as the data card says
    card = metric(at, LOWEST)
    assert card.value == f"{lowest.value:.3f}"
    # The verdict sits on the four-fifths ratio's own card, never on the ratio vs the reference.
    four_fifths = metric(at, FOUR_FIFTHS)
    assert four_fifths.value == f"{ethnicity.summary.metrics['favorable_rate_ratio'].value:.3f}"
    # The one verdict, word for word as the report and the command line give it, with its sentence below.
    gap = gap_for(engine(at), "ethnicity")
    assert gap.verdict.text == "below four-fifths and significant" and four_fifths.delta in (None, "")
    assert f":red[**{md(gap.verdict.text)}**]" in [m.value for m in at.markdown]
    assert any(c.value.startswith(md(gap.sentence)) for c in at.caption)
    assert card.delta in (None, "")
    assert any(f"95% CI {lowest.ci_low:.3f}–{lowest.ci_high:.3f}" in c.value and "**B**" in c.value for c in at.caption)
    eod = ethnicity.summary.metrics["equalized_odds_difference"].value
    assert metric(at, "Equalized odds difference").value == f"{eod:.3f}"
    dpd = ethnicity.summary.metrics["demographic_parity_difference"].value
    assert metric(at, "Demographic parity difference").value == f"{dpd:.3f}"

    table = group_table(at)
    b = ethnicity.groups["B"]
    rate, di, tpr = b.metrics["favorable_rate"], b.metrics["disparate_impact"], b.metrics["tpr"]
    assert table.loc["B", "n"] == b.n
    assert table.loc["B", "favourable rate (95% CI)"] == ci(rate.value, rate.ci_low, rate.ci_high)
    assert table.loc["B", "TPR (95% CI)"] == ci(tpr.value, tpr.ci_low, tpr.ci_high)
    assert table.loc["B", "disparate impact vs A (95% CI)"] == ci(di.value, di.ci_low, di.ci_high)
    assert table.loc["B", "q (disparate impact)"] == "< 0.001"
    assert table.loc["A", "status"] == "reference group"
    assert table.loc["A", "disparate impact vs A (95% CI)"] == "reference"
    eo = b.metrics["equal_opportunity_difference"]
    cell = comparison_table(at).loc["B", "equal opportunity difference (TPR) (95% CI)"]
    assert cell == f"{eo.value:+.3f} ({eo.ci_low:+.3f} to {eo.ci_high:+.3f})"

    finding = next(f for f in ethnicity.findings if f.kind == "gap")
    assert any(md(finding.text) in m.value for m in at.markdown)


@pytest.mark.slow
def test_loans_charts_carry_the_engines_values():
    at = open_tab(fairness_page(LOANS), "ethnicity")
    ethnicity = engine(at).attributes["ethnicity"]
    found = charts(at)
    assert set(found) == {"favorable_rate", "error_rates", "calibration"}  # approved is Y/N: no distribution chart

    spec, data = found["favorable_rate"]
    reference_rate = ethnicity.groups["A"].metrics["favorable_rate"].value
    rules = [layer["encoding"]["x"].get("datum") for layer in spec["layer"] if layer["mark"]["type"] == "rule"]
    assert pytest.approx(0.8 * reference_rate) in [r for r in rules if r is not None]
    assert list(data["group"]) == ["A", "B", "C", "D"]
    rates = {g: m.metrics["favorable_rate"].value for g, m in ethnicity.groups.items()}
    assert dict(zip(data["group"], data["value"], strict=True)) == pytest.approx(rates)

    spec, data = found["error_rates"]
    tpr = data[data["rate"].str.startswith("TPR")].set_index("group")
    assert tpr.loc["C", "ci_high"] == pytest.approx(ethnicity.groups["C"].metrics["tpr"].ci_high)

    spec, data = found["calibration"]
    bins = ethnicity.calibration.groups["D"]
    assert list(data.loc[data["group"] == "D", "mean_score"]) == pytest.approx([b.mean_score for b in bins])
    diagonal = [layer for layer in spec["layer"] if "x2" in layer["encoding"] and "datum" in layer["encoding"]["x2"]]
    assert len(diagonal) == 1


@pytest.mark.slow
def test_confidence_level_changes_the_intervals():
    at = open_tab(fairness_page(LOANS), "ethnicity")
    cell95 = group_table(at).loc["B", "favourable rate (95% CI)"]
    run(at.radio(key=W.CONFIDENCE).set_value(0.99))
    table = group_table(at)
    assert "favourable rate (95% CI)" not in table.columns
    cell99 = table.loc["B", "favourable rate (99% CI)"]
    (low95, high95), (low99, high99) = bounds(cell95), bounds(cell99)
    assert low99 < low95 and high99 > high95
    rate = engine(at, confidence=0.99).attributes["ethnicity"].groups["B"].metrics["favorable_rate"]
    assert cell99 == ci(rate.value, rate.ci_low, rate.ci_high)
    spec, _ = charts(at)["favorable_rate"]
    assert "99% CI" in json.dumps(spec)
    lowest = engine(at, confidence=0.99).attributes["ethnicity"].summary.metrics["disparate_impact_min"]
    assert any(f"99% CI {lowest.ci_low:.3f}–{lowest.ci_high:.3f}" in c.value for c in at.caption)
    # The level survives a visit to another page.
    run(at.switch_page("pages/data.py"))
    run(at.switch_page(FAIRNESS))
    assert at.radio(key=W.CONFIDENCE).value == 0.99


@pytest.mark.slow
def test_tickets_multi_valued_decision_shows_the_distribution():
    at = fairness_page(TICKETS)
    language = engine(at).attributes["customer_language"]
    assert at.tabs[0].label == md("customer_language")
    spec, data = charts(at)["decision_distribution"]
    assert spec["encoding"]["x"]["stack"] == "zero"
    assert spec["encoding"]["color"]["field"] == "decision"
    assert sorted(set(data["decision"])) == ["P1", "P2", "P3", "P4"]
    japanese = data[data["group"] == "Japanese"].set_index("decision")
    dist = language.decision_distribution
    shares = dict(zip(dist.values, dist.shares["Japanese"], strict=True))
    assert japanese.loc["P1", "value"] == pytest.approx(shares["P1"].value)
    assert japanese["value"].sum() == pytest.approx(1.0)
    card = metric(at, LOWEST)
    assert card.value == f"{language.summary.metrics['disparate_impact_min'].value:.3f}"


@pytest.mark.slow
def test_intersection_cells_under_the_minimum_are_neither_listed_nor_charted():
    at = open_tab(fairness_page(LOANS), "Intersections")
    run(at.selectbox(key=W.INTERSECTION).set_value("gender × age"))
    crossed = engine(at).intersections["gender × age"]
    assert len(crossed.suppressed) == 1
    hidden = crossed.suppressed[0].group
    assert any("1 cell with fewer than 10 rows is suppressed" in i.value for i in at.info)
    assert hidden not in group_table(at).index
    for _, data in charts(at).values():
        assert hidden not in set(data["group"])
        assert set(data["group"]) == set(crossed.groups)


def upload_and_confirm(at: AppTest, roles: dict) -> AppTest:
    run(at.radio(key=W.SOURCE).set_value("Upload a file"))
    run(at.file_uploader(key=W.UPLOAD).set_value(("edge.csv", edge_csv(), "text/csv")))
    for key, value in roles.items():
        widget = at.multiselect(key=key) if isinstance(value, list) else at.selectbox(key=key)
        run(widget.set_value(value))
    run(at.button(key=W.CONFIRM).click())
    assert at.session_state[SPEC].decision == "decision"
    at.switch_page(FAIRNESS)
    return run(at)


EDGE_ROLES = {
    W.DECISION: "decision",
    W.POSITIVE: ["go"],
    W.LABEL: "outcome",
    W.LABEL_POSITIVE: ["1"],
    W.SCORE: "(none)",
    W.PROTECTED: ["sex", "site", "band"],
}


@pytest.mark.slow
def test_undefined_values_are_never_shown_as_zero_and_group_names_are_escaped():
    at = open_tab(upload_and_confirm(new_app(), EDGE_ROLES), "sex")  # it opens on the overview's focus
    sex = engine(at).attributes["sex"]
    assert sex.groups[LINK].metrics["tpr"].value is None
    table = group_table(at)
    assert table.loc[LINK, "TPR (95% CI)"] == "undefined (n=0)"
    assert table.loc[LINK, "FPR (95% CI)"].startswith("0.500 (")
    _, data = next(v for k, v in charts(at).items() if k == "error_rates")
    undefined = data[(data["group"] == LINK) & data["rate"].str.startswith("TPR")]
    assert undefined["value"].isna().all()  # null in the chart, not 0
    texts = [c.value for c in at.caption] + [m.value for m in at.markdown]
    assert any(md(LINK) in t for t in texts)
    assert not any("](javascript:" in t for t in texts)
    assert md("Not computed (no score column): AUC, Brier score, calibration.") in [i.value for i in at.info]


@pytest.mark.slow
def test_a_single_group_attribute_says_not_computable():
    at = upload_and_confirm(new_app(), EDGE_ROLES)
    open_tab(at, "site")
    assert any(md("not computable: only one group ('north')") in w.value for w in at.warning)
    assert metric(at, LOWEST).value == "undefined"
    assert metric(at, "Equalized odds difference").value == "undefined"
    _, data = charts(at)["favorable_rate"]
    assert list(data["group"]) == ["north"]
    spec, _ = charts(at)["favorable_rate"]
    assert not any("datum" in layer["encoding"].get("x", {}) for layer in spec["layer"])  # no reference, no rule


@pytest.mark.slow
def test_without_a_label_error_rate_metrics_ask_for_one():
    at = new_app()
    run(at.selectbox(key=W.LABEL).set_value("(none)"))
    run(at.button(key=W.CONFIRM).click())
    assert at.session_state[SPEC].label is None
    at.switch_page(FAIRNESS)
    run(at)
    assert metric(at, "Equalized odds difference").value == "needs a label"
    assert "TPR (95% CI)" not in group_table(at).columns
    assert "error_rates" not in charts(at)
    assert any("TPR and FPR need the true outcome" in i.value for i in at.info)
    assert any(i.value.startswith(md("Not computed (no label column): base rate, TPR, FPR")) for i in at.info)


def inlined(spec: dict, datasets: dict[str, list[dict]]) -> dict:
    """A spec with its data by value, without what only says how it is drawn (Streamlit's autosize, the theme)."""

    def walk(value):
        if isinstance(value, dict):
            if set(value) == {"name"} and value["name"] in datasets:
                return {"values": datasets[value["name"]]}
            return {k: walk(v) for k, v in value.items() if k not in ("datasets", "autosize", "config")}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(spec)


def records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def test_the_report_draws_the_charts_the_page_shows(monkeypatch):
    from analysis import report

    at = open_tab(fairness_page(LOANS), "ethnicity")
    result = engine(at)
    shown = {}
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        data = {
            d.name: records(dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data))
            for d in element.proto.datasets
        }
        shown[spec["usermeta"]["chart"]] = inlined(spec, data)
    drawn: list[dict] = []
    monkeypatch.setattr(report, "_svg", lambda s: drawn.append(s) or "<svg></svg>")
    report.render_html(result)
    ethnicity = [s for s in drawn if s["usermeta"]["attribute"] == "ethnicity"]
    assert [s["usermeta"]["chart"] for s in ethnicity] == ["favorable_rate", "error_rates", "calibration"]
    for spec in ethnicity:
        data = {name: records(pd.DataFrame(rows)) for name, rows in spec["datasets"].items()}
        assert inlined(spec, data) == shown[spec["usermeta"]["chart"]]


def html_tables(section: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every table of a report section: its header and its rows, as text."""
    out = []
    for table in re.findall(r"<table>.*?</table>", section, flags=re.S):
        header = [unescape(h) for h in re.findall(r"<th>(.*?)</th>", table)]
        body = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1])
        out.append((header, [[unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)] for row in body]))
    return out


@pytest.mark.parametrize(("sample", "tab"), [(LOANS, "ethnicity"), (TICKETS, "customer_language")])
def test_the_report_shows_the_tables_the_page_shows(sample, tab):
    from analysis.report import render_html
    from analysis.tables import text_rows

    at = open_tab(fairness_page(sample), md(tab))
    groups, comparisons = group_table(at).reset_index(), comparison_table(at).reset_index()
    html = render_html(engine(at), charts=False)
    section = html.split(f"<h3>{escape(tab)} <small", 1)[1].split("</section>", 1)[0]
    found = html_tables(section)
    assert (list(groups.columns), text_rows(groups)) in found
    assert (list(comparisons.columns), text_rows(comparisons)) in found
    rates = dict(zip(list(groups.columns), text_rows(groups)[1], strict=True))
    assert rates["favourable rate (95% CI)"].count("–") == 1 and rates["n"].replace(",", "").isdigit()
