"""The audit tables (NYC Local Law 144, EEOC four-fifths): the rule's own worked examples, the audit's numbers on
the loan sample, unknown categories, the 2% exclusion, the median and its ties, and undefined rates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import AuditSpec
from analysis.audit import audit
from analysis.bias_tables import bias_tables, guess_columns, ll144_rows
from analysis.errors import OptionError, ParityLabError

ROOT = Path(__file__).resolve().parents[2]
LOANS = ROOT / "sample_data" / "loan_approvals.csv"

HISPANIC = "Hispanic or Latino"
WHITE, BLACK, NHPI = "White", "Black or African American", "Native Hawaiian or Pacific Islander"
ASIAN, NATIVE, TWO = "Asian", "Native American or Alaska Native", "Two or More Races"

# 6 RCNY § 5-301(b), the example of a bias audit of selection rates: (applicants, selected) per category.
RULE_SEX = {"Male": (1390, 667), "Female": (1181, 555)}
RULE_SEX_RATIOS = {"Male": 1.00, "Female": 0.98}
RULE_RACE = {
    HISPANIC: (408, 204),
    WHITE: (797, 412),
    BLACK: (390, 170),
    NHPI: (119, 52),
    ASIAN: (616, 302),
    NATIVE: (41, 18),
    TWO: (213, 96),
}
RULE_RACE_RATIOS = {HISPANIC: 0.97, WHITE: 1.00, BLACK: 0.84, NHPI: 0.85, ASIAN: 0.95, NATIVE: 0.85, TWO: 0.87}
RULE_CROSS = {
    ("Male", HISPANIC): (205, 90, 0.841),
    ("Female", HISPANIC): (190, 82, 0.827),
    ("Male", WHITE): (412, 215, 1.000),
    ("Male", BLACK): (226, 95, 0.806),
    ("Male", NHPI): (87, 37, 0.815),
    ("Male", ASIAN): (321, 167, 0.997),
    ("Male", NATIVE): (24, 11, 0.878),
    ("Male", TWO): (115, 52, 0.866),
    ("Female", WHITE): (385, 197, 0.981),
    ("Female", BLACK): (164, 75, 0.876),
    ("Female", NHPI): (32, 15, 0.898),
    ("Female", ASIAN): (295, 135, 0.877),
    ("Female", NATIVE): (17, 7, 0.789),
    ("Female", TWO): (98, 44, 0.860),
}


def spec_of(**extra) -> AuditSpec:
    fields = {"decision": "outcome", "positive": ["Y"], "protected": ["sex", "race"]} | extra
    return AuditSpec.from_dict(fields)


def people(cells: dict[tuple[str | None, str | None], tuple[int, int]], **columns) -> pd.DataFrame:
    """Individuals: per (sex, race) cell, ``n`` of them, the first ``selected`` with decision Y."""
    rows = []
    for (sex, race), (n, selected) in cells.items():
        rows += [{"sex": sex, "race": race, "outcome": "Y" if i < selected else "N"} for i in range(n)]
    df = pd.DataFrame(rows)
    for name, values in columns.items():
        df[name] = values
    return df


def rows_of(result, name):
    return {r.category: r for r in result.tables[name].rows}


def test_the_rules_selection_example_from_its_counts():
    """Each of the rule's three tables, from its own counts: selection rates and impact ratios as printed."""
    sex = {r.category: r for r in ll144_rows(list(RULE_SEX), *zip(*RULE_SEX.values(), strict=True))}
    assert {c: round(r.rate, 2) for c, r in sex.items()} == {"Male": 0.48, "Female": 0.47}
    assert {c: round(r.impact_ratio, 2) for c, r in sex.items()} == RULE_SEX_RATIOS
    race = {r.category: r for r in ll144_rows(list(RULE_RACE), *zip(*RULE_RACE.values(), strict=True),
                                              exclude_small=False)}  # fmt: skip
    assert {c: round(r.impact_ratio, 2) for c, r in race.items()} == RULE_RACE_RATIOS
    assert {c: round(r.rate, 2) for c, r in race.items()} == {
        HISPANIC: 0.50, WHITE: 0.52, BLACK: 0.44, NHPI: 0.44, ASIAN: 0.49, NATIVE: 0.44, TWO: 0.45,
    }  # fmt: skip
    # Native American or Alaska Native is 41 of 2,584 (1.6%): the rule's example keeps it in the ratios, which the
    # 2% exclusion allows but does not require; left out, it is still shown with its count and rate.
    assert not any(r.excluded for r in race.values())
    left = {r.category: r for r in ll144_rows(list(RULE_RACE), *zip(*RULE_RACE.values(), strict=True))}  # default
    assert left[NATIVE].excluded and left[NATIVE].impact_ratio is None and round(left[NATIVE].rate, 2) == 0.44
    assert [c for c, r in left.items() if r.excluded] == [NATIVE]
    assert {c: round(r.impact_ratio, 2) for c, r in left.items() if c != NATIVE} == {
        c: v for c, v in RULE_RACE_RATIOS.items() if c != NATIVE
    }


