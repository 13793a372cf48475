"""The chart builders: their specs encode what they should, and they draw every group the audit keeps."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis import AuditSpec, ProtectedAttribute
from analysis.audit import AttributeAudit, audit
from ui import charts


def decisions(n: int = 1200, seed: int = 3) -> pd.DataFrame:
    """Groups A, B (large), C (too small), D (no positive labels); a tiny band cell for intersections."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["A", "B", "D"], size=n, p=[0.5, 0.3, 0.2]).astype(object)
    group[:20] = "C"
    score = rng.uniform(0, 1, n).round(4)
    label = (rng.uniform(0, 1, n) < score).astype(int)
    label[group == "D"] = 0
    decision = np.where(score >= 0.5, "approve", "decline").astype(object)
    decision[(group == "B") & (score < 0.7)] = "decline"
    tier = np.select([score >= 0.8, score >= 0.4], ["high", "mid"], "low")
    band = np.where(np.arange(n) < 1190, rng.choice(["x", "y"], size=n), "z")
    return pd.DataFrame(
        {"group": group, "band": band, "score": score, "label": label, "decision": decision, "tier": tier}
    )


def spec(**changes) -> AuditSpec:
    fields = {
        "decision": "decision",
        "positive": ["approve"],
        "label": "label",
        "label_positive": [1],
        "score": "score",
        "protected": [ProtectedAttribute("group"), ProtectedAttribute("band")],
    }
    return AuditSpec(**(fields | changes))


@pytest.fixture(scope="module")
def full() -> dict[str, AttributeAudit]:
    result = audit(decisions(), spec())
    return result.attributes | result.intersections


def layers(chart) -> list[dict]:
    return chart.to_dict()["layer"]


def by_group(data: pd.DataFrame) -> dict:
    return dict(zip(data["group"], data["value"], strict=True))


def test_favorable_rate_chart(full):
    group = full["group"]
    assert group.groups["C"].status == "too small to conclude"
    data = charts.favorable_rate_data(group)
    assert list(data["group"]) == list(group.groups)
    assert set(data["group"]) == {"A", "B", "C", "D"}
    assert by_group(data) == pytest.approx({g: m.metrics["favorable_rate"].value for g, m in group.groups.items()})
    roles = dict(zip(data["group"], data["role"], strict=True))
    assert roles[group.reference_group] == "reference group"
    assert roles["C"] == "too small to conclude"
    low = dict(zip(data["group"], data["ci_low"], strict=True))
    assert low["B"] == pytest.approx(group.groups["B"].metrics["favorable_rate"].ci_low)

    spec_ = charts.favorable_rate_chart(group, di_threshold=0.8, confidence=0.9).to_dict()
    assert spec_["usermeta"] == {"chart": "favorable_rate", "attribute": "group"}
    bars, points, rule, label = spec_["layer"]
    assert (bars["mark"]["type"], bars["encoding"]["x"]["field"], bars["encoding"]["x2"]["field"]) == (
        "rule",
        "ci_low",
        "ci_high",
    )
    assert bars["encoding"]["x"]["title"] == "Favourable rate (with 90% CI)"
    assert points["encoding"]["x"]["field"] == "value"
    assert points["encoding"]["y"]["sort"] == list(group.groups)
    reference_rate = group.groups[group.reference_group].metrics["favorable_rate"].value
    assert rule["encoding"]["x"]["datum"] == pytest.approx(0.8 * reference_rate)
    assert f"({0.8 * reference_rate:.3f})" in label["encoding"]["text"]["value"]
    # One threshold line, not one per row of data.
    assert {"aggregate": [{"op": "count", "as": "rows"}]} in rule["transform"]


