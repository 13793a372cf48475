"""The mitigation chart builders: their data are the engine's numbers, and their specs encode them."""

import json

import numpy as np
import pandas as pd
import pytest

from analysis import AuditSpec, ProtectedAttribute, baseline, frontier, threshold_curves, what_if
from ui import charts

GROUPS = ("North", "South", "<b>East</b>")


def table(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """Scores, today's decisions (score ≥ 0.5) and labels for three groups; East has no positive label."""
    rng = np.random.default_rng(seed)
    group = np.array(GROUPS)[np.arange(n) % 3]
    score = np.clip(rng.normal(np.select([group == GROUPS[0], group == GROUPS[1]], [0.6, 0.45], 0.4), 0.15), 0, 1)
    label = np.where(group == GROUPS[2], 0, (rng.uniform(size=n) < score).astype(int))
    return pd.DataFrame({"group": group, "score": score.round(3), "decision": (score >= 0.5).astype(int), "y": label})


def spec(*, label: bool = True) -> AuditSpec:
    return AuditSpec(
        decision="decision",
        positive=(1,),
        label="y" if label else None,
        label_positive=(1,) if label else (),
        score="score",
        protected=(ProtectedAttribute("group"),),
        min_group_size=30,
    )


@pytest.fixture(scope="module")
def curves():
    return threshold_curves(table(), spec())


def spec_of(chart) -> dict:
    return json.loads(json.dumps(chart.to_dict()))


def marks(node: dict) -> list[str]:
    """Every mark type in a (layered, faceted) spec."""
    found = []
    if "mark" in node:
        mark = node["mark"]
        found.append(mark["type"] if isinstance(mark, dict) else mark)
    for child in node.get("layer", []) + ([node["spec"]] if "spec" in node else []):
        found += marks(child)
    return found


# --- frontier -----------------------------------------------------------------------------------


@pytest.mark.parametrize("constraint", ["four_fifths", "demographic_parity", "predictive_parity"])
def test_frontier_data_holds_every_point_and_marks_baseline_single_threshold_and_choice(curves, constraint):
    front = frontier(curves, constraint=constraint, objective="accuracy", points=8)
    current = what_if(curves, {"North": 0.55, "South": 0.45, "<b>East</b>": 0.5})
    data = charts.frontier_data(front, current)
    points = data[data["kind"] == "optimised thresholds"]
    assert points["disparity"].tolist() == [p.disparity for p in front.points]
    assert points["objective"].tolist() == [p.objective_value for p in front.points]
    (base,) = data[data["kind"] == "current decisions"].itertuples()
    assert (base.disparity, base.objective) == (front.baseline.disparity, front.baseline.objective_value)
    (single,) = data[data["kind"] == "one threshold for everyone"].itertuples()
    assert single.objective == front.single_threshold.objective_value
    (chosen,) = data[data["kind"] == "your thresholds"].itertuples()
    measure = charts.MEASURES[constraint][0]
    assert chosen.disparity == current.summary[measure].value
    assert chosen.objective == current.summary["accuracy"].value
    # Today's decisions are score ≥ 0.5 for everyone: the baseline equals that what-if.
    assert base.objective == pytest.approx(what_if(curves, 0.5).summary["accuracy"].value)


def test_frontier_chart_encodes_the_measures_and_marks_the_four_fifths_line(curves):
    front = frontier(curves, constraint="four_fifths", objective="accuracy", points=6)
    spec = spec_of(charts.frontier_chart(front, what_if(curves, 0.5)))
    assert spec["usermeta"] == {"chart": "frontier", "constraint": "four_fifths", "objective": "accuracy"}
    rule, line, points, markers = spec["layer"]
    assert rule["mark"]["type"] == "rule" and rule["encoding"]["x"]["datum"] == 0.8
    assert line["mark"]["interpolate"] == "step-before"  # a higher ratio is fairer: read leftwards
    assert points["encoding"]["color"]["scale"]["domain"] == list(charts.FRONTIER_KINDS)
    assert points["encoding"]["shape"]["scale"]["range"] == list(charts.FRONTIER_SHAPES)
    # Baseline, single threshold and the current choice are drawn on top, larger than the frontier's points.
    assert markers["transform"] == [{"filter": "(datum.kind !== 'optimised thresholds')"}]
    assert markers["mark"]["size"] > points["mark"]["size"]
    assert points["encoding"]["x"]["title"].startswith("Four-fifths ratio (lowest ÷ highest favourable rate)")
    assert points["encoding"]["y"]["title"].startswith("Accuracy")

    cost = spec_of(charts.frontier_chart(frontier(curves, constraint="demographic_parity", objective="cost", points=4)))
    assert [layer["mark"]["type"] for layer in cost["layer"]] == ["line", "point", "point"]  # no 0.8 rule
    assert cost["layer"][0]["mark"]["interpolate"] == "step-after"
    assert cost["layer"][1]["encoding"]["y"]["title"].startswith("Net benefit")


def test_keep_the_selection_rate_frontier_plots_the_decisions_changed(curves):
    front = frontier(curves, constraint="four_fifths", objective="selection_rate", points=6)
    current = what_if(curves, {"North": 0.55, "South": 0.45, "<b>East</b>": 0.5})
    data = charts.frontier_data(front, current)
    points = data[data["kind"] == "optimised thresholds"]
    assert points["objective"].tolist() == [float(p.changed) for p in front.points]
    # The overall selection rate of each point is in its tooltip: strict tolerances may not keep today's rate.
    assert points["rate"].tolist() == [p.objective_value for p in front.points]
    # Pareto in "fewer changes": from the fairest point (highest ratio) towards the least fair, changes fall.
    assert all(a > b for a, b in zip(points["objective"], points["objective"][1:], strict=False))
    assert data.loc[data["kind"] == "current decisions", "objective"].item() == 0.0
    flips = current.summary["flips_to_positive"].value + current.summary["flips_to_negative"].value
    assert data.loc[data["kind"] == "your thresholds", "objective"].item() == flips
    spec = spec_of(charts.frontier_chart(front, current))
    _rule, line, points_layer, markers = spec["layer"]
    assert line["encoding"]["y"]["title"] == charts.CHANGED_TITLE
    rate = {"field": "rate", "format": ".4f", "title": "overall selection rate", "type": "quantitative"}
    assert rate in points_layer["encoding"]["tooltip"] and rate in markers["encoding"]["tooltip"]


def test_frontier_without_a_current_choice_has_no_choice_row(curves):
    front = frontier(curves, constraint="demographic_parity", points=4)
    assert "your thresholds" not in set(charts.frontier_data(front)["kind"])


# --- rates at the thresholds --------------------------------------------------------------------


def test_threshold_rates_data_are_the_what_if_rates_and_undefined_stays_null(curves):
    thresholds = {"North": 0.6, "South": 0.4, "<b>East</b>": 0.45}
    current, before = what_if(curves, thresholds), baseline(curves)
    data = charts.threshold_rates_data(current, before)
    assert len(data) == 3 * 2 * 3  # rates × decision sets × groups
    for decisions, result in (("current decisions", before), ("these thresholds", current)):
        rows = data[data["decisions"] == decisions].set_index(["group", "rate"])
        for group, record in result.groups.items():
            for name, title in charts.RATE_TITLES.items():
                shown = rows.loc[(group, title), "value"]
                expected = record.metrics[name].value
                assert (pd.isna(shown) and expected is None) or shown == expected
    east = data[(data["group"] == "<b>East</b>") & (data["rate"] == "TPR")]
    assert east["value"].isna().all() and (east["n"] == 0).all()  # no positive label: undefined, not 0
    selected = data[(data["rate"] == "selection rate") & (data["decisions"] == "these thresholds")]
    assert selected.set_index("group")["n"].to_dict() == {g: r.counts["n"] for g, r in current.groups.items()}


def test_threshold_rates_without_a_label_show_selection_rates_only():
    curves = threshold_curves(table(), spec(label=False))
    data = charts.threshold_rates_data(what_if(curves, 0.5), baseline(curves))
    assert set(data["rate"]) == {"selection rate"}
    chart = spec_of(charts.threshold_rates_chart(what_if(curves, 0.5), baseline(curves)))
    assert chart["usermeta"] == {"chart": "threshold_rates", "attribute": "group"}
    assert chart["facet"]["column"]["sort"] == ["selection rate"]
    assert sorted(marks(chart)) == ["line", "point"]


# --- score distribution -------------------------------------------------------------------------


def test_score_distribution_data_counts_every_scored_row_and_places_each_threshold(curves):
    thresholds = {"North": 0.62, "South": 0.41, "<b>East</b>": 0.5}
    data = charts.score_distribution_data(curves, thresholds, bins=20)
    bins = data[data["kind"] == "bin"]
    sizes = dict(zip(curves.labels, curves.sizes.tolist(), strict=True))
    assert bins.groupby("group")["rows"].sum().to_dict() == sizes
    assert bins.groupby("group")["share"].sum().tolist() == pytest.approx([1.0] * 3)
    assert bins.groupby("group").size().tolist() == [20] * 3
    rules = data[data["kind"] == "threshold"].set_index("group")["threshold"].to_dict()
    assert rules == thresholds
    middle = (bins["start"] + bins["end"]) / 2
    cut = bins["group"].map(thresholds)
    assert (bins["side"] == np.where(middle >= cut, "positive decision", "negative decision")).all()
    # The histogram counts equal a direct count of the table's scores.
    df = table()
    north = df.loc[df["group"] == "North", "score"]
    first = bins[bins["group"] == "North"].iloc[0]
    assert first["rows"] == ((north >= first["start"]) & (north < first["end"])).sum()


def test_score_distribution_chart_facets_by_group_with_a_rule_per_threshold(curves):
    chart = spec_of(charts.score_distribution_chart(curves, dict.fromkeys(curves.labels, 0.5), score_title="risk"))
    assert chart["usermeta"] == {"chart": "score_distribution", "attribute": "group"}
    assert chart["facet"]["row"]["sort"] == list(curves.labels)
    bars, rule = chart["spec"]["layer"]
    assert bars["mark"]["type"] == "bar" and bars["encoding"]["x"]["title"] == "risk"
    assert rule["mark"]["type"] == "rule" and rule["encoding"]["x"]["field"] == "threshold"
