"""The Audit tables page in Chromium: its three tables show on the loan sample, and its CSV and JSON downloads
are the bytes ``python -m analysis tables`` writes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from analysis import AuditSpec, load_table, suggest_spec
from analysis.cli import main
from tests.browser.helpers import confirm_roles, go_to, wait_for_app
from tests.browser.test_journeys import download
from ui.state import W

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
LOANS = ROOT / "sample_data" / "loan_approvals.csv"


def cli(tmp_path: Path, spec: AuditSpec, fmt: str) -> tuple[bytes, bytes]:
    path = tmp_path / "spec.json"
    spec.save(path)
    csv, json_path = tmp_path / "cli.csv", tmp_path / "cli.json"
    argv = ["tables", str(LOANS), "--spec", str(path), "--format", fmt, "--csv", str(csv), "--json", str(json_path)]
    assert main(argv, stdout=io.StringIO(), stderr=io.StringIO()) == 0
    return csv.read_bytes(), json_path.read_bytes()


def test_the_tables_show_and_download_as_the_command_line_writes_them(app_page, guard, tmp_path):
    from playwright.sync_api import expect

    page = app_page
    confirm_roles(page)
    go_to(page, "Audit tables")
    expect(page.get_by_role("heading", name="NYC Local Law 144 bias audit")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame")).to_have_count(3)
    page.get_by_role("combobox", name="Format").click()
    page.get_by_role("option", name="EEOC four-fifths rule", exact=True).click()
    wait_for_app(page)
    expect(page.get_by_text("Four-fifths ratio 0.714: fails the four-fifths rule.", exact=False)).to_be_visible()
    # The spec the page used is the one the Data page confirmed: the suggested roles of the loan sample.
    spec = suggest_spec(load_table(LOANS).data)
    csv, data = cli(tmp_path, spec, "four-fifths")
    assert download(page, W.TABLES_CSV, tmp_path).read_bytes() == csv
    assert download(page, W.TABLES_JSON, tmp_path).read_bytes() == data