def test_the_threshold_follows_di_threshold_and_is_absent_without_a_reference(full):
    group = full["group"]
    rate = group.groups[group.reference_group].metrics["favorable_rate"].value
    assert charts.threshold_rate(group, 0.9) == pytest.approx(0.9 * rate)
    one = audit(decisions().assign(group="A"), spec(protected=["group"])).attributes["group"]
    assert one.status == "not computable" and one.reference_group is None
    assert charts.threshold_rate(one, 0.8) is None
    assert [layer["mark"]["type"] for layer in layers(charts.favorable_rate_chart(one))] == ["rule", "point"]
    assert list(charts.favorable_rate_data(one)["group"]) == ["A"]


def test_error_rates_chart_keeps_undefined_rates_null(full):
    group = full["group"]
    assert group.groups["D"].metrics["tpr"].value is None  # group D has no positive labels
    data = charts.error_rates_data(group)
    assert len(data) == 2 * len(group.groups)
    tpr = data[data["rate"].str.startswith("TPR")].set_index("group")
    fpr = data[data["rate"].str.startswith("FPR")].set_index("group")
    assert math.isnan(tpr.loc["D", "value"]) and tpr.loc["D", "n"] == 0
    assert fpr.loc["D", "value"] == pytest.approx(group.groups["D"].metrics["fpr"].value)
    assert tpr.loc["A", "ci_high"] == pytest.approx(group.groups["A"].metrics["tpr"].ci_high)
    bars, points = layers(charts.error_rates_chart(group))
    assert points["encoding"]["yOffset"]["field"] == "rate"
    assert points["encoding"]["color"]["scale"]["domain"] == ["TPR (true positive rate)", "FPR (false positive rate)"]
    assert (bars["encoding"]["x"]["field"], bars["encoding"]["x2"]["field"]) == ("ci_low", "ci_high")


def test_calibration_chart(full):
    group = full["group"]
    data = charts.calibration_data(group)
    assert len(data) == sum(len(bins) for bins in group.calibration.groups.values())
    a = data[data["group"] == "A"]
    assert list(a["mean_score"]) == pytest.approx([b.mean_score for b in group.calibration.groups["A"]])
    assert list(a["value"]) == pytest.approx([b.observed_rate.value for b in group.calibration.groups["A"]])
    diagonal, bars, lines = layers(charts.calibration_chart(group))
    low, high = min(group.calibration.edges), max(group.calibration.edges)
    assert {k: diagonal["encoding"][k]["datum"] for k in ("x", "y", "x2", "y2")} == pytest.approx(
        {"x": low, "y": low, "x2": high, "y2": high}
    )
    assert (lines["encoding"]["x"]["field"], lines["encoding"]["y"]["field"]) == ("mean_score", "value")
    assert lines["encoding"]["color"]["field"] == "group"
    assert (bars["encoding"]["y"]["field"], bars["encoding"]["y2"]["field"]) == ("ci_low", "ci_high")


def test_calibration_without_probabilities_has_no_diagonal():
    df = decisions().assign(score=lambda d: d["score"] * 100)
    group = audit(df, spec(decision=None, positive=(), threshold=50.0)).attributes["group"]
    assert max(group.calibration.edges) > 1
    assert [layer["mark"]["type"] for layer in layers(charts.calibration_chart(group))] == ["rule", "line"]


def test_charts_that_do_not_apply_are_none():
    no_label = audit(decisions(), spec(label=None, label_positive=(), score=None)).attributes["group"]
    assert charts.error_rates_data(no_label) is None and charts.error_rates_chart(no_label) is None
    assert charts.calibration_chart(no_label) is None
    assert charts.decision_distribution_chart(no_label) is None  # approve / decline: binary
    assert charts.favorable_rate_chart(no_label) is not None


