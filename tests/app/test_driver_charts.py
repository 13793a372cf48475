"""The driver chart builders: their data are the explanation's numbers, and their specs encode them."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis import explain, explain_row, load_table, suggest_spec
from ui import charts

FEATURES = ["income", "region", "debt", "tenure", "<img src=x onerror=alert(1)>"]


def synthetic(n: int = 80, seed: int = 1) -> SimpleNamespace:
    """An Explanation-like object with the fields the builders read, internally consistent."""
    rng = np.random.default_rng(seed)
    values = pd.DataFrame(
        {
            "income": rng.normal(30_000, 8_000, n).round(),
            "region": rng.choice(["North", "South", "West"], n),
            "debt": rng.uniform(0, 1, n).round(3),
            "tenure": rng.integers(0, 20, n),
            FEATURES[4]: rng.choice([True, False], n),
        }
    )
    values.loc[3, "income"] = np.nan
    shap = rng.normal(0, [0.8, 0.5, 0.3, 0.1, 0.05], (n, len(FEATURES)))
    groups = np.where(np.arange(n) % 3 == 0, "B", "A")
    rows = np.arange(n) * 7
    means = {g: shap[groups == g].mean(axis=0) for g in ("A", "B")}
    by_group = {g: dict(zip(FEATURES, m.tolist(), strict=True)) for g, m in means.items()}
    diff = means["B"] - means["A"]
    contributions = tuple(sorted(zip(FEATURES, diff.tolist(), strict=True), key=lambda p: -abs(p[1])))
    gap = SimpleNamespace(
        reference="A", total=float(diff.sum()), total_probability=-0.1, contributions=contributions, sentence="…"
    )
    order = np.argsort(-np.abs(shap).mean(axis=0))
    return SimpleNamespace(
        model=SimpleNamespace(kind="lightgbm", target="decision", features=tuple(FEATURES), n_train=600, n_test=200),
        global_importance=tuple(
            SimpleNamespace(feature=FEATURES[j], mean_abs_shap=float(np.abs(shap[:, j]).mean())) for j in order
        ),
        by_group={"ethnicity": by_group},
        gap={"ethnicity": {"B": gap}},
        proxies={
            "ethnicity": (
                SimpleNamespace(feature="region", score=0.81, flag=True),
                SimpleNamespace(feature="income", score=0.62, flag=False),
                SimpleNamespace(feature="debt", score=0.51, flag=False),
            )
        },
        sample=SimpleNamespace(
            rows=rows,
            shap=shap,
            values=values,
            expected_value=-0.4,
            raw_output=shap.sum(axis=1) - 0.4,
            groups={"ethnicity": tuple(groups)},
        ),
    )


def local(row: int = 14) -> SimpleNamespace:
    contributions = (("income", "12000", -1.2), ("region", "South", -0.7), ("debt", "0.61", 0.4))
    contributions += tuple((f"f{k}", str(k), 0.01 * (k + 1)) for k in range(10))
    base = -0.3
    output = base + sum(c[2] for c in contributions)
    return SimpleNamespace(
        row=row, output=output, probability=0.2, base_value=base, contributions=contributions, sentence="…"
    )


@pytest.fixture(scope="module")
def explanation() -> SimpleNamespace:
    return synthetic()


def test_importance(explanation):
    data = charts.importance_data(explanation)
    assert list(data["feature"]) == [i.feature for i in explanation.global_importance]
    assert data["mean_abs_shap"].is_monotonic_decreasing
    assert len(charts.importance_data(explanation, top=2)) == 2
    spec = charts.importance_chart(explanation, top=3).to_dict()
    assert spec["usermeta"] == {"chart": "importance"}
    assert spec["encoding"]["y"]["sort"] == [i.feature for i in explanation.global_importance[:3]]
    assert spec["encoding"]["x"]["field"] == "mean_abs_shap"


def test_shap_strip_by_value(explanation):
    data = charts.shap_strip_data(explanation, top=None)
    n = len(explanation.sample.rows)
    assert len(data) == n * len(FEATURES)
    income = data[data["feature"] == "income"].reset_index(drop=True)
    assert list(income["shap"]) == pytest.approx(explanation.sample.shap[:, 0])
    assert list(income["row"]) == list(explanation.sample.rows)
    assert income.loc[3, "value"] == "(missing)" and np.isnan(income.loc[3, "value_rank"])
    ranks = income["value_rank"].dropna()
    assert ranks.between(0, 1).all() and ranks.idxmax() == income["value"].drop(3).astype(float).idxmax()
    assert data.loc[data["feature"] == "region", "value_rank"].isna().all()  # text: no rank, drawn grey
    assert data.loc[data["feature"] == FEATURES[4], "value_rank"].notna().all()  # booleans rank
    assert data["offset"].abs().max() <= 0.42
    assert data["group"].isna().all()

    spec = charts.shap_strip_chart(explanation).to_dict()
    assert spec["usermeta"] == {"chart": "shap_strip"}
    zero, points = spec["layer"]
    assert points["encoding"]["yOffset"]["field"] == "offset"
    assert points["encoding"]["color"]["condition"]["field"] == "rank"  # value_rank, -1 where it is null
    assert points["encoding"]["y"]["sort"] == [i.feature for i in explanation.global_importance]
    assert zero["encoding"]["x"]["datum"] == 0


def test_shap_strip_by_group_caps_rows_deterministically(explanation):
    data = charts.shap_strip_data(explanation, color_by="ethnicity", top=2, max_rows=30)
    assert len(data) == 60 and set(data["feature"]) == {i.feature for i in explanation.global_importance[:2]}
    lookup = dict(zip(explanation.sample.rows, explanation.sample.groups["ethnicity"], strict=True))
    assert all(lookup[r] == g for r, g in zip(data["row"], data["group"], strict=True))
    again = charts.shap_strip_data(explanation, color_by="ethnicity", top=2, max_rows=30)
    pd.testing.assert_frame_equal(data, again)
    big = synthetic(n=2000)
    assert len(charts.shap_strip_data(big, top=None, max_rows=2000)) == charts.MAX_POINTS
    assert len(charts.dependence_data(big, "debt", max_rows=10_000)) == 2000
    spec = charts.shap_strip_chart(explanation, color_by="ethnicity", top=2, max_rows=30).to_dict()
    assert spec["usermeta"] == {"chart": "shap_strip", "attribute": "ethnicity"}
    assert spec["layer"][1]["encoding"]["color"]["field"] == "group"


def test_group_drivers(explanation):
    data = charts.group_drivers_data(explanation, "ethnicity")
    assert len(data) == 2 * len(FEATURES)
    cell = data[(data["group"] == "B") & (data["feature"] == "region")]["mean_shap"].item()
    assert cell == pytest.approx(explanation.by_group["ethnicity"]["B"]["region"])
    spec = charts.group_drivers_chart(explanation, "ethnicity", top=3).to_dict()
    assert spec["usermeta"] == {"chart": "group_drivers", "attribute": "ethnicity"}
    cells, labels = spec["layer"]
    assert (cells["mark"]["type"], labels["mark"]["type"]) == ("rect", "text")
    scale = cells["encoding"]["color"]["scale"]
    assert scale["domainMid"] == 0 and scale["domain"][0] == -scale["domain"][1]
    assert cells["encoding"]["y"]["sort"] == [i.feature for i in explanation.global_importance[:3]]


@pytest.mark.parametrize("top", [2, 3, 8])
def test_gap_waterfall_steps_sum_to_the_gap(explanation, top):
    gap = explanation.gap["ethnicity"]["B"]
    data = charts.gap_waterfall_data(gap, top=top)
    steps, total = data[data["kind"] != "total"], data[data["kind"] == "total"]
    assert steps["value"].sum() == pytest.approx(gap.total)
    assert total["value"].item() == pytest.approx(gap.total) and total["start"].item() == 0
    assert steps["end"].iloc[-1] == pytest.approx(gap.total)
    assert (steps["start"].iloc[1:].to_numpy() == steps["end"].iloc[:-1].to_numpy()).all()
    if top < len(FEATURES) - 1:
        assert list(data["kind"]) == ["feature"] * top + ["other", "total"]
        assert data["step"].iloc[top] == f"{len(FEATURES) - top} other features"
    else:
        assert list(data["step"][:-1]) == [f for f, _ in gap.contributions]
    assert set(data["direction"]) <= set(charts.DIRECTIONS)
    spec = charts.gap_waterfall_chart(gap, attribute="ethnicity", group="B", top=top).to_dict()
    assert spec["usermeta"] == {"chart": "gap_waterfall", "attribute": "ethnicity", "group": "B"}
    bars = spec["layer"][1]
    assert (bars["encoding"]["x"]["field"], bars["encoding"]["x2"]["field"]) == ("start", "end")
    assert "B minus A (log-odds)" in bars["encoding"]["x"]["title"]


def test_local_waterfall_goes_from_the_base_value_to_the_output():
    explained = local()
    data = charts.local_waterfall_data(explained, top=3)
    assert list(data["kind"]) == ["base", "feature", "feature", "feature", "other", "total"]
    assert data["step"].iloc[1] == "income = 12000"
    assert data["value"].iloc[0] == pytest.approx(explained.base_value)
    assert data["value"].iloc[:-1].sum() == pytest.approx(explained.output)
    assert data["end"].iloc[-2] == pytest.approx(explained.output)
    assert data["value"].iloc[-1] == pytest.approx(explained.output)
    spec = charts.local_waterfall_chart(explained, unit="score units").to_dict()
    assert spec["usermeta"] == {"chart": "local_waterfall", "row": 14}
    assert spec["layer"][1]["encoding"]["x"]["title"] == "Surrogate output (score units)"


def test_proxy_chart(explanation):
    proxies = explanation.proxies["ethnicity"]
    data = charts.proxy_data(proxies)
    assert list(data["feature"]) == ["region", "income", "debt"]
    assert list(data["flag"]) == [charts.FLAG_LABELS[0], charts.FLAG_LABELS[1], charts.FLAG_LABELS[1]]
    spec = charts.proxy_chart(proxies, attribute="ethnicity", threshold=0.7).to_dict()
    assert spec["usermeta"] == {"chart": "proxies", "attribute": "ethnicity"}
    assert [layer["encoding"]["x"].get("datum") for layer in spec["layer"][1:]] == [0.7, 0.7]
    assert len(charts.proxy_chart(proxies, attribute="ethnicity").to_dict()["layer"]) == 1


def test_dependence_numeric_and_categorical(explanation):
    data = charts.dependence_data(explanation, "debt", color_by="ethnicity")
    assert list(data["shap"]) == pytest.approx(explanation.sample.shap[:, 2])
    assert list(data["x"]) == pytest.approx(list(explanation.sample.values["debt"]))
    assert list(data["group"]) == list(explanation.sample.groups["ethnicity"])
    spec = charts.dependence_chart(explanation, "debt", color_by="ethnicity").to_dict()
    assert spec["usermeta"] == {"chart": "dependence", "feature": "debt", "attribute": "ethnicity"}
    points = spec["layer"][1]
    assert points["encoding"]["x"]["type"] == "quantitative" and "xOffset" not in points["encoding"]
    assert points["encoding"]["color"]["field"] == "group"

    spec = charts.dependence_chart(explanation, "region").to_dict()
    points = spec["layer"][1]
    assert points["encoding"]["x"]["type"] == "nominal" and points["encoding"]["xOffset"]["field"] == "offset"
    assert "color" not in points["encoding"]


def test_feature_names_stay_data(explanation):
    """A feature named like HTML reaches the spec only as a data value and an axis sort entry."""
    spec = charts.shap_strip_chart(explanation, top=None).to_dict()
    data = next(iter(spec["datasets"].values()))
    assert FEATURES[4] in {row["feature"] for row in data}
    assert FEATURES[4] in spec["layer"][1]["encoding"]["y"]["sort"]


@pytest.mark.slow
def test_every_builder_takes_a_real_explanation():
    table = load_table(Path(__file__).resolve().parents[2] / "sample_data" / "loan_approvals.csv").data.iloc[:3000]
    spec = suggest_spec(table)
    real = explain(table, spec, sample_size=300)
    attribute = next(iter(real.gap))
    group, gap = next(iter(real.gap[attribute].items()))
    built = [
        charts.importance_chart(real),
        charts.shap_strip_chart(real),
        charts.shap_strip_chart(real, color_by=attribute),
        charts.group_drivers_chart(real, attribute),
        charts.gap_waterfall_chart(gap, attribute=attribute, group=group),
        charts.proxy_chart(real.proxies[attribute], attribute=attribute, threshold=0.05),
        charts.local_waterfall_chart(explain_row(real, table, int(real.sample.rows[0]))),
        *(charts.dependence_chart(real, f, color_by=attribute) for f in real.model.features),
    ]
    assert all(chart.to_dict()["usermeta"]["chart"] for chart in built)
    assert charts.gap_waterfall_data(gap)["value"].iloc[:-1].sum() == pytest.approx(gap.total)
