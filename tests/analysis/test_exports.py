import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import AuditSpec, SpecError, load_table
from analysis.exports import csv_bytes, decision_changes, neutralise_formulas
from analysis.thresholds import threshold_curves, what_if

LOANS = Path(__file__).resolve().parents[2] / "sample_data" / "loan_approvals.csv"


def test_formula_cells_are_neutralised_and_numbers_stay_numbers():
    df = pd.DataFrame(
        {
            "=cmd": ["=1+1", "+SUM(A1)", "-2+3", "@x", "\tx", "safe", "-0.5", None],
            "value": [-0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        }
    )
    out = neutralise_formulas(df)
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
