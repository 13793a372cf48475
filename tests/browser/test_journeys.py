"""A user's whole journey through the real UI, once per bundled sample.

Upload the CSV with the file input → confirm the suggested roles → the Fairness page shows the numbers of
``python -m analysis audit FILE --spec SPEC --json -`` (SPEC: the spec the app confirmed, downloaded from the
Data page), for every attribute and every intersection → the Drivers page finishes and shows the surrogate's
fidelity → moving one group's threshold slider (keyboard arrows) on the Mitigation page changes the metrics →
the HTML report downloads and opens offline.
A screenshot of each page goes to the test's output folder (test-results/...).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import expect

from analysis import AuditSpec, load_table
from analysis.suggest import suggest_spec
from tests.browser.helpers import (
    ROOT,
    by_key,
    confirm_roles,
    exceptions,
    go_to,
    shot,
    upload,
    wait_for_app,
)
from ui.state import W

pytestmark = [pytest.mark.slow]

SAMPLES = ["loan_approvals.csv", "support_tickets.csv"]
PAGES_DIR = ROOT / "pages"
RATE = re.compile(r"^value: ([-\d.e]+); group: (.+?); role: [^;]+; rows: ([\d,]+); favourable rate:")
ERROR_RATE = re.compile(r"^value: ([-\d.e]+); group: (.+?); rate: (TPR|FPR) \(")
PER_GROUP = "A threshold per group"
INTERSECTIONS = "Intersections"


def download(page, key: str, folder: Path) -> Path:
    with page.expect_download() as info:
        by_key(page, key).get_by_role("button").click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def cli_audit(csv: Path, spec: Path) -> dict:
    """The command line's audit of ``csv`` under ``spec`` (the JSON contract documented in README)."""
    done = subprocess.run(
        [sys.executable, "-m", "analysis", "audit", str(csv), "--spec", str(spec), "--json", "-"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout)


def chart_labels(page) -> list[str]:
    """The aria-labels of the marks of every Vega-Lite chart on the page (they name each value shown)."""
    marks = page.locator("[data-testid=stVegaLiteChart] [aria-label]")
    return marks.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")


def metric_cards(page) -> dict[str, str]:
    """Metric label → value of every card on the page."""
    cards = page.get_by_test_id("stMetric")
    expect(cards.first).to_be_visible()
    out = {}
    for i in range(cards.count()):
        card = cards.nth(i)
        out[card.get_by_test_id("stMetricLabel").inner_text().strip()] = (
            card.get_by_test_id("stMetricValue").inner_text().strip()
        )
    return out


def check_attribute_tab(page, name: str, expected: dict) -> None:
    """The open tab's cards and charts show the CLI's numbers for attribute ``name``."""
    summary, groups = expected["summary"], expected["groups"]
    cards = metric_cards(page)

    def shown(metric: str) -> str:
        value = summary[metric]["value"] if summary.get(metric) else None
        return "undefined" if value is None else f"{value:.3f}"

    assert cards["Lowest disparate impact"] == shown("disparate_impact_min"), name
    assert cards["Demographic parity difference"] == shown("demographic_parity_difference"), name
    if "equalized_odds_difference" in summary:
        assert cards["Equalized odds difference"] == shown("equalized_odds_difference"), name
    assert cards["Groups compared"] == f"{len(summary['groups_compared'])} of {len(groups)}", name

    by_label = {label_of(g): g for g in groups.values()}
    rates, error_rates = {}, {}
    for label in chart_labels(page):
        if m := RATE.match(label):
            rates[m[2]] = (float(m[1]), int(m[3].replace(",", "")))
        elif m := ERROR_RATE.match(label):
            error_rates[(m[2], m[3].lower())] = float(m[1])
    assert set(rates) == set(by_label), f"{name}: groups in the chart {sorted(rates)} vs the CLI {sorted(by_label)}"
    for group, (rate, rows) in rates.items():
        cli = by_label[group]
        assert rows == cli["n"], (name, group)
        assert rate == pytest.approx(cli["favorable_rate"]["value"], abs=1e-9), (name, group)
    for (group, metric), rate in error_rates.items():
        assert rate == pytest.approx(by_label[group][metric]["value"], abs=1e-9), (name, group, metric)
    # Every defined TPR and FPR of the CLI is in the chart (an undefined one is not drawn).
    defined = {
        (label, metric)
        for label, group in by_label.items()
        for metric in ("tpr", "fpr")
        if group.get(metric) and group[metric].get("value") is not None
    }
    assert set(error_rates) == defined, f"{name}: TPR/FPR shown {sorted(error_rates)} vs the CLI {sorted(defined)}"
    if expected_has_label(groups):
        assert error_rates, f"{name}: no TPR/FPR chart"


def label_of(group: dict) -> str:
    values = list(group["values"].values())
    return " × ".join(str(v) for v in values)


def expected_has_label(groups: dict) -> bool:
    return any(g.get("tpr") and g["tpr"].get("value") is not None for g in groups.values())


def check_fairness(page, cli: dict, output_path: str) -> None:
    attributes = cli["attributes"]
    for i, name in enumerate(attributes):
        if i:
            page.get_by_role("tab", name=name, exact=True).click()
            wait_for_app(page)
        shot(page, output_path, f"fairness_{i}")
        check_attribute_tab(page, name, attributes[name])
    check_intersections(page, cli["intersections"], output_path)


def check_intersections(page, intersections: dict, output_path: str) -> None:
    """The Intersections tab offers the CLI's intersections, and each shows the CLI's numbers."""
    assert intersections, "the CLI audit has no intersections to compare"
    page.get_by_role("tab", name=INTERSECTIONS, exact=True).click()
    wait_for_app(page)
    box = page.get_by_role("combobox", name="Intersection")
    for i, name in enumerate(intersections):
        if i:
            box.click()
            page.get_by_role("option", name=name, exact=True).click()
            wait_for_app(page)
        expect(box).to_have_value(name)
        shot(page, output_path, f"intersection_{i}")
        check_attribute_tab(page, name, intersections[name])


def check_mitigation(page, output_path: str) -> None:
    page.get_by_test_id("stRadio").get_by_text(PER_GROUP, exact=True).click()
    wait_for_app(page)
    before = metric_cards(page)
    assert before["Decisions that change"] == "0", before
    thumb = page.get_by_test_id("stSlider").first.get_by_role("slider")
    start = thumb.get_attribute("aria-valuenow")
    thumb.focus()
    for _ in range(5):  # PageUp: ten arrow steps at a time
        thumb.press("PageUp")
    thumb.press("ArrowRight")
    wait_for_app(page)
    expect(thumb).not_to_have_attribute("aria-valuenow", start)
    after = metric_cards(page)
    shot(page, output_path, "mitigation")
    assert after["Decisions that change"] != "0", after
    changed = [k for k in before if k != "Decisions that change" and before[k] != after.get(k)]
    assert changed, f"no metric moved with the threshold: {before} → {after}"


@pytest.mark.parametrize("sample", SAMPLES)
def test_journey(sample: str, app_page, guard, tmp_path: Path, output_path: str) -> None:
    page = app_page
    csv = ROOT / "sample_data" / sample
    upload(page, csv)
    expect(page.get_by_test_id("stHeading").filter(has_text=sample)).to_be_visible()
    confirm_roles(page)
    shot(page, output_path, "data")
    spec_file = download(page, "spec_download", tmp_path)
    confirmed = AuditSpec.from_json(spec_file.read_bytes())
    # The app confirmed the engine's suggestion, unchanged (stamped with the file's hash).
    table = load_table(csv)
    assert confirmed.dataset_sha256 in (None, table.report.sha256)
    assert replace(confirmed, dataset_sha256=None) == replace(suggest_spec(table.data), dataset_sha256=None)

    go_to(page, "Fairness")
    check_fairness(page, cli_audit(csv, spec_file), output_path)

    go_to(page, "Drivers")
    expect(page.get_by_role("heading", name="How faithful is the surrogate?")).to_be_visible(timeout=180_000)
    fidelity = page.get_by_test_id("stMetricValue").first.inner_text()
    assert 0 < float(fidelity.strip().rstrip("%")) <= 100, fidelity
    shot(page, output_path, "drivers")

    if (PAGES_DIR / "mitigation.py").exists():
        go_to(page, "Mitigation")
        check_mitigation(page, output_path)

    if (PAGES_DIR / "report.py").exists():
        go_to(page, "Report")
        shot(page, output_path, "report")
        report = download(page, W.REPORT_HTML, tmp_path)
        viewer = page.context.new_page()
        viewer.goto(report.as_uri())
        expect(viewer.locator("h1")).to_contain_text(sample)
        shot(viewer, output_path, "report_html")
    assert not exceptions(page)
