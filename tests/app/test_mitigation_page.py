"""AppTest: the Mitigation page shows what analysis.thresholds computes for the thresholds on its sliders."""

import io
import json

import pandas as pd
import pytest
from streamlit import dataframe_util
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from analysis import baseline, csv_bytes, decision_changes, optimize, threshold_curves, what_if
from analysis.mitigate import mitigate
from analysis.mitigation import MODEL_SCORE_LABEL, model_scores
from analysis.options import default_tolerance
from analysis.thresholds import changed_decisions, reproducing_thresholds
from analysis.words import decision_words
from tests.app.apptest import new_app, run
from ui.state import DATASET, FOCUS, RESULTS, SPEC, Focus, W
from ui.text import md

MITIGATION = "pages/mitigation.py"
SINGLE, PER_GROUP = "One threshold for everyone", "A threshold per group"
LOANS, TICKETS = "Loan approvals", "Support tickets"


APPROVED, NO_LONGER = "would newly be approved", "would no longer be approved"


def mitigation_page(
    sample: str = LOANS, *, roles: dict | None = None, attribute: str = "gender", goal: str | None = None, **widgets
) -> AppTest:
    """The app with the sample's suggested roles (changed by ``roles``) confirmed, on the Mitigation page, with
    ``attribute`` the shared focus (and ``goal`` picked for it)."""
    at = new_app(timeout=120)
    if sample != LOANS:
        run(at.selectbox(key=W.SAMPLE).set_value(sample))
    for key, value in (roles or {}).items():
        widget = at.number_input(key=key) if isinstance(value, float) else at.selectbox(key=key)
        run(widget.set_value(value))
    run(at.button(key=W.CONFIRM).click())
    at.session_state[FOCUS] = Focus(attribute)
    if goal is not None:
        at.session_state[W.mitigation_goal(attribute)] = goal
    for key, value in widgets.items():
        at.session_state[key] = value
    at.switch_page(MITIGATION)
    return run(at)


def table_and_spec(at: AppTest):
    return at.session_state[DATASET].table.data, at.session_state[SPEC]


def curves_of(at: AppTest, attribute: str):
    df, spec = table_and_spec(at)
    return threshold_curves(df, spec, attribute=attribute)


def metric(at: AppTest, label: str):
    return next(m for m in at.metric if m.label == label)


def group_table(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "selection rate today" in d.value.columns)


def fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def assert_shows(at: AppTest, result, before, changed: dict | None = None) -> None:
    """The cards and the group table show exactly the engine's numbers for these thresholds (``changed``: the
    decisions changed from today's, by default the flips: the samples' decisions are a cut of their score)."""
    changed = result.flips if changed is None else changed
    s, b = result.summary, before.summary
    cards = {
        "Four-fifths ratio": "favorable_rate_ratio",
        "Demographic parity difference": "demographic_parity_difference",
        "Equalized odds difference": "equalized_odds_difference",
        "Accuracy": "accuracy",
    }
    for label, key in cards.items():
        card = metric(at, label)
        assert card.value == fmt(s[key].value)
        assert card.delta == f"{s[key].value - b[key].value:+.3f}"
    assert metric(at, "Net benefit").value == f"{s['utility'].value:,.1f}"
    flips = sum(c["to_positive"] + c["to_negative"] for c in changed.values())
    assert metric(at, "Decisions changed").value == f"{flips:,}"
    table = group_table(at).set_index("group")
    words = decision_words(at.session_state[SPEC])
    assert list(table.index) == list(result.groups)
    for group, record in result.groups.items():
        row = table.loc[group]
        assert row["rows"] == record.counts["n"]
        assert row["threshold"] == result.thresholds[group]
        for column, name in {"selection rate": "selection_rate", "TPR": "tpr", "FPR": "fpr"}.items():
            assert row[column] == fmt(record.metrics[name].value)
        assert row[words.newly] == changed[group]["to_positive"]
        assert row[words.no_longer] == changed[group]["to_negative"]


def charts(at: AppTest) -> dict[str, tuple[dict, pd.DataFrame]]:
    """Chart kind → (Vega-Lite spec, the data it draws)."""
    out = {}
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        frames = [dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data) for d in element.proto.datasets]
        out[spec["usermeta"]["chart"]] = (spec, max(frames, key=len))
    return out