def test_the_rules_selection_example_from_individuals():
    """The rule's intersectional table as individuals (plus individuals of unknown category): the sex table and the
    intersectional table come out as the rule prints them, to the rule's three decimals."""
    cells = {key: (n, selected) for key, (n, selected, _) in RULE_CROSS.items()}
    cells |= {(None, None): (250, 120)}  # individuals of unknown category
    result = bias_tables(people(cells), spec_of(), exclude_small=False)
    sex = rows_of(result, "sex")
    assert {c: (r.n, r.selected) for c, r in sex.items()} == RULE_SEX
    assert {c: round(r.impact_ratio, 2) for c, r in sex.items()} == RULE_SEX_RATIOS
    cross = rows_of(result, "sex × race")
    assert {c: (r.n, r.selected, round(r.impact_ratio, 3)) for c, r in cross.items()} == {
        f"{s} × {r}": v for (s, r), v in RULE_CROSS.items()
    }
    assert result.to_dict()["unknown"] == {"sex": 250, "race": 250, "sex × race": 250}
    # The rule's race table counts 408 Hispanic or Latino applicants and 204 selected, more than its intersectional
    # table's 205 + 190 and 90 + 82 allow, so the race table is checked from its own counts (above); the other six
    # race categories are the sums of the intersectional table, as here.
    race = rows_of(result, "race")
    for category in (WHITE, BLACK, NHPI, ASIAN, NATIVE, TWO):
        assert (race[category].n, race[category].selected) == RULE_RACE[category]
    assert cross["Male × White"].note == "highest rate"


def scoring_example() -> pd.DataFrame:
    """6 RCNY § 5-301's example of scoring rates ("culture fit") as 168 individuals, 84 scoring high, 84 low.

    Sex: Male 92 (50 above the median), Female 76 (34). Race: the rule's Hispanic or Latino 28 (18), White 40 (15),
    Black 32 (16), Native Hawaiian or Pacific Islander 8 (5), Asian 24 (10); the last two categories are ours
    (Native American or Alaska Native 12 (6), Two or More Races 24 (14)), to make up the sample.
    """
    high = [HISPANIC] * 18 + [WHITE] * 15 + [BLACK] * 16 + [NHPI] * 5 + [ASIAN] * 10 + [NATIVE] * 6 + [TWO] * 14
    low = [HISPANIC] * 10 + [WHITE] * 25 + [BLACK] * 16 + [NHPI] * 3 + [ASIAN] * 14 + [NATIVE] * 6 + [TWO] * 10
    sexes = ["Male"] * 50 + ["Female"] * 34 + ["Male"] * 42 + ["Female"] * 42
    scores = [60.0 + i for i in range(84)] + [40.0 - i * 0.25 for i in range(84)]
    return pd.DataFrame({"sex": sexes, "race": high + low, "culture_fit": scores})