def test_decision_distribution_chart():
    group = audit(decisions(), spec(decision="tier", positive=["high"])).attributes["group"]
    dist = group.decision_distribution
    assert (dist.values, dist.order) == (("low", "mid", "high"), "levels")  # an ordered decision, lowest first
    data = charts.decision_distribution_data(group)
    assert len(data) == len(group.groups) * 3
    assert data.groupby("group")["value"].sum().to_dict() == pytest.approx(dict.fromkeys(group.groups, 1.0))
    b = data[data["group"] == "B"].set_index("decision")
    assert b.loc["mid", "count"] == dist.counts["B"][1]
    assert b.loc["mid", "ci_low"] == pytest.approx(dist.shares["B"][1].ci_low)
    assert list(b["order"]) == [0, 1, 2]
    encoding = charts.decision_distribution_chart(group).to_dict()["encoding"]
    assert encoding["x"] | {"axis": None} == {
        "field": "value",
        "type": "quantitative",
        "stack": "zero",
        "title": "Share of the group's decisions",
        "axis": None,
    }
    assert encoding["color"]["sort"] == ["low", "mid", "high"]
    assert encoding["color"]["scale"] == {
        "domain": ["low", "mid", "high"],
        "range": ["#c6dbef", "#4292c6", "#08306b"],  # light to dark, lowest first
    }
    assert encoding["color"]["legend"] == {
        "title": "decision, lowest first",
        "orient": "top",
        "columns": 3,
        "labelLimit": 300,
        "symbolLimit": 0,
    }
    assert encoding["order"]["field"] == "order"
    # Without an order: distinct colours, the values in sort order, and the legend does not say "lowest".
    unordered = audit(decisions(), spec(decision="tier", positive=["high"], decision_order=[])).attributes["group"]
    color = charts.decision_distribution_chart(unordered).to_dict()["encoding"]["color"]
    assert unordered.decision_distribution.order is None
    assert color["sort"] == list(unordered.decision_distribution.values) == ["high", "low", "mid"]
    assert (color["scale"], color["legend"]["title"]) == ({"domain": ["high", "low", "mid"]}, "decision")


def test_intersection_charts_leave_out_exactly_the_suppressed_cells(full):
    crossed = full["group × band"]
    hidden = {cell.group for cell in crossed.suppressed}
    assert hidden  # the z band has 10 rows, split over four groups
    for data in (
        charts.favorable_rate_data(crossed),
        charts.error_rates_data(crossed),
        charts.calibration_data(crossed),
    ):
        assert set(data["group"]) == set(crossed.groups)
        assert not hidden & set(data["group"])
    assert len(charts.favorable_rate_data(crossed)) == len(crossed.groups)


def test_every_chart_is_valid_vega_lite(full):
    for attribute in full.values():
        for build in (
            charts.favorable_rate_chart,
            charts.error_rates_chart,
            charts.calibration_chart,
            charts.decision_distribution_chart,
        ):
            chart = build(attribute)
            if chart is not None:
                assert chart.to_dict(validate=True)["usermeta"]["attribute"] == attribute.name


def test_the_report_draws_the_very_specs_the_app_shows(monkeypatch):
    """The report's SVGs come from the app's charts: the dict handed to vl-convert is ``chart.to_dict()``."""
    from analysis import report

    result = audit(decisions(), spec(decision="tier", positive=["high"]))
    drawn: list[dict] = []
    monkeypatch.setattr(report, "_svg", lambda s: drawn.append(s) or "<svg></svg>")
    report.render_html(result)
    o = result.options
    expected = []
    for attribute in result.attributes.values():
        figures = [
            charts.favorable_rate_chart(attribute, di_threshold=o.di_threshold, confidence=o.confidence),
            charts.error_rates_chart(attribute, confidence=o.confidence),
            charts.calibration_chart(attribute, confidence=o.confidence),
            charts.decision_distribution_chart(attribute, confidence=o.confidence),
        ]
        assert None not in figures  # label, score and a multi-valued decision: every chart applies
        expected += [f.to_dict() for f in figures]
    for crossed in result.intersections.values():  # intersections: the two rate charts only
        expected.append(charts.favorable_rate_chart(crossed, di_threshold=o.di_threshold).to_dict())
        expected.append(charts.error_rates_chart(crossed).to_dict())
    assert drawn == expected
    kinds = [s["usermeta"]["chart"] for s in drawn]
    per_attribute = ["favorable_rate", "error_rates", "calibration", "decision_distribution"]
    assert kinds == per_attribute * len(result.attributes) + per_attribute[:2] * len(result.intersections)


