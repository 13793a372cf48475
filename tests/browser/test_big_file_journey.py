"""A big local file in the real UI: a folder of Parquet files opened by its path on the Data page (DuckDB reads a
sample for the page and counts every row for the audit) → confirm the suggested roles → the Fairness page shows
the numbers of the pandas audit of every row. Screenshots of the Data and Fairness pages go to test-results/.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import expect

from analysis import AuditSpec, load_table
from analysis.audit import audit
from tests.browser.helpers import ROOT, by_key, confirm_roles, exceptions, go_to, shot, wait_for_app
from tests.browser.test_journeys import download, metric_cards
from ui.cached import PREVIEW_ROWS
from ui.state import W

pytestmark = [pytest.mark.slow]

COPIES = 12  # 12 × 20,000 rows: more than the page's sample of 200,000


def parquet_folder(folder: Path) -> pd.DataFrame:
    """The loan sample copied ``COPIES`` times (new applicant ids) as one Parquet file per copy."""
    loans = load_table(ROOT / "sample_data" / "loan_approvals.csv").data
    parts = []
    folder.mkdir()
    for copy in range(COPIES):
        part = loans.assign(applicant_id=loans["applicant_id"] + f"-{copy}")
        part.to_parquet(folder / f"part-{copy:02}.parquet", index=False)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def test_a_folder_opened_by_path_reaches_the_fairness_page(app_page, guard, tmp_path: Path, output_path: str):
    page = app_page
    rows = parquet_folder(tmp_path / "decisions")
    page.get_by_test_id("stRadio").get_by_text("Open a file or folder on this computer", exact=True).click()
    wait_for_app(page)
    box = by_key(page, W.PATH).get_by_role("textbox")
    box.fill(str(tmp_path / "decisions"))
    box.press("Enter")
    wait_for_app(page)
    expect(page.get_by_text(f"Showing a sample of {PREVIEW_ROWS:,} of {len(rows):,} rows", exact=False)).to_be_visible()
    expect(page.get_by_text("the audit counts every row with DuckDB", exact=False)).to_be_visible()
    confirm_roles(page)
    shot(page, output_path, "data")
    spec = AuditSpec.from_json(download(page, "spec_download", tmp_path).read_bytes())
    expected = audit(rows, spec)
    go_to(page, "Fairness")
    for i, (name, attribute) in enumerate(expected.attributes.items()):
        page.get_by_role("tab", name=name, exact=True).click()
        wait_for_app(page)
        if i == 0:
            shot(page, output_path, "fairness")
        cards = metric_cards(page)
        for label, metric in (("Lowest impact ratio vs reference", "disparate_impact_min"),
                              ("Four-fifths ratio", "favorable_rate_ratio")):  # fmt: skip
            value = attribute.summary.metrics[metric].value
            assert cards[label] == ("undefined" if value is None else f"{value:.3f}"), (name, label)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(f"{len(rows):,} rows", exact=False)).to_be_visible()
    assert not exceptions(page)