def test_the_rules_scoring_example():
    df = scoring_example()
    spec = AuditSpec(score="culture_fit", threshold=50, protected=("sex", "race"))
    result = bias_tables(df, spec, mode="scoring")
    assert result.mode == "scoring" and result.median_score == pytest.approx(50.0)  # between 40 and 60
    sex = rows_of(result, "sex")
    assert {c: (r.n, round(r.rate * 100, 1), round(r.impact_ratio, 2)) for c, r in sex.items()} == {
        "Male": (92, 54.3, 1.00),
        "Female": (76, 44.7, 0.82),
    }
    race = rows_of(result, "race")
    # The rule prints 64.2% for 18 of 28 (64.29%, cut rather than rounded).
    assert race[HISPANIC].rate == pytest.approx(18 / 28)
    assert {c: round(race[c].impact_ratio, 2) for c in (HISPANIC, WHITE, BLACK, NHPI, ASIAN)} == {
        HISPANIC: 1.00, WHITE: 0.58, BLACK: 0.78, NHPI: 0.97, ASIAN: 0.65,
    }  # fmt: skip
    assert {c: round(race[c].rate * 100, 1) for c in (WHITE, BLACK, NHPI, ASIAN)} == {
        WHITE: 37.5, BLACK: 50.0, NHPI: 62.5, ASIAN: 41.7,
    }  # fmt: skip
    out = result.to_dict()
    assert out["median_score"] == pytest.approx(50.0) and out["mode"] == "scoring"
    assert any("median score of the full sample, 50" in n for n in result.notes)


def test_a_score_equal_to_the_median_is_not_above_it():
    df = pd.DataFrame(
        {"sex": ["F", "F", "F", "M", "M"], "race": ["a", "a", "b", "b", "a"], "s": [2.0, 2.0, 3.0, 1.0, 2.0]}
    )
    spec = AuditSpec(score="s", threshold=2, protected=("sex", "race"))
    result = bias_tables(df, spec, mode="scoring", exclude_small=False)
    assert result.median_score == 2.0
    sex = rows_of(result, "sex")
    assert (sex["F"].selected, sex["F"].rate, sex["M"].rate) == (1, pytest.approx(1 / 3), 0.0)
    assert sex["M"].impact_ratio == 0.0 and sex["F"].impact_ratio == 1.0
    # A harmful score: the favourable side is "not above the median", and a tie counts there.
    harmful = bias_tables(df, AuditSpec(score="s", threshold=2, positive_is_favorable=False, protected=("sex", "race")),
                          mode="scoring", exclude_small=False)  # fmt: skip
    rows = rows_of(harmful, "sex")
    assert (rows["F"].rate, rows["M"].rate) == (pytest.approx(2 / 3), 1.0)
    assert any("at or below" in n for n in harmful.notes)


def test_selection_rates_and_ratios_equal_the_audits_on_the_loan_sample():
    df = pd.read_csv(LOANS)
    spec = AuditSpec(decision="approved", positive=("Y",), protected=("gender", "ethnicity"))
    result = audit(df, spec)
    for fmt in ("ll144", "four-fifths"):
        tables = bias_tables(df, spec, format=fmt)
        assert (tables.sex, tables.race, tables.sex_source) == ("gender", "ethnicity", "guessed")
        for name in ("gender", "ethnicity"):
            groups = result.attributes[name].groups
            for row in tables.tables[name].rows:
                assert row.rate == groups[row.category].metrics["favorable_rate"].value
                assert row.n == groups[row.category].n
        audited = result.attributes["ethnicity"].summary
        five = tables.tables["ethnicity"]
        assert five.lowest_ratio == pytest.approx(audited.metrics["favorable_rate_ratio"].value, abs=1e-12)
        # The audit's gender groups include the 197 rows with gender missing, which the tables leave out.
        known = {g: m.metrics["favorable_rate"].value for g, m in result.attributes["gender"].groups.items()}
        del known["(missing)"]
        assert tables.tables["gender"].unknown == result.attributes["gender"].groups["(missing)"].n == 197
        if fmt == "four-fifths":
            assert five.passes is audited.four_fifths_pass is False
            assert tables.tables["gender"].lowest_ratio == pytest.approx(min(known.values()) / max(known.values()))
            assert rows_of(tables, "ethnicity")["B"].note.startswith("below four-fifths")
    ll144 = bias_tables(df, spec)
    eth = rows_of(ll144, "ethnicity")
    top = max(r.rate for r in eth.values())
    assert {c: r.impact_ratio for c, r in eth.items()} == pytest.approx({c: r.rate / top for c, r in eth.items()})
    assert round(eth["B"].impact_ratio, 2) == 0.71  # ethnicity B approved at 0.71x the rate of A
    assert rows_of(ll144, "gender")["Non-binary"].excluded  # 381 of 19,803: 1.9%