@pytest.fixture
def downloads(monkeypatch):
    """File name → bytes of every download button drawn (deferred ones are generated here, as on a click)."""
    found: dict[str, object] = {}
    add, add_deferred = MediaFileManager.add, MediaFileManager.add_deferred

    def record(self, data, mimetype, coordinates, file_name=None, **kwargs):
        found[file_name] = data
        return add(self, data, mimetype, coordinates, file_name=file_name, **kwargs)

    def record_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        found[file_name] = data_callable
        return add_deferred(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add", record)
    monkeypatch.setattr(MediaFileManager, "add_deferred", record_deferred)
    return found


def test_without_confirmed_roles_the_page_sends_you_to_the_data_page():
    at = new_app(timeout=120)
    at.switch_page(MITIGATION)
    run(at)
    assert at.title[0].value == "Mitigation"
    assert "Confirm which columns hold the decision" in at.info[0].value
    assert [link.value for link in at.get("page_link")] == ["Go to the Data page"]
    assert not at.slider and not at.metric


def test_the_page_opens_on_todays_cut_with_every_section():
    at = mitigation_page()
    attribute = at.selectbox(key=W.MITIGATION_ATTRIBUTE).value
    assert attribute == "gender"  # the spec's first protected attribute
    assert at.radio(key=W.MITIGATION_MODE).value == SINGLE
    # The loan sample's decisions are its score cut at 0.5: the shared threshold whose selection rate is
    # today's reproduces them, so nothing changes yet.
    shared = at.slider(key=W.mitigation_single(attribute)).value
    assert shared == 0.5
    curves = curves_of(at, attribute)
    assert_shows(at, what_if(curves, shared), baseline(curves))
    assert metric(at, "Decisions changed").value == "0"
    assert [s.value for s in at.subheader] == [
        "Try thresholds",
        "Choose a goal",
        "The trade-off: how much each step towards parity costs",
        "Compared with retraining, on held-out rows",
        "Take the thresholds with you",
    ]
    assert {"threshold_rates", "score_distribution", "frontier"} <= set(charts(at))
    assert any("optimistic" in i.value for i in at.info)
    assert not at.warning  # the disparate-treatment warning belongs to per-group thresholds
    assert at.button(key=W.MITIGATION_COMPARE).label == "Compare with retraining"


@pytest.mark.slow
def test_a_spec_whose_decision_is_score_at_threshold_starts_there_and_a_slow_frontier_waits_for_a_click():
    at = mitigation_page(roles={W.DECISION: "(none)", W.THRESHOLD: 0.65})
    assert at.session_state[SPEC].threshold == 0.65
    assert at.slider(key=W.mitigation_single("gender")).value == 0.65
    assert metric(at, "Decisions changed").value == "0"  # the starting point is today's decisions
    assert "frontier" in charts(at)
    run(at.radio(key=W.mitigation_goal("gender")).set_value("custom"))
    run(at.selectbox(key=W.MITIGATION_CONSTRAINT).set_value("equalized_odds"))
    assert "frontier" not in charts(at)  # equalized odds searches pairs of floors: drawn on demand
    assert at.button(key=W.MITIGATION_FRONTIER).label == "Draw the frontier"


@pytest.mark.slow
def test_the_support_tickets_sample_works_with_its_six_language_groups():
    at = mitigation_page(TICKETS, attribute="customer_language", goal="custom")
    run(at.radio(key=W.MITIGATION_MODE).set_value(PER_GROUP))
    curves = curves_of(at, "customer_language")
    assert len(curves.labels) == 6
    sliders = {g: at.slider(key=W.mitigation_threshold("customer_language", g)).value for g in curves.labels}
    assert_shows(at, what_if(curves, sliders), baseline(curves))
    run(at.selectbox(key=W.MITIGATION_CONSTRAINT).set_value("equal_opportunity"))
    run(at.button(key=W.MITIGATION_OPTIMIZE).click())
    tolerance = default_tolerance("equal_opportunity")  # the library's default, which the page starts from
    expected = optimize(curves, constraint="equal_opportunity", tolerance=tolerance)
    assert expected.feasible and expected.achieved <= tolerance
    sliders = {g: at.slider(key=W.mitigation_threshold("customer_language", g)).value for g in curves.labels}
    assert sliders == expected.thresholds
    assert what_if(curves, sliders).summary["equal_opportunity_range"].value <= tolerance


@pytest.mark.slow
def test_moving_a_group_slider_shows_what_the_engine_computes_for_it():
    at = mitigation_page(attribute="ethnicity")
    run(at.radio(key=W.MITIGATION_MODE).set_value(PER_GROUP))
    keys = {g: W.mitigation_threshold("ethnicity", g) for g in "ABCD"}
    assert [at.slider(key=k).value for k in keys.values()] == [0.5] * 4  # started at the shared threshold
    assert not at.warning  # the same threshold for everyone: no disparate treatment yet
    before_move = metric(at, "Four-fifths ratio").value
    run(at.slider(key=keys["B"]).set_value(0.3712))
    thresholds = {g: at.slider(key=k).value for g, k in keys.items()}
    assert thresholds == {"A": 0.5, "B": 0.3712, "C": 0.5, "D": 0.5}
    assert "disparate treatment" in at.warning[0].value
    curves = curves_of(at, "ethnicity")
    moved = what_if(curves, thresholds)
    assert_shows(at, moved, baseline(curves))
    assert metric(at, "Four-fifths ratio").value != before_move
    assert moved.flips["B"]["to_positive"] > 0 and moved.flips["A"] == {"to_positive": 0, "to_negative": 0}
    # The score chart draws each group's threshold where the slider is.
    _, data = charts(at)["score_distribution"]
    rules = data[data["kind"] == "threshold"]
    assert dict(zip(rules["group"], rules["threshold"], strict=True)) == thresholds


@pytest.mark.slow
def test_one_threshold_for_everyone_and_the_costs_move_the_figures():
    at = mitigation_page(attribute="age")
    run(at.slider(key=W.mitigation_single("age")).set_value(0.62))
    run(at.number_input(key=W.MITIGATION_COST_FP).set_value(3.0))
    curves = curves_of(at, "age")
    result = what_if(curves, 0.62, cost_fp=3.0, benefit_tp=1.0)
    assert_shows(at, result, baseline(curves, cost_fp=3.0, benefit_tp=1.0))
    assert set(group_table(at)["threshold"]) == {0.62}
    tp, fp = (sum(r.counts[k] for r in result.groups.values()) for k in ("tp", "fp"))
    assert metric(at, "Net benefit").value == f"{tp - 3.0 * fp:,.1f}"


@pytest.mark.slow
def test_optimize_for_the_four_fifths_rule_sets_the_sliders_to_thresholds_that_pass_it():
    at = mitigation_page(attribute="ethnicity", goal="custom")
    assert at.selectbox(key=W.MITIGATION_CONSTRAINT).value == "four_fifths"
    assert at.number_input(key=W.MITIGATION_TOLERANCE).value == 0.0
    assert metric(at, "Four-fifths ratio").value == "0.714"  # fails today
    run(at.button(key=W.MITIGATION_OPTIMIZE).click())
    curves = curves_of(at, "ethnicity")
    expected = optimize(curves, constraint="four_fifths", tolerance=0.0, objective="accuracy")
    assert at.radio(key=W.MITIGATION_MODE).value == PER_GROUP
    sliders = {g: at.slider(key=W.mitigation_threshold("ethnicity", g)).value for g in curves.labels}
    assert sliders == expected.thresholds
    shown = what_if(curves, sliders)
    assert shown.summary["favorable_rate_ratio"].value >= 0.8 and shown.four_fifths_pass
    assert_shows(at, shown, baseline(curves))
    assert at.success[0].value.startswith("**Feasible.**")
    optimized = next(d.value for d in at.dataframe if "constrained" in d.value.columns)
    assert dict(zip(optimized["group"], optimized["threshold"], strict=True)) == expected.thresholds
    # Moving a slider afterwards says so, and one click puts the optimiser's thresholds back.
    run(at.slider(key=W.mitigation_threshold("ethnicity", "A")).set_value(0.7))
    assert any("moved since" in c.value for c in at.caption)
    run(at.button(key=W.MITIGATION_APPLY).click())
    assert at.slider(key=W.mitigation_threshold("ethnicity", "A")).value == expected.thresholds["A"]


@pytest.mark.slow
def test_optimizing_when_today_is_already_fairer_says_what_the_optimizer_gives_back():
    at = mitigation_page(goal="custom")  # gender: today's decisions pass the four-fifths rule with room to spare
    run(at.button(key=W.MITIGATION_OPTIMIZE).click())
    curves = curves_of(at, "gender")
    found = optimize(curves, constraint="four_fifths", tolerance=0.0).what_if.summary["favorable_rate_ratio"].value
    today = baseline(curves).summary["favorable_rate_ratio"].value
    assert 0.8 <= found < today
    note = next(i.value for i in at.info if i.value.startswith("Today's decisions already do better"))
    assert f"({today:.3f} against {found:.3f})" in note


@pytest.mark.slow
def test_an_infeasible_constraint_is_reported_with_the_best_achievable():
    at = mitigation_page(attribute="age", goal="custom")
    run(at.selectbox(key=W.MITIGATION_CONSTRAINT).set_value("predictive_parity"))
    # The constraint's default tolerance, the same as the library's and the CLI's.
    assert at.number_input(key=W.MITIGATION_TOLERANCE).value == default_tolerance("predictive_parity") == 0.05
    run(at.number_input(key=W.MITIGATION_TOLERANCE).set_value(0.0))
    run(at.button(key=W.MITIGATION_OPTIMIZE).click())
    expected = optimize(curves_of(at, "age"), constraint="predictive_parity", tolerance=0.0)
    assert not expected.feasible
    warning = next(w.value for w in at.warning if "Not feasible" in w.value)
    assert md(expected.reason) in warning
    sliders = {g: at.slider(key=W.mitigation_threshold("age", g)).value for g in expected.thresholds}
    assert sliders == expected.thresholds


@pytest.mark.slow
def test_without_a_label_only_selection_rate_constraints_are_offered_and_the_page_says_why():
    at = mitigation_page(roles={W.LABEL: "(none)"}, goal="custom")
    assert at.session_state[SPEC].label is None
    assert at.selectbox(key=W.MITIGATION_CONSTRAINT).options == [
        "Four-fifths rule (rate ratio ≥ 0.8)",
        "Demographic parity (selection rates)",
    ]
    keep_rate = "Keep today's overall selection rate, changing the fewest decisions"
    assert at.selectbox(key=W.MITIGATION_OBJECTIVE).options == [keep_rate, "Fewest changed decisions"]
    assert any("no label" in i.value and "Equal opportunity, equalized odds" in i.value for i in at.info)
    assert not any(m.label in ("Accuracy", "Equalized odds difference", "Net benefit") for m in at.metric)
    assert W.MITIGATION_COST_FP not in [n.key for n in at.number_input]
    assert "TPR" not in group_table(at).columns
    run(at.button(key=W.MITIGATION_OPTIMIZE).click())
    curves = curves_of(at, "gender")
    expected = optimize(curves, constraint="four_fifths", tolerance=0.0, objective="selection_rate")
    assert {g: at.slider(key=W.mitigation_threshold("gender", g)).value for g in curves.labels} == expected.thresholds
    assert expected.what_if.four_fifths_pass


@pytest.mark.slow
def test_without_a_score_the_thresholds_act_on_the_model_score_labeled_as_such(downloads):
    at = mitigation_page(roles={W.SCORE: "(none)"})
    df, spec = table_and_spec(at)
    assert spec.score is None
    scores = model_scores(df, spec)
    info = next(i.value for i in at.info if md(MODEL_SCORE_LABEL) in i.value)
    assert f"**{scores.auc:.3f}**" in info
    spec_json = json.dumps(charts(at)["score_distribution"][0])
    assert MODEL_SCORE_LABEL in spec_json  # the score axis names it
    payload = json.loads(downloads["paritylab-thresholds.json"]())
    assert payload["score_label"] == MODEL_SCORE_LABEL and payload["score_source"] == "model"
    assert payload["model_score"]["auc"] == pytest.approx(scores.auc)
    scored_df, scored_spec = scores.apply(df, spec)
    curves = threshold_curves(scored_df, scored_spec, attribute="gender")
    start = reproducing_thresholds(curves)
    assert at.radio(key=W.MITIGATION_MODE).value == PER_GROUP  # the groups start at their own thresholds
    sliders = {g: at.slider(key=W.mitigation_threshold("gender", g)).value for g in curves.labels}
    assert sliders == start.thresholds
    assert_shows(at, what_if(curves, sliders), baseline(curves), changed_decisions(start.what_if, start))


@pytest.mark.slow
def test_the_downloads_hold_the_engine_output_for_the_thresholds_shown(downloads):
    at = mitigation_page(attribute="ethnicity", goal="custom")
    run(at.button(key=W.MITIGATION_OPTIMIZE).click())
    df, spec = table_and_spec(at)
    curves = threshold_curves(df, spec, attribute="ethnicity")
    expected = optimize(curves, constraint="four_fifths", tolerance=0.0)
    assert [b.label for b in at.get("download_button")] == ["Download thresholds (JSON)", "Download decisions (CSV)"]
    payload = json.loads(downloads["paritylab-thresholds.json"]())
    roundtrip = json.loads(json.dumps(what_if(curves, expected.thresholds).to_dict()))
    assert payload["thresholds"] == {"ethnicity": expected.thresholds}
    assert payload["scored_rows"]["after"] == roundtrip
    assert payload["scored_rows"]["before"] == json.loads(json.dumps(baseline(curves).to_dict()))
    # The same record as the command line's mitigate --json (one thresholds schema).
    record = mitigate(df, spec, attribute="ethnicity", constraint="four_fifths", tolerance=0.0)
    expected_json = json.loads(json.dumps(record.to_dict() | {"load": payload["load"], "dataset": payload["dataset"]}))
    assert payload == expected_json
    assert payload["dataset"]["name"] == "loan_approvals.csv" and payload["load"]["rows"] == 20000
    assert payload["constraint"] == "four_fifths" and payload["feasible"] == expected.feasible
    assert payload["mode"] == "optimized" and payload["score_column"] == "model_score"
    made = downloads["paritylab-decisions.csv"]()
    assert made == csv_bytes(decision_changes(df, spec, expected.thresholds, attribute="ethnicity"))
    changes = pd.read_csv(io.BytesIO(made))
    flips = sum(f["to_positive"] + f["to_negative"] for f in expected.what_if.flips.values())
    assert int(changes["changed"].sum()) == flips


@pytest.mark.slow
def test_the_retraining_comparison_shows_held_out_figures_beside_in_sample_ones():
    at = mitigation_page(attribute="ethnicity")
    assert not any("held-out rows (" in str(d.value.columns) for d in at.dataframe)
    run(at.button(key=W.MITIGATION_COMPARE).click())
    table = next(d.value for d in at.dataframe if "method" in d.value.columns)
    assert table["method"].iloc[0] == "current decisions"
    assert "fairlearn ThresholdOptimizer (randomised thresholds)" in set(table["method"])
    side = next(d.value for d in at.dataframe if "measure" in d.value.columns)
    assert side.columns[1].startswith("training rows (in sample") and side.columns[2].startswith("held-out rows")
    _, result = at.session_state[RESULTS]["mitigation_comparison"]
    ours = result.row("thresholds")
    assert table["accuracy"].tolist() == pytest.approx([r.accuracy for r in result.rows])
    assert table["equalized odds difference"].iloc[1] == pytest.approx(ours.equalized_odds_difference)
    # Flips per group and direction, one column per group (4 groups), as the comparison counted them.
    assert [c for c in table.columns if c.startswith("flips: ")] == ["flips: A", "flips: B", "flips: C", "flips: D"]
    for shown, r in zip(table["flips: B"], result.rows, strict=True):
        f = r.flips.get("B")
        shown = None if pd.isna(shown) else shown  # the dataframe shows a missing cell as NaN
        assert shown == (None if f is None else f"+{f['to_positive']:,} / −{f['to_negative']:,}"), r.method
    assert ours.flips["B"]["to_positive"] + ours.flips["B"]["to_negative"] > 0
    side = side.set_index("measure")
    assert side.iloc[:, 0]["accuracy"] == pytest.approx(ours.in_sample["accuracy"])
    assert side.iloc[:, 1]["lowest impact ratio vs the reference group"] == pytest.approx(ours.disparate_impact_min)
    assert side.iloc[:, 1]["four-fifths ratio (lowest ÷ highest favourable rate)"] == pytest.approx(
        ours.favorable_rate_ratio
    )
    per_row = side.loc["net benefit per row"]
    assert per_row.tolist() == pytest.approx(
        [ours.in_sample["utility"] / result.train_rows, ours.utility / result.test_rows]
    )
    # The result stays on the page when something else changes.
    run(at.slider(key=W.mitigation_single("ethnicity")).set_value(0.55))
    assert any("method" in d.value.columns for d in at.dataframe)


LINK, IMAGE = "[x](javascript:alert(1))", "![i](https://example.org/p.png)"


@pytest.mark.slow
def test_with_many_groups_the_comparison_shows_flips_by_group_in_one_column():
    """Seven groups (one named like a Markdown link): one "flips by group" text column, as the comparison counts."""
    names = ["n", "s", "e", "w", "c", "i", LINK]
    lines = ["region,score,outcome,decision"] + [
        f'"{names[i % 7]}",{(i * 37 % 100) / 100:.2f},{int((i * 53 % 100) < (i * 37 % 100))},'
        f"{'go' if (i * 37 % 100) >= 50 + 3 * (i % 7) else 'stop'}"
        for i in range(1400)
    ]
    at = new_app(timeout=120)
    run(at.radio(key=W.SOURCE).set_value("Upload a file"))
    run(at.file_uploader(key=W.UPLOAD).set_value(("upload.csv", ("\n".join(lines) + "\n").encode(), "text/csv")))
    for key, value in {W.DECISION: "decision", W.LABEL: "outcome", W.SCORE: "score"}.items():
        run(at.selectbox(key=key).set_value(value))
    run(at.multiselect(key=W.POSITIVE).set_value(["go"]))
    run(at.multiselect(key=W.LABEL_POSITIVE).set_value([1]))
    run(at.multiselect(key=W.PROTECTED).set_value(["region"]))
    run(at.button(key=W.CONFIRM).click())
    at.switch_page(MITIGATION)
    run(at)
    run(at.button(key=W.MITIGATION_COMPARE).click())
    table = next(d.value for d in at.dataframe if "method" in d.value.columns)
    assert "flips by group" in table.columns and not any(c.startswith("flips: ") for c in table.columns)
    _, result = at.session_state[RESULTS]["mitigation_comparison"]
    for shown, r in zip(table["flips by group"], result.rows, strict=True):
        expected = " · ".join(f"{g} +{f['to_positive']:,}/−{f['to_negative']:,}" for g, f in sorted(r.flips.items()))
        assert (None if pd.isna(shown) else shown) == (expected or None), r.method
    ours = result.row("thresholds").flips[LINK]
    assert f"{LINK} +{ours['to_positive']}/−{ours['to_negative']}" in table["flips by group"].iloc[1]


@pytest.mark.slow
def test_group_names_from_the_data_are_escaped_in_labels_and_text():
    lines = ["sex,score,decision"] + [
        f'"{["F", LINK, IMAGE][i % 3]}",{(i * 37 % 100) / 100:.2f},{"go" if (i * 37 % 100) >= 50 else "stop"}'
        for i in range(300)
    ]
    at = new_app(timeout=120)
    run(at.radio(key=W.SOURCE).set_value("Upload a file"))
    run(at.file_uploader(key=W.UPLOAD).set_value(("upload.csv", ("\n".join(lines) + "\n").encode(), "text/csv")))
    roles = {W.DECISION: "decision", W.LABEL: "(none)", W.SCORE: "score"}
    for key, value in roles.items():
        run(at.selectbox(key=key).set_value(value))
    run(at.multiselect(key=W.POSITIVE).set_value(["go"]))
    run(at.multiselect(key=W.PROTECTED).set_value(["sex"]))
    run(at.button(key=W.CONFIRM).click())
    at.switch_page(MITIGATION)
    run(at)
    run(at.radio(key=W.MITIGATION_MODE).set_value(PER_GROUP))
    labels = [sl.label for sl in at.slider]
    assert md(f"{LINK} (100 rows)") in labels and md(f"{IMAGE} (100 rows)") in labels
    shown = labels + [
        e.value for kind in ("markdown", "caption", "info", "warning", "success") for e in getattr(at, kind)
    ]
    assert not any("](javascript:" in t or "![i](" in t for t in shown)
    assert set(group_table(at)["group"]) == {"F", LINK, IMAGE}  # a dataframe shows them as plain text


# ---------------------------------------------------------------- starting from today, goals, focus


def test_on_an_attribute_that_passes_the_page_opens_on_nothing_to_do_and_changes_nothing(downloads):
    at = mitigation_page()  # loans, gender: four-fifths ratio 0.976 today
    assert at.radio(key=W.mitigation_goal("gender")).value == "nothing"
    assert at.radio(key=W.mitigation_goal("gender")).options[0] == "Nothing to do: keep today's decisions"
    note = next(s.value for s in at.success if "Nothing to do" in s.value)
    assert "already pass the four-fifths rule (ratio 0.976" in note
    assert not any(b.key == W.MITIGATION_OPTIMIZE for b in at.button)  # the optimiser does not run by default
    assert RESULTS not in at.session_state or "mitigation_optimization" not in at.session_state[RESULTS]
    assert metric(at, "Decisions changed").value == "0"
    assert metric(at, "Four-fifths ratio").value == "0.976"
    assert "No decision changes from today's." in next(m.value for m in at.markdown if "four-fifths ratio" in m.value)
    starts = next(c.value for c in at.caption if c.value.startswith("The sliders start from today's decisions"))
    assert "**0.5** for everyone" in starts and "all 20,000 of today's decisions: none is left" in starts
    # The thresholds download is the command line's record for goal "nothing" (python -m analysis mitigate).
    payload = json.loads(downloads["paritylab-thresholds.json"]())
    assert payload["goal"] == "nothing" and payload["mode"] == "start"
    assert payload["start"]["total_unreproducible"] == 0
    assert all(c == {"to_positive": 0, "to_negative": 0} for c in payload["changed"].values())


@pytest.mark.slow
def test_on_an_attribute_that_fails_the_default_goal_passes_the_rule_with_the_fewest_changes():
    at = mitigation_page(attribute="ethnicity")
    goal = at.radio(key=W.mitigation_goal("ethnicity"))
    assert goal.value == "four_fifths_fewest"
    assert goal.options[1] == "Pass the four-fifths rule with the fewest changed decisions"
    assert metric(at, "Decisions changed").value == "0"  # picking a goal runs nothing until it is asked for
    run(at.button(key=W.MITIGATION_OPTIMIZE).click())
    curves = curves_of(at, "ethnicity")
    expected = optimize(curves, constraint="four_fifths", tolerance=0.0, objective="changes")
    sliders = {g: at.slider(key=W.mitigation_threshold("ethnicity", g)).value for g in curves.labels}
    assert sliders == expected.thresholds
    shown = what_if(curves, sliders)
    assert shown.four_fifths_pass and shown.summary["favorable_rate_ratio"].value >= 0.8
    assert metric(at, "Decisions changed").value == "320"
    up = shown.summary["flips_to_positive"].value
    down = shown.summary["flips_to_negative"].value
    sentence = next(m.value for m in at.markdown if "people's decisions change" in m.value)
    assert f"{up:,.0f} would newly be approved and {down:,.0f} would no longer be approved" in sentence
    assert at.success[0].value.startswith("**Feasible.**")
    # One click goes back to today's decisions.
    run(at.button(key=W.MITIGATION_RESET).click())
    assert at.radio(key=W.MITIGATION_MODE).value == SINGLE
    assert at.slider(key=W.mitigation_single("ethnicity")).value == 0.5
    assert metric(at, "Decisions changed").value == "0"
    assert not any(b.key == W.MITIGATION_RESET for b in at.button)
    # So does picking "nothing to do" after an optimisation.
    run(at.button(key=W.MITIGATION_OPTIMIZE).click())
    assert metric(at, "Decisions changed").value == "320"
    run(at.radio(key=W.mitigation_goal("ethnicity")).set_value("nothing"))
    assert metric(at, "Decisions changed").value == "0"
    assert any(i.value.startswith("Nothing is changed. Today's decisions on ethnicity fail") for i in at.info)


def test_a_goal_needing_a_label_is_shown_unavailable_with_why():
    at = mitigation_page(roles={W.LABEL: "(none)"}, attribute="ethnicity", goal="equal_tpr")
    radio = at.radio(key=W.mitigation_goal("ethnicity"))
    assert "Equal true-positive rates within 0.02, with the fewest changed decisions" in radio.options
    assert any("unavailable on these data: it needs the true outcome" in w.value for w in at.warning)
    assert at.button(key=W.MITIGATION_OPTIMIZE).disabled
    run(at.radio(key=W.mitigation_goal("ethnicity")).set_value("keep_count"))
    assert radio.options[3] == "Pass the four-fifths rule and keep the number approved today"
    assert not at.button(key=W.MITIGATION_OPTIMIZE).disabled


def test_the_attribute_picker_follows_the_focus_and_moves_it():
    at = mitigation_page(attribute="ethnicity")
    assert at.selectbox(key=W.MITIGATION_ATTRIBUTE).value == "ethnicity"
    run(at.selectbox(key=W.MITIGATION_ATTRIBUTE).set_value("age"))
    assert at.session_state[FOCUS] == Focus("age")
    # An intersection as the focus: the page opens on its first column and says so.
    at.session_state[FOCUS] = Focus("gender × ethnicity")
    run(at)
    assert at.selectbox(key=W.MITIGATION_ATTRIBUTE).value == "gender"
    assert any("intersection **gender × ethnicity**" in c.value and "first column" in c.value for c in at.caption)


@pytest.mark.slow
def test_without_a_score_column_nothing_is_changed_at_the_start_and_the_unreproducible_are_stated():
    at = mitigation_page(roles={W.SCORE: "(none)"}, attribute="ethnicity")
    df, spec = table_and_spec(at)
    scored_df, scored_spec = model_scores(df, spec).apply(df, spec)
    curves = threshold_curves(scored_df, scored_spec, attribute="ethnicity")
    from analysis.mitigate import starting_point

    start, today = starting_point(curves)
    assert start.total_unreproducible > 0  # a model of the decisions does not reproduce every one
    assert metric(at, "Decisions changed").value == "0"
    assert at.radio(key=W.MITIGATION_MODE).value == (SINGLE if start.shared is not None else PER_GROUP)
    note = next(i.value for i in at.info if "cannot be reproduced by any threshold" in i.value)
    assert f"**{start.total_unreproducible:,} (" in note and "not counted as changes" in note
    table = group_table(at).set_index("group")
    assert table["not reproducible"].to_dict() == start.unreproducible
    assert (table[APPROVED] == 0).all() and (table[NO_LONGER] == 0).all()
    ratio = start.what_if.summary["favorable_rate_ratio"].value
    assert ratio >= today.summary["favorable_rate_ratio"].value - 1e-12  # never worse than today at the start


def harmful_page() -> AppTest:
    """A crafted table whose positive decision ('High' risk) harms the person, on the Mitigation page."""
    lines = ["race,score,risk"] + [
        f"{'ab'[i % 2]},{(i * 37 % 100) / 100:.2f},{'High' if (i * 37 % 100) >= 40 + 20 * (i % 2) else 'Low'}"
        for i in range(400)
    ]
    at = new_app(timeout=120)
    run(at.radio(key=W.SOURCE).set_value("Upload a file"))
    run(at.file_uploader(key=W.UPLOAD).set_value(("risk.csv", ("\n".join(lines) + "\n").encode(), "text/csv")))
    for key, value in {W.DECISION: "risk", W.LABEL: "(none)", W.SCORE: "score"}.items():
        run(at.selectbox(key=key).set_value(value))
    run(at.multiselect(key=W.POSITIVE).set_value(["High"]))
    run(at.checkbox(key=W.FAVORABLE).set_value(False))
    run(at.multiselect(key=W.PROTECTED).set_value(["race"]))
    run(at.button(key=W.CONFIRM).click())
    at.session_state[FOCUS] = Focus("race")
    at.switch_page(MITIGATION)
    return run(at)


@pytest.mark.slow
def test_a_harmful_decision_reads_as_the_harm_on_cards_sentences_and_charts():
    at = harmful_page()
    spec = at.session_state[SPEC]
    assert spec.positive_is_favorable is False
    words = decision_words(spec)
    assert (words.newly, words.no_longer) == ("would newly be flagged", "would no longer be flagged")
    # Group a is flagged more (its cut is lower): today fails the four-fifths rule, so a goal is offered.
    assert at.radio(key=W.mitigation_goal("race")).value == "four_fifths_fewest"
    run(at.button(key=W.MITIGATION_OPTIMIZE).click())
    sentence = next(m.value for m in at.markdown if "people's decisions change" in m.value)
    assert "would newly be flagged" in sentence or "would no longer be flagged" in sentence
    ratio = next(m.value for m in at.markdown if "four-fifths ratio" in m.value)
    assert "lowest share not flagged of any group" in ratio
    table = group_table(at)
    assert {"would newly be flagged", "would no longer be flagged"} <= set(table.columns)
    _, data = charts(at)["score_distribution"]
    assert set(data["side"].dropna()) <= {"flagged", "not flagged"}
    shown = [e.value for kind in ("markdown", "caption", "info", "success", "warning") for e in getattr(at, kind)]
    negated = ("not receive", "positive decision", "lose it", "get the positive")
    assert not [t for t in shown if any(n in t for n in negated)]
