"""The report's section on the worst-treated slices: the search's numbers, its chart, offline, absent unless asked."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from html import escape, unescape

import pytest

from analysis import audit, find_slices
from analysis.cli import main
from analysis.report import CSP, render_html
from analysis.tables import slice_table, text_rows
from tests.analysis.test_cli_slices import SPEC, planted_table
from tests.analysis.test_report import CHART, SVG_NAMESPACES

SECTION = re.compile(r'<h2 id="slices">(.*?)(?=<h2 id="drivers">)', re.S)


@pytest.fixture(scope="module")
def data():
    df = planted_table()
    return df, audit(df, SPEC), find_slices(df, SPEC, max_depth=2, top_k=10)


def _rows(html: str) -> list[list[str]]:
    """The section's table as text cells."""
    table = html[html.index("<table>") : html.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
    return [[unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, flags=re.S)] for r in rows]


def test_the_section_holds_the_searchs_numbers(data):
    _, result, search = data
    page = render_html(result, slices=search, charts=False)
    section = SECTION.search(page).group(1)
    assert section.startswith("Worst-treated slices: the ones nobody named</h2>")
    assert f"<p>{escape(search.summary())}</p>" in section
    assert f'<p class="note">{escape(search.terms_note())}</p>' in section
    table = slice_table(search)
    rows = _rows(section)
    assert rows[0] == list(table.columns)
    assert rows[1:] == text_rows(table)
    assert rows[1][1] == "channel = phone and plan = free"  # the planted slice, first
    standing = [(i, s) for i, s in enumerate(search.slices, start=1) if s.significant and s.stands_in_for]
    assert standing
    for rank, s in standing:
        assert f"<li>{escape(f'{rank}. {s.key}: {s.stands_in_for.sentence()}.')}</li>" in section
    family = f"Benjamini–Hochberg over all {search.family:,} slices of the search ({search.tested:,} tested"
    assert family in section and f"significant when q &lt; {search.alpha:g}" in section
    assert '<a href="#slices">Slices</a>' in page


def test_the_chart_is_the_apps_drawn_offline(data):
    _, result, search = data
    without = render_html(result, charts=True)
    page = render_html(result, slices=search, charts=True)
    count = int(re.search(r'name="paritylab-charts" content="(\d+)"', page).group(1))
    assert count == int(re.search(r'name="paritylab-charts" content="(\d+)"', without).group(1)) + 1
    section = SECTION.search(page).group(1)
    assert CHART.findall(section) == [
        f"Favourable rate in each slice of the top {len(search.slices)}, with its interval"
    ]
    for s in search.slices:  # every slice is drawn (Vega escapes the labels it draws)
        assert escape(s.key, quote=False) in section or s.key in unescape(section)
    assert "<script" not in page and f'content="{CSP}"' in page
    rest = SVG_NAMESPACES.sub("", page)
    assert not re.findall(r"(?:https?:|ftp:|file:)?//[\w.-]+|https?:|url\(", rest, flags=re.I)


def test_absent_unless_asked(data):
    _, result, search = data
    page = render_html(result, charts=False)
    assert 'id="slices"' not in page and 'href="#slices"' not in page
    # The audit's own search (audit --slices) is drawn without being passed again.
    assert SECTION.search(render_html(replace(result, slices=search), charts=False)) is not None


def test_a_dict_is_refused(data):
    _, result, search = data
    with pytest.raises(TypeError, match=r"render_html\(slices=\.\.\.\) takes a SliceSearch \(find_slices"):
        render_html(result, slices=search.to_dict())


def test_slices_with_a_personal_data_term_are_left_out(data):
    df, _, _ = data
    spec = replace(SPEC, pii_columns=("group",))
    result, search = audit(df, spec), find_slices(df, spec, max_depth=2, top_k=10)
    private = [s for s in search.slices if any(t.column == "group" for t in s.terms)]
    assert private, "group is a protected attribute, so a term"
    section = SECTION.search(render_html(result, slices=search, charts=False)).group(1)
    keys = [row[1] for row in _rows(section)[1:]]
    assert keys == [s.key for s in search.slices if s not in private]
    n = len(private)
    assert f"{n} slice{'s' if n > 1 else ''} of the top {len(search.slices)} left out" in unescape(section)
    assert "group = B" not in unescape(section)  # nor a composition of the personal-data attribute
    shown = SECTION.search(render_html(result, slices=search, charts=False, include_pii=True)).group(1)
    assert [row[1] for row in _rows(shown)[1:]] == [s.key for s in search.slices]


def test_audit_html_with_slices(tmp_path):
    path, csv, spec = tmp_path / "report.html", tmp_path / "d.csv", tmp_path / "spec.json"
    planted_table().to_csv(csv, index=False)
    SPEC.save(spec)
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in ("audit", csv, "--spec", spec, "--slices", "--slice-depth", "2", "--html", path)],
                stdout=out, stderr=err)  # fmt: skip
    assert code == 0
    page = path.read_text(encoding="utf-8")
    assert SECTION.search(page) is not None and "channel = phone and plan = free" in page