def test_the_app_and_the_report_share_one_definition_of_each_audit_chart():
    from analysis import charts as engine_charts

    for name in ("favorable_rate_chart", "error_rates_chart", "calibration_chart", "decision_distribution_chart"):
        assert getattr(charts, name) is getattr(engine_charts, name)


def legends(spec: dict) -> list[dict]:
    """Every legend of a chart spec (in layers, facets and encodings)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("legend"), dict):
                found.append(node["legend"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return found


def test_no_legend_or_label_is_cut_short(full):
    """Legends list every entry and fit half the page at 1280 px; group labels keep up to 300 px."""
    tier = audit(decisions(), spec(decision="tier", positive=["high"])).attributes["group"]
    built = {
        "favorable_rate": charts.favorable_rate_chart(full["group"]).to_dict(),
        "error_rates": charts.error_rates_chart(full["group"]).to_dict(),
        "calibration": charts.calibration_chart(full["group"]).to_dict(),
        "decision_distribution": charts.decision_distribution_chart(tier).to_dict(),
    }
    columns = {"favorable_rate": 2, "error_rates": 1, "calibration": 2, "decision_distribution": 3}
    for kind, chart in built.items():
        found = legends(chart)
        assert found, kind
        for legend in found:
            assert legend["labelLimit"] == 300, kind
            assert legend["columns"] == columns[kind], kind
    assert all(legend["symbolLimit"] == 0 for legend in legends(built["calibration"]))
    for kind in ("favorable_rate", "error_rates", "decision_distribution"):
        text = str(built[kind])
        assert "'labelLimit': 300" in text and "'field': 'group'" in text
    # The calibration chart is tall enough for its plot and every row of its legend (4 groups: 2 rows).
    assert built["calibration"]["height"] == 320 + 30 * 2


def four_fifths_label(chart: dict) -> dict:
    return next(layer for layer in chart["layer"] if layer["mark"]["type"] == "text")["mark"]


def test_the_four_fifths_words_sit_where_there_is_room(full):
    group = full["group"]
    highest = group.groups[group.highest_group()].metrics["favorable_rate"].value
    for threshold in (0.5, 0.8):
        label = four_fifths_label(charts.favorable_rate_chart(group, di_threshold=threshold).to_dict())
        line = threshold * highest
        assert (label["align"], label["dx"]) == (("left", 4) if line <= 0.6 else ("right", -4)), line


def test_a_few_groups_of_a_chart_are_drawn_on_request(full):
    crossed = full["group × band"]
    some = [g for g, m in crossed.groups.items() if m.values["group"] == "A"]
    assert len(some) == 2
    assert set(charts.favorable_rate_data(crossed, some)["group"]) == set(some)
    assert set(charts.error_rates_data(crossed, some)["group"]) == set(some)
    assert set(charts.calibration_data(crossed, some)["group"]) == set(some)
    chart = charts.favorable_rate_chart(crossed, groups=some).to_dict()
    assert chart["layer"][0]["encoding"]["y"]["sort"] == some
    # With few cells the calibration is one chart, coloured by cell; the panel and line name each cell's parts.
    data = charts.calibration_data(crossed)
    assert not charts.calibration_panels(crossed)
    row = data.iloc[0]
    assert row["group"] == f"{row['panel']} × {row['line']}"
    single = charts.calibration_data(full["group"])
    assert set(single["panel"]) == {""} and list(single["line"]) == list(single["group"])


def test_ordered_colours_run_light_to_dark_without_repeats():
    from analysis.charts import ordered_colors

    assert ordered_colors(3) == ["#c6dbef", "#4292c6", "#08306b"]
    for n in range(2, 12):
        colours = ordered_colors(n)
        assert len(set(colours)) == n
        darkness = [sum(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in colours]
        assert darkness == sorted(darkness, reverse=True)
