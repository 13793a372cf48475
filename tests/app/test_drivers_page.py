"""AppTest: the Drivers page shows what explain() computes, for both samples, with a small SHAP sample."""

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from analysis import explain
from tests.app.apptest import new_app, run
from ui.state import DATASET, SPEC, W
from ui.text import md

ROOT = Path(__file__).resolve().parents[2]
DRIVERS = "pages/drivers.py"
LOANS, TICKETS = "Loan approvals", "Support tickets"
SAMPLE_SIZE = 500
LINK, IMAGE = "[x](javascript:alert(1))", "![i](https://example.org/p.png)"


def drivers_page(sample: str = LOANS, *, roles: dict | None = None, **options) -> AppTest:
    """The app with the sample's suggested roles (changed by ``roles``) confirmed, on the Drivers page."""
    at = new_app(timeout=120)
    if sample != LOANS:
        run(at.selectbox(key=W.SAMPLE).set_value(sample))
    for key, value in (roles or {}).items():
        widget = at.multiselect(key=key) if isinstance(value, list) else at.selectbox(key=key)
        run(widget.set_value(value))
    run(at.button(key=W.CONFIRM).click())
    at.session_state[W.DRIVERS_SAMPLE_SIZE] = SAMPLE_SIZE
    for key, value in options.items():
        at.session_state[key] = value
    at.switch_page(DRIVERS)
    return run(at)


def charts(at: AppTest) -> dict[str, tuple[dict, pd.DataFrame]]:
    """Chart kind → (Vega-Lite spec, the data it draws)."""
    out = {}
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        frames = [dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data) for d in element.proto.datasets]
        out[spec["usermeta"]["chart"]] = (spec, max(frames, key=len))
    return out


def metric(at: AppTest, label: str):
    return next(m for m in at.metric if m.label == label)


def texts(at: AppTest) -> list[str]:
    return [e.value for kind in ("markdown", "caption", "info", "warning") for e in getattr(at, kind)]


def test_without_confirmed_roles_the_page_sends_you_to_the_data_page():
    at = new_app(timeout=120)
    at.switch_page(DRIVERS)
    run(at)
    assert at.title[0].value == "Drivers"
    assert "Confirm which columns hold the decision" in at.info[0].value
    links = at.get("page_link")
    assert [link.value for link in links] == ["Go to the Data page"]
    assert links[0].proto.page_script_hash == at._resolve_page_hash("pages/data.py")
    assert not at.metric and not at.get("vega_lite_chart") and not at.number_input


@pytest.mark.slow
@pytest.mark.parametrize("sample", [LOANS, TICKETS])
def test_every_section_renders_for_both_samples(sample):
    at = drivers_page(sample)
    assert at.number_input(key=W.DRIVERS_SAMPLE_SIZE).value == SAMPLE_SIZE
    subheaders = [s.value for s in at.subheader]
    assert subheaders[0] == "How faithful is the surrogate?"  # fidelity first
    assert subheaders[1:] == [
        "What drives the decisions overall",
        "Drivers by group",
        "Where the gap comes from",
        "Proxies for the protected attribute",
        "Flip test",
        "How one feature's value drives the output",
        "Why this row?",
    ]
    assert float(metric(at, "R²").value) > 0.8  # both samples have a score: the surrogate is a regressor
    assert any(f"asked for {SAMPLE_SIZE:,}; seed **0**" in c.value for c in at.caption)
    found = charts(at)
    kinds = {"importance", "shap_strip", "group_drivers", "gap_waterfall", "proxies", "dependence", "local_waterfall"}
    assert set(found) == kinds

    # The gap waterfall's steps add up to the gap it states.
    spec, data = found["gap_waterfall"]
    total = data.loc[data["kind"] == "total", "value"].item()
    assert data.loc[data["kind"] != "total", "value"].sum() == pytest.approx(total, abs=1e-9)
    assert metric(at, "Gap in mean output (score units)").value == f"{total:+.3f}"
    assert spec["usermeta"]["attribute"] == at.selectbox(key=W.DRIVERS_ATTRIBUTE).value
    assert spec["usermeta"]["group"] == at.selectbox(key=W.DRIVERS_GAP_GROUP).value

    # The local waterfall goes from the base value to the row's output.
    _, local = found["local_waterfall"]
    output = local.loc[local["kind"] == "total", "value"].item()
    assert local.loc[local["kind"] != "total", "value"].sum() == pytest.approx(output, abs=1e-9)
    assert any("Not run: the surrogate did not see the protected attributes" in t for t in texts(at))


