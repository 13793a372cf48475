"""AppTest: the overview names a significant slice worse than every group the roles name (when the search is cheap),
says so when it did not run the search, and says nothing when no slice is beyond the named groups."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis import find_slices
from analysis.audit import audit
from analysis.story import slice_beyond_groups
from tests.app.apptest import new_app, run
from ui import cached
from ui.state import DATASET, SPEC, W
from ui.text import md

pytestmark = pytest.mark.slow


def overview(at: AppTest | None = None) -> AppTest:
    at = new_app() if at is None else at
    run(at.button(key=W.CONFIRM).click())
    assert [t.value for t in at.title] == ["Overview"]
    return at


def beyond(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if w.value.startswith(md("Beyond the groups you named"))]


def test_the_loan_sample_s_worst_slice_is_named_beyond_the_groups():
    at = overview()
    data, spec = at.session_state[DATASET], at.session_state[SPEC]
    result = audit(data.table.data, spec)
    expected = slice_beyond_groups(find_slices(data.table.data, spec), result)
    assert expected is not None and "worse than any group you named" in expected
    assert beyond(at) == [md(expected)]
    assert any(link.proto.page == "slices" for link in at.get("page_link"))


def test_a_table_too_large_for_the_overview_is_left_to_the_slices_page(monkeypatch):
    monkeypatch.setattr(cached, "SLICES_IN_MEMORY_ROWS", 10_000)
    at = overview()
    assert beyond(at) == []
    assert any("was not run here (20,000 rows in memory, more than 10,000): the Slices page runs it" in c.value
               for c in at.caption)  # fmt: skip
    assert any(link.proto.page == "slices" for link in at.get("page_link"))


def test_no_sentence_when_no_slice_is_worse_than_the_named_groups():
    rng = np.random.default_rng(2)
    n = 3000
    frame = pd.DataFrame(
        {
            "group": rng.choice(["A", "B"], n),
            "channel": rng.choice(["web", "phone", "branch"], n),
            "plan": rng.choice(["free", "pro"], n),
            "approved": np.where(rng.random(n) < 0.5, "yes", "no"),  # no effect anywhere
        }
    )
    at = new_app()
    run(at.radio(key=W.SOURCE).set_value("Upload a file"))
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    run(at.file_uploader(key=W.UPLOAD).set_value(("flat.csv", buffer.getvalue().encode(), "text/csv")))
    run(at.selectbox(key=W.DECISION).set_value("approved"))
    run(at.multiselect(key=W.PROTECTED).set_value(["group"]))
    at = overview(at)
    data, spec = at.session_state[DATASET], at.session_state[SPEC]
    assert slice_beyond_groups(find_slices(data.table.data, spec), audit(data.table.data, spec)) is None
    assert beyond(at) == []
