"""compare tracks the slices of two audits' slice searches: values then and now, tests, slices in one top-k only."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import numpy as np
import pytest

from analysis import audit, find_slices
from analysis.audit import AuditResult
from analysis.cli import main
from analysis.compare import (
    METRICS_DIFFER,
    NOT_PROOF,
    AuditComparison,
    compare_audits,
    load_audit,
    render_comparison_html,
    track_slices,
)
from analysis.errors import ParityLabError
from analysis.stats import benjamini_hochberg, two_proportion_test
from tests.analysis.test_cli_slices import SPEC, planted_table

# Terms that keep their names from one period to the next: text columns, and age binned by the spec.
TRACKED = replace(SPEC, features=("channel", "plan"))


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def periods():
    """Last quarter (the planted slice 35 points below) and this quarter (10 points below)."""
    before, after = planted_table(seed=3, gap=0.35), planted_table(seed=4, gap=0.10)
    searches = [find_slices(df, TRACKED, max_depth=2, top_k=8) for df in (before, after)]
    audits = [replace(audit(df, TRACKED), slices=s) for df, s in zip((before, after), searches, strict=True)]
    return before, after, searches, audits


def test_slices_in_both_top_k_lists_are_compared_as_group_rates_are(periods):
    *_, (old, new), (a, b) = periods
    tracking = compare_audits(a, b).slices
    assert tracking.metric_before == tracking.metric_after == "favorable_rate"
    compared = tracking.compared
    keys = [s.key for s in old.slices if new.slice(s.key) is not None]
    assert [r.slice for r in compared] == keys and "channel = phone and plan = free" in keys
    p = []
    for r in compared:
        then, now = old.slice(r.slice), new.slice(r.slice)
        assert (r.before, r.after, r.n_before, r.n_after) == (then.value, now.value, then.n, now.n)
        assert r.change == pytest.approx(now.value - then.value)
        assert (r.significant_before, r.significant_after) == (then.significant, now.significant)
        expected_p, test = two_proportion_test(now.events, now.n, then.events, then.n)
        assert r.p_value == pytest.approx(float(expected_p)) and r.test == str(test)
        p.append(r.p_value)
    q = benjamini_hochberg(np.array(p))
    assert [r.q_value for r in compared] == pytest.approx(list(q))
    planted = next(r for r in compared if r.slice == "channel = phone and plan = free")
    assert planted.direction == "better" and planted.significant and planted.change > 0.15


def test_slices_in_one_top_k_only_are_listed_with_the_caveat(periods):
    *_, (old, new), (a, b) = periods
    tracking = compare_audits(a, b).slices
    gone = [r.slice for r in tracking.rows if r.status == "no longer in the top-k"]
    arrived = [r.slice for r in tracking.rows if r.status == "new in the top-k"]
    assert gone == [s.key for s in old.slices if new.slice(s.key) is None]
    assert arrived == [s.key for s in new.slices if old.slice(s.key) is None]
    assert gone and arrived  # the planted slice improved: the lists differ
    for r in tracking.rows:
        if r.status == "no longer in the top-k":
            assert r.after is None and r.n_after is None and r.p_value is None and r.before == old.slice(r.slice).value
    data = tracking.to_dict()
    assert data["note"] == NOT_PROOF and "not proof that it improved" in NOT_PROOF
    compared, changed = len(tracking.compared), sum(1 for r in tracking.compared if r.significant)
    assert tracking.summary == (
        f"Slices by favourable rate: {compared} in both top-k lists, {changed} of them changed significantly; "
        f"{len(arrived)} new in the top-k, {len(gone)} no longer in it."
    )


def test_searches_by_other_metrics_are_not_compared(periods):
    before, _, _, (a, b) = periods
    other = find_slices(before, TRACKED, metric="fnr", max_depth=2, top_k=8)
    tracking = compare_audits(a, replace(b, slices=other)).slices
    assert tracking.rows == ()
    assert tracking.warnings == (METRICS_DIFFER.format(before="favourable rate", after="FNR"),)
    assert tracking.summary == tracking.warnings[0]
    assert "Run both audits with the same --slice-metric." in tracking.summary


def test_one_search_only_is_said(periods):
    *_, (a, b) = periods
    tracking = compare_audits(replace(a, slices=None), b).slices
    assert tracking.rows == () and "Only the after audit has a slice search" in tracking.warnings[0]
    assert compare_audits(replace(a, slices=None), replace(b, slices=None)).slices is None


def test_numbers_binned_at_other_cuts_are_said(periods):
    before, after, *_ = periods
    old, new = (find_slices(df, SPEC, max_depth=1, top_k=20) for df in (before, after))
    tracking = track_slices(old, new)
    assert any("'income'" in w and "other bins" in w for w in tracking.warnings)
    moved = [r for r in tracking.rows if r.status != "compared" and r.slice.startswith("income = ")]
    assert moved and all("'income' binned at other cuts" in r.note for r in moved)
    assert all(r.note is None for r in tracking.rows if not r.slice.startswith("income = "))


def test_settings_that_differ_are_warned(periods):
    before, after, *_ = periods
    old = find_slices(before, TRACKED, max_depth=2, top_k=8)
    new = find_slices(after, TRACKED, max_depth=1, top_k=8)
    assert "The slice searches differ in max_depth (before 2, after 1)." in track_slices(old, new).warnings


def test_the_comparison_json_carries_the_slices_and_reads_back(periods):
    *_, (a, b) = periods
    comparison = compare_audits(a, b)
    data = json.loads(comparison.to_json())
    assert data["slices"]["rows"][0]["slice"] == comparison.slices.rows[0].slice
    assert AuditComparison.from_dict(data).to_dict() == data
    assert "slices" not in compare_audits(replace(a, slices=None), replace(b, slices=None)).to_dict()
    page = render_comparison_html(comparison)
    assert "<h2>Slices</h2>" in page and "channel = phone and plan = free" in page


def test_an_old_audit_json_without_slices_loads_and_compares(periods, tmp_path):
    *_, (a, b) = periods
    old = json.loads(replace(a, slices=None).to_json())
    assert "slices" not in old
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    loaded = load_audit(path)
    assert loaded.slices is None and loaded.to_dict() == old
    comparison = compare_audits(loaded, b)
    assert comparison.slices.rows == () and "Only the after audit" in comparison.slices.summary


def test_a_damaged_slice_search_names_the_field(periods):
    *_, (a, _) = periods
    data = json.loads(a.to_json())
    data["slices"]["slices"][0]["events"] = data["slices"]["slices"][0]["n"] + 1
    with pytest.raises(ParityLabError, match=r"slices\.slices\[0\]\.events is \d[\d,]*, more than the slice's n"):
        AuditResult.from_dict(data)
    data = json.loads(a.to_json())
    data["slices"]["slices"][0]["q_value"] = "0.01"
    with pytest.raises(ParityLabError, match=r"slices\.slices\[0\]\.q_value is the text \"0\.01\"; it must be a"):
        AuditResult.from_dict(data)


def test_the_compare_command_prints_the_tracked_slices(periods, tmp_path):
    *_, (a, b) = periods
    paths = []
    for name, result in (("q1", a), ("q2", b)):
        path = tmp_path / f"{name}.json"
        path.write_text(result.to_json(), encoding="utf-8")
        paths.append(path)
    code, out, _ = run(["compare", *paths])
    assert code == 0
    tracking = compare_audits(a, b).slices
    assert f"\n{tracking.summary}\n" in out
    planted = next(r for r in tracking.compared if r.slice == "channel = phone and plan = free")
    line = next(x for x in out.splitlines() if x.endswith("  channel = phone and plan = free"))
    assert line.split()[:5] == [f"{planted.before:.3f}", f"{planted.after:.3f}", f"{planted.change:+.3f}",
                                f"{planted.n_before:,}", f"{planted.n_after:,}"]  # fmt: skip
    assert "better, significant" in line
    assert "No longer in the top-k:" in out and NOT_PROOF in out
    code, out, _ = run(["compare", *paths, "--json", "-"])
    assert json.loads(out)["slices"] == tracking.to_dict()


def test_the_audit_report_lists_the_tracked_slices(periods):
    from html import unescape

    from analysis.report import render_html

    *_, (a, b) = periods
    comparison = compare_audits(a, b)
    page = unescape(render_html(b, comparison=comparison, charts=False))
    monitoring = page[page.index('id="monitoring"') :]
    assert f"<h4>Slices</h4><p>{comparison.slices.summary}</p>" in monitoring
    planted = next(r for r in comparison.slices.compared if r.slice == "channel = phone and plan = free")
    assert (
        f'<td>channel = phone and plan = free</td><td>compared (better)</td><td class="num">{planted.before:.3f}'
        f'</td><td class="num">{planted.after:.3f}</td>'
    ) in monitoring
    assert NOT_PROOF in monitoring


def test_numbers_cut_at_the_earlier_searchs_bins_are_tracked(periods):
    before, after, *_ = periods
    old = find_slices(before, SPEC, max_depth=1, top_k=20)
    new = find_slices(after, SPEC, max_depth=1, top_k=20, bins=old.bins)
    tracking = track_slices(old, new)
    assert not any("other bins" in w for w in tracking.warnings)
    terms = lambda search: {f.column: f.values for f in search.features}  # noqa: E731
    assert terms(new)["income"] == terms(old)["income"] != terms(find_slices(after, SPEC, max_depth=1))["income"]
    income = [r for r in tracking.rows if r.slice.startswith("income = ")]
    assert income and all(r.note is None for r in tracking.rows)


def test_the_cli_cuts_this_quarter_where_last_quarter_was_cut(periods, tmp_path):
    before, after, *_ = periods
    spec = tmp_path / "spec.json"
    spec.write_text(SPEC.to_json(), encoding="utf-8")
    paths = {}
    for name, df in (("q1", before), ("q2", after)):
        paths[name] = tmp_path / f"{name}.csv"
        df.to_csv(paths[name], index=False)
    q1, q2 = tmp_path / "q1.json", tmp_path / "q2.json"
    common = ["--spec", spec, "--slices", "--slice-depth", "1"]
    assert run(["audit", paths["q1"], *common, "--json", q1])[0] == 0
    code, _, err = run(["audit", paths["q2"], *common, "--slice-bins-from", q1, "--json", q2])
    assert code == 0, err
    old, new = load_audit(q1).slices, load_audit(q2).slices
    assert new.bins == old.bins and "income" in new.bins
    code, out, _ = run(["compare", q1, q2, "--json", "-"])
    tracked = json.loads(out)["slices"]
    assert not any("other bins" in w for w in tracked["warnings"])
    assert any(r["slice"].startswith("income = ") for r in tracked["rows"])
    assert all(r["note"] is None for r in tracked["rows"])
    # The slices command reads the same file, and a file without a search is refused before any row is read.
    code, out, err = run(["slices", paths["q2"], "--spec", spec, "--max-depth", "1", "--bins-from", q1,
                          "--json", "-"])  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["features"] == new.to_dict()["features"]
    code, _, err = run(["slices", paths["q2"], "--spec", spec, "--bins-from", spec])
    assert code == 2 and "error: --bins-from " in err and "holds no slice search" in err
    code, _, err = run(["audit", paths["q2"], "--spec", spec, "--slice-bins-from", q1])
    assert code == 2 and "--slice-bins-from cuts the slice search's numbers: add --slices" in err