@pytest.mark.slow
def test_loans_ethnicity_gap_is_led_by_region_and_region_is_flagged():
    at = drivers_page(LOANS)
    run(at.selectbox(key=W.DRIVERS_ATTRIBUTE).set_value("ethnicity"))
    run(at.selectbox(key=W.DRIVERS_GAP_GROUP).set_value("B"))
    _, data = charts(at)["gap_waterfall"]
    assert data["step"].iloc[0] == "region"
    # The chart draws what explain() computes (same data, spec, sample size and seed).
    gap = explain(at.session_state[DATASET].table.data, at.session_state[SPEC], sample_size=SAMPLE_SIZE).gap
    expected = gap["ethnicity"]["B"]
    assert data.loc[data["kind"] == "total", "value"].item() == pytest.approx(expected.total)
    assert data["value"].iloc[:3].tolist() == pytest.approx([v for _, v in expected.contributions[:3]])
    assert data.loc[data["kind"] != "total", "value"].sum() == pytest.approx(expected.total)
    assert any(t.startswith(md("Of the ")) and md("ethnicity = B and A") in t for t in texts(at))
    _, proxies = charts(at)["proxies"]
    assert proxies["feature"].iloc[0] == "region" and proxies["flag"].iloc[0] == "likely proxy"
    # Moving to another page and back does not recompute: the result comes from the cache.
    run(at.switch_page("pages/data.py"))
    run(at.switch_page(DRIVERS))
    assert at.selectbox(key=W.DRIVERS_ATTRIBUTE).value == "ethnicity"
    assert at.number_input(key=W.DRIVERS_SAMPLE_SIZE).value == SAMPLE_SIZE
    assert "from the cache" in at.status[0].label


@pytest.mark.slow
def test_a_decision_surrogate_shows_accuracy_auc_probabilities_and_the_flip_test():
    at = drivers_page(LOANS, roles={W.SCORE: "(none)"}, **{W.DRIVERS_PROTECTED: True})
    assert at.session_state[SPEC].score is None
    for label in ("Accuracy", "AUC"):
        assert 0.5 < float(metric(at, label).value) <= 1
    assert metric(at, "Gap in mean output (log-odds)")
    assert metric(at, "Gap in mean probability")
    flip = next(d.value for d in at.dataframe if "decisions that change" in d.value.columns)
    assert set(flip["attribute"]) == set(at.session_state[SPEC].protected_columns)
    assert flip["decisions that change"].between(0, 1).all()

    # An example row goes into the row picker, and its explanation is shown.
    example = at.selectbox(key=W.DRIVERS_ROW_PICK).options[-1]  # "row 1,234 — unfavourable decision, ..."
    row = int(example.split()[1].replace(",", ""))
    run(at.selectbox(key=W.DRIVERS_ROW_PICK).set_value(row))
    assert at.number_input(key=W.DRIVERS_ROW).value == row
    spec, _ = charts(at)["local_waterfall"]
    assert spec["usermeta"]["row"] == row
    assert 0 <= float(metric(at, "Probability of being approved").value) <= 1
    assert any(md("This row's predicted chance of being approved is") in t for t in texts(at))


def test_no_feature_columns_is_a_clear_message():
    at = drivers_page(LOANS, roles={W.FEATURES: []})
    assert at.session_state[SPEC].features == ()
    assert at.status[0].label == "The decisions could not be explained"
    assert md("Expected at least one feature column to explain the decisions") in at.error[0].value
    assert not at.get("vega_lite_chart") and not at.subheader


def awkward_csv() -> bytes:
    """A group and a feature column named like Markdown links/images; the decision follows the feature."""
    lines = [f'sex,income,"{IMAGE}",decision']
    for i in range(900):
        sex = ["F", "M", LINK][i % 3]
        income = 20 + (i * 37) % 80
        decision = "go" if income + (10 if sex == "M" else 0) > 60 else "stop"
        lines.append(f'"{sex}",{income},{LINK if i % 2 else "plain"},{decision}')
    return ("\n".join(lines) + "\n").encode()


def upload_and_confirm(data: bytes, features: list[str]) -> AppTest:
    at = new_app(timeout=120)
    run(at.radio(key=W.SOURCE).set_value("Upload a file"))
    run(at.file_uploader(key=W.UPLOAD).set_value(("upload.csv", data, "text/csv")))
    roles = {W.DECISION: "decision", W.POSITIVE: ["go"], W.LABEL: "(none)", W.SCORE: "(none)", W.PROTECTED: ["sex"]}
    for key, value in roles.items():
        widget = at.multiselect(key=key) if isinstance(value, list) else at.selectbox(key=key)
        run(widget.set_value(value))
    run(at.multiselect(key=W.FEATURES).set_value(features))
    run(at.button(key=W.CONFIRM).click())
    at.session_state[W.DRIVERS_SAMPLE_SIZE] = SAMPLE_SIZE
    at.switch_page(DRIVERS)
    return run(at)


def test_names_from_the_data_are_escaped():
    at = upload_and_confirm(awkward_csv(), ["income", IMAGE])
    assert {"gap_waterfall", "local_waterfall"} <= set(charts(at))
    assert not at.warning  # the decision follows income: a faithful surrogate
    shown = texts(at) + [e.value for e in at.error]
    assert any(md(IMAGE) in t for t in shown)  # the feature list, escaped
    assert not any("](javascript:" in t or "![i](" in t for t in shown)


