"""Script, link, remote-image and spreadsheet-formula payloads in a CSV's headers and cells, through every page.

The protected attribute, the decision column and their values carry the payloads. Proof that nothing ran and
nothing was fetched: no JavaScript dialog fires and no request leaves 127.0.0.1 (the ``guard`` fixture, on the
app and on the downloaded report), and the pages hold no element the payloads would create (``img[src=x]``,
``javascript:`` links, remote images). Spreadsheet formulas sit in a protected attribute's header and group values,
so they reach the downloaded metrics CSV, which must neutralise them (a leading ``'``).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.browser.helpers import ROOT, by_key, confirm_roles, exceptions, go_to, shot, upload, wait_for_app
from ui.state import W

pytestmark = pytest.mark.slow

PAGES_DIR = ROOT / "pages"
GENDER = "gender <img src=x onerror=alert(1)>"
DECISION = "approved <script>alert(2)</script>"
POSITIVE = "Y <img src=x onerror=alert(6)>"
GENDERS = {
    "Female": "<img src=x onerror=alert(3)>",
    "Male": "<script>alert(4)</script>",
    "Non-binary": "![nb](http://example.com/nb.png)",
    "": "[click](javascript:alert(5))",
}
DECISIONS = {"Y": POSITIVE, "N": "N [no](javascript:alert(7))"}
REGIONS = {"West": '=HYPERLINK("http://evil.example/","x")', "South": "@SUM(1)", "East": "+1", "North": "-1+2"}
# Ethnicity is a protected attribute, so its name and its groups reach the metrics CSV: formulas there must be
# neutralised in the export (a formula in a feature column never reaches it).
ETHNICITY = '=HYPERLINK("http://example.com/e.png","ethnicity ![e](http://example.com/e.png)")'
ETHNICITIES = {
    "A": '=HYPERLINK("http://evil.example/","A")',
    "B": "@SUM(1+1)*cmd|' /C calc'!A0",
    "C": "+cmd|' /C notepad'!A0",
    "D": "-2+3+cmd|' /C calc'!A0",
}
RENAMED = {
    "gender": GENDER,
    "approved": DECISION,
    "region": "[region](javascript:alert(9))",
    "ethnicity": ETHNICITY,
    "income": '=HYPERLINK("http://evil.example/","income")',
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def payload_csv(path: Path, rows: int = 900) -> Path:
    """The loan sample's first rows with payloads in the headers and in the protected / decision values."""
    df = pd.read_csv(ROOT / "sample_data" / "loan_approvals.csv", nrows=rows, dtype=str, keep_default_na=False)
    df["gender"] = df["gender"].map(GENDERS)
    df["approved"] = df["approved"].map(DECISIONS)
    df["region"] = df["region"].map(lambda v: REGIONS.get(v, "javascript:alert(8)"))
    df["ethnicity"] = df["ethnicity"].map(lambda v: ETHNICITIES.get(v, f"![{v}](http://example.com/{v}.png)"))
    df.rename(columns=RENAMED).to_csv(path, index=False)
    return path


def no_payload_elements(page, where: str) -> None:
    """None of the elements the payloads would create if they were rendered as HTML or Markdown."""
    for selector in (
        "img[src='x']",
        "img[src^='http://example.com']",
        "a[href^='javascript:']",
        "[onerror]",
        "script:text-matches('alert\\\\(', 'i')",
    ):
        assert page.locator(selector).count() == 0, f"{where}: found {selector}"
    assert not exceptions(page), f"{where}: {exceptions(page)}"


def pick_option(page, label: str, option: str) -> None:
    """Choose ``option`` in the multiselect labelled ``label``."""
    box = page.get_by_role("combobox", name=label)
    box.click()
    box.press("ArrowDown")  # a click alone does not always open the list
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
    wait_for_app(page)