def test_unknown_categories_are_counted_and_left_out():
    cells = {("F", "a"): (40, 20), ("M", "a"): (40, 10), ("F", "b"): (40, 30), ("M", "b"): (40, 20)}
    cells |= {(None, "a"): (5, 5), ("F", None): (7, 0), (None, None): (3, 3)}
    result = bias_tables(people(cells), spec_of())
    assert result.to_dict()["unknown"] == {"sex": 8, "race": 10, "sex × race": 15}
    sex = rows_of(result, "sex")
    assert (sex["F"].n, sex["F"].selected, sex["M"].n) == (87, 50, 80)  # F's rows of unknown race are in the sex table
    assert set(rows_of(result, "sex × race")) == {"F × a", "F × b", "M × a", "M × b"}
    assert any("sex × race: 15 individuals with an unknown category" in n for n in result.notes)


def test_categories_under_two_percent_are_shown_but_left_out_of_the_ratios():
    cells = {("F", "a"): (50, 25), ("M", "a"): (49, 20), ("F", "tiny"): (1, 1)}
    result = bias_tables(people(cells), spec_of())
    race = rows_of(result, "race")
    assert race["tiny"].excluded and race["tiny"].impact_ratio is None and race["tiny"].rate == 1.0
    assert race["tiny"].n == 1 and race["tiny"].note == "under 2% of the table (1.0%): not in the impact ratios"
    assert race["a"].impact_ratio == 1.0 and race["a"].note == "highest rate"  # the highest of those in the ratios
    assert any("left out of the impact ratios" in n and "race: tiny (n=1)" in n for n in result.notes)
    # A share that rounds to 0.0% is still said to be above 0.
    few = rows_of(bias_tables(people({("F", "a"): (2400, 1200), ("F", "b"): (1, 1)}), spec_of()), "race")
    assert few["b"].note == "under 2% of the table (<0.1%): not in the impact ratios"
    kept = rows_of(bias_tables(people(cells), spec_of(), exclude_small=False), "race")
    assert not kept["tiny"].excluded and kept["tiny"].impact_ratio == 1.0
    assert kept["a"].impact_ratio == pytest.approx(45 / 99)


def test_zero_denominators_are_undefined_never_zero():
    # Nobody is both M and b: that intersectional category has no individuals.
    cells = {("F", "a"): (40, 0), ("F", "b"): (40, 0), ("M", "a"): (40, 0), (None, None): (1, 1)}
    result = bias_tables(people(cells), spec_of())
    cross = rows_of(result, "sex × race")
    assert (cross["M × b"].n, cross["M × b"].rate, cross["M × b"].impact_ratio) == (0, None, None)
    assert cross["M × b"].note == "no individuals: rate undefined (n=0)"
    # Nobody is selected: every rate is 0 and every impact ratio (0 ÷ 0) undefined.
    assert all(r.rate == 0.0 and r.impact_ratio is None for r in rows_of(result, "sex").values())
    assert rows_of(result, "sex")["F"].note == "undefined: the highest rate is 0"
    assert result.tables["sex"].lowest_ratio is None
    text = json.dumps(result.to_dict())
    assert '"impact_ratio": null' in text and "NaN" not in text
    five = bias_tables(people(cells), spec_of(), format="four-fifths")
    # The audit's four-fifths ratio counts rates of 0 in every group as equal (1, as fairlearn does); the rows'
    # impact ratios stay undefined.
    assert five.tables["sex"].passes is True and five.tables["sex"].lowest_ratio == 1.0
    assert all(r.impact_ratio is None for r in five.tables["sex"].rows)