@pytest.mark.slow
def test_a_surrogate_that_cannot_reproduce_the_decisions_says_so():
    lines = ["sex,income,decision"] + [
        f"{'FM'[i % 2]},{(i * 7919) % 101},{'go' if (i * 2654435761) % 97 < 48 else 'stop'}" for i in range(1200)
    ]
    at = upload_and_confirm(("\n".join(lines) + "\n").encode(), ["income"])
    assert float(metric(at, "Accuracy").value) < 0.8
    warning = at.warning[0].value
    assert warning.startswith("**Low fidelity.**")
    assert "describe the surrogate model, not the real decision" in warning


# ---------------------------------------------------------------- stages, the gap group and the shared focus


def compas_drivers_page(focus=None) -> AppTest:
    """The Drivers page on a COMPAS look-alike (Asian and Native American groups of about 10 rows)."""
    from analysis import load_table, suggest_roles
    from tests.lookalikes import compas_like
    from ui.state import FOCUS, Dataset, Focus

    table = load_table(compas_like(2000, duplicates=False), name="compas-like.csv")
    spec = suggest_roles(table.data).spec
    at = new_app(timeout=120)
    at.session_state[DATASET] = Dataset(table, "upload", "compas-like")
    at.session_state[SPEC] = spec
    at.session_state[W.DRIVERS_SAMPLE_SIZE] = SAMPLE_SIZE
    if focus is not None:
        at.session_state[FOCUS] = Focus(*focus)
    at.switch_page(DRIVERS)
    return run(at)


@pytest.mark.slow
def test_the_gap_view_never_opens_on_a_group_too_small_to_conclude():
    at = compas_drivers_page()
    spec = at.session_state[SPEC]
    assert "race" in spec.protected_columns
    run(at.selectbox(key=W.DRIVERS_ATTRIBUTE).set_value("race"))
    picker = at.selectbox(key=W.DRIVERS_GAP_GROUP)
    explanation = explain(at.session_state[DATASET].table.data, spec, sample_size=SAMPLE_SIZE)
    sizes = explanation.group_sizes["race"]
    small = [g for g in explanation.gap["race"] if sizes[g] < spec.min_group_size]
    assert "Native American" in small and sizes["Native American"] < 30
    large = [g for g in explanation.gap["race"] if g not in small]
    # The default: the largest |gap| among groups large enough to conclude.
    assert picker.value == max(large, key=lambda g: abs(explanation.gap["race"][g].total))
    # Too-small groups stay pickable, labelled as the Fairness page calls them.
    assert f"Native American (n={sizes['Native American']}, too small to conclude)" in picker.options
    at = run(picker.set_value("Native American"))
    assert at.selectbox(key=W.DRIVERS_GAP_GROUP).value == "Native American"
    assert any("too small to conclude" in w.value for w in at.warning)


@pytest.mark.slow
def test_a_too_small_focus_group_is_not_the_default_but_a_large_one_is():
    at = compas_drivers_page(focus=("race", "Native American"))
    assert at.selectbox(key=W.DRIVERS_ATTRIBUTE).value == "race"
    assert at.selectbox(key=W.DRIVERS_GAP_GROUP).value != "Native American"
    at = compas_drivers_page(focus=("race", "Hispanic"))
    assert at.selectbox(key=W.DRIVERS_GAP_GROUP).value == "Hispanic"


@pytest.mark.slow
def test_the_attribute_picker_follows_the_focus_and_moves_it():
    from ui.state import FOCUS, Focus

    at = drivers_page(LOANS)
    at.session_state[FOCUS] = Focus("ethnicity", "C")
    run(at)
    assert at.selectbox(key=W.DRIVERS_ATTRIBUTE).value == "ethnicity"
    assert at.selectbox(key=W.DRIVERS_GAP_GROUP).value == "C"
    at = run(at.selectbox(key=W.DRIVERS_ATTRIBUTE).set_value("gender"))
    assert at.session_state[FOCUS] == Focus("gender", None)
    at = run(at.selectbox(key=W.DRIVERS_GAP_GROUP).set_value(at.selectbox(key=W.DRIVERS_GAP_GROUP).options[-1]))
    assert at.session_state[FOCUS].attribute == "gender" and at.session_state[FOCUS].group is not None
    # An intersection opens on its first column, and the page says so.
    at.session_state[FOCUS] = Focus("ethnicity × gender", "B × Female")
    at = run(at)
    assert at.selectbox(key=W.DRIVERS_ATTRIBUTE).value == "ethnicity"
    assert at.selectbox(key=W.DRIVERS_GAP_GROUP).value == "B"
    assert any("opens on its first attribute" in c.value for c in at.caption)


@pytest.mark.slow
def test_each_stage_is_a_line_of_the_status_box():
    at = drivers_page(LOANS)
    box = at.status[0]
    assert box.label.startswith("Drivers ready in ")
    lines = [m.value for m in box.markdown]
    assert lines[0].startswith("Fitted the surrogate model on ") and "100 trees" in lines[0]
    rows = len(at.session_state["paritylab.results"]["explanation"][1].sample.rows)
    assert lines[1].startswith(f"SHAP values for {rows:,} rows in ")
    assert lines[2].startswith("Proxies and recoverability for 3 attributes in ")