def download(page, key: str, folder: Path) -> Path:
    with page.expect_download() as info:
        by_key(page, key).get_by_role("button").click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_payloads_never_run_and_nothing_leaves_the_machine(app_page, guard, tmp_path: Path, output_path: str):
    page = app_page
    upload(page, payload_csv(tmp_path / "payloads.csv"))
    expect(page.get_by_text("Read 900 rows × 13 columns from payloads.csv")).to_be_visible()
    no_payload_elements(page, "Data (loaded)")
    # The suggestion finds the decision column by its name but cannot tell which payload value is positive.
    expect(page.get_by_role("combobox", name="Decision column")).to_have_value(DECISION)
    pick_option(page, "Values that mean the positive decision", POSITIVE)
    confirm_roles(page)
    shot(page, output_path, "data")
    no_payload_elements(page, "Data")
    # The sidebar shows the payload header as text.
    expect(page.get_by_test_id("stSidebar")).to_contain_text(GENDER)

    for title in ("Overview", "Fairness", "Slices", "Drivers", "Mitigation", "Audit tables", "Workshop", "Report"):
        if not (PAGES_DIR / f"{title.lower().replace(' ', '_')}.py").exists():
            continue
        go_to(page, title)
        shot(page, output_path, title.lower().replace(" ", "_"))
        no_payload_elements(page, title)
    assert guard.dialogs == [] and guard.external_requests == []

    if (PAGES_DIR / "report.py").exists():
        report = download(page, W.REPORT_HTML, tmp_path)
        html = report.read_text(encoding="utf-8")
        assert "<script>alert(" not in html and "<img src=x onerror" not in html
        viewer = page.context.new_page()
        viewer.goto(report.as_uri())
        viewer.wait_for_load_state("load")
        viewer.wait_for_timeout(500)  # time for an onerror handler or a lazy image to fire
        shot(viewer, output_path, "report_html")
        no_payload_elements(viewer, "downloaded report")
        expect(viewer.locator("body")).to_contain_text("alert(3)")  # the payload is there, as text

        metrics = download(page, W.REPORT_CSV, tmp_path)
        cells = [c for row in csv.reader(io.StringIO(metrics.read_text(encoding="utf-8"))) for c in row]
        check_metrics_csv(cells)


def check_metrics_csv(cells: list[str]) -> None:
    """The protected attribute's formula name and groups are in the metrics CSV, each neutralised with a ``'``."""
    texts = [c for c in cells if c and not _is_number(c)]
    assert any("alert(3)" in c for c in texts), "the payload group is missing from the metrics CSV"
    for payload in (ETHNICITY, *ETHNICITIES.values()):
        assert "'" + payload in cells, f"{payload!r} is missing from the metrics CSV, or not neutralised"
        assert payload not in cells, f"{payload!r} is in the metrics CSV as a live formula"
    # Intersections name the attribute and its groups after the first attribute's: not formulas there.
    assert any(c.endswith(" × " + ETHNICITY) for c in cells), "the intersections with ethnicity are missing"
    assert any(c.endswith(" × " + ETHNICITIES["A"]) for c in cells), "the intersection groups are missing"
    live = sorted({c for c in texts if c.startswith(FORMULA_STARTS)})
    assert not live, f"formula cells are not neutralised: {live[:5]}"
    negatives = [c for c in cells if c.startswith("-") and _is_number(c)]
    assert negatives, "no negative number in the metrics CSV: numbers such as -0.5 must stay numbers"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_the_guard_sees_a_dialog_and_a_remote_request(page):
    """The checks above can fail: a payload that runs, and an image from another host, are both recorded."""
    from tests.browser.helpers import Guard

    recorder = Guard()
    recorder.watch(page.context)
    page.set_content(
        "<img src=x onerror=alert(1)><img src='http://example.com/x.png'><a href='javascript:alert(2)'>x</a>"
    )
    page.wait_for_timeout(500)
    assert recorder.dialogs == ["alert: 1"]
    assert recorder.external_requests == ["http://example.com/x.png"]
    with pytest.raises(AssertionError, match="dialogs fired"):
        recorder.check()
    with pytest.raises(AssertionError, match="img"):
        no_payload_elements(page, "self-test")
