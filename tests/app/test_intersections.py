"""AppTest: the Fairness page's intersections read a few cells at a time, and their calibration as small charts."""

import pytest

from tests.app.apptest import run
from tests.app.test_fairness_page import LOANS, charts, engine, fairness_page, group_table, open_tab
from ui.state import W

CROSSED = "gender × age"


@pytest.fixture(scope="module")
def page():
    at = open_tab(fairness_page(LOANS), "Intersections")
    return run(at.selectbox(key=W.INTERSECTION).set_value(CROSSED))


@pytest.mark.slow
def test_every_cell_is_shown_first_and_the_calibration_is_small_multiples(page):
    crossed = engine(page).intersections[CROSSED]
    picker = page.selectbox(key=W.intersection_cells(CROSSED))
    assert picker.label == "Cells shown in the charts and the table"
    genders = list(dict.fromkeys(m.values["gender"] for m in crossed.groups.values()))
    assert picker.options == [
        f"every cell ({len(crossed.groups)})",
        *(f"gender = {g} ({sum(m.values['gender'] == g for m in crossed.groups.values())} cells)" for g in genders),
    ]
    assert picker.value == "(every cell)"
    assert len(crossed.groups) > 8  # more cells than one chart's lines
    drawn = charts(page)
    assert set(drawn["favorable_rate"][1]["group"]) == set(crossed.groups)
    spec, data = drawn["calibration"]
    # One small chart per gender, a line per age band, the legend listing the age bands only.
    assert spec["facet"] == {
        "field": "panel",
        "type": "nominal",
        "sort": genders,
        "title": "gender",
        "header": {"labelLimit": 200},
    }
    assert spec["columns"] == 3
    color = spec["spec"]["layer"][-1]["encoding"]["color"]
    assert color["field"] == "line"
    assert color["legend"]["title"] == "age"
    assert color["legend"]["symbolLimit"] == 0  # every entry listed
    assert set(data["line"]) == {m.values["age"] for m in crossed.groups.values()}
    assert set(data["group"]) == set(crossed.groups)
    assert any("One small chart per group of gender, a line per cell, coloured by age" in c.value for c in page.caption)


@pytest.mark.slow
def test_picking_a_group_shows_its_cells_only(page):
    crossed = engine(page).intersections[CROSSED]
    run(page.selectbox(key=W.intersection_cells(CROSSED)).select("Female"))
    female = [g for g, m in crossed.groups.items() if m.values["gender"] == "Female"]
    assert 2 <= len(female) <= 8
    assert list(group_table(page).index) == female
    drawn = charts(page)
    for kind in ("favorable_rate", "error_rates", "calibration"):
        assert set(drawn[kind][1]["group"]) == set(female), kind
    spec, _ = drawn["calibration"]
    assert "facet" not in spec  # a few lines: one chart
    color = spec["layer"][-1]["encoding"]["color"]
    assert (color["field"], color["legend"]["columns"]) == ("group", 2)
    # The four-fifths line is still the one of every cell compared, not of the cells shown.
    rule = next(
        layer
        for layer in drawn["favorable_rate"][0]["layer"]
        if layer["mark"]["type"] == "rule" and "x" in layer["encoding"] and "datum" in layer["encoding"]["x"]
    )
    highest = crossed.groups[crossed.highest_group()].metrics["favorable_rate"].value
    assert rule["encoding"]["x"]["datum"] == pytest.approx(0.8 * highest)
    note = next(c.value for c in page.caption if c.value.startswith("Base rates here run from"))
    assert "Female" in note and "Male" not in note and "Non" not in note  # the cells shown only
    # The summaries above still compare every cell.
    assert any(m.label == "Groups compared" and m.value.endswith(f"of {len(crossed.groups)}") for m in page.metric)
    run(page.selectbox(key=W.intersection_cells(CROSSED)).select("(every cell)"))
    assert len(group_table(page)) == len(crossed.groups)
