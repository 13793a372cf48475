"""One verdict everywhere: the Fairness page, the HTML report and the command line say the same words."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from html import escape
from pathlib import Path

import pytest

from analysis.cli import main
from analysis.report import render_html
from analysis.story import gap_for, rank_gaps
from tests.app.apptest import new_app, run
from tests.app.test_fairness_page import FOUR_FIFTHS, engine, fairness_page, metric, open_tab
from tests.lookalikes import compas_like
from ui.state import SPEC, W
from ui.text import md

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_page_the_report_and_the_cli_give_each_attribute_the_same_verdict(tmp_path):
    at = fairness_page()
    result = engine(at)
    spec_path = tmp_path / "spec.json"
    at.session_state[SPEC].save(spec_path)
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["audit", str(ROOT / "sample_data" / "loan_approvals.csv"), "--spec", str(spec_path)]) == 0
    cli = out.getvalue()
    html = render_html(result, charts=False)

    codes = set()
    for name in result.attributes:
        gap = gap_for(result, name)
        codes.add(gap.verdict.code)
        open_tab(at, md(name))
        assert f"[**{md(gap.verdict.text)}**]" in " ".join(m.value for m in at.markdown)  # the page, under the card
        assert metric(at, FOUR_FIFTHS).value == f"{gap.ratio:.3f}"
        assert any(c.value.startswith(md(gap.sentence)) for c in at.caption)
        assert f"<b>Verdict:</b> {escape(gap.sentence)}</p>" in html  # the report's section
        assert f"{escape(name)} (four-fifths ratio {gap.ratio:.2f}): {escape(gap.verdict.text)}" in html  # its verdict
        assert f"\n  Verdict: {gap.sentence}\n" in cli  # the command line
    assert codes == {"fails", "no_gap"}  # age and ethnicity fail; gender has no gap
    worst = rank_gaps(result)[0]
    assert f"Largest gap: {worst.sentence}\n" in cli and escape(worst.sentence) in html
    # Never the old contradiction: bare four-fifths words beside "no significant gap".
    for text in (cli, html, *(m.value for m in at.markdown), *(m.delta or "" for m in at.metric)):
        assert "fails the four-fifths rule" not in text and "passes the four-fifths rule" not in text


@pytest.mark.slow
def test_a_harmful_decision_reads_as_the_harm_on_the_fairness_page():
    at = new_app()
    run(at.radio(key=W.SOURCE).set_value("Upload a file"))
    run(at.file_uploader(key=W.UPLOAD).set_value(("compas-scores-two-years.csv", compas_like(n=1500), "text/csv")))
    run(at.button(key=W.CONFIRM).click())
    assert at.session_state[SPEC].positive_is_favorable is False
    at.switch_page("pages/fairness.py")
    open_tab(run(at), "race")
    gap = gap_for(engine(at), "race")
    texts = [*(m.value for m in at.markdown), *(c.value for c in at.caption)]
    assert any(t.startswith(md(gap.sentence)) for t in texts)
    assert md("are flagged (score_text in Medium, High) at ") in md(gap.sentence)
    assert "**Share flagged by group**" in texts
    # Every sentence the engine writes about the decision (the verdict's, the findings'), in the harm's own words.
    about_the_decision = [t for t in texts if md("score_text in Medium, High") in t]
    assert len(about_the_decision) == 2  # the verdict card's sentence and the findings
    for text in about_the_decision:
        assert "do not receive" not in text and "not flagged" not in text and "positive decision" not in text, text