def test_a_harmful_decision_is_tabulated_as_its_favourable_rate():
    cells = {("F", "a"): (50, 10), ("M", "a"): (50, 30), ("F", "b"): (50, 20), ("M", "b"): (50, 20)}
    df = people(cells)
    spec = spec_of(positive_is_favorable=False)
    result = bias_tables(df, spec)
    sex = rows_of(result, "sex")
    assert (sex["F"].rate, sex["M"].rate) == (0.7, 0.5)  # the share not flagged
    assert sex["M"].impact_ratio == pytest.approx(0.5 / 0.7)
    assert result.rate_name == "selection rate (share not flagged)"
    assert result.to_dict()["rate_name"] == "selection rate (share not flagged)"  # the JSON alone says so too
    assert any("harms the person" in n and "not being flagged" in n for n in result.notes)
    assert audit(df, spec).attributes["sex"].groups["M"].metrics["favorable_rate"].value == 0.5


def test_the_four_fifths_example():
    """29 CFR 1607.4(D) with the guidelines' common illustration: 48 of 80 white and 12 of 40 black applicants
    hired (60% and 30%): 30 ÷ 60 = 50%, below four-fifths."""
    cells = {("F", "white"): (40, 24), ("M", "white"): (40, 24), ("F", "black"): (20, 6), ("M", "black"): (20, 6)}
    result = bias_tables(people(cells), spec_of(), format="four-fifths")
    race = result.tables["race"]
    assert race.highest == "white" and race.lowest_ratio == 0.5 and race.passes is False
    assert race.row("black").note == "below four-fifths (under 0.8 × the highest rate)"
    assert race.row("white").note == "highest rate"
    sex = result.tables["sex"]
    assert sex.passes is True and sex.lowest_ratio == 1.0
    cross = result.tables["sex × race"]
    assert (
        all(r.excluded for r in cross.rows if r.n < 30)
        and cross.row("F × black").note == "fewer than 30: too small to conclude, not in the ratio"
    )


def test_the_json_has_the_documented_keys():
    result = bias_tables(people({("F", "a"): (40, 20), ("M", "b"): (40, 10)}), spec_of())
    out = result.to_dict()
    assert list(out) == ["format", "mode", "rate_name", "tables", "unknown"]
    assert out["rate_name"] == "selection rate (share selected)"
    assert list(out["tables"]) == ["sex", "race", "sex × race"]
    assert set(out["tables"]["sex"][0]) == {"category", "n", "rate", "impact_ratio", "excluded", "note"}
    assert json.loads(result.to_json()) == out
    frame = result.to_frame()
    assert list(frame.columns) == ["table", "category", "n", "rate", "impact_ratio", "excluded", "note"]
    assert len(frame) == sum(len(t.rows) for t in result.tables.values())


def test_columns_are_named_or_guessed_and_never_silently():
    spec = AuditSpec(decision="d", positive=("Y",), protected=("age", "Gender", "Race_Ethnicity"))
    assert guess_columns(spec) == ("Gender", "Race_Ethnicity")
    # A word of the name decides before a part of a word: "sexual_orientation" and "essex" are not sex.
    words = AuditSpec(decision="d", positive=("Y",), protected=("sexual_orientation", "essex", "sex", "ethnic_group"))
    assert guess_columns(words) == ("sex", "ethnic_group")
    camel = AuditSpec(decision="d", positive=("Y",), protected=("applicantGender", "applicantRace"))
    assert guess_columns(camel) == ("applicantGender", "applicantRace")
    df = people({("F", "a"): (40, 20), ("M", "b"): (40, 10)})
    df["group"] = df["race"]
    result = bias_tables(df, spec_of(protected=["sex", "race", "group"]), race="group")
    assert (result.race, result.race_source, result.sex_source) == ("group", "named", "guessed")
    assert "The race/ethnicity column is 'group' (as named)." in result.notes
    assert "The sex column is 'sex' (guessed from its name among the protected attributes)." in result.notes


