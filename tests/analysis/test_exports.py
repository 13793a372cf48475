import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import AuditSpec, SpecError, load_table
from analysis.exports import csv_bytes, decision_changes, neutralize_formulas
from analysis.thresholds import threshold_curves, what_if

LOANS = Path(__file__).resolve().parents[2] / "sample_data" / "loan_approvals.csv"


def test_formula_cells_are_neutralized_and_numbers_stay_numbers():
    df = pd.DataFrame(
        {
            "=cmd": ["=1+1", "+SUM(A1)", "-2+3", "@x", "\tx", "safe", "-0.5", None],
            "value": [-0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        }
    )
    out = neutralize_formulas(df)
    assert list(out.columns) == ["'=cmd", "value"]
    assert out["'=cmd"].tolist()[:7] == ["'=1+1", "'+SUM(A1)", "'-2+3", "'@x", "'\tx", "safe", "-0.5"]
    assert pd.isna(out["'=cmd"].iloc[7])
    assert out["value"].tolist() == df["value"].tolist()
    assert df["=cmd"].iloc[0] == "=1+1"  # the input is untouched
    read = pd.read_csv(io.BytesIO(csv_bytes(df)))
    assert read["value"].iloc[0] == -0.5
    assert read["'=cmd"].iloc[0] == "'=1+1"


@pytest.fixture(scope="module")
def loans():
    return load_table(LOANS).data


SPEC = AuditSpec(decision="approved", positive=["Y"], score="model_score", protected=["ethnicity"],
                 id_columns=["applicant_id"])  # fmt: skip


def test_decision_changes_match_the_what_if_flip_counts(loans):
    thresholds = {"A": 0.55, "B": 0.42, "C": 0.45, "D": 0.5}
    changes = decision_changes(loans, SPEC, thresholds)
    assert len(changes) == len(loans)
    assert changes["row_id"].iloc[0] == "A000001"
    expected_new = loans["model_score"].to_numpy() >= loans["ethnicity"].map(thresholds).to_numpy()
    assert (changes["new_positive"].to_numpy() == expected_new).all()
    assert (changes["old_positive"].to_numpy() == (loans["approved"] == "Y").to_numpy()).all()
    result = what_if(threshold_curves(loans, SPEC), thresholds).to_dict()
    for group in thresholds:
        rows = changes[changes["group"] == group]
        to_positive = int(((rows.old_positive == 0) & (rows.new_positive == 1)).sum())
        to_negative = int(((rows.old_positive == 1) & (rows.new_positive == 0)).sum())
        assert result["flips"][group] == {"to_positive": to_positive, "to_negative": to_negative}
    assert int(changes["changed"].sum()) == 1064 + 711 + 231


def test_decision_changes_refuse_missing_pieces(loans):
    with pytest.raises(SpecError, match="No threshold for group"):
        decision_changes(loans, SPEC, {"A": 0.5})
    with pytest.raises(SpecError, match="need a score column"):
        decision_changes(loans, AuditSpec(decision="approved", positive=["Y"], protected=["ethnicity"]), {})


def test_missing_scores_keep_their_decision():
    df = pd.DataFrame({"s": [0.9, np.nan, 0.1], "d": ["Y", "Y", "N"], "g": ["a", "a", "b"]})
    spec = AuditSpec(decision="d", positive=["Y"], score="s", protected=["g"])
    changes = decision_changes(df, spec, {"a": 0.95, "b": 0.05})
    assert changes["new_positive"].tolist() == [0, 1, 1]
    assert changes["changed"].tolist() == [True, False, True]
    assert changes["row_id"].tolist() == [0, 1, 2]


# Two groups, each with rows missing a decision, a score or both. Read through the loader, so the
# missing cells are whatever it makes of empty CSV fields.
MISSING_CSV = b"""id,g,d,s
r1,a,Y,0.9
r2,a,N,0.8
r3,a,,0.7
r4,a,Y,
r5,a,,
r6,a,N,0.2
r7,b,Y,0.1
r8,b,N,0.6
r9,b,,0.9
r10,b,,
r11,b,N,
r12,b,Y,0.3
"""
MISSING_SPEC = AuditSpec(decision="d", positive=["Y"], score="s", protected=["g"], id_columns=["id"])


def test_rows_without_a_decision_have_no_old_decision_and_no_change():
    df = load_table(MISSING_CSV, name="missing.csv").data
    thresholds = {"a": 0.75, "b": 0.5}
    changes = decision_changes(df, MISSING_SPEC, thresholds).set_index("row_id")
    assert str(changes["old_positive"].dtype) == "Int64" and str(changes["changed"].dtype) == "boolean"
    undecided = ["r3", "r5", "r9", "r10"]
    assert changes.loc[undecided, "old_positive"].isna().all()
    assert changes.loc[undecided, "changed"].isna().all()
    # their new decision is computed when the score is there
    assert changes.loc[["r3", "r9"], "new_positive"].tolist() == [0, 1]
    assert changes.loc[["r5", "r10"], "new_positive"].isna().all()
    # decided rows: the threshold where there is a score, today's decision where there is none
    decided = changes.drop(index=undecided)
    assert decided["old_positive"].tolist() == [1, 0, 1, 0, 1, 0, 0, 1]
    assert decided["new_positive"].tolist() == [1, 1, 1, 0, 0, 1, 0, 0]
    assert decided["changed"].tolist() == [False, True, False, False, True, True, False, True]
    flips = what_if(threshold_curves(df, MISSING_SPEC), thresholds).to_dict()["flips"]
    assert flips == {"a": {"to_positive": 1, "to_negative": 0}, "b": {"to_positive": 1, "to_negative": 2}}
    for group, counts in flips.items():
        assert int((changes["group"] == group).mul(changes["changed"]).sum()) == sum(counts.values())
    text = csv_bytes(decision_changes(df, MISSING_SPEC, thresholds)).decode()
    lines = text.splitlines()
    assert lines[0] == "row_id,group,score,old_positive,new_positive,changed"
    assert lines[1:] == [
        "r1,a,0.9,1,1,False",
        "r2,a,0.8,0,1,True",
        "r3,a,0.7,,0,",
        "r4,a,,1,1,False",
        "r5,a,,,,",
        "r6,a,0.2,0,0,False",
        "r7,b,0.1,1,0,True",
        "r8,b,0.6,0,1,True",
        "r9,b,0.9,,1,",
        "r10,b,,,,",
        "r11,b,,0,0,False",
        "r12,b,0.3,1,0,True",
    ]


def test_missing_decisions_are_read_as_the_audit_reads_them():
    # None, NaN and pandas' NA are missing; an empty-looking but present value is a (negative) decision
    df = pd.DataFrame(
        {
            "d": pd.Series(["Y", None, np.nan, pd.NA, "N"], dtype=object),
            "s": [0.9, 0.9, 0.1, np.nan, 0.9],
            "g": ["a"] * 5,
        }
    )
    spec = AuditSpec(decision="d", positive=["Y"], score="s", protected=["g"])
    changes = decision_changes(df, spec, {"a": 0.5})
    expected = {
        "old_positive": pd.Series([1, None, None, None, 0], dtype="Int64"),
        "new_positive": pd.Series([1, 1, 0, None, 1], dtype="Int64"),
        "changed": pd.Series([False, None, None, None, True], dtype="boolean"),
    }
    for column, values in expected.items():
        pd.testing.assert_series_equal(changes[column], values, check_names=False)


def test_decision_changes_merge_spelling_variants_as_the_audit_does(loans):
    from dataclasses import replace

    messy = loans.copy()
    groups = messy["ethnicity"].astype(object).to_numpy(copy=True)
    groups[::5] = [f"{g}\u00a0\u200b".lower() for g in groups[::5]]
    messy["ethnicity"] = groups
    thresholds = {"A": 0.55, "B": 0.42, "C": 0.45, "D": 0.5}
    with pytest.raises(SpecError, match="a\\\\xa0"):  # without the merge 'a\xa0\u200b' is a group of its own
        decision_changes(messy, SPEC, thresholds)
    merged = decision_changes(messy, replace(SPEC, merge_variants=True), thresholds)
    pd.testing.assert_frame_equal(merged, decision_changes(loans, SPEC, thresholds))
