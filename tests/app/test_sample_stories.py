"""Each bundled sample's story: from the generator's DOCUMENTED_EFFECTS and the data card, told on the Data page."""

from __future__ import annotations

import importlib.util

import pytest

from tests.app.apptest import new_app, run
from ui import cached
from ui.samples import CARD, GENERATOR, card_injected, card_section, sample_story
from ui.state import W

LOANS, TICKETS = "Loan approvals", "Support tickets"


def generator_effects() -> dict[str, dict[str, float]]:
    spec = importlib.util.spec_from_file_location("generate_for_story_test", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DOCUMENTED_EFFECTS


def test_every_bundled_sample_has_a_story():
    assert {sample_story(title).file for title in cached.SAMPLES} == set(cached.SAMPLES.values())


@pytest.mark.parametrize(("title", "key"), [(LOANS, "loans"), (TICKETS, "tickets")])
def test_the_story_numbers_are_the_documented_effects(title, key):
    story = sample_story(title)
    assert {e.name: e.true_size for e in story.effects} == generator_effects()[key]
    # The committed-file values are the data card's, with their standard errors.
    card = {name: (value, se) for name, _, value, se in card_injected(card_section(CARD.read_text(), story.file))[1]}
    assert {e.name: (e.committed, e.se) for e in story.effects} == card


def test_loan_story():
    story = sample_story(LOANS)
    effects = generator_effects()["loans"]
    assert story.attribute == "ethnicity"
    assert story.mechanism == "the lender's model penalises two regions where ethnic groups B and C mostly live"
    assert story.injected.startswith("The region penalty (0.58 on the log-odds scale) is the bias")
    assert f"{effects['disparate_impact_ethnicity_B_vs_A']:.2f}× and " in story.hint
    assert "0.72× and 0.77× the rate of group A" in story.hint
    assert "region stands in for it" in story.hint
    assert story.caveats["age"].startswith("age affects approval strongly")
    b = next(e for e in story.effects if e.name == "disparate_impact_ethnicity_B_vs_A")
    assert (b.true_size, b.committed, b.se) == (0.717, 0.714, 0.012)


def test_ticket_story():
    story = sample_story(TICKETS)
    assert story.attribute == "customer_language"
    assert story.mechanism == "the sentiment model reads non-English tickets as calmer than they are"
    assert "at about 0.75× the rate of English ones" in story.hint
    assert "(Japanese: 22.8% against 35.8%)" in story.hint
    assert "(26.0% against 25.9%)" in story.hint
    assert story.caveats == {}  # its caveats name no column
    assert story.to_dict()["effects"][0] == {
        "name": "p1p2_rate_English",
        "true_size": 0.358,
        "committed": 0.359,
        "se": 0.004,
    }


def test_a_data_card_that_disagrees_with_the_generator_is_refused(monkeypatch):
    import ui.samples as samples

    sample_story.cache_clear()
    original = samples.documented_effects()
    monkeypatch.setattr(samples, "documented_effects", lambda: {**original, "loans": {**original["loans"], "x": 1.0}})
    try:
        with pytest.raises(LookupError, match="disagree"):
            sample_story(LOANS)
    finally:
        sample_story.cache_clear()


def story_table(at):
    return next(d.value for d in at.dataframe if "in this file ± SE" in d.value.columns)


@pytest.mark.slow
def test_the_data_page_tells_the_chosen_samples_story():
    at = new_app()
    story = [i.value for i in at.info if "The story of this sample" in i.value]
    assert len(story) == 1 and "ethnic groups B and C" in story[0] and "0\\.72×" in story[0]
    effects = story_table(at)
    assert list(effects.columns) == ["effect", "true size", "in this file ± SE"]
    assert len(effects) == len(sample_story(LOANS).effects)
    run(at.selectbox(key=W.SAMPLE).set_value(TICKETS))
    story = [i.value for i in at.info if "The story of this sample" in i.value]
    assert len(story) == 1 and "non\\-English tickets" in story[0]
    assert len(story_table(at)) == len(sample_story(TICKETS).effects)