@pytest.mark.parametrize(
    ("options", "spec", "words"),
    [
        ({"sex": "age"}, None, "Sex column 'age' is not one of the spec's protected attributes"),
        ({"race": "sex"}, None, "both 'sex'"),
        ({}, {"protected": ["sex", "group"]}, "No protected attribute is named like a race/ethnicity column"),
        ({"mode": "scoring"}, None, "Scoring rates need a score column"),
        ({"format": "four-fifths", "mode": "scoring"}, {"score": "s"}, "for scoring rates use format='ll144'"),
        ({"format": "eeoc"}, None, "option format must be one of ['ll144', 'four-fifths']"),
        ({"small_share": 2}, None, "option small_share must be a number strictly between 0 and 1"),
    ],
)
def test_bad_options_are_refused_with_the_column_named(options, spec, words):
    df = people({("F", "a"): (40, 20), ("M", "b"): (40, 10)})
    df["group"], df["s"], df["age"] = df["race"], np.linspace(0, 1, len(df)), 30
    with pytest.raises(OptionError, match=None) as caught:
        bias_tables(df, spec_of(**(spec or {})), **options)
    assert words in str(caught.value)
    assert isinstance(caught.value, ParityLabError)


def test_the_cli_flags_name_the_fix():
    df = people({("F", "a"): (40, 20), ("M", "b"): (40, 10)})
    with pytest.raises(OptionError) as caught:
        bias_tables(df, spec_of(), sex="outcome")
    assert "pass --sex" in caught.value.message_for("cli")
    # Without a column to guess, the fix names a column to pass, not a value.
    with pytest.raises(OptionError) as caught:
        bias_tables(df, AuditSpec(decision="outcome", positive=("Y",), protected=("sex",)))
    assert caught.value.message_for("cli").endswith("pass --race COLUMN.")
    assert "pass race= a protected column holding race/ethnicity" in caught.value.message_for("python")


def test_the_html_report_has_an_audit_tables_section():
    from analysis.report import render_html

    cells = {("F", "white"): (40, 24), ("M", "white"): (40, 24), ("F", "black"): (20, 6), ("M", "black"): (20, 6)}
    df, spec = people(cells), spec_of()
    tables = bias_tables(df, spec, format="four-fifths")
    html = render_html(audit(df, spec), tables=tables, charts=False)
    section = html[html.index('<h2 id="audit-tables">') : html.index('<h2 id="method">')]
    assert '<a href="#audit-tables">Audit tables</a>' in html
    assert "<strong>EEOC four-fifths table</strong>" in section
    assert (
        "<h3>race — 0 individuals of unknown category left out; four-fifths ratio 0.500, fails the four-fifths "
        in section
    )
    assert '<td>black</td><td class="num">40</td><td class="num">30.0%</td><td class="num">0.500</td>' in section
    assert "29 CFR 1607.4(D)" in section and "What these tables do not establish" in section
    assert 'id="audit-tables"' not in render_html(audit(df, spec), charts=False)  # optional
    # A sex column marked as personal data: its categories are personal data, left out unless asked for.
    private = spec_of(pii_columns=["sex"])
    hidden = render_html(audit(df, private), tables=bias_tables(df, private), charts=False)
    assert "The audit tables are left out: &#x27;sex&#x27; is marked as personal data" in hidden
    assert "<h3>sex —" in render_html(
        audit(df, private), tables=bias_tables(df, private), include_pii=True, charts=False
    )
    with pytest.raises(TypeError, match="takes a BiasTables"):
        render_html(audit(df, spec), tables=tables.to_dict(), charts=False)


def test_a_sex_column_with_one_category_is_said_to_have_nothing_to_compare():
    df = pd.DataFrame({"sex": ["F"] * 80, "race": ["a", "b"] * 40, "hired": ["yes", "no", "no", "no"] * 20})
    spec = AuditSpec(decision="hired", positive=("yes",), protected=("sex", "race"))
    result = bias_tables(df, spec, format="ll144")
    assert [(r.category, r.impact_ratio) for r in result.tables["sex"].rows] == [("F", 1.0)]
    assert (
        "sex: only one category (F) has individuals, so there is nothing to compare it with: its impact ratio of 1 "
        "says nothing about bias."
    ) in result.notes
    assert not any(note.startswith("race: only one") for note in result.notes)
