import pickle

import pytest

from analysis.errors import LoadError, SpecError
from analysis.validation import Problem
from analysis.wording import Notice, Remedy


def test_remedy_worded_per_surface():
    remedy = Remedy("positive", ["Yes", "yes"])
    assert remedy.text("cli") == "pass --positive Yes yes"
    assert remedy.text("python") == "set positive=['Yes', 'yes']"
    with pytest.raises(ValueError, match="app words remedies itself"):
        remedy.text("app")
    with pytest.raises(ValueError, match="Unknown option"):
        Remedy("no_such_option")


def test_error_keeps_structure_through_pickle():
    error = LoadError("Sheet 'x' is missing.", column="c", line=3, remedy=Remedy("sheet", "Data"))
    again = pickle.loads(pickle.dumps(error))
    assert (again.column, again.line, again.remedy, again.message) == ("c", 3, Remedy("sheet", "Data"), error.message)
    assert again.message_for("cli") == "Sheet 'x' is missing. To fix it, pass --sheet Data."
    spec_error = pickle.loads(pickle.dumps(SpecError("bad", problems=("p",))))
    assert spec_error.problems == ("p",) and str(spec_error) == "bad"


def test_notice_is_its_python_text_and_pickles():
    notice = Notice("'x' has 3 '?' cells.", Remedy("na_values", "?"))
    assert notice == "'x' has 3 '?' cells. To fix it, pass na_values=['?']."
    again = pickle.loads(pickle.dumps(notice))
    assert again.remedy == notice.remedy and again.text_for("cli").endswith("--na-values '?'.")
    assert again.to_dict() == {
        "message": "'x' has 3 '?' cells.",
        "remedy": {"option": "na_values", "value": "?", "column": None},
    }


def test_problem_text_for_surface():
    problem = Problem("error", "positive", "No positive value.", "Choose them.", "d", Remedy("positive", "Y"))
    assert problem.text_for("cli") == "No positive value. Choose them. To fix it, pass --positive Y."
    assert problem.text == "No positive value. Choose them. To fix it, set positive=['Y']."
    assert problem.to_dict()["remedy"] == {"option": "positive", "value": "Y", "column": None}
